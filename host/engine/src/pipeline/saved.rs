//! The scorer's part of a durable checkpoint: everything needed to
//! continue exactly where a run stopped.

use serde::{Deserialize, Serialize};

use crate::pipeline::intern::InternerState;
use crate::risk::aggregate::AggregatorState;

use super::encode::*;
use super::stats::*;

/// Everything a [`Scorer`](super::Scorer) needs to continue exactly where it was: the
/// symbol table, the reorder buffer and the batch being filled, the risk
/// state, the counts, and every detector's snapshot. Written by
/// [`Scorer::save_state`](super::Scorer::save_state) into a durable-state checkpoint
/// (see [`crate::state`]) and read back by [`Scorer::restore_state`](super::Scorer::restore_state).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScorerState {
    pub(crate) interner: InternerState,
    /// Events waiting for their time to be confirmed, and the count
    /// refused ([`super::clock`]).
    pub(crate) clock: super::clock::Clock,
    pub(crate) held: Vec<Held>,
    pub(crate) arrivals: u64,
    pub(crate) newest_ms: i64,
    pub(crate) released_ms: i64,
    /// The batch being filled: (event time, event); sequence numbers run
    /// up to `next_seq`.
    pub(crate) pending: Vec<(i64, Compact)>,
    pub(crate) next_seq: u64,
    /// The block of the event sequence in progress ([`super::block`]);
    /// `None` from a checkpoint written when blocks were counts alone.
    pub(crate) block: Option<super::block::Block>,
    /// When the shards last exchanged populations.
    pub(crate) cadence: super::shard::Cadence,
    pub(crate) aggregator: AggregatorState,
    pub(crate) entities: crate::risk::entities::EntityRisk,
    pub(crate) stats: SavedStats,
    pub(crate) detectors: Vec<DetectorState>,
}

impl ScorerState {
    /// Events scored before the checkpoint, for messages.
    pub fn events(&self) -> u64 {
        self.stats.events
    }

    /// Whether the state knows an alert with this id (`ueba feedback`
    /// checks a verdict's id against the checkpoint).
    pub fn knows_alert(&self, id: &str) -> bool {
        self.aggregator.knows_alert(id)
    }

    /// The newest event time scored before the checkpoint (ms), or `None`
    /// before any event: a verdict given against it applies after it.
    pub fn released_ms(&self) -> Option<i64> {
        (self.released_ms != i64::MIN).then_some(self.released_ms)
    }
}

/// The counts carried across a resumed run (health events themselves were
/// already reported by the run that saw them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SavedStats {
    pub(crate) events: u64,
    pub(crate) invalid: u64,
    pub(crate) late: u64,
    pub(crate) findings: Vec<u64>,
    pub(crate) stray_findings: u64,
    pub(crate) alerts: u64,
    pub(crate) batches: u64,
    pub(crate) events_missed_by_failed: u64,
    pub(crate) batch_latency: Vec<Histogram>,
    pub(crate) exceptions: Vec<u64>,
    pub(crate) events_unlearned: u64,
    pub(crate) events_held: u64,
    pub(crate) forgiven: u64,
    pub(crate) verdicts_applied: u64,
}

/// One detector in a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DetectorState {
    pub(crate) name: String,
    /// One per shard, shard 0 first: a user's state lives in their shard's
    /// instance, so a checkpoint resumes with as many shards only.
    pub(crate) instances: Vec<InstanceState>,
}

/// One instance of a detector in a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InstanceState {
    /// Its snapshot; `None` when it was quarantined or refused to snapshot.
    pub(crate) snapshot: Option<Vec<u8>>,
    pub(crate) quarantined: bool,
    /// How far into the symbol log it has been sent.
    pub(crate) sent_symbols: usize,
}

impl ScorerState {
    /// How many shards the run that saved this state had (1 before any
    /// detector).
    pub fn shards(&self) -> usize {
        self.detectors.first().map_or(1, |d| d.instances.len())
    }
}

/// A checkpoint's scorer state cannot be used by this run.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The state contradicts itself.
    #[error("the saved scorer state is inconsistent: {0}")]
    Inconsistent(String),
    /// The state was saved by a run with another number of shards.
    #[error(
        "the checkpoint was taken with {saved} shard(s) and this run has {asked}: each user's \
         learned state lives in the detectors of their shard, so resume with --shards {saved} \
         (or start a new state directory to change the number)"
    )]
    Shards {
        /// Shards in the checkpoint.
        saved: usize,
        /// Shards of this run.
        asked: usize,
    },
}
