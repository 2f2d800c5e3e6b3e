//! The scoring pipeline: events in, alerts out.
//!
//! `AccessEvent` → enrich from identities → intern → reorder within the
//! allowed lateness → batch → every detector → aggregate → alert sink. Data
//! flows one way; memory grows with the number of entities, not with input.
//!
//! Out-of-order rule: an event is held until the newest event time seen is
//! `max_lateness_secs` past it, then released in event-time order (ties in
//! arrival order). An event older than what has already been released is
//! scored immediately, in arrival order, and counted as late.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::event::{AccessEvent, Outcome, format_time};
use crate::identity::{Identities, LocalOffset};
use crate::pipeline::intern::{Interner, InternerState, SymbolKind};
use crate::pipeline::reorder::OrderedQueue;
use crate::risk::aggregate::{Aggregator, AggregatorState, Alert, AlertFinding, UserStanding};
use crate::risk::exceptions::{Exceptions, Subject};
use crate::risk::findings::{FindingRecord, FindingSink};
use crate::sandbox::gate::{self, GateCounts, OutputLimits};
use crate::sandbox::plugins::{BatchOutcome, HealthEvent, HealthSink, LoadedPlugin, StderrHealth};
use crate::sandbox::{Event, wit};

/// Where alerts go.
pub trait AlertSink {
    /// Write one alert.
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()>;
    /// Flush buffered alerts (called after each batch and at the end).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes alerts as JSON lines.
pub struct JsonLines<W: std::io::Write>(pub W);

impl<W: std::io::Write> AlertSink for JsonLines<W> {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, alert)?;
        self.0.write_all(b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Keeps alerts in memory (tests, `ueba demo`).
impl AlertSink for Vec<Alert> {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.push(alert.clone());
        Ok(())
    }
}

/// Counts for the summary; nothing is dropped without being counted here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Events accepted.
    pub events: u64,
    /// Lines rejected as invalid (with `--skip-invalid`).
    pub invalid: u64,
    /// Events that arrived later than the lateness rule allows (still scored).
    pub late: u64,
    /// Findings per detector, in detector order.
    pub findings: Vec<u64>,
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
    /// The alert threshold in force after the last batch: `risk.threshold`,
    /// or where the alert budget has moved it ([`crate::risk::budget`]).
    pub threshold: f64,
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

/// Why scoring stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// Writing alerts failed.
    #[error("writing alerts or findings: {0}")]
    Sink(#[from] std::io::Error),
    /// Saving a durable-state checkpoint failed.
    #[error("saving state: {0}")]
    Checkpoint(#[from] crate::state::StateError),
}

/// Everything a [`Scorer`] needs to continue exactly where it was: the
/// symbol table, the reorder buffer and the batch being filled, the risk
/// state, the counts, and every detector's snapshot. Written by
/// [`Scorer::save_state`] into a durable-state checkpoint
/// (see [`crate::state`]) and read back by [`Scorer::restore_state`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScorerState {
    interner: InternerState,
    held: Vec<Held>,
    arrivals: u64,
    newest_ms: i64,
    released_ms: i64,
    /// The batch being filled: (event time, event); sequence numbers run
    /// up to `next_seq`.
    pending: Vec<(i64, Compact)>,
    next_seq: u64,
    aggregator: AggregatorState,
    stats: SavedStats,
    detectors: Vec<DetectorState>,
}

impl ScorerState {
    /// Events scored before the checkpoint, for messages.
    pub fn events(&self) -> u64 {
        self.stats.events
    }
}

/// The counts carried across a resumed run (health events themselves were
/// already reported by the run that saw them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SavedStats {
    events: u64,
    invalid: u64,
    late: u64,
    findings: Vec<u64>,
    stray_findings: u64,
    alerts: u64,
    batches: u64,
    events_missed_by_failed: u64,
    batch_latency: Vec<Histogram>,
    exceptions: Vec<u64>,
    events_unlearned: u64,
}

/// One detector in a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DetectorState {
    name: String,
    /// Its snapshot; `None` when it was quarantined or refused to snapshot.
    snapshot: Option<Vec<u8>>,
    quarantined: bool,
    /// How far into the symbol log it has been sent.
    sent_symbols: usize,
}

/// A checkpoint's scorer state cannot be used by this run.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The state contradicts itself.
    #[error("the saved scorer state is inconsistent: {0}")]
    Inconsistent(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Held {
    time_ms: i64,
    arrival: u64,
    ev: Compact,
}

/// An interned event waiting in the reorder buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Compact {
    offset: i32,
    user: u32,
    peer: Option<u32>,
    action: u32,
    resource: u32,
    source: Option<u32>,
    rows: u64,
    bytes: Option<u64>,
    outcome: u8,
}

#[derive(Clone, Default)]
struct UserMeta {
    peer: Option<u32>,
    /// The user's time zone, with the span its last offset holds for.
    tz: Option<LocalOffset>,
}

/// Turns [`AccessEvent`]s into contract events: enriches them from the
/// identity file, interns their strings and computes the local-time offset.
/// The scorer uses it, and so do benchmarks that build batches ahead of time.
#[derive(Default)]
pub struct Encoder {
    identities: Identities,
    interner: Interner,
    users: Vec<UserMeta>,
}

impl Encoder {
    /// An encoder enriching from `identities`.
    pub fn new(identities: Identities) -> Self {
        Encoder {
            identities,
            ..Encoder::default()
        }
    }

    /// The interned strings so far.
    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// Symbols from log position `from` on, as contract symbols.
    pub fn symbols_since(&self, from: usize) -> Vec<wit::Symbol> {
        self.interner
            .since(from)
            .map(|(kind, id, text)| wit::Symbol {
                kind: match kind {
                    SymbolKind::User => wit::SymbolKind::User,
                    SymbolKind::Resource => wit::SymbolKind::Resource,
                    SymbolKind::Action => wit::SymbolKind::Action,
                    SymbolKind::Source => wit::SymbolKind::Source,
                    SymbolKind::PeerGroup => wit::SymbolKind::PeerGroup,
                },
                id,
                text: text.to_string(),
            })
            .collect()
    }

    /// Encode one event as the contract event with sequence number `seq`.
    pub fn encode(&mut self, ev: &AccessEvent, seq: u64) -> Event {
        self.compact(ev).into_event(ev.time_ms, seq)
    }

    /// Look up and remember a new user's peer group and time zone.
    fn meta_for(&mut self, user: u32) {
        let idx = user as usize;
        if self.users.len() > idx {
            return;
        }
        self.users.resize(idx + 1, UserMeta::default());
        let name = self.interner.text(SymbolKind::User, user);
        let identity = self.identities.get(name).cloned();
        let peer = identity
            .as_ref()
            .and_then(|i| i.peer_group.as_deref())
            .map(|p| self.interner.intern(SymbolKind::PeerGroup, p));
        self.users[idx] = UserMeta {
            peer,
            tz: identity.and_then(|i| i.timezone).map(LocalOffset::new),
        };
    }

    fn compact(&mut self, ev: &AccessEvent) -> Compact {
        let user = self.interner.intern(SymbolKind::User, &ev.user);
        self.meta_for(user);
        let idx = user as usize;
        let meta = &mut self.users[idx];
        let offset = meta
            .tz
            .as_mut()
            .map(|tz| tz.minutes_at(ev.time_ms))
            .unwrap_or(0);
        let known_peer = meta.peer;
        // The event's own peer_group wins over the identity file's.
        let peer = match &ev.peer_group {
            Some(p) => Some(self.interner.intern(SymbolKind::PeerGroup, p)),
            None => known_peer,
        };
        Compact {
            offset,
            user,
            peer,
            action: self.interner.intern(SymbolKind::Action, &ev.action),
            resource: self.interner.intern(SymbolKind::Resource, &ev.resource),
            source: ev
                .source
                .as_deref()
                .map(|s| self.interner.intern(SymbolKind::Source, s)),
            rows: ev.rows,
            bytes: ev.bytes,
            outcome: ev.outcome as u8,
        }
    }
}

impl Compact {
    fn of_event(e: &Event) -> Compact {
        Compact {
            offset: e.utc_offset_minutes,
            user: e.user,
            peer: e.peer_group,
            action: e.action,
            resource: e.resource,
            source: e.source,
            rows: e.rows,
            bytes: e.bytes,
            outcome: e.outcome as u8,
        }
    }

    fn into_event(self, time_ms: i64, seq: u64) -> Event {
        Event {
            seq,
            time_ms,
            utc_offset_minutes: self.offset,
            user: self.user,
            peer_group: self.peer,
            action: self.action,
            resource: self.resource,
            source: self.source,
            rows: self.rows,
            bytes: self.bytes,
            outcome: match self.outcome {
                x if x == Outcome::Success as u8 => Outcome::Success,
                x if x == Outcome::Failure as u8 => Outcome::Failure,
                _ => Outcome::Unknown,
            },
        }
    }
}

struct Slot {
    loaded: LoadedPlugin,
    sent_symbols: usize,
    /// Health events the gate has reported for this detector; past
    /// [`GATE_REPORTS`], only the counts go on.
    gate_reports: u32,
}

/// Batches with rejected output reported as health events per detector, so
/// a plugin that misbehaves in every batch cannot flood the health stream;
/// the counts in [`Stats::gate`] keep counting every one.
const GATE_REPORTS: u32 = 10;

/// The engine for one run.
pub struct Scorer<S: AlertSink> {
    cfg: Config,
    /// What the gate lets a batch's findings carry, from `[sandbox]`.
    output_limits: OutputLimits,
    encoder: Encoder,
    slots: Vec<Slot>,
    held: OrderedQueue<Held>,
    arrivals: u64,
    newest_ms: i64,
    released_ms: i64,
    batch: wit::Events,
    next_seq: u64,
    aggregator: Aggregator,
    sink: S,
    health: Box<dyn HealthSink>,
    stats: Stats,
    started: Instant,
    /// Events counted by earlier runs whose state this one restored.
    events_before: u64,
    /// Every risk change, when [`Scorer::record_trace`] turned it on.
    trace: Option<Vec<RiskPoint>>,
    /// Where every finding goes, when [`Scorer::with_findings`] set it.
    findings: Option<Box<dyn FindingSink>>,
    /// The analyst's `[[exceptions]]`.
    exceptions: Exceptions,
}

impl<S: AlertSink> Scorer<S> {
    /// A scorer over loaded detectors, writing alerts to `sink`.
    pub fn new(cfg: Config, identities: Identities, plugins: Vec<LoadedPlugin>, sink: S) -> Self {
        let aggregator = Aggregator::new(
            cfg.risk.clone(),
            plugins
                .iter()
                .map(|l| (l.plugin.info().name.clone(), l.weight))
                .collect(),
        );
        let n = plugins.len();
        let threshold = cfg.risk.threshold;
        // The config was validated when it was read; an unusable list here
        // can only come from a caller that built one by hand.
        let exceptions = Exceptions::new(&cfg.exceptions).unwrap_or_default();
        let n_exceptions = exceptions.len();
        Scorer {
            batch: wit::Events::with_capacity(cfg.input.batch_size),
            output_limits: cfg.sandbox.output_limits(),
            cfg,
            encoder: Encoder::new(identities),
            slots: plugins
                .into_iter()
                .map(|loaded| Slot {
                    loaded,
                    sent_symbols: 0,
                    gate_reports: 0,
                })
                .collect(),
            held: OrderedQueue::default(),
            arrivals: 0,
            newest_ms: i64::MIN,
            released_ms: i64::MIN,
            next_seq: 0,
            aggregator,
            sink,
            health: Box::new(StderrHealth),
            stats: Stats {
                threshold,
                exceptions: vec![0; n_exceptions],
                findings: vec![0; n],
                batch_latency: vec![Histogram::default(); n],
                ..Stats::default()
            },
            started: Instant::now(),
            events_before: 0,
            trace: None,
            findings: None,
            exceptions,
        }
    }

    /// Record every risk change in [`Report::trace`] (off by default: it
    /// holds one entry per finding for the whole run). Evaluation needs it
    /// to score user-days by their peak risk and to draw risk timelines.
    pub fn record_trace(&mut self, on: bool) {
        match (on, &self.trace) {
            (true, None) => self.trace = Some(Vec::new()),
            (false, _) => self.trace = None,
            (true, Some(_)) => {}
        }
    }

    /// What the risk state holds about `user` now: their standing and the
    /// strongest findings kept per detector (oldest first), or `None` for a
    /// user never seen. `ueba explain --state` reads a checkpoint this way.
    pub fn user_state(&self, user: &str) -> Option<(UserStanding, Vec<AlertFinding>)> {
        let id = self.encoder.interner.lookup(SymbolKind::User, user)?;
        let standing = self
            .aggregator
            .standings()
            .into_iter()
            .find(|s| s.user == id)?;
        Some((standing, self.aggregator.kept(id)))
    }

    /// Write every finding that passes the gate, with the user's risk after
    /// it, to `sink` ([`crate::risk::findings`]); off by default.
    pub fn with_findings(mut self, sink: Box<dyn FindingSink>) -> Self {
        self.findings = Some(sink);
        self
    }

    /// The findings sink, back from a finished run (`ueba explain`).
    pub fn take_findings(&mut self) -> Option<Box<dyn FindingSink>> {
        self.findings.take()
    }

    /// Send plugin health events somewhere other than stderr.
    pub fn with_health(mut self, health: Box<dyn HealthSink>) -> Self {
        self.health = health;
        self
    }

    /// Snapshot everything needed to continue later, at the current point
    /// of the input. Detectors that cannot snapshot are recorded without
    /// state (a health event says so), so one broken detector cannot stop
    /// the others' state from being saved.
    pub fn save_state(&mut self) -> ScorerState {
        let batch_no = self.stats.batches;
        let mut detectors = Vec::with_capacity(self.slots.len());
        for slot in &mut self.slots {
            let name = slot.loaded.name().to_string();
            let snapshot = match slot.loaded.checkpoint() {
                Ok(s) => s,
                Err(e) => {
                    let event = HealthEvent::new(
                        &name,
                        "checkpoint_without_state",
                        None,
                        format!(
                            "snapshot failed, so this checkpoint holds no state for it; a run resumed from it starts this detector afresh: {e}"
                        ),
                    )
                    .at_batch(batch_no, self.next_seq, 0);
                    self.health.report(&event);
                    self.stats.health.push(event);
                    None
                }
            };
            detectors.push(DetectorState {
                name,
                snapshot,
                quarantined: slot.loaded.is_quarantined(),
                sent_symbols: slot.sent_symbols,
            });
        }
        let s = &self.stats;
        ScorerState {
            interner: self.encoder.interner.state(),
            held: self.held.iter().copied().collect(),
            arrivals: self.arrivals,
            newest_ms: self.newest_ms,
            released_ms: self.released_ms,
            pending: self
                .batch
                .iter()
                .map(|e| (e.time_ms, Compact::of_event(&e)))
                .collect(),
            next_seq: self.next_seq,
            aggregator: self.aggregator.state(),
            stats: SavedStats {
                events: s.events,
                invalid: s.invalid,
                late: s.late,
                findings: s.findings.clone(),
                stray_findings: s.stray_findings,
                alerts: s.alerts,
                batches: s.batches,
                events_missed_by_failed: s.events_missed_by_failed,
                batch_latency: s.batch_latency.clone(),
                exceptions: s.exceptions.clone(),
                events_unlearned: s.events_unlearned,
            },
            detectors,
        }
    }

    /// Continue from a saved state, before any event of this run.
    ///
    /// Detectors are matched by name, and no detector can lock the others'
    /// state away: one whose saved state it refuses (or traps on) starts
    /// afresh, as does one added since the checkpoint; a saved detector this
    /// run no longer has is dropped. Each is reported as a health event
    /// (`restore_failed`, `state_dropped`) while every other detector and
    /// the risk state resume.
    pub fn restore_state(&mut self, state: ScorerState) -> Result<(), RestoreError> {
        let interner = Interner::from_state(state.interner)
            .map_err(|e| RestoreError::Inconsistent(e.to_string()))?;
        let log_len = interner.log_len();
        let users = interner.count(SymbolKind::User);
        let bad_id = |c: &Compact| {
            let missing =
                |kind, id: Option<u32>| id.is_some_and(|i| i as usize >= interner.count(kind));
            c.user as usize >= users
                || missing(SymbolKind::Action, Some(c.action))
                || missing(SymbolKind::Resource, Some(c.resource))
                || missing(SymbolKind::Source, c.source)
                || missing(SymbolKind::PeerGroup, c.peer)
        };
        if state.held.iter().any(|h| bad_id(&h.ev)) || state.pending.iter().any(|(_, c)| bad_id(c))
        {
            return Err(RestoreError::Inconsistent(
                "a held event names a symbol that does not exist".into(),
            ));
        }
        if state.pending.len() as u64 > state.next_seq {
            return Err(RestoreError::Inconsistent(
                "more pending events than sequence numbers".into(),
            ));
        }
        let mut events = Vec::new();
        let report = |plugin: &str, event, message: String| {
            HealthEvent::new(plugin, event, None, message).at_batch(
                state.stats.batches,
                state.next_seq,
                0,
            )
        };
        for name in self.aggregator.restore(state.aggregator) {
            events.push(report(
                &name,
                "state_dropped",
                "the checkpoint holds state for this detector, but this run does not load it; its state and risk are dropped".into(),
            ));
        }
        for slot in &mut self.slots {
            let saved = state
                .detectors
                .iter()
                .find(|d| d.name == slot.loaded.name());
            // A detector starting afresh needs every symbol again.
            slot.sent_symbols = 0;
            let Some(d) = saved else {
                continue;
            };
            if d.quarantined {
                slot.loaded.quarantine();
                continue;
            }
            let Some(snap) = &d.snapshot else {
                continue;
            };
            match slot.loaded.resume(snap) {
                Ok(()) => slot.sent_symbols = d.sent_symbols.min(log_len),
                Err(e) => {
                    let fresh = match slot.loaded.start_afresh() {
                        Ok(()) => "it starts with no learned state".to_string(),
                        Err(e2) => {
                            slot.loaded.quarantine();
                            format!(
                                "a fresh instance could not be started either ({e2}), so it is quarantined"
                            )
                        }
                    };
                    events.push(report(
                        slot.loaded.name(),
                        "restore_failed",
                        format!("it refused its saved state ({e}); {fresh}; the other detectors and the risk state resume"),
                    ));
                }
            }
        }
        for event in events {
            self.health.report(&event);
            self.stats.health.push(event);
        }
        // Peer groups and time zones come from this run's identities.
        let mut encoder = Encoder::new(std::mem::take(&mut self.encoder.identities));
        encoder.interner = interner;
        for id in 0..users {
            encoder.meta_for(id as u32);
        }
        self.encoder = encoder;
        self.held = state.held.into_iter().collect();
        self.arrivals = state.arrivals;
        self.newest_ms = state.newest_ms;
        self.released_ms = state.released_ms;
        self.next_seq = state.next_seq;
        let first = state.next_seq - state.pending.len() as u64;
        self.batch = state
            .pending
            .into_iter()
            .enumerate()
            .map(|(i, (t, c))| c.into_event(t, first + i as u64))
            .collect();
        let st = state.stats;
        // Per-detector counts follow their detector by name.
        let saved_index = |name: &str| state.detectors.iter().position(|d| d.name == name);
        let findings = self
            .slots
            .iter()
            .map(|slot| {
                saved_index(slot.loaded.name())
                    .and_then(|i| st.findings.get(i).copied())
                    .unwrap_or(0)
            })
            .collect();
        let latency = self
            .slots
            .iter()
            .map(|slot| {
                saved_index(slot.loaded.name())
                    .and_then(|i| st.batch_latency.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        self.events_before = st.events;
        self.stats = Stats {
            events: st.events,
            invalid: st.invalid,
            late: st.late,
            findings,
            stray_findings: st.stray_findings,
            gate: Vec::new(),
            threshold: self.aggregator.threshold(),
            // Counts follow the exceptions by position: a changed list
            // counts afresh from where the lengths agree.
            exceptions: {
                let mut v = st.exceptions;
                v.resize(self.exceptions.len(), 0);
                v
            },
            events_unlearned: st.events_unlearned,
            alerts: st.alerts,
            batches: st.batches,
            health: std::mem::take(&mut self.stats.health),
            events_missed_by_failed: st.events_missed_by_failed,
            batch_latency: latency,
        };
        Ok(())
    }

    /// Flush the alert sink, so that everything emitted so far is written
    /// before a checkpoint records the output's length.
    pub fn flush_sink(&mut self) -> Result<(), ScoreError> {
        self.sink.flush()?;
        if let Some(f) = self.findings.as_mut() {
            f.flush()?;
        }
        Ok(())
    }

    /// The counts so far, e.g. for `/metrics` while a service runs.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The detectors' names, in index order (the order of [`Stats::findings`]).
    pub fn detector_names(&self) -> &[String] {
        self.aggregator.detector_names()
    }

    /// Count a line rejected by the reader, so the summary reports it.
    pub fn count_invalid(&mut self) {
        self.stats.invalid += 1;
    }

    /// Accept one event.
    pub fn push(&mut self, ev: &AccessEvent) -> Result<(), ScoreError> {
        self.stats.events += 1;
        let compact = self.encoder.compact(ev);
        let lateness = i64::try_from(self.cfg.input.max_lateness_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        if ev.time_ms < self.released_ms {
            self.stats.late += 1;
            self.release(ev.time_ms, compact)?;
            return Ok(());
        }
        self.arrivals += 1;
        self.held.push(Held {
            time_ms: ev.time_ms,
            arrival: self.arrivals,
            ev: compact,
        });
        self.newest_ms = self.newest_ms.max(ev.time_ms);
        let watermark = self.newest_ms.saturating_sub(lateness);
        while let Some(top) = self.held.peek().copied() {
            if top.time_ms > watermark && self.held.len() <= self.cfg.input.reorder_buffer {
                break;
            }
            self.held.pop();
            self.released_ms = self.released_ms.max(top.time_ms);
            self.release(top.time_ms, top.ev)?;
        }
        Ok(())
    }

    fn release(&mut self, time_ms: i64, c: Compact) -> Result<(), ScoreError> {
        self.batch.push(&c.into_event(time_ms, self.next_seq));
        self.next_seq += 1;
        if self.batch.len() >= self.cfg.input.batch_size {
            self.run_batch()?;
        }
        Ok(())
    }

    /// Score everything held and batched so far, e.g. when input goes idle.
    pub fn flush(&mut self) -> Result<(), ScoreError> {
        while let Some(top) = self.held.pop() {
            self.released_ms = self.released_ms.max(top.time_ms);
            self.release(top.time_ms, top.ev)?;
        }
        if !self.batch.is_empty() {
            self.run_batch()?;
        }
        self.flush_sink()
    }

    fn run_batch(&mut self) -> Result<(), ScoreError> {
        self.stats.batches += 1;
        let first_seq = self.batch.seq.first().copied().unwrap_or(0);
        let mut batch = wit::Batch {
            symbols: Vec::new(),
            events: std::mem::take(&mut self.batch),
        };
        // (seq, detector index, finding) across all detectors.
        let mut found: Vec<(u64, usize, wit::Finding)> = Vec::new();
        let log_len = self.encoder.interner.log_len();
        let batch_no = self.stats.batches;
        let mut symbols_from = None;
        // Per detector, which events it may learn from, where an exception
        // with `learn = false` keeps some from it.
        let keep: Vec<Option<Vec<bool>>> = if self.exceptions.any_unlearned() {
            let interner = &self.encoder.interner;
            self.slots
                .iter()
                .map(|slot| {
                    let name = slot.loaded.name();
                    let keep: Vec<bool> = batch
                        .events
                        .iter()
                        .map(|ev| !self.exceptions.hides(name, &subject(interner, &ev)))
                        .collect();
                    keep.contains(&false).then_some(keep)
                })
                .collect()
        } else {
            Vec::new()
        };
        for (d, slot) in self.slots.iter_mut().enumerate() {
            if slot.loaded.is_quarantined() {
                self.stats.events_missed_by_failed += batch.events.len() as u64;
                continue;
            }
            // Detectors are normally all at the same log position, so the
            // symbol list is built once per batch, not once per detector.
            if symbols_from != Some(slot.sent_symbols) {
                batch.symbols = self.encoder.symbols_since(slot.sent_symbols);
                symbols_from = Some(slot.sent_symbols);
            }
            let mut reports = Vec::new();
            let began = Instant::now();
            let outcome = match keep.get(d).and_then(Option::as_ref) {
                Some(keep) => {
                    self.stats.events_unlearned += keep.iter().filter(|k| !**k).count() as u64;
                    let seen = wit::Batch {
                        symbols: batch.symbols.clone(),
                        events: kept_events(&batch.events, keep),
                    };
                    slot.loaded.observe(&seen, batch_no, &mut reports)
                }
                None => slot.loaded.observe(&batch, batch_no, &mut reports),
            };
            self.stats.batch_latency[d].observe(began.elapsed().as_secs_f64());
            for r in &reports {
                self.health.report(r);
            }
            self.stats.health.extend(reports);
            match outcome {
                BatchOutcome::Findings(findings) => {
                    slot.sent_symbols = log_len;
                    let mut counts = GateCounts::default();
                    let findings = gate::admit(
                        findings,
                        first_seq,
                        batch.events.len(),
                        &self.output_limits,
                        &mut counts,
                    );
                    if !counts.is_clean() {
                        self.stats.stray_findings += counts.stray;
                        let name = slot.loaded.name();
                        match self.stats.gate.iter_mut().find(|(n, _)| n == name) {
                            Some((_, total)) => total.add(&counts),
                            None => self.stats.gate.push((name.to_string(), counts.clone())),
                        }
                        if slot.gate_reports < GATE_REPORTS {
                            slot.gate_reports += 1;
                            let message = if slot.gate_reports == GATE_REPORTS {
                                format!("{counts}; further batches are counted, not reported")
                            } else {
                                counts.to_string()
                            };
                            let event = HealthEvent::new(name, "output_rejected", None, message)
                                .at_batch(batch_no, first_seq, batch.events.len());
                            self.health.report(&event);
                            self.stats.health.push(event);
                        }
                    }
                    self.stats.findings[d] += findings.len() as u64;
                    found.extend(findings.into_iter().map(|f| (f.event, d, f)));
                }
                BatchOutcome::Failed(_) | BatchOutcome::Quarantined => {
                    // The symbols of this batch were not delivered; the next
                    // batch to this detector carries them again.
                    self.stats.events_missed_by_failed += batch.events.len() as u64;
                }
            }
        }
        found.sort_by_key(|(seq, d, _)| (*seq, *d));
        // Every event counts toward its user-day for the alert budget, in
        // seq order with the findings, so a day closes at its first event.
        let mut counted = 0usize;
        for (seq, d, f) in found {
            let upto = (seq.saturating_sub(first_seq) as usize + 1).min(batch.events.len());
            for i in counted..upto {
                self.aggregator
                    .active(batch.events.user[i], batch.events.time_ms[i]);
            }
            counted = counted.max(upto);
            let Some(ev) = seq
                .checked_sub(first_seq)
                .and_then(|i| batch.events.get(i as usize))
            else {
                // The gate let through only findings for this batch.
                continue;
            };
            let finding = AlertFinding {
                detector: self.slots[d].loaded.plugin.info().name.clone(),
                score: (f64::from(f.score) * 10.0).round() / 10.0,
                time: format_time(ev.time_ms),
                reason: f.reason,
                evidence: f
                    .evidence
                    .into_iter()
                    .map(|e| (e.key, gate::evidence_json(e.value)))
                    .collect(),
                resource: self
                    .encoder
                    .interner
                    .text(SymbolKind::Resource, ev.resource)
                    .to_string(),
                action: self
                    .encoder
                    .interner
                    .text(SymbolKind::Action, ev.action)
                    .to_string(),
                source: ev.source.map(|s| {
                    self.encoder
                        .interner
                        .text(SymbolKind::Source, s)
                        .to_string()
                }),
                event: seq,
            };
            let user = self.encoder.interner.text(SymbolKind::User, ev.user);
            let peer = ev
                .peer_group
                .map(|p| self.encoder.interner.text(SymbolKind::PeerGroup, p));
            if !self.exceptions.is_empty()
                && let Some((i, note)) = self
                    .exceptions
                    .finding(&finding.detector, &subject(&self.encoder.interner, &ev))
            {
                // An analyst judged this benign: it adds no risk, and is
                // counted and marked instead.
                self.stats.exceptions[i] += 1;
                if let Some(sink) = self.findings.as_mut() {
                    let risk = self.aggregator.risk_of(ev.user);
                    sink.record(&FindingRecord {
                        user: user.to_string(),
                        peer_group: peer.map(str::to_string),
                        risk: (f64::from(risk) * 10.0).round() / 10.0,
                        threshold: self.aggregator.threshold(),
                        alert: None,
                        exception: Some(if note.is_empty() {
                            format!("exceptions[{i}]")
                        } else {
                            note.to_string()
                        }),
                        finding,
                    })?;
                }
                continue;
            }
            let traced = self
                .trace
                .is_some()
                .then(|| (finding.detector.clone(), finding.score as f32));
            let recorded = self.findings.is_some().then(|| finding.clone());
            let alert = self
                .aggregator
                .add(ev.user, d, ev.time_ms, finding, user, peer);
            if let (Some(sink), Some(finding)) = (self.findings.as_mut(), recorded) {
                sink.record(&FindingRecord {
                    user: user.to_string(),
                    peer_group: peer.map(str::to_string),
                    risk: (f64::from(self.aggregator.risk_of(ev.user)) * 10.0).round() / 10.0,
                    threshold: self.aggregator.threshold(),
                    alert: alert.as_ref().map(|a| a.kind.to_string()),
                    exception: None,
                    finding,
                })?;
            }
            if let (Some(trace), Some((detector, finding_score))) = (self.trace.as_mut(), traced) {
                trace.push(RiskPoint {
                    user: user.to_string(),
                    time_ms: ev.time_ms,
                    risk: self.aggregator.risk_of(ev.user),
                    detector,
                    finding_score,
                });
            }
            if let Some(alert) = alert {
                self.stats.alerts += 1;
                self.sink.emit(&alert)?;
            }
        }
        for i in counted..batch.events.len() {
            self.aggregator
                .active(batch.events.user[i], batch.events.time_ms[i]);
        }
        self.stats.threshold = self.aggregator.threshold();
        batch.events.clear();
        self.batch = batch.events;
        self.sink.flush()?;
        Ok(())
    }

    /// Score what is left and return the report and the sink.
    pub fn finish(mut self) -> Result<(Report, S), ScoreError> {
        self.flush()?;
        Ok(self.finish_without_flush())
    }

    /// The report and the sink without scoring what is still held: for a
    /// run stopping right after a checkpoint that holds those events.
    pub fn finish_without_flush(mut self) -> (Report, S) {
        let standings = self.aggregator.standings();
        let report = Report {
            trace: self.trace.take().unwrap_or_default(),
            detectors: self.aggregator.detector_names().to_vec(),
            users: standings
                .into_iter()
                .map(|s| RankedUser {
                    name: self
                        .encoder
                        .interner
                        .text(SymbolKind::User, s.user)
                        .to_string(),
                    peer_group: self
                        .encoder
                        .users
                        .get(s.user as usize)
                        .and_then(|m| m.peer)
                        .map(|p| {
                            self.encoder
                                .interner
                                .text(SymbolKind::PeerGroup, p)
                                .to_string()
                        }),
                    standing: s,
                })
                .collect(),
            stats: self.stats,
            elapsed: self.started.elapsed(),
            events_before: self.events_before,
        };
        (report, self.sink)
    }
}

/// One detector of the line-up given to [`Scorer::change_detectors`].
pub enum Lineup {
    /// Keep the running detector of this name as it is.
    Keep(String),
    /// Start this plugin. When a detector of the same name is running, this
    /// is its new version: it takes over that detector's state if it
    /// accepts it ([`LoadedPlugin::take_over`]), and always its risk
    /// components and counts, since the evidence already found stays true.
    Start(Box<LoadedPlugin>),
}

/// Which build of a detector: where it came from and the version it
/// reports, so a health event can say what replaced what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectorBuild {
    /// The file it was loaded from, or built-in.
    pub origin: crate::sandbox::plugins::Origin,
    /// The version its `describe` reports.
    pub version: String,
}

impl DetectorBuild {
    fn of(loaded: &LoadedPlugin) -> Self {
        DetectorBuild {
            origin: loaded.origin.clone(),
            version: loaded.plugin.info().version.clone(),
        }
    }
}

/// What [`Scorer::change_detectors`] did to one detector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetectorChange {
    /// A detector that was not running started, learning from nothing.
    Loaded {
        /// Its name.
        name: String,
        /// What started.
        build: DetectorBuild,
    },
    /// A new version replaced the running one.
    Replaced {
        /// The detector's name.
        name: String,
        /// The version that stopped.
        before: DetectorBuild,
        /// The version that runs now.
        after: DetectorBuild,
        /// Whether its learned state came along.
        handover: crate::sandbox::plugins::Handover,
    },
    /// A detector stopped; its risk components were dropped.
    Removed {
        /// Its name.
        name: String,
        /// What stopped.
        build: DetectorBuild,
    },
}

impl<S: AlertSink> Scorer<S> {
    /// Score the batch being filled, leaving the events held for reordering
    /// where they are: a batch boundary. Changing the detectors right after
    /// means that every event released so far was scored by the old set and
    /// every later one will be by the new, each exactly once.
    pub fn end_batch(&mut self) -> Result<(), ScoreError> {
        if !self.batch.is_empty() {
            self.run_batch()?;
        }
        Ok(())
    }

    /// Change the detectors while running (`ueba serve --plugins DIR`
    /// watching its directory): the new line-up in index order. The batch
    /// being filled is scored by the old set first ([`Scorer::end_batch`]).
    /// A detector the line-up does not name stops and its risk components
    /// are dropped; a started one of a new name begins with none. The
    /// line-up should follow the order [`crate::sandbox::plugins::load`] gives, so
    /// that a checkpoint taken afterwards restores in a run that loads the
    /// same directory. Entries naming a detector already in the line-up, or
    /// keeping one that is not running, are ignored.
    pub fn change_detectors(
        &mut self,
        lineup: Vec<Lineup>,
    ) -> Result<Vec<DetectorChange>, ScoreError> {
        self.end_batch()?;
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let running = |old: &[Option<Slot>], name: &str| {
            old.iter()
                .position(|s| s.as_ref().is_some_and(|s| s.loaded.name() == name))
        };
        let mut slots: Vec<Slot> = Vec::with_capacity(lineup.len());
        let mut columns: Vec<crate::risk::aggregate::Column> = Vec::with_capacity(lineup.len());
        let mut changes = Vec::new();
        for entry in lineup {
            let name = match &entry {
                Lineup::Keep(name) => name.clone(),
                Lineup::Start(loaded) => loaded.name().to_string(),
            };
            if slots.iter().any(|s| s.loaded.name() == name) {
                continue;
            }
            let previous = running(&old, &name).and_then(|i| old[i].take().map(|s| (i, s)));
            let (slot, keeps) = match (entry, previous) {
                (Lineup::Keep(_), None) => continue,
                (Lineup::Keep(_), Some((i, slot))) => (slot, Some(i)),
                (Lineup::Start(mut loaded), Some((i, mut prev))) => {
                    let handover = loaded.take_over(&mut prev.loaded);
                    let loaded = *loaded;
                    let sent_symbols = match handover {
                        // The snapshot holds the symbols the old version
                        // was sent; a fresh instance needs all of them.
                        crate::sandbox::plugins::Handover::Carried => prev.sent_symbols,
                        crate::sandbox::plugins::Handover::Reset(_) => 0,
                    };
                    changes.push(DetectorChange::Replaced {
                        name,
                        before: DetectorBuild::of(&prev.loaded),
                        after: DetectorBuild::of(&loaded),
                        handover,
                    });
                    (
                        Slot {
                            loaded,
                            sent_symbols,
                            gate_reports: 0,
                        },
                        Some(i),
                    )
                }
                (Lineup::Start(loaded), None) => {
                    let loaded = *loaded;
                    changes.push(DetectorChange::Loaded {
                        name,
                        build: DetectorBuild::of(&loaded),
                    });
                    (
                        Slot {
                            loaded,
                            sent_symbols: 0,
                            gate_reports: 0,
                        },
                        None,
                    )
                }
            };
            columns.push(crate::risk::aggregate::Column {
                name: slot.loaded.name().to_string(),
                weight: slot.loaded.weight,
                keeps,
            });
            slots.push(slot);
        }
        for slot in old.into_iter().flatten() {
            changes.push(DetectorChange::Removed {
                name: slot.loaded.name().to_string(),
                build: DetectorBuild::of(&slot.loaded),
            });
        }
        let stats = &mut self.stats;
        stats.findings = columns
            .iter()
            .map(|c| {
                c.keeps
                    .and_then(|i| stats.findings.get(i))
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        stats.batch_latency = columns
            .iter()
            .map(|c| {
                c.keeps
                    .and_then(|i| stats.batch_latency.get(i))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        self.aggregator.rearrange(&columns);
        self.slots = slots;
        Ok(changes)
    }

    /// Report a health event about `plugin` that concerns no batch (a
    /// plugin loaded, replaced, removed or refused while serving) to the
    /// health sink and [`Stats::health`]: `batch` is the number of batches
    /// so far, and `first_event` the `seq` of the next event to be scored,
    /// which is the first one a detector started now sees.
    pub fn report_health(&mut self, plugin: &str, event: &'static str, message: String) {
        let report = HealthEvent::new(plugin, event, None, message).at_batch(
            self.stats.batches,
            self.next_seq,
            0,
        );
        self.health.report(&report);
        self.stats.health.push(report);
    }
}

/// How an event looks to the analyst's exceptions: its texts.
fn subject<'a>(interner: &'a Interner, ev: &Event) -> Subject<'a> {
    Subject {
        user: interner.text(SymbolKind::User, ev.user),
        peer_group: ev
            .peer_group
            .map(|p| interner.text(SymbolKind::PeerGroup, p)),
        resource: interner.text(SymbolKind::Resource, ev.resource),
        action: interner.text(SymbolKind::Action, ev.action),
        source: ev.source.map(|p| interner.text(SymbolKind::Source, p)),
        time_ms: ev.time_ms,
    }
}

/// The events of `events` whose `keep` is true, runs copied column by column.
fn kept_events(events: &wit::Events, keep: &[bool]) -> wit::Events {
    let mut out = wit::Events::with_capacity(keep.iter().filter(|k| **k).count());
    let mut i = 0;
    while i < keep.len() {
        if !keep[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < keep.len() && keep[i] {
            i += 1;
        }
        out.extend_from(events, start..i);
    }
    out
}

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

/// What a run found, for the summary table and for tests.
#[derive(Clone, Debug)]
pub struct Report {
    /// Detector names, in index order.
    pub detectors: Vec<String>,
    /// Users by peak risk, highest first.
    pub users: Vec<RankedUser>,
    /// Counts.
    pub stats: Stats,
    /// Wall time of the run.
    pub elapsed: std::time::Duration,
    /// Of `stats.events`, those counted by earlier runs whose state this
    /// one restored (`--state`); the rate in the summary is of the rest.
    pub events_before: u64,
    /// The user's risk after each finding, in scoring order; empty unless
    /// [`Scorer::record_trace`] was on.
    pub trace: Vec<RiskPoint>,
}

/// A user's risk right after one finding was added (see [`Scorer::record_trace`]).
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
                clip(&u.name, 18),
                clip(u.peer_group.as_deref().unwrap_or("-"), 16),
                u.standing.peak,
                u.standing.alerts
            );
            for n in &u.standing.findings {
                let _ = write!(row, " {:>11}", n);
            }
            let _ = writeln!(
                out,
                "{row}  {}",
                clip(u.standing.top_reason.as_deref().unwrap_or(""), 90)
            );
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
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        let _ = writeln!(out, "findings: {}", per.join(", "));
        let _ = writeln!(out, "alert threshold at the end: {:.1}", s.threshold);
        if s.exceptions.iter().any(|n| *n > 0) || s.events_unlearned > 0 {
            let per: Vec<String> = s
                .exceptions
                .iter()
                .enumerate()
                .map(|(i, n)| format!("[{i}] {n}"))
                .collect();
            let _ = writeln!(
                out,
                "findings kept from risk by exceptions: {}; events kept from detectors (learn = false): {}",
                per.join(", "),
                s.events_unlearned
            );
        }
        for (detector, counts) in &s.gate {
            let _ = writeln!(out, "output of {detector} rejected: {counts}");
        }
        for h in s.health.iter().filter(|h| h.event == "quarantined") {
            let _ = writeln!(out, "QUARANTINED detector {}: {}", h.plugin, h.message);
        }
        let failed = s.health.iter().filter(|h| h.event == "failed").count();
        if failed > 0 {
            let recovered = s.health.iter().filter(|h| h.event == "recovered").count();
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
/// characters.
fn clip(s: &str, n: usize) -> String {
    let s = gate::escape_text(s);
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
