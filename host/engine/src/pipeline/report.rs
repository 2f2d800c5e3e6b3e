//! The end-of-run report: ranking, counts and the summary printed to
//! stderr.

use crate::risk::aggregate::{AlertFinding, UserStanding};
use crate::risk::entities::EntityStanding;
use crate::risk::incidents::IncidentRecord;
use crate::sandbox::gate::{self};
use crate::sandbox::plugins::HealthKind;

use super::stats::*;

/// A user in the final ranking.
#[derive(Clone, Debug)]
pub struct RankedUser {
    /// User name.
    pub name: String,
    /// Peer group, when known.
    pub peer_group: Option<String>,
    /// Peak risk, alerts and findings.
    pub standing: UserStanding,
}

/// What the engine holds about one user now, as an analyst asks for it
/// (`GET /v1/users/{user}`): from a service's own scorer, or from what a
/// worker wrote at its partition's last checkpoint (`ueba serve --nats`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserSummary {
    /// The user's name.
    pub user: String,
    /// Their risk at `as_of`, to a tenth.
    pub risk: f64,
    /// The event time everything here is as of: the newest event scored
    /// (RFC 3339), `None` before any.
    pub as_of: Option<String>,
    /// The alert threshold in force then.
    pub threshold: f64,
    /// Their highest risk, to a tenth.
    pub peak: f64,
    /// When it was reached (RFC 3339).
    pub peak_time: String,
    /// Alerts raised about them.
    pub alerts: u32,
    /// Findings per detector, by detector name.
    pub findings: std::collections::BTreeMap<String, u64>,
    /// The strongest kept finding's detector and reason.
    pub top_reason: Option<String>,
    /// The strongest findings kept per detector, oldest first.
    pub kept: Vec<AlertFinding>,
    /// Their open incident and the recently closed ones, oldest first.
    pub incidents: Vec<IncidentRecord>,
}

/// A risk to a tenth, as alerts and incidents show it: the digits beyond
/// are single-precision noise.
pub fn tenth(risk: f64) -> f64 {
    (risk * 10.0).round() / 10.0
}

/// A resource or source with its risk ([`crate::risk::entities`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RankedEntity {
    /// The resource or source as the log names it.
    pub name: String,
    /// The users kept for it, the one behind its peak first.
    pub top_users: Vec<String>,
    /// Peak risk, findings, users.
    pub standing: EntityStanding,
}

/// Resources and sources kept in a [`Report`], each kind.
pub const ENTITIES_REPORTED: usize = 20;

/// Resources and sources shown in the summary, each kind, at most.
pub const ENTITIES_SHOWN: usize = 5;

/// What a run found, for the summary table and for tests.
#[derive(Clone, Debug)]
pub struct Report {
    /// Detector names, in index order.
    pub detectors: Vec<String>,
    /// Users by peak risk, highest first.
    pub users: Vec<RankedUser>,
    /// Resources by peak risk, highest first (at most
    /// [`ENTITIES_REPORTED`]).
    pub resources: Vec<RankedEntity>,
    /// Sources by peak risk, highest first (at most [`ENTITIES_REPORTED`]).
    pub sources: Vec<RankedEntity>,
    /// Findings about resources or sources beyond what entity risk tracks
    /// ([`crate::risk::entities::MAX_ENTITIES`]).
    pub entities_untracked: u64,
    /// Counts.
    pub stats: Stats,
    /// Wall time of the run.
    pub elapsed: std::time::Duration,
    /// Of `stats.events`, those counted by earlier runs whose state this
    /// one restored (`--state`); the rate in the summary is of the rest.
    pub events_before: u64,
    /// The user's risk after each finding, in scoring order; empty unless
    /// [`Scorer::record_trace`](super::Scorer::record_trace) was on.
    pub trace: Vec<RiskPoint>,
}

/// A user's risk right after one finding was added (see [`Scorer::record_trace`](super::Scorer::record_trace)).
#[derive(Clone, Debug, PartialEq)]
pub struct RiskPoint {
    /// The user.
    pub user: String,
    /// Event time of the finding's event, ms since the epoch.
    pub time_ms: i64,
    /// The user's risk (0–100) with this finding added.
    pub risk: f32,
    /// The detector that made the finding.
    pub detector: String,
    /// The finding's own score (0–100), before weighting and aggregation.
    pub finding_score: f32,
}

impl Report {
    /// A human summary: top users and the counts, for stderr.
    pub fn render(&self, top: usize) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let s = &self.stats;
        let _ = writeln!(out, "\nTop users by peak risk");
        let mut header = format!(
            "{:>4}  {:<18} {:<16} {:>5} {:>6}",
            "#", "user", "peer group", "risk", "alerts"
        );
        for d in &self.detectors {
            let _ = write!(header, " {:>11}", d);
        }
        let _ = writeln!(out, "{header}  strongest finding");
        for (i, u) in self.users.iter().take(top).enumerate() {
            let mut row = format!(
                "{:>4}  {:<18} {:<16} {:>5.1} {:>6}",
                i + 1,
                for_terminal(&u.name, 18),
                for_terminal(u.peer_group.as_deref().unwrap_or("-"), 16),
                u.standing.peak,
                u.standing.alerts
            );
            for n in &u.standing.findings {
                let _ = write!(row, " {:>11}", n);
            }
            let _ = writeln!(
                out,
                "{row}  {}",
                for_terminal(u.standing.top_reason.as_deref().unwrap_or(""), 90)
            );
        }
        for (title, what, list) in [
            ("Top resources by peak risk", "resource", &self.resources),
            ("Top sources by peak risk", "source", &self.sources),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{title}");
            let _ = writeln!(
                out,
                "{:>4}  {:<32} {:>5} {:>6} {:>9}  users (the one behind the peak first)",
                "#", what, "risk", "users", "findings"
            );
            for (i, e) in list.iter().take(top.min(ENTITIES_SHOWN)).enumerate() {
                let _ = writeln!(
                    out,
                    "{:>4}  {:<32} {:>5.1} {:>6} {:>9}  {}",
                    i + 1,
                    for_terminal(&e.name, 32),
                    e.standing.peak,
                    e.standing.users,
                    e.standing.findings,
                    for_terminal(&e.top_users.join(", "), 60)
                );
            }
        }
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        // Counts restored from a checkpoint include earlier runs; the rate
        // is of this run's events over this run's time.
        let this_run = s.events.saturating_sub(self.events_before);
        let events = if self.events_before > 0 {
            format!("{} ({this_run} this run)", s.events)
        } else {
            s.events.to_string()
        };
        let _ = writeln!(
            out,
            "\nevents {events}  invalid lines {}  late {}  batches {}  alerts {}  ({:.2}s, {:.0} events/s)",
            s.invalid,
            s.late,
            s.batches,
            s.alerts,
            secs,
            this_run as f64 / secs
        );
        let per: Vec<String> = self
            .detectors
            .iter()
            .zip(&s.findings)
            .enumerate()
            .map(|(i, (d, n))| match s.read_lower.get(i) {
                Some(&lower) if lower > 0 => {
                    format!("{d} {n} ({lower} read lower by its tail on this log)")
                }
                _ => format!("{d} {n}"),
            })
            .collect();
        for note in s.notes() {
            let _ = writeln!(out, "{note}");
        }
        let _ = writeln!(out, "findings: {}", per.join(", "));
        let _ = writeln!(out, "alert threshold at the end: {:.1}", s.threshold);
        if s.names_over_budget.iter().any(|&n| n > 0) {
            let per: Vec<String> = crate::pipeline::intern::SymbolKind::ALL
                .iter()
                .zip(s.names_over_budget)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{n} {}", k.plural()))
                .collect();
            let _ = writeln!(
                out,
                "names over input.max_name_mib: {} scored as \"{}\" (raise the budget, and sandbox.memory_mib with it, if these are real)",
                per.join(", "),
                crate::pipeline::intern::OVER_BUDGET_NAME
            );
        }
        if let Some(b) = s.budget
            && let Some(ceiling) = b.held_at_ceiling()
        {
            let _ = writeln!(
                out,
                "alert budget overspent: {b}; the threshold is held at risk.threshold_ceiling ({ceiling:.1}). \
                 The budget counts attacks as well as false alerts: if these alerts are false, raise the ceiling"
            );
        }
        if let Some(b) = s.budget
            && let Some(note) = b.lifted_note()
        {
            let _ = writeln!(out, "alert budget: {b}; {note}");
        }
        if s.exceptions.iter().any(|n| *n > 0) || s.events_unlearned > 0 {
            let _ = writeln!(
                out,
                "findings kept from risk by exceptions: {}; events kept from detectors (learn = false): {}",
                exception_counts(&s.exceptions),
                s.events_unlearned
            );
        }
        if self.entities_untracked > 0 {
            let _ = writeln!(
                out,
                "findings about resources or sources beyond the {} tracked per kind (not ranked): {}",
                crate::risk::entities::MAX_ENTITIES,
                self.entities_untracked
            );
        }
        if s.events_held > 0 {
            let _ = writeln!(
                out,
                "events of users held out of learning (alert episode open or risk over hold_above), scored but not learned: {}",
                s.events_held
            );
        }
        if s.verdicts_applied > 0 || s.forgiven > 0 {
            let _ = writeln!(
                out,
                "verdicts applied: {}; findings kept from risk by benign verdicts: {}",
                s.verdicts_applied, s.forgiven
            );
        }
        if let Some((n, first)) = &s.verdicts_pending {
            let _ = writeln!(
                out,
                "verdicts not applied, waiting for events past their time: {n} (the first {})",
                for_terminal(first, 200)
            );
        }
        for (detector, counts) in &s.gate {
            let _ = writeln!(out, "output of {detector} rejected: {counts}");
        }
        let of_kind = |kind: HealthKind| s.health.iter().filter(move |h| h.event == kind);
        for h in of_kind(HealthKind::Quarantined) {
            let _ = writeln!(out, "QUARANTINED detector {}: {}", h.plugin, h.message);
        }
        let failed = of_kind(HealthKind::Failed).count();
        if failed > 0 {
            let recovered = of_kind(HealthKind::Recovered).count();
            let _ = writeln!(
                out,
                "detector failures: {failed} ({recovered} recovered on retry); see the health events on stderr"
            );
        }
        if s.events_missed_by_failed > 0 {
            let _ = writeln!(
                out,
                "events not seen by failed detectors: {}",
                s.events_missed_by_failed
            );
        }
        out
    }
}

/// `s` made safe for a terminal ([`gate::escape_text`]: it may be a user
/// or resource name from the log, or a plugin's text) and cut to `n`
/// characters: how every table printed for a person shows such text.
pub fn for_terminal(s: &str, n: usize) -> String {
    let s = gate::escape_text(s);
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Matches per `[[exceptions]]` entry as `[0] 12, [1] 0`: how the summary
/// and `ueba eval` name them (by index, as config errors do).
pub fn exception_counts(counts: &[u64]) -> String {
    counts
        .iter()
        .enumerate()
        .map(|(i, n)| format!("[{i}] {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
