//! `ueba worker`: score the partitions this process owns.
//!
//! One loop on one thread: lease upkeep, then a pull from each owned
//! partition's consumer, each message scored by that partition's own
//! [`Scorer`]. Every `checkpoint_events` events (and at exit) a partition
//! settles, publishes the alerts it emitted and waits for their acks,
//! stores its checkpoint with the last stream sequence it covers, and only
//! then acks the messages up to that sequence. A crash anywhere in between
//! re-scores from the stored checkpoint: the same alerts come again with
//! the same ids, and the alerts stream drops them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::{Context, Message, stream};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;
use ueba_engine::event::format_time;
use ueba_engine::pipeline::{Scorer, UserSummary};
use ueba_engine::risk::incidents::IncidentRecord;
use ueba_engine::state::{Checkpoint, decode, encode};

use crate::lease::{LeaseStep, decide, refresh_every};
use crate::names::*;
use crate::progress::{Progress, unwrap, wrap};
use crate::sink::{Outbox, PendingRecord};
use crate::{NatsError, server, verdicts};
use ueba_engine::risk::verdicts::PendingVerdict;

/// Messages asked for per pull request, and taken from a partition before
/// the others get their turn, so one busy partition does not starve the
/// rest. The client asks for the next ones while the worker scores these.
const PULL: usize = 4096;
/// How long a visit to a partition waits for its first message.
const FIRST_WAIT: Duration = Duration::from_millis(20);
/// How long a delivered message may stay unacked before the server sends
/// it again. Acks follow checkpoints, so this must outlast the time between
/// two; a redelivery within one run is skipped anyway.
const ACK_WAIT: Duration = Duration::from_secs(600);
/// Pause when every owned partition is drained.
const IDLE_PAUSE: Duration = Duration::from_millis(100);
/// Invalid payloads quoted in the log per partition; the rest are counted.
const SHOWN_INVALID: u64 = 5;
/// How long every owned partition must have been quiet before those with
/// messages scored since their last checkpoint store one: what they scored
/// is acked, and what analysts are shown of their users
/// ([`USERS_BUCKET`]) catches up, without waiting for `checkpoint_events`
/// more events.
const QUIET_CHECKPOINT: Duration = Duration::from_secs(2);
/// KV values written at once (alert index entries, user summaries), each
/// awaiting its ack.
const CONCURRENT_PUTS: usize = 64;
/// A partition's incidents in [`INCIDENTS_BUCKET`] are cut, oldest first,
/// to this many bytes of JSON: well inside the server's smallest usual
/// message size limit (1 MiB by default).
const INCIDENTS_BYTES: usize = 512 * 1024;

/// Which partitions a worker may own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partitions {
    /// Every partition of the stream.
    All,
    /// These only.
    List(Vec<u32>),
}

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The server.
    pub server: crate::Server,
    /// This worker's name, its lease value: unique among live workers. A
    /// worker restarted under the same name takes its partitions back at
    /// once; under another, after their leases lapse.
    pub name: String,
    /// The partitions it may own.
    pub partitions: Partitions,
    /// Events per partition between checkpoints.
    pub checkpoint_events: u64,
    /// Exit after this long with no message on any owned partition.
    pub exit_when_idle: Option<Duration>,
    /// A lease's lifetime: how long a killed worker's partitions wait
    /// before another worker takes them.
    pub lease_ttl: Duration,
    /// Also publish incident changes to `ueba.incidents`.
    pub incidents: bool,
    /// Also publish every finding to `ueba.findings`.
    pub findings: bool,
}

impl WorkerOptions {
    /// What this worker publishes: alerts, and what was asked besides.
    fn outputs(&self) -> Vec<Output> {
        Output::ALL
            .into_iter()
            .filter(|o| match o {
                Output::Alerts => true,
                Output::Incidents => self.incidents,
                Output::Findings => self.findings,
            })
            .collect()
    }
}

/// What a worker did, for its last log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Events scored (redeliveries skipped not counted).
    pub events: u64,
    /// Messages that were not a valid event, skipped and counted (the first
    /// few per partition are quoted in the log).
    pub invalid: u64,
    /// Alerts published (before the server's deduplication).
    pub alerts: u64,
    /// Of those, how many the alerts stream already held (re-emitted after
    /// a restart from a checkpoint) and dropped.
    pub duplicates: u64,
    /// Incident changes published (`--incidents`), duplicates included.
    pub incidents: u64,
    /// Findings published (`--findings`), duplicates included.
    pub findings: u64,
    /// Checkpoints stored.
    pub checkpoints: u64,
    /// Events of the partitions held at the end that were refused as time
    /// outliers, over the partitions' whole history
    /// ([`ueba_engine::pipeline::Stats::time_outliers`]).
    pub time_outliers: u64,
    /// Events of those partitions waiting at the end for their time to be
    /// confirmed (kept in the partitions' checkpoints).
    pub time_waiting: u64,
    /// Wall-clock time (ms since the Unix epoch) the first message arrived,
    /// and the time the worker's work was done: its last message scored
    /// and its final checkpoints stored, the idle wait before exiting left
    /// out. Over several workers, events over the span from the earliest
    /// first message to the latest end is their throughput
    /// (`ueba bench --nats`).
    pub first_message_ms: Option<u64>,
    /// See [`first_message_ms`](Self::first_message_ms).
    pub done_ms: Option<u64>,
}

/// Builds the scorer of one partition around the sink the worker drains:
/// the binary's config, identities and detectors, as `ueba score` has them.
pub type BuildScorer<'a> = dyn FnMut(u32, Outbox) -> Result<Scorer<Outbox>, String> + 'a;

/// One partition this worker holds the lease of.
struct Owned {
    partition: u32,
    lease_revision: u64,
    scorer: Scorer<Outbox>,
    /// What the scorer writes, per kind of record published.
    outboxes: Vec<(Output, Outbox)>,
    /// The partition's messages, pulled continuously: the client asks for
    /// the next [`PULL`] while the worker scores the previous ones.
    messages: pull::Stream,
    progress: Progress,
    /// The newest scored message: acking it acks all before it (AckAll).
    last: Option<Message>,
    /// Records taken from the scorer and not yet all acknowledged by their
    /// streams: kept until they are, so a retried checkpoint sends them
    /// again rather than covering records never stored.
    unpublished: Vec<(Output, PendingRecord)>,
    invalid: u64,
    /// The verdicts on this partition's alerts read so far, in stream
    /// order (the scorer skips those it applied before its checkpoint).
    verdicts: Vec<PendingVerdict>,
    /// The verdicts stream's sequence read up to.
    verdicts_read: u64,
    /// User summaries changed and not yet written to [`USERS_BUCKET`]
    /// (kept over a failed write, the newest per user).
    unwritten: BTreeMap<String, UserSummary>,
}

impl Owned {
    /// Read the verdicts published on this partition since the last read,
    /// settle when each applies ([`verdicts::settle`]) and queue them in
    /// the scorer.
    async fn take_verdicts(&mut self, srv: &Server) -> Result<(), NatsError> {
        let (mut new, last) = verdicts::read(&srv.js, self.partition, self.verdicts_read).await?;
        let settled = verdicts::settle(
            &srv.verdict_times,
            self.partition,
            &mut new,
            self.scorer.released_ms(),
        )
        .await;
        // On a failure, the verdicts not settled are read again next time.
        self.verdicts_read = match (&settled, new.last()) {
            (Ok(()), _) => last,
            (Err(_), Some(v)) => v.line,
            (Err(_), None) => self.verdicts_read,
        };
        self.queue_verdicts(new);
        settled
    }

    /// Queue verdicts read and settled, after those queued before.
    fn queue_verdicts(&mut self, new: Vec<PendingVerdict>) {
        if !new.is_empty() {
            tracing::info!(
                partition = self.partition,
                "partition {}: {} new verdicts",
                self.partition,
                new.len()
            );
            self.verdicts.extend(new);
            self.scorer.sync_verdicts(self.verdicts.clone());
        }
    }
}

/// The worker's handles on the server.
struct Server {
    /// This worker's name, the value of its leases.
    name: Bytes,
    js: Context,
    events: stream::Stream,
    owners: kv::Store,
    checkpoints: ObjectStore,
    /// [`ALERT_INDEX_BUCKET`], where published alerts are indexed.
    alert_index: kv::Store,
    /// [`USERS_BUCKET`], what analysts are shown about each user.
    users: kv::Store,
    /// [`INCIDENTS_BUCKET`], each partition's incidents.
    incidents: kv::Store,
    /// [`VERDICT_TIMES_BUCKET`], when each verdict applies.
    verdict_times: kv::Store,
}

/// Run a worker until `exit_when_idle` says it is done (or forever).
pub async fn run(
    opts: &WorkerOptions,
    build: &mut BuildScorer<'_>,
) -> Result<WorkerSummary, NatsError> {
    let js = server::connect(&opts.server).await?;
    let (events, partitions) = server::events_stream(&js, &opts.server.url, None).await?;
    let wanted: Vec<u32> = match &opts.partitions {
        Partitions::All => (0..partitions).collect(),
        Partitions::List(list) => {
            if let Some(&p) = list.iter().find(|&&p| p >= partitions) {
                return Err(NatsError::NoSuchPartition {
                    partition: p,
                    partitions,
                });
            }
            list.clone()
        }
    };
    for output in opts.outputs() {
        server::output_stream(&js, output).await?;
    }
    let owners = server::key_value(&js, OWNERS_BUCKET, opts.lease_ttl).await?;
    // The lease's lifetime is the bucket's, set by whoever created it:
    // refresh by that, whatever this worker was told.
    let lease_ttl = match server::lease_lifetime(&js).await? {
        Some(ttl) => {
            if ttl != opts.lease_ttl {
                tracing::info!(
                    "leases in {OWNERS_BUCKET} last {}s (set when the bucket was created), not the {}s asked",
                    ttl.as_secs_f64(),
                    opts.lease_ttl.as_secs_f64()
                );
            }
            ttl
        }
        None => {
            tracing::warn!(
                "bucket {OWNERS_BUCKET} keeps values forever: a killed worker's partitions are never taken over by another name; delete the bucket to have it remade with --lease-secs"
            );
            opts.lease_ttl
        }
    };
    let srv = Server {
        name: Bytes::from(opts.name.clone()),
        owners,
        checkpoints: server::checkpoints(&js).await?,
        alert_index: server::key_value(&js, ALERT_INDEX_BUCKET, Duration::ZERO).await?,
        users: server::key_value(&js, USERS_BUCKET, Duration::ZERO).await?,
        incidents: server::key_value(&js, INCIDENTS_BUCKET, Duration::ZERO).await?,
        verdict_times: server::key_value(&js, VERDICT_TIMES_BUCKET, Duration::ZERO).await?,
        events,
        js,
    };
    tracing::info!(
        worker = opts.name,
        "worker {} on {}: {} partitions in the stream, may own {:?}",
        opts.name,
        opts.server,
        partitions,
        wanted
    );
    let mut owned: BTreeMap<u32, Owned> = BTreeMap::new();
    let mut told_held: BTreeMap<u32, String> = BTreeMap::new();
    let mut summary = WorkerSummary::default();
    let refresh = refresh_every(lease_ttl);
    let mut next_lease = Instant::now();
    let mut last_message = Instant::now();
    let mut last_message_ms = 0u64;
    loop {
        if Instant::now() >= next_lease {
            next_lease = Instant::now() + refresh;
            upkeep(&srv, opts, build, &wanted, &mut owned, &mut told_held).await?;
        }
        let mut got = 0usize;
        let mut lost = Vec::new();
        for (&p, part) in owned.iter_mut() {
            match pull(&srv, opts, part, &mut summary).await {
                Ok(n) => got += n,
                Err(e) => {
                    tracing::warn!(partition = p, "partition {p}: {e}; letting it go");
                    lost.push(p);
                }
            }
        }
        for p in lost {
            owned.remove(&p);
        }
        if got > 0 {
            last_message = Instant::now();
            summary.first_message_ms.get_or_insert_with(epoch_ms);
            last_message_ms = epoch_ms();
            continue;
        }
        if last_message.elapsed() >= QUIET_CHECKPOINT {
            let mut lost = Vec::new();
            for (&p, part) in owned.iter_mut().filter(|(_, part)| part.last.is_some()) {
                match checkpoint(&srv, part, false, &mut summary).await {
                    Err(e @ NatsError::LeaseLost { .. }) => {
                        tracing::warn!(partition = p, "{e}");
                        lost.push(p);
                    }
                    done => done?,
                }
            }
            for p in lost {
                owned.remove(&p);
            }
        }
        if let Some(idle) = opts.exit_when_idle
            && last_message.elapsed() >= idle
        {
            let closing = Instant::now();
            for (_, mut part) in std::mem::take(&mut owned) {
                let stats = part.scorer.stats();
                summary.time_outliers += stats.time_outliers;
                summary.time_waiting += stats.time_waiting;
                match last_checkpoint(&srv, &mut part, &mut summary).await {
                    Err(e @ NatsError::LeaseLost { .. }) => {
                        tracing::warn!(partition = part.partition, "{e}");
                        continue;
                    }
                    done => done?,
                }
                if let Err(e) = srv.owners.delete(part.partition.to_string()).await {
                    tracing::warn!(
                        partition = part.partition,
                        "releasing the lease of partition {}: {e}",
                        part.partition
                    );
                }
            }
            summary.done_ms = summary
                .first_message_ms
                .map(|_| last_message_ms + closing.elapsed().as_millis() as u64);
            tracing::info!(
                worker = opts.name,
                events = summary.events,
                alerts = summary.alerts,
                checkpoints = summary.checkpoints,
                duplicates = summary.duplicates,
                invalid = summary.invalid,
                time_outliers = summary.time_outliers,
                time_waiting = summary.time_waiting,
                "worker {}: idle for {}s, done: {} events scored, {} invalid messages skipped, {} alerts published ({} already in the stream), {} checkpoints; time outliers: {} refused, {} waiting",
                opts.name,
                idle.as_secs(),
                summary.events,
                summary.invalid,
                summary.alerts,
                summary.duplicates,
                summary.checkpoints,
                summary.time_outliers,
                summary.time_waiting
            );
            return Ok(summary);
        }
        tokio::time::sleep(IDLE_PAUSE).await;
    }
}

/// Now, in ms since the Unix epoch (0 on a clock set before it).
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Refresh the leases held, drop those lost, and take the wanted
/// partitions that are free.
async fn upkeep(
    srv: &Server,
    opts: &WorkerOptions,
    build: &mut BuildScorer<'_>,
    wanted: &[u32],
    owned: &mut BTreeMap<u32, Owned>,
    told_held: &mut BTreeMap<u32, String>,
) -> Result<(), NatsError> {
    let name = srv.name.clone();
    let mut lost = Vec::new();
    for (&p, part) in owned.iter_mut() {
        match srv
            .owners
            .update(p.to_string(), name.clone(), part.lease_revision)
            .await
        {
            Ok(rev) => part.lease_revision = rev,
            Err(e) => {
                tracing::warn!(
                    partition = p,
                    "lost the lease of partition {p} ({e}); its work since the last checkpoint is left to its next owner"
                );
                lost.push(p);
                continue;
            }
        }
        if let Err(e) = part.take_verdicts(srv).await {
            tracing::warn!(partition = p, "partition {p}: reading its verdicts: {e}");
        }
    }
    for p in lost {
        owned.remove(&p);
    }
    for &p in wanted {
        if owned.contains_key(&p) {
            continue;
        }
        let entry = match srv.owners.entry(p.to_string()).await {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(
                    partition = p,
                    "reading the lease of partition {p}: {e}; trying again shortly"
                );
                continue;
            }
        };
        let current = entry.as_ref().and_then(|e| match e.operation {
            Operation::Put => Some((std::str::from_utf8(&e.value).unwrap_or(""), e.revision)),
            Operation::Delete | Operation::Purge => None,
        });
        let revision = match decide(current, &opts.name) {
            LeaseStep::HeldBy(owner) => {
                if told_held.get(&p) != Some(&owner) {
                    tracing::info!(
                        partition = p,
                        owner,
                        "partition {p} is owned by live worker {owner}; not touching it"
                    );
                    told_held.insert(p, owner);
                }
                continue;
            }
            LeaseStep::Acquire => match srv.owners.create(p.to_string(), name.clone()).await {
                Ok(rev) => rev,
                Err(_) => continue,
            },
            LeaseStep::Renew(rev) => {
                match srv.owners.update(p.to_string(), name.clone(), rev).await {
                    Ok(rev) => rev,
                    Err(_) => continue,
                }
            }
        };
        told_held.remove(&p);
        match open(srv, opts, build, p, revision).await {
            Ok(part) => {
                owned.insert(p, part);
            }
            // The server was slow or briefly away: the lease stays ours
            // and the next round opens the partition again.
            Err(e @ NatsError::JetStream { .. }) => {
                tracing::warn!(
                    partition = p,
                    "taking partition {p}: {e}; trying again shortly"
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Take partition `p` over: restore its checkpoint into a new scorer and
/// (re)create its durable consumer just after the checkpoint, so events
/// come in stream order from there whatever the last owner left unacked.
async fn open(
    srv: &Server,
    opts: &WorkerOptions,
    build: &mut BuildScorer<'_>,
    p: u32,
    lease_revision: u64,
) -> Result<Owned, NatsError> {
    let stored = load_checkpoint(&srv.checkpoints, p).await?;
    let alerts = Outbox::default();
    let mut scorer = build(p, alerts.clone())
        .map_err(|message| NatsError::Scoring {
            partition: p,
            message,
        })?
        .lenient_verdicts();
    let mut outboxes = vec![(Output::Alerts, alerts)];
    if opts.incidents {
        let outbox = Outbox::default();
        scorer = scorer.with_incidents(Box::new(outbox.clone()));
        outboxes.push((Output::Incidents, outbox));
    }
    if opts.findings {
        let outbox = Outbox::default();
        scorer = scorer.with_findings(Box::new(outbox.clone()));
        outboxes.push((Output::Findings, outbox));
    }
    let progress = match stored {
        Some((seq, cp)) => {
            tracing::info!(
                partition = p,
                sequence = seq,
                "partition {p}: resuming from its checkpoint (written {}, up to stream sequence {seq})",
                cp.written
            );
            scorer
                .restore_state(cp.scorer)
                .map_err(|e| NatsError::Scoring {
                    partition: p,
                    message: format!("restoring its checkpoint: {e}"),
                })?;
            Progress::resumed_at(seq)
        }
        None => {
            tracing::info!(
                partition = p,
                "partition {p}: no checkpoint, scoring from the stream's start"
            );
            Progress::default()
        }
    };
    let name = consumer_name(p);
    // Gone already is fine: the consumer is remade either way.
    let _ = srv.events.delete_consumer(&name).await;
    let consumer: PullConsumer = srv
        .events
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: events_subject(p),
            ack_policy: AckPolicy::All,
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: progress.start_sequence(),
            },
            ack_wait: ACK_WAIT,
            max_ack_pending: i64::try_from(opts.checkpoint_events.saturating_add(2 * PULL as u64))
                .unwrap_or(i64::MAX),
            ..Default::default()
        })
        .await
        .map_err(|e| NatsError::js(format!("creating consumer {name}"), e))?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(PULL)
        .messages()
        .await
        .map_err(|e| NatsError::js(format!("pulling from {name}"), e))?;
    tracing::info!(
        partition = p,
        worker = opts.name,
        "worker {} owns partition {p}",
        opts.name
    );
    let mut owned = Owned {
        partition: p,
        lease_revision,
        scorer,
        outboxes,
        messages,
        progress,
        last: None,
        unpublished: Vec::new(),
        invalid: 0,
        verdicts: Vec::new(),
        verdicts_read: 0,
        unwritten: BTreeMap::new(),
    };
    owned.scorer.track_changed_summaries();
    owned.take_verdicts(srv).await?;
    Ok(owned)
}

/// Partition `p`'s stored checkpoint: the stream sequence it covers and
/// the engine's checkpoint.
pub(crate) async fn load_checkpoint(
    store: &ObjectStore,
    p: u32,
) -> Result<Option<(u64, Checkpoint)>, NatsError> {
    use async_nats::jetstream::object_store::GetErrorKind;
    let object = checkpoint_name(p);
    let mut obj = match store.get(&object).await {
        Ok(o) => o,
        Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(NatsError::js(
                format!("reading {CHECKPOINTS_BUCKET}/{object}"),
                e,
            ));
        }
    };
    let mut bytes = Vec::new();
    obj.read_to_end(&mut bytes)
        .await
        .map_err(|e| NatsError::js(format!("reading {CHECKPOINTS_BUCKET}/{object}"), e))?;
    let err = |message: String| NatsError::Checkpoint {
        partition: p,
        message,
    };
    let (seq, body) = unwrap(&bytes).map_err(err)?;
    let path = format!("{CHECKPOINTS_BUCKET}/{object}");
    let cp = decode(body, Path::new(&path)).map_err(|e| err(e.to_string()))?;
    Ok(Some((seq, cp)))
}

/// Pull what partition `part` has waiting and score it; returns how many
/// messages came (skipped ones included, as they are activity too).
async fn pull(
    srv: &Server,
    opts: &WorkerOptions,
    part: &mut Owned,
    summary: &mut WorkerSummary,
) -> Result<usize, NatsError> {
    let p = part.partition;
    let mut got = 0;
    while got < PULL {
        // The first message may take a moment to come; after it, only what
        // has arrived already is taken, and the other partitions get their
        // turn.
        let wait = if got == 0 { FIRST_WAIT } else { Duration::ZERO };
        let msg = match tokio::time::timeout(wait, part.messages.next()).await {
            Err(_) => break,
            Ok(None) => {
                return Err(NatsError::Input(format!(
                    "partition {p}: the server ended {}",
                    consumer_name(p)
                )));
            }
            Ok(Some(msg)) => {
                msg.map_err(|e| NatsError::js(format!("pulling from {}", consumer_name(p)), e))?
            }
        };
        got += 1;
        let seq = msg
            .info()
            .map_err(|e| NatsError::js(format!("reading a message of {}", consumer_name(p)), e))?
            .stream_sequence;
        if part.progress.skip(seq) {
            continue;
        }
        let parsed = std::str::from_utf8(&msg.payload)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                ueba_formats::sources::parse_line(text, seq).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(ev) => {
                part.scorer.push(&ev).map_err(|e| NatsError::Scoring {
                    partition: p,
                    message: e.to_string(),
                })?;
                summary.events += 1;
            }
            Err(e) => {
                part.scorer.count_invalid();
                part.invalid += 1;
                summary.invalid += 1;
                if part.invalid <= SHOWN_INVALID {
                    tracing::warn!(
                        partition = p,
                        sequence = seq,
                        "partition {p}: skipped message {seq}: {e}"
                    );
                }
            }
        }
        part.progress.scored(seq);
        part.last = Some(msg);
        if part.progress.due(opts.checkpoint_events) {
            checkpoint(srv, part, false, summary).await?;
        }
    }
    Ok(got)
}

/// Publish the alerts emitted so far, store a checkpoint covering every
/// scored message, then ack them. `last` flushes the scorer first (the
/// worker is about to stop; held events are scored now).
async fn checkpoint(
    srv: &Server,
    part: &mut Owned,
    last: bool,
    summary: &mut WorkerSummary,
) -> Result<(), NatsError> {
    let p = part.partition;
    let scoring = |e: &dyn std::fmt::Display| NatsError::Scoring {
        partition: p,
        message: e.to_string(),
    };
    if last {
        part.scorer.flush().map_err(|e| scoring(&e))?;
    }
    let state = part.scorer.save_state().map_err(|e| scoring(&e))?;
    part.scorer.flush_sink().map_err(|e| scoring(&e))?;
    for (output, outbox) in &part.outboxes {
        part.unpublished
            .extend(outbox.drain().into_iter().map(|r| (*output, r)));
    }
    publish(srv, &part.unpublished, summary).await?;
    part.unpublished.clear();
    let bytes = encode(&Checkpoint::now(state, None, None, 0)).map_err(|e| scoring(&e))?;
    let stored = wrap(part.progress.scored, &bytes);
    // The fence: renew the lease at the revision this worker last wrote.
    // If another worker took it over meanwhile (this one was paused past
    // the lease's lifetime), the revision moved on and nothing is stored,
    // so a stale worker cannot put an older checkpoint over the new
    // owner's; what it scored is left unacked for the new owner.
    part.lease_revision = srv
        .owners
        .update(p.to_string(), srv.name.clone(), part.lease_revision)
        .await
        .map_err(|e| NatsError::LeaseLost {
            partition: p,
            message: e.to_string(),
        })?;
    let object = checkpoint_name(p);
    srv.checkpoints
        .put(object.as_str(), &mut stored.as_slice())
        .await
        .map_err(|e| NatsError::js(format!("storing {CHECKPOINTS_BUCKET}/{object}"), e))?;
    let upto = part.progress.checkpointed();
    summary.checkpoints += 1;
    if let Some(msg) = part.last.take() {
        // A lost ack only means redelivery, which the stored sequence skips.
        if let Err(e) = msg.ack().await {
            tracing::warn!(partition = p, "partition {p}: acking up to {upto}: {e}");
        }
    }
    tracing::info!(
        partition = p,
        sequence = upto,
        bytes = stored.len(),
        "partition {p}: checkpoint stored up to stream sequence {upto} ({} bytes)",
        stored.len()
    );
    write_summaries(srv, part).await;
    Ok(())
}

/// Write the summaries of the partition's users that changed since the
/// last checkpoint to [`USERS_BUCKET`], and its incidents to
/// [`INCIDENTS_BUCKET`]. They only serve analysts' questions, so a failure
/// is logged and the same summaries (or newer) are written at the next
/// checkpoint; scoring goes on.
async fn write_summaries(srv: &Server, part: &mut Owned) {
    for s in part.scorer.take_changed_summaries() {
        part.unwritten.insert(s.user.clone(), s);
    }
    if part.unwritten.is_empty() {
        return;
    }
    let p = part.partition;
    let incidents = incidents_value(
        p,
        part.scorer.released_ms().map(format_time),
        part.scorer.incidents(),
    );
    match put_summaries(srv, p, &part.unwritten, incidents).await {
        Ok(()) => part.unwritten.clear(),
        Err(e) => tracing::warn!(
            partition = p,
            "partition {p}: writing {} user summaries: {e}; they are written at its next checkpoint",
            part.unwritten.len()
        ),
    }
}

async fn put_summaries(
    srv: &Server,
    p: u32,
    summaries: &BTreeMap<String, UserSummary>,
    incidents: Result<Vec<u8>, serde_json::Error>,
) -> Result<(), NatsError> {
    let encoding = |e: serde_json::Error| NatsError::Input(format!("encoding a summary: {e}"));
    let mut puts = Vec::with_capacity(summaries.len());
    for s in summaries.values() {
        // A longer name cannot be asked about (the service refuses it).
        if let Some(key) = user_key(&s.user) {
            puts.push((key, serde_json::to_vec(s).map_err(encoding)?));
        }
    }
    put_all(&srv.users, USERS_BUCKET, puts).await?;
    let key = incidents_key(p);
    srv.incidents
        .put(&key, Bytes::from(incidents.map_err(encoding)?))
        .await
        .map_err(|e| NatsError::js(format!("writing {INCIDENTS_BUCKET}/{key}"), e))?;
    Ok(())
}

/// Partition `p`'s incidents as stored in [`INCIDENTS_BUCKET`]: the newest
/// that fit in [`INCIDENTS_BYTES`], and how many older ones were left out.
fn incidents_value(
    p: u32,
    as_of: Option<String>,
    incidents: Vec<IncidentRecord>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut sizes = Vec::with_capacity(incidents.len());
    for i in &incidents {
        sizes.push(serde_json::to_vec(i)?.len() + 1);
    }
    let mut from = incidents.len();
    let mut total = 0;
    while from > 0 && total + sizes[from - 1] <= INCIDENTS_BYTES {
        from -= 1;
        total += sizes[from];
    }
    serde_json::to_vec(&serde_json::json!({
        "partition": p,
        "as_of": as_of,
        "incidents": &incidents[from..],
        "omitted": from,
    }))
}

/// The checkpoint at exit, tried a few times: failing it loses nothing
/// (the messages stay unacked for the next owner) but the worker then
/// exits with an error.
async fn last_checkpoint(
    srv: &Server,
    part: &mut Owned,
    summary: &mut WorkerSummary,
) -> Result<(), NatsError> {
    const TRIES: u32 = 3;
    let mut tries = 0;
    loop {
        tries += 1;
        match checkpoint(srv, part, true, summary).await {
            Err(e @ NatsError::JetStream { .. }) if tries < TRIES => {
                tracing::warn!(
                    partition = part.partition,
                    "final checkpoint of partition {}: {e}; trying again",
                    part.partition
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            done => return done,
        }
    }
}

/// Publish records to their streams with `Nats-Msg-Id` = their id and
/// wait for every ack, counting them in `summary` (for alerts, also those
/// the stream dropped as duplicates); then index the alerts in
/// [`ALERT_INDEX_BUCKET`] (writing an entry again changes nothing).
async fn publish(
    srv: &Server,
    records: &[(Output, PendingRecord)],
    summary: &mut WorkerSummary,
) -> Result<(), NatsError> {
    let js = &srv.js;
    let mut acks = Vec::with_capacity(records.len());
    for (output, r) in records {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", r.id.as_str());
        let ack = js
            .send_publish(
                output.subject(),
                PublishMessage::build()
                    .headers(headers)
                    .payload(Bytes::from(r.json.clone())),
            )
            .await
            .map_err(|e| NatsError::js(format!("publishing {} {}", output.record(), r.id), e))?;
        acks.push((*output, ack));
    }
    for (output, ack) in acks {
        let ack = ack.await.map_err(|e| {
            NatsError::js(
                format!(
                    "waiting for {} to store a {}",
                    output.stream(),
                    output.record()
                ),
                e,
            )
        })?;
        match output {
            Output::Alerts => {
                summary.alerts += 1;
                summary.duplicates += u64::from(ack.duplicate);
            }
            Output::Incidents => summary.incidents += 1,
            Output::Findings => summary.findings += 1,
        }
    }
    index_alerts(&srv.alert_index, records).await
}

/// Write each alert's user and time under its id in
/// [`ALERT_INDEX_BUCKET`], after the alert itself is stored: an alert
/// missing from the index (a worker that stopped in between, or one older
/// than the index) is still found by reading the alerts stream.
async fn index_alerts(
    index: &kv::Store,
    records: &[(Output, PendingRecord)],
) -> Result<(), NatsError> {
    // Owned: a name with an escape in its JSON does not borrow.
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Entry {
        user: String,
        time: String,
    }
    let alerts = records
        .iter()
        .filter(|(o, r)| *o == Output::Alerts && indexable(&r.id))
        .map(|(_, r)| r);
    let mut entries = Vec::new();
    for r in alerts {
        let Ok(entry) = serde_json::from_str::<Entry>(&r.json) else {
            continue;
        };
        let value = serde_json::to_vec(&entry).map_err(|e| NatsError::Input(e.to_string()))?;
        entries.push((r.id.clone(), value));
    }
    put_all(index, ALERT_INDEX_BUCKET, entries).await
}

/// Put every (key, value) into `store` (the KV bucket `bucket`), at most
/// [`CONCURRENT_PUTS`] awaiting their acks at once, rather than one round
/// trip after another.
async fn put_all(
    store: &kv::Store,
    bucket: &str,
    entries: Vec<(String, Vec<u8>)>,
) -> Result<(), NatsError> {
    futures_util::stream::iter(entries)
        .map(|(key, value)| async move {
            store
                .put(&key, Bytes::from(value))
                .await
                .map_err(|e| NatsError::js(format!("writing {bucket}/{key}"), e))
        })
        .buffer_unordered(CONCURRENT_PUTS)
        .try_collect::<Vec<_>>()
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ueba_engine::risk::incidents::Incident;

    fn record(i: usize) -> IncidentRecord {
        let alert = format!("a{i:05}");
        let user = format!("user{i}");
        Incident::open(&alert, i as i64 * 1000, &user, Some("team")).now()
    }

    fn read(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn a_partitions_incidents_are_all_kept_while_they_fit() {
        let v = read(
            &incidents_value(
                4,
                Some("2026-01-05T10:00:00.000Z".into()),
                (0..3).map(record).collect(),
            )
            .unwrap(),
        );
        assert_eq!(v["partition"], 4);
        assert_eq!(v["as_of"], "2026-01-05T10:00:00.000Z");
        assert_eq!(v["omitted"], 0);
        assert_eq!(v["incidents"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_partitions_incidents_beyond_the_bound_lose_the_oldest_and_say_how_many() {
        let n = 20_000;
        let bytes = incidents_value(0, None, (0..n).map(record).collect()).unwrap();
        assert!(bytes.len() <= INCIDENTS_BYTES + 200, "{}", bytes.len());
        let v = read(&bytes);
        let kept = v["incidents"].as_array().unwrap();
        let omitted = v["omitted"].as_u64().unwrap() as usize;
        assert!(omitted > 0);
        assert_eq!(omitted + kept.len(), n);
        assert_eq!(kept[0]["id"], record(omitted).id);
        assert_eq!(kept.last().unwrap()["id"], record(n - 1).id);
    }
}
