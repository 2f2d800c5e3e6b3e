//! Bad input never panics: property tests over the event parser, the line
//! reader, the scorer and the detectors' snapshot decoding (through the
//! sandbox). Each input is either a counted rejection or documented
//! behaviour. `PROPTEST_CASES` raises the case count for longer runs.

use proptest::prelude::*;
use ueba::config::Config;
use ueba::event::{AccessEvent, parse_line};
use ueba::identity::Identities;
use ueba::input::{Chunk, spawn_reader};
use ueba::plugins::BUILTIN_PLUGINS;
use ueba::runtime::{Limits, wit};
use ueba::score::Scorer;

use crate::util::runtime;

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
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

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
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn scoring_duplicates_disorder_and_extreme_times_never_panics(
        events in proptest::collection::vec(
            (prop_oneof![0i64..10_000_000, 253_402_300_000_000i64..253_402_300_799_999, Just(0)],
             0usize..4, any::<u64>()),
            1..300)
    ) {
        let evs: Vec<AccessEvent> = events.iter().map(|(t, u, rows)| AccessEvent {
            time_ms: *t,
            user: format!("u{u}"),
            action: "select".into(),
            resource: format!("t.{}", u % 2),
            rows: *rows,
            bytes: Some(*rows),
            source: None,
            peer_group: Some("g".into()),
            outcome: ueba::event::Outcome::Success,
        }).collect();
        let mut cfg = Config::default();
        cfg.input.batch_size = 64;
        let plugins = ueba::plugins::load(&runtime(), &cfg, None).unwrap();
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
        cases: 64,
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
                .map(|i| wit::Event {
                    seq: i,
                    time_ms: 1_767_600_000_000 + i as i64 * 3_600_000,
                    utc_offset_minutes: 0,
                    user: 0,
                    peer_group: None,
                    action: 0,
                    resource: 0,
                    source: None,
                    rows: 5,
                    bytes: None,
                    outcome: wit::Outcome::Success,
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
                    Err(ueba::runtime::PluginError::Call { failure, .. }) => {
                        prop_assert_eq!(
                            failure,
                            ueba::runtime::Failure::Error,
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
