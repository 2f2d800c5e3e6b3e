//! The scoring pipeline, stage by stage, data flowing one way: events are
//! interned to ids ([`intern`]), held back and reordered by event time
//! ([`reorder`]), batched and sent to the detectors, and their findings
//! aggregated into risk and alerts handed to an [`AlertSink`] ([`score`]).

pub mod intern;
pub mod reorder;
pub mod score;

pub use score::*;
