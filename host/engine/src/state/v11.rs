//! Checkpoint format 11, read so that upgrading ueba keeps a state
//! directory: format 12 keeps, with the alert budget, each detector's tail
//! on the organisation's ordinary days ([`crate::risk::tails`]). A
//! format-11 checkpoint carries over with none: the tails fill as days
//! close, and findings are read as their detectors score them until then.
//!
//! Postcard writes fields in order without names, so the earlier layout is
//! spelled out: format 10's ([`super::v10`]) with format 11's aggregator.

use crate::pipeline::block::Block;
use crate::pipeline::clock::Clock;
use crate::risk::aggregate::AggregatorStateV11;
use crate::state::v8::{CheckpointV8, ScorerStateV8};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 11;

/// A format-11 checkpoint.
pub(super) type CheckpointV11 =
    CheckpointV8<ScorerStateV8<Clock, Option<Block>, AggregatorStateV11>>;
