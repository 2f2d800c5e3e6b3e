//! Checkpoint format 7, read so that upgrading ueba keeps a state
//! directory: format 8 added the time guard's state
//! ([`crate::pipeline::clock`]) to the scorer's. A format-7 checkpoint
//! carries over with no event waiting and none refused, which is what the
//! run that wrote it did; it becomes a format-8 one ([`super::v8`]), which
//! becomes the current.
//!
//! Postcard writes fields in order without names, so the earlier layout is
//! spelled out here: the same fields, less the one added.

use serde::Deserialize;

use crate::pipeline::ScorerState;
use crate::pipeline::encode::{Compact, Held};
use crate::pipeline::intern::InternerState;
use crate::pipeline::saved::{DetectorState, SavedStats};
use crate::risk::aggregate::AggregatorState;
use crate::state::v8::{CheckpointV8, ScorerStateV8};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 7;

/// A format-7 checkpoint: format 8's fields around an earlier scorer's.
pub(super) type CheckpointV7 = CheckpointV8<ScorerStateV7>;

/// The scorer's part of a format-7 checkpoint.
#[derive(Deserialize)]
pub(super) struct ScorerStateV7 {
    interner: InternerState,
    held: Vec<Held>,
    arrivals: u64,
    newest_ms: i64,
    released_ms: i64,
    pending: Vec<(i64, Compact)>,
    next_seq: u64,
    cadence: crate::pipeline::Cadence,
    aggregator: AggregatorState,
    entities: crate::risk::entities::EntityRisk,
    stats: SavedStats,
    detectors: Vec<DetectorState>,
}

impl From<ScorerStateV7> for ScorerState {
    fn from(s: ScorerStateV7) -> ScorerState {
        ScorerStateV8 {
            interner: s.interner,
            clock: Default::default(),
            held: s.held,
            arrivals: s.arrivals,
            newest_ms: s.newest_ms,
            released_ms: s.released_ms,
            pending: s.pending,
            next_seq: s.next_seq,
            cadence: s.cadence,
            aggregator: s.aggregator,
            entities: s.entities,
            stats: s.stats,
            detectors: s.detectors,
        }
        .into()
    }
}
