//! `--shards N`: users split across detector instances on threads of their
//! own. What users rely on: the same input gives the same alerts however
//! the threads are scheduled, a killed sharded run resumes to the same
//! alerts, a state directory is not resumed with another number of shards
//! without saying why, splitting keeps `ueba eval`'s verdicts, and every
//! shard's detectors count the whole organisation.

use std::path::Path;

use crate::util::{kill_after_first_checkpoint, ueba as run, ueba_cmd};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A generated organisation (with labels): the directory and its path.
fn org(users: &str, days: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let out = run(&["gen", "--users", users, "--days", days, "--out", &d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (dir, d)
}

/// Alerts of a run without state, with `shards` shards.
fn alerts(d: &str, shards: &str, out: &Path) -> Vec<u8> {
    score(d, shards, out, &[])
}

/// The same with `more` arguments for `ueba score`.
fn score(d: &str, shards: &str, out: &Path, more: &[&str]) -> Vec<u8> {
    let events = format!("{d}/events.jsonl");
    let ids = format!("{d}/identities.csv");
    let mut args = vec![
        "score",
        &events,
        "-i",
        &ids,
        "--shards",
        shards,
        "-q",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read(out).unwrap()
}

#[test]
fn a_sharded_run_is_repeatable_and_resumes_identically_after_sigkill() {
    let (dir, d) = org("100", "30");
    let want = alerts(&d, "3", &dir.path().join("reference.jsonl"));
    assert!(
        want.iter().filter(|&&b| b == b'\n').count() >= 3,
        "the generated insiders must raise alerts for this test to mean anything"
    );
    assert_eq!(
        alerts(&d, "3", &dir.path().join("again.jsonl")),
        want,
        "two runs with three shards must give the same alerts"
    );

    let state = dir.path().join("state");
    let out = dir.path().join("alerts.jsonl");
    let events = format!("{d}/events.jsonl");
    let ids = format!("{d}/identities.csv");
    let args = [
        "score",
        &events,
        "-i",
        &ids,
        "--shards",
        "3",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--checkpoint-events",
        "20000",
    ];
    kill_after_first_checkpoint(&args, &state);

    // Another number of shards cannot take the state over, and says so.
    let mut other = args.to_vec();
    other[5] = "2";
    let o = ueba_cmd().args(&other).output().unwrap();
    assert!(!o.status.success(), "resumed with 2 shards over 3");
    let err = text(&o.stderr);
    assert!(
        err.contains("3 shard(s)") && err.contains("--shards 3"),
        "the refusal must name the checkpoint's shards and how to resume: {err}"
    );

    let o = ueba_cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got = std::fs::read(&out).unwrap();
    assert!(
        got == want,
        "resumed alerts differ from an uninterrupted run:\n--- resumed\n{}\n--- uninterrupted\n{}",
        text(&got),
        text(&want)
    );
}

/// Scenarios detected and false alerts of `ueba eval --shards N`.
fn verdicts(d: &str, shards: &str, json: &Path) -> (Vec<(String, bool)>, f64) {
    let o = run(&[
        "eval",
        "--events",
        &format!("{d}/events.jsonl"),
        "-i",
        &format!("{d}/identities.csv"),
        "--labels",
        &format!("{d}/labels.json"),
        "--shards",
        shards,
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let scenarios = v["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter(|s| s["malicious"].as_bool() == Some(true))
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["detected"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    (
        scenarios,
        v["benign_alerts"].as_f64().expect("benign_alerts"),
    )
}

#[test]
fn four_shards_detect_what_one_does_with_as_many_false_alerts() {
    let (dir, d) = org("200", "30");
    let (one, fa_one) = verdicts(&d, "1", &dir.path().join("one.json"));
    let (four, fa_four) = verdicts(&d, "4", &dir.path().join("four.json"));
    assert!(
        one.iter().any(|(_, detected)| *detected),
        "the generated insiders must be detected for this test to mean anything"
    );
    assert_eq!(one, four, "scenarios detected with one shard and with four");
    assert!(
        (fa_four - fa_one).abs() <= (0.1 * fa_one).max(1.0),
        "false alerts with four shards {fa_four}, with one {fa_one}"
    );
}

/// The largest value of each of `keys` in a findings file's evidence.
fn largest(findings: &Path, keys: &[&str]) -> Vec<u64> {
    let text = std::fs::read_to_string(findings).unwrap();
    let mut top = vec![0; keys.len()];
    for line in text.lines() {
        let f: serde_json::Value = serde_json::from_str(line).unwrap();
        for (k, top) in keys.iter().zip(&mut top) {
            if let Some(v) = f["evidence"][*k].as_u64() {
                *top = (*top).max(v);
            }
        }
    }
    top
}

#[test]
fn every_shard_counts_the_whole_organisation_and_peer_group() {
    // Each shard's detectors see a quarter of the users; the population
    // exchange must make "of 99 users" and a peer group's size count all
    // of them, as one shard does.
    let (dir, d) = org("100", "30");
    let figures = |shards: &str| {
        let findings = dir.path().join(format!("findings-{shards}.jsonl"));
        let out = dir.path().join(format!("alerts-{shards}.jsonl"));
        score(
            &d,
            shards,
            &out,
            &["--findings", findings.to_str().unwrap()],
        );
        largest(&findings, &["org_users", "peer_size"])
    };
    let one = figures("1");
    assert!(
        one[0] >= 90 && one[1] >= 10,
        "the one-shard run must report the organisation ({one:?}) for this test to mean anything"
    );
    assert_eq!(
        figures("4"),
        one,
        "organisation and peer-group sizes with four shards"
    );
}
