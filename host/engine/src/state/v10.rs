//! Checkpoint format 10, read so that upgrading ueba keeps a state
//! directory: format 11 keeps, per user and detector, the resources the
//! detector reported in the current hour and the strongest finding about
//! each, so a detector restating one behaviour adds to the repeat bonus
//! only what it rises above it ([`crate::risk::aggregate`]'s `Facets`). A
//! format-10 checkpoint carries over remembering none: a resource's next
//! finding in that hour counts as a new behaviour, as every finding did
//! before.
//!
//! Postcard writes fields in order without names, so the earlier layout is
//! spelled out: format 9's ([`super::v9`]) with format 10's aggregator.

use crate::pipeline::block::Block;
use crate::pipeline::clock::Clock;
use crate::risk::aggregate::AggregatorStateV10;
use crate::state::v8::{CheckpointV8, ScorerStateV8};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 10;

/// A format-10 checkpoint.
pub(super) type CheckpointV10 =
    CheckpointV8<ScorerStateV8<Clock, Option<Block>, AggregatorStateV10>>;
