//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them (the last:
//! volume 0.2.0 learns a remarkable count as the most its history found
//! unremarkable, so the boiling-frog agent's early-morning reads alert at
//! 01:10 rather than 01:24 and escalate at 90; before it, novel-table
//! 0.2.0 judged a peer group's few discoveries against the organisation's,
//! so the two first reads of tables nobody reads score 82 and 74 where
//! they scored 89 and 82).

use ueba_engine::sandbox::sha256_hex;

use crate::util::ueba;

/// sha256 of the alerts for `ueba gen --users 100 --days 20 --seed 42
/// --start 2026-01-05`, scored with the default configuration.
const DIGESTS: &[(&str, &str)] = &[
    (
        "jsonl",
        "b4fc92ca1c174e2893c3ee98ff864850a2899e646235c037df9e107d115ed3b8",
    ),
    (
        "ecs",
        "e9345d5a409c524d85b5dc3072eda5be6fc10e0d2d8a6cabd34e35547beeb42f",
    ),
    (
        "cef",
        "a49bdc2ccc7d1c44cbe77cd511f180b70c208cb872967b8d8621df5b75e00d0a",
    ),
    (
        "ocsf",
        "257c49225b1320b242a9c70eceb5ae0e1b56b6642ee6cc7e39dc11c5129b7962",
    ),
];

#[test]
fn alerts_on_a_generated_organisation_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org");
    let generated = ueba(&[
        "gen",
        "--users",
        "100",
        "--days",
        "20",
        "--seed",
        "42",
        "--start",
        "2026-01-05",
        "--out",
        org.to_str().unwrap(),
    ]);
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let events = org.join("events.jsonl");
    let ids = org.join("identities.csv");
    for (format, want) in DIGESTS {
        let out = dir.path().join(format!("alerts.{format}"));
        let run = ueba(&[
            "score",
            "-q",
            events.to_str().unwrap(),
            "--identities",
            ids.to_str().unwrap(),
            "--output-format",
            format,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let alerts = std::fs::read(&out).unwrap();
        assert!(!alerts.is_empty(), "no {format} alerts");
        assert_eq!(sha256_hex(&alerts), *want, "{format} alerts changed");
    }
}
