//! Incidents: one user's alert episode as a unit of work for an analyst,
//! with its alerts, the detectors behind them and the verdicts given.
//!
//! An incident opens with a user's first alert of an episode (its `id` is
//! that alert's id with an `i-` prefix), is escalated by every further
//! alert of the episode, and closes when the user's risk, decaying, falls
//! below `risk.rearm_below`, or at a benign verdict. A malicious verdict
//! keeps it open. Each change is an [`IncidentRecord`]; `--incidents FILE`
//! writes them as JSON lines and `ueba serve` answers `GET /v1/incidents`
//! from them.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::risk::aggregate::round1;
use crate::risk::verdicts::Verdict;

/// Most alert ids and behaviours one incident keeps; an episode that
/// raises more alerts still counts them (`alert_count`).
pub const MAX_KEPT: usize = 64;

/// One incident's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `i-` and the id of the alert that opened it.
    pub id: String,
    /// The user.
    pub user: String,
    /// Their peer group, when known.
    pub peer_group: Option<String>,
    /// Event time it opened, ms.
    pub opened_ms: i64,
    /// Event time it closed, ms, once closed.
    pub closed_ms: Option<i64>,
    /// Why it closed (`calmed`, `benign`), once closed.
    pub closed_reason: Option<String>,
    /// Highest risk reached in it.
    pub peak: f32,
    /// Its alerts' ids, oldest first (at most [`MAX_KEPT`]).
    pub alerts: Vec<String>,
    /// Alerts raised in it.
    pub alert_count: u32,
    /// Detectors whose findings are in its alerts.
    pub detectors: Vec<String>,
    /// (detector, resource) of every finding in its alerts: the behaviour
    /// a benign verdict is about (at most [`MAX_KEPT`]).
    pub behaviours: Vec<(String, String)>,
    /// Verdicts given on its alerts, in order. As JSON text in
    /// checkpoints: a verdict's JSON form leaves out an empty note or
    /// analyst.
    #[serde(with = "crate::risk::json_text")]
    pub verdicts: Vec<Verdict>,
    /// Whether a verdict called it malicious.
    pub malicious: bool,
    /// When the user's risk is expected to fall below `rearm_below`, as of
    /// their latest finding (ms): the incident closes then unless new
    /// findings keep it up.
    pub calm_ms: i64,
}

/// What happened to an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A user's first alert of an episode.
    Opened,
    /// A further alert of the episode.
    Escalated,
    /// An analyst's verdict.
    Verdict,
    /// Risk calmed down, or a benign verdict.
    Closed,
}

/// One change of an incident: a line of `--incidents`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// Event time of the change, RFC 3339.
    pub time: String,
    /// What changed.
    pub change: Change,
    /// The incident's id.
    pub id: String,
    /// The user.
    pub user: String,
    /// Their peer group, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer_group: Option<String>,
    /// When it opened, RFC 3339.
    pub opened: String,
    /// When it closed, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closed: Option<String>,
    /// Why it closed: `calmed` (risk fell below `rearm_below`) or
    /// `benign` (a verdict).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// Highest risk reached in it.
    pub peak: f64,
    /// Detectors whose findings are in its alerts.
    pub detectors: Vec<String>,
    /// Its alerts' ids, oldest first (at most [`MAX_KEPT`]).
    pub alerts: Vec<String>,
    /// Alerts raised in it.
    pub alert_count: u32,
    /// Verdicts given on its alerts.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub verdicts: Vec<Verdict>,
    /// Whether a verdict called it malicious.
    pub malicious: bool,
}

impl Incident {
    /// A new incident of `user` opened by alert `alert_id` at `time_ms`.
    pub fn open(alert_id: &str, time_ms: i64, user: &str, peer_group: Option<&str>) -> Self {
        Incident {
            id: format!("i-{alert_id}"),
            user: user.to_string(),
            peer_group: peer_group.map(str::to_string),
            opened_ms: time_ms,
            closed_ms: None,
            closed_reason: None,
            peak: 0.0,
            alerts: Vec::new(),
            alert_count: 0,
            detectors: Vec::new(),
            behaviours: Vec::new(),
            verdicts: Vec::new(),
            malicious: false,
            calm_ms: i64::MAX,
        }
    }

    /// Take in an alert of this incident: its id, score and findings.
    pub fn absorb(&mut self, alert: &crate::risk::aggregate::Alert) {
        self.alert_count += 1;
        if self.alerts.len() < MAX_KEPT {
            self.alerts.push(alert.id.clone());
        }
        self.peak = self.peak.max(alert.score as f32);
        for f in &alert.findings {
            if !self.detectors.contains(&f.detector) {
                self.detectors.push(f.detector.clone());
            }
            let b = (f.detector.clone(), f.resource.clone());
            if self.behaviours.len() < MAX_KEPT && !self.behaviours.contains(&b) {
                self.behaviours.push(b);
            }
        }
    }

    /// The incident as it stands: its closing when closed, else its
    /// opening (the records `GET /v1/incidents` lists).
    pub fn now(&self) -> IncidentRecord {
        match self.closed_ms {
            Some(t) => self.record(Change::Closed, t, None),
            None => self.record(Change::Opened, self.opened_ms, None),
        }
    }

    /// The record of a change at `time_ms`.
    pub fn record(&self, change: Change, time_ms: i64, reason: Option<&str>) -> IncidentRecord {
        let t = crate::event::format_time;
        IncidentRecord {
            time: t(time_ms),
            change,
            id: self.id.clone(),
            user: self.user.clone(),
            peer_group: self.peer_group.clone(),
            opened: t(self.opened_ms),
            closed: self.closed_ms.map(t),
            reason: reason
                .map(str::to_string)
                .or_else(|| self.closed_reason.clone()),
            peak: round1(self.peak),
            detectors: self.detectors.clone(),
            alerts: self.alerts.clone(),
            alert_count: self.alert_count,
            verdicts: self.verdicts.clone(),
            malicious: self.malicious,
        }
    }
}

/// Where incident records go.
pub trait IncidentSink: Send {
    /// Record one change.
    fn record(&mut self, record: &IncidentRecord) -> std::io::Result<()>;
    /// Flush what is buffered.
    fn flush(&mut self) -> std::io::Result<()>;
}

impl<W: Write + Send> IncidentSink for super::JsonLines<W> {
    fn record(&mut self, record: &IncidentRecord) -> std::io::Result<()> {
        self.line(record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::Incident;
    use crate::risk::verdicts::{Verdict, VerdictKind};

    #[test]
    fn an_incident_with_a_verdict_without_note_or_analyst_survives_a_checkpoint() {
        // Checkpoints are postcard; a verdict's JSON form leaves out an
        // empty note and analyst, which postcard cannot tell.
        let verdict = |note: &str| Verdict {
            time: "2026-01-05T10:00:00Z".into(),
            id: "a-1".into(),
            verdict: VerdictKind::Malicious,
            note: note.into(),
            analyst: String::new(),
        };
        let incident = Incident {
            id: "i-a-1".into(),
            user: "alice".into(),
            peer_group: None,
            opened_ms: 1,
            closed_ms: None,
            closed_reason: None,
            peak: 80.0,
            alerts: vec!["a-1".into()],
            alert_count: 1,
            detectors: vec!["volume".into()],
            behaviours: vec![("volume".into(), "support.customers".into())],
            verdicts: vec![verdict(""), verdict("confirmed by the team lead")],
            malicious: true,
            calm_ms: 2,
        };
        let bytes = postcard::to_allocvec(&incident).unwrap();
        assert_eq!(postcard::from_bytes::<Incident>(&bytes).unwrap(), incident);
    }
}
