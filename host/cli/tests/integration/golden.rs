//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them (the last:
//! `risk.hold_above` at 40, which holds the boiling-frog agent out of
//! learning before their first alert, so their episode never calms and a
//! second `new` alert five days later is not raised; with `hold_above` at
//! 60 the old digests return).

use ueba_engine::sandbox::sha256_hex;

use crate::util::ueba;

/// sha256 of the alerts for `ueba gen --users 100 --days 20 --seed 42
/// --start 2026-01-05`, scored with the default configuration.
const DIGESTS: &[(&str, &str)] = &[
    (
        "jsonl",
        "93c1c08211569e05bd6120a98ff949acff7e2ee4ebe075412afc7fadedcb4615",
    ),
    (
        "ecs",
        "e23e851297d60669ab40ad6b201192f7ac38f224f5dafa8a1db660bb55096ecf",
    ),
    (
        "cef",
        "6f2bc26430b2114090314585a8f896028a7774a61e5fa229d1650d9f9dd222c7",
    ),
    (
        "ocsf",
        "92db8e18b2ed1d32d75a097e84e03b8837dbe2759b79fa71d5942acdd994ef81",
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
