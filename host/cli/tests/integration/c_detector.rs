//! A detector written in C (`plugins/c/failed-access`), built with
//! wit-bindgen's C generator, clang for wasm32 with no libc and
//! wit-component, and loaded by the same host as the Rust plugins.
//!
//! Building it needs clang with the wasm32 target and wasm-ld, which an
//! ordinary `cargo build` does not: on a machine without them these tests
//! say so and pass. `.ci/run` installs them and sets
//! `UEBA_REQUIRE_C_PLUGINS=1`, under which a missing compiler is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ueba_engine::config::Config;
use ueba_engine::event::Outcome;
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::Scorer;
use ueba_engine::sandbox::{Event, Limits, Plugin, PluginError, wit};

use crate::util::{event, runtime};

const REQUIRE: &str = "UEBA_REQUIRE_C_PLUGINS";
const HOUR: i64 = 3_600_000;
const T0: i64 = 1_767_600_000_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn has(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The built component, once per test run; `None` when the compiler is
/// missing and not required.
fn plugin() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT.get_or_init(build).as_deref()
}

fn build() -> Option<PathBuf> {
    let required = std::env::var(REQUIRE).is_ok_and(|v| v == "1");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let missing: Vec<&str> = [(clang.as_str(), "--version"), ("wasm-ld", "--version")]
        .into_iter()
        .filter(|(tool, arg)| !has(tool, arg))
        .map(|(tool, _)| tool)
        .collect();
    if !missing.is_empty() {
        assert!(
            !required,
            "{REQUIRE}=1 but {} not installed: run `apt-get install clang lld` (as .ci/run does)",
            missing.join(" and ")
        );
        eprintln!(
            "C detector tests: {} not installed, so the C plugin is not built here ({REQUIRE}=1 makes this a failure)",
            missing.join(" and ")
        );
        return None;
    }
    let root = root();
    let target = root.join("target").join("c-build");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("plugins/c/tool/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    for var in ["CARGO_TARGET_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the C build tool");
    assert!(status.success(), "building plugins/c/tool failed");
    let out = target.join("plugins").join("failed-access.wasm");
    let status = Command::new(target.join("debug").join("ueba-c-build"))
        .arg(root.join("plugins/c/failed-access"))
        .arg("--wit")
        // Built for the previous contract, which the host still loads: this
        // is the test that a 0.1.0 plugin keeps working.
        .arg(root.join("wit/deps/detector-0.1.0"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run ueba-c-build");
    assert!(status.success(), "building the C detector failed");
    Some(out)
}

fn load() -> Option<Plugin> {
    let bytes = std::fs::read(plugin()?).expect("built component");
    let rt = runtime();
    let c = rt
        .compile("failed-access.wasm", &bytes)
        .expect("the C component compiles and imports nothing");
    Some(
        rt.instantiate("failed-access.wasm", &c, Limits::default())
            .expect("instantiates"),
    )
}

fn ev(seq: u64, user: u32, time_ms: i64, failed: bool) -> Event {
    Event {
        seq,
        time_ms,
        utc_offset_minutes: 0,
        user,
        peer_group: None,
        manager: None,
        action: 0,
        resource: 0,
        source: None,
        rows: 1,
        bytes: None,
        outcome: if failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        learn: true,
    }
}

/// 30 active hours (one a day): `steady` (user 0) fails once every ten
/// hours, `clumsy` (user 1) three times an hour.
fn history() -> Vec<wit::Batch> {
    let sym = |kind, id, text: &str| wit::Symbol {
        kind,
        id,
        text: text.into(),
    };
    let mut symbols = vec![
        sym(wit::SymbolKind::User, 0, "steady"),
        sym(wit::SymbolKind::User, 1, "clumsy"),
        sym(wit::SymbolKind::Resource, 0, "billing.invoices"),
        sym(wit::SymbolKind::Action, 0, "select"),
    ];
    let mut seq = 0;
    let mut batches = Vec::new();
    for day in 0..30i64 {
        let t = T0 + day * 24 * HOUR + 10 * HOUR;
        let mut events = Vec::new();
        for i in 0..6u64 {
            events.push(ev(seq, 0, t + i as i64 * 60_000, day % 10 == 0 && i == 0));
            seq += 1;
            events.push(ev(seq, 1, t + i as i64 * 60_000, i < 3));
            seq += 1;
        }
        batches.push(wit::Batch {
            symbols: std::mem::take(&mut symbols),
            events: events.iter().collect(),
        });
    }
    batches
}

/// Day 31 at 10:00: both users fail `n` times within the hour.
fn burst(n: u64) -> wit::Batch {
    let t = T0 + 31 * 24 * HOUR + 10 * HOUR;
    let events: Vec<Event> = (0..n)
        .flat_map(|i| {
            [
                ev(1_000 + 2 * i, 0, t + i as i64 * 60_000, true),
                ev(1_001 + 2 * i, 1, t + i as i64 * 60_000, true),
            ]
        })
        .collect();
    wit::Batch {
        symbols: vec![],
        events: events.iter().collect(),
    }
}

fn evidence(f: &wit::Finding, key: &str) -> wit::EvidenceValue {
    f.evidence
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.clone())
        .unwrap_or_else(|| panic!("no evidence {key} in {f:?}"))
}

#[test]
fn the_c_detector_loads_and_describes_itself() {
    let Some(mut p) = load() else { return };
    let info = p.info().clone();
    assert_eq!(info.name, "failed-access");
    // The previous contract: its plugins keep loading, converted by the host.
    assert_eq!(info.contract, "0.1.0");
    assert_ne!(info.contract, ueba_engine::sandbox::CONTRACT_VERSION);
    assert!(ueba_engine::sandbox::SUPPORTED_CONTRACTS.contains(&"0.1.0"));
    let keys: Vec<&str> = info.config.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["min_failures", "min_score", "rate_floor", "learning_hours"]
    );
    let err = p
        .configure(&[("nope".into(), "1".into())])
        .expect_err("unknown key");
    assert!(
        matches!(&err, PluginError::Config { key, .. } if key == "nope"),
        "{err}"
    );
    let err = p
        .configure(&[("min_failures".into(), "2.5".into())])
        .expect_err("not a whole number");
    assert!(err.to_string().contains("whole number"), "{err}");
    p.configure(&[
        ("min_failures".into(), "5".into()),
        ("min_score".into(), "30.0".into()),
        ("rate_floor".into(), "5e-2".into()),
    ])
    .expect("defaults are accepted");
}

#[test]
fn a_burst_is_flagged_against_the_users_own_failure_rate() {
    let Some(mut p) = load() else { return };
    for b in history() {
        assert!(p.observe(&b).unwrap().is_empty(), "history has no findings");
    }
    let findings = p.observe(&burst(9)).unwrap();
    assert!(!findings.is_empty());
    // Only the user who hardly ever fails (even seqs): for the one who
    // fails three times an hour, nine failures are p ≈ 3e-3, a score of 25.
    assert!(findings.iter().all(|f| f.event % 2 == 0), "{findings:#?}");
    let first = &findings[0];
    // The fifth failure (min_failures) is the first one scored.
    assert_eq!(first.event, 1_008);
    assert_eq!(evidence(first, "failures"), wit::EvidenceValue::Integer(5));
    assert_eq!(
        evidence(first, "active_hours"),
        wit::EvidenceValue::Integer(30)
    );
    // Rate (3 + 0.5) / 31 ≈ 0.113: P(X ≥ 5) ≈ 1.3e-7, a score near 69.
    let wit::EvidenceValue::Float(p_value) = evidence(first, "p") else {
        panic!("p is a float")
    };
    let expected = -10.0 * p_value.log10();
    assert!(
        (f64::from(first.score) - expected).abs() < 0.01,
        "{first:?}"
    );
    assert!((65.0..=73.0).contains(&first.score), "{first:?}");
    assert!(
        first
            .reason
            .starts_with("5 failed accesses this hour; usual ~0.11 per active hour"),
        "{}",
        first.reason
    );
    // It reports again as the burst grows, each time 10 points stronger.
    let scores: Vec<f32> = findings.iter().map(|f| f.score).collect();
    assert!(scores.windows(2).all(|w| w[1] >= w[0] + 10.0), "{scores:?}");
    assert_eq!(scores.last().copied(), Some(100.0));
}

#[test]
fn snapshot_and_restore_give_the_same_findings() {
    let Some(mut a) = load() else { return };
    let batches = history();
    for b in &batches[..20] {
        a.observe(b).unwrap();
    }
    let snap = a.snapshot().unwrap();
    let mut b = load().expect("built above");
    b.restore(&snap).unwrap();
    for batch in batches[20..].iter().chain([&burst(9)]) {
        assert_eq!(a.observe(batch).unwrap(), b.observe(batch).unwrap());
    }
    assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    let err = b.restore(&snap[..snap.len() - 1]).unwrap_err();
    assert!(err.to_string().contains("truncated or corrupt"), "{err}");
    assert!(b.restore(b"garbage").is_err());
    // The refused restores left the state alone.
    assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
}

#[test]
fn the_host_loads_it_from_a_plugins_dir_and_alerts_on_its_findings() {
    let Some(path) = plugin() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(path, dir.path().join("failed-access.wasm")).unwrap();
    let cfg = Config::default();
    let plugins =
        ueba_engine::sandbox::plugins::load(&runtime(), &cfg, Some(dir.path())).expect("load");
    assert!(plugins.iter().any(|p| p.name() == "failed-access"));
    let mut scorer = Scorer::new(cfg, Identities::default(), plugins, Vec::new());
    let mut push = |time_ms: i64, failed: bool| {
        let mut e = event(time_ms, "mallory", "billing.invoices", 3);
        if failed {
            e.outcome = ueba_engine::event::Outcome::Failure;
        }
        scorer.push(&e).unwrap();
    };
    for day in 0..25 {
        for i in 0..4 {
            push(T0 + day * 24 * HOUR + 10 * HOUR + i * 60_000, false);
        }
    }
    for i in 0..20 {
        push(T0 + 26 * 24 * HOUR + 10 * HOUR + i * 60_000, true);
    }
    let (_, alerts) = scorer.finish().unwrap();
    assert!(
        alerts.iter().any(
            |a| a.user == "mallory" && a.findings.iter().any(|f| f.detector == "failed-access")
        ),
        "{alerts:#?}"
    );
}
