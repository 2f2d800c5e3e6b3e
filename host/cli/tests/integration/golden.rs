//! Behaviour kept byte for byte: the alerts `ueba score` writes for a
//! generated organisation, in every format that carries no machine-specific
//! field, are pinned by their sha256. A refactoring must leave them as they
//! are; a change to detection or to a format changes them on purpose, and
//! the new digests go in with the change that explains them (the last:
//! a detector's findings about one resource within an hour restate one
//! behaviour and count once in its repeat bonus, at their strongest, so
//! the boiling-frog agent's early-morning reads of support.customers alert
//! at 01:24 at 72.2 where they alerted at 01:10 at 63.9 and escalated to
//! 90, and the slow-exfiltration agent alerts at 15:41 at 61.6 where at
//! 14:40 at 64.6, escalating at 17:44 to 82.6 where at 18:32 to 90;
//! before it, a bucket an outsized read bounded counts as reported at its own score
//! even when nothing reports, so that a later ordinary read cannot report
//! the same total unbounded; here that changes which of other users'
//! events the host holds out of learning, so the slow-exfiltration
//! agent's first read is 1 in 757.2 of the organisation's reads as
//! outsized where it was 1 in 757.3 (`outsized_share`); before it,
//! volume's outsized-read
//! finding says "the bucket's only read" or "one of
//! N reads in the bucket" where it said "(N reads in the bucket)"; before
//! it, volume 0.9.0 judges a total one outsized read carries no more surely
//! than the organisation's reads that outsized are rare, so the
//! slow-exfiltration agent's first read of support.customers, 14 times
//! their usual read where 1 in 757 of the organisation's reads is as
//! outsized, scores 28.8 where it alerted at 82.8, and the agent alerts 38
//! minutes later at 64.6, when their reads add up in the hour, escalating
//! to 90; an engineer's alert (fmueller, a day of eng.deployments carried
//! by one read) and the novel-table insider's new-evidence alert are gone;
//! before it,
//! novel-table 0.5.0 learns the first accesses a held user made once they
//! are learned again, so the organisation's discoveries are rated with
//! those of users whose episodes ended, and jreyes2's new-evidence alert
//! carries a novel-table finding of 67.6 where it was 69.5, and scores
//! 96.8 where it scored 96.9; before it,
//! volume 0.8.0 learns the days it held out of learning once the user is
//! learned again, so the reads of users whose episodes had ended join
//! the usual reads, and fmueller's alert says eng.service_logs is read
//! ~330 rows at a time where it said ~329, its hour of 1,915 rows where it
//! said 1,923, and scores as before; before it,
//! volume 0.7.0 weighs a peer group's days against a member's own by how
//! far members differ, and judges rows against a slow reference no more
//! surely than a count of them, so an engineer's day of 4.7 times their
//! usual rows of eng.deployments alerts at 60.6 and the slow-exfiltration
//! agent's first alert scores 82.8 where it scored 65.7, with no
//! escalation after; before it,
//! novel-table's findings on an owned resource carry `ownership_weight`,
//! the same scores; before it, an event's findings are all added before the alert decision, so the
//! novel-table insider's new-evidence alert carries novel-table's finding
//! on the same read as volume's and scores 93.0 where it scored 84.6;
//! before it, volume 0.5.0 counts a read the size a resource's readers in the user's
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
        "464b6a020adb77c038c5734d8ca841e7a32eb573d0803425c5ad64f145c644c3",
    ),
    (
        "ecs",
        "cacd6dfcb41992bf7916dd7e0ed80bf158598a979b70a603b7fdbe5090337a4e",
    ),
    (
        "cef",
        "0ecbc32ffc575bad4c703be50bf1f284233ec6114b71926feed1247a6bb5bb93",
    ),
    (
        "ocsf",
        "2794c00cb07dd7b3c954e375720e297250c7d2f43df59fce359ccfbc97214646",
    ),
];

/// Generate the pinned organisation into `dir/org`; its events and
/// identities.
fn organisation(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let org = dir.join("org");
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
    (org.join("events.jsonl"), org.join("identities.csv"))
}

#[test]
fn alerts_on_a_generated_organisation_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (events, ids) = organisation(dir.path());
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

/// The same detectors give the same alerts whatever order they are loaded
/// in: a built-in replaced by the same component from `--plugins` loads
/// last, and an event on which it and another detector both report still
/// raises one alert carrying both findings.
#[test]
fn alerts_do_not_depend_on_the_order_detectors_are_loaded_in() {
    let dir = tempfile::tempdir().unwrap();
    let (events, ids) = organisation(dir.path());
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let (name, volume) = ueba_engine::sandbox::plugins::BUILTIN_PLUGINS[0];
    assert_eq!(name, "volume");
    std::fs::write(plugins.join("volume.wasm"), volume).unwrap();
    let score = |extra: &[&str]| {
        let out = dir.path().join(format!("alerts{}.jsonl", extra.len()));
        let mut args = vec![
            "score",
            "-q",
            events.to_str().unwrap(),
            "--identities",
            ids.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let run = ueba(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        std::fs::read(&out).unwrap()
    };
    let built_in = score(&[]);
    let replaced = score(&["--plugins", plugins.to_str().unwrap()]);
    assert!(!built_in.is_empty());
    assert!(built_in == replaced, "alerts changed with the load order");
}
