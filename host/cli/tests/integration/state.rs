//! Durable state: `ueba score --state DIR` survives SIGKILL and SIGTERM with
//! the alert file ending as if the run had never stopped, refuses damaged
//! checkpoints, and carries what it learned into a new input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::util::{kill_after_first_checkpoint, ueba as run, ueba_cmd};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A generated organisation: (dir, events path, identities path).
fn org(users: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let out = run(&["gen", "--users", users, "--days", "30", "--out", &d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (
        dir,
        format!("{d}/events.jsonl"),
        format!("{d}/identities.csv"),
    )
}

/// `events` split into its first two thirds (`history.jsonl` in `dir`)
/// and the rest (`today.jsonl`): (history, today, lines in all, lines in
/// history).
fn split(events: &str, dir: &Path) -> (PathBuf, PathBuf, usize, usize) {
    let all = std::fs::read_to_string(events).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    let cut = lines.len() * 2 / 3;
    let history = dir.join("history.jsonl");
    let today = dir.join("today.jsonl");
    std::fs::write(&history, lines[..cut].join("\n") + "\n").unwrap();
    std::fs::write(&today, lines[cut..].join("\n") + "\n").unwrap();
    (history, today, lines.len(), cut)
}

/// Alerts of an uninterrupted run without state.
fn reference(events: &str, ids: &str, out: &Path) -> Vec<u8> {
    let o = run(&[
        "score",
        events,
        "-i",
        ids,
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let alerts = std::fs::read(out).unwrap();
    assert!(
        alerts.iter().filter(|&&b| b == b'\n').count() >= 3,
        "the generated insiders must raise alerts for this test to mean anything"
    );
    alerts
}

/// `ueba score INPUT` keeping state in `state` and appending alerts to
/// `alerts`: its summary.
fn score_with_state(input: &Path, ids: &str, alerts: &Path, state: &Path) -> String {
    let o = run(&[
        "score",
        input.to_str().unwrap(),
        "-i",
        ids,
        "-o",
        alerts.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stderr)
}

#[test]
fn killed_mid_stream_resumes_to_identical_alerts() {
    let (dir, events, ids) = org("150");
    let want = reference(&events, &ids, &dir.path().join("reference.jsonl"));
    let state = dir.path().join("state");
    let alerts = dir.path().join("alerts.jsonl");
    let args = [
        "score",
        &events,
        "-i",
        &ids,
        "-q",
        "-o",
        alerts.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--checkpoint-events",
        "20000",
    ];
    kill_after_first_checkpoint(&args, &state);

    let o = ueba_cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got = std::fs::read(&alerts).unwrap();
    assert!(
        got == want,
        "resumed alerts differ from an uninterrupted run:\n--- resumed\n{}\n--- uninterrupted\n{}",
        text(&got),
        text(&want)
    );

    // Running the finished command again scores nothing twice.
    let o = ueba_cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&alerts).unwrap(), want);
}

#[test]
fn sigterm_checkpoints_and_a_stream_resumes_after_the_last_line_read() {
    let (dir, events, ids) = org("100");
    let want = reference(&events, &ids, &dir.path().join("reference.jsonl"));
    let lines: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let state = dir.path().join("state");
    let alerts = dir.path().join("alerts.jsonl");
    let args = [
        "score",
        "-",
        "-i",
        &ids,
        "-q",
        "-o",
        alerts.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--checkpoint-events",
        "1000000000",
        "--checkpoint-secs",
        "100000",
    ];
    let mut child = ueba_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let half = lines.len() / 2;
    {
        let stdin = child.stdin.as_mut().unwrap();
        for l in &lines[..half] {
            writeln!(stdin, "{l}").unwrap();
        }
        stdin.flush().unwrap();
    }
    // The writes above blocked until the reader took most of them, so the
    // process is past loading and its signal handler is in place.
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    let k = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(k.success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    let read: usize = stderr
        .split("after line ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no stop line in: {stderr}"));
    assert!(
        read > 0 && read <= half,
        "stopped after line {read} of {half}"
    );

    // A stream cannot be rewound: the producer resends from the next line.
    let mut child = ueba_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in &lines[read..] {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = std::fs::read(&alerts).unwrap();
    assert!(
        got == want,
        "alerts after SIGTERM and resume differ from an uninterrupted run:\n--- resumed\n{}\n--- uninterrupted\n{}",
        text(&got),
        text(&want)
    );
}

/// A named pipe given as the input (as a forwarder writes one) is read as
/// a stream, like stdin: checkpoints taken while it is read never open it
/// again (which would wait for a writer or take its bytes), and the alerts
/// are those of the same events from a file.
#[test]
fn a_named_pipe_as_input_is_scored_and_checkpointed_as_a_stream() {
    let (dir, events, ids) = org("60");
    let want = reference(&events, &ids, &dir.path().join("reference.jsonl"));
    let fifo = dir.path().join("events.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let state = dir.path().join("state");
    let alerts = dir.path().join("alerts.jsonl");
    let mut child = ueba_cmd()
        .args([
            "score",
            fifo.to_str().unwrap(),
            "-i",
            &ids,
            "-q",
            "-o",
            alerts.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--checkpoint-events",
            "2000",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = {
        let (fifo, events) = (fifo.clone(), events.clone());
        std::thread::spawn(move || {
            let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            pipe.write_all(&std::fs::read(events).unwrap()).unwrap();
        })
    };
    writer.join().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ueba score did not finish reading the named pipe");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(state.join("checkpoint").is_file());
    assert!(std::fs::read(&alerts).unwrap() == want, "alerts differ");
}

#[test]
fn history_then_a_new_log_scores_like_one_stream() {
    let (dir, events, ids) = org("100");
    let want = reference(&events, &ids, &dir.path().join("reference.jsonl"));
    let (history, today, lines, cut) = split(&events, dir.path());
    let state = dir.path().join("state");
    let alerts = dir.path().join("alerts.jsonl");
    for input in [&history, &today] {
        let summary = score_with_state(input, &ids, &alerts, &state);
        if input == &today {
            // The counts carry on from the state; the rate is of this run.
            let this_run = format!("events {lines} ({} this run)", lines - cut);
            assert!(summary.contains(&this_run), "{summary}");
        }
    }
    // The second run appends to the alert file the first one wrote (the
    // state records how much of it is covered), so the file at the end
    // holds both runs' alerts.
    let got = std::fs::read(&alerts).unwrap();
    assert!(
        got == want,
        "history + today with state differs from one run over both:\n--- split\n{}\n--- whole\n{}",
        text(&got),
        text(&want)
    );
}

#[test]
fn damaged_state_is_refused_and_kept_and_a_changed_lineup_resumes() {
    let (dir, events, ids) = org("40");
    let state = dir.path().join("state");
    let args = |input: &str| {
        vec![
            "score".to_string(),
            input.to_string(),
            "-i".into(),
            ids.clone(),
            "-q".into(),
            "--state".into(),
            state.to_str().unwrap().to_string(),
        ]
    };
    let o = ueba_cmd().args(args(&events)).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let checkpoint = state.join("checkpoint");
    let good = std::fs::read(&checkpoint).unwrap();

    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&checkpoint, &bad).unwrap();
    let o = ueba_cmd().args(args(&events)).output().unwrap();
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("corrupt") && err.contains("checkpoint"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        bad,
        "a damaged checkpoint must not be replaced"
    );

    std::fs::write(&checkpoint, &good[..good.len() / 3]).unwrap();
    let o = ueba_cmd().args(args(&events)).output().unwrap();
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("truncated"), "{}", text(&o.stderr));

    std::fs::write(&checkpoint, b"PK\x03\x04 some zip file").unwrap();
    let o = ueba_cmd().args(args(&events)).output().unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("not a ueba checkpoint"),
        "{}",
        text(&o.stderr)
    );

    // A state saved with a detector this run does not load resumes: that
    // detector's state is dropped with a warning naming it, and the others
    // carry on (no detector can lock the rest of the state away).
    std::fs::write(&checkpoint, &good).unwrap();
    let cfg = dir.path().join("ueba.toml");
    std::fs::write(&cfg, "[detectors.off-hours]\nenabled = false\n").unwrap();
    let mut a = args(&events);
    a.extend(["-c".to_string(), cfg.to_str().unwrap().to_string()]);
    let o = ueba_cmd().args(&a).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("\"event\":\"state_dropped\"") && err.contains("\"plugin\":\"off-hours\""),
        "{err}"
    );
}

/// Checkpoints written by earlier releases (fixtures `earlier-states`)
/// resume with every detector's learned state: volume carries its 0.3
/// to 0.8 layouts over, off-hours its 0.1.0 to 0.3.0 ones, novel-table
/// its 0.2.0 to 0.4.1 ones, new-source its 0.3.1 one, and no
/// detector starts afresh;
/// the checkpoint formats 7 to 11 carry over to the current one.
#[test]
fn checkpoints_of_earlier_releases_keep_every_detectors_state() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/earlier-states");
    let next_day = fixtures.join("next-day.jsonl");
    let ids = fixtures.join("identities.csv");
    for release in [
        "13657c3", "7cbe66e", "ce51483", "777a321", "a97c876", "d31da0f", "e2bd4fc", "90a9b32",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::copy(
            fixtures.join(format!("{release}.checkpoint")),
            state.join("checkpoint"),
        )
        .unwrap();
        let resume = |alerts: &str| {
            let o = run(&[
                "score",
                next_day.to_str().unwrap(),
                "-i",
                ids.to_str().unwrap(),
                "-o",
                alerts,
                "--state",
                state.to_str().unwrap(),
            ]);
            let err = text(&o.stderr);
            assert!(o.status.success(), "{release}: {err}");
            err
        };
        let err = resume(dir.path().join("alerts.jsonl").to_str().unwrap());
        assert!(
            err.contains("1,257 events scored so far"),
            "{release}: {err}"
        );
        assert!(!err.contains("restore_failed"), "{release}: {err}");
        assert!(err.contains("events 1261 (4 this run)"), "{release}: {err}");
        // Alerts thrown away: resuming has no alert file to cut back, and
        // writes on.
        resume("/dev/null");
        resume("/dev/null");
    }
}

/// A run resumed with a changed detector configuration uses it: the
/// configuration is the operator's now, not the one the state was saved
/// under.
#[test]
fn a_resumed_run_takes_the_detector_configuration_it_is_given() {
    let (dir, events, ids) = org("100");
    let (history, today, _, _) = split(&events, dir.path());
    let strict = dir.path().join("strict.toml");
    let mut config = String::new();
    for detector in ["volume", "off-hours", "novel-table", "new-source"] {
        config += &format!("[detectors.{detector}]\nmin_score = 90.0\n");
    }
    std::fs::write(&strict, config).unwrap();
    let state = dir.path().join("state");
    let alerts = dir.path().join("alerts.jsonl");
    let findings = |input: &Path, extra: &[&str]| {
        let out = dir.path().join("findings.jsonl");
        let mut args = vec![
            "score",
            input.to_str().unwrap(),
            "-i",
            &ids,
            "-q",
            "-o",
            alerts.to_str().unwrap(),
            "--findings",
            out.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let scores: Vec<f64> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["score"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        scores
    };
    // The findings file carries on across runs: the second run's are
    // those after the first's.
    let before = findings(&history, &[]);
    assert!(before.iter().any(|&s| s < 90.0), "{before:?}");
    let after = findings(&today, &["-c", strict.to_str().unwrap()]);
    assert!(after.len() > before.len(), "the second run found something");
    let weak: Vec<f64> = after[before.len()..]
        .iter()
        .copied()
        .filter(|&s| s < 90.0)
        .collect();
    assert!(
        weak.is_empty(),
        "findings under the new min_score after resuming: {weak:?}"
    );
}

#[test]
fn an_event_waiting_on_its_time_at_a_checkpoint_is_decided_by_the_resumed_run() {
    let (dir, events, ids) = org("100");
    let (history, today, _, _) = split(&events, dir.path());
    // The last line of the history is dated decades ahead: it waits for an
    // event to confirm its time across the end of the first run.
    let last = std::fs::read_to_string(&history)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let year = &last[last.find("\"timestamp\":\"").unwrap() + 13..][..4];
    let ahead = last.replacen(&format!("\"{year}-"), "\"2091-", 1);
    assert_ne!(ahead, last);
    let mut h = std::fs::OpenOptions::new()
        .append(true)
        .open(&history)
        .unwrap();
    writeln!(h, "{ahead}").unwrap();
    drop(h);
    let whole = dir.path().join("whole.jsonl");
    let mut all = std::fs::read(&history).unwrap();
    all.extend(std::fs::read(&today).unwrap());
    std::fs::write(&whole, all).unwrap();
    let want = reference(
        whole.to_str().unwrap(),
        &ids,
        &dir.path().join("reference.jsonl"),
    );

    let state = dir.path().join("state");
    let alerts = dir.path().join("alerts.jsonl");
    let mut summaries = Vec::new();
    for input in [&history, &today] {
        summaries.push(score_with_state(input, &ids, &alerts, &state));
    }
    assert!(
        std::fs::read(&alerts).unwrap() == want,
        "history + today with state differs from one run over both"
    );
    // With state the input may go on, so the line is not refused but
    // kept waiting in the checkpoint, and counted once.
    for summary in &summaries {
        assert!(
            summary.contains("time outliers: 0 refused, 1 waiting"),
            "{summary}"
        );
    }
}

#[test]
fn a_quiet_stream_is_scored_and_checkpointed_while_it_waits_for_more() {
    let (dir, events, ids) = org("40");
    let lines: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .take(100)
        .map(str::to_string)
        .collect();
    let state = dir.path().join("state");
    let mut child = ueba_cmd()
        .args([
            "score",
            "-",
            "-i",
            &ids,
            "-o",
            dir.path().join("alerts.jsonl").to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--checkpoint-secs",
            "1",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in &lines {
        writeln!(stdin, "{l}").unwrap();
    }
    stdin.flush().unwrap();
    // Far fewer lines than a chunk, then nothing: after a second of quiet
    // they are scored, whatever is still to come, and the next checkpoint
    // is taken while the stream stays open. Waited for rather than slept
    // on, so a busy machine (a build on the same cores) cannot make the
    // signal arrive before the run is under way.
    let checkpoint = state.join("checkpoint");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !checkpoint.is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint while the stream was quiet"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let k = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("events 100 "), "{stderr}");
    assert!(stderr.contains("after line 100;"), "{stderr}");
}
