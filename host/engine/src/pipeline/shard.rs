//! Shards: the detectors' work split by user across threads.
//!
//! With `--shards N`, every user belongs to one shard, chosen by
//! [`shard_of`] from their name alone (so a publisher on another machine
//! can compute it too). Each shard has its own instance of every detector,
//! with its own store, memory limit and supervision, and sees only its
//! users' events, in the same order and with the same `learn` flags as
//! one instance would. A batch is split into one sub-batch per shard and
//! the shards observe theirs at the same time, each on a thread of its own
//! that lives as long as the scorer (`Pool`), while the scorer reads and
//! orders the next batch; it takes their findings before it decides
//! anything they could change. Findings come back in (detector, shard)
//! order and the scorer merges them by event, so the result does not
//! depend on which thread finished first. Everything across users
//! (reordering, risk, the alert budget, incidents) stays in the one
//! scorer that drives the shards.
//!
//! What a detector learns about populations (peer groups, the
//! organisation) is learned by each instance from its own shard's users.
//! So that figures such as "9 of 199 users have touched it" still count
//! everyone, the shards exchange populations (`Slot::exchange`) now and
//! then ([`Cadence`]): every instance of a detector gives its own share
//! and takes the others'. Another shard's users therefore count as of the
//! last exchange. Detectors built for a
//! contract before 0.4.0 take no part and keep their own shard's
//! population. With one shard nothing changes.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sandbox::plugins::{BatchOutcome, HealthEvent, HealthSink, LoadedPlugin};
use crate::sandbox::{PluginError, wit};

/// The most shards a run may have: beyond the cores of any one machine,
/// each is a full set of detector instances.
pub const MAX_SHARDS: usize = 256;

/// The shard of the user named `user` among `shards`: FNV-1a (64-bit) of
/// the name's UTF-8 bytes, modulo `shards`. Documented and stable, so that
/// anything routing events by user (a publisher partitioning a stream)
/// can compute it without ueba.
pub fn shard_of(user: &str, shards: usize) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = user
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    (hash % shards.max(1) as u64) as usize
}

/// When the shards exchange populations, at a block start of the event
/// sequence (`Cadence::due`): never sooner than this much event time
/// after the last exchange (an hour)...
pub const POPULATION_MIN_GAP_MS: i64 = 3_600_000;
/// ...and once this many blocks of events have gone by since it...
pub const POPULATION_BLOCKS: u64 = 16;
/// ...or, in a quiet log, once this much event time has (a day).
pub const POPULATION_MAX_GAP_MS: i64 = 86_400_000;

/// The last population exchange between the shards, in event time and
/// event sequence; part of the checkpoint, so that a resumed run exchanges
/// where an uninterrupted one would.
///
/// What an exchange costs does not depend on how many events were scored
/// since the last one, while what stale figures cost does: so a busy log
/// exchanges every [`POPULATION_BLOCKS`] blocks (but at most hourly), and a
/// quiet one at least daily. Another shard's users are counted as of the
/// last exchange: at most a day of event time late in a quiet log, and at
/// most [`POPULATION_BLOCKS`] blocks of events or an hour in a busy one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cadence {
    /// (event time, sequence number) of the first event of the block the
    /// last exchange happened before; `None` before the first.
    last: Option<(i64, u64)>,
}

impl Cadence {
    /// Whether the shards exchange before the block starting with the event
    /// at `time_ms` and `seq`, with blocks of `block` events; if so, it is
    /// counted as done.
    pub(crate) fn due(&mut self, time_ms: i64, seq: u64, block: u64) -> bool {
        let due = match self.last {
            None => true,
            Some((t, q)) => {
                // Either way: a state resumed on an older log must not wait
                // for event time to come back to its last exchange.
                let gap = i64::try_from(time_ms.abs_diff(t)).unwrap_or(i64::MAX);
                gap >= POPULATION_MIN_GAP_MS
                    && (seq.saturating_sub(q) >= POPULATION_BLOCKS.saturating_mul(block)
                        || gap >= POPULATION_MAX_GAP_MS)
            }
        };
        if due {
            self.last = Some((time_ms, seq));
        }
        due
    }
}

/// One instance of a detector: shard 0's, or another shard's.
pub(crate) struct Instance {
    pub(crate) loaded: LoadedPlugin,
    /// How far into the symbol log this instance has been sent.
    pub(crate) sent_symbols: usize,
}

/// One detector: an instance per shard, shard 0 first.
pub(crate) struct Slot {
    pub(crate) instances: Vec<Instance>,
    /// Health events the gate has reported for this detector (all shards);
    /// past a bound only the counts go on.
    pub(crate) gate_reports: u32,
}

impl Slot {
    /// A detector with one instance.
    pub(crate) fn new(loaded: LoadedPlugin, sent_symbols: usize) -> Slot {
        Slot {
            instances: vec![Instance {
                loaded,
                sent_symbols,
            }],
            gate_reports: 0,
        }
    }

    /// Shard 0's instance, which speaks for the detector (name, weight,
    /// version).
    pub(crate) fn lead(&self) -> &LoadedPlugin {
        &self.instances[0].loaded
    }

    /// The population exchange between this detector's instances: each
    /// gives its own share, then each takes the others' in shard order.
    /// Nothing happens with one instance, or for a detector built for a
    /// contract before 0.4.0; a quarantined instance gives and takes
    /// nothing while the others go on. Failures are reported to `health`;
    /// the instance keeps the figures it had.
    pub(crate) fn exchange(&mut self, health: &mut dyn HealthSink) {
        if self.instances.len() < 2 || !self.lead().plugin.shares_population() {
            return;
        }
        // Shares are taken one by one and the exchange is called off as
        // soon as they are too many bytes to absorb, so the host never
        // holds more than the limit and one share.
        let limit = self.lead().share_limit();
        let shards = self.instances.len();
        let mut shares = Vec::with_capacity(shards);
        let mut total = 0usize;
        for inst in &mut self.instances {
            let share = inst.loaded.population(health);
            total = total.saturating_add(share.len());
            if total > limit {
                self.lead().shares_too_large(total, shards, health);
                return;
            }
            shares.push(share);
        }
        let all = Arc::new(shares);
        for (k, inst) in self.instances.iter_mut().enumerate() {
            inst.loaded.absorb(all.clone(), k, health);
        }
    }

    /// Start fresh instances until there is one per shard.
    pub(crate) fn widen(&mut self, shards: usize) -> Result<(), PluginError> {
        while self.instances.len() < shards {
            let loaded = self.lead().another()?;
            self.instances.push(Instance {
                loaded,
                sent_symbols: 0,
            });
        }
        Ok(())
    }
}

/// What one instance made of its part of a batch.
pub(crate) struct Observed {
    pub(crate) detector: usize,
    pub(crate) shard: usize,
    /// Events the instance was sent, or missed when quarantined (0 when it
    /// had none this batch).
    pub(crate) events: usize,
    pub(crate) outcome: BatchOutcome,
    pub(crate) reports: Vec<HealthEvent>,
    pub(crate) took: Duration,
    /// The symbol log position it was sent up to.
    pub(crate) symbols_to: usize,
}

/// The batch the detectors are to see, as the scorer hands it over.
pub(crate) struct Split<'a> {
    /// The whole batch, with `learn` set.
    pub(crate) events: &'a wit::Events,
    /// Each event's shard (empty with one shard).
    pub(crate) shard: &'a [u16],
    /// Per detector, the events it may see at all (an exception with
    /// `learn = false` hides some); `None` or absent: all of them.
    pub(crate) keep: &'a [Option<Vec<bool>>],
    pub(crate) log_len: usize,
    pub(crate) batch_no: u64,
}

/// One shard's part of a batch, owned so that it can go to its thread.
struct Part {
    shard: usize,
    events: wit::Events,
    /// Per detector, over `events`: as [`Split::keep`].
    keep: Vec<Option<Vec<bool>>>,
    /// The symbol log from each position an instance is at.
    symbols: Arc<Vec<(usize, Vec<wit::Symbol>)>>,
    log_len: usize,
    batch_no: u64,
}

/// A shard's instances, with the detector index of each, on their way to
/// and from its thread.
type Instances = Vec<(usize, Instance)>;

/// The shards' threads, one each, alive while the scorer is (none with one
/// shard: it runs on the scorer's thread). Instances travel to their
/// thread with each batch and come back with the results, so between
/// batches the scorer holds every instance (for checkpoints, restores and
/// detector changes) as with one shard.
#[derive(Default)]
pub(crate) struct Pool {
    workers: Vec<Worker>,
    /// One shard's results, computed on the spot.
    ready: Option<Vec<Observed>>,
    /// Whether the workers hold a batch.
    busy: bool,
}

struct Worker {
    jobs: Option<Sender<(Part, Instances)>>,
    done: Receiver<(Instances, Vec<Observed>)>,
    thread: Option<JoinHandle<()>>,
}

impl Pool {
    /// A thread per shard when there is more than one.
    pub(crate) fn new(shards: usize) -> std::io::Result<Pool> {
        let mut workers = Vec::new();
        for shard in (0..shards).filter(|_| shards > 1) {
            let (jobs, inbox) = channel::<(Part, Instances)>();
            let (outbox, done) = channel();
            let thread = std::thread::Builder::new()
                .name(format!("ueba-shard-{shard}"))
                .spawn(move || {
                    while let Ok((part, mut instances)) = inbox.recv() {
                        let observed =
                            run_shard(part, instances.iter_mut().map(|(d, i)| (*d, i)).collect());
                        if outbox.send((instances, observed)).is_err() {
                            break;
                        }
                    }
                })?;
            workers.push(Worker {
                jobs: Some(jobs),
                done,
                thread: Some(thread),
            });
        }
        Ok(Pool {
            workers,
            ready: None,
            busy: false,
        })
    }

    /// How many shards.
    pub(crate) fn shards(&self) -> usize {
        self.workers.len().max(1)
    }

    /// Whether the shards' results are taken later ([`Pool::receive`])
    /// rather than at once: with threads.
    pub(crate) fn overlaps(&self) -> bool {
        !self.workers.is_empty()
    }

    /// Every instance starts on its part of the batch. With one shard it
    /// runs here and now; with more, the instances go to their threads and
    /// [`Pool::receive`] brings them back.
    ///
    /// `symbols` gives the symbol log from a position; it is read here, for
    /// every position an instance is at, not on the shards' threads.
    pub(crate) fn send(
        &mut self,
        slots: &mut [Slot],
        split: &Split<'_>,
        symbols: impl Fn(usize) -> Vec<wit::Symbol>,
    ) -> Result<(), ShardLost> {
        let shards = self.shards();
        let mut froms: Vec<usize> = slots
            .iter()
            .flat_map(|s| s.instances.iter().map(|i| i.sent_symbols))
            .collect();
        froms.sort_unstable();
        froms.dedup();
        let symbols: Arc<Vec<(usize, Vec<wit::Symbol>)>> =
            Arc::new(froms.into_iter().map(|f| (f, symbols(f))).collect());
        let parts = parts(split, shards, &symbols);
        if self.workers.is_empty() {
            let observed = match parts.into_iter().next() {
                Some(part) => run_shard(
                    part,
                    slots
                        .iter_mut()
                        .enumerate()
                        .map(|(d, s)| (d, &mut s.instances[0]))
                        .collect(),
                ),
                None => Vec::new(),
            };
            self.ready = Some(observed);
            return Ok(());
        }
        let mut per_shard: Vec<Instances> = (0..shards)
            .map(|_| Vec::with_capacity(slots.len()))
            .collect();
        for (d, slot) in slots.iter_mut().enumerate() {
            for (k, inst) in slot.instances.drain(..).enumerate() {
                per_shard[k].push((d, inst));
            }
        }
        self.busy = true;
        for (shard, ((part, instances), worker)) in parts
            .into_iter()
            .zip(per_shard)
            .zip(&self.workers)
            .enumerate()
        {
            let delivered = worker
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send((part, instances)).is_ok());
            if !delivered {
                return Err(ShardLost(shard));
            }
        }
        Ok(())
    }

    /// The results of the batch [`Pool::send`] started, in (detector,
    /// shard) order, with every instance back in its slot.
    pub(crate) fn receive(&mut self, slots: &mut [Slot]) -> Result<Vec<Observed>, ShardLost> {
        if let Some(ready) = self.ready.take() {
            return Ok(ready);
        }
        if !self.busy {
            return Ok(Vec::new());
        }
        self.busy = false;
        let mut out = Vec::new();
        for (shard, worker) in self.workers.iter().enumerate() {
            let (instances, observed) = worker.done.recv().map_err(|_| ShardLost(shard))?;
            for (d, inst) in instances {
                slots[d].instances.push(inst);
            }
            out.extend(observed);
        }
        out.sort_by_key(|o| (o.detector, o.shard));
        Ok(out)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for w in &mut self.workers {
            // Closing the channel ends the thread's loop.
            w.jobs = None;
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// A shard's thread stopped: a fault in the host, not in a detector
/// (those are trapped inside their sandbox).
#[derive(Debug, thiserror::Error)]
#[error("the thread of shard {0} stopped")]
pub struct ShardLost(pub usize);

/// The batch cut into one part per shard, in shard order.
fn parts(
    split: &Split<'_>,
    shards: usize,
    symbols: &Arc<Vec<(usize, Vec<wit::Symbol>)>>,
) -> Vec<Part> {
    let part = |shard, events, keep| Part {
        shard,
        events,
        keep,
        symbols: Arc::clone(symbols),
        log_len: split.log_len,
        batch_no: split.batch_no,
    };
    if shards == 1 || split.shard.is_empty() {
        return vec![part(0, split.events.clone(), split.keep.to_vec())];
    }
    (0..shards)
        .map(|shard| {
            let mine: Vec<bool> = split.shard.iter().map(|&s| s as usize == shard).collect();
            let keep = split
                .keep
                .iter()
                .map(|k| {
                    k.as_ref().map(|k| {
                        k.iter()
                            .zip(&mine)
                            .filter(|(_, m)| **m)
                            .map(|(k, _)| *k)
                            .collect()
                    })
                })
                .collect();
            part(shard, super::scorer::kept_events(split.events, &mine), keep)
        })
        .collect()
}

/// One shard's instances observe the shard's part of the batch.
fn run_shard(part: Part, instances: Vec<(usize, &mut Instance)>) -> Vec<Observed> {
    let symbols_from = |from: usize| {
        part.symbols
            .iter()
            .find(|(f, _)| *f == from)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    // The part's events for detectors without a mask of their own; the
    // symbols are set per instance, and only when they differ.
    let mut base = wit::Batch {
        symbols: Vec::new(),
        events: part.events,
    };
    let mut base_from = None;
    let mut out = Vec::with_capacity(instances.len());
    for (d, inst) in instances {
        let mut masked = part
            .keep
            .get(d)
            .and_then(Option::as_ref)
            .map(|keep| wit::Batch {
                symbols: symbols_from(inst.sent_symbols),
                events: super::scorer::kept_events(&base.events, keep),
            });
        let batch = match masked.as_mut() {
            Some(b) => b,
            None => {
                if base_from != Some(inst.sent_symbols) {
                    base.symbols = symbols_from(inst.sent_symbols);
                    base_from = Some(inst.sent_symbols);
                }
                &mut base
            }
        };
        let mut reports = Vec::new();
        let quarantined = inst.loaded.is_quarantined();
        if quarantined || batch.events.is_empty() {
            out.push(Observed {
                detector: d,
                shard: part.shard,
                // A quarantined instance misses the part's every event.
                events: if quarantined { base.events.len() } else { 0 },
                outcome: if quarantined {
                    BatchOutcome::Quarantined
                } else {
                    BatchOutcome::Findings(Vec::new())
                },
                reports,
                took: Duration::ZERO,
                symbols_to: inst.sent_symbols,
            });
            continue;
        }
        let began = Instant::now();
        let outcome = inst.loaded.observe(batch, part.batch_no, &mut reports);
        out.push(Observed {
            detector: d,
            shard: part.shard,
            events: batch.events.len(),
            outcome,
            reports,
            took: began.elapsed(),
            symbols_to: part.log_len,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Cadence, POPULATION_BLOCKS, shard_of};

    #[test]
    fn populations_are_exchanged_hourly_in_a_busy_log_and_daily_in_a_quiet_one() {
        const H: i64 = 3_600_000;
        let block = 1024;
        let busy = POPULATION_BLOCKS * block;
        let mut c = Cadence::default();
        assert!(c.due(0, 0, block), "the first block exchanges");
        // However many events, not within the hour.
        assert!(!c.due(H - 1, 10 * busy, block));
        assert!(c.due(H, busy, block));
        // An hour on but few events: wait, up to a day.
        assert!(!c.due(3 * H, busy + block, block));
        assert!(!c.due(H + 24 * H - 1, busy + 2 * block, block));
        assert!(c.due(H + 24 * H, busy + 3 * block, block));
        // Late events a little back in time do not exchange, but a log
        // that starts far back (an older log resumed on this state) does.
        assert!(!c.due(H + 23 * H, 2 * busy, block));
        assert!(c.due(0, 3 * busy, block));
    }

    #[test]
    fn a_users_shard_is_fnv1a_of_the_name_modulo_the_count() {
        // Published FNV-1a 64-bit values, so a publisher written in any
        // language can route users to the same shards.
        assert_eq!(
            shard_of("a", usize::MAX),
            (0xaf63_dc4c_8601_ec8c_u64 % usize::MAX as u64) as usize
        );
        assert_eq!(
            shard_of("foobar", 1 << 20),
            (0x8594_4171_f739_67e8_u64 % (1 << 20)) as usize
        );
        assert_eq!(shard_of("", 7), (0xcbf2_9ce4_8422_2325_u64 % 7) as usize);
        assert_eq!(shard_of("anyone", 1), 0);
    }

    #[test]
    fn users_spread_over_every_shard() {
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[shard_of(&format!("user{i}"), 4)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
