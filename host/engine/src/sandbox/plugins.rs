//! Which detectors run, and keeping them running.
//!
//! The built-in detectors are embedded in the binary; `--plugins DIR` adds
//! `.wasm` files (one with a built-in's name replaces it), each configured
//! from `[detectors.NAME]` and optionally pinned by sha256 in `[pins]`.
//!
//! A detector is third-party code, so each one is supervised: its state is
//! snapshotted every `sandbox.snapshot_interval_batches` batches and the
//! batches since are kept. When a call traps or hits a limit, the plugin is
//! re-instantiated from the last good snapshot, the kept batches are replayed
//! (their findings were already used), and the failed batch is retried once.
//! A plugin that keeps failing is quarantined. Each step is reported as a
//! [`HealthEvent`]; the other detectors' results are never affected.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::Component;

use crate::config::{Config, SandboxConfig};
use crate::sandbox::{Failure, Limits, Plugin, PluginError, Runtime, sha256_hex, wit};

pub use super::BUILTIN_PLUGINS;

/// Where a loaded plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the binary.
    Builtin,
    /// Loaded from this file.
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => write!(f, "built-in"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

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
}

impl HealthKind {
    /// Every kind, in declaration order, for consumers that count or label
    /// each one (metrics) and for checking the written names.
    pub const ALL: [HealthKind; 16] = [
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
        }
    }
}

impl std::fmt::Display for HealthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A structured report about a plugin's health, written as one JSON line to
/// stderr (`{"type":"health",...}`) so log pipelines can alert on it.
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

/// Writes health events as JSON lines to stderr.
pub struct StderrHealth;

impl HealthSink for StderrHealth {
    fn report(&mut self, event: &HealthEvent) {
        if let Ok(line) = serde_json::to_string(event) {
            eprintln!("{line}");
        }
    }
}

/// Keeps health events in memory (tests).
impl HealthSink for Vec<HealthEvent> {
    fn report(&mut self, event: &HealthEvent) {
        self.push(event.clone());
    }
}

/// A configured, supervised detector.
pub struct LoadedPlugin {
    /// The running instance.
    pub plugin: Plugin,
    /// Where it came from.
    pub origin: Origin,
    /// Its weight in the aggregate.
    pub weight: f64,
    runtime: Runtime,
    component: Component,
    label: String,
    limits: Limits,
    config: Vec<(String, String)>,
    snapshot: Option<Vec<u8>>,
    replay: Vec<wit::Batch>,
    snapshot_interval: usize,
    schedule: SnapshotSchedule,
    max_failures: u32,
    failures: u32,
    quarantined: bool,
}

/// What became of one batch in one detector.
#[derive(Debug)]
pub enum BatchOutcome {
    /// The detector's findings (possibly after a recovery).
    Findings(Vec<wit::Finding>),
    /// The detector failed this batch even after a retry; it saw no findings.
    Failed(PluginError),
    /// The detector is quarantined and was not called.
    Quarantined,
}

impl LoadedPlugin {
    /// The detector's name.
    pub fn name(&self) -> &str {
        &self.plugin.info().name
    }

    /// Whether it has been quarantined.
    pub fn is_quarantined(&self) -> bool {
        self.quarantined
    }

    /// Observe a batch under supervision. `batch_no` and `health` are for
    /// reporting.
    pub fn observe(
        &mut self,
        batch: &wit::Batch,
        batch_no: u64,
        health: &mut dyn HealthSink,
    ) -> BatchOutcome {
        if self.quarantined {
            return BatchOutcome::Quarantined;
        }
        let report = |health: &mut dyn HealthSink, name: &str, event, limit, message: String| {
            health.report(&HealthEvent::new(name, event, limit, message).at_batch(
                batch_no,
                batch.events.seq.first().copied().unwrap_or(0),
                batch.events.len(),
            ))
        };
        let began = Instant::now();
        let observed = self.plugin.observe(batch);
        self.schedule.observing += began.elapsed();
        let err = match observed {
            Ok(findings) => {
                self.after_success(batch, batch_no, health, &report);
                return BatchOutcome::Findings(findings);
            }
            Err(e) => e,
        };
        let name = self.name().to_string();
        report(
            health,
            &name,
            HealthKind::Failed,
            failure_of(&err),
            err.to_string(),
        );
        let retried = self.restart().and_then(|()| self.plugin.observe(batch));
        match retried {
            Ok(findings) => {
                report(
                    health,
                    &name,
                    HealthKind::Recovered,
                    None,
                    format!(
                        "re-instantiated from the last good snapshot, replayed {} batches, and the retry succeeded",
                        self.replay.len()
                    ),
                );
                self.after_success(batch, batch_no, health, &report);
                BatchOutcome::Findings(findings)
            }
            Err(e) => {
                self.failures += 1;
                report(
                    health,
                    &name,
                    HealthKind::RetryFailed,
                    failure_of(&e),
                    e.to_string(),
                );
                if self.failures >= self.max_failures {
                    self.quarantine();
                    report(
                        health,
                        &name,
                        HealthKind::Quarantined,
                        failure_of(&e),
                        format!(
                            "failed {} batches; it gets no more events in this run, the other detectors keep scoring",
                            self.failures
                        ),
                    );
                } else {
                    // The instance that failed the retry is poisoned; start
                    // clean for the next batch, or stop if even that fails.
                    self.restart_or_quarantine(health, &report, "after a failed retry");
                }
                BatchOutcome::Failed(e)
            }
        }
    }

    fn after_success(
        &mut self,
        batch: &wit::Batch,
        _batch_no: u64,
        health: &mut dyn HealthSink,
        report: Report<'_>,
    ) {
        self.replay.push(batch.clone());
        self.schedule.replay_bytes += batch_bytes(batch);
        // After a refused snapshot the batches since the last good one are
        // kept, and the next attempt waits a whole interval again: a
        // snapshot that is too large would otherwise be retried (and
        // copied) after every batch.
        if self.replay.len() < self.snapshot_interval
            || !self.replay.len().is_multiple_of(self.snapshot_interval)
            || !self.schedule.due()
        {
            return;
        }
        let began = Instant::now();
        match self.plugin.snapshot() {
            Ok(snap) => {
                self.schedule.taken(began.elapsed(), snap.len());
                self.snapshot = Some(snap);
                self.replay.clear();
            }
            Err(e) => {
                // Keep the older snapshot and the batches since it, so
                // recovery still works, and try again at the next interval;
                // but never hold more than a few intervals of batches: past
                // that, recovery starts the detector afresh instead.
                let name = self.name().to_string();
                report(
                    health,
                    &name,
                    HealthKind::SnapshotRefused,
                    failure_of(&e),
                    e.to_string(),
                );
                if self.replay.len() >= MAX_REPLAY_INTERVALS * self.snapshot_interval {
                    self.replay.clear();
                    self.schedule = SnapshotSchedule::default();
                    self.snapshot = None;
                    report(
                        health,
                        &name,
                        HealthKind::RecoveryStateDropped,
                        failure_of(&e),
                        "no snapshot could be kept; if this detector fails, it restarts with no learned state".into(),
                    );
                }
                if let Some(why) = self.snapshot_failed(&e) {
                    report(health, &name, HealthKind::Quarantined, failure_of(&e), why);
                }
            }
        }
    }

    /// After a failed snapshot: one that trapped or ran out of time or
    /// memory left the instance poisoned and counts as a failure toward
    /// quarantine (a snapshot that loops would otherwise block scoring for
    /// the whole snapshot budget at every attempt); the instance is
    /// replaced by a fresh one from the last good snapshot. Returns why the
    /// detector was quarantined, when it was.
    fn snapshot_failed(&mut self, e: &PluginError) -> Option<String> {
        if !matches!(
            e,
            PluginError::Call {
                failure: Failure::Trap | Failure::Time | Failure::Memory | Failure::Stack,
                ..
            }
        ) {
            return None;
        }
        self.failures += 1;
        if self.failures >= self.max_failures {
            self.quarantine();
            return Some(format!(
                "failed {} times, the last in a snapshot; it gets no more events in this run, the other detectors keep scoring",
                self.failures
            ));
        }
        match self.restart() {
            Ok(()) => None,
            Err(re) => {
                self.quarantine();
                Some(format!(
                    "after a failed snapshot it could not be restarted ({re}); it gets no more events in this run, the other detectors keep scoring"
                ))
            }
        }
    }

    /// Replace a poisoned instance with a fresh one from the last good
    /// snapshot; when even that fails, stop feeding the detector and report
    /// the quarantine, saying what went before (`after`).
    fn restart_or_quarantine(
        &mut self,
        health: &mut dyn HealthSink,
        report: Report<'_>,
        after: &str,
    ) {
        if let Err(e) = self.restart() {
            self.quarantine();
            let name = self.name().to_string();
            report(
                health,
                &name,
                HealthKind::Quarantined,
                failure_of(&e),
                format!(
                    "{after} it could not be restarted ({e}); it gets no more events in this run, the other detectors keep scoring"
                ),
            );
        }
    }

    /// This detector's state for a durable checkpoint: a fresh snapshot of
    /// everything it has learned. `Ok(None)` for a quarantined detector. A
    /// snapshot taken here also becomes the recovery point.
    pub fn checkpoint(&mut self) -> Result<Option<Vec<u8>>, PluginError> {
        if self.quarantined {
            return Ok(None);
        }
        let began = Instant::now();
        let snap = match self.plugin.snapshot() {
            Ok(snap) => snap,
            Err(e) => {
                if let Some(why) = self.snapshot_failed(&e) {
                    return Err(PluginError::Call {
                        plugin: self.name().to_string(),
                        call: "snapshot",
                        message: format!("{e}; {why}"),
                        failure: failure_of(&e).unwrap_or(Failure::Trap),
                    });
                }
                return Err(e);
            }
        };
        self.schedule.taken(began.elapsed(), snap.len());
        self.snapshot = Some(snap.clone());
        self.replay.clear();
        Ok(Some(snap))
    }

    /// Drop what this detector has learned and start a fresh, configured
    /// instance: for a resumed run whose saved state the detector refused.
    pub fn start_afresh(&mut self) -> Result<(), PluginError> {
        self.snapshot = None;
        self.replay.clear();
        self.schedule = SnapshotSchedule::default();
        self.restart()
    }

    /// Continue from a checkpoint's snapshot (a resumed run): restore it
    /// into the instance and keep it as the recovery point.
    pub fn resume(&mut self, snapshot: &[u8]) -> Result<(), PluginError> {
        self.plugin.restore(snapshot)?;
        self.snapshot = Some(snapshot.to_vec());
        self.replay.clear();
        self.schedule = SnapshotSchedule::after(snapshot.len());
        Ok(())
    }

    /// Stop feeding this detector and drop its recovery state: it failed
    /// repeatedly, in this run or in the one a checkpoint was taken from.
    pub fn quarantine(&mut self) {
        self.quarantined = true;
        self.replay.clear();
        self.schedule = SnapshotSchedule::default();
        self.snapshot = None;
    }

    /// A fresh instance in the state of the last good snapshot plus the
    /// batches observed since.
    fn restart(&mut self) -> Result<(), PluginError> {
        let mut fresh = self
            .runtime
            .instantiate(&self.label, &self.component, self.limits)?;
        fresh.configure(&self.config)?;
        if let Some(snap) = &self.snapshot {
            fresh.restore(snap)?;
        }
        for b in &self.replay {
            fresh.observe(b)?;
        }
        self.plugin = fresh;
        Ok(())
    }
}

/// When the next recovery snapshot is taken. Snapshots grow with what a
/// detector has learned (hundreds of MiB at a million users), so taking one
/// every `snapshot_interval_batches` would cost more than scoring. Instead
/// a snapshot waits until the plugin has spent [`SNAPSHOT_COST_RATIO`] times
/// the last snapshot's duration observing, so snapshots take at most about
/// a tenth of its time; and it is taken regardless once the batches kept for
/// replay are as large as that snapshot, so recovery never holds more than
/// about twice the detector's state.
#[derive(Debug, Default)]
struct SnapshotSchedule {
    /// Time spent in `observe` since the last snapshot.
    observing: Duration,
    /// How long the last snapshot took.
    cost: Duration,
    /// Its size, bytes.
    size: usize,
    /// Approximate size of the batches kept for replay, bytes.
    replay_bytes: usize,
}

/// Snapshots may take about 1/this of a plugin's time.
const SNAPSHOT_COST_RATIO: u32 = 10;

/// A snapshot quicker than this is always worth taking on schedule: small
/// states stay on the plain every-N-batches rhythm.
const CHEAP_SNAPSHOT: Duration = Duration::from_millis(5);

impl SnapshotSchedule {
    /// After restoring a snapshot of `size` bytes whose cost is not known.
    fn after(size: usize) -> Self {
        SnapshotSchedule {
            size,
            ..SnapshotSchedule::default()
        }
    }

    /// Whether a snapshot is worth its cost now.
    fn due(&self) -> bool {
        self.cost <= CHEAP_SNAPSHOT
            || self.observing >= self.cost * SNAPSHOT_COST_RATIO
            || self.replay_bytes >= self.size
    }

    /// A snapshot of `size` bytes was taken in `cost`.
    fn taken(&mut self, cost: Duration, size: usize) {
        *self = SnapshotSchedule {
            cost,
            size,
            ..SnapshotSchedule::default()
        };
    }
}

/// What a batch kept for replay holds in memory, roughly.
fn batch_bytes(batch: &wit::Batch) -> usize {
    batch.events.byte_len()
        + batch
            .symbols
            .iter()
            .map(|s| std::mem::size_of_val(s) + s.text.len())
            .sum::<usize>()
}

/// How a supervised plugin reports a health event: (sink, plugin name,
/// event, limit, message).
type Report<'a> = &'a dyn Fn(&mut dyn HealthSink, &str, HealthKind, Option<Failure>, String);

/// Replay is kept for at most this many snapshot intervals when snapshots
/// keep failing; past that the state is given up rather than memory.
const MAX_REPLAY_INTERVALS: usize = 4;

fn failure_of(e: &PluginError) -> Option<Failure> {
    match e {
        PluginError::Call { failure, .. } => Some(*failure),
        _ => None,
    }
}

/// Why the set of detectors could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A plugin failed to compile, instantiate or configure.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The plugins directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Two files in the directory are the same detector.
    #[error("{first} and {second} are both detector `{name}`; keep one")]
    Duplicate {
        /// Detector name.
        name: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// The config names a detector that is not loaded.
    #[error("config has [detectors.{name}], but no detector `{name}` is loaded (loaded: {loaded})")]
    UnknownDetector {
        /// The name in the config.
        name: String,
        /// What is loaded.
        loaded: String,
    },
    /// A plugin file's sha256 is not the pinned one.
    #[error("{path}: sha256 is {actual}, but [pins] requires {pinned}; refusing to load it")]
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// Its hash.
        actual: String,
        /// The pinned hash.
        pinned: String,
    },
    /// A pinned file is not in the plugins directory.
    #[error("[pins] names `{file}`, but it is not in the plugins directory{}", dir.as_ref().map(|d| format!(" {}", d.display())).unwrap_or_else(|| " (no --plugins given)".into()))]
    PinnedMissing {
        /// The pinned file name.
        file: String,
        /// The directory searched.
        dir: Option<PathBuf>,
    },
    /// Nothing is left to score with.
    #[error("no detectors are enabled")]
    NoDetectors,
    /// A plugin's name reads like a built-in's without being it.
    #[error(
        "{path}: detector name `{name}` looks like the built-in `{builtin}`; \
         name it `{builtin}` to replace the built-in, or choose a distinct name"
    )]
    Confusable {
        /// The file.
        path: String,
        /// The name it gave.
        name: String,
        /// The built-in it could be mistaken for.
        builtin: &'static str,
    },
}

/// Refuse a plugin file whose name could be mistaken for a built-in's, and
/// say so on stderr (as a `replaced_builtin` health event) when it replaces
/// one: an operator must never be unaware which code runs under a
/// built-in's name.
fn check_file_name(label: &str, name: &str) -> Result<(), LoadError> {
    let builtins: Vec<&'static str> = BUILTIN_PLUGINS.iter().map(|(n, _)| *n).collect();
    if let Some(builtin) = crate::sandbox::gate::confusable_with(name, &builtins) {
        return Err(LoadError::Confusable {
            path: label.to_string(),
            name: name.to_string(),
            builtin,
        });
    }
    if builtins.contains(&name) {
        StderrHealth.report(&HealthEvent::new(
            name,
            HealthKind::ReplacedBuiltin,
            None,
            format!("{label} replaces the built-in detector `{name}`"),
        ));
    }
    Ok(())
}

struct Candidate {
    plugin: Plugin,
    component: Component,
    label: String,
    origin: Origin,
}

/// Compile, instantiate and configure the detectors for a run: built-ins
/// first, then `dir`'s `.wasm` files in name order, a file replacing a
/// built-in of the same name. Disabled detectors are dropped.
pub fn load(
    runtime: &Runtime,
    config: &Config,
    dir: Option<&Path>,
) -> Result<Vec<LoadedPlugin>, LoadError> {
    let defaults = config.sandbox.limits_for(None);
    let mut loaded: Vec<Candidate> = Vec::new();
    for (name, bytes) in BUILTIN_PLUGINS {
        let label = format!("builtin:{name}");
        let component = runtime.compile(&label, bytes)?;
        loaded.push(Candidate {
            plugin: runtime.instantiate(&label, &component, defaults)?,
            component,
            label,
            origin: Origin::Builtin,
        });
    }
    let mut pins_seen: Vec<&str> = Vec::new();
    if let Some(dir) = dir {
        let io = |source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_plugin_file(p) && p.is_file())
            .collect();
        files.sort();
        let mut from_dir: Vec<String> = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            if let Some(pinned_name) = check_pin(config, &path, &bytes)? {
                pins_seen.push(pinned_name);
            }
            let label = path.display().to_string();
            let component = runtime.compile(&label, &bytes)?;
            let plugin = runtime.instantiate(&label, &component, defaults)?;
            let name = plugin.info().name.clone();
            check_file_name(&label, &name)?;
            if let Some(first) = loaded
                .iter()
                .find(|l| l.plugin.info().name == name && from_dir.contains(&name))
            {
                return Err(LoadError::Duplicate {
                    name,
                    first: first.origin.to_string(),
                    second: label,
                });
            }
            loaded.retain(|l| l.plugin.info().name != name);
            from_dir.push(name);
            loaded.push(Candidate {
                plugin,
                component,
                label,
                origin: Origin::File(path),
            });
        }
    }
    if let Some(missing) = config
        .pins
        .keys()
        .find(|k| !pins_seen.contains(&k.as_str()))
    {
        return Err(LoadError::PinnedMissing {
            file: missing.clone(),
            dir: dir.map(Path::to_path_buf),
        });
    }
    for name in config.detectors.keys() {
        if !loaded.iter().any(|l| &l.plugin.info().name == name) {
            return Err(LoadError::UnknownDetector {
                name: name.clone(),
                loaded: loaded
                    .iter()
                    .map(|l| l.plugin.info().name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut enabled = Vec::with_capacity(loaded.len());
    for c in loaded {
        enabled.extend(configured(runtime, config, c)?);
    }
    if enabled.is_empty() {
        return Err(LoadError::NoDetectors);
    }
    Ok(enabled)
}

fn supervise(
    runtime: &Runtime,
    sandbox: &SandboxConfig,
    c: Candidate,
    dc: Option<&crate::config::DetectorConfig>,
) -> Result<LoadedPlugin, LoadError> {
    let limits = sandbox.limits_for(dc);
    let config = dc.map(|d| d.plugin_pairs()).unwrap_or_default();
    let mut plugin = if limits == sandbox.limits_for(None) {
        c.plugin
    } else {
        runtime.instantiate(&c.label, &c.component, limits)?
    };
    plugin.configure(&config)?;
    Ok(LoadedPlugin {
        plugin,
        origin: c.origin,
        weight: dc.map(|d| d.weight).unwrap_or(1.0),
        runtime: runtime.clone(),
        component: c.component,
        label: c.label,
        limits,
        config,
        snapshot: None,
        replay: Vec::new(),
        snapshot_interval: sandbox.snapshot_interval_batches,
        schedule: SnapshotSchedule::default(),
        max_failures: sandbox.max_failures,
        failures: 0,
        quarantined: false,
    })
}

/// Whether `path` names a plugin in `--plugins DIR`: a `.wasm` file whose
/// name does not start with a dot. Hidden files are what copying and
/// deployment tools write while a file is on its way (a temporary
/// `.volume.wasm` renamed into place once complete), so they are skipped
/// both at start and by `ueba serve` watching the directory, which
/// therefore always agree on which plugins a directory holds.
pub fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "wasm")
        && path
            .file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}

/// Refuse `bytes` read from `path` if `[pins]` pins the file to another
/// sha256; the pin's key when the file is pinned and matches.
fn check_pin<'c>(
    config: &'c Config,
    path: &Path,
    bytes: &[u8],
) -> Result<Option<&'c str>, LoadError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some((pinned_name, pinned)) = config.pins.get_key_value(&file_name) else {
        return Ok(None);
    };
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(pinned) {
        return Err(LoadError::PinMismatch {
            path: path.to_path_buf(),
            actual,
            pinned: pinned.clone(),
        });
    }
    Ok(Some(pinned_name))
}

/// Load the plugin file at `path` (bytes `bytes`, read by the caller so
/// that it knows exactly which content it loaded) as [`load`] would: the
/// pin checked, compiled, instantiated and configured from
/// `[detectors.NAME]`. This is how `ueba serve` prepares a new or changed
/// plugin off the scoring thread. `Ok(None)` when the config disables the
/// detector.
pub fn load_file(
    runtime: &Runtime,
    config: &Config,
    path: &Path,
    bytes: &[u8],
) -> Result<Option<LoadedPlugin>, LoadError> {
    check_pin(config, path, bytes)?;
    let label = path.display().to_string();
    start(
        runtime,
        config,
        label,
        bytes,
        Origin::File(path.to_path_buf()),
    )
}

/// Compile, instantiate and configure one plugin as [`load`] would.
fn start(
    runtime: &Runtime,
    config: &Config,
    label: String,
    bytes: &[u8],
    origin: Origin,
) -> Result<Option<LoadedPlugin>, LoadError> {
    let component = runtime.compile(&label, bytes)?;
    let plugin = runtime.instantiate(&label, &component, config.sandbox.limits_for(None))?;
    if matches!(origin, Origin::File(_)) {
        check_file_name(&label, &plugin.info().name)?;
    }
    let candidate = Candidate {
        plugin,
        component,
        label,
        origin,
    };
    configured(runtime, config, candidate)
}

/// The built-in detector `name`, started and configured as [`load`] would;
/// `Ok(None)` when there is no such built-in or the config disables it.
/// `ueba serve` falls back to it when the file that replaced it is removed.
pub fn load_builtin(
    runtime: &Runtime,
    config: &Config,
    name: &str,
) -> Result<Option<LoadedPlugin>, LoadError> {
    let Some((_, bytes)) = BUILTIN_PLUGINS.iter().find(|(n, _)| *n == name) else {
        return Ok(None);
    };
    start(
        runtime,
        config,
        format!("builtin:{name}"),
        bytes,
        Origin::Builtin,
    )
}

/// A candidate supervised under its `[detectors.NAME]` section, or `None`
/// when that section disables it.
fn configured(
    runtime: &Runtime,
    config: &Config,
    c: Candidate,
) -> Result<Option<LoadedPlugin>, LoadError> {
    let dc = config.detectors.get(&c.plugin.info().name);
    if dc.is_some_and(|d| !d.enabled) {
        return Ok(None);
    }
    supervise(runtime, &config.sandbox, c, dc).map(Some)
}

/// What became of the running version's state when a new version of the
/// same detector took over ([`LoadedPlugin::take_over`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handover {
    /// The new version restored the running version's snapshot and goes on
    /// from everything it had learned.
    Carried,
    /// The new version starts learning afresh; why.
    Reset(String),
}

impl LoadedPlugin {
    /// Take over from `old`, the running version of the same detector, at a
    /// batch boundary: `old`'s state is snapshotted and restored into this
    /// instance, which also keeps it as its recovery point. When `old` has
    /// no state to give (quarantined, or its snapshot fails) or this
    /// version refuses it (a changed state format) or traps on it, this
    /// instance starts afresh, configured, and the reason is returned for
    /// the health stream. `old` is left to be dropped.
    pub fn take_over(&mut self, old: &mut LoadedPlugin) -> Handover {
        let reason = match old.checkpoint() {
            Ok(Some(snapshot)) => match self.resume(&snapshot) {
                Ok(()) => return Handover::Carried,
                Err(e) => {
                    // A refused or trapped restore may leave the instance
                    // half-restored or poisoned: start from a clean one.
                    let refused =
                        format!("the new version refused the running version's state: {e}");
                    match self.restart() {
                        Ok(()) => refused,
                        Err(e) => {
                            self.quarantine();
                            format!(
                                "{refused}; a fresh instance could not be started either, so it is quarantined: {e}"
                            )
                        }
                    }
                }
            },
            Ok(None) => "the running version was quarantined and had no state to hand over".into(),
            Err(e) => format!("the running version could not snapshot its state: {e}"),
        };
        Handover::Reset(reason)
    }
}

#[cfg(test)]
#[path = "plugins_tests.rs"]
mod tests;
