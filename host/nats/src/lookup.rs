//! What the workers stored about one user, for analysts.
//!
//! Workers publish alerts, incidents and findings as streams, but an
//! analyst asking "why is this user's risk what it is?" needs the state
//! the user's worker holds: their risk, peak and the strongest findings
//! kept per detector. That is in the checkpoint the worker last stored for
//! the user's partition, so `ueba explain USER --nats URL` reads it from
//! the checkpoint object store. It is as fresh as that checkpoint: what
//! the worker scored since is not in it.
//!
//! What `ueba serve` answers about a user (`GET /v1/users/{user}`) and
//! about incidents (`GET /v1/incidents`) is also written by the workers,
//! at each checkpoint, to the KV buckets [`USERS_BUCKET`] and
//! [`INCIDENTS_BUCKET`], so a forwarding service (`ueba serve --nats`)
//! answers those with one read ([`user_summary`], [`incidents`]) without
//! loading any detector. They are as of the checkpoint too.

use ueba_engine::pipeline::shard_of;
use ueba_engine::state::Checkpoint;

use async_nats::jetstream::Context;
use serde_json::{Value, json};

use crate::names::{CHECKPOINTS_BUCKET, INCIDENTS_BUCKET, USERS_BUCKET, incidents_key, user_key};
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

/// The value under `key` in `bucket`, `None` when the bucket or the key is
/// missing (no worker has written it yet).
async fn read(js: &Context, bucket: &str, key: &str) -> Result<Option<Value>, NatsError> {
    let Ok(store) = js.get_key_value(bucket).await else {
        return Ok(None);
    };
    let Some(bytes) = store
        .get(key)
        .await
        .map_err(|e| NatsError::js(format!("reading {bucket}/{key}"), e))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| NatsError::Input(format!("{bucket}/{key} holds no summary: {e}")))
}

/// What `user`'s worker wrote about them at its last checkpoint, as
/// `ueba serve` answers `GET /v1/users/{user}`; `None` for a user with no
/// finding (or a name longer than [`crate::names::MAX_KEYED_USER`] bytes).
pub async fn user_summary(js: &Context, user: &str) -> Result<Option<Value>, NatsError> {
    let Some(key) = user_key(user) else {
        return Ok(None);
    };
    read(js, USERS_BUCKET, &key).await
}

/// Open and recently closed incidents, as `ueba serve` answers
/// `GET /v1/incidents`: `user`'s from their summary, or every partition's
/// in order of opening. The answer adds `as_of` (per partition, the event
/// time its worker's last checkpoint was as of; `null` for one with
/// nothing written yet) and `omitted` (older incidents a partition left
/// out to keep its value within the server's message size).
pub async fn incidents(js: &Context, user: Option<&str>) -> Result<Value, NatsError> {
    if let Some(user) = user {
        let summary = user_summary(js, user).await?;
        let field = |name: &str| summary.as_ref().and_then(|s| s.get(name).cloned());
        return Ok(json!({
            "incidents": field("incidents").unwrap_or_else(|| json!([])),
            "as_of": field("as_of").unwrap_or(Value::Null),
        }));
    }
    let partitions = server::stored_partitions(js).await?.unwrap_or(0);
    let mut all: Vec<Value> = Vec::new();
    let mut as_of = serde_json::Map::new();
    let mut omitted = 0u64;
    for p in 0..partitions {
        let key = incidents_key(p);
        let stored = read(js, INCIDENTS_BUCKET, &key).await?;
        let field = |name: &str| stored.as_ref().and_then(|s| s.get(name).cloned());
        as_of.insert(p.to_string(), field("as_of").unwrap_or(Value::Null));
        omitted += field("omitted").and_then(|v| v.as_u64()).unwrap_or(0);
        if let Some(Value::Array(list)) = field("incidents") {
            all.extend(list);
        }
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    all.sort_by_cached_key(|i| (text(i, "opened"), text(i, "id")));
    Ok(json!({ "incidents": all, "as_of": as_of, "omitted": omitted }))
}
