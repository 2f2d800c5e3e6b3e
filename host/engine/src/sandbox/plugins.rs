//! Keeping detectors running. (Which ones run is [`super::load`]; what is
//! said about their health, [`super::health`].)
//!
//! A detector is third-party code, so each one is supervised: its state is
//! snapshotted every `sandbox.snapshot_interval_batches` batches' worth of
//! events (that many times `input.batch_size`, whatever length the batches
//! were cut to) and the batches since are kept. When a call traps or hits a limit, the plugin is
//! re-instantiated from the last good snapshot, the kept batches are replayed
//! (their findings were already used), and the failed batch is retried once.
//! A plugin that keeps failing is quarantined. Each step is reported as a
//! [`HealthEvent`]; the other detectors' results are never affected.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Component;

use crate::config::{DetectorConfig, SandboxConfig};
use crate::sandbox::{Failure, Limits, Plugin, PluginError, Runtime, wit};

pub use super::BUILTIN_PLUGINS;
pub use super::health::{HealthEvent, HealthKind, HealthSink, StderrHealth};
use super::load::Candidate;
pub use super::load::{LoadError, is_plugin_file, load, load_builtin, load_file};

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
    /// Events in `replay`.
    replay_events: usize,
    /// Events between snapshots: `snapshot_interval_batches` batches of
    /// `input.batch_size`, however short the batches are (a batch also ends
    /// at `input.block_minutes` of event time, so counting batches would
    /// snapshot a sparse log's quiet hours many times as often). A snapshot
    /// is tried after the batch that takes `replay_events` past a multiple
    /// of it.
    snapshot_interval: usize,
    schedule: SnapshotSchedule,
    max_failures: u32,
    failures: u32,
    slow: SlowGuard,
    quarantined: bool,
    /// The last set of population shares exchanged (every shard's, shared
    /// by the instances of the detector) and this instance's place in it:
    /// it absorbed the others. A restart re-applies them after the replay:
    /// absorbing replaces, so giving the same set again changes nothing
    /// when the snapshot already holds it.
    shares: Option<(Arc<Vec<Vec<u8>>>, usize)>,
}

/// The shares in `all` but the one at `me`: what one instance absorbs.
/// A copy, made for the call only (the contract takes a list of lists).
fn others(all: &[Vec<u8>], me: usize) -> Vec<Vec<u8>> {
    all.iter()
        .enumerate()
        .filter(|(k, _)| *k != me)
        .map(|(_, s)| s.clone())
        .collect()
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
        let took = began.elapsed();
        self.schedule.observing += took;
        let err = match observed {
            Ok(findings) => {
                match self.slow.batch(took, batch.events.len()) {
                    Pace::Usual => {}
                    Pace::SlowFrom(budget) => report(
                        health,
                        self.name(),
                        HealthKind::Slow,
                        None,
                        format!(
                            "took {} ms for {} events, over its {} ms ({} µs an event, at least {} ms a batch); {} such batches in a row quarantine it",
                            took.as_millis(),
                            batch.events.len(),
                            budget.as_millis(),
                            self.slow.us_per_event,
                            SLOW_FLOOR.as_millis(),
                            self.slow.max_streak,
                        ),
                    ),
                    Pace::TooSlow(budget) => {
                        self.quarantine();
                        report(
                            health,
                            self.name(),
                            HealthKind::Quarantined,
                            None,
                            format!(
                                "slow on {} batches in a row (the last took {} ms for {} events, over its {} ms); it gets no more events in this run, the other detectors keep scoring",
                                self.slow.max_streak,
                                took.as_millis(),
                                batch.events.len(),
                                budget.as_millis(),
                            ),
                        );
                        // Its findings for this batch stand: it finished it.
                        return BatchOutcome::Findings(findings);
                    }
                }
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
        let before = self.replay_events;
        self.replay_events += batch.events.len();
        self.schedule.replay_bytes += batch_bytes(batch);
        // After a refused snapshot the batches since the last good one are
        // kept, and the next attempt waits for the next multiple of the
        // interval: a snapshot that is too large would otherwise be retried
        // (and copied) after every batch.
        let interval = self.snapshot_interval.max(1);
        if self.replay_events / interval == before / interval || !self.schedule.due() {
            return;
        }
        let began = Instant::now();
        match self.plugin.snapshot() {
            Ok(snap) => {
                self.schedule.taken(began.elapsed(), snap.len());
                self.snapshot = Some(snap);
                self.clear_replay();
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
                if self.replay_events >= MAX_REPLAY_INTERVALS * self.snapshot_interval {
                    self.clear_replay();
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
        let PluginError::Call {
            call,
            failure: Failure::Trap | Failure::Time | Failure::Memory | Failure::Stack,
            ..
        } = e
        else {
            return None;
        };
        self.failures += 1;
        if self.failures >= self.max_failures {
            self.quarantine();
            return Some(format!(
                "failed {} times, the last in its `{call}` call; it gets no more events in this run, the other detectors keep scoring",
                self.failures
            ));
        }
        match self.restart() {
            Ok(()) => None,
            Err(re) => {
                self.quarantine();
                Some(format!(
                    "after a failed `{call}` call it could not be restarted ({re}); it gets no more events in this run, the other detectors keep scoring"
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
        self.clear_replay();
        Ok(Some(snap))
    }

    /// Forget the batches kept for replay (a snapshot now stands for them),
    /// and wait a whole interval for the next snapshot.
    fn clear_replay(&mut self) {
        self.replay.clear();
        self.replay_events = 0;
    }

    /// Drop what this detector has learned and start a fresh, configured
    /// instance: for a resumed run whose saved state the detector refused.
    pub fn start_afresh(&mut self) -> Result<(), PluginError> {
        self.snapshot = None;
        self.shares = None;
        self.clear_replay();
        self.schedule = SnapshotSchedule::default();
        self.restart()
    }

    /// Continue from a checkpoint's snapshot (a resumed run): restore it
    /// into the instance and keep it as the recovery point.
    pub fn resume(&mut self, snapshot: &[u8]) -> Result<(), PluginError> {
        self.plugin.restore(snapshot)?;
        // The snapshot holds what the instance had absorbed.
        self.shares = None;
        self.snapshot = Some(snapshot.to_vec());
        self.clear_replay();
        self.schedule = SnapshotSchedule::after(snapshot.len());
        Ok(())
    }

    /// A second, fresh instance of the same detector with the same
    /// configuration, limits and supervision, holding no learned state: a
    /// shard of its own ([`crate::pipeline::Scorer::with_shards`]). Each
    /// instance has its own store, so its memory limit and fuel are its own.
    pub fn another(&self) -> Result<LoadedPlugin, PluginError> {
        let mut plugin = self
            .runtime
            .instantiate(&self.label, &self.component, self.limits)?;
        plugin.configure(&self.config)?;
        Ok(LoadedPlugin {
            plugin,
            origin: self.origin.clone(),
            weight: self.weight,
            runtime: self.runtime.clone(),
            component: self.component.clone(),
            label: self.label.clone(),
            limits: self.limits,
            config: self.config.clone(),
            snapshot: None,
            replay: Vec::new(),
            replay_events: 0,
            snapshot_interval: self.snapshot_interval,
            schedule: SnapshotSchedule::default(),
            max_failures: self.max_failures,
            failures: 0,
            slow: self.slow.fresh(),
            quarantined: false,
            shares: None,
        })
    }

    /// Stop feeding this detector and drop its recovery state: it failed
    /// repeatedly, in this run or in the one a checkpoint was taken from.
    pub fn quarantine(&mut self) {
        self.quarantined = true;
        self.clear_replay();
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
        if let Some((all, me)) = &self.shares {
            fresh.absorb(&others(all, *me))?;
        }
        self.plugin = fresh;
        Ok(())
    }

    /// Whether this instance takes part in the population exchange
    /// between shards: a running plugin of contract 0.4.0 or later.
    pub fn shares_population(&self) -> bool {
        !self.quarantined && self.plugin.shares_population()
    }

    /// This instance's own population share for the exchange between
    /// shards; empty when it does not take part or its `population` call
    /// failed. A failure is reported, and one that trapped or hit a limit
    /// counts toward quarantine and restarts the instance, as a failed
    /// snapshot does.
    pub fn population(&mut self, health: &mut dyn HealthSink) -> Vec<u8> {
        if !self.shares_population() {
            return Vec::new();
        }
        match self.plugin.population() {
            Ok(share) => share,
            Err(e) => {
                self.population_refused(&e, health);
                Vec::new()
            }
        }
    }

    /// Give this instance the other shards' latest shares: every shard's
    /// share is in `all`, this instance's at `me`. On failure the
    /// instance keeps the figures it had (a trap restarts it from its last
    /// good state and the shares it took before); the failure is reported.
    pub fn absorb(&mut self, all: Arc<Vec<Vec<u8>>>, me: usize, health: &mut dyn HealthSink) {
        if !self.shares_population() {
            return;
        }
        match self.plugin.absorb(&others(&all, me)) {
            Ok(()) => self.shares = Some((all, me)),
            Err(e) => self.population_refused(&e, health),
        }
    }

    /// The most bytes of population shares one exchange may hold in all:
    /// each instance takes every other shard's share into its own memory,
    /// so a set larger than a snapshot may be could not be absorbed, and
    /// the host would hold it once per shard.
    pub fn share_limit(&self) -> usize {
        self.limits.max_snapshot_bytes
    }

    /// Report that the shards' shares reached `total` bytes, past
    /// [`LoadedPlugin::share_limit`], so none were exchanged.
    pub fn shares_too_large(&self, total: usize, shards: usize, health: &mut dyn HealthSink) {
        health.report(&HealthEvent::new(
            self.name(),
            HealthKind::PopulationRefused,
            Some(Failure::Snapshot),
            format!(
                "the population shares of its {shards} shards reach {total} bytes, more than the {} bytes (sandbox.max_snapshot_mib) each shard would take in; not exchanged, so each shard keeps its own population until the next exchange",
                self.share_limit()
            ),
        ));
    }

    fn population_refused(&mut self, e: &PluginError, health: &mut dyn HealthSink) {
        let name = self.name().to_string();
        health.report(&HealthEvent::new(
            &name,
            HealthKind::PopulationRefused,
            failure_of(e),
            e.to_string(),
        ));
        if let Some(why) = self.snapshot_failed(e) {
            health.report(&HealthEvent::new(
                &name,
                HealthKind::Quarantined,
                failure_of(e),
                why,
            ));
        }
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
pub(crate) struct SnapshotSchedule {
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

pub(crate) fn supervise(
    runtime: &Runtime,
    sandbox: &SandboxConfig,
    batch_size: usize,
    c: Candidate,
    dc: Option<&crate::config::DetectorConfig>,
) -> Result<LoadedPlugin, LoadError> {
    let snapshot_interval = sandbox
        .snapshot_interval_batches
        .saturating_mul(batch_size.max(1));
    let limits = Limits::for_detector(sandbox, dc);
    let config = dc.map(|d| d.plugin_pairs()).unwrap_or_default();
    let mut plugin = if limits == Limits::for_detector(sandbox, None) {
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
        replay_events: 0,
        snapshot_interval,
        schedule: SnapshotSchedule::default(),
        max_failures: sandbox.max_failures,
        failures: 0,
        slow: SlowGuard::for_detector(sandbox, dc),
        quarantined: false,
        shares: None,
    })
}

/// The least time a batch is allowed before it counts as slow, however
/// few its events: a call's own cost (lowering the batch, lifting the
/// findings) and a busy machine's pauses are not a detector's slowness.
pub const SLOW_FLOOR: Duration = Duration::from_millis(10);

/// The time a batch of `events` is allowed before it counts as slow:
/// `us_per_event` for each event, at least [`SLOW_FLOOR`]; `None` when
/// `us_per_event` is 0 (no pace is kept).
fn pace_budget(us_per_event: u64, events: usize) -> Option<Duration> {
    if us_per_event == 0 {
        return None;
    }
    let events = u64::try_from(events).unwrap_or(u64::MAX);
    Some(Duration::from_micros(us_per_event.saturating_mul(events)).max(SLOW_FLOOR))
}

/// How a detector keeps pace: a batch that took longer than
/// `us_per_event` for each of its events (and [`SLOW_FLOOR`]) is slow, and
/// `max_streak` slow batches in a row quarantine the detector. The batch
/// timeout stops a call that never ends; this stops one that always ends
/// just in time, which would hold scoring back as surely: a plugin taking
/// 4.9 s over each batch of a few thousand events, under a 5 s timeout,
/// scores a million events in hours. A run of slow batches, not one, so a
/// pause of the machine or a detector's costly first batch is no reason.
/// `ueba plugin test` holds a plugin to the same guard.
#[derive(Clone, Copy, Debug)]
pub struct SlowGuard {
    /// Time allowed per event, µs; 0 never counts a batch slow.
    us_per_event: u64,
    /// Slow batches in a row that quarantine.
    max_streak: u32,
    /// Slow batches in a row so far.
    streak: u32,
}

/// What [`SlowGuard::batch`] made of a batch.
pub enum Pace {
    /// In time, or slow in a run already reported.
    Usual,
    /// Slow, the first of a run: the time it was allowed.
    SlowFrom(Duration),
    /// The last of a run long enough to quarantine.
    TooSlow(Duration),
}

impl SlowGuard {
    /// The guard for a detector: `[sandbox]`'s pace with its
    /// `[detectors.NAME] max_us_per_event` applied, as
    /// [`Limits::for_detector`] applies the other limits.
    pub fn for_detector(sandbox: &SandboxConfig, detector: Option<&DetectorConfig>) -> SlowGuard {
        SlowGuard::new(
            detector
                .and_then(|d| d.max_us_per_event)
                .unwrap_or(sandbox.max_us_per_event),
            sandbox.max_slow_batches,
        )
    }

    /// A guard allowing `us_per_event` (0: no pace kept) and quarantining
    /// after `max_streak` slow batches in a row.
    fn new(us_per_event: u64, max_streak: u32) -> SlowGuard {
        SlowGuard {
            us_per_event,
            max_streak: max_streak.max(1),
            streak: 0,
        }
    }

    /// The same limits with no run counted, for a new instance.
    fn fresh(&self) -> SlowGuard {
        SlowGuard::new(self.us_per_event, self.max_streak)
    }

    /// Slow batches in a row so far (0 after a batch in time).
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// The time allowed per event, µs (0: no pace kept).
    pub fn us_per_event(&self) -> u64 {
        self.us_per_event
    }

    /// Count a successful batch of `events` that took `took`.
    pub fn batch(&mut self, took: Duration, events: usize) -> Pace {
        let Some(budget) = pace_budget(self.us_per_event, events) else {
            return Pace::Usual;
        };
        if took <= budget {
            self.streak = 0;
            return Pace::Usual;
        }
        self.streak += 1;
        if self.streak >= self.max_streak {
            Pace::TooSlow(budget)
        } else if self.streak == 1 {
            Pace::SlowFrom(budget)
        } else {
            Pace::Usual
        }
    }
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
