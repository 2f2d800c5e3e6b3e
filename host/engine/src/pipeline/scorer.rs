//! The scorer: reorder, batch, call every detector, gate their output,
//! aggregate risk and hand alerts to the sink.
//!
//! Out-of-order rule: an event is held until the newest event time seen is
//! `max_lateness_secs` past it, then released in event-time order (ties in
//! arrival order). An event older than what has already been released is
//! scored immediately, in arrival order, and counted as late. Before
//! that, an event dated far from the rest of the stream waits for another
//! to confirm its time, and is refused if none does ([`super::clock`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::config::scale_odds;
use crate::event::{AccessEvent, format_time};
use crate::identity::Identities;
use crate::pipeline::intern::{Interner, SymbolKind};
use crate::pipeline::reorder::OrderedQueue;
use crate::risk::aggregate::{
    Added, Aggregator, AlertFinding, Modifier, ResourceCriticality, UserModifier, UserStanding,
    detector_bit, round1,
};
use crate::risk::entities::{EntityKind, EntityRisk, EntityStanding};
use crate::risk::exceptions::{Exceptions, Subject};
use crate::risk::findings::{FindingRecord, FindingSink};
use crate::risk::incidents::{IncidentRecord, IncidentSink};
use crate::risk::verdicts::{PendingVerdict, VerdictError};
use crate::sandbox::gate::{self, GateCounts, OutputLimits};
use crate::sandbox::plugins::{
    BatchOutcome, HealthEvent, HealthKind, HealthSink, LoadedPlugin, StderrHealth,
};
use crate::sandbox::{Event, wit};

use super::block::Block;
use super::clock::{Clock, Decision};
use super::encode::*;
use super::report::*;
use super::saved::*;
use super::shard::{self, Cadence, MAX_SHARDS, Pool, Slot, Split};
use super::sink::*;
use super::stats::*;

/// Why scoring stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// Writing alerts failed.
    #[error("writing alerts or findings: {0}")]
    Sink(#[from] std::io::Error),
    /// A namespace of names ran out of ids.
    #[error(transparent)]
    Symbols(#[from] crate::pipeline::intern::SymbolsFull),
    /// A verdict could not be applied (it names no alert).
    #[error(transparent)]
    Verdict(#[from] VerdictError),
    /// The shards asked for cannot be had.
    #[error("shards: {0}")]
    Shards(String),
}

/// Batches with rejected output reported as health events per detector, so
/// a plugin that misbehaves in every batch cannot flood the health stream;
/// the counts in [`Stats::gate`] keep counting every one.
const GATE_REPORTS: u32 = 10;

/// The engine for one run.
pub struct Scorer<S: AlertSink> {
    pub(crate) cfg: Config,
    /// What the gate lets a batch's findings carry, from `[sandbox]`.
    pub(crate) output_limits: OutputLimits,
    pub(crate) encoder: Encoder,
    pub(crate) slots: Vec<Slot>,
    /// Events whose time stands far from the stream's, waiting for
    /// another to confirm it ([`super::clock`]).
    pub(crate) clock: Clock,
    pub(crate) held: OrderedQueue<Held>,
    pub(crate) arrivals: u64,
    pub(crate) newest_ms: i64,
    pub(crate) released_ms: i64,
    pub(crate) batch: wit::Events,
    pub(crate) next_seq: u64,
    pub(crate) aggregator: Aggregator,
    /// Risk per resource and per source ([`crate::risk::entities`]).
    pub(crate) entities: EntityRisk,
    pub(crate) sink: S,
    pub(crate) health: Box<dyn HealthSink>,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    /// Events counted by earlier runs whose state this one restored.
    pub(crate) events_before: u64,
    /// Every risk change, when [`Scorer::record_trace`] turned it on.
    pub(crate) trace: Option<Vec<RiskPoint>>,
    /// Where every finding goes, when [`Scorer::with_findings`] set it.
    pub(crate) findings: Option<Box<dyn FindingSink>>,
    /// The analyst's `[[exceptions]]`.
    pub(crate) exceptions: Exceptions,
    /// Verdicts not yet applied, in the order given.
    pub(crate) verdicts: VecDeque<PendingVerdict>,
    /// Whether a verdict naming no alert is skipped (with a warning)
    /// rather than an error ([`Scorer::lenient_verdicts`]).
    pub(crate) lenient_verdicts: bool,
    /// Where incident changes go, when [`Scorer::with_incidents`] set it.
    pub(crate) incidents: Option<Box<dyn IncidentSink>>,
    /// Users whose criticality and watchlists the aggregator has been
    /// given (by user id; from this run's identities, so not saved).
    pub(crate) modifiers_set: Vec<bool>,
    /// Each user's shard, by user id ([`shard::shard_of`]; empty with one
    /// shard).
    pub(crate) user_shard: Vec<u16>,
    /// The shards' threads.
    pub(crate) pool: Pool,
    /// The batch the shards are observing, when they overlap with this
    /// thread.
    pub(crate) in_flight: Option<Flight>,
    /// When the shards last exchanged populations.
    pub(crate) cadence: Cadence,
    /// The block of the event sequence being filled ([`super::block`]).
    pub(crate) block: Block,
    /// Whether this run has warned that most events come late
    /// ([`Stats::late_note`]): once is enough.
    pub(crate) late_warned: bool,
}

/// A batch sent to the detectors whose findings are still to be taken.
pub(crate) struct Flight {
    events: wit::Events,
    /// Each event's shard (empty with one shard).
    shard_of_event: Vec<u16>,
    first_seq: u64,
    batch_no: u64,
    /// The number of its block of the event sequence.
    block: u64,
    /// When the batch ends its block (where calm episodes close), the
    /// block's newest event time.
    ends_block: Option<i64>,
}

/// An event whose findings are added and whose decision waits for its last
/// finding (`Scorer::decide_event`).
struct PendingEvent {
    seq: u64,
    user: u32,
    peer_group: Option<u32>,
    time_ms: i64,
    /// The user's risk before the event's first finding.
    before: f32,
    /// The bits of the detectors with findings in it.
    detectors: u64,
    /// Its findings' records for `--findings`, in order.
    records: Vec<FindingRecord>,
}

/// Write a finding's record for `--findings` to `findings`: with the
/// event's others when its decision is pending (so the alert it raises can
/// be marked), at once otherwise.
fn record_finding(
    findings: &mut Option<Box<dyn FindingSink>>,
    pending: &mut Option<PendingEvent>,
    seq: u64,
    record: FindingRecord,
) -> Result<(), ScoreError> {
    match pending.as_mut().filter(|p| p.seq == seq) {
        Some(p) => p.records.push(record),
        None => {
            if let Some(sink) = findings.as_mut() {
                sink.record(&record)?;
            }
        }
    }
    Ok(())
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
        let name_budget = Some(cfg.input.name_budget_bytes());
        // The config was validated when it was read; an unusable list here
        // can only come from a caller that built one by hand.
        let exceptions = Exceptions::new(&cfg.exceptions).unwrap_or_default();
        let n_exceptions = exceptions.len();
        let entities = EntityRisk::new(&cfg.risk);
        Scorer {
            batch: wit::Events::with_capacity(cfg.input.batch_size),
            output_limits: OutputLimits::of(&cfg.sandbox),
            cfg,
            encoder: Encoder::new(identities).with_name_budget(name_budget),
            slots: plugins
                .into_iter()
                .map(|loaded| Slot::new(loaded, 0))
                .collect(),
            clock: Clock::default(),
            held: OrderedQueue::default(),
            arrivals: 0,
            newest_ms: i64::MIN,
            released_ms: i64::MIN,
            next_seq: 0,
            entities,
            aggregator,
            sink,
            health: Box::new(StderrHealth),
            stats: Stats {
                threshold,
                exceptions: vec![0; n_exceptions],
                findings: vec![0; n],
                read_lower: vec![0; n],
                batch_latency: vec![Histogram::default(); n],
                ..Stats::default()
            },
            started: Instant::now(),
            events_before: 0,
            trace: None,
            findings: None,
            exceptions,
            verdicts: VecDeque::new(),
            lenient_verdicts: false,
            incidents: None,
            modifiers_set: Vec::new(),
            user_shard: Vec::new(),
            pool: Pool::default(),
            in_flight: None,
            cadence: Cadence::default(),
            block: Block::first(),
            late_warned: false,
        }
    }

    /// Split users across `shards` shards ([`super::shard`]), each with its
    /// own instance of every detector, observing at the same time on
    /// threads of their own. One shard is the unsplit scorer. Call before
    /// any event or restore.
    pub fn with_shards(mut self, shards: usize) -> Result<Self, ScoreError> {
        if !(1..=MAX_SHARDS).contains(&shards) {
            return Err(ScoreError::Shards(format!(
                "{shards} shards asked; from 1 to {MAX_SHARDS} are possible"
            )));
        }
        self.pool = Pool::new(shards)
            .map_err(|e| ScoreError::Shards(format!("starting a thread per shard: {e}")))?;
        for slot in &mut self.slots {
            slot.widen(shards).map_err(|e| {
                ScoreError::Shards(format!(
                    "starting detector {} for shard {}: {e}",
                    slot.lead().name(),
                    slot.instances.len()
                ))
            })?;
        }
        Ok(self)
    }

    /// How many shards users are split across.
    pub fn shards(&self) -> usize {
        self.pool.shards()
    }

    /// Write every incident change ([`crate::risk::incidents`]) to `sink`.
    pub fn with_incidents(mut self, sink: Box<dyn IncidentSink>) -> Self {
        self.incidents = Some(sink);
        self
    }

    /// Queue the verdicts of a verdicts file, all of it in order: those the
    /// run already applied or queued (a resumed run counts the ones applied
    /// before its checkpoint) are skipped, the rest applied at their event
    /// time ([`crate::risk::verdicts`]).
    pub fn sync_verdicts(&mut self, all: Vec<PendingVerdict>) {
        let known = self.stats.verdicts_applied as usize + self.verdicts.len();
        self.verdicts.extend(all.into_iter().skip(known));
    }

    /// Skip, with a warning, a verdict naming no alert of this scorer's
    /// instead of failing: for verdicts that come from a shared channel
    /// anyone may write to (`ueba worker` reads them from NATS), where one
    /// bad message must not stop a partition for good. A verdicts file, read
    /// by `ueba score`, keeps failing with the file and line.
    pub fn lenient_verdicts(mut self) -> Self {
        self.lenient_verdicts = true;
        self
    }

    /// Queue one verdict just appended to the verdicts file this scorer
    /// follows (`POST /v1/feedback`), after those already queued: the same
    /// place [`Scorer::sync_verdicts`] gives it when the file is read again.
    pub fn queue_verdict(&mut self, verdict: PendingVerdict) {
        self.verdicts.push_back(verdict);
    }

    /// Whether an alert with this id has been raised: a verdict naming
    /// another one would be refused when applied.
    pub fn knows_alert(&self, id: &str) -> bool {
        self.aggregator.knows_alert(id)
    }

    /// The newest event time released for scoring so far (ms), or `None`
    /// before any: a verdict given now applies from after it.
    pub fn released_ms(&self) -> Option<i64> {
        (self.released_ms != i64::MIN).then_some(self.released_ms)
    }

    /// Open and recently closed incidents (`GET /v1/incidents`).
    pub fn incidents(&self) -> Vec<IncidentRecord> {
        self.aggregator.incidents()
    }

    /// How many incidents are open now: a cheap count for `/metrics`,
    /// where [`Scorer::incidents`] would build every record.
    pub fn open_incidents(&self) -> usize {
        self.aggregator.open_incidents()
    }

    /// `user`'s risk now, decayed to the newest event time released for
    /// scoring (0 for a user with no finding), or `None` for a user never
    /// seen: `GET /v1/users/{user}` reports it beside the peak, since risk
    /// falls between findings.
    pub fn risk_now(&self, user: &str) -> Option<f64> {
        let id = self.encoder.interner.lookup(SymbolKind::User, user)?;
        let now = self.released_ms()?;
        Some(f64::from(self.aggregator.risk_at_ms(id, now)))
    }

    /// Tell the aggregator `user`'s criticality and watchlists, once.
    fn ensure_modifier(&mut self, user: u32) {
        let idx = user as usize;
        if self.modifiers_set.get(idx).copied().unwrap_or(false) {
            return;
        }
        if self.modifiers_set.len() <= idx {
            self.modifiers_set.resize(idx + 1, false);
        }
        self.modifiers_set[idx] = true;
        let name = self.encoder.interner.text(SymbolKind::User, user);
        let Some(identity) = self.encoder.identities.get(name) else {
            return;
        };
        let mut applied = Vec::new();
        if let Some(level) = identity.criticality {
            applied.push(Modifier {
                kind: "criticality".into(),
                name: level.name().into(),
                factor: self.cfg.criticality.factor(level),
            });
        }
        for list in &identity.watchlists {
            applied.push(Modifier {
                kind: "watchlist".into(),
                name: list.clone(),
                // Unconfigured lists are refused when identities are loaded.
                factor: self.cfg.watchlists.get(list).copied().unwrap_or(1.0),
            });
        }
        if applied.is_empty() {
            return;
        }
        let factor = applied.iter().map(|m| m.factor).product();
        self.aggregator
            .set_modifier(user, Some(Arc::new(UserModifier { factor, applied })));
    }

    /// Apply the verdicts whose time has come by `time_ms` (the first event
    /// time of a block), in the order given.
    fn apply_due_verdicts(&mut self, time_ms: i64) -> Result<(), ScoreError> {
        while let Some(v) = self.verdicts.front() {
            if v.time_ms > time_ms {
                break;
            }
            let v = self.verdicts.pop_front().expect("front exists");
            if let Some(&user) = self.aggregator.alert_user(&v.verdict.id) {
                self.ensure_modifier(user);
            }
            let applied = self.aggregator.apply_verdict(&v);
            // Counted either way: the count is how far into the list of
            // verdicts this scorer has gone (see `sync_verdicts`).
            self.stats.verdicts_applied += 1;
            match applied {
                Ok(()) => {}
                Err(message) if self.lenient_verdicts => {
                    tracing::warn!("verdict {}:{} skipped: {message}", v.path.display(), v.line)
                }
                Err(message) => {
                    return Err(VerdictError::Invalid {
                        path: v.path.clone(),
                        line: v.line,
                        message,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Hand the aggregator's incident changes to the incident sink.
    fn emit_incidents(&mut self) -> Result<(), ScoreError> {
        let changes = self.aggregator.take_changes();
        if let Some(sink) = self.incidents.as_mut() {
            for c in &changes {
                sink.record(c)?;
            }
        }
        Ok(())
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
        let standing = self.aggregator.standing(id)?;
        Some((standing, self.aggregator.kept(id)))
    }

    /// Everything an analyst is shown about `user` now
    /// (`GET /v1/users/{user}`), or `None` for a user with no finding yet.
    pub fn user_summary(&self, user: &str) -> Option<UserSummary> {
        let id = self.encoder.interner.lookup(SymbolKind::User, user)?;
        self.summary_of(id)
    }

    fn summary_of(&self, id: u32) -> Option<UserSummary> {
        let standing = self.aggregator.standing(id)?;
        let now = self.released_ms();
        Some(UserSummary {
            user: self.encoder.interner.text(SymbolKind::User, id).to_string(),
            risk: tenth(now.map_or(0.0, |t| f64::from(self.aggregator.risk_at_ms(id, t)))),
            as_of: now.map(format_time),
            threshold: self.stats.threshold,
            peak: tenth(f64::from(standing.peak)),
            peak_time: format_time(standing.peak_ms),
            alerts: standing.alerts,
            findings: self
                .detector_names()
                .iter()
                .cloned()
                .zip(standing.findings)
                .collect(),
            top_reason: standing.top_reason,
            kept: self.aggregator.kept(id),
            incidents: self.aggregator.user_incidents(id),
        })
    }

    /// Keep track of the users whose summary changes, for
    /// [`Scorer::take_changed_summaries`]. Off by default.
    pub fn track_changed_summaries(&mut self) {
        self.aggregator.track_changed_users();
    }

    /// The summaries of the users whose standing, findings or incidents
    /// changed since the last call (with tracking on), in user id order.
    pub fn take_changed_summaries(&mut self) -> Vec<UserSummary> {
        self.aggregator
            .take_changed_users()
            .into_iter()
            .filter_map(|id| self.summary_of(id))
            .collect()
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
    /// the others' state from being saved. A batch the shards are still
    /// observing is settled first.
    pub fn save_state(&mut self) -> Result<ScorerState, ScoreError> {
        self.settle()?;
        let batch_no = self.stats.batches;
        let mut detectors = Vec::with_capacity(self.slots.len());
        let sharded = self.shards() > 1;
        for slot in &mut self.slots {
            let name = slot.lead().name().to_string();
            let mut instances = Vec::with_capacity(slot.instances.len());
            for (shard, inst) in slot.instances.iter_mut().enumerate() {
                let snapshot = match inst.loaded.checkpoint() {
                    Ok(s) => s,
                    Err(e) => {
                        let which = if sharded {
                            format!(" (shard {shard})")
                        } else {
                            String::new()
                        };
                        let event = HealthEvent::new(
                            &name,
                            HealthKind::CheckpointWithoutState,
                            None,
                            format!(
                                "snapshot failed{which}, so this checkpoint holds no state for it; a run resumed from it starts this detector afresh: {e}"
                            ),
                        )
                        .at_batch(batch_no, self.next_seq, 0);
                        self.health.report(&event);
                        self.stats.health.push(event);
                        None
                    }
                };
                instances.push(InstanceState {
                    snapshot,
                    quarantined: inst.loaded.is_quarantined(),
                    sent_symbols: inst.sent_symbols,
                });
            }
            detectors.push(DetectorState { name, instances });
        }
        let s = &self.stats;
        Ok(ScorerState {
            interner: self.encoder.interner.state(),
            clock: self.clock.clone(),
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
            block: Some(self.block),
            cadence: self.cadence,
            aggregator: self.aggregator.state(),
            entities: self.entities.clone(),
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
                events_held: s.events_held,
                forgiven: s.forgiven,
                verdicts_applied: s.verdicts_applied,
            },
            detectors,
        })
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
        let saved_shards = state.shards();
        if !state.detectors.is_empty() && !self.slots.is_empty() && saved_shards != self.shards() {
            return Err(RestoreError::Shards {
                saved: saved_shards,
                asked: self.shards(),
            });
        }
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
        if state.held.iter().any(|h| bad_id(&h.ev))
            || state.pending.iter().any(|(_, c)| bad_id(c))
            || state.clock.waiting_events().any(bad_id)
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
        if state.block.is_some_and(|b| b.start_seq > state.next_seq) {
            return Err(RestoreError::Inconsistent(
                "the block in progress starts after the last event".into(),
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
        self.entities = state.entities;
        for name in self.aggregator.restore(state.aggregator) {
            events.push(report(
                &name,
                HealthKind::StateDropped,
                "the checkpoint holds state for this detector, but this run does not load it; its state and risk are dropped".into(),
            ));
        }
        for slot in &mut self.slots {
            let name = slot.lead().name().to_string();
            let saved = state.detectors.iter().find(|d| d.name == name);
            for (shard, inst) in slot.instances.iter_mut().enumerate() {
                // A detector starting afresh needs every symbol again.
                inst.sent_symbols = 0;
                let Some(d) = saved.and_then(|d| d.instances.get(shard)) else {
                    continue;
                };
                if d.quarantined {
                    inst.loaded.quarantine();
                    continue;
                }
                let Some(snap) = &d.snapshot else {
                    continue;
                };
                match inst.loaded.resume(snap) {
                    Ok(()) => inst.sent_symbols = d.sent_symbols.min(log_len),
                    Err(e) => {
                        let fresh = match inst.loaded.start_afresh() {
                            Ok(()) => "it starts with no learned state".to_string(),
                            Err(e2) => {
                                inst.loaded.quarantine();
                                format!(
                                    "a fresh instance could not be started either ({e2}), so it is quarantined"
                                )
                            }
                        };
                        let which = if saved_shards > 1 {
                            format!(" (shard {shard})")
                        } else {
                            String::new()
                        };
                        events.push(report(
                            &name,
                            HealthKind::RestoreFailed,
                            format!("it refused its saved state{which} ({e}); {fresh}; the other detectors and the risk state resume"),
                        ));
                    }
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
        encoder
            .interner
            .set_budget(Some(self.cfg.input.name_budget_bytes()));
        for id in 0..users {
            encoder
                .meta_for(id as u32)
                .map_err(|e| RestoreError::Inconsistent(e.to_string()))?;
        }
        self.encoder = encoder;
        self.held = state.held.into_iter().collect();
        self.clock = state.clock;
        self.arrivals = state.arrivals;
        self.newest_ms = state.newest_ms;
        self.released_ms = state.released_ms;
        self.next_seq = state.next_seq;
        self.cadence = state.cadence;
        let first = state.next_seq - state.pending.len() as u64;
        self.block = match state.block {
            Some(b) => b,
            None => Block::counted(
                state.next_seq,
                self.batch_len(),
                |seq| {
                    seq.checked_sub(first)
                        .and_then(|i| state.pending.get(i as usize))
                        .map(|(t, _)| *t)
                },
                state.released_ms,
            ),
        };
        self.batch = state
            .pending
            .into_iter()
            .enumerate()
            .map(|(i, (t, c))| c.into_event(t, first + i as u64))
            .collect();
        let st = state.stats;
        // Per-detector counts follow their detector by name.
        let saved_index = |name: &str| state.detectors.iter().position(|d| d.name == name);
        let findings: Vec<u64> = self
            .slots
            .iter()
            .map(|slot| {
                saved_index(slot.lead().name())
                    .and_then(|i| st.findings.get(i).copied())
                    .unwrap_or(0)
            })
            .collect();
        let latency = self
            .slots
            .iter()
            .map(|slot| {
                saved_index(slot.lead().name())
                    .and_then(|i| st.batch_latency.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        self.events_before = st.events;
        self.stats = Stats {
            events: st.events,
            invalid: st.invalid,
            late: st.late,
            // Like the gate's counts, this run's only.
            read_lower: vec![0; findings.len()],
            findings,
            stray_findings: st.stray_findings,
            gate: Vec::new(),
            // Like the gate's counts, this run's only.
            names_over_budget: [0; 5],
            identities: Default::default(),
            time_outliers: self.clock.refused,
            time_outlier_first: None,
            time_waiting: self.clock.waiting() as u64,
            threshold: self.aggregator.threshold(),
            budget: self.aggregator.budget_standing(),
            // Counts follow the exceptions by position: a changed list
            // counts afresh from where the lengths agree.
            exceptions: {
                let mut v = st.exceptions;
                v.resize(self.exceptions.len(), 0);
                v
            },
            events_unlearned: st.events_unlearned,
            events_held: st.events_held,
            forgiven: st.forgiven,
            verdicts_applied: st.verdicts_applied,
            verdicts_pending: None,
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
        self.settle()?;
        self.sink.flush()?;
        if let Some(f) = self.findings.as_mut() {
            f.flush()?;
        }
        if let Some(f) = self.incidents.as_mut() {
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
        let compact = self.encoder.compact(ev)?;
        self.stats.events += 1;
        let jump = self.jump_ms();
        if self.clock.in_step(jump, self.newest(), ev.time_ms) {
            return self.enqueue(ev.time_ms, compact);
        }
        let mut out = Vec::new();
        self.clock
            .out_of_step(jump, self.newest(), ev.time_ms, compact, &mut out);
        self.decide(out)
    }

    /// `input.max_time_jump_days` in milliseconds (0: the guard is off).
    fn jump_ms(&self) -> i64 {
        i64::from(self.cfg.input.max_time_jump_days).saturating_mul(86_400_000)
    }

    /// The newest event time let through to the reorder stage, if any.
    fn newest(&self) -> Option<i64> {
        (self.newest_ms != i64::MIN).then_some(self.newest_ms)
    }

    /// Decide on the event whose findings were just added
    /// ([`Aggregator::decide`]): emit its alert, if it calls for one, and
    /// write its findings' records, the alert marked on the last finding
    /// that added risk.
    fn decide_event(&mut self, pending: Option<PendingEvent>) -> Result<(), ScoreError> {
        let Some(p) = pending else {
            return Ok(());
        };
        let interner = &self.encoder.interner;
        let user = interner.text(SymbolKind::User, p.user);
        let peer = p
            .peer_group
            .map(|g| interner.text(SymbolKind::PeerGroup, g));
        let alert = self
            .aggregator
            .decide(p.user, p.time_ms, p.before, p.detectors, user, peer);
        if let Some(sink) = self.findings.as_mut() {
            let last = p.records.iter().rposition(|r| r.exception.is_none());
            for (i, mut record) in p.records.into_iter().enumerate() {
                if Some(i) == last {
                    record.alert = alert.as_ref().map(|a| a.kind.to_string());
                }
                sink.record(&record)?;
            }
        }
        if let Some(alert) = alert {
            self.stats.alerts += 1;
            self.sink.emit(&alert)?;
        }
        Ok(())
    }

    /// Carry out the time guard's decisions: events it lets through go on
    /// to the reorder stage in the order given; refused ones are counted
    /// and the first of the run is named in the summary.
    fn decide(&mut self, decisions: Vec<Decision>) -> Result<(), ScoreError> {
        for d in decisions {
            match d {
                Decision::Pass(t, c) => self.enqueue(t, c)?,
                Decision::Refuse(t, c) => {
                    if self.stats.time_outlier_first.is_none() {
                        let user = self.encoder.interner.text(SymbolKind::User, c.user);
                        let when = match self.newest() {
                            Some(n) if t < n => {
                                format!("{:.0} days before", (n - t) as f64 / 86_400_000.0)
                            }
                            Some(n) => format!("{:.0} days after", (t - n) as f64 / 86_400_000.0),
                            None => String::new(),
                        };
                        self.stats.time_outlier_first = Some(format!(
                            "{} at {}, {when} the newest event time then",
                            crate::event::clip(user),
                            format_time(t)
                        ));
                    }
                }
            }
        }
        self.stats.time_outliers = self.clock.refused;
        self.stats.time_waiting = self.clock.waiting() as u64;
        Ok(())
    }

    /// Put an event the time guard let through into the reorder buffer,
    /// releasing what the watermark has passed.
    fn enqueue(&mut self, time_ms: i64, compact: Compact) -> Result<(), ScoreError> {
        let lateness = i64::try_from(self.cfg.input.max_lateness_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        if time_ms < self.released_ms {
            self.stats.late += 1;
            if !self.late_warned
                && let Some(note) = self.stats.late_note()
            {
                tracing::warn!("{note}");
                self.late_warned = true;
            }
            self.release(time_ms, compact)?;
            return Ok(());
        }
        self.arrivals += 1;
        self.held.push(Held {
            time_ms,
            arrival: self.arrivals,
            ev: compact,
        });
        self.newest_ms = self.newest_ms.max(time_ms);
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

    /// Events a block holds at most (`input.batch_size`).
    fn batch_len(&self) -> u64 {
        self.cfg.input.batch_size.max(1) as u64
    }

    fn release(&mut self, time_ms: i64, c: Compact) -> Result<(), ScoreError> {
        // Batches end at every block's end ([`super::block`]), also after a
        // flush sent a short one: whether a user's events are learned is
        // decided from the findings of earlier blocks only
        // (`Aggregator::holds_learning`), so where a flush or a resume cut
        // a batch does not change it.
        if self
            .block
            .spent_before(self.next_seq, time_ms, self.cfg.input.block_span_ms())
        {
            self.end_block()?;
        }
        self.block.take(self.next_seq, time_ms);
        self.batch.push(&c.into_event(time_ms, self.next_seq));
        self.next_seq += 1;
        if self.block.full(self.next_seq, self.batch_len()) {
            self.end_block()?;
        }
        Ok(())
    }

    /// End the block being filled: run what is batched of it as its last
    /// batch, or, when a flush sent all of it already, do what its end
    /// does (close the episodes that calmed by its newest time).
    fn end_block(&mut self) -> Result<(), ScoreError> {
        if self.batch.is_empty() {
            self.settle()?;
            if self.block.max_ms != i64::MIN {
                self.aggregator.close_calmed(self.block.max_ms);
            }
            self.emit_incidents()?;
        } else {
            self.run_batch(true)?;
        }
        self.block = self.block.next(self.next_seq);
        Ok(())
    }

    /// Score everything held and batched so far, e.g. when input goes idle.
    /// Events the time guard holds keep waiting once the stream has a time
    /// ([`super::clock`]).
    pub fn flush(&mut self) -> Result<(), ScoreError> {
        let mut out = Vec::new();
        self.clock.idle(self.jump_ms(), self.newest(), &mut out);
        self.decide(out)?;
        while let Some(top) = self.held.pop() {
            self.released_ms = self.released_ms.max(top.time_ms);
            self.release(top.time_ms, top.ev)?;
        }
        if !self.batch.is_empty() {
            self.run_batch(false)?;
        }
        self.flush_sink()
    }

    /// Send the batch being filled to the detectors. With one shard its
    /// findings are taken at once; with more, when the next batch is sent
    /// or [`Scorer::settle`] is called, so the shards observe while this
    /// thread reads on. `ends_block`: the batch is its block's last.
    pub(crate) fn run_batch(&mut self, ends_block: bool) -> Result<(), ScoreError> {
        // Everything decided below (verdicts due, who is held from
        // learning) must know the findings of every earlier batch.
        self.settle()?;
        self.stats.batches += 1;
        self.stats.names_over_budget = self.encoder.interner.over_budget();
        self.stats.identities = self.encoder.identified.clone();
        let first_seq = self.batch.seq.first().copied().unwrap_or(0);
        // Verdicts apply at block starts only, so where a flush or a resume
        // cut the input does not change what they do.
        let block_start = first_seq == self.block.start_seq;
        if block_start && !self.verdicts.is_empty() {
            let first_ms = self.batch.time_ms.first().copied().unwrap_or(i64::MIN);
            self.apply_due_verdicts(first_ms)?;
            self.emit_incidents()?;
        }
        if block_start && self.pool.shards() > 1 {
            self.exchange_populations(first_seq);
        }
        let mut batch = wit::Batch {
            symbols: Vec::new(),
            events: std::mem::take(&mut self.batch),
        };
        // Users in an open alert episode: their events are scored but not
        // learned (decided from the findings of earlier blocks of the event
        // sequence, so where a flush or a resume cut the batch does not
        // matter).
        let events = &mut batch.events;
        let block = self.block.no;
        for i in 0..events.len() {
            let held = self
                .aggregator
                .holds_learning(events.user[i], block, events.time_ms[i]);
            events.learn[i] = !held;
            self.stats.events_held += u64::from(held);
            events.manager[i] = ueba_contract::id_column(self.encoder.manager_of(events.user[i]));
        }
        let log_len = self.encoder.interner.log_len();
        let batch_no = self.stats.batches;
        // Per detector, which events it may learn from, where an exception
        // with `learn = false` keeps some from it.
        let keep: Vec<Option<Vec<bool>>> = if self.exceptions.any_unlearned() {
            let interner = &self.encoder.interner;
            self.slots
                .iter()
                .map(|slot| {
                    let name = slot.lead().name();
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
        for k in keep.iter().flatten() {
            self.stats.events_unlearned += k.iter().filter(|k| !**k).count() as u64;
        }
        let shard_of_event = self.shard_of_events(&batch.events);
        let encoder = &self.encoder;
        let symbols = |from: usize| encoder.symbols_since(from);
        let split = Split {
            events: &batch.events,
            shard: &shard_of_event,
            keep: &keep,
            log_len,
            batch_no,
        };
        self.pool
            .send(&mut self.slots, &split, symbols)
            .map_err(|e| ScoreError::Shards(e.to_string()))?;
        self.in_flight = Some(Flight {
            events: batch.events,
            shard_of_event,
            first_seq,
            batch_no,
            block,
            ends_block: ends_block.then_some(self.block.max_ms),
        });
        if self.pool.overlaps() {
            return Ok(());
        }
        self.settle()
    }

    /// At a block start when one is due ([`Cadence`]), the shards'
    /// instances of every detector exchange populations
    /// ([`Slot::exchange`]). Only at block starts, so where a flush or a
    /// resume cut the input does not change when exchanges happen; the last
    /// one is in the checkpoint.
    fn exchange_populations(&mut self, first_seq: u64) {
        let Some(&first_ms) = self.batch.time_ms.first() else {
            return;
        };
        if !self.cadence.due(first_ms, first_seq, self.batch_len()) {
            return;
        }
        let mut reports: Vec<HealthEvent> = Vec::new();
        for slot in &mut self.slots {
            slot.exchange(&mut reports);
        }
        for r in reports {
            let r = r.at_batch(self.stats.batches, first_seq, self.batch.len());
            self.health.report(&r);
            self.stats.health.push(r);
        }
    }

    /// Take the findings of the batch the detectors hold, if any, and
    /// aggregate them: risk, alerts, incidents. Called before anything
    /// reads or saves what they change.
    pub fn settle(&mut self) -> Result<(), ScoreError> {
        let Some(flight) = self.in_flight.take() else {
            return Ok(());
        };
        let observed = self
            .pool
            .receive(&mut self.slots)
            .map_err(|e| ScoreError::Shards(e.to_string()))?;
        let Flight {
            events,
            shard_of_event,
            first_seq,
            batch_no,
            block,
            ends_block,
        } = flight;
        self.aggregator.set_block(block);
        let batch = wit::Batch {
            symbols: Vec::new(),
            events,
        };
        // (seq, detector index, finding) across all detectors.
        let mut found: Vec<(u64, usize, wit::Finding)> = Vec::new();
        let sharded = !shard_of_event.is_empty();
        for o in observed {
            let d = o.detector;
            if o.events > 0 && !matches!(o.outcome, BatchOutcome::Quarantined) {
                self.stats.batch_latency[d].observe(o.took.as_secs_f64());
            }
            for r in &o.reports {
                self.health.report(r);
            }
            self.stats.health.extend(o.reports);
            match o.outcome {
                BatchOutcome::Findings(findings) => {
                    self.slots[d].instances[o.shard].sent_symbols = o.symbols_to;
                    let mut counts = GateCounts::default();
                    let len = batch.events.len();
                    // A finding must name an event this instance was sent:
                    // one of this batch, and of its shard.
                    let sent = |seq: u64| {
                        seq.checked_sub(first_seq)
                            .map(|i| i as usize)
                            .is_some_and(|i| {
                                i < len && (!sharded || shard_of_event[i] as usize == o.shard)
                            })
                    };
                    let findings = gate::admit(findings, sent, &self.output_limits, &mut counts);
                    if !counts.is_clean() {
                        self.stats.stray_findings += counts.stray;
                        let slot = &mut self.slots[d];
                        let name = slot.lead().name().to_string();
                        match self.stats.gate.iter_mut().find(|(n, _)| *n == name) {
                            Some((_, total)) => total.add(&counts),
                            None => self.stats.gate.push((name.clone(), counts.clone())),
                        }
                        if slot.gate_reports < GATE_REPORTS {
                            slot.gate_reports += 1;
                            let message = if slot.gate_reports == GATE_REPORTS {
                                format!("{counts}; further batches are counted, not reported")
                            } else {
                                counts.to_string()
                            };
                            let event =
                                HealthEvent::new(&name, HealthKind::OutputRejected, None, message)
                                    .at_batch(batch_no, first_seq, len);
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
                    self.stats.events_missed_by_failed += o.events as u64;
                }
            }
        }
        found.sort_by_key(|(seq, d, _)| (*seq, *d));
        // Every event counts toward its user-day for the alert budget, in
        // seq order with the findings, so a day closes at its first event.
        let mut counted = 0usize;
        // The findings of one event are added together and decided on once
        // (`Aggregator::decide`), after the last of them.
        let mut pending: Option<PendingEvent> = None;
        for (seq, d, f) in found {
            if pending.as_ref().is_some_and(|p| p.seq != seq) {
                self.decide_event(pending.take())?;
            }
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
            let mut finding = AlertFinding {
                detector: self.slots[d].lead().plugin.info().name.clone(),
                score: round1(f.score),
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
                criticality: None,
                tail: None,
            };
            // The detector's own score is tallied, then read against how
            // often this organisation's ordinary days reach it.
            let own = finding.score as f32;
            self.aggregator.tally(d, ev.user, own);
            if let (counted, Some(how)) = self.aggregator.calibrated(d, own) {
                finding.score = round1(counted);
                finding.tail = Some(how);
                self.stats.read_lower[d] += 1;
            }
            if let Some(level) = self.cfg.resources.criticality_of(&finding.resource) {
                let factor = self.cfg.criticality.factor(level);
                let raw = finding.score;
                finding.score = (scale_odds(raw, factor) * 10.0).round() / 10.0;
                finding.criticality = Some(ResourceCriticality {
                    level: level.name().into(),
                    factor,
                    detector_score: raw,
                });
            }
            self.ensure_modifier(ev.user);
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
                if self.findings.is_some() {
                    let risk = self.aggregator.risk_of(ev.user);
                    let record = FindingRecord {
                        user: user.to_string(),
                        peer_group: peer.map(str::to_string),
                        risk: round1(risk),
                        threshold: self.aggregator.threshold(),
                        alert: None,
                        restates: false,
                        exception: Some(if note.is_empty() {
                            format!("exceptions[{i}]")
                        } else {
                            note.to_string()
                        }),
                        finding,
                    };
                    record_finding(&mut self.findings, &mut pending, seq, record)?;
                }
                continue;
            }
            if let Some(verdict) =
                self.aggregator
                    .forgiven(ev.user, &finding.detector, &finding.resource, ev.time_ms)
            {
                // A benign verdict covers this behaviour: no risk, counted,
                // and marked in --findings.
                self.stats.forgiven += 1;
                if self.findings.is_some() {
                    let record = FindingRecord {
                        user: user.to_string(),
                        peer_group: peer.map(str::to_string),
                        risk: round1(self.aggregator.risk_of(ev.user)),
                        threshold: self.aggregator.threshold(),
                        alert: None,
                        exception: Some(format!("benign verdict on {verdict}")),
                        restates: false,
                        finding,
                    };
                    record_finding(&mut self.findings, &mut pending, seq, record)?;
                }
                continue;
            }
            let traced = self
                .trace
                .is_some()
                .then(|| (finding.detector.clone(), finding.score as f32));
            let recorded = self.findings.is_some().then(|| finding.clone());
            let weighted = finding.score * self.slots[d].lead().weight;
            let added = self.aggregator.add_finding(ev.user, d, ev.time_ms, finding);
            self.entities.add(
                EntityKind::Resource,
                ev.resource,
                ev.user,
                weighted,
                ev.time_ms,
            );
            if let Some(source) = ev.source {
                self.entities
                    .add(EntityKind::Source, source, ev.user, weighted, ev.time_ms);
            }
            if let Some(Added { before, .. }) = added {
                // The risk before the event is the one before its first
                // finding.
                let p = pending.get_or_insert_with(|| PendingEvent {
                    seq,
                    user: ev.user,
                    peer_group: ev.peer_group,
                    time_ms: ev.time_ms,
                    before,
                    detectors: 0,
                    records: Vec::new(),
                });
                p.detectors |= detector_bit(d);
            }
            if let Some(finding) = recorded {
                let record = FindingRecord {
                    user: user.to_string(),
                    peer_group: peer.map(str::to_string),
                    risk: round1(self.aggregator.risk_of(ev.user)),
                    threshold: self.aggregator.threshold(),
                    alert: None,
                    exception: None,
                    restates: added.is_some_and(|a| a.restated),
                    finding,
                };
                record_finding(&mut self.findings, &mut pending, seq, record)?;
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
        }
        self.decide_event(pending.take())?;
        for i in counted..batch.events.len() {
            self.aggregator
                .active(batch.events.user[i], batch.events.time_ms[i]);
        }
        // Episodes that calmed down close at block ends only, so the
        // incident records come out in the same order however the input
        // was cut.
        if let Some(now) = ends_block
            && now != i64::MIN
        {
            self.aggregator.close_calmed(now);
        }
        self.emit_incidents()?;
        self.stats.threshold = self.aggregator.threshold();
        self.stats.budget = self.aggregator.budget_standing();
        // The columns' capacity serves the next batch, if it has not
        // begun filling.
        if self.batch.is_empty() {
            let mut spare = batch.events;
            spare.clear();
            self.batch = spare;
        }
        self.sink.flush()?;
        Ok(())
    }

    /// The input has ended: score what is left (events the time guard
    /// still holds are refused, [`super::clock`]) and return the report
    /// and the sink.
    pub fn finish(mut self) -> Result<(Report, S), ScoreError> {
        let mut out = Vec::new();
        self.clock.end(self.jump_ms(), self.newest(), &mut out);
        self.decide(out)?;
        self.flush()?;
        Ok(self.finish_without_flush())
    }

    /// The report and the sink without scoring what is still held: for a
    /// run stopping right after a checkpoint that holds those events (a
    /// checkpoint settles the shards, so no batch is in flight then).
    pub fn finish_without_flush(mut self) -> (Report, S) {
        self.stats.verdicts_pending = self.verdicts.front().map(|v| {
            (
                self.verdicts.len() as u64,
                format!(
                    "{}:{} at {}",
                    v.path.display(),
                    v.line,
                    format_time(v.time_ms)
                ),
            )
        });
        let standings = self.aggregator.standings();
        let entities = |kind| {
            self.entities
                .top(kind, ENTITIES_REPORTED)
                .into_iter()
                .map(|e| self.ranked_entity(e))
                .collect()
        };
        let resources = entities(EntityKind::Resource);
        let sources = entities(EntityKind::Source);
        let report = Report {
            resources,
            sources,
            entities_untracked: self.entities.untracked(),
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

impl<S: AlertSink> Scorer<S> {
    /// Each event's shard, or nothing with one shard. A user's shard is
    /// computed once, from their name.
    fn shard_of_events(&mut self, events: &wit::Events) -> Vec<u16> {
        let shards = self.shards();
        if shards == 1 {
            return Vec::new();
        }
        let interner = &self.encoder.interner;
        let user_shard = &mut self.user_shard;
        events
            .user
            .iter()
            .map(|&u| {
                let idx = u as usize;
                if user_shard.len() <= idx {
                    let from = user_shard.len();
                    user_shard.extend((from..=idx).map(|id| {
                        shard::shard_of(interner.text(SymbolKind::User, id as u32), shards) as u16
                    }));
                }
                user_shard[idx]
            })
            .collect()
    }

    /// An entity's standing with its name and its users' names.
    fn ranked_entity(&self, e: EntityStanding) -> RankedEntity {
        let interner = &self.encoder.interner;
        let symbol = match e.kind {
            EntityKind::Resource => SymbolKind::Resource,
            EntityKind::Source => SymbolKind::Source,
        };
        RankedEntity {
            name: interner.text(symbol, e.id).to_string(),
            top_users: e
                .top_users
                .iter()
                .map(|&u| interner.text(SymbolKind::User, u).to_string())
                .collect(),
            standing: e,
        }
    }
}

/// How an event looks to the analyst's exceptions: its texts.
pub(crate) fn subject<'a>(interner: &'a Interner, ev: &Event) -> Subject<'a> {
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
pub(crate) fn kept_events(events: &wit::Events, keep: &[bool]) -> wit::Events {
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
