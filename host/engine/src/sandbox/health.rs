//! Health events: what the host says about a plugin's health, as a
//! `tracing` event each (target [`HEALTH_TARGET`]) and in the run's counts,
//! so log pipelines and `/metrics` can alert on them.
//!
//! The library only emits the events; the binary's subscriber decides how
//! they are written. `ueba`'s text log format writes each as the JSON line
//! [`HealthEvent`] serializes to (`{"type":"health",...}`), as it always
//! has; its json log format writes them like every other diagnostic, with
//! the health fields beside level, target and message.

use serde::Serialize;
use tracing::Level;

use crate::sandbox::Failure;

/// The `tracing` target of every health event, so a subscriber can tell
/// them from other diagnostics (the text log format writes them as JSON
/// lines) and log pipelines can filter on it.
pub const HEALTH_TARGET: &str = "ueba::health";

/// What happened to a plugin, as a health event's `event` field says it.
///
/// A closed set, so consumers (the run summary, `/metrics`, alerting on the
/// stderr stream) match on it instead of comparing text, and a new kind
/// cannot be reported without every `match` on it being revisited. It is
/// written in snake case (`retry_failed`), exactly as [`HealthKind::as_str`]
/// gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    /// A call trapped, hit a limit or returned an error; a retry follows.
    Failed,
    /// After a failure, the detector was re-instantiated from its last good
    /// snapshot, the batches since were replayed and the retry succeeded.
    Recovered,
    /// The retry of a failed batch failed too; the detector saw no findings
    /// for that batch.
    RetryFailed,
    /// The detector failed too often (or could not be restarted) and gets
    /// no more events in this run.
    Quarantined,
    /// A periodic snapshot failed or was too large; the older snapshot and
    /// the batches since it are kept for recovery.
    SnapshotRefused,
    /// Snapshots kept failing for so long that the recovery state was given
    /// up: a failure from now on restarts the detector with no state.
    RecoveryStateDropped,
    /// A durable checkpoint was written without this detector's state,
    /// because its snapshot failed; a resumed run starts it afresh.
    CheckpointWithoutState,
    /// The output gate dropped or cut some of the detector's findings
    /// ([`crate::sandbox::gate`]).
    OutputRejected,
    /// A plugin file replaced the built-in detector of the same name.
    ReplacedBuiltin,
    /// A checkpoint held state for a detector this run does not load; its
    /// state and risk were dropped (at resume).
    StateDropped,
    /// The detector refused its saved state at resume and starts afresh
    /// (or, if even that fails, is quarantined).
    RestoreFailed,
    /// `ueba serve --plugins DIR`: a detector of a new name started.
    Loaded,
    /// `ueba serve --plugins DIR`: a new version of a running detector took
    /// over and carried its state.
    Reloaded,
    /// `ueba serve --plugins DIR`: a new version of a running detector took
    /// over but starts learning afresh (its risk so far stays).
    StateReset,
    /// `ueba serve --plugins DIR`: a detector's file was removed; it stopped
    /// and its risk components were dropped.
    Removed,
    /// `ueba serve --plugins DIR`: a file could not be loaded; the running
    /// version, if any, keeps scoring.
    LoadFailed,
    /// The population exchange between shards failed for this instance:
    /// its share could not be taken, or the others' were refused. It
    /// scores with the population figures it had until the next exchange.
    PopulationRefused,
    /// A batch took the detector longer than its time per event
    /// (`max_us_per_event`): the first of a run of such batches. A run of
    /// `max_slow_batches` quarantines it.
    Slow,
}

impl HealthKind {
    /// Every kind, in declaration order, for consumers that count or label
    /// each one (metrics) and for checking the written names.
    pub const ALL: [HealthKind; 18] = [
        HealthKind::Failed,
        HealthKind::Recovered,
        HealthKind::RetryFailed,
        HealthKind::Quarantined,
        HealthKind::SnapshotRefused,
        HealthKind::RecoveryStateDropped,
        HealthKind::CheckpointWithoutState,
        HealthKind::OutputRejected,
        HealthKind::ReplacedBuiltin,
        HealthKind::StateDropped,
        HealthKind::RestoreFailed,
        HealthKind::Loaded,
        HealthKind::Reloaded,
        HealthKind::StateReset,
        HealthKind::Removed,
        HealthKind::LoadFailed,
        HealthKind::PopulationRefused,
        HealthKind::Slow,
    ];

    /// The kind as written in the health stream's `event` field, for
    /// metrics labels and text: the same string serde writes.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthKind::Failed => "failed",
            HealthKind::Recovered => "recovered",
            HealthKind::RetryFailed => "retry_failed",
            HealthKind::Quarantined => "quarantined",
            HealthKind::SnapshotRefused => "snapshot_refused",
            HealthKind::RecoveryStateDropped => "recovery_state_dropped",
            HealthKind::CheckpointWithoutState => "checkpoint_without_state",
            HealthKind::OutputRejected => "output_rejected",
            HealthKind::ReplacedBuiltin => "replaced_builtin",
            HealthKind::StateDropped => "state_dropped",
            HealthKind::RestoreFailed => "restore_failed",
            HealthKind::Loaded => "loaded",
            HealthKind::Reloaded => "reloaded",
            HealthKind::StateReset => "state_reset",
            HealthKind::Removed => "removed",
            HealthKind::LoadFailed => "load_failed",
            HealthKind::PopulationRefused => "population_refused",
            HealthKind::Slow => "slow",
        }
    }
}

impl HealthKind {
    /// The level its `tracing` event is emitted at, so that log pipelines
    /// can page on what needs a person and keep the rest: ERROR when a
    /// detector stopped scoring or a shipped version is not running
    /// (quarantined, load failed), WARN when findings or learned state were
    /// lost or are at risk, INFO for changes that went as intended.
    pub fn level(self) -> Level {
        match self {
            HealthKind::Quarantined | HealthKind::LoadFailed => Level::ERROR,
            HealthKind::Failed
            | HealthKind::RetryFailed
            | HealthKind::SnapshotRefused
            | HealthKind::RecoveryStateDropped
            | HealthKind::CheckpointWithoutState
            | HealthKind::OutputRejected
            | HealthKind::StateDropped
            | HealthKind::RestoreFailed
            | HealthKind::StateReset
            | HealthKind::PopulationRefused
            | HealthKind::Slow => Level::WARN,
            HealthKind::Recovered
            | HealthKind::ReplacedBuiltin
            | HealthKind::Loaded
            | HealthKind::Reloaded
            | HealthKind::Removed => Level::INFO,
        }
    }
}

impl std::fmt::Display for HealthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A structured report about a plugin's health, so log pipelines can alert
/// on it: emitted by [`StderrHealth`] as a `tracing` event whose fields are
/// this struct's (written as this struct's JSON line, `{"type":"health",...}`,
/// in `ueba`'s text log format).
///
/// Built only by [`HealthEvent::new`] (then [`HealthEvent::at_batch`]), so
/// every event carries the `health` tag and a wall-clock time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthEvent {
    /// Always `health`, to tell these lines from others; private so that an
    /// event cannot be built around [`HealthEvent::new`].
    #[serde(rename = "type")]
    tag: &'static str,
    /// Wall-clock time of the report, RFC 3339 (not event time).
    pub time: String,
    /// The detector's name.
    pub plugin: String,
    /// What happened.
    pub event: HealthKind,
    /// The limit hit or kind of failure, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Failure>,
    /// The batch number (from 1) the event concerns.
    pub batch: u64,
    /// The `seq` of the batch's first event.
    pub first_event: u64,
    /// Events in that batch.
    pub events: usize,
    /// Human detail.
    pub message: String,
}

impl HealthEvent {
    /// A health event of kind `event` about `plugin`, stamped now (wall
    /// clock), not tied to a batch; [`HealthEvent::at_batch`] places it.
    pub fn new(plugin: &str, event: HealthKind, limit: Option<Failure>, message: String) -> Self {
        HealthEvent {
            tag: "health",
            time: jiff::Timestamp::now().to_string(),
            plugin: plugin.to_string(),
            event,
            limit,
            batch: 0,
            first_event: 0,
            events: 0,
            message,
        }
    }

    /// The same event, about batch `batch` of `events` events starting at
    /// seq `first_event`.
    pub fn at_batch(self, batch: u64, first_event: u64, events: usize) -> Self {
        HealthEvent {
            batch,
            first_event,
            events,
            ..self
        }
    }
}

/// Where health events go.
pub trait HealthSink {
    /// Report one event.
    fn report(&mut self, event: &HealthEvent);
}

/// Emits health events as `tracing` events (target [`HEALTH_TARGET`], at
/// [`HealthKind::level`]), which the `ueba` binary writes to stderr.
///
/// The fields are the event's own, in the order [`HealthEvent`] serializes
/// them (`time`, `plugin`, `event`, `limit` when there is one, `batch`,
/// `first_event`, `events`) with `message` as the event's message, so a
/// subscriber can write the same JSON line serde would, byte for byte.
/// With no subscriber installed (a library user, a test) they go nowhere.
pub struct StderrHealth;

impl HealthSink for StderrHealth {
    fn report(&mut self, e: &HealthEvent) {
        // `limit` as serde names it (`time`, not Display's `time limit`),
        // so the written line is the one serde writes.
        let limit = e
            .limit
            .and_then(|l| serde_json::to_value(l).ok())
            .and_then(|v| v.as_str().map(str::to_owned));
        // A level must be a constant at the call site, hence one event per
        // level with the same fields.
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: HEALTH_TARGET,
                    $level,
                    time = e.time.as_str(),
                    plugin = e.plugin.as_str(),
                    event = e.event.as_str(),
                    limit = limit.as_deref(),
                    batch = e.batch,
                    first_event = e.first_event,
                    events = e.events as u64,
                    "{}",
                    e.message
                )
            };
        }
        match e.event.level() {
            Level::ERROR => emit!(Level::ERROR),
            Level::WARN => emit!(Level::WARN),
            _ => emit!(Level::INFO),
        }
    }
}

/// Keeps health events in memory (tests).
impl HealthSink for Vec<HealthEvent> {
    fn report(&mut self, event: &HealthEvent) {
        self.push(event.clone());
    }
}
