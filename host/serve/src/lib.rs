//! `ueba serve`: scoring as an HTTP service, for a SIEM pipeline's sidecar.
//!
//! Clients POST events ([`http`]): native JSON lines, any `--format`, or a
//! JSON array to `/v1/events`, or Splunk HEC envelopes to
//! `/services/collector/event`, so existing forwarders can point at ueba.
//! Handlers authenticate ([`auth`]), parse with the same parsers as
//! `ueba score` ([`ingest`]) and hand the events to a bounded queue
//! ([`queue`]) drained by the one thread that owns the scorer; a full queue
//! is answered with 429 and `Retry-After`, never with unbounded memory.
//! `/metrics` ([`metrics`]) and `/healthz` report what happened. With
//! `--plugins DIR`, [`reload`] watches DIR and hands new plugin versions to
//! the same thread, which switches to them between two batches.
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

pub mod auth;
pub mod budget;
pub mod http;
pub mod ingest;
pub mod listen;
pub mod metrics;
pub mod queue;
pub mod reload;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;

pub use auth::Token;
pub use http::{App, router};
pub use listen::Stopped;
pub use queue::{Queue, Snapshot, Worker, WorkerError, start};

/// `[serve]` in `ueba.toml`: the service's limits.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Largest request body, bytes; larger requests get 413.
    pub max_body_bytes: usize,
    /// Longest line (or single JSON/HEC event), bytes; a request holding a
    /// longer one gets 413, as `ueba score` refuses lines over 1 MiB.
    pub max_line_bytes: usize,
    /// Events accepted but not yet scored, at most; this bounds memory.
    pub queue_events: usize,
    /// What `Retry-After` tells a client refused for a full queue or a full
    /// body budget, seconds.
    pub retry_after_secs: u64,
    /// After this long without events, held events are scored at once, ms.
    pub idle_flush_ms: u64,
    /// Open connections, at most: past it the service stops accepting until
    /// one closes, so clients cannot use up its file descriptors or the
    /// buffers each connection holds.
    pub max_connections: usize,
    /// Bytes of request bodies being read or parsed, at most, across all
    /// connections: `queue_events` bounds what is queued, this bounds what
    /// is on its way there. A request that does not fit gets 429 (HEC: 503)
    /// with `Retry-After`.
    pub body_budget_bytes: usize,
    /// A connection must deliver a request's complete headers within this
    /// long of opening, or of its previous response, else it is closed (so
    /// an idle keep-alive connection closes after this too), ms.
    pub header_read_timeout_ms: u64,
    /// A connection on which no byte moves either way for this long is
    /// closed, mid-request included: a stalled upload or a client that
    /// stopped reading its answer, ms.
    pub idle_timeout_ms: u64,
    /// A request must be read, parsed and queued within this long of its
    /// headers, else it gets 408 and the connection is closed, ms.
    pub request_timeout_ms: u64,
    /// On SIGTERM or SIGINT, requests in flight get this long to finish;
    /// then their connections are closed and what was accepted is scored
    /// (and checkpointed with `--state`) anyway, ms.
    pub shutdown_timeout_ms: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_body_bytes: 16 << 20,
            max_line_bytes: crate::input::MAX_LINE,
            queue_events: 100_000,
            retry_after_secs: 1,
            idle_flush_ms: 1000,
            max_connections: 512,
            body_budget_bytes: 128 << 20,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 30_000,
            request_timeout_ms: 60_000,
            shutdown_timeout_ms: 10_000,
        }
    }
}

impl ServeConfig {
    /// The first value out of range, as (dotted key, what is allowed).
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let at_least_one = [
            ("serve.max_body_bytes", self.max_body_bytes as u64),
            ("serve.max_line_bytes", self.max_line_bytes as u64),
            ("serve.queue_events", self.queue_events as u64),
            ("serve.idle_flush_ms", self.idle_flush_ms),
            ("serve.max_connections", self.max_connections as u64),
            ("serve.header_read_timeout_ms", self.header_read_timeout_ms),
            ("serve.idle_timeout_ms", self.idle_timeout_ms),
            ("serve.request_timeout_ms", self.request_timeout_ms),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err((key, "must be at least 1"));
        }
        if self.max_connections > MAX_CONNECTIONS {
            return Err(("serve.max_connections", "must be at most 1000000"));
        }
        if self.body_budget_bytes < self.max_body_bytes {
            // A request of the largest allowed size would be refused for
            // ever: retrying could not help.
            return Err((
                "serve.body_budget_bytes",
                "must be at least serve.max_body_bytes",
            ));
        }
        Ok(())
    }
}

/// Largest `serve.max_connections`: far beyond any descriptor limit, and
/// small enough to count in a semaphore's permits.
const MAX_CONNECTIONS: usize = 1_000_000;

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
mod tests {
    use super::*;

    #[test]
    fn no_token_only_on_loopback() {
        let token = Token::new("t0ken-long-enough").unwrap();
        let lo: SocketAddr = "127.0.0.1:8088".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8088".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8088".parse().unwrap();
        assert!(check_exposure(lo, None).is_ok());
        assert!(check_exposure(lo6, None).is_ok());
        assert!(check_exposure(any, Some(&token)).is_ok());
        let e = check_exposure(any, None).unwrap_err().to_string();
        assert!(
            e.starts_with("refusing to listen on 0.0.0.0:8088 without a token"),
            "{e}"
        );
        let short = Token::new("t0ken").unwrap();
        assert!(check_exposure(lo, Some(&short)).is_ok());
        let e = check_exposure(any, Some(&short)).unwrap_err().to_string();
        assert!(
            e.starts_with("refusing to listen on 0.0.0.0:8088 with a token of 5 characters"),
            "{e}"
        );
    }

    #[test]
    fn limits_are_checked() {
        assert!(ServeConfig::default().check().is_ok());
        let bad = ServeConfig {
            queue_events: 0,
            ..ServeConfig::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "serve.queue_events");
        let bad = ServeConfig {
            body_budget_bytes: 1000,
            max_body_bytes: 1001,
            ..ServeConfig::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "serve.body_budget_bytes");
        let bad = ServeConfig {
            header_read_timeout_ms: 0,
            ..ServeConfig::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "serve.header_read_timeout_ms");
    }
}
