//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them.

use ueba_engine::sandbox::sha256_hex;

use crate::util::ueba;

/// sha256 of the alerts for `ueba gen --users 100 --days 20 --seed 42
/// --start 2026-01-05`, scored with the default configuration.
const DIGESTS: &[(&str, &str)] = &[
    (
        "jsonl",
        "626c076930f820847561a94d948f6747dde294e7ed3164a2e2c73211344346cd",
    ),
    (
        "ecs",
        "5811874f9f62eebbc5e83d0fcd10b5f35a1b4b641ee90a61de23d5ca74bff357",
    ),
    (
        "cef",
        "2f7205395d71adb3c775e401f163e7756806691c3a7c0eabb34fd265a5e93b17",
    ),
    (
        "ocsf",
        "8d5461d9a00171bd8ef2f511bad9b2bf33a957b4b1aeea40dfacdfc953247287",
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
