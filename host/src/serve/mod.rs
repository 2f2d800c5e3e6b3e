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
//! Shutting down ([`serve`] with a shutdown future) stops accepting, lets
//! requests in flight finish, and leaves the caller to close the queue and
//! join the worker, which scores everything accepted and flushes the sink.

pub mod auth;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod queue;
pub mod reload;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;

pub use auth::Token;
pub use http::{App, router};
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
    /// What `Retry-After` tells a client refused for a full queue, seconds.
    pub retry_after_secs: u64,
    /// After this long without events, held events are scored at once, ms.
    pub idle_flush_ms: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_body_bytes: 16 << 20,
            max_line_bytes: crate::input::MAX_LINE,
            queue_events: 100_000,
            retry_after_secs: 1,
            idle_flush_ms: 1000,
        }
    }
}

impl ServeConfig {
    /// The first value out of range, as (dotted key, what is allowed).
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if self.max_body_bytes == 0 {
            return Err(("serve.max_body_bytes", "must be at least 1"));
        }
        if self.max_line_bytes == 0 {
            return Err(("serve.max_line_bytes", "must be at least 1"));
        }
        if self.queue_events == 0 {
            return Err(("serve.queue_events", "must be at least 1"));
        }
        if self.idle_flush_ms == 0 {
            return Err(("serve.idle_flush_ms", "must be at least 1"));
        }
        Ok(())
    }
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
}

/// Refuse a non-loopback address when no token is configured.
pub fn check_exposure(addr: SocketAddr, token: Option<&Token>) -> Result<(), ServeError> {
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(ServeError::NoToken(addr));
    }
    Ok(())
}

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting
/// and wait for requests in flight. The caller then closes the queue and
/// joins the worker to drain it.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_only_on_loopback() {
        let token = Token::new("t0ken").unwrap();
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
    }

    #[test]
    fn limits_are_checked() {
        assert!(ServeConfig::default().check().is_ok());
        let bad = ServeConfig {
            queue_events: 0,
            ..ServeConfig::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "serve.queue_events");
    }
}
