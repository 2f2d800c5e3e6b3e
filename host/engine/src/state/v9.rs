//! Checkpoint format 9, read so that upgrading ueba keeps a state
//! directory: format 10 keeps, per user and detector, the highest risk
//! component an alert of the user's open episode showed
//! ([`crate::risk::aggregate`]'s `new-evidence` rule), where format 9 kept
//! the set of detectors past `risk.new_evidence_min` at an alert. A
//! format-9 checkpoint carries over with those detectors behind the
//! episode, as they were, and the others as having shown nothing.
//!
//! Postcard writes fields in order without names, so the earlier layout is
//! spelled out here: the scorer's fields, with the aggregator's of then.

use serde::Deserialize;

use crate::pipeline::ScorerState;
use crate::pipeline::block::Block;
use crate::pipeline::clock::Clock;
use crate::pipeline::encode::{Compact, Held};
use crate::pipeline::intern::InternerState;
use crate::pipeline::saved::{DetectorState, SavedStats};
use crate::risk::aggregate::AggregatorStateV9;
use crate::state::v8::CheckpointV8;

/// The format number this module reads.
pub(super) const FORMAT: u16 = 9;

/// A format-9 checkpoint: the fields around the scorer's are format 8's.
pub(super) type CheckpointV9 = CheckpointV8<ScorerStateV9>;

/// The scorer's part of a format-9 checkpoint.
#[derive(Deserialize)]
pub(super) struct ScorerStateV9 {
    interner: InternerState,
    clock: Clock,
    held: Vec<Held>,
    arrivals: u64,
    newest_ms: i64,
    released_ms: i64,
    pending: Vec<(i64, Compact)>,
    next_seq: u64,
    block: Option<Block>,
    cadence: crate::pipeline::Cadence,
    aggregator: AggregatorStateV9,
    entities: crate::risk::entities::EntityRisk,
    stats: SavedStats,
    detectors: Vec<DetectorState>,
}

impl From<ScorerStateV9> for ScorerState {
    fn from(s: ScorerStateV9) -> ScorerState {
        ScorerState {
            interner: s.interner,
            clock: s.clock,
            held: s.held,
            arrivals: s.arrivals,
            newest_ms: s.newest_ms,
            released_ms: s.released_ms,
            pending: s.pending,
            next_seq: s.next_seq,
            block: s.block,
            cadence: s.cadence,
            aggregator: s.aggregator.into(),
            entities: s.entities,
            stats: s.stats,
            detectors: s.detectors,
        }
    }
}
