//! What can go wrong talking to JetStream, in words an operator can act on.

/// Why a publisher or worker stopped.
///
/// Every variant names the thing at fault (the URL, the stream, the
/// partition) so the message alone says what to fix; none of them is a
/// panic, whatever the network or the operator did.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to NATS at {url}: {message}")]
    Unreachable {
        /// The URL given, its user information hidden
        /// ([`crate::shown_url`]).
        url: String,
        /// The client's reason.
        message: String,
    },
    /// The event stream does not exist yet: nothing was ever published.
    #[error(
        "stream {stream} does not exist on {url}: run `ueba publish --nats {url} --partitions P` first"
    )]
    NoStream {
        /// The stream's name.
        stream: String,
        /// The server, its user information hidden ([`crate::shown_url`]).
        url: String,
    },
    /// The stream was created with another number of partitions; mixing
    /// two would send one user's events to two partitions.
    #[error(
        "stream {stream} holds {found} partitions, not {asked}: publish with --partitions {found}, or delete the stream and its buckets to start over"
    )]
    PartitionMismatch {
        /// The stream's name.
        stream: String,
        /// The partitions it was created with.
        found: u32,
        /// The partitions asked for now.
        asked: u32,
    },
    /// The stream exists but says nothing of its partition count (made by
    /// something else, or its config bucket was deleted).
    #[error(
        "stream {stream} exists but bucket {bucket} has no `{key}` key: it was not made by `ueba publish`; delete it or publish elsewhere"
    )]
    NoPartitionCount {
        /// The stream's name.
        stream: String,
        /// The config bucket.
        bucket: String,
        /// The key looked for.
        key: String,
    },
    /// A worker was asked for a partition the stream does not have.
    #[error("partition {partition} does not exist: the stream has {partitions} partitions (0 to {})", partitions.saturating_sub(1))]
    NoSuchPartition {
        /// The partition asked for.
        partition: u32,
        /// How many the stream has.
        partitions: u32,
    },
    /// A stored checkpoint could not be read back.
    #[error("checkpoint of partition {partition}: {message}")]
    Checkpoint {
        /// The partition.
        partition: u32,
        /// What is wrong with it.
        message: String,
    },
    /// Another worker took the partition's lease over (this one was paused
    /// or cut off past the lease's lifetime): its checkpoint is not
    /// stored, so it cannot overwrite the new owner's.
    #[error(
        "partition {partition}: the lease is no longer this worker's ({message}); its checkpoint is left to the new owner"
    )]
    LeaseLost {
        /// The partition.
        partition: u32,
        /// Why renewing the lease failed.
        message: String,
    },
    /// The scorer failed (a detector, the sink, a restore).
    #[error("partition {partition}: {message}")]
    Scoring {
        /// The partition.
        partition: u32,
        /// What failed.
        message: String,
    },
    /// Reading the events to publish failed.
    #[error("{0}")]
    Input(String),
    /// A verdict names an alert that is not on the alerts stream.
    #[error("{0}")]
    UnknownAlert(String),
    /// A JetStream request failed (stream, consumer, bucket, publish).
    #[error("{what}: {message}")]
    JetStream {
        /// What was being done.
        what: String,
        /// The client's or server's reason.
        message: String,
    },
}

impl NatsError {
    /// A failed JetStream request, saying what it was for.
    pub(crate) fn js(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        NatsError::JetStream {
            what: what.into(),
            message: e.to_string(),
        }
    }
}
