//! Bad input never panics: property tests over the event parser, the line
//! reader, the scorer and the detectors' snapshot decoding (through the
//! sandbox). Each input is either a counted rejection or documented
//! behaviour. `PROPTEST_CASES` raises the case count for longer runs.

use proptest::prelude::*;
use ueba_engine::config::Config;
use ueba_engine::event::AccessEvent;
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::Scorer;
use ueba_engine::sandbox::plugins::BUILTIN_PLUGINS;
use ueba_engine::sandbox::{Limits, wit};
use ueba_formats::input::{Chunk, spawn_reader};
use ueba_formats::sources::parse_line;

use crate::util::runtime;

/// Cases per property: `default`, or `PROPTEST_CASES` when set, for the
/// long fuzzing runs recorded in the notes (an explicit count in a
/// `ProptestConfig` would otherwise ignore the variable).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("99999999999999999999999999".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"2026-01-05T14:03:11Z\"".to_string()),
        Just("\"-262143-01-01T00:00:00Z\"".to_string()),
        Just("\"9999-12-31T23:59:59.999Z\"".to_string()),
        Just("\"1970-01-01T00:00:00-23:59\"".to_string()),
    ]
}

fn event_line() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("timestamp"),
        Just("user"),
        Just("action"),
        Just("resource"),
        Just("rows"),
        Just("bytes"),
        Just("source"),
        Just("peer_group"),
        Just("outcome"),
        Just("other"),
    ];
    proptest::collection::vec((field, json_value()), 0..12).prop_map(|fields| {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,300}", line in 1u64..u64::MAX) {
        if let Err(e) = parse_line(&text, line) {
            prop_assert_eq!(e.line, line);
            prop_assert!(e.to_string().len() < 400);
        }
    }

    #[test]
    fn parsing_event_shaped_objects_never_panics(text in event_line()) {
        match parse_line(&text, 9) {
            Ok(ev) => {
                prop_assert!(ev.time_ms >= 0);
                prop_assert!(!ev.user.is_empty());
            }
            Err(e) => prop_assert_eq!(e.line, 9),
        }
    }

    #[test]
    fn the_reader_accounts_for_every_line_of_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
        let expected = bytes.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
        let (rx, _) = spawn_reader(Box::new(std::io::Cursor::new(bytes)));
        let mut seen = 0;
        for c in rx {
            match c {
                Chunk::Lines(l, _) => seen += l.len(),
                Chunk::Failed(e) => prop_assert!(false, "{e}"),
            }
        }
        prop_assert_eq!(seen, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), ..ProptestConfig::default() })]

    #[test]
    fn scoring_duplicates_disorder_and_extreme_times_never_panics(
        events in proptest::collection::vec(
            (prop_oneof![0i64..10_000_000, 253_402_300_000_000i64..253_402_300_799_999, Just(0)],
             0usize..4, any::<u64>()),
            1..300)
    ) {
        let evs: Vec<AccessEvent> = events.iter().map(|(t, u, rows)| AccessEvent {
            time_ms: *t,
            user: format!("u{u}").into(),
            action: "select".into(),
            resource: format!("t.{}", u % 2).into(),
            rows: *rows,
            bytes: Some(*rows),
            source: None,
            peer_group: Some("g".into()),
            outcome: ueba_engine::event::Outcome::Success,
        }).collect();
        let mut cfg = Config::default();
        cfg.input.batch_size = 64;
        let plugins = ueba_engine::sandbox::plugins::load(&runtime(), &cfg, None).unwrap();
        let mut scorer = Scorer::new(cfg, Identities::default(), plugins, Vec::new());
        for e in evs.iter().chain(evs.iter()) {
            scorer.push(e).unwrap();
        }
        let (report, _) = scorer.finish().unwrap();
        prop_assert_eq!(report.stats.events, 2 * evs.len() as u64);
        prop_assert!(report.stats.health.is_empty(), "{:?}", report.stats.health);
    }
}

#[test]
fn snapshot_decoding_rejects_arbitrary_and_mutated_bytes_without_trapping() {
    let rt = runtime();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(64),
        ..ProptestConfig::default()
    });
    for (label, bytes) in BUILTIN_PLUGINS {
        let c = rt.compile(label, bytes).unwrap();
        let mut p = rt.instantiate(label, &c, Limits::default()).unwrap();
        let sym = |kind, id, text: &str| wit::Symbol {
            kind,
            id,
            text: text.into(),
        };
        let batch = wit::Batch {
            symbols: vec![
                sym(wit::SymbolKind::User, 0, "u"),
                sym(wit::SymbolKind::Resource, 0, "t"),
                sym(wit::SymbolKind::Action, 0, "select"),
            ],
            events: (0..50)
                .map(|i| ueba_engine::sandbox::Event {
                    seq: i,
                    time_ms: 1_767_600_000_000 + i as i64 * 3_600_000,
                    utc_offset_minutes: 0,
                    user: 0,
                    peer_group: None,
                    manager: None,
                    action: 0,
                    resource: 0,
                    source: None,
                    rows: 5,
                    bytes: None,
                    outcome: ueba_engine::event::Outcome::Success,
                    learn: true,
                })
                .collect(),
        };
        p.observe(&batch).unwrap();
        let good = p.snapshot().unwrap();
        let p = std::cell::RefCell::new(p);
        let strategy = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2000),
            (0..good.len(), any::<u8>()).prop_map({
                let g = good.clone();
                move |(i, b)| {
                    let mut v = g.clone();
                    v[i] ^= b | 1;
                    v
                }
            }),
            (0..good.len()).prop_map({
                let g = good.clone();
                move |n| g[..n].to_vec()
            }),
        ];
        runner
            .run(&strategy, |bytes| {
                // Either a clean refusal or a successful restore of a valid
                // state; never a trap (a trap would be an Err naming a failure).
                match p.borrow_mut().restore(&bytes) {
                    Ok(()) => {}
                    Err(ueba_engine::sandbox::PluginError::Call { failure, .. }) => {
                        prop_assert_eq!(
                            failure,
                            ueba_engine::sandbox::Failure::Error,
                            "{}: restore trapped",
                            label
                        );
                    }
                    Err(e) => prop_assert!(false, "{label}: {e}"),
                }
                Ok(())
            })
            .unwrap();
        // The good snapshot still restores after all that.
        p.borrow_mut().restore(&good).unwrap();
    }
}

/// Text shaped like the SIEM and database formats, so the parsers get past
/// their first checks: CEF/LEEF headers, pgAudit prefixes, JSON objects with
/// the format's own keys, cut and spliced at random.
fn format_line() -> impl Strategy<Value = String> {
    let seeds = prop_oneof![
        Just("CEF:0|Acme|DB|1.0|100|select|5|suser=alice src=10.0.0.1 act=select cs1Label=table cs1=support.customers cnt=12 rt=1767600000000".to_string()),
        Just("<134>Jan  5 14:03:11 host CEF:0|a\\|b|c|1|2|n|3|suser=x\\=y duser=z".to_string()),
        Just("LEEF:2.0|Acme|DB|1.0|select|^|usrName=alice^src=10.0.0.1^devTime=1767600000000".to_string()),
        Just("2026-01-05 14:03:11.123 UTC [42]: user=alice,db=support,app=psql,client=10.0.0.1 LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,support.customers,\"select * from support.customers\",<not logged>,12".to_string()),
        Just("\tcontinued statement text".to_string()),
        Just("2026-01-05 14:03:11.123 UTC,\"alice\",\"support\",42,\"10.0.0.1:5000\",abc,1,\"SELECT\",2026-01-05 14:00:00 UTC,3/4,0,LOG,00000,\"AUDIT: SESSION,1,1,READ,SELECT,TABLE,support.tickets,\"\"select 1\"\",<none>,3\",,,,,,,,,\"psql\"".to_string()),
        Just(r#"{"@timestamp":"2026-01-05T14:03:11Z","user":{"name":"alice"},"event":{"action":"select","outcome":"success"},"db":{"sql":{"table":"t"},"response":{"returned_rows":12}}}"#.to_string()),
        Just(r#"{"class_uid":6005,"time":1767600000000,"actor":{"user":{"name":"alice"}},"table":{"name":"t"},"query_info":{"bytes_out":99}}"#.to_string()),
        Just(r#"{"audit_record":{"name":"Query","timestamp":"2026-01-05T14:03:11 UTC","user":"alice[alice] @ localhost []","command_class":"select","sqltext":"select * from t"}}"#.to_string()),
    ];
    (seeds, any::<u16>(), ".{0,40}", any::<u16>()).prop_map(|(s, at, insert, cut)| {
        let chars: Vec<char> = s.chars().collect();
        let at = usize::from(at) % (chars.len() + 1);
        let cut = at + usize::from(cut) % (chars.len() - at + 1);
        let mut out: String = chars[..at].iter().collect();
        out.push_str(&insert);
        out.extend(&chars[cut..]);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1500), ..ProptestConfig::default() })]

    /// Every input format, fed mangled lines of its own and the others'
    /// shapes: no panic, and every line ends as events, an error, a skip
    /// count, or (for multi-line records) part of the next record.
    #[test]
    fn every_format_parser_survives_mangled_lines(lines in proptest::collection::vec(format_line(), 1..8)) {
        use ueba_formats::sources::{FormatsConfig, InputFormat, parser_for};
        for format in [
            InputFormat::Auto,
            InputFormat::Jsonl,
            InputFormat::Ecs,
            InputFormat::Ocsf,
            InputFormat::Cef,
            InputFormat::Leef,
            InputFormat::Pgaudit,
            InputFormat::PgauditCsv,
            InputFormat::Mysql,
            InputFormat::Csv,
        ] {
            let mut p = parser_for(format, &FormatsConfig::default()).unwrap();
            let mut out = Vec::new();
            let mut stopped = false;
            for (i, l) in lines.iter().enumerate() {
                if p.feed(l, i as u64 + 1, &mut out).is_err() {
                    stopped = true;
                    break;
                }
            }
            if !stopped {
                let _ = p.finish(&mut out);
            }
            for parsed in &out {
                if let Err(e) = parsed {
                    prop_assert!(e.line >= 1 && e.line <= lines.len() as u64, "{}: {e}", format.name());
                }
            }
        }
    }

    /// Checkpoint files: arbitrary bytes, and a real checkpoint flipped,
    /// cut or extended, give an error naming the file, never a panic and
    /// never a silently different state.
    #[test]
    fn checkpoint_decoding_refuses_damage(
        noise in proptest::collection::vec(any::<u8>(), 0..600),
        flip in any::<(u16, u8)>(),
        cut in any::<u16>(),
    ) {
        use std::path::Path;
        use ueba_engine::state::{decode, encode};
        let good = encode(&sample_checkpoint()).unwrap();
        let path = Path::new("/state/checkpoint");
        prop_assert!(decode(&noise, path).is_err());
        let mut flipped = good.clone();
        let i = usize::from(flip.0) % flipped.len();
        flipped[i] ^= flip.1 | 1;
        let e = decode(&flipped, path).unwrap_err().to_string();
        prop_assert!(e.contains("/state/checkpoint"), "{e}");
        let n = usize::from(cut) % good.len();
        prop_assert!(decode(&good[..n], path).is_err());
        prop_assert!(decode(&good, path).is_ok());
    }
}

/// A checkpoint as `ueba score --state` writes it, from a few events
/// through the real detectors.
fn sample_checkpoint() -> ueba_engine::state::Checkpoint {
    thread_local! {
        static SAMPLE: ueba_engine::state::Checkpoint = {
            let cfg = Config::default();
            let rt = runtime();
            let plugins = ueba_engine::sandbox::plugins::load(&rt, &cfg, None).unwrap();
            let mut scorer = Scorer::new(cfg, Identities::default(), plugins, Vec::new());
            for i in 0..300i64 {
                let user = format!("u{}", i % 7);
                scorer
                    .push(&crate::util::event(1_767_600_000_000 + i * 60_000, &user, "support.tickets", 3))
                    .unwrap();
            }
            ueba_engine::state::Checkpoint {
                written: "2026-01-05T14:03:12Z".into(),
                ueba_version: "0".into(),
                scorer: scorer.save_state().expect("saved"),
                input: None,
                output: None,
                skipped: 0,
                records: Vec::new(),
            }
        };
    }
    SAMPLE.with(Clone::clone)
}

#[test]
fn megabyte_lines_are_rejected_by_number_and_the_next_line_still_counts() {
    let mut input = Vec::new();
    input.extend(std::iter::repeat_n(b'{', 3 << 20));
    input.push(b'\n');
    input.extend(vec![0xff, 0xfe, b'\n']);
    input.extend(br#"{"timestamp":"2026-01-05T14:03:11Z","user":"a","action":"select","resource":"t","rows":99999999999999999999999}"#);
    input.push(b'\n');
    input.extend(br#"{"timestamp":"2026-01-05T14:03:11Z","user":"a","action":"select","resource":"t","rows":1}"#);
    input.push(b'\n');
    let (rx, bytes) = spawn_reader(Box::new(std::io::Cursor::new(input.clone())));
    let mut parsed = Vec::new();
    for c in rx {
        match c {
            Chunk::Lines(l, _) => parsed.extend(l),
            Chunk::Failed(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        bytes.load(std::sync::atomic::Ordering::Relaxed),
        input.len() as u64
    );
    assert_eq!(parsed.len(), 4);
    let err = |i: usize| parsed[i].as_ref().unwrap_err().to_string();
    assert!(
        err(0).contains("line 1") && err(0).contains("longer than"),
        "{}",
        err(0)
    );
    assert!(
        err(1).contains("line 2") && err(1).contains("UTF-8"),
        "{}",
        err(1)
    );
    assert!(
        err(2).contains("line 3") && err(2).contains("rows"),
        "{}",
        err(2)
    );
    assert_eq!(parsed[3].as_ref().unwrap().rows, 1);
}
