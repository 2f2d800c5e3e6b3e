//! The bounded scoring queue and the one thread that owns the [`Scorer`].
//!
//! Detectors run synchronously inside their wasm sandboxes, so scoring stays
//! on a plain thread and HTTP handlers only parse and enqueue. The queue is
//! bounded in events, not requests: a request is queued whole when its
//! events fit under `serve.queue_events` together with everything queued or
//! being scored, and refused otherwise, so memory stays bounded however fast
//! clients send. When no events arrive for `serve.idle_flush_ms`, what the
//! scorer holds for reordering is scored at once, as `ueba score` does on a
//! quiet input, so alerts are not held back.
//!
//! After every message the worker publishes a [`Snapshot`] of the scorer's
//! counts for `/metrics` and `/healthz`, which therefore never wait for a
//! batch in progress.
//!
//! New plugin versions ([`super::reload`]) travel through the same channel
//! as events, so a change is applied after every event queued before it has
//! been pushed into the scorer, and before any event queued after it.
//!
//! With durable state ([`Durable`]) a request is acknowledged only once a
//! checkpoint covers its events ([`Receipt::settled`]): what a client was
//! told is taken survives a kill, and what it was not told is taken it sends
//! again, which the resumed service scores exactly once because the
//! checkpoint (and the alert file, cut back to its length then) predates it.
//! Requests waiting together share one checkpoint (group commit).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ueba_engine::event::AccessEvent;
use ueba_engine::pipeline::{AlertSink, Histogram, Report, ScoreError, Scorer, Stats};
use ueba_engine::sandbox::plugins::HealthKind;
use ueba_engine::state::{Checkpoint, OutputMark, StateDir};

/// Durable state for the service (`ueba serve --state DIR`): the worker
/// checkpoints every `every_events` events or `every` of wall time, whenever
/// requests wait for their acknowledgement (at most once per `ack_interval`,
/// and at most a fifth of the time), and once more at shutdown after
/// everything accepted has been scored.
pub struct Durable {
    /// The locked state directory.
    pub dir: StateDir,
    /// Checkpoint after this many events.
    pub every_events: u64,
    /// Checkpoint at least this often while events arrive.
    pub every: Duration,
    /// The least time between two checkpoints taken to acknowledge
    /// requests: requests arriving meanwhile share the next one.
    pub ack_interval: Duration,
    /// The alert file (absolute), when alerts go to one: its length is
    /// recorded in each checkpoint, and a resumed service cuts it back to
    /// that length, so alerts of events sent again are not written twice.
    pub output: Option<PathBuf>,
}

impl Durable {
    fn save<S: AlertSink>(&self, scorer: &mut Scorer<S>) -> Result<(), StopError> {
        scorer.flush_sink()?;
        // Events arrive over HTTP: there is no input to reposition.
        let output = match &self.output {
            Some(path) => Some(OutputMark::of(path).map_err(|source| StopError::Output {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let checkpoint = Checkpoint::now(scorer.save_state()?, None, output, 0);
        self.dir.save(&checkpoint)?;
        Ok(())
    }
}

/// Why the scoring thread stopped: scoring failed, or a checkpoint could
/// not be saved.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// Scoring failed (the alert sink, running out of ids).
    #[error(transparent)]
    Score(#[from] ScoreError),
    /// A checkpoint could not be saved.
    #[error("saving state: {0}")]
    Checkpoint(#[from] ueba_engine::state::StateError),
    /// The alert file's length could not be read for a checkpoint.
    #[error("saving state: reading {path}: {source}")]
    Output {
        /// The alert file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// One detector's state, as `/metrics` and `/healthz` report it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetectorState {
    /// The detector's name.
    pub name: String,
    /// Findings so far.
    pub findings: u64,
    /// Of them, those its tail on this log read lower (this run).
    pub read_lower: u64,
    /// Wall time of its batches.
    pub latency: Histogram,
    /// Batches that failed (each is retried once on a fresh instance).
    pub failures: u64,
    /// Failed batches that succeeded on the retry.
    pub recoveries: u64,
    /// Why it was quarantined, when it was: it gets no more events.
    pub quarantined: Option<String>,
}

/// The scorer's counts after the last message the worker handled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Events scored (pushed into the scorer).
    pub events: u64,
    /// Records rejected as invalid.
    pub invalid: u64,
    /// Events a forwarding service's store failed, refused to be sent
    /// again (0 when scoring).
    pub refused: u64,
    /// Events later than the lateness rule allows (still scored).
    pub late: u64,
    /// Events refused as time outliers
    /// ([`ueba_engine::pipeline::Stats::time_outliers`]).
    pub time_outliers: u64,
    /// Events waiting for their time to be confirmed.
    pub time_waiting: usize,
    /// Names scored as the over-budget name, per kind
    /// ([`ueba_engine::pipeline::Stats::names_over_budget`]).
    pub names_over_budget: [u64; 5],
    /// Alerts written.
    pub alerts: u64,
    /// Batches sent to detectors.
    pub batches: u64,
    /// Findings dropped because they named no event of their batch.
    pub stray_findings: u64,
    /// Events a failed or quarantined detector did not score.
    pub events_missed_by_failed: u64,
    /// Per detector, in detector order.
    pub detectors: Vec<DetectorState>,
    /// What the gate dropped or cut, per detector name (this run).
    pub gate: Vec<(String, ueba_engine::sandbox::gate::GateCounts)>,
    /// Findings each `[[exceptions]]` entry kept from risk, by index.
    pub exceptions: Vec<u64>,
    /// The alert threshold in force (the alert budget moves it).
    pub threshold: f64,
    /// How the alert budget's window stands, once it sets the threshold.
    pub budget: Option<ueba_engine::risk::budget::Standing>,
    /// Verdicts applied so far (`POST /v1/feedback` and the verdicts file).
    pub verdicts_applied: u64,
    /// Findings kept from risk by benign verdicts.
    pub forgiven: u64,
    /// Incidents open now.
    pub open_incidents: usize,
    /// Plugin changes while serving, per health event kind
    /// ([`super::reload::EVENTS`]: loaded, reloaded, state_reset, removed,
    /// load_failed).
    pub reloads: Vec<(HealthKind, u64)>,
}

impl Snapshot {
    /// The counts of `stats` for detectors `names` (in index order).
    /// Failures and recoveries count every version of a detector (they are
    /// counters); a quarantine holds until a new version of it starts.
    pub fn of(stats: &Stats, names: &[String]) -> Self {
        let detectors = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mine = || stats.health.iter().filter(move |h| &h.plugin == name);
                DetectorState {
                    name: name.clone(),
                    findings: stats.findings.get(i).copied().unwrap_or(0),
                    read_lower: stats.read_lower.get(i).copied().unwrap_or(0),
                    latency: stats.batch_latency.get(i).cloned().unwrap_or_default(),
                    failures: mine().filter(|h| h.event == HealthKind::Failed).count() as u64,
                    recoveries: mine().filter(|h| h.event == HealthKind::Recovered).count() as u64,
                    quarantined: mine()
                        .rev()
                        .take_while(|h| {
                            !matches!(
                                h.event,
                                HealthKind::Loaded | HealthKind::Reloaded | HealthKind::StateReset
                            )
                        })
                        .find(|h| h.event == HealthKind::Quarantined)
                        .map(|h| h.message.clone()),
                }
            })
            .collect();
        let reloads = super::reload::EVENTS
            .iter()
            .map(|&kind| {
                let n = stats.health.iter().filter(|h| h.event == kind).count();
                (kind, n as u64)
            })
            .collect();
        Snapshot {
            events: stats.events,
            invalid: stats.invalid,
            refused: 0,
            late: stats.late,
            time_outliers: stats.time_outliers,
            time_waiting: usize::try_from(stats.time_waiting).unwrap_or(usize::MAX),
            names_over_budget: stats.names_over_budget,
            alerts: stats.alerts,
            batches: stats.batches,
            stray_findings: stats.stray_findings,
            events_missed_by_failed: stats.events_missed_by_failed,
            detectors,
            gate: stats.gate.clone(),
            exceptions: stats.exceptions.clone(),
            threshold: stats.threshold,
            budget: stats.budget,
            verdicts_applied: stats.verdicts_applied,
            forgiven: stats.forgiven,
            // Not a count of `stats`: the worker sets it from the scorer.
            open_incidents: 0,
            reloads,
        }
    }
}

/// Why a request's events were not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue has no room for them now; the client should retry later.
    #[error("the scoring queue is full ({depth} of {capacity} events); retry later")]
    Full {
        /// Events queued or being scored.
        depth: usize,
        /// `serve.queue_events`.
        capacity: usize,
    },
    /// More events than the whole queue holds: retrying cannot help.
    #[error(
        "the request holds {events} events, more than the scoring queue holds ({capacity}, serve.queue_events); send smaller requests"
    )]
    TooMany {
        /// Events in the request.
        events: usize,
        /// `serve.queue_events`.
        capacity: usize,
    },
    /// The worker has stopped (shutting down, or scoring failed).
    #[error("the scorer is not accepting events: {0}")]
    Closed(String),
    /// These events could not be saved (a forwarding service's store
    /// failed them); the service goes on, and the client should send them
    /// again.
    #[error("these events were not stored ({0}); send them again")]
    NotSaved(String),
}

/// Why the worker ended badly.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Scoring stopped, e.g. the alert sink failed.
    #[error("{source} ({unscored} accepted events were not scored)")]
    Score {
        /// The cause.
        source: StopError,
        /// Events accepted into the queue and never scored.
        unscored: usize,
    },
    /// The scoring thread panicked.
    #[error("the scoring thread stopped unexpectedly ({unscored} accepted events were not scored)")]
    Panicked {
        /// Events accepted into the queue and never scored.
        unscored: usize,
    },
    /// The scoring thread could not be started.
    #[error("starting the scoring thread: {0}")]
    Spawn(std::io::Error),
    /// The scorer could not be built, e.g. the saved state did not fit.
    #[error("{0}")]
    Build(String),
}

pub(crate) enum Msg {
    /// A request's events and its count of invalid records; with durable
    /// state, what to tell once a checkpoint covers them.
    Events {
        events: Vec<AccessEvent>,
        invalid: u64,
        ack: Option<Ack>,
    },
    /// New plugin versions, applied at the next batch boundary.
    Reload(Box<super::reload::Reload>),
    /// An analyst's question or verdict, answered in turn.
    Ask(super::analyst::Ask, tokio::sync::oneshot::Sender<Answer>),
}

/// What a request's events came to: saved (`Ok`), or not saved and why,
/// so the client sends them again while the service goes on.
pub(crate) type Ack = tokio::sync::oneshot::Sender<Result<(), String>>;

/// The worker's answer to an [`Ask`](super::analyst::Ask).
type Answer = Result<serde_json::Value, super::analyst::AskError>;

pub(crate) struct Shared {
    pub(crate) capacity: usize,
    pub(crate) durable: bool,
    pub(crate) depth: AtomicUsize,
    pub(crate) closed: AtomicBool,
    pub(crate) snapshot: Mutex<Snapshot>,
    pub(crate) failure: Mutex<Option<String>>,
    pub(crate) stopped: tokio::sync::Notify,
}

impl Shared {
    /// A fresh queue's shared side: `durable` makes every request wait for
    /// its acknowledgement ([`Receipt::settled`]).
    pub(crate) fn new(capacity: usize, durable: bool) -> Arc<Self> {
        Arc::new(Shared {
            capacity,
            durable,
            depth: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            snapshot: Mutex::new(Snapshot::default()),
            failure: Mutex::new(None),
            stopped: tokio::sync::Notify::new(),
        })
    }

    pub(crate) fn fail(&self, message: String) {
        self.closed.store(true, Ordering::SeqCst);
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
        self.stopped.notify_one();
    }
}

/// The sending side, shared by all handlers.
#[derive(Clone)]
pub struct Queue {
    pub(crate) tx: Arc<Mutex<Option<Sender<Msg>>>>,
    pub(crate) shared: Arc<Shared>,
}

impl Queue {
    /// Queue a request's events (and count its invalid records) if they
    /// fit. The [`Receipt`] says when they are safe to acknowledge.
    pub fn offer(&self, events: Vec<AccessEvent>, invalid: u64) -> Result<Receipt, QueueError> {
        let n = events.len();
        let capacity = self.shared.capacity;
        if n > capacity {
            return Err(QueueError::TooMany {
                events: n,
                capacity,
            });
        }
        if let Some(why) = self.failure() {
            return Err(QueueError::Closed(why));
        }
        // Holding the sender while reserving keeps a closed queue answering
        // "closed" rather than "full".
        let guard = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(tx) = guard.as_ref() else {
            return Err(QueueError::Closed("the service is shutting down".into()));
        };
        let reserved =
            self.shared
                .depth
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |depth| {
                    (depth + n <= capacity).then_some(depth + n)
                });
        if let Err(depth) = reserved {
            return Err(QueueError::Full { depth, capacity });
        }
        let (ack, settled) = if self.shared.durable {
            let (ack, settled) = tokio::sync::oneshot::channel();
            (Some(ack), Some(settled))
        } else {
            (None, None)
        };
        if tx
            .send(Msg::Events {
                events,
                invalid,
                ack,
            })
            .is_err()
        {
            self.shared.depth.fetch_sub(n, Ordering::SeqCst);
            return Err(QueueError::Closed(
                self.failure()
                    .unwrap_or_else(|| "the scoring thread has stopped".into()),
            ));
        }
        Ok(Receipt {
            settled,
            shared: self.shared.clone(),
        })
    }

    /// Hand the worker new plugin versions. They take no room in the queue
    /// (they hold no events), and are applied after every event queued
    /// before them. Refused once the queue is closed.
    pub fn reload(&self, reload: super::reload::Reload) -> Result<(), QueueError> {
        let guard = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        let closed = || {
            QueueError::Closed(
                self.failure()
                    .unwrap_or_else(|| "the service is shutting down".into()),
            )
        };
        let tx = guard.as_ref().ok_or_else(closed)?;
        tx.send(Msg::Reload(Box::new(reload))).map_err(|_| closed())
    }

    /// Ask the worker about incidents or a user, or hand it a verdict, and
    /// wait for the answer. The ask takes no room in the queue and is
    /// answered after every event queued before it has been pushed into the
    /// scorer. Refused ([`super::analyst::AskError::Closed`]) once the queue
    /// is closed or the worker has stopped.
    pub async fn ask(&self, ask: super::analyst::Ask) -> Answer {
        let closed = || {
            QueueError::Closed(
                self.failure()
                    .unwrap_or_else(|| "the service is shutting down".into()),
            )
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        {
            let guard = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = guard.as_ref().ok_or_else(closed)?;
            tx.send(Msg::Ask(ask, reply)).map_err(|_| closed())?;
        }
        answer.await.map_err(|_| closed())?
    }

    /// Events queued or being scored.
    pub fn depth(&self) -> usize {
        self.shared.depth.load(Ordering::SeqCst)
    }

    /// Most events the queue holds (`serve.queue_events`).
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The scorer's counts as of the last message it handled.
    pub fn snapshot(&self) -> Snapshot {
        self.shared
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why the worker stopped, when it failed.
    pub fn failure(&self) -> Option<String> {
        self.shared
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Resolves when the worker fails, so the service can stop instead of
    /// accepting events it cannot score.
    pub async fn failed(&self) {
        if self.shared.closed.load(Ordering::SeqCst) {
            return;
        }
        self.shared.stopped.notified().await;
    }

    /// Accept no more events; the worker scores what is queued and ends.
    pub fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// A queued request's claim on its acknowledgement.
///
/// Without durable state, events are acknowledged once queued: a killed
/// service loses what it had not scored. With it, [`Receipt::settled`]
/// resolves once a checkpoint covers the events, so an acknowledged event
/// survives a kill and an unacknowledged one is sent again by the client.
#[must_use = "a request is acknowledged only once its receipt settles"]
pub struct Receipt {
    settled: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("waits_for_checkpoint", &self.settled.is_some())
            .finish()
    }
}

impl Receipt {
    /// Wait until the request may be acknowledged. An error means the
    /// events were not saved: the scorer stopped first (a restarted service
    /// resumes from a checkpoint without them), or a forwarding service's
    /// store failed them; either way the client should send them again.
    pub async fn settled(self) -> Result<(), QueueError> {
        let Some(settled) = self.settled else {
            return Ok(());
        };
        match settled.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(QueueError::NotSaved(why)),
            Err(_) => Err(QueueError::Closed(
                self.shared
                    .failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .map_or_else(
                        || {
                            "the scorer stopped before these events were saved; send them again"
                                .into()
                        },
                        |why| format!("{why}; these events were not saved, send them again"),
                    ),
            )),
        }
    }
}

/// The scoring thread; [`Worker::join`] waits for it to drain and finish.
pub struct Worker<S> {
    handle: JoinHandle<Result<Option<(Report, S)>, StopError>>,
    shared: Arc<Shared>,
    ready: Option<std::sync::mpsc::Receiver<Result<(), String>>>,
}

impl<S> Worker<S> {
    /// Wait until the scorer has been built (and its saved state restored)
    /// on the worker thread, so a bad state stops start-up before the
    /// service listens.
    pub fn ready(&mut self) -> Result<(), WorkerError> {
        match self.ready.take().map(|r| r.recv()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(WorkerError::Build(e)),
            Some(Err(_)) => Err(WorkerError::Panicked { unscored: 0 }),
        }
    }

    /// Wait for the worker to score everything queued (after
    /// [`Queue::close`]) and return the run's report and the alert sink.
    pub fn join(self) -> Result<(Report, S), WorkerError> {
        let joined = self.handle.join();
        let unscored = self.shared.depth.load(Ordering::SeqCst);
        match joined {
            Ok(Ok(Some(done))) => Ok(done),
            Ok(Ok(None)) => Err(WorkerError::Build("the scorer could not be built".into())),
            Ok(Err(source)) => Err(WorkerError::Score { source, unscored }),
            Err(_) => Err(WorkerError::Panicked { unscored }),
        }
    }
}

/// Marks the worker failed if its thread unwinds, so the service stops;
/// the second field names the thread (`scoring`, `forwarding`).
pub(crate) struct PanicGuard(pub(crate) Arc<Shared>, pub(crate) &'static str);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .fail(format!("the {} thread stopped unexpectedly", self.1));
        }
    }
}

/// Start the worker thread. `build` makes the scorer on that thread (a
/// scorer's health sink need not be `Send`); `capacity` is the queue's size
/// in events and `idle` how long without events before held events are
/// scored. `verdicts` is the verdicts file `POST /v1/feedback` appends to
/// (the one `build` read); without one, verdicts are refused, since they
/// would be lost at the next start.
pub fn start<S, F>(
    build: F,
    capacity: usize,
    idle: Duration,
    durable: Option<Durable>,
    verdicts: Option<PathBuf>,
) -> Result<(Queue, Worker<S>), WorkerError>
where
    S: AlertSink + Send + 'static,
    F: FnOnce() -> Result<Scorer<S>, String> + Send + 'static,
{
    let (tx, rx) = channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let shared = Shared::new(capacity, durable.is_some());
    let for_thread = shared.clone();
    let handle = std::thread::Builder::new()
        .name("ueba-scorer".into())
        .spawn(move || {
            let _guard = PanicGuard(for_thread.clone(), "scoring");
            let scorer = match build() {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return Ok(None);
                }
            };
            let result = work(
                scorer,
                &rx,
                &for_thread,
                idle,
                durable.as_ref(),
                verdicts.as_deref(),
            )
            .map(Some);
            if let Err(e) = &result {
                for_thread.fail(e.to_string());
            }
            result
        })
        .map_err(WorkerError::Spawn)?;
    Ok((
        Queue {
            tx: Arc::new(Mutex::new(Some(tx))),
            shared: shared.clone(),
        },
        Worker {
            handle,
            shared,
            ready: Some(ready_rx),
        },
    ))
}

fn publish<S: AlertSink>(shared: &Shared, scorer: &Scorer<S>) {
    let snap = Snapshot {
        open_incidents: scorer.open_incidents(),
        ..Snapshot::of(scorer.stats(), scorer.detector_names())
    };
    *shared
        .snapshot
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = snap;
}

/// Acknowledgements waiting for a checkpoint, and when the next checkpoint
/// taken for them may start.
struct Pending {
    acks: Vec<Ack>,
    next: Instant,
}

impl Pending {
    /// Save a checkpoint, then release every waiting acknowledgement. The
    /// next checkpoint for acknowledgements waits at least `ack_interval`
    /// and four times this one's duration, so saving takes at most a fifth
    /// of the worker's time however often requests arrive.
    fn commit<S: AlertSink>(
        &mut self,
        d: &Durable,
        scorer: &mut Scorer<S>,
    ) -> Result<(), StopError> {
        let started = Instant::now();
        d.save(scorer)?;
        let took = started.elapsed();
        for ack in self.acks.drain(..) {
            // A client that went away meanwhile is sent nothing.
            let _ = ack.send(Ok(()));
        }
        self.next = Instant::now() + d.ack_interval.max(took * 4);
        Ok(())
    }
}

fn work<S: AlertSink>(
    mut scorer: Scorer<S>,
    rx: &Receiver<Msg>,
    shared: &Shared,
    idle: Duration,
    durable: Option<&Durable>,
    verdicts: Option<&std::path::Path>,
) -> Result<(Report, S), StopError> {
    publish(shared, &scorer);
    let mut holding = false;
    let mut last_message = Instant::now();
    let mut saved_at = (Instant::now(), scorer.stats().events);
    let mut pending = Pending {
        acks: Vec::new(),
        next: Instant::now(),
    };
    loop {
        if let Some(d) = durable {
            let periodic = scorer.stats().events > saved_at.1
                && (scorer.stats().events >= saved_at.1 + d.every_events
                    || saved_at.0.elapsed() >= d.every);
            let acks_due = !pending.acks.is_empty() && Instant::now() >= pending.next;
            if periodic || acks_due {
                pending.commit(d, &mut scorer)?;
                saved_at = (Instant::now(), scorer.stats().events);
            }
        }
        // Wake for the idle flush, or for the next checkpoint that
        // acknowledgements wait for, whichever comes first.
        let mut wait = idle.saturating_sub(last_message.elapsed());
        if !holding {
            wait = idle;
        }
        if !pending.acks.is_empty() {
            wait = wait.min(pending.next.saturating_duration_since(Instant::now()));
        }
        match rx.recv_timeout(wait) {
            Ok(Msg::Reload(reload)) => {
                last_message = Instant::now();
                super::reload::apply(&mut scorer, *reload)?;
                publish(shared, &scorer);
            }
            Ok(Msg::Ask(ask, reply)) => {
                // With shards, the detectors may still hold the last batch:
                // the answer reflects every event scored so far.
                scorer.settle()?;
                // A verdict names an alert. With durable state the events
                // that raised it are saved before the verdict is recorded,
                // so a service restarted from a checkpoint knows the alert
                // when it reads the verdict back, even if no client sends
                // those events again.
                let verdict = matches!(ask, super::analyst::Ask::Feedback(_));
                if let (Some(d), true, Some(_)) = (durable, verdict, verdicts) {
                    pending.commit(d, &mut scorer)?;
                    saved_at = (Instant::now(), scorer.stats().events);
                }
                // A client that went away meanwhile is sent nothing; a
                // verdict it sent is recorded all the same.
                let _ = reply.send(super::analyst::answer(&mut scorer, ask, verdicts));
            }
            Ok(Msg::Events {
                events,
                invalid,
                ack,
            }) => {
                last_message = Instant::now();
                for _ in 0..invalid {
                    scorer.count_invalid();
                }
                for (i, ev) in events.iter().enumerate() {
                    if let Err(e) = scorer.push(ev) {
                        shared.depth.fetch_sub(i, Ordering::SeqCst);
                        return Err(e.into());
                    }
                }
                shared.depth.fetch_sub(events.len(), Ordering::SeqCst);
                holding |= !events.is_empty();
                pending.acks.extend(ack);
                publish(shared, &scorer);
            }
            Err(RecvTimeoutError::Timeout) => {
                if holding && last_message.elapsed() >= idle {
                    scorer.flush()?;
                    holding = false;
                    publish(shared, &scorer);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    settle_before_exit(&mut scorer)?;
    if let Some(d) = durable {
        pending.commit(d, &mut scorer)?;
    }
    publish(shared, &scorer);
    Ok(scorer.finish()?)
}

/// The last step of a shutdown with the scorer still alive: every queued
/// event has been pushed; this scores what is held for reordering and
/// flushes the alert sink, so the scorer's state covers every accepted event
/// and no alert is left buffered. This is the point at which the scorer's
/// state is complete, and where `--state` saves it for the next start.
fn settle_before_exit<S: AlertSink>(scorer: &mut Scorer<S>) -> Result<(), StopError> {
    Ok(scorer.flush()?)
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
