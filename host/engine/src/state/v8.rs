//! Checkpoint format 8, read so that upgrading ueba keeps a state
//! directory: format 9 added the block of the event sequence in progress
//! ([`crate::pipeline::block`]) to the scorer's. A format-8 checkpoint
//! resumes in the block it stopped in as blocks were then counted (the
//! multiples of `input.batch_size`), and blocks after it have the time
//! bound too. Its aggregator's state is format 9's (`super::v9`).
//!
//! Postcard writes fields in order without names, so the earlier layout is
//! spelled out here: the same fields, less the one added.

use serde::Deserialize;

use crate::pipeline::ScorerState;
use crate::pipeline::block::Block;
use crate::pipeline::clock::Clock;
use crate::pipeline::encode::{Compact, Held};
use crate::pipeline::intern::InternerState;
use crate::pipeline::saved::{DetectorState, SavedStats};
use crate::risk::aggregate::{AggregatorState, AggregatorStateV9};
use crate::state::{Checkpoint, InputMark, OutputMark};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 8;

/// A checkpoint of format 8, or, with the scorer's part of format 7, of
/// format 7 (`super::v7`): the fields around the scorer's are the same.
#[derive(Deserialize)]
pub(super) struct CheckpointV8<S = ScorerStateV8> {
    written: String,
    ueba_version: String,
    scorer: S,
    input: Option<InputMark>,
    output: Option<OutputMark>,
    skipped: u64,
    records: Vec<OutputMark>,
}

/// The scorer's part of a format-8 checkpoint, or, with `()` for the time
/// guard's state (`C`), of a format-7 one (`super::v7`), or, with the
/// block in progress (`B`), of a format-9 one (`super::v9`), or with that
/// and format 10's aggregator (`A`), of a format-10 one (`super::v10`):
/// postcard writes `()` as nothing.
#[derive(Deserialize)]
pub(super) struct ScorerStateV8<C = Clock, B = (), A = AggregatorStateV9> {
    interner: InternerState,
    clock: C,
    held: Vec<Held>,
    arrivals: u64,
    newest_ms: i64,
    released_ms: i64,
    pending: Vec<(i64, Compact)>,
    next_seq: u64,
    block: B,
    cadence: crate::pipeline::Cadence,
    aggregator: A,
    entities: crate::risk::entities::EntityRisk,
    stats: SavedStats,
    detectors: Vec<DetectorState>,
}

/// The time guard's state as a checkpoint kept it: format 8's, or none in
/// format 7, which carries over with no event waiting and none refused.
pub(super) struct GuardBefore(Clock);

impl From<Clock> for GuardBefore {
    fn from(clock: Clock) -> GuardBefore {
        GuardBefore(clock)
    }
}

impl From<()> for GuardBefore {
    fn from((): ()) -> GuardBefore {
        GuardBefore(Clock::default())
    }
}

/// The block in progress as a checkpoint kept it: format 9's, or none in
/// formats 8 and 7, which resume in the block they stopped in as blocks
/// were then counted.
pub(super) struct BlockBefore(Option<Block>);

impl From<Option<Block>> for BlockBefore {
    fn from(block: Option<Block>) -> BlockBefore {
        BlockBefore(block)
    }
}

impl From<()> for BlockBefore {
    fn from((): ()) -> BlockBefore {
        BlockBefore(None)
    }
}

impl<C: Into<GuardBefore>, B: Into<BlockBefore>, A: Into<AggregatorState>>
    From<ScorerStateV8<C, B, A>> for ScorerState
{
    fn from(s: ScorerStateV8<C, B, A>) -> ScorerState {
        ScorerState {
            interner: s.interner,
            clock: s.clock.into().0,
            held: s.held,
            arrivals: s.arrivals,
            newest_ms: s.newest_ms,
            released_ms: s.released_ms,
            pending: s.pending,
            next_seq: s.next_seq,
            block: s.block.into().0,
            cadence: s.cadence,
            aggregator: s.aggregator.into(),
            entities: s.entities,
            stats: s.stats,
            detectors: s.detectors,
        }
    }
}

impl<S: Into<ScorerState>> From<CheckpointV8<S>> for Checkpoint {
    fn from(c: CheckpointV8<S>) -> Checkpoint {
        Checkpoint {
            written: c.written,
            ueba_version: c.ueba_version,
            scorer: c.scorer.into(),
            input: c.input,
            output: c.output,
            skipped: c.skipped,
            records: c.records,
        }
    }
}
