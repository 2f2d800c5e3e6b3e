//! Checkpoint format 7, read so that upgrading ueba keeps a state
//! directory: format 8 added the time guard's state
//! ([`crate::pipeline::clock`]) to the scorer's. A format-7 checkpoint
//! carries over with no event waiting and none refused, which is what the
//! run that wrote it did; it is read as a format-8 one ([`super::v8`])
//! whose clock is absent, which becomes the current.
//!
//! Postcard writes fields in order without names, and a unit as nothing, so
//! format 8's layout with `()` for the clock is format 7's.

use crate::state::v8::{CheckpointV8, ScorerStateV8};

/// The format number this module reads.
pub(super) const FORMAT: u16 = 7;

/// A format-7 checkpoint: format 8's, without the time guard's state.
pub(super) type CheckpointV7 = CheckpointV8<ScorerStateV8<()>>;
