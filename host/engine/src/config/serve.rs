//! `[serve]` in `ueba.toml`: the service's limits. `ueba-serve` applies
//! them; the section is defined here so that the whole configuration file
//! is one type read in one place.

use serde::Deserialize;

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
            max_line_bytes: crate::event::MAX_LINE,
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
