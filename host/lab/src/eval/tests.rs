use super::*;

#[test]
fn durations_read_well() {
    assert_eq!(human_duration(0.4), "0s");
    assert_eq!(human_duration(45.0), "45s");
    assert_eq!(human_duration(750.0), "12m 30s");
    assert_eq!(human_duration(3.0 * 3600.0 + 300.0), "3h 05m");
    assert_eq!(human_duration(2.0 * 86_400.0 + 7200.0), "2d 02h");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn malformed_labels_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "labels.json",
        "{\"scenarios\":[{\"name\":\"x\"}]}",
    );
    let e = load_labels(&p).unwrap_err().to_string();
    assert!(
        e.contains("labels.json") && e.contains("missing field `user`"),
        "{e}"
    );
    let p = write(
        dir.path(),
        "labels.json",
        r#"{"scenarios":[{"name":"x","user":"u","malicious":true,"start":"yesterday","description":""}]}"#,
    );
    let e = load_labels(&p).unwrap_err().to_string();
    assert!(
        e.contains("labels.json: scenarios[0] (x): field `start`"),
        "{e}"
    );
    let p = write(dir.path(), "labels.json", "[1,2");
    let e = load_labels(&p).unwrap_err().to_string();
    assert!(e.contains("line 1"), "{e}");
    let p = dir.path().join("latin1.json");
    std::fs::write(&p, b"{\"scenarios\":\n[{\"name\":\"caf\xe9\"}]}").unwrap();
    let e = load_labels(&p).unwrap_err().to_string();
    assert!(e.contains("line 2, byte 14: not valid UTF-8"), "{e}");
}

#[test]
fn labels_saved_with_a_byte_order_mark_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "labels.json",
        "\u{feff}{\"scenarios\":[{\"name\":\"svc\",\"user\":\"s\",\"malicious\":false}]}",
    );
    assert_eq!(load_labels(&p).unwrap().scenarios[0].user, "s");
}

#[test]
fn benign_scenarios_may_have_no_start_malicious_ones_must() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "labels.json",
        r#"{"scenarios":[{"name":"svc","user":"s","malicious":false,"description":"24/7"}]}"#,
    );
    let labels = load_labels(&p).unwrap();
    assert_eq!(labels.scenarios[0].start, None);
    let p = write(
        dir.path(),
        "labels.json",
        r#"{"scenarios":[{"name":"x","user":"u","malicious":true}]}"#,
    );
    let e = load_labels(&p).unwrap_err().to_string();
    assert!(
        e.contains("scenarios[0] (x): field `start`: missing; a malicious scenario needs"),
        "{e}"
    );
}

#[test]
fn alerts_mode_scores_user_days_from_alert_scores() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |t: &str, u: &str, res: &str, rows: u64| {
        format!(
            r#"{{"timestamp":"{t}","user":"{u}","action":"select","resource":"{res}","rows":{rows}}}"#
        )
    };
    let events = [
        ev("2026-01-05T10:00:00Z", "a", "support.tickets", 3),
        ev("2026-01-06T10:00:00Z", "a", "support.tickets", 3),
        ev("2026-01-06T02:00:00Z", "b", "support.customers", 50_000),
        ev("2026-01-07T12:00:00Z", "b", "support.tickets", 1),
        ev("2026-01-07T12:00:00Z", "c", "support.tickets", 1),
    ]
    .join("\n");
    let events = write(dir.path(), "events.jsonl", &events);
    let labels = write(
        dir.path(),
        "labels.json",
        r#"{"scenarios":[
          {"name":"bulk","user":"b","malicious":true,"start":"2026-01-06T02:00:00.000Z","description":""},
          {"name":"look-alike","user":"a","malicious":false,"start":"2026-01-05T10:00:00.000Z","description":""},
          {"name":"throughout","user":"a","malicious":false,"description":""}]}"#,
    );
    let alerts = write(
        dir.path(),
        "alerts.jsonl",
        concat!(
            r#"{"time":"2026-01-06T02:00:00.000Z","user":"b","score":90.0,"threshold":60.0,"findings":[{"detector":"volume","score":90.0,"time":"2026-01-06T02:00:00.000Z","event":2}]}"#,
            "\n\n",
            r#"{"time":"2026-01-06T10:00:00.000Z","user":"a","score":61.0,"threshold":60.0,"findings":[{"detector":"volume","score":61.0,"time":"2026-01-06T10:00:00.000Z","event":1}]}"#,
            "\n"
        ),
    );
    let formats = FormatsConfig::default();
    let inputs = Inputs {
        events: &events,
        format: InputFormat::Jsonl,
        formats: &formats,
        identities: None,
        labels: &labels,
    };
    let e = evaluate(&inputs, Source::Alerts(&alerts), &RuleSet::default()).unwrap();
    assert_eq!(
        (e.events, e.users, e.user_days, e.positive_user_days),
        (5, 3, 5, 1)
    );
    let bulk = &e.scenarios[0];
    assert!(bulk.detected);
    assert_eq!(bulk.time_to_detect_secs, Some(0.0));
    assert_eq!(bulk.rank, Some(1));
    let look = &e.scenarios[1];
    assert!(look.detected, "a benign look-alike that was alerted");
    assert_eq!(look.rank, Some(2));
    let throughout = &e.scenarios[2];
    assert_eq!(throughout.start, None);
    assert!(
        throughout.detected && throughout.alerts == 1,
        "any alert counts"
    );
    assert_eq!(throughout.time_to_detect_secs, None);
    // User-days: b/06 scores 90 (positive), a/06 61, the rest 0.
    assert_eq!(e.roc_auc, Some(1.0));
    assert_eq!(e.pr_auc, Some(1.0));
    assert_eq!((e.benign_alerts, e.benign_user_days), (1, 3));
    let at = &e.ueba_at_threshold;
    assert_eq!((at.flagged, at.true_positives), (2, 1));
    // bulk-rows flags exactly b's attack day; off-hours flags b at 02:00
    // UTC (no time zone); sensitive-table the same day.
    let bulk_rule = &e.rules[0].rule_result;
    assert_eq!((bulk_rule.flagged, bulk_rule.true_positives), (1, 1));
    assert_eq!(e.rules[0].ueba_at_same_recall.flagged, 1);
    assert_eq!(e.detail.detectors, ["volume"]);
    assert_eq!(e.detail.findings.len(), 2);
    // b's day after the attack started is neither positive nor negative.
    assert_eq!(e.ongoing_user_days, 1);

    // Risk kept high on that day (95, above the attack day's 90) does not
    // count against the ranking: it is the attack under way.
    let kept_high = write(
        dir.path(),
        "kept-high.jsonl",
        concat!(
            r#"{"time":"2026-01-06T02:00:00.000Z","user":"b","score":90.0,"threshold":60.0,"findings":[{"detector":"volume","score":90.0,"time":"2026-01-06T02:00:00.000Z","event":2}]}"#,
            "\n",
            r#"{"time":"2026-01-07T12:00:00.000Z","user":"b","score":95.0,"threshold":60.0,"findings":[{"detector":"volume","score":95.0,"time":"2026-01-07T12:00:00.000Z","event":3}]}"#,
            "\n"
        ),
    );
    let high = evaluate(&inputs, Source::Alerts(&kept_high), &RuleSet::default()).unwrap();
    assert_eq!((high.roc_auc, high.pr_auc), (Some(1.0), Some(1.0)));

    let broken = write(
        dir.path(),
        "bad.jsonl",
        "{\"time\":\"2026-01-06T02:00:00Z\",\"user\":\"b\"}\n",
    );
    let err = evaluate(&inputs, Source::Alerts(&broken), &RuleSet::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.jsonl: line 1: field `score`: missing"),
        "{err}"
    );
    let bad_events = write(dir.path(), "bad-events.jsonl", "{\"timestamp\":1}\n");
    let err = evaluate(
        &Inputs {
            events: &bad_events,
            ..inputs
        },
        Source::Alerts(&alerts),
        &RuleSet::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bad-events.jsonl: line 1: field `user`"),
        "{err}"
    );
}

#[test]
fn scenarios_of_one_kind_are_counted_together() {
    let s = |name: &str, malicious, detected, peak| ScenarioResult {
        name: name.into(),
        user: "u".into(),
        malicious,
        start: None,
        description: None,
        detected,
        first_alert: None,
        time_to_detect_secs: None,
        alerts: 0,
        peak_risk: peak,
        rank: None,
    };
    let got = families(&[
        s("usb-surge", true, true, 70.0),
        s("after-hours", true, false, 50.0),
        s("usb-surge", true, false, 40.0),
        s("usb-surge", true, true, 65.0),
        s("usb-surge", false, false, 10.0),
        s("after-hours", true, true, 62.0),
    ]);
    let view: Vec<_> = got
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.malicious,
                f.detected,
                f.scenarios,
                f.median_peak_risk,
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            ("usb-surge", true, 2, 3, 65.0),
            ("after-hours", true, 1, 2, 56.0),
            ("usb-surge", false, 0, 1, 10.0),
        ]
    );
}
