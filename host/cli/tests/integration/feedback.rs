//! The analyst's loop on a generated organisation: `ueba feedback` checks
//! and records a verdict, a benign one keeps the same behaviour from
//! alerting the following week, and a run with a verdicts file is
//! deterministic, killed or not, in its alerts and its incident records.

use std::path::Path;

use serde_json::Value;

use crate::util::{kill_after_first_checkpoint, ueba as run, ueba_cmd};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A generated organisation of 150 users over 30 days: (dir, events path,
/// identities path).
fn org(seed: u64) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let seed = seed.to_string();
    let out = run(&[
        "gen", "--users", "150", "--days", "30", "--seed", &seed, "--out", &d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (
        dir,
        format!("{d}/events.jsonl"),
        format!("{d}/identities.csv"),
    )
}

fn alerts(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn day(alert: &Value) -> &str {
    &alert["time"].as_str().unwrap()[..10]
}

/// The (detector, resource) pairs of an alert's findings.
fn behaviours(alert: &Value) -> Vec<(String, String)> {
    alert["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["detector"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Score `events` without state into `out`, with extra arguments.
fn score(events: &str, ids: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "score",
        events,
        "-i",
        ids,
        "-q",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// Split a time-ordered events file at the first event on or after `day`
/// (`YYYY-MM-DD`), into `before` and `after`.
fn split(events: &str, day: &str, before: &Path, after: &Path) {
    let all = std::fs::read_to_string(events).unwrap();
    let at = all
        .lines()
        .position(|l| l[14..24] >= *day)
        .expect("events after the cut");
    let lines: Vec<&str> = all.lines().collect();
    std::fs::write(before, lines[..at].join("\n") + "\n").unwrap();
    std::fs::write(after, lines[at..].join("\n") + "\n").unwrap();
}

#[test]
fn a_benign_verdict_keeps_the_same_behaviour_from_alerting_the_next_week() {
    // A user who alerts, then alerts again a week or more later: the
    // first of a few generated organisations that has one (which user does
    // depends on the detectors, so more than one organisation is tried).
    let (dir, events, ids, all) = [1, 3, 42]
        .into_iter()
        .find_map(|seed| {
            let (dir, events, ids) = org(seed);
            let reference = dir.path().join("reference.jsonl");
            score(&events, &ids, &reference, &[]);
            let all = alerts(&reference);
            realerted(&all).is_some().then_some((dir, events, ids, all))
        })
        .expect("a generated organisation has a user who alerts in two weeks");
    let (first, later) = realerted(&all).expect("found above");
    let user = first["user"].as_str().unwrap();
    assert!(
        later
            .iter()
            .any(|b| behaviours(b).iter().any(|x| behaviours(first).contains(x))),
        "the later alerts repeat the first one's behaviour"
    );

    // Score up to three days after the first alert, with state.
    let cut = shift_day(day(first), 3);
    let (before, after) = (
        dir.path().join("before.jsonl"),
        dir.path().join("after.jsonl"),
    );
    split(&events, &cut, &before, &after);
    let state = dir.path().join("state");
    let st = state.to_str().unwrap();
    let out1 = dir.path().join("alerts1.jsonl");
    score(before.to_str().unwrap(), &ids, &out1, &["--state", st]);
    let id = first["id"].as_str().unwrap();
    assert!(alerts(&out1).iter().any(|a| a["id"] == id), "same ids");

    // A mistyped directory, unknown ids and times already scored are
    // refused, naming them.
    let missing = dir.path().join("nope");
    let o = run(&[
        "feedback",
        "--state",
        missing.to_str().unwrap(),
        "x",
        "benign",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("is not a state directory"),
        "{}",
        text(&o.stderr)
    );
    assert!(!missing.exists(), "nothing is created");
    let o = run(&["feedback", "--state", st, "0badc0de", "benign"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("no alert has id `0badc0de`"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[
        "feedback",
        "--state",
        st,
        id,
        "benign",
        "--at",
        "2020-01-01T00:00:00Z",
    ]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("before the newest event already scored"));
    assert!(!state.join("verdicts.jsonl").exists(), "nothing recorded");

    let o = run(&[
        "feedback",
        "--state",
        st,
        id,
        "benign",
        "--note",
        "reviewed",
        "--analyst",
        "kim",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let recorded: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(recorded["id"], id);
    assert_eq!(recorded["analyst"], "kim");
    let file = std::fs::read_to_string(state.join("verdicts.jsonl")).unwrap();
    assert_eq!(file.lines().count(), 1);

    // The next week: the behaviour the verdict covered no longer alerts.
    let out2 = dir.path().join("alerts2.jsonl");
    let incidents = dir.path().join("incidents.jsonl");
    score(
        after.to_str().unwrap(),
        &ids,
        &out2,
        &[
            "--state",
            st,
            "--new-input",
            "--incidents",
            incidents.to_str().unwrap(),
        ],
    );
    let forgiven = behaviours(first);
    let repeats: Vec<Value> = alerts(&out2)
        .into_iter()
        .filter(|a| a["user"] == user)
        .filter(|a| behaviours(a).iter().all(|b| forgiven.contains(b)))
        .collect();
    assert!(
        repeats.is_empty(),
        "{user}'s behaviour judged benign alerted again: {repeats:?}"
    );
    let closed = std::fs::read_to_string(&incidents).unwrap();
    assert!(
        closed
            .lines()
            .any(|l| l.contains("\"change\":\"verdict\"") && l.contains(user)),
        "the verdict is in the incident records:\n{closed}"
    );
}

/// The first alert whose user alerts again six or more days later, with
/// those later alerts.
fn realerted(all: &[Value]) -> Option<(&Value, Vec<&Value>)> {
    all.iter().find_map(|a| {
        let again: Vec<&Value> = all
            .iter()
            .filter(|b| b["user"] == a["user"] && day(b) >= day(a) && days_apart(a, b) >= 6)
            .collect();
        (!again.is_empty()).then_some((a, again))
    })
}

fn days_apart(a: &Value, b: &Value) -> i64 {
    let t = |v: &Value| {
        v["time"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    (t(b).as_second() - t(a).as_second()) / 86_400
}

fn shift_day(day: &str, days: i64) -> String {
    let d: jiff::civil::Date = day.parse().unwrap();
    d.checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// A verdicts file with a benign verdict on the first alert, a day later.
fn verdicts_for(reference: &Path, path: &Path) -> String {
    let first = &alerts(reference)[0];
    let t: jiff::Timestamp = first["time"].as_str().unwrap().parse().unwrap();
    let at = t.checked_add(jiff::Span::new().hours(24)).unwrap();
    let line = serde_json::json!({
        "time": at.to_string(), "id": first["id"], "verdict": "benign", "note": "reviewed"
    });
    std::fs::write(path, format!("{line}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_run_with_verdicts_replays_and_resumes_to_identical_alerts_and_incidents() {
    let (dir, events, ids) = org(42);
    let p = |n: &str| dir.path().join(n);
    score(&events, &ids, &p("plain.jsonl"), &[]);
    let verdicts = verdicts_for(&p("plain.jsonl"), &p("verdicts.jsonl"));
    let with = |out: &str, inc: &str| {
        score(
            &events,
            &ids,
            &p(out),
            &[
                "--verdicts",
                &verdicts,
                "--incidents",
                p(inc).to_str().unwrap(),
            ],
        );
        (
            std::fs::read(p(out)).unwrap(),
            std::fs::read(p(inc)).unwrap(),
        )
    };
    let (want_alerts, want_incidents) = with("a1.jsonl", "i1.jsonl");
    assert_ne!(
        want_alerts,
        std::fs::read(p("plain.jsonl")).unwrap(),
        "the verdict changes what alerts"
    );
    assert_eq!(
        with("a2.jsonl", "i2.jsonl"),
        (want_alerts.clone(), want_incidents.clone())
    );

    // Killed with SIGKILL after a checkpoint, then resumed.
    let alerts_out = p("alerts.jsonl");
    let incidents_out = p("incidents.jsonl");
    let state = p("state");
    let args = [
        "score",
        &events,
        "-i",
        &ids,
        "-q",
        "-o",
        alerts_out.to_str().unwrap(),
        "--incidents",
        incidents_out.to_str().unwrap(),
        "--verdicts",
        &verdicts,
        "--state",
        state.to_str().unwrap(),
        "--checkpoint-events",
        "20000",
    ];
    kill_after_first_checkpoint(&args, &state);
    let o = ueba_cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        std::fs::read(&alerts_out).unwrap() == want_alerts,
        "resumed alerts differ from an uninterrupted run"
    );
    assert!(
        std::fs::read(&incidents_out).unwrap() == want_incidents,
        "resumed incident records differ:\n--- resumed\n{}\n--- uninterrupted\n{}",
        text(&std::fs::read(&incidents_out).unwrap()),
        text(&want_incidents)
    );
}

/// A verdict naming no alert fails a run that reads it from a verdicts
/// file (with the file and line), and is skipped by a scorer told to be
/// lenient (what workers read from NATS, where anyone may publish one).
#[test]
fn a_verdict_on_no_alert_fails_a_file_and_is_skipped_when_lenient() {
    use ueba_engine::config::Config;
    use ueba_engine::identity::Identities;
    use ueba_engine::pipeline::Scorer;
    use ueba_engine::risk::aggregate::Alert;
    use ueba_engine::risk::verdicts::{PendingVerdict, Verdict, VerdictKind};
    use ueba_test_support::event;

    let t0 = 1_767_600_000_000i64;
    let verdict = PendingVerdict {
        verdict: Verdict {
            time: ueba_engine::event::format_time(t0),
            id: "0badc0de".into(),
            verdict: VerdictKind::Benign,
            note: String::new(),
            analyst: String::new(),
        },
        time_ms: t0,
        path: "ueba.verdicts.0".into(),
        line: 7,
    };
    let run = |lenient: bool| {
        let scorer = Scorer::new(
            Config::default(),
            Identities::default(),
            Vec::new(),
            Vec::<Alert>::new(),
        );
        let mut scorer = if lenient {
            scorer.lenient_verdicts()
        } else {
            scorer
        };
        scorer.sync_verdicts(vec![verdict.clone()]);
        for i in 0..3 {
            scorer.push(&event(t0 + i * 60_000, "u", "support.tickets", 1))?;
        }
        scorer.flush()
    };
    let err = run(false).unwrap_err().to_string();
    assert!(
        err.contains("ueba.verdicts.0") && err.contains("7") && err.contains("no alert has id"),
        "{err}"
    );
    run(true).unwrap();
}
