use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;
use crate::queue::DetectorState;
use ueba_engine::sandbox::plugins::HealthKind;

fn queue_state() -> QueueState {
    QueueState {
        depth: 3,
        capacity: 10,
        worker_up: true,
    }
}

fn http_state() -> HttpState {
    HttpState {
        max_connections: 512,
        body_bytes: 100,
        body_budget: 1000,
    }
}

/// A snapshot with a detector whose name needs escaping, gate counts,
/// exceptions, reloads, verdicts, open incidents and a moved threshold.
fn busy_snapshot(detector: &str) -> Snapshot {
    let mut latency = Histogram::default();
    latency.observe(0.00005);
    latency.observe(0.003);
    latency.observe(9.0);
    Snapshot {
        events: 12,
        detectors: vec![DetectorState {
            name: detector.into(),
            findings: 4,
            read_lower: 3,
            latency,
            quarantined: Some("failed 3 batches".into()),
            ..DetectorState::default()
        }],
        reloads: vec![(HealthKind::Reloaded, 2), (HealthKind::LoadFailed, 1)],
        gate: vec![(
            "hostile".into(),
            ueba_engine::sandbox::gate::GateCounts {
                non_finite_score: 3,
                ..Default::default()
            },
        )],
        exceptions: vec![0, 7],
        threshold: 47.5,
        budget: Some(ueba_engine::risk::budget::Standing {
            days: 28,
            user_days: 14_000,
            opened: 9,
            allowed: 7,
            per_1k: 0.5,
            ceiling: Some(60.0),
            lifted: Some(68.5),
        }),
        verdicts_applied: 2,
        forgiven: 5,
        open_incidents: 3,
        ..Snapshot::default()
    }
}

#[test]
fn histograms_are_cumulative_and_labels_escaped() {
    let snap = busy_snapshot("we\"ird");
    let counters = Counters::default();
    counters.reject(Rejection::QueueFull);
    let text = render(&snap, &counters, queue_state(), http_state());
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    has("ueba_events_total 12");
    has("ueba_findings_total{detector=\"we\\\"ird\"} 4");
    has("ueba_plugin_quarantined{detector=\"we\\\"ird\"} 1");
    has("ueba_requests_rejected_total{reason=\"queue_full\"} 1");
    has("ueba_requests_rejected_total{reason=\"too_large\"} 0");
    has("ueba_queue_depth_events 3");
    has("ueba_body_bytes_in_flight 100");
    has("ueba_http_connections_max 512");
    has("ueba_http_connections_closed_total{reason=\"header_timeout\"} 0");
    has("ueba_requests_rejected_total{reason=\"body_budget\"} 0");
    has("ueba_plugin_reloads_total{event=\"reloaded\"} 2");
    has("ueba_alert_threshold 47.5");
    has("ueba_alert_budget_episodes 9");
    has("ueba_alert_budget_allowed 7");
    has("ueba_alert_budget_ceiling_lifted 68.5");
    has("ueba_plugin_output_rejected_total{detector=\"hostile\",reason=\"non_finite_score\"} 3");
    has("ueba_plugin_output_rejected_total{detector=\"hostile\",reason=\"text_cut\"} 0");
    has("ueba_exception_matches_total{exception=\"1\"} 7");
    has("ueba_plugin_reloads_total{event=\"load_failed\"} 1");
    // OpenMetrics writes a bucket's `le` before the family's labels, and
    // its bounds as floats (`5.0`, where the 0.0.4 text had `5`).
    has("ueba_batch_latency_seconds_bucket{le=\"0.0001\",detector=\"we\\\"ird\"} 1");
    has("ueba_batch_latency_seconds_bucket{le=\"0.005\",detector=\"we\\\"ird\"} 2");
    has("ueba_batch_latency_seconds_bucket{le=\"5.0\",detector=\"we\\\"ird\"} 2");
    has("ueba_batch_latency_seconds_bucket{le=\"+Inf\",detector=\"we\\\"ird\"} 3");
    has("ueba_batch_latency_seconds_count{detector=\"we\\\"ird\"} 3");
    // Every sample line belongs to a declared metric (a counter's family
    // is named without `_total`).
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let name = l.split(['{', ' ']).next().unwrap();
        let base = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            text.contains(&format!("# TYPE {name} "))
                || text.contains(&format!(
                    "# TYPE {} counter",
                    name.trim_end_matches("_total")
                ))
                || text.contains(&format!("# TYPE {base} histogram")),
            "{l}"
        );
    }
}

#[test]
fn exposition_is_openmetrics() {
    let counters = Counters::default();
    counters.request();
    counters.reject(Rejection::Timeout);
    counters.accepted(5, 2);
    counters.connection_opened();
    counters.close(Closed::IdleTimeout);
    counters.accept_error();
    for snap in [
        Snapshot::default(),
        busy_snapshot("volume"),
        // Backslash, newline and quote in a label value round-trip.
        busy_snapshot("a\\b\nc\"d"),
    ] {
        let text = render(&snap, &counters, queue_state(), http_state());
        let page = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // Every family of the old page is there, under the same sample names.
        for (family, kind) in [
            ("ueba_http_requests", "counter"),
            ("ueba_requests_rejected", "counter"),
            ("ueba_http_connections_total", "unknown"),
            ("ueba_http_connections", "gauge"),
            ("ueba_http_connections_max", "gauge"),
            ("ueba_http_connections_closed", "counter"),
            ("ueba_http_accept_errors", "counter"),
            ("ueba_body_bytes_in_flight", "gauge"),
            ("ueba_body_bytes_budget", "gauge"),
            ("ueba_events_accepted", "counter"),
            ("ueba_events", "counter"),
            ("ueba_invalid_lines", "counter"),
            ("ueba_records_skipped", "counter"),
            ("ueba_late_events", "counter"),
            ("ueba_batches", "counter"),
            ("ueba_refused_events", "counter"),
            ("ueba_findings", "counter"),
            ("ueba_findings_read_lower", "counter"),
            ("ueba_stray_findings", "counter"),
            ("ueba_names_over_budget", "counter"),
            ("ueba_alerts", "counter"),
            ("ueba_alert_threshold", "gauge"),
            ("ueba_alert_budget_episodes", "gauge"),
            ("ueba_alert_budget_ceiling_lifted", "gauge"),
            ("ueba_alert_budget_allowed", "gauge"),
            ("ueba_verdicts_applied", "counter"),
            ("ueba_findings_forgiven", "counter"),
            ("ueba_incidents_open", "gauge"),
            ("ueba_plugin_output_rejected", "counter"),
            ("ueba_exception_matches", "counter"),
            ("ueba_plugin_failures", "counter"),
            ("ueba_plugin_recoveries", "counter"),
            ("ueba_plugin_quarantined", "gauge"),
            ("ueba_plugin_reloads", "counter"),
            ("ueba_events_missed_by_failed", "counter"),
            ("ueba_queue_depth_events", "gauge"),
            ("ueba_queue_capacity_events", "gauge"),
            ("ueba_worker_up", "gauge"),
            ("ueba_events_time_outliers", "counter"),
            ("ueba_events_time_waiting", "gauge"),
            ("ueba_batch_latency_seconds", "histogram"),
        ] {
            assert_eq!(
                page.kinds.get(family).map(String::as_str),
                Some(kind),
                "{family}\n{text}"
            );
        }
        assert_eq!(page.kinds.len(), 41, "{text}");
        let value = |series: &str| page.samples.get(series).copied();
        assert_eq!(value("ueba_http_requests_total"), Some(1.0));
        assert_eq!(
            value("ueba_requests_rejected_total{reason=\"timeout\"}"),
            Some(1.0)
        );
        assert_eq!(value("ueba_events_accepted_total"), Some(5.0));
        assert_eq!(value("ueba_records_skipped_total"), Some(2.0));
        assert_eq!(value("ueba_http_connections_total"), Some(1.0));
        assert_eq!(value("ueba_http_connections"), Some(1.0));
        assert_eq!(
            value("ueba_http_connections_closed_total{reason=\"idle_timeout\"}"),
            Some(1.0)
        );
        assert_eq!(value("ueba_http_accept_errors_total"), Some(1.0));
        assert_eq!(value("ueba_worker_up"), Some(1.0));
        assert_eq!(value("ueba_events_total"), Some(snap.events as f64));
        assert_eq!(
            value("ueba_verdicts_applied_total"),
            Some(snap.verdicts_applied as f64)
        );
        assert_eq!(
            value("ueba_findings_forgiven_total"),
            Some(snap.forgiven as f64)
        );
        assert_eq!(
            value("ueba_incidents_open"),
            Some(snap.open_incidents as f64)
        );
        for d in &snap.detectors {
            assert_eq!(
                value(&format!(
                    "ueba_batch_latency_seconds_count{{detector={:?}}}",
                    d.name
                )),
                Some(3.0),
                "{text}"
            );
        }
    }
}

#[test]
fn counters_name_their_family_without_total_and_the_page_ends_in_eof() {
    // The 0.0.4 text this page used to serve declared `# TYPE
    // ueba_events_total counter` and ended with the last sample; as
    // OpenMetrics, that is a family whose samples would be
    // `ueba_events_total_total`, on a page Prometheus takes for cut short.
    let text = render(
        &busy_snapshot("volume"),
        &Counters::default(),
        queue_state(),
        http_state(),
    );
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    assert!(counters.contains(&"ueba_events_accepted"), "{text}");
    for family in counters {
        assert!(!family.ends_with("_total"), "{family}\n{text}");
    }
    assert!(CONTENT_TYPE.starts_with("application/openmetrics-text; version=1.0.0"));
}

#[test]
fn handler_counters_are_read_live() {
    let counters = Counters::default();
    let snap = Snapshot::default();
    let before = render(&snap, &counters, queue_state(), http_state());
    counters.reject(Rejection::BodyBudget);
    counters.reject(Rejection::BodyBudget);
    counters.connection_opened();
    counters.connection_opened();
    counters.connection_closed();
    let after = render(&snap, &counters, queue_state(), http_state());
    let value = |text: &str, series: &str| parse(text).unwrap().samples.get(series).copied();
    let budget = "ueba_requests_rejected_total{reason=\"body_budget\"}";
    assert_eq!(value(&before, budget), Some(0.0));
    assert_eq!(value(&after, budget), Some(2.0));
    assert_eq!(counters.rejected(Rejection::BodyBudget), 2);
    assert_eq!(value(&after, "ueba_http_connections"), Some(1.0));
    assert_eq!(value(&after, "ueba_http_connections_total"), Some(2.0));
    assert_eq!(counters.open_connections(), 1);
}

#[test]
fn every_series_the_dashboard_queries_is_served() {
    let dashboard = include_str!("../../../docs/deploy/grafana-dashboard.json");
    let text = render(
        &busy_snapshot("volume"),
        &Counters::default(),
        queue_state(),
        http_state(),
    );
    // Sample names, without labels.
    let served: HashSet<String> = parse(&text)
        .unwrap()
        .samples
        .into_keys()
        .map(|series| series.split('{').next().unwrap_or_default().to_string())
        .collect();
    let mut queried = 0;
    for (at, _) in dashboard.match_indices("ueba_") {
        let name: String = dashboard[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            served.contains(name.as_str()),
            "{name} is not served:\n{text}"
        );
        queried += 1;
    }
    assert!(queried >= 19, "{queried}");
}

#[test]
fn the_checker_refuses_what_openmetrics_forbids() {
    let ok = "# HELP c Count.\n# TYPE c counter\nc_total{a=\"x\\\"y\"} 1\n\
              # HELP g Level.\n# TYPE g gauge\ng 2.5\n# EOF\n";
    let page = parse(ok).unwrap();
    assert_eq!(page.samples.get("c_total{a=\"x\\\"y\"}"), Some(&1.0));
    for (bad, why) in [
        // What the 0.0.4 page looked like: a counter family named with
        // `_total`, and no `# EOF`.
        (
            "# HELP c_total Count.\n# TYPE c_total counter\nc_total 1\n# EOF\n",
            "not a sample name",
        ),
        ("# HELP g Level.\n# TYPE g gauge\ng 1\n", "`# EOF`"),
        // A counter and a gauge both named `c` as families.
        (
            "# HELP c Count.\n# TYPE c counter\nc_total 1\n# HELP c Level.\n# TYPE c gauge\nc 1\n# EOF\n",
            "declared twice",
        ),
        ("# TYPE g gauge\ng 1\n# EOF\n", "no HELP"),
        (
            "# HELP g Level.\n# TYPE g gauge\ng{a=\"\\q\"} 1\n# EOF\n",
            "bad sample",
        ),
        (
            "# HELP g Level.\n# TYPE g gauge\ng 1\ng 2\n# EOF\n",
            "series twice",
        ),
        (
            "# HELP h Time.\n# TYPE h histogram\nh_count 2\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
            "not cumulative",
        ),
        (
            "# HELP h Time.\n# TYPE h histogram\nh_count 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
            "is not the count",
        ),
    ] {
        let e = parse(bad)
            .err()
            .unwrap_or_else(|| panic!("accepted {bad:?}"));
        assert!(e.contains(why), "{e} (wanted {why}) for {bad:?}");
    }
}

/// A page read by [`parse`]: each family's type, and each series (name
/// and labels in Rust's `{:?}` quoting, in the page's order) with its value.
struct Page {
    kinds: HashMap<String, String>,
    samples: HashMap<String, f64>,
}

/// Read an OpenMetrics text exposition and check it as strictly as
/// Prometheus' and the reference parsers do, and a little more: `# EOF`
/// last and once; every family declared once, with HELP and TYPE, before
/// its samples and never resumed after another family began; each sample
/// named as its family's type allows (`_total` for counters; `_bucket`
/// with `le`, `_sum`, `_count` for histograms); `# UNIT` a suffix of the
/// name; label values correctly escaped; no series twice; histogram
/// buckets cumulative up to `+Inf`, which equals `_count`.
fn parse(text: &str) -> Result<Page, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the page does not end with `# EOF`")?;
    let mut kinds = HashMap::new();
    let mut helps = HashSet::new();
    let mut samples = HashMap::new();
    let mut finished = HashSet::new();
    let mut current: Option<String> = None;
    // Per histogram series (labels without `le`): bucket counts, count.
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for line in body.lines() {
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (what, name, rest) = (
                parts.next().unwrap_or(""),
                parts.next().ok_or(format!("bad line {line:?}"))?,
                parts.next().ok_or(format!("bad line {line:?}"))?,
            );
            if current.as_deref() != Some(name) {
                if let Some(done) = current.take() {
                    finished.insert(done);
                }
                if finished.contains(name) || kinds.contains_key(name) {
                    return Err(format!("family {name} declared twice"));
                }
                current = Some(name.to_string());
            }
            match what {
                "HELP" => {
                    if !helps.insert(name.to_string()) {
                        return Err(format!("family {name} declared twice (two HELP lines)"));
                    }
                }
                "TYPE" => {
                    let known = ["counter", "gauge", "histogram", "unknown"];
                    if !known.contains(&rest) {
                        return Err(format!("type {rest} of {name}"));
                    }
                    if kinds.insert(name.to_string(), rest.to_string()).is_some() {
                        return Err(format!("family {name} declared twice (two TYPE lines)"));
                    }
                }
                "UNIT" => {
                    if !name.ends_with(&format!("_{rest}")) {
                        return Err(format!("unit {rest} is not a suffix of {name}"));
                    }
                }
                _ => return Err(format!("bad line {line:?}")),
            }
            continue;
        }
        let family = current
            .as_deref()
            .ok_or(format!("sample before any family: {line:?}"))?;
        let kind = kinds
            .get(family)
            .ok_or(format!("no TYPE for {family}"))?
            .as_str();
        if !helps.contains(family) {
            return Err(format!("no HELP for {family}"));
        }
        let (name, labels, value) = sample(line)?;
        let suffix = name
            .strip_prefix(family)
            .ok_or(format!("{name} outside family {family}"))?;
        let allowed: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        if !allowed.contains(&suffix) {
            return Err(format!("{name} is not a sample name of {kind} {family}"));
        }
        if kind == "counter" && value < 0.0 {
            return Err(format!("{line:?}: a negative counter"));
        }
        let mut names = HashSet::new();
        for (k, _) in &labels {
            if !names.insert(k.as_str()) {
                return Err(format!("label {k} twice in {line:?}"));
            }
        }
        let series = |labels: &[(String, String)]| {
            if labels.is_empty() {
                name.to_string()
            } else {
                let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{name}{{{}}}", inner.join(","))
            }
        };
        if samples.insert(series(&labels), value).is_some() {
            return Err(format!("series twice: {line:?}"));
        }
        if kind == "histogram" {
            let (le, rest): (Vec<_>, Vec<_>) = labels.into_iter().partition(|(k, _)| k == "le");
            let key = format!("{family}{rest:?}");
            match suffix {
                "_bucket" => {
                    let le = le.first().ok_or(format!("bucket without le: {line:?}"))?;
                    let bound = match le.1.as_str() {
                        "+Inf" => f64::INFINITY,
                        b => b.parse().map_err(|_| format!("le {b:?}"))?,
                    };
                    buckets.entry(key).or_default().push((bound, value));
                }
                "_count" => {
                    counts.insert(key, value);
                }
                _ => {}
            }
        }
    }
    for (key, b) in &buckets {
        if !b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
            return Err(format!("{key}: buckets not cumulative: {b:?}"));
        }
        let last = b.last().copied().unwrap_or_default();
        if last.0 != f64::INFINITY || Some(&last.1) != counts.get(key) {
            return Err(format!("{key}: +Inf bucket is not the count"));
        }
    }
    Ok(Page { kinds, samples })
}

/// A sample's labels, names and unescaped values, in the page's order.
type Labels = Vec<(String, String)>;

/// One sample line: name, labels, value. No timestamps or exemplars here.
fn sample(line: &str) -> Result<(&str, Labels, f64), String> {
    let bad = || format!("bad sample {line:?}");
    let name_end = line.find(['{', ' ']).ok_or_else(bad)?;
    let name = &line[..name_end];
    let name_ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !name_ok {
        return Err(bad());
    }
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            let eq = inner.find("=\"").ok_or_else(bad)?;
            let key = &inner[..eq];
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad());
            }
            let mut value = String::new();
            let mut chars = inner[eq + 2..].char_indices();
            let end = loop {
                match chars.next().ok_or_else(bad)? {
                    (i, '"') => break eq + 2 + i + 1,
                    (_, '\\') => match chars.next().ok_or_else(bad)?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        _ => return Err(bad()),
                    },
                    (_, '\n') => return Err(bad()),
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_string(), value));
            inner = &inner[end..];
            if let Some(after) = inner.strip_prefix(',') {
                inner = after;
            } else {
                rest = inner.strip_prefix('}').ok_or_else(bad)?;
                break;
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or_else(bad)?;
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v if v.contains(' ') => return Err(bad()),
        v => v.parse().map_err(|_| bad())?,
    };
    Ok((name, labels, value))
}
