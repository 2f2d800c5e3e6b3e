//! What the workers stored about one user, for analysts.
//!
//! Workers publish alerts, incidents and findings as streams, but an
//! analyst asking "why is this user's risk what it is?" needs the state
//! the user's worker holds: their risk, peak and the strongest findings
//! kept per detector. That is in the checkpoint the worker last stored for
//! the user's partition, so `ueba explain USER --nats URL` reads it from
//! the checkpoint object store. It is as fresh as that checkpoint: what
//! the worker scored since is not in it.

use ueba_engine::pipeline::shard_of;
use ueba_engine::state::Checkpoint;

use crate::names::CHECKPOINTS_BUCKET;
use crate::{NatsError, server, worker};

/// A user's partition and what its worker last stored for it.
pub struct UserCheckpoint {
    /// The user's partition.
    pub partition: u32,
    /// How many partitions the events stream has.
    pub partitions: u32,
    /// The stored checkpoint, and the last events-stream sequence it
    /// covers; `None` while no worker has stored one for the partition.
    pub stored: Option<(u64, Checkpoint)>,
}

/// The checkpoint of `user`'s partition on `server`. A server
/// with no events stream (nothing published) is an error that says so.
pub async fn user_checkpoint(
    server: &server::Server,
    user: &str,
) -> Result<UserCheckpoint, NatsError> {
    let js = server::connect(server).await?;
    let (_, partitions) = server::events_stream(&js, &server.url, None).await?;
    let partition = shard_of(user, partitions as usize) as u32;
    // Only read: a server no worker has stored anything on has no store,
    // and looking must not create one.
    let stored = match js.get_object_store(CHECKPOINTS_BUCKET).await {
        Ok(store) => worker::load_checkpoint(&store, partition).await?,
        Err(_) => None,
    };
    Ok(UserCheckpoint {
        partition,
        partitions,
        stored,
    })
}
