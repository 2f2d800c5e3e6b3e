//! `ueba score --findings` and `ueba explain`: every finding, alerted or
//! not, and one user's timeline, so anyone can see why a user did or did
//! not alert.

use crate::util::ueba;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A small generated organisation, scored with `--findings` (and `--state`
/// when given); returns (dir, alerts, findings).
fn scored(
    state: bool,
) -> (
    tempfile::TempDir,
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = ueba(&["gen", "--users", "60", "--days", "21", "--out", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = format!("{d}/events.jsonl");
    let ids = format!("{d}/identities.csv");
    let alerts = format!("{d}/alerts.jsonl");
    let findings = format!("{d}/findings.jsonl");
    let state_dir = format!("{d}/state");
    let mut args = vec![
        "score",
        &events,
        "-i",
        &ids,
        "-o",
        &alerts,
        "--findings",
        &findings,
        "-q",
    ];
    if state {
        args.extend(["--state", &state_dir]);
    }
    let out = ueba(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |p: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    (dir, read(&alerts), read(&findings))
}

#[test]
fn findings_hold_every_finding_with_the_risk_it_left_and_the_alerts_it_raised() {
    let (_dir, alerts, findings) = scored(false);
    assert!(!alerts.is_empty());
    assert!(
        findings.len() > alerts.len(),
        "findings below the threshold are there too"
    );
    for f in &findings {
        for key in [
            "user",
            "risk",
            "threshold",
            "detector",
            "score",
            "time",
            "reason",
            "evidence",
        ] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
    }
    let raised: Vec<_> = findings
        .iter()
        .filter(|f| f.get("alert").is_some())
        .collect();
    assert_eq!(
        raised.len(),
        alerts.len(),
        "one finding per alert says it raised it"
    );
    for (f, a) in raised.iter().zip(&alerts) {
        assert_eq!(f["user"], a["user"]);
        assert_eq!(f["time"], a["time"]);
        assert_eq!(f["alert"], a["kind"]);
        assert!(f["risk"].as_f64().unwrap() >= f["threshold"].as_f64().unwrap());
    }
    assert!(
        findings.iter().any(|f| f.get("alert").is_none()
            && f["risk"].as_f64().unwrap() < f["threshold"].as_f64().unwrap()),
        "quiet findings are recorded"
    );
    // A finding is marked as restating exactly when its detector already
    // reported its resource about the user in that hour of the clock.
    let mut seen = std::collections::BTreeSet::new();
    let mut restated = 0;
    for f in &findings {
        if f.get("exception").is_some() {
            continue;
        }
        let hour = &f["time"].as_str().unwrap()[..13];
        let key = (
            f["user"].to_string(),
            f["detector"].to_string(),
            f["resource"].to_string(),
            hour.to_string(),
        );
        let again = !seen.insert(key);
        assert_eq!(f.get("restates").is_some(), again, "{f}");
        restated += usize::from(again);
    }
    assert!(restated > 0, "some findings restate the hour's");
}

#[test]
fn explain_shows_a_user_s_timeline_from_events_and_from_state() {
    let (dir, alerts, findings) = scored(true);
    let d = dir.path().to_str().unwrap();
    let user = alerts[0]["user"].as_str().unwrap().to_string();
    let theirs = findings
        .iter()
        .filter(|f| f["user"] == user.as_str())
        .count();
    let out = ueba(&[
        "explain",
        &user,
        &format!("{d}/events.jsonl"),
        "-i",
        &format!("{d}/identities.csv"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with(&format!("{user}: peak risk")), "{shown}");
    assert!(shown.contains(&format!("{theirs} findings")), "{shown}");
    assert!(shown.contains("ALERT (new)"), "{shown}");
    let out = ueba(&["explain", &user, "--state", &format!("{d}/state")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("findings held for explaining alerts"),
        "{shown}"
    );
    let nobody = ueba(&["explain", "no-such-user", "--state", &format!("{d}/state")]);
    assert!(!nobody.status.success());
    assert!(text(&nobody.stderr).contains("no risk for no-such-user"));
    // A name not in the log is said to be absent, not explained as quiet.
    let absent = ueba(&["explain", "no-such-user", &format!("{d}/events.jsonl")]);
    assert!(!absent.status.success());
    assert!(
        text(&absent.stderr).contains("no-such-user is not in"),
        "{}",
        text(&absent.stderr)
    );
    // A user of the log no detector found anything about: their events
    // and days are counted, and why nothing was reported is said.
    let events = std::fs::read_to_string(format!("{d}/events.jsonl")).unwrap();
    let mut per_user: std::collections::BTreeMap<String, usize> = Default::default();
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        *per_user
            .entry(e["user"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let (quiet_user, n) = per_user
        .iter()
        .find(|(u, _)| !findings.iter().any(|f| f["user"] == u.as_str()))
        .expect("a user with no findings");
    let quiet = ueba(&[
        "explain",
        quiet_user,
        &format!("{d}/events.jsonl"),
        "-i",
        &format!("{d}/identities.csv"),
    ]);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    let shown = text(&quiet.stdout);
    assert!(
        shown.starts_with(&format!(
            "{quiet_user}: no detector found anything unusual in their {n} events on "
        )),
        "{shown}"
    );
    assert!(shown.contains("min_score"), "{shown}");
}

/// Score `d`'s organisation with `config` (TOML text); the alert lines.
fn alerts_with(d: &str, config: &str) -> Vec<String> {
    let cfg = format!("{d}/ueba.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = ueba(&[
        "score",
        &format!("{d}/events.jsonl"),
        "-i",
        &format!("{d}/identities.csv"),
        "-c",
        &cfg,
        "-q",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn an_exception_silences_one_user_and_leaves_every_other_alert_as_it_was() {
    let (dir, alerts, _) = scored(false);
    let d = dir.path().to_str().unwrap();
    let user = alerts[0]["user"].as_str().unwrap().to_string();
    // An excepted user opens no alert episode, so their events are learned
    // (not held) and teach their peers' pools: with holds off, learning is
    // the same either way and only the exception's own effect shows.
    let no_hold = "[risk]\nhold_days = 0.0\n";
    let before = alerts_with(d, no_hold);
    let after = alerts_with(
        d,
        &format!("{no_hold}[[exceptions]]\nuser = \"{user}\"\nnote = \"reviewed: benign\"\n"),
    );
    let others = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !l.contains(&format!("\"user\":\"{user}\"")))
            .cloned()
            .collect()
    };
    assert!(
        before
            .iter()
            .any(|l| l.contains(&format!("\"user\":\"{user}\"")))
    );
    assert!(
        !after
            .iter()
            .any(|l| l.contains(&format!("\"user\":\"{user}\""))),
        "the excepted user no longer alerts"
    );
    assert_eq!(
        others(&after),
        others(&before),
        "every other alert byte-identical"
    );
    let bad = alerts_with_err(d, "[[exceptions]]\nnote = \"everything\"\n");
    assert!(bad.contains("exceptions[0].user"), "{bad}");
}

/// The error `ueba score` stops with under `config`.
fn alerts_with_err(d: &str, config: &str) -> String {
    let cfg = format!("{d}/bad.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = ueba(&["score", &format!("{d}/events.jsonl"), "-c", &cfg, "-q"]);
    assert!(!out.status.success());
    text(&out.stderr)
}
