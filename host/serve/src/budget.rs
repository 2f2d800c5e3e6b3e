//! The bytes of request bodies the service holds at once, bounded.
//!
//! `serve.queue_events` bounds what waits to be scored, and
//! `serve.max_body_bytes` one request, but not how many requests are being
//! read and parsed together: a few hundred clients posting the largest body
//! at once would otherwise hold gigabytes. Every body is read into a
//! [`Reservation`] taken from one [`Budget`] of `serve.body_budget_bytes`,
//! growing with the buffer as the body arrives (never for a declared
//! `Content-Length` not yet sent, which a slow client could hold for
//! nothing). The reservation is held until the request's events are queued;
//! parsing, which holds about as much again in events, runs one request per
//! core at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shared allowance of body bytes.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes reserved now, for `/metrics`.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// The limit, `serve.body_budget_bytes`.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Take `bytes` if they fit; `None` if not.
    pub fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        let mut r = Reservation {
            budget: self.clone(),
            bytes: 0,
        };
        r.grow_to(bytes).then_some(r)
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&u| u <= self.limit)
            })
            .is_ok()
    }
}

/// Bytes held from a [`Budget`] until dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Reservation {
    /// Hold at least `bytes` in all; false (holding what it held) if the
    /// budget has no room for the rest.
    pub fn grow_to(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        let more = bytes - self.bytes;
        if !self.budget.take(more) {
            return false;
        }
        self.bytes = bytes;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
