//! The scoring pipeline: events in, alerts out.
//!
//! `AccessEvent` → enrich from identities and intern ([`encode`], over
//! [`intern`]) → hold back a time far from the stream's ([`clock`]) →
//! reorder within the allowed lateness ([`reorder`]) → batch, ending
//! one at every block ([`block`]) →
//! every detector → gate → aggregate → [`AlertSink`]. The [`Scorer`]
//! ([`scorer`]) drives those stages; [`stats`] counts what happened,
//! [`saved`] is its part of a checkpoint, [`swap`] changes detectors
//! between batches, and [`report`] renders the end-of-run summary. Data
//! flows one way; memory grows with the number of entities, not with input.

pub mod block;
pub mod clock;
pub mod encode;
pub mod intern;
pub mod reorder;
pub mod report;
pub mod saved;
pub mod scorer;
pub mod shard;
pub mod sink;
pub mod stats;
pub mod swap;

pub use encode::Encoder;
pub use report::{RankedEntity, RankedUser, Report, RiskPoint, UserSummary};
pub use saved::{RestoreError, ScorerState};
pub use scorer::{ScoreError, Scorer};
pub use shard::{
    Cadence, MAX_SHARDS, POPULATION_BLOCKS, POPULATION_MAX_GAP_MS, POPULATION_MIN_GAP_MS, shard_of,
};
pub use sink::AlertSink;
pub use stats::{Histogram, Stats};
pub use swap::{DetectorBuild, DetectorChange, Lineup};
