//! `ueba publish`: events into the partitioned stream, nothing lost.

use std::collections::VecDeque;

use async_nats::jetstream::Context;
use async_nats::jetstream::context::PublishAckFuture;
use bytes::Bytes;
use ueba_engine::event::AccessEvent;
use ueba_engine::pipeline::shard_of;

use crate::NatsError;
use crate::names::{EVENTS_STREAM, events_subject};
use crate::server;
use ueba_formats::sources::native::to_line;

/// Publishes left unacknowledged at most: enough to keep the connection
/// busy, few enough that a failure is noticed soon and memory stays flat.
pub const IN_FLIGHT: usize = 4096;

/// Publishes events to `ueba.events.<p>`, `p` = [`shard_of`] the user.
///
/// Every publish is acknowledged by the server before [`Publisher::finish`]
/// returns, at most [`IN_FLIGHT`] outstanding at once, so a count printed
/// at the end is a count stored in the stream.
pub struct Publisher {
    js: Context,
    partitions: u32,
    in_flight: VecDeque<PublishAckFuture>,
    published: u64,
}

impl Publisher {
    /// Connect to `server` and make sure the events stream exists with
    /// `partitions` partitions (created if missing, refused if it has
    /// another count).
    pub async fn connect(server: &server::Server, partitions: u32) -> Result<Self, NatsError> {
        let js = server::connect(server).await?;
        server::events_stream(&js, &server.url, Some(partitions)).await?;
        Ok(Publisher {
            js,
            partitions,
            in_flight: VecDeque::with_capacity(IN_FLIGHT),
            published: 0,
        })
    }

    /// Give up on a publish the server has not acknowledged within
    /// `timeout` (and on other JetStream requests), so a caller answering
    /// someone can refuse in time rather than wait out the client's default.
    pub fn set_timeout(&mut self, timeout: std::time::Duration) {
        self.js.set_timeout(timeout);
    }

    /// The JetStream context it publishes on, for other requests to the
    /// same server over the same connection (a forwarding service's
    /// verdicts).
    pub fn context(&self) -> &Context {
        &self.js
    }

    /// The partition an event of `user` goes to.
    pub fn partition_of(&self, user: &str) -> u32 {
        shard_of(user, self.partitions as usize) as u32
    }

    /// Publish one event as a native JSON line.
    pub async fn publish(&mut self, ev: &AccessEvent) -> Result<(), NatsError> {
        if self.in_flight.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        let subject = events_subject(self.partition_of(&ev.user));
        let ack = self
            .js
            .publish(subject, Bytes::from(to_line(ev)))
            .await
            .map_err(|e| NatsError::js(format!("publishing to {EVENTS_STREAM}"), e))?;
        self.in_flight.push_back(ack);
        Ok(())
    }

    async fn settle_one(&mut self) -> Result<(), NatsError> {
        if let Some(ack) = self.in_flight.pop_front() {
            ack.await.map_err(|e| {
                NatsError::js(format!("waiting for {EVENTS_STREAM} to store an event"), e)
            })?;
            self.published += 1;
        }
        Ok(())
    }

    /// Wait until the stream has stored every event published so far, so
    /// the caller may tell its sender they are safe (`ueba serve --nats`
    /// answers a request then); returns how many it stored in all.
    pub async fn flush(&mut self) -> Result<u64, NatsError> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(self.published)
    }

    /// Forget the acknowledgements still outstanding after a failure, so
    /// the next round waits only for its own publishes: the failed round is
    /// sent again by whoever sent it (`ueba serve --nats` answers 503).
    pub fn abandon(&mut self) {
        self.in_flight.clear();
    }

    /// Wait for every outstanding acknowledgement; returns how many events
    /// the stream stored.
    pub async fn finish(mut self) -> Result<u64, NatsError> {
        self.flush().await
    }
}
