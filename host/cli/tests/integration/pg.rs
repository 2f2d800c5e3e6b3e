//! ueba on a real PostgreSQL 15 with pgAudit.
//!
//! `scripts/pg-e2e` starts a throwaway cluster, replays a help desk's day
//! over real connections (agents at work, one agent dumping the customer
//! table at 02:00 their time), scores the server's own log after the
//! generated history with `ueba score --format pgaudit --state`, and then
//! runs these tests with `UEBA_PG_E2E` naming the run's manifest. Without it
//! they say they are skipped (straight to stderr, so a plain `cargo test`
//! shows it) and check nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use ueba_engine::config::Config;
use ueba_engine::event::AccessEvent;
use ueba_formats::sources::LineParser;
use ueba_formats::sources::pgaudit::PgAuditParser;

/// Set by `scripts/pg-e2e`: the path of the run's manifest.
const VAR: &str = "UEBA_PG_E2E";

/// What `scripts/pg-e2e` ran and where it left the results.
struct Run {
    insider: String,
    agents: BTreeSet<String>,
    /// Events of the generated history scored before the server's log.
    history_events: u64,
    t0: i64,
    t_end: i64,
    log: PathBuf,
    csvlog: PathBuf,
    config: Config,
    alerts: PathBuf,
    summary: String,
}

fn run(test: &str) -> Option<Run> {
    let Some(path) = std::env::var_os(VAR) else {
        let _ = writeln!(
            std::io::stderr(),
            "pg::{test} SKIPPED: {VAR} is not set; scripts/pg-e2e runs PostgreSQL 15 with \
             pgAudit and then this test with it"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{VAR}={}: {e}", Path::new(&path).display()));
    let m: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("manifest lacks `{k}`"));
    let time = |k: &str| {
        get(k)
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("manifest `{k}`: {e}"))
            .as_millisecond()
    };
    let config = Config::load(Path::new(get("config"))).expect("the run's ueba.toml");
    Some(Run {
        insider: get("insider").to_string(),
        agents: get("agents").split(',').map(str::to_string).collect(),
        history_events: get("history_events").parse().expect("history_events"),
        t0: time("t0"),
        t_end: time("t_end"),
        log: get("log").into(),
        csvlog: get("csvlog").into(),
        config,
        alerts: get("alerts").into(),
        summary: std::fs::read_to_string(get("summary")).expect("summary"),
    })
}

/// Every event and error the parser gives for a whole file, and its skip count.
fn parse(mut p: PgAuditParser, path: &Path) -> (Vec<AccessEvent>, Vec<String>, u64) {
    let text = std::fs::read_to_string(path).expect("server log");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        p.feed(line, i as u64 + 1, &mut out).expect("feed");
    }
    p.finish(&mut out).expect("finish");
    let (mut events, mut errors) = (Vec::new(), Vec::new());
    for r in out {
        match r {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (events, errors, p.skipped())
}

fn key(e: &AccessEvent) -> (i64, String, String, String, u64, Option<String>) {
    (
        e.time_ms,
        e.user.to_string(),
        e.action.to_string(),
        e.resource.to_string(),
        e.rows,
        e.source.as_deref().map(str::to_string),
    )
}

#[test]
fn live_postgres_log_parses_line_by_line() {
    let Some(r) = run("live_postgres_log_parses_line_by_line") else {
        return;
    };
    let parser = PgAuditParser::stderr(&r.config.formats).expect("prefix compiles");
    let (events, errors, skipped) = parse(parser, &r.log);
    assert!(errors.is_empty(), "stderr log errors: {errors:#?}");
    let log = std::fs::read_to_string(&r.log).expect("log");

    // Every audit record naming a relation is one event; `COPY table TO`
    // names none but is one event on its table; `SELECT pg_sleep(...)`,
    // connections and the server's own lines are skipped.
    // Per record: the user between `] ` and `@`, then the payload fields.
    let records: Vec<(&str, Vec<&str>)> = log
        .lines()
        .filter_map(|l| l.split_once(" LOG:  AUDIT: SESSION,"))
        .map(|(head, p)| {
            let user = head
                .split_once("] ")
                .and_then(|(_, u)| u.split_once('@'))
                .map_or("", |(u, _)| u);
            (user, p.splitn(7, ',').collect())
        })
        .collect();
    assert!(records.len() > 100, "only {} audit records", records.len());
    let expected = |user: Option<&str>| {
        records
            .iter()
            .filter(|(u, f)| user.is_none_or(|w| w == *u) && f.len() == 7)
            .filter(|(_, f)| !f[5].is_empty() || f[3] == "COPY")
            .count()
    };
    let copies = records
        .iter()
        .filter(|(_, f)| f.len() == 7 && f[5].is_empty() && f[3] == "COPY")
        .count();
    assert_eq!(copies, 1, "the insider's \\copy is one COPY record");
    assert_eq!(events.len(), expected(None));
    assert!(skipped > 0, "connections and pg_sleep are skipped");

    let participants: BTreeSet<&str> = r
        .agents
        .iter()
        .map(String::as_str)
        .chain([r.insider.as_str()])
        .collect();
    let users: BTreeSet<&str> = events.iter().map(|e| e.user.as_str()).collect();
    assert_eq!(
        users, participants,
        "every participant and nobody else is in the log"
    );
    for e in &events {
        assert!(
            (r.t0..=r.t_end).contains(&e.time_ms),
            "event time {} outside the run: {e:?}",
            e.time_ms
        );
        assert_eq!(e.source.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert!(
            e.resource.starts_with("support.") || e.resource.starts_with("crm."),
            "{e:?}"
        );
    }

    let insider: Vec<&AccessEvent> = events.iter().filter(|e| e.user == r.insider).collect();
    assert!(
        insider
            .iter()
            .any(|e| e.resource == "support.customers" && e.action == "select" && e.rows == 68_000),
        "the insider's full read of support.customers with pgAudit's row count: {insider:#?}"
    );
    assert!(
        insider
            .iter()
            .any(|e| e.resource == "crm.contacts" && e.action == "copy"),
        "the insider's \\copy of crm.contacts: {insider:#?}"
    );
    for a in &r.agents {
        let mine: Vec<&AccessEvent> = events.iter().filter(|e| e.user == a).collect();
        assert!(mine.iter().all(|e| e.rows <= 10), "{a}: {mine:#?}");
        assert!(
            mine.iter()
                .any(|e| e.action == "update" && e.resource == "support.tickets"),
            "{a}'s ticket update"
        );
        // Each record is the right user's (the multi-line join is two).
        assert_eq!(mine.len(), expected(Some(a)), "{a}'s events");
    }
    let insider_records = expected(Some(&r.insider));
    assert_eq!(
        events.iter().filter(|e| e.user == r.insider).count(),
        insider_records
    );

    // The csvlog the server wrote alongside holds the same events.
    let (csv_events, csv_errors, _) = parse(PgAuditParser::csvlog(&r.config.formats), &r.csvlog);
    assert!(csv_errors.is_empty(), "csvlog errors: {csv_errors:#?}");
    let mut a: Vec<_> = events.iter().map(key).collect();
    let mut b: Vec<_> = csv_events.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "stderr and csvlog disagree");
}

#[test]
fn live_postgres_insider_is_the_top_alert_and_agents_are_quiet() {
    let Some(r) = run("live_postgres_insider_is_the_top_alert_and_agents_are_quiet") else {
        return;
    };
    let stats = r
        .summary
        .lines()
        .find(|l| l.starts_with("events "))
        .unwrap_or_else(|| panic!("no counts in the summary:\n{}", r.summary));
    let count = |label: &str| -> u64 {
        let at = stats
            .find(&format!("{label} "))
            .unwrap_or_else(|| panic!("summary lacks `{label}`:\n{}", r.summary));
        stats[at + label.len() + 1..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("summary `{label}`:\n{}", r.summary))
    };
    // The summary counts the history and the server's log together.
    let parser = PgAuditParser::stderr(&r.config.formats).expect("prefix compiles");
    let (events, _, _) = parse(parser, &r.log);
    assert!(
        events.len() > 100,
        "only {} events in the log",
        events.len()
    );
    assert_eq!(
        count("events"),
        r.history_events + events.len() as u64,
        "{}",
        r.summary
    );
    assert_eq!(count("invalid lines"), 0, "{}", r.summary);
    assert_eq!(count("late"), 0, "{}", r.summary);

    let alerts: Vec<Value> = std::fs::read_to_string(&r.alerts)
        .expect("alerts")
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert JSON"))
        .collect();
    let user = |a: &Value| a["user"].as_str().unwrap_or_default().to_string();
    let top = alerts
        .iter()
        .max_by(|x, y| {
            let s = |a: &Value| a["score"].as_f64().unwrap_or(0.0);
            s(x).total_cmp(&s(y))
        })
        .unwrap_or_else(|| panic!("no alert at all; summary:\n{}", r.summary));
    assert_eq!(
        user(top),
        r.insider,
        "the insider is the top alert: {alerts:#?}"
    );
    let alerted_agents: Vec<String> = alerts
        .iter()
        .map(user)
        .filter(|u| r.agents.contains(u))
        .collect();
    assert!(
        alerted_agents.is_empty(),
        "agents alerted: {alerted_agents:?}: {alerts:#?}"
    );

    let findings: Vec<&Value> = alerts
        .iter()
        .filter(|a| user(a) == r.insider)
        .flat_map(|a| a["findings"].as_array().into_iter().flatten())
        .collect();
    let detectors: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| f["detector"].as_str())
        .collect();
    for d in ["novel-table", "off-hours", "volume"] {
        assert!(
            detectors.contains(d),
            "the insider's alerts carry volume, off-hours and novel-table; {d} is missing: \
             {findings:#?}"
        );
    }
    let has = |detector: &str, resource: &str| {
        findings
            .iter()
            .any(|f| f["detector"] == detector && f["resource"] == resource)
    };
    assert!(has("volume", "support.customers"), "{findings:#?}");
    assert!(has("novel-table", "crm.contacts"), "{findings:#?}");
}
