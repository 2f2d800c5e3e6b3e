//! `ueba serve`: scoring as an HTTP service, for a SIEM pipeline's sidecar.
//!
//! Clients POST events ([`http`]): native JSON lines, any `--format`, or a
//! JSON array to `/v1/events`, or Splunk HEC envelopes to
//! `/services/collector/event`, so existing forwarders can point at ueba.
//! Handlers authenticate ([`auth`]), parse with the same parsers as
//! `ueba score` ([`ingest`]) and hand the events to a bounded queue
//! ([`queue`]) drained by the one thread that owns the scorer; a full queue
//! is answered with 429 and `Retry-After`, never with unbounded memory.
//! `/metrics` ([`metrics`]) and `/healthz` report what happened. Analysts
//! ask about incidents and users and record verdicts ([`analyst`]) through
//! the same channel, so they are answered in turn with the events. With
//! `--plugins DIR`, [`reload`] watches DIR and hands new plugin versions to
//! the same thread, which switches to them between two batches.
//!
//! With `--nats`, [`forward`] takes the scorer's place: accepted events are
//! stored in the NATS JetStream events stream for workers to score, and a
//! request is answered once they are.
//!
//! Connections are accepted by [`listen`], which caps them, closes those
//! that are slow to send headers or idle, and backs off when accepting
//! fails (out of file descriptors, say) instead of stopping; [`budget`]
//! bounds the bytes of request bodies held at once.
//!
//! Shutting down ([`serve`] with a shutdown future) stops accepting, lets
//! requests in flight finish within `serve.shutdown_timeout_ms`, and leaves
//! the caller to close the queue and join the worker, which scores
//! everything accepted and flushes the sink.

pub mod analyst;
pub mod auth;
pub mod budget;
pub mod forward;
pub mod http;
pub mod ingest;
pub mod listen;
pub mod metrics;
pub mod queue;
pub mod reload;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::Token;
pub use http::{App, router};
pub use listen::Stopped;
pub use queue::{Queue, Snapshot, Worker, WorkerError, start};

pub use ueba_engine::config::ServeConfig;

/// Shortest token accepted off loopback, characters: a short one could be
/// guessed by anyone who can reach the port.
pub const MIN_TOKEN_LEN: usize = 16;

/// Descriptors kept beyond `serve.max_connections` for the service's own
/// files: the listener, the state directory, the alert sink, plugins and the
/// runtime.
pub const SPARE_DESCRIPTORS: u64 = 64;

/// Make room for `max_connections` connections in the process's descriptor
/// limit: when the soft limit is below them plus [`SPARE_DESCRIPTORS`], it
/// is raised toward that, as far as the hard limit allows. Returns the soft
/// limit in force afterwards (`None`: unlimited), so the caller can warn
/// when it is still short, since accepting then fails (and is retried)
/// before the cap is reached, and a checkpoint could fail to open its file.
pub fn raise_descriptor_limit(max_connections: usize) -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let want = max_connections as u64 + SPARE_DESCRIPTORS;
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    if current >= want {
        return Some(current);
    }
    let target = limit.maximum.map_or(want, |hard| hard.min(want));
    let raised = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    if target > current && setrlimit(Resource::Nofile, raised).is_ok() {
        return Some(target);
    }
    Some(current)
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Listening beyond this machine without a token would let anyone feed
    /// events (and so alerts) into the pipeline.
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could submit events. Set a token (--token-file or UEBA_TOKEN) or listen on a loopback address such as 127.0.0.1"
    )]
    NoToken(SocketAddr),
    /// A short token beyond this machine could be guessed.
    #[error(
        "refusing to listen on {addr} with a token of {length} characters: off a loopback address the token must be at least {min} characters, so that it cannot be guessed. Make one with e.g. `head -c 32 /dev/urandom | base64 > /etc/ueba/token`"
    )]
    ShortToken {
        /// The address asked for.
        addr: SocketAddr,
        /// The token's length in characters.
        length: usize,
        /// [`MIN_TOKEN_LEN`].
        min: usize,
    },
}

/// Refuse a non-loopback address when no token, or a short one, is
/// configured.
pub fn check_exposure(addr: SocketAddr, token: Option<&Token>) -> Result<(), ServeError> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    match token {
        None => Err(ServeError::NoToken(addr)),
        Some(t) if t.length() < MIN_TOKEN_LEN => Err(ServeError::ShortToken {
            addr,
            length: t.length(),
            min: MIN_TOKEN_LEN,
        }),
        Some(_) => Ok(()),
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting
/// and wait for requests in flight, at most `serve.shutdown_timeout_ms`
/// (see [`listen`]). The caller then closes the queue and joins the worker
/// to drain it.
pub async fn serve<F>(listener: tokio::net::TcpListener, app: Arc<App>, shutdown: F) -> Stopped
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    listen::run(listener, app, shutdown).await
}

#[cfg(test)]
mod tests;
