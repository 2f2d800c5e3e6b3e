//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them (the last:
//! novel-table's evidence carries `first_of_kind` and `sensitive` only when
//! set, and a discovery's rarity is read against the spread of the user's
//! discoveries, so the Trend Micro insider's first read of crm.contacts
//! scores 73.3 where it scored 74.3; before it, volume 0.2.0 learns a remarkable count as the most its history found
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
        "f66db87bae7d5c50e7111eaccffc052c0c5d06f964fb76cdb8f72a542ab5dd9a",
    ),
    (
        "ecs",
        "bf0cc3eafa0f596998e9129d5974d7f9eab62f99eacf50c4bbf8a6ee1738e8d5",
    ),
    (
        "cef",
        "44d98bd2c39bae178ae027919018a5023e0c6fee9ad89f95676218059423fee6",
    ),
    (
        "ocsf",
        "471c06930f4547c04e9e269a531d4d76ce20b894cb31b10950376110f1c1edad",
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
