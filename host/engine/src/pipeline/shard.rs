//! Shards: the detectors' work split by user across threads.
//!
//! With `--shards N`, every user belongs to one shard, chosen by
//! [`shard_of`] from their name alone (so a publisher on another machine
//! can compute it too). Each shard has its own instance of every detector,
//! with its own store, memory limit and supervision, and sees only its
//! users' events, in the same order and with the same `learn` flags as
//! one instance would. A batch is split into one sub-batch per shard and
//! the shards observe theirs at the same time, each on a thread of its own
//! that lives as long as the scorer ([`Pool`]), while the scorer reads and
//! orders the next batch; it takes their findings before it decides
//! anything they could change. Findings come back in (detector, shard)
//! order and the scorer merges them by event, so the result does not
//! depend on which thread finished first. Everything across users
//! (reordering, risk, the alert budget, incidents) stays in the one
//! scorer that drives the shards.
//!
//! What a detector learns about populations (peer groups, the
//! organisation) is learned per shard: each instance knows its own
//! shard's users only. With one shard nothing changes.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sandbox::plugins::{BatchOutcome, HealthEvent, LoadedPlugin};
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
    use super::shard_of;

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
