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
        "cd191ad2f690c0119e086dde25447a44ac6cca6226691203696bef123fd7d3fa",
    ),
    (
        "ecs",
        "7fb755d6dc9c45e3822e472eb3b6059fe1149bd35ddb8470ff4b5df923884d79",
    ),
    (
        "cef",
        "e6d5f68debd9dd99f608a75b6dcce7542ca021b7e5de67e14c24f8851170bb14",
    ),
    (
        "ocsf",
        "a54b2f577dd2c6b1e4e82bcdf136ff62525099c6a503bcb83c916e7cafe864dc",
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
