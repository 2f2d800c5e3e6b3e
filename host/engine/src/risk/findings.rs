//! Every finding, alerted or not, as a record: what `ueba score --findings`
//! writes and `ueba explain` reads back, so anyone can see why a user did or
//! did not alert.
//!
//! Alerts show the findings behind a crossing of the threshold; a user who
//! never crossed it shows nothing there. A findings record is written for
//! every finding that passed the gate ([`crate::sandbox::gate`]), with the user's risk
//! right after it, the threshold in force and the alert it raised, if any.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::risk::aggregate::AlertFinding;

/// One finding with the user's risk after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The user.
    pub user: String,
    /// Their peer group, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer_group: Option<String>,
    /// The user's risk (0–100) with this finding added.
    pub risk: f64,
    /// The alert threshold in force.
    pub threshold: f64,
    /// The kind of alert this finding raised (`new`, `escalation`,
    /// `new-evidence`), if it raised one. An event's findings are decided
    /// on together, so the alert is on the last of them that added risk.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert: Option<String>,
    /// The note of the analyst's exception that kept this finding from
    /// risk (`exceptions[i]` when it has none); such a finding added none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exception: Option<String>,
    /// Whether the finding restated a behaviour its detector had already
    /// reported that hour (the same resource): it counted once with it, at
    /// the stronger, rather than as a repeat. Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub restates: bool,
    /// The finding itself, as alerts show it.
    #[serde(flatten)]
    pub finding: AlertFinding,
}

/// Where finding records go.
pub trait FindingSink: Send {
    /// Record one finding.
    fn record(&mut self, record: &FindingRecord) -> std::io::Result<()>;
    /// Flush what is buffered.
    fn flush(&mut self) -> std::io::Result<()>;
}

impl<W: Write + Send> FindingSink for super::JsonLines<W> {
    fn record(&mut self, record: &FindingRecord) -> std::io::Result<()> {
        self.line(record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Keeps the records of one user in memory (`ueba explain`, tests), shared
/// with whoever holds a clone of `records`, since the scorer owns the sink.
pub struct UserFindings {
    /// The user whose findings are kept.
    pub user: String,
    /// Their records, in scoring order.
    pub records: Arc<Mutex<Vec<FindingRecord>>>,
}

impl FindingSink for UserFindings {
    fn record(&mut self, record: &FindingRecord) -> std::io::Result<()> {
        if record.user == self.user {
            self.records
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(record.clone());
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
