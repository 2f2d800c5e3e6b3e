//! The sandbox: real components load, import nothing, refuse what they must.

use ueba_engine::event::Outcome;
use ueba_engine::sandbox::plugins::BUILTIN_PLUGINS;
use ueba_engine::sandbox::{Event, Limits, Plugin, PluginError, wit};

use crate::util::runtime;

fn component(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("valid component text")
}

#[test]
fn builtin_plugins_load_and_describe_themselves() {
    let rt = runtime();
    let names: Vec<String> = BUILTIN_PLUGINS
        .iter()
        .map(|(label, bytes)| {
            let c = rt.compile(label, bytes).expect("compiles");
            let p = rt
                .instantiate(label, &c, Limits::default())
                .expect("instantiates");
            let info = p.info().clone();
            assert_eq!(info.contract, ueba_engine::sandbox::CONTRACT_VERSION);
            assert!(!info.description.is_empty());
            assert!(info.config.iter().any(|(k, _, _)| k == "learning_days"));
            info.name
        })
        .collect();
    assert_eq!(names, ["volume", "off-hours", "novel-table", "new-source"]);
}

#[test]
fn a_plugin_importing_wasi_is_refused_naming_the_import() {
    let bytes = component(
        r#"(component
             (import "wasi:filesystem/types@0.2.0" (instance (export "get-type" (func))))
           )"#,
    );
    let err = runtime().compile("fs-reader.wasm", &bytes).unwrap_err();
    assert!(matches!(err, PluginError::ForbiddenImport { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("fs-reader.wasm"), "{msg}");
    assert!(msg.contains("wasi:filesystem/types@0.2.0"), "{msg}");
    assert!(msg.contains("no WASI"), "{msg}");
}

#[test]
fn a_plugin_for_another_contract_version_is_refused() {
    let bytes = component(
        r#"(component
             (core module $m (func (export "f")))
             (core instance $i (instantiate $m))
             (func $f (canon lift (core func $i "f")))
             (instance $api (export "describe" (func $f)))
             (export "ueba:detector/detector@0.6.0" (instance $api))
           )"#,
    );
    let err = runtime().compile("future.wasm", &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "plugin `future.wasm` was built for contract 0.6.0, this host supports {}",
            ueba_engine::sandbox::SUPPORTED_CONTRACTS.join(", ")
        )
    );
    assert_eq!(
        ueba_engine::sandbox::SUPPORTED_CONTRACTS,
        ["0.5.0", "0.4.0", "0.3.0", "0.2.0", "0.1.0"]
    );
}

/// The fixture built for an older contract, `file` in the fixture
/// directory, instantiated.
fn older_fixture(file: &str) -> Plugin {
    let bytes = std::fs::read(ueba_test_support::fixture_dir().join(file)).unwrap();
    let rt = runtime();
    let c = rt.compile(file, &bytes).expect("a supported contract");
    rt.instantiate(file, &c, Limits::default())
        .expect("instantiates")
}

/// Feed `p` the history's first batch, then its bulk-read batch with every
/// event held out of learning, and check that it finds one thing, on the
/// bulk read: that finding.
fn held_bulk_read_finding(p: &mut Plugin) -> wit::Finding {
    let (symbols, batches) = history();
    let mut last = batches[20].clone();
    for e in &mut last {
        e.learn = false;
    }
    p.observe(&batch(batches[0].clone(), symbols)).unwrap();
    let mut found = p.observe(&batch(last.clone(), vec![])).unwrap();
    let big = last.iter().find(|e| e.rows == 68_000).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].event, big.seq);
    found.remove(0)
}

#[test]
fn a_plugin_built_for_contract_0_2_0_still_loads_and_scores() {
    // Built against the frozen 0.2.0 WIT: its events have no `learn`
    // column, so the host copies the other columns for it.
    let mut p = older_fixture("contract-0-2.wasm");
    assert_eq!(p.info().contract, "0.2.0");
    assert_eq!(p.info().name, "contract-0-2");
    // Held out of learning: a 0.2.0 plugin is not told, and scores alike.
    let found = held_bulk_read_finding(&mut p);
    assert_eq!(found.reason, "read 68000 rows");
    let snap = p.snapshot().unwrap();
    p.restore(&snap).unwrap();
}

#[test]
fn a_plugin_built_for_contract_0_3_0_still_loads_and_keeps_its_own_population() {
    // Built against the frozen 0.3.0 WIT: it is given the `learn` column,
    // and has no population exchange, so the host never asks it for one.
    let mut p = older_fixture("contract-0-3.wasm");
    assert_eq!(p.info().contract, "0.3.0");
    assert_eq!(p.info().name, "contract-0-3");
    assert!(!p.shares_population());
    let found = held_bulk_read_finding(&mut p);
    assert_eq!(
        found.evidence[0].value,
        wit::EvidenceValue::Integer(0),
        "the plugin saw learn = false"
    );
    assert_eq!(p.population().unwrap(), Vec::<u8>::new());
    p.absorb(&[b"anything".to_vec()]).unwrap();
    let snap = p.snapshot().unwrap();
    p.restore(&snap).unwrap();
}

#[test]
fn a_plugin_built_for_contract_0_4_0_still_loads_and_shares_its_population() {
    // Built against the frozen 0.4.0 WIT: it has no `manager` column, and
    // still takes part in the population exchange.
    let mut p = older_fixture("contract-0-4.wasm");
    assert_eq!(p.info().contract, "0.4.0");
    assert_eq!(p.info().name, "contract-0-4");
    assert!(p.shares_population());
    p.absorb(&[7u64.to_le_bytes().to_vec(), 5u64.to_le_bytes().to_vec()])
        .unwrap();
    let found = held_bulk_read_finding(&mut p);
    assert_eq!(
        found.evidence[0].value,
        wit::EvidenceValue::Integer(0),
        "the plugin saw learn = false"
    );
    assert_eq!(
        found.evidence[1].value,
        wit::EvidenceValue::Integer(12),
        "the plugin absorbed both shares"
    );
    let share = p.population().unwrap();
    assert!(u64::from_le_bytes(share.try_into().unwrap()) > 0);
    let err = p.absorb(&[b"short".to_vec()]).unwrap_err();
    assert!(err.to_string().contains("share of 5 bytes"), "{err}");
    let snap = p.snapshot().unwrap();
    p.restore(&snap).unwrap();
}

#[test]
fn a_plugin_whose_describe_claims_another_contract_is_refused() {
    // It exports the 0.5.0 interface, so it compiles and links, but says it
    // was built for 0.6.0: the host goes by the claim and refuses it.
    let path = ueba_test_support::fixture_dir().join("contract-liar.wasm");
    let bytes = std::fs::read(path).unwrap();
    let rt = runtime();
    let c = rt.compile("liar.wasm", &bytes).expect("exports 0.5.0");
    let err = rt
        .instantiate("liar.wasm", &c, Limits::default())
        .err()
        .expect("refused");
    assert!(matches!(err, PluginError::ContractMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "plugin `liar.wasm` was built for contract 0.6.0, this host supports 0.5.0, 0.4.0, 0.3.0, 0.2.0, 0.1.0"
    );
}

#[test]
fn a_component_exporting_no_detector_is_refused_naming_its_exports() {
    let bytes = component(
        r#"(component
             (core module $m (func (export "f")))
             (core instance $i (instantiate $m))
             (func $f (canon lift (core func $i "f")))
             (export "run" (func $f))
           )"#,
    );
    let err = runtime().compile("other.wasm", &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `other.wasm` was built for contract none it names (it exports run), this host supports 0.5.0, 0.4.0, 0.3.0, 0.2.0, 0.1.0"
    );
}

#[test]
fn garbage_is_not_a_plugin() {
    let err = runtime()
        .compile("junk.wasm", b"\0asm not really")
        .unwrap_err();
    assert!(matches!(err, PluginError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("junk.wasm"));
}

#[test]
fn compiled_plugins_are_cached_on_disk_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (label, bytes) = BUILTIN_PLUGINS[0];
    let rt = ueba_engine::sandbox::Runtime::new(Some(dir.path().join("cache"))).unwrap();
    rt.compile(label, bytes).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1, "one cached artefact");
    // A second runtime loads from the cache and the component still works.
    let rt2 = ueba_engine::sandbox::Runtime::new(Some(dir.path().join("cache"))).unwrap();
    let c = rt2.compile(label, bytes).unwrap();
    assert_eq!(
        rt2.instantiate(label, &c, Limits::default())
            .unwrap()
            .info()
            .name,
        "volume"
    );
    // A corrupt cache file is recompiled, not trusted.
    let path = files[0].as_ref().unwrap().path();
    std::fs::write(&path, b"corrupt").unwrap();
    let c = rt2.compile(label, bytes).unwrap();
    assert!(rt2.instantiate(label, &c, Limits::default()).is_ok());
}

#[test]
fn unknown_and_invalid_detector_config_is_refused_by_the_plugin() {
    let rt = runtime();
    let (label, bytes) = BUILTIN_PLUGINS[0];
    let c = rt.compile(label, bytes).unwrap();
    let mut p = rt.instantiate(label, &c, Limits::default()).unwrap();
    let err = p
        .configure(&[("learnign_days".into(), "3".into())])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "detector `volume`: config key `learnign_days`: unknown key"
    );
    let err = p
        .configure(&[("learning_days".into(), "\"soon\"".into())])
        .unwrap_err();
    assert!(
        err.to_string().contains("config key `learning_days`"),
        "{err}"
    );
}

fn batch(events: Vec<Event>, symbols: Vec<wit::Symbol>) -> wit::Batch {
    wit::Batch {
        symbols,
        events: events.iter().collect(),
    }
}

/// 20 days of a small, steady reader, then a bulk read.
fn history() -> (Vec<wit::Symbol>, Vec<Vec<Event>>) {
    let sym = |kind, id, text: &str| wit::Symbol {
        kind,
        id,
        text: text.into(),
    };
    let symbols = vec![
        sym(wit::SymbolKind::User, 0, "agent"),
        sym(wit::SymbolKind::User, 1, "peer"),
        sym(wit::SymbolKind::Resource, 0, "support.customers"),
        sym(wit::SymbolKind::Action, 0, "select"),
        sym(wit::SymbolKind::PeerGroup, 0, "tier1"),
    ];
    let day = 86_400_000i64;
    let start = 1_767_600_000_000i64;
    let mut batches = Vec::new();
    let mut seq = 0;
    for d in 0..21 {
        let mut evs = Vec::new();
        for q in 0..30 {
            for user in 0..2 {
                evs.push(Event {
                    seq,
                    time_ms: start + d * day + 9 * 3_600_000 + q * 600_000,
                    utc_offset_minutes: 0,
                    user,
                    peer_group: Some(0),
                    manager: None,
                    action: 0,
                    resource: 0,
                    source: None,
                    rows: 2 + (q as u64 % 3),
                    bytes: None,
                    outcome: Outcome::Success,
                    learn: true,
                });
                seq += 1;
            }
        }
        if d == 20 {
            evs.push(Event {
                seq,
                rows: 68_000,
                ..evs[0]
            });
        }
        batches.push(evs);
    }
    (symbols, batches)
}

#[test]
fn snapshot_and_restore_through_the_sandbox_give_the_same_findings() {
    let rt = runtime();
    for (label, bytes) in BUILTIN_PLUGINS {
        let c = rt.compile(label, bytes).unwrap();
        let mut a = rt.instantiate(label, &c, Limits::default()).unwrap();
        let (symbols, batches) = history();
        a.observe(&batch(batches[0].clone(), symbols)).unwrap();
        for b in &batches[1..10] {
            a.observe(&batch(b.clone(), vec![])).unwrap();
        }
        let snap = a.snapshot().unwrap();
        let mut b = rt.instantiate(label, &c, Limits::default()).unwrap();
        b.restore(&snap).unwrap();
        for evs in &batches[10..] {
            let fa = a.observe(&batch(evs.clone(), vec![])).unwrap();
            let fb = b.observe(&batch(evs.clone(), vec![])).unwrap();
            assert_eq!(fa, fb, "{label}: findings differ after restore");
        }
        // A snapshot of another detector or garbage is refused, state intact.
        assert!(b.restore(b"not a snapshot").is_err(), "{label}");
    }
}

#[test]
fn volume_flags_the_bulk_read_through_the_sandbox() {
    let rt = runtime();
    let (label, bytes) = BUILTIN_PLUGINS[0];
    let c = rt.compile(label, bytes).unwrap();
    let mut p = rt.instantiate(label, &c, Limits::default()).unwrap();
    let (symbols, batches) = history();
    let mut findings = p.observe(&batch(batches[0].clone(), symbols)).unwrap();
    for b in &batches[1..] {
        findings.extend(p.observe(&batch(b.clone(), vec![])).unwrap());
    }
    let bulk_seq = batches[20].last().unwrap().seq;
    let f = findings
        .iter()
        .find(|f| f.event == bulk_seq)
        .expect("the 68,000-row read is flagged");
    assert!(f.score >= 60.0, "score {}", f.score);
    let p_value = f
        .evidence
        .iter()
        .find(|e| e.key == "p")
        .map(|e| match e.value {
            wit::EvidenceValue::Float(x) => x,
            _ => 1.0,
        })
        .expect("p in evidence");
    assert!(p_value < 1e-6, "p = {p_value}");
}

#[test]
fn memory_cap_is_enforced_per_plugin() {
    let rt = runtime();
    let (label, bytes) = BUILTIN_PLUGINS[0];
    let c = rt.compile(label, bytes).unwrap();
    // Far below what a plugin needs to start: instantiation or the first call fails cleanly.
    let limits = Limits {
        memory_bytes: 64 * 1024,
        ..Limits::default()
    };
    match rt.instantiate(label, &c, limits) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(mut p) => {
            let (symbols, batches) = history();
            assert!(p.observe(&batch(batches[0].clone(), symbols)).is_err());
        }
    }
}

#[test]
fn a_batch_whose_columns_differ_in_length_is_refused_not_read_short() {
    // The host never sends one; a plugin built with the SDK still checks,
    // and says what is wrong instead of reading past a short column.
    let rt = runtime();
    for (label, bytes) in BUILTIN_PLUGINS {
        let c = rt.compile(label, bytes).unwrap();
        let mut p = rt.instantiate(label, &c, Limits::default()).unwrap();
        let (symbols, batches) = history();
        let mut bad = batch(batches[0].clone(), symbols);
        bad.events.rows.pop();
        let err = p.observe(&bad).expect_err("refused");
        assert!(
            err.to_string().contains("batch columns differ in length"),
            "{label}: {err}"
        );
    }
}

/// A log (or a client) with endless distinct names must not push every
/// detector past its memory limit: past `input.max_name_mib` new names
/// are pooled under one, counted, and the detectors keep scoring.
#[test]
fn a_flood_of_distinct_names_is_pooled_past_the_name_budget() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("flood.jsonl");
    let lines: String = (0..4000u64)
        .map(|i| {
            format!(
                "{{\"timestamp\":{},\"user\":\"u{}\",\"action\":\"select\",\"resource\":\"r{i:06}{}\",\"rows\":1}}\n",
                1_767_225_600_000 + i * 60_000,
                i % 20,
                "x".repeat(1000)
            )
        })
        .collect();
    std::fs::write(&events, lines).unwrap();
    let config = dir.path().join("small.toml");
    // 1 MiB holds about a thousand names of a kilobyte; the detectors get
    // 4 MiB each, which 4,000 such names would overflow.
    std::fs::write(
        &config,
        "[input]\nmax_name_mib = 1\nblock_minutes = 0\n[sandbox]\nmemory_mib = 4\nmax_snapshot_mib = 4\n",
    )
    .unwrap();
    let out = crate::util::ueba(&[
        "score",
        "-c",
        config.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("quarantined"), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("names over input.max_name_mib: "))
        .unwrap_or_else(|| panic!("no count of pooled names: {err}"));
    let pooled: u64 = line["names over input.max_name_mib: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2900..4000).contains(&pooled), "{line}");
    assert!(line.contains("resources"), "{line}");
}
