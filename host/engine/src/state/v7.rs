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

use crate::pipeline::encode::{Compact, Held};
use crate::pipeline::intern::InternerState;
use crate::pipeline::saved::{DetectorState, SavedStats};
use crate::risk::aggregate::AggregatorState;
use crate::state::v8::ScorerStateV8;
use crate::state::{Checkpoint, InputMark, OutputMark};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 7;

#[derive(Deserialize)]
pub(super) struct CheckpointV7 {
    written: String,
    ueba_version: String,
    scorer: ScorerStateV7,
    input: Option<InputMark>,
    output: Option<OutputMark>,
    skipped: u64,
    records: Vec<OutputMark>,
}

#[derive(Deserialize)]
struct ScorerStateV7 {
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

impl From<CheckpointV7> for Checkpoint {
    fn from(c: CheckpointV7) -> Checkpoint {
        let s = c.scorer;
        Checkpoint {
            written: c.written,
            ueba_version: c.ueba_version,
            scorer: ScorerStateV8 {
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
            .into(),
            input: c.input,
            output: c.output,
            skipped: c.skipped,
            records: c.records,
        }
    }
}
