//! The `ueba` binary as users run it.

use crate::util::ueba;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const GOOD: &str = r#"{"timestamp":"2026-01-05T09:00:00Z","user":"a","action":"select","resource":"support.tickets","rows":3}"#;

#[test]
fn a_malformed_line_stops_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let bad = r#"{"timestamp":"2026-01-05T09:01:00Z","user":"a","action":"select","resource":"t","rows":"many"}"#;
    std::fs::write(&path, format!("{GOOD}\n{GOOD}\n{bad}\n{GOOD}\n")).unwrap();
    let out = ueba(&["score", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("events.jsonl: line 3: field `rows`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn skip_invalid_counts_bad_lines_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, format!("{GOOD}\nnot json\n\u{1}\u{2}\n{GOOD}\n")).unwrap();
    let out = ueba(&["score", path.to_str().unwrap(), "--skip-invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("invalid lines 2"), "{err}");
    assert!(err.contains("events 2"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn unknown_config_keys_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ueba.toml");
    std::fs::write(&cfg, "[risk]\nthreshold = 50\nhalf_lfe_hours = 3\n").unwrap();
    let out = ueba(&["score", "-", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("half_lfe_hours"), "{err}");
    std::fs::write(&cfg, "[detectors.volume]\nlearnig_days = 3\n").unwrap();
    let err = text(&ueba(&["score", "-", "--config", cfg.to_str().unwrap()]).stderr);
    assert!(
        err.contains("config key `learnig_days`: unknown key"),
        "{err}"
    );
    // ... and the file it was set in.
    assert!(err.contains(cfg.to_str().unwrap()), "{err}");
    std::fs::write(&cfg, "[detectors.nonesuch]\nweight = 1.0\n").unwrap();
    let err = text(&ueba(&["score", "-", "--config", cfg.to_str().unwrap()]).stderr);
    assert!(err.contains("no detector `nonesuch` is loaded"), "{err}");
}

#[test]
fn printed_default_config_is_a_valid_config() {
    let out = ueba(&["config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    for key in [
        "threshold",
        "half_life_hours",
        "[detectors.volume]",
        "[detectors.off-hours]",
        "[detectors.novel-table]",
        "[detectors.new-source]",
        "user_learning_days",
        "learning_days",
    ] {
        assert!(printed.contains(key), "missing {key}");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ueba.toml");
    std::fs::write(&cfg, &printed).unwrap();
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, format!("{GOOD}\n")).unwrap();
    let out = ueba(&[
        "score",
        events.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn gen_then_score_writes_alerts_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = ueba(&["gen", "--users", "60", "--days", "21", "--out", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let alerts = dir.path().join("alerts.jsonl");
    let out = ueba(&[
        "score",
        &format!("{d}/events.jsonl"),
        "--identities",
        &format!("{d}/identities.csv"),
        "--output",
        alerts.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr);
    assert!(summary.contains("Top users by peak risk"), "{summary}");
    let written = std::fs::read_to_string(&alerts).unwrap();
    assert!(!written.is_empty(), "the injected scenarios alert");
    for line in written.lines() {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["user", "score", "time", "findings"] {
            assert!(a.get(key).is_some(), "alert lacks {key}: {line}");
        }
        let f = &a["findings"][0];
        for key in ["detector", "score", "reason", "evidence"] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {line}");
        }
        assert!(f["evidence"].is_object());
        let scores: Vec<f64> = a["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["score"].as_f64().unwrap())
            .collect();
        assert!(a["score"].as_f64().unwrap() <= 100.0);
        assert!(scores.iter().all(|s| (0.0..=100.0).contains(s)));
    }
    // `--output -` is stdout, as `-` is stdin for the events: a pipeline
    // gets the same alerts, and no file named `-` appears.
    let out = crate::util::ueba_cmd()
        .current_dir(dir.path())
        .args([
            "score",
            "events.jsonl",
            "-i",
            "identities.csv",
            "-q",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), written);
    assert!(!dir.path().join("-").exists());
}

#[test]
fn demo_names_the_insider_first() {
    let out = ueba(&["demo"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let insider = s
        .lines()
        .find(|l| l.trim_start().starts_with("trend-micro"))
        .expect("labels listed");
    assert!(insider.contains("rank 1 "), "{insider}");
    assert!(insider.contains("ALERTED"), "{insider}");
    assert!(s.contains("#1 "), "{s}");
}

/// Several attacks in one organisation spend the alert budget: the summary
/// and `ueba eval` say that the threshold is held at its ceiling, with the
/// episodes opened and allowed, so an operator can tell; a raised ceiling
/// lets it rise.
#[test]
fn an_overspent_alert_budget_is_named_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The default organisation: 200 users over 30 days, five attacks.
    let out = ueba(&["gen", "--out", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let score = |extra: &[&str]| {
        let events = format!("{d}/events.jsonl");
        let ids = format!("{d}/identities.csv");
        let mut args = vec!["score", &events, "-i", &ids, "-o", "/dev/null"];
        args.extend_from_slice(extra);
        let out = ueba(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let summary = score(&[]);
    assert!(
        summary.contains("alert threshold at the end: 60.0"),
        "{summary}"
    );
    let line = summary
        .lines()
        .find(|l| l.starts_with("alert budget overspent: "))
        .unwrap_or_else(|| panic!("no budget line in {summary}"));
    assert!(
        line.contains("held at risk.threshold_ceiling (60.0)"),
        "{line}"
    );
    // `ueba eval` reports the same standing beside the threshold.
    let report = dir.path().join("eval.json");
    let labels = format!("{d}/labels.json");
    let events = format!("{d}/events.jsonl");
    let ids = format!("{d}/identities.csv");
    let eval = |labels: &str, extra: &[&str]| {
        let mut args = vec!["eval", "--events", &events, "-i", &ids, "--labels", labels];
        args.extend_from_slice(extra);
        let out = ueba(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let said = eval(&labels, &["--json", report.to_str().unwrap()]);
    assert!(said.contains("held at its ceiling, 60.0"), "{said}");
    assert!(
        said.contains("counts the malicious scenarios' alerts too"),
        "{said}"
    );
    // The same alerts judged as if nobody were an insider: ordinary users
    // spend the budget, and eval says what to raise.
    let benign = dir.path().join("benign-labels.json");
    let mut labels_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&labels).unwrap()).unwrap();
    for s in labels_json["scenarios"].as_array_mut().unwrap() {
        s["malicious"] = serde_json::Value::Bool(false);
    }
    std::fs::write(&benign, labels_json.to_string()).unwrap();
    let said = eval(benign.to_str().unwrap(), &[]);
    assert!(said.contains("raise risk.threshold_ceiling"), "{said}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let budget = &j["alert_budget"];
    assert!(
        budget["opened"].as_u64() > budget["allowed"].as_u64(),
        "{budget}"
    );
    assert_eq!(budget["ceiling"], j["threshold"], "{budget}");
    // `ueba explain` of a user who never alerted names it too.
    let quiet = j["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["malicious"] == false && s["peak_risk"].as_f64() > Some(0.0))
        .expect("a benign look-alike with findings")["user"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ueba(&["explain", &quiet, &events, "-i", &ids]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let told = text(&out.stdout);
    assert!(told.contains("never alerted"), "{told}");
    assert!(
        told.contains("the alert budget ended overspent") && told.contains("(60.0)"),
        "{told}"
    );
    let cfg = dir.path().join("ceiling.toml");
    std::fs::write(&cfg, "[risk]\nthreshold_ceiling = 75.0\n").unwrap();
    let raised = score(&["-c", cfg.to_str().unwrap()]);
    let end: f64 = raised
        .lines()
        .find_map(|l| l.strip_prefix("alert threshold at the end: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no threshold in {raised}"));
    assert!(end > 60.0, "{raised}");
}

#[test]
fn a_suspicious_user_is_held_from_learning_within_block_minutes_on_a_sparse_log() {
    // A detector that flags every read of 1,000 rows or more at 80 (an
    // alert) and says in its evidence whether the host let it learn the
    // event. Twenty minutes after the first such read, a second one: on a
    // log this sparse both fall in one batch of 1,024 events, so only the
    // time bound on a batch can hold the second out of learning.
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        ueba_test_support::fixture_dir().join("contract-0-3.wasm"),
        plugins.join("contract-0-3.wasm"),
    )
    .unwrap();
    let events = dir.path().join("events.jsonl");
    let line = |t: &str, user: &str, rows: u64| {
        format!(
            r#"{{"timestamp":"2026-01-05T{t}Z","user":"{user}","action":"select","resource":"crm.contacts","rows":{rows}}}"#
        )
    };
    std::fs::write(
        &events,
        [
            line("02:00:00", "night", 5000),
            line("02:05:00", "other", 3),
            line("02:20:00", "night", 5000),
        ]
        .join("\n"),
    )
    .unwrap();
    let learned = |minutes: u32| -> Vec<i64> {
        let cfg = dir.path().join(format!("block-{minutes}.toml"));
        std::fs::write(&cfg, format!("[input]\nblock_minutes = {minutes}\n")).unwrap();
        let findings = dir.path().join(format!("findings-{minutes}.jsonl"));
        let out = ueba(&[
            "score",
            events.to_str().unwrap(),
            "-p",
            plugins.to_str().unwrap(),
            "-c",
            cfg.to_str().unwrap(),
            "--findings",
            findings.to_str().unwrap(),
            "-o",
            "/dev/null",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::read_to_string(&findings)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|f| f["detector"] == "contract-0-3")
            .map(|f| f["evidence"]["learn"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(learned(15), vec![1, 0], "held from the next 15 minutes");
    assert_eq!(learned(0), vec![1, 1], "one batch: nothing decided yet");
    // A bound outside its range is refused by name.
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[input]\nblock_minutes = 2000\n").unwrap();
    let out = ueba(&[
        "score",
        events.to_str().unwrap(),
        "-c",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("input.block_minutes"),
        "{}",
        text(&out.stderr)
    );
}

/// A log given newest first (as a search export is) is scored in arrival
/// order past the lateness window, so every baseline runs backwards: the
/// run says so, while it runs and in its summary; the same log oldest
/// first says nothing of the kind.
#[test]
fn a_log_out_of_time_order_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                r#"{{"timestamp":"2026-01-{:02}T{:02}:{:02}:00Z","user":"u{}","action":"select","resource":"t","rows":3}}"#,
                5 + i / 200,
                8 + (i % 200) / 20,
                (i % 20) * 3,
                i % 7
            )
        })
        .collect();
    let sorted = dir.path().join("sorted.jsonl");
    std::fs::write(&sorted, lines.join("\n") + "\n").unwrap();
    let reversed = dir.path().join("reversed.jsonl");
    let back: Vec<&str> = lines.iter().rev().map(String::as_str).collect();
    std::fs::write(&reversed, back.join("\n") + "\n").unwrap();
    let out = ueba(&["score", reversed.to_str().unwrap(), "-o", "/dev/null"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("warning: most events came late"), "{err}");
    assert!(
        err.contains("most events came late (1998 of 2000 were older than events already scored)"),
        "{err}"
    );
    let out = ueba(&["score", sorted.to_str().unwrap(), "-o", "/dev/null"]);
    assert!(!text(&out.stderr).contains("came late"));
}

/// Users of the events that the identity file does not list are counted in
/// the summary with the first of them: a log naming `CORP\u1` against a
/// file listing `u1` would otherwise lose every peer group and time zone
/// without a word.
#[test]
fn users_missing_from_the_identity_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..4)
        .map(|i| {
            format!(
                r#"{{"timestamp":"2026-01-05T10:0{i}:00Z","user":"CORP\\u{i}","action":"select","resource":"t","rows":3}}"#
            )
        })
        .collect();
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    let ids = dir.path().join("ids.csv");
    std::fs::write(
        &ids,
        "user,peer_group,timezone\nu0,g,UTC\nu1,g,UTC\nCORP\\u3,g,UTC\n",
    )
    .unwrap();
    let run = |ids: &std::path::Path| {
        let out = ueba(&[
            "score",
            events.to_str().unwrap(),
            "-i",
            ids.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let err = run(&ids);
    assert!(
        err.contains(
            r"identities: 3 of 4 users in the events are not in the identity file (first: CORP\u0)"
        ),
        "{err}"
    );
    std::fs::write(&ids, "user,peer_group,timezone\nCORP\\u0,g,UTC\nCORP\\u1,g,UTC\nCORP\\u2,g,UTC\nCORP\\u3,g,UTC\n").unwrap();
    assert!(!run(&ids).contains("identities:"));
}

/// The count of users missing from the identity file is of users with
/// events: a manager the file names who never acts is not one of them,
/// in a run that resumes from saved state as in a fresh one.
#[test]
fn a_manager_who_never_acts_is_not_counted_as_a_user_fresh_or_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let event = |i: u32, user: &str| {
        format!(
            r#"{{"timestamp":"2026-01-05T10:{i:02}:00Z","user":"{user}","action":"select","resource":"t","rows":3}}"#
        )
    };
    let first = dir.path().join("first.jsonl");
    std::fs::write(&first, event(0, "u0") + "\n" + &event(1, "stranger") + "\n").unwrap();
    let second = dir.path().join("second.jsonl");
    std::fs::write(&second, event(2, "u0") + "\n").unwrap();
    // u0's manager is named but not listed, and never acts.
    let ids = dir.path().join("ids.csv");
    std::fs::write(&ids, "user,peer_group,timezone,manager\nu0,g,UTC,boss\n").unwrap();
    let state = dir.path().join("state");
    let run = |events: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "score",
            events.to_str().unwrap(),
            "-i",
            ids.to_str().unwrap(),
            "-o",
            "/dev/null",
            "--state",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = ueba(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let err = run(&first, &[]);
    assert!(
        err.contains(
            "identities: 1 of 2 users in the events are not in the identity file (first: stranger)"
        ),
        "{err}"
    );
    let err = run(&second, &["--new-input"]);
    assert!(err.contains("resuming"), "{err}");
    assert!(!err.contains("identities:"), "{err}");
}
