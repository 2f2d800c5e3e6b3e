//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them (the last:
//! volume 0.5.0 counts a read the size a resource's readers in the user's
//! group usually make as one of the user's own, so the slow-exfiltration
//! agent's first alert scores 65.7 where it scored 65.9 and the
//! novel-table insider's episode re-alerts as new evidence at 84.6, volume
//! adding 25 points; before it,
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
        "7d8e8a7856b2a9907eb53c27ca58aa47fcb6a1613c6013f72e185fadd76cfeaa",
    ),
    (
        "ecs",
        "31d9a14605faf486504953d5e2d7e68e90e2bb5f62128d608913f8650e552de0",
    ),
    (
        "cef",
        "d67e9317a97f7cf1fbeb67b8f7d6a4053afed993488ccc5ff745de53fdc93960",
    ),
    (
        "ocsf",
        "df1539474f6c7cf2b978fa5ea8983219e6a3696ee7f40a4afbbab7daba3cbd97",
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
