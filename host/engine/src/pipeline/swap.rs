//! Changing the detectors between two batches while running
//! (`ueba serve --plugins DIR`).

use crate::sandbox::plugins::{Handover, HealthEvent, HealthKind, LoadedPlugin};

use super::shard::Slot;

use super::scorer::*;
use super::sink::*;

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
    pub(crate) fn of(loaded: &LoadedPlugin) -> Self {
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
            self.run_batch(false)?;
        }
        self.settle()
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
        // Every new detector gets an instance per shard before anything
        // changes, so a failure leaves the running set as it was.
        let shards = self.shards();
        let mut prepared = Vec::with_capacity(lineup.len());
        for entry in lineup {
            prepared.push(match entry {
                Lineup::Keep(name) => (name, None),
                Lineup::Start(loaded) => {
                    let mut slot = Slot::new(*loaded, 0);
                    slot.widen(shards).map_err(|e| {
                        ScoreError::Shards(format!(
                            "starting detector {} for every shard: {e}",
                            slot.lead().name()
                        ))
                    })?;
                    (slot.lead().name().to_string(), Some(slot))
                }
            });
        }
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let running = |old: &[Option<Slot>], name: &str| {
            old.iter()
                .position(|s| s.as_ref().is_some_and(|s| s.lead().name() == name))
        };
        let mut slots: Vec<Slot> = Vec::with_capacity(prepared.len());
        let mut columns: Vec<crate::risk::aggregate::Column> = Vec::with_capacity(prepared.len());
        let mut changes = Vec::new();
        for (name, started) in prepared {
            if slots.iter().any(|s| s.lead().name() == name) {
                continue;
            }
            let previous = running(&old, &name).and_then(|i| old[i].take().map(|s| (i, s)));
            let (slot, keeps) = match (started, previous) {
                (None, None) => continue,
                (None, Some((i, slot))) => (slot, Some(i)),
                (Some(mut slot), Some((i, mut prev))) => {
                    let mut handover = Handover::Carried;
                    for (shard, (new, old)) in slot
                        .instances
                        .iter_mut()
                        .zip(&mut prev.instances)
                        .enumerate()
                    {
                        let h = new.loaded.take_over(&mut old.loaded);
                        // The snapshot holds the symbols the old version
                        // was sent; a fresh instance needs all of them.
                        new.sent_symbols = match &h {
                            Handover::Carried => old.sent_symbols,
                            Handover::Reset(_) => 0,
                        };
                        if let (Handover::Carried, Handover::Reset(why)) = (&handover, h) {
                            handover = Handover::Reset(if shards > 1 {
                                format!("shard {shard}: {why}")
                            } else {
                                why
                            });
                        }
                    }
                    changes.push(DetectorChange::Replaced {
                        name,
                        before: DetectorBuild::of(prev.lead()),
                        after: DetectorBuild::of(slot.lead()),
                        handover,
                    });
                    (slot, Some(i))
                }
                (Some(slot), None) => {
                    changes.push(DetectorChange::Loaded {
                        name,
                        build: DetectorBuild::of(slot.lead()),
                    });
                    (slot, None)
                }
            };
            columns.push(crate::risk::aggregate::Column {
                name: slot.lead().name().to_string(),
                weight: slot.lead().weight,
                keeps,
            });
            slots.push(slot);
        }
        for slot in old.into_iter().flatten() {
            changes.push(DetectorChange::Removed {
                name: slot.lead().name().to_string(),
                build: DetectorBuild::of(slot.lead()),
            });
        }
        let stats = &mut self.stats;
        stats.findings = by_column(&columns, &stats.findings);
        stats.read_lower = by_column(&columns, &stats.read_lower);
        stats.batch_latency = by_column(&columns, &stats.batch_latency);
        self.aggregator.rearrange(&columns);
        self.slots = slots;
        Ok(changes)
    }

    /// Report a health event about `plugin` that concerns no batch (a
    /// plugin loaded, replaced, removed or refused while serving) to the
    /// health sink and [`Stats::health`](super::Stats::health): `batch` is the number of batches
    /// so far, and `first_event` the `seq` of the next event to be scored,
    /// which is the first one a detector started now sees.
    pub fn report_health(&mut self, plugin: &str, event: HealthKind, message: String) {
        let report = HealthEvent::new(plugin, event, None, message).at_batch(
            self.stats.batches,
            self.next_seq,
            0,
        );
        self.health.report(&report);
        self.stats.health.push(report);
    }
}

/// A per-detector count in the new line-up's order: each column's from the
/// detector it keeps, the default for one that starts afresh.
fn by_column<T: Clone + Default>(columns: &[crate::risk::aggregate::Column], old: &[T]) -> Vec<T> {
    columns
        .iter()
        .map(|c| {
            c.keeps
                .and_then(|i| old.get(i))
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}
