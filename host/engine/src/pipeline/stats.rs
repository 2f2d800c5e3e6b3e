//! What a run counted: nothing is dropped without being counted here.

use crate::sandbox::gate::GateCounts;
use crate::sandbox::plugins::HealthEvent;

/// Counts for the summary; nothing is dropped without being counted here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Events accepted.
    pub events: u64,
    /// Lines rejected as invalid (with `--skip-invalid`).
    pub invalid: u64,
    /// Names of each kind (users, resources, actions, sources, peer groups,
    /// in [`crate::pipeline::intern::SymbolKind::ALL`] order) scored as
    /// [`crate::pipeline::intern::OVER_BUDGET_NAME`] because the names held
    /// had reached `input.max_name_mib`, one per occurrence, this run.
    pub names_over_budget: [u64; 5],
    /// Events that arrived later than the lateness rule allows (still scored).
    pub late: u64,
    /// Users met this run, and those a non-empty identity file does not
    /// list: they have no peer group and are judged in UTC.
    pub identities: crate::pipeline::encode::IdentityCounts,
    /// Events refused because their time stood alone, further than
    /// `input.max_time_jump_days` from the stream's, with no other event
    /// near it ([`crate::pipeline::clock`]); carried across a resume.
    pub time_outliers: u64,
    /// The first of them this run: user, time and how far from the stream.
    pub time_outlier_first: Option<String>,
    /// Events waiting now for another to confirm their time.
    pub time_waiting: u64,
    /// Findings per detector, in detector order.
    pub findings: Vec<u64>,
    /// Of them, those the detector's tail on this log read lower
    /// ([`crate::risk::tails`]), in detector order; this run's (not
    /// carried across a resume).
    pub read_lower: Vec<u64>,
    /// Findings dropped because they named an event not in their batch.
    pub stray_findings: u64,
    /// What the gate ([`crate::sandbox::gate`]) dropped or cut, per detector name,
    /// in this run (not carried across a resume), for detectors where it
    /// did anything. Dropped findings are not in `findings`.
    pub gate: Vec<(String, GateCounts)>,
    /// Alerts written.
    pub alerts: u64,
    /// Findings each `[[exceptions]]` entry kept from risk, by index.
    pub exceptions: Vec<u64>,
    /// Events kept from a detector by an exception with `learn = false`
    /// (counted once per detector that did not see them).
    pub events_unlearned: u64,
    /// Events sent with `learn = false` because their user's alert episode
    /// was open ([`crate::risk::aggregate::Aggregator::holds_learning`]).
    pub events_held: u64,
    /// Findings kept from risk by a benign verdict
    /// ([`crate::risk::aggregate::Aggregator::apply_verdict`]).
    pub forgiven: u64,
    /// Verdicts applied, counted from the first line of the verdicts file
    /// (carried across a resume, so a resumed run skips those).
    pub verdicts_applied: u64,
    /// Verdicts still waiting at the end of the run for events past their
    /// time, and the first of them (`file:line` and its time): a verdict
    /// applies in order when event time reaches it, so one timed beyond
    /// the log holds back the rest.
    pub verdicts_pending: Option<(u64, String)>,
    /// The alert threshold in force after the last batch: `risk.threshold`,
    /// or where the alert budget has moved it ([`crate::risk::budget`]).
    pub threshold: f64,
    /// How the alert budget's window stands against its allowance after
    /// the last batch, once the budget sets the threshold.
    pub budget: Option<crate::risk::budget::Standing>,
    /// Batches sent to detectors.
    pub batches: u64,
    /// Plugin health events (failures, recoveries, quarantines), also
    /// written to the health sink as they happen. A failing detector is
    /// restarted from its last snapshot and retried; one that keeps failing
    /// is quarantined, and the others keep scoring throughout.
    pub health: Vec<HealthEvent>,
    /// Events that a failed or quarantined detector did not score.
    pub events_missed_by_failed: u64,
    /// Wall time of each detector's `observe` calls, in detector order
    /// (including recovery and retry), for `/metrics` and tuning.
    pub batch_latency: Vec<Histogram>,
}

impl Stats {
    /// What the run's input was, where it was wrong in a way scoring went
    /// on through: events out of time order ([`Stats::late_note`]), users
    /// missing from the identity file ([`Stats::unidentified_note`]).
    pub fn input_notes(&self) -> Vec<String> {
        [self.late_note(), self.unidentified_note()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Every line a summary adds about the input: the time guard's
    /// ([`Stats::time_outliers_note`]), then [`Stats::input_notes`].
    pub fn notes(&self) -> Vec<String> {
        self.time_outliers_note()
            .into_iter()
            .chain(self.input_notes())
            .collect()
    }

    /// A summary line when users of the events are missing from the
    /// identity file: a log naming `CORP\alice` against a file listing
    /// `alice` loses every peer group and time zone without a word
    /// otherwise.
    pub fn unidentified_note(&self) -> Option<String> {
        let c = &self.identities;
        let first = c.first_missing.as_deref()?;
        Some(format!(
            "identities: {} of {} users in the events are not in the identity file (first: {first}); they have no peer group and are judged in UTC (names are compared exactly)",
            c.missing, c.users
        ))
    }

    /// A summary line when most events came late: an input out of time
    /// order (newest first, as search exports often are, or one export
    /// after another) is scored in arrival order beyond the lateness
    /// window, so every baseline and learning period runs backwards and
    /// the alerts mean little. Late events are scored, so nothing says so
    /// otherwise; a newest-first log of 300 users scored without an alert
    /// or a word. One wording for `ueba score`, `ueba explain` and the
    /// live warning.
    pub fn late_note(&self) -> Option<String> {
        (self.events >= LATE_NOTE_MIN_EVENTS && self.late.saturating_mul(2) > self.events).then(|| {
            format!(
                "most events came late ({} of {} were older than events already scored): the input is out of time order, perhaps newest first as search exports are; ueba reorders only within input.max_lateness_secs, so sort it oldest first",
                self.late, self.events
            )
        })
    }

    /// The time guard's line for a summary, when it refused or holds
    /// anything: how many, and the first refused this run
    /// ([`crate::pipeline::clock`]). One wording for `ueba score`,
    /// `ueba explain` and whoever else reports a run.
    pub fn time_outliers_note(&self) -> Option<String> {
        if self.time_outliers == 0 && self.time_waiting == 0 {
            return None;
        }
        let first = self
            .time_outlier_first
            .as_deref()
            .map(|f| format!(" (first this run: {f})"))
            .unwrap_or_default();
        Some(format!(
            "time outliers: {} refused, {} waiting (events dated further than input.max_time_jump_days from the rest of the log, with no other event near them; refused ones are never scored){first}",
            self.time_outliers, self.time_waiting
        ))
    }
}

/// Events a run must have scored before [`Stats::late_note`] judges their
/// order: a few late ones at the start of a run say nothing.
pub const LATE_NOTE_MIN_EVENTS: u64 = 1000;

/// A latency histogram with fixed buckets, in the shape Prometheus expects
/// (cumulative counts are derived when rendering).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    /// Observations per bucket of [`Histogram::BOUNDS`], plus one for larger.
    pub counts: Vec<u64>,
    /// Sum of all observations, seconds.
    pub sum_secs: f64,
}

impl Histogram {
    /// Upper bounds of the buckets, seconds: from 100 µs (a small batch in a
    /// fast detector) to 5 s (near the default time limit per batch).
    pub const BOUNDS: [f64; 12] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0, 5.0,
    ];

    /// Record one observation.
    pub fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; Self::BOUNDS.len() + 1];
        }
        let i = Self::BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(Self::BOUNDS.len());
        self.counts[i] += 1;
        self.sum_secs += secs;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}
