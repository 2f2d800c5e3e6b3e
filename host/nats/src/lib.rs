//! ueba workers on NATS JetStream.
//!
//! One machine and one process are one failure domain and a few cores.
//! This crate spreads scoring over workers that share nothing but a NATS
//! server: `ueba publish` splits events by user into partitions (subjects
//! `ueba.events.<p>` of the stream `UEBA_EVENTS`, `p` the engine's
//! [`shard_of`](ueba_engine::pipeline::shard_of) hash of the user), and
//! each `ueba worker` scores the partitions it holds a lease on, with a
//! scorer per partition, checkpoints in an object store and alerts
//! published to `ueba.alerts` with their id as `Nats-Msg-Id`. Delivery is
//! at least once; alert output is exactly once, because re-emitted alert
//! ids fall in the alerts stream's duplicate window.
//!
//! Nothing here needs a server newer than 2.9: the partition is computed by
//! the publisher, and failover is done with leases in a KV bucket rather
//! than the server's priority groups (2.11).

mod error;
pub mod lease;
pub mod lookup;
pub mod names;
pub mod progress;
pub mod publish;
pub mod server;
pub mod sink;
pub mod verdicts;
pub mod worker;

pub use error::NatsError;
pub use names::Output;
pub use publish::Publisher;
pub use server::{Auth, Server, Tls, dump, shown_url};
pub use sink::{Outbox, PendingRecord};
pub use worker::{Partitions, WorkerOptions, WorkerSummary, run as run_worker};
