//! Checkpoint format 9, read so that upgrading ueba keeps a state
//! directory: format 10 keeps, per user and detector, the highest risk
//! component an alert of the user's open episode showed
//! ([`crate::risk::aggregate`]'s `new-evidence` rule), where format 9 kept
//! the set of detectors past `risk.new_evidence_min` at an alert. A
//! format-9 checkpoint carries over with those detectors behind the
//! episode, as they were, and the others as having shown nothing.
//!
//! Postcard writes fields in order without names, so the earlier layout is
//! spelled out: format 8's ([`super::v8`]) with the block in progress, and
//! the aggregator's of then, which formats 7 and 8 share.

use crate::pipeline::block::Block;
use crate::pipeline::clock::Clock;
use crate::state::v8::{CheckpointV8, ScorerStateV8};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 9;

/// A format-9 checkpoint.
pub(super) type CheckpointV9 = CheckpointV8<ScorerStateV8<Clock, Option<Block>>>;
