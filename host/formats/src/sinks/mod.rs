//! Alert sinks for SIEMs: ECS, OCSF, Splunk HEC and CEF.
//!
//! Each is an [`AlertSink`], so the scorer is the same whatever the output.
//! Every format keeps the alert's evidence (the findings with their
//! detector, score, reason and numbers), in the place that format has for
//! it, so an analyst can see *why* without going back to ueba.
//!
//! Risk levels, shared by every format, follow Elastic's entity-risk bands:
//! below 20 unknown/informational, 20 low, 40 moderate/medium, 70 high,
//! 90 critical.

pub mod cef;
pub mod hec;

use serde_json::{Value, json};

use ueba_engine::pipeline::AlertSink;
use ueba_engine::risk::aggregate::Alert;

/// ueba's version, written as the product version in every format.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// ECS version the documents follow.
pub const ECS_VERSION: &str = "8.17.0";
/// OCSF version the findings follow (1.5 has `anomaly_analyses`).
pub const OCSF_VERSION: &str = "1.5.0";

/// The alert formats `ueba score --output-format` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// ueba's native JSON-line alerts.
    Jsonl,
    /// ECS documents with `event.kind: alert` and the user's risk fields.
    Ecs,
    /// OCSF Detection Finding (class 2004) JSON lines.
    Ocsf,
    /// Splunk HTTP Event Collector envelopes (file, stdout or `--hec-url`).
    Hec,
    /// ArcSight CEF lines (file, stdout or `--syslog`).
    Cef,
}

impl OutputFormat {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Jsonl,
        OutputFormat::Ecs,
        OutputFormat::Ocsf,
        OutputFormat::Hec,
        OutputFormat::Cef,
    ];

    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Ecs => "ecs",
            OutputFormat::Ocsf => "ocsf",
            OutputFormat::Hec => "hec",
            OutputFormat::Cef => "cef",
        }
    }

    /// One line saying what the format is, for `--help`.
    pub fn help(self) -> &'static str {
        match self {
            OutputFormat::Jsonl => "ueba's native JSON-line alerts",
            OutputFormat::Ecs => {
                "ECS documents with `event.kind: alert` and the user's risk fields"
            }
            OutputFormat::Ocsf => "OCSF Detection Finding (class 2004) JSON lines",
            OutputFormat::Hec => {
                "Splunk HTTP Event Collector envelopes (file, stdout or `--hec-url`)"
            }
            OutputFormat::Cef => "ArcSight CEF lines (file, stdout or `--syslog`)",
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    /// A format by its [`name`](OutputFormat::name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown output format `{}`", ueba_engine::event::clip(s)))
    }
}

/// Writes alerts as JSON lines, with [`ueba_engine::json`]: user, table and
/// source names come from the log, so hidden characters in them are
/// escaped for whoever reads the file.
pub struct JsonLines<W: std::io::Write>(pub W);

impl<W: std::io::Write> AlertSink for JsonLines<W> {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        ueba_engine::json::to_writer(&mut self.0, alert)?;
        self.0.write_all(b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Why alerts could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The HEC endpoint answered with a non-2xx status.
    #[error("HEC {url} answered {status}: {body}")]
    HttpStatus {
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the response body (Splunk explains errors there).
        body: String,
    },
    /// The HEC request failed before a response (connection, TLS, timeout).
    #[error("HEC {url}: {message}")]
    Http {
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A `--hec-url` or `--syslog` address that cannot be used.
    #[error("{0}")]
    Address(String),
    /// Sending to the syslog receiver failed.
    #[error("syslog {addr}: {source}")]
    Syslog {
        /// The receiver.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<SinkError> for std::io::Error {
    fn from(e: SinkError) -> Self {
        std::io::Error::other(e)
    }
}

/// A boxed sink, so the command line can choose one at run time while
/// [`ueba_engine::pipeline::Scorer`] stays generic.
pub struct DynSink(pub Box<dyn AlertSink + Send>);

impl AlertSink for DynSink {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.0.emit(alert)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A 0-100 risk as a level: (OCSF `risk_level_id`, OCSF name, ECS name).
pub fn risk_level(score: f64) -> (u8, &'static str, &'static str) {
    match score {
        s if s >= 90.0 => (4, "Critical", "Critical"),
        s if s >= 70.0 => (3, "High", "High"),
        s if s >= 40.0 => (2, "Medium", "Moderate"),
        s if s >= 20.0 => (1, "Low", "Low"),
        _ => (0, "Info", "Unknown"),
    }
}

/// Alert time as epoch milliseconds (0 if the alert's own time is unreadable,
/// which the scorer never produces).
pub fn alert_ms(alert: &Alert) -> i64 {
    ueba_engine::event::parse_timestamp_text(&alert.time).unwrap_or(0)
}

/// The strongest finding's detector and reason, which name the alert.
pub fn headline(alert: &Alert) -> (&str, &str) {
    alert
        .findings
        .first()
        .map(|f| (f.detector.as_str(), f.reason.as_str()))
        .unwrap_or(("risk", "user risk crossed the alert threshold"))
}

/// The alert's stable id (a hash of user, time, kind and score, made by
/// the engine), so re-sending the same alert gives the same id and SIEMs
/// can deduplicate.
pub fn alert_uid(alert: &Alert) -> String {
    alert.id.clone()
}

/// This machine's name for `host` fields.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

/// The alert as an ECS document.
///
/// The risk goes in `user.risk.calculated_*`: ECS has two families there,
/// `static_*` for a risk an administrator assigns to an entity and
/// `calculated_*` for one an engine computes from behaviour, which is what
/// ueba's score is. `calculated_score_norm` is the 0-100 score itself (ours
/// is already on that scale), `calculated_level` its band. `event.risk_score`
/// carries it too, for rules that sort alerts by it. The findings stay under
/// `ueba.findings`, the detector components under `ueba.detectors`.
pub fn ecs_doc(alert: &Alert) -> Value {
    let (detector, reason) = headline(alert);
    let (_, _, level) = risk_level(alert.score);
    let mut user = json!({
        "name": alert.user,
        "risk": {
            "calculated_score": alert.score,
            "calculated_score_norm": alert.score,
            "calculated_level": level,
        },
    });
    if let Some(p) = &alert.peer_group {
        user["group"] = json!({ "name": p });
    }
    json!({
        "@timestamp": alert.time,
        "ecs": { "version": ECS_VERSION },
        "event": {
            "kind": "alert",
            "category": ["database"],
            "type": ["info"],
            "module": "ueba",
            "dataset": "ueba.alert",
            "provider": "ueba",
            "id": alert_uid(alert),
            "action": alert.kind,
            "reason": reason,
            "risk_score": alert.score,
            "risk_score_norm": alert.score,
            "severity": alert.score.round() as i64,
        },
        "message": format!(
            "{} risk {:.1} crossed {:.1} ({}): {}",
            alert.user, alert.score, alert.threshold, alert.kind, reason
        ),
        "rule": {
            "name": detector,
            "description": reason,
            "ruleset": "ueba",
            "category": "insider-risk",
        },
        "user": user,
        "observer": { "product": "ueba", "vendor": "ueba", "version": VERSION },
        "ueba": {
            "kind": alert.kind,
            "incident": alert.incident,
            "threshold": alert.threshold,
            "detectors": alert.detectors,
            "findings": alert.findings,
        },
    })
}

/// How an analysis of each built-in detector is named in OCSF's anomaly
/// vocabulary: (observation type, observed pattern).
fn anomaly_kind(detector: &str) -> (&'static str, Option<&'static str>) {
    match detector {
        "volume" => ("Volume Analysis", Some("HIGH_VOLUME")),
        "off-hours" => ("Time Pattern Analysis", Some("OFF_HOURS")),
        "novel-table" => ("Frequency Analysis", Some("UNSEEN")),
        _ => ("Behavioral Analysis", None),
    }
}

/// The alert as an OCSF Detection Finding (class 2004, activity Create),
/// valid against the class's schema in [`OCSF_VERSION`].
///
/// `finding_info` names it (a stable `uid`, the strongest reason as `title`,
/// the detectors as `types`, ueba's risk aggregation as a behavioural
/// `analytic`); `risk_score` and `risk_level_id` carry the risk. Each
/// finding is one of `evidences`: the user as its `actor.user` (with the
/// peer group in `groups`), the source as `src_endpoint.ip` or
/// `src_endpoint.hostname` (whichever the source parses as), the table as a
/// `resources` entry of type `table`, and the finding whole under `data`.
/// The class has no top-level actor and evidences have no table, so the
/// user and the tables are also listed where the class puts what a finding
/// concerns: `observables` (user name, source addresses or host names,
/// table names) and the affected `resources`. A ueba resource is
/// `qualifier.table` where the qualifier is a database or a schema,
/// depending on the source, so no OCSF `database` object is claimed for it.
/// `anomaly_analyses` restate the findings in OCSF's anomaly vocabulary;
/// ueba's own fields that OCSF has no place for go under `unmapped.ueba`.
pub fn ocsf_doc(alert: &Alert) -> Value {
    let (_, reason) = headline(alert);
    let (level_id, level, _) = risk_level(alert.score);
    let ms = alert_ms(alert);
    let mut types: Vec<&str> = Vec::new();
    let mut tables: Vec<&str> = Vec::new();
    let mut sources: Vec<&str> = Vec::new();
    for f in &alert.findings {
        if !types.contains(&f.detector.as_str()) {
            types.push(&f.detector);
        }
        if !tables.contains(&f.resource.as_str()) {
            tables.push(&f.resource);
        }
        if let Some(s) = &f.source
            && !sources.contains(&s.as_str())
        {
            sources.push(s);
        }
    }
    let times: Vec<i64> = alert
        .findings
        .iter()
        .filter_map(|f| ueba_engine::event::parse_timestamp_text(&f.time).ok())
        .collect();
    let mut user = json!({ "name": alert.user, "type_id": 1, "type": "User" });
    if let Some(p) = &alert.peer_group {
        user["groups"] = json!([{ "name": p }]);
    }
    let table = |name: &str| json!({ "name": name, "type": "table" });
    let evidences: Vec<Value> = alert
        .findings
        .iter()
        .map(|f| {
            let mut ev = json!({
                "data": f,
                "actor": { "user": user },
                "resources": [table(&f.resource)],
            });
            if let Some(s) = &f.source {
                let (field, _, _) = source_kind(s);
                ev["src_endpoint"][field] = json!(s);
            }
            ev
        })
        .collect();
    let mut observables = vec![json!({
        "name": "evidences.actor.user.name",
        "type_id": 4,
        "type": "User Name",
        "value": alert.user,
    })];
    observables.extend(sources.iter().map(|s| {
        let (field, type_id, kind) = source_kind(s);
        json!({
            "name": format!("evidences.src_endpoint.{field}"),
            "type_id": type_id,
            "type": kind,
            "value": s,
        })
    }));
    observables.extend(tables.iter().map(|t| {
        json!({
            "name": "resources.name",
            "type_id": 38,
            "type": "Resource Details Object: name",
            "value": t,
        })
    }));
    let anomalies: Vec<Value> = alert
        .findings
        .iter()
        .map(|f| {
            let (kind, pattern) = anomaly_kind(&f.detector);
            let mut a = json!({
                "observation_parameter": f.detector,
                "observation_type": kind,
                "observations": [{ "value": f.reason, "count": 1 }],
            });
            if let Some(p) = pattern {
                a["observed_pattern"] = json!(p);
            }
            a
        })
        .collect();
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": ms,
        "severity_id": level_id + 1,
        "severity": SEVERITIES[usize::from(level_id)],
        "status_id": 1,
        "status": "New",
        "message": format!("{} risk {:.1}: {}", alert.user, alert.score, reason),
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "ueba", "vendor_name": "ueba", "version": VERSION },
        },
        "finding_info": {
            "uid": alert_uid(alert),
            "title": format!("Insider risk: {} ({})", alert.user, alert.kind),
            "desc": reason,
            "types": types,
            "created_time": ms,
            "first_seen_time": times.iter().min().copied().unwrap_or(ms),
            "last_seen_time": times.iter().max().copied().unwrap_or(ms),
            "analytic": {
                "name": "ueba risk aggregation",
                "type_id": 2,
                "type": "Behavioral",
                "version": VERSION,
            },
        },
        "risk_score": alert.score.round() as i64,
        "risk_level_id": level_id,
        "risk_level": level,
        "evidences": evidences,
        "observables": observables,
        "resources": tables.iter().map(|t| table(t)).collect::<Vec<_>>(),
        "anomaly_analyses": [{
            "analysis_targets": [{ "name": alert.user, "type": "User Account" }],
            "anomalies": anomalies,
        }],
        "unmapped": { "ueba": {
            "incident": alert.incident,
            "score": alert.score,
            "threshold": alert.threshold,
            "kind": alert.kind,
            "peer_group": alert.peer_group,
            "detectors": alert.detectors,
        }},
    })
}

/// Where OCSF puts an event's `source`: (the `src_endpoint` field, the
/// observable's `type_id`, its type name). A ueba source is whatever the
/// log named the client by, an IP address or a host name, and OCSF's `ip`
/// field and IP Address observable (type 2) must hold an address, so a
/// source that does not parse as one is a `hostname` and a Hostname
/// observable (type 1).
fn source_kind(source: &str) -> (&'static str, u8, &'static str) {
    if source.parse::<std::net::IpAddr>().is_ok() {
        ("ip", 2, "IP Address")
    } else {
        ("hostname", 1, "Hostname")
    }
}

/// OCSF severity names for `severity_id` 1 to 5, by risk level 0 to 4.
const SEVERITIES: [&str; 5] = ["Informational", "Low", "Medium", "High", "Critical"];

/// Which JSON document [`JsonDocs`] writes.
#[derive(Clone, Debug)]
pub enum DocKind {
    /// [`ecs_doc`].
    Ecs,
    /// [`ocsf_doc`].
    Ocsf,
    /// [`hec::envelope`] with this host name.
    Hec(String),
}

/// Writes one JSON document per alert per line, with [`ueba_engine::json`]
/// (hidden characters escaped, as in [`JsonLines`]).
pub struct JsonDocs<W: std::io::Write> {
    out: W,
    kind: DocKind,
}

impl<W: std::io::Write> JsonDocs<W> {
    /// A sink writing `kind` documents to `out`.
    pub fn new(out: W, kind: DocKind) -> Self {
        JsonDocs { out, kind }
    }
}

impl<W: std::io::Write> AlertSink for JsonDocs<W> {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        let doc = match &self.kind {
            DocKind::Ecs => ecs_doc(alert),
            DocKind::Ocsf => ocsf_doc(alert),
            DocKind::Hec(host) => hec::envelope(alert, host),
        };
        ueba_engine::json::to_writer(&mut self.out, &doc)?;
        self.out.write_all(b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
pub(crate) mod tests;
