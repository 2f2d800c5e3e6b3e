//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them (the last:
//! alerts gained `id` and `incident`; CEF, which carries neither, is
//! unchanged).

use ueba_engine::sandbox::sha256_hex;

use crate::util::ueba;

/// sha256 of the alerts for `ueba gen --users 100 --days 20 --seed 42
/// --start 2026-01-05`, scored with the default configuration.
const DIGESTS: &[(&str, &str)] = &[
    (
        "jsonl",
        "3ccd33f55c38491429033b9b05cfd0a021ca2be1043ecfda6e7af580094eeb3d",
    ),
    (
        "ecs",
        "a9e3698814a261b374abe70ae4658b38e0a103f34b9525b7c7d8f84fe8026cf4",
    ),
    (
        "cef",
        "2f7205395d71adb3c775e401f163e7756806691c3a7c0eabb34fd265a5e93b17",
    ),
    (
        "ocsf",
        "4ef274f89edf66aedd51449674e568752ce6584442d041e901ab2a5f485aa34a",
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
