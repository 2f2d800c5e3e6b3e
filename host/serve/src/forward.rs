//! Forwarding instead of scoring: `ueba serve --nats URL` takes events over
//! HTTP exactly as a scoring service does (the same endpoints, token,
//! formats, limits and queue) and hands them to a [`Forward`], which stores
//! them durably elsewhere: the NATS JetStream events stream, for
//! `ueba worker`s to score. The service is then the front door of a
//! cluster for forwarders that speak HTTP or Splunk HEC.
//!
//! A request is acknowledged only once its events are stored: every request
//! waits for its [`Receipt`](crate::queue::Receipt), which the forwarding
//! thread settles after [`Forward::forward`] returns. Requests queued
//! together are forwarded together and settled at once (one round of
//! acknowledgements from the store for all of them). If storing a round
//! fails (the server is restarting, the stream is full), that round's
//! requests are answered 503 so their clients send them again, the failure
//! is logged and counted, and the service goes on: the next round is tried
//! afresh, so a store that comes back needs no restart of the service. A
//! round that failed part way may have stored some of its events, which
//! the clients' resend then stores twice.
//!
//! Analysts' verdicts (`POST /v1/feedback`) go to [`Forward::ask`]: over
//! NATS they are published for the worker owning the alert's user, as
//! `ueba feedback --nats` publishes them. Questions about risk and
//! incidents are answered 501: there is no risk here to ask about.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use ueba_engine::event::AccessEvent;

use crate::analyst::{Ask, AskError};
use crate::queue::{Msg, PanicGuard, Queue, Shared, Snapshot, WorkerError};

/// Where a forwarding service's events go.
pub trait Forward {
    /// What the service's log and `/metrics` call the destination, e.g.
    /// `NATS nats://10.0.0.5:4222, stream UEBA_EVENTS`.
    fn destination(&self) -> String;
    /// Store these events durably, in order; return once they are stored.
    /// An error refuses this round's requests (their clients send them
    /// again); the next call starts afresh.
    fn forward(&mut self, events: &[AccessEvent]) -> Result<(), String>;
    /// Answer an analyst's request, where the destination can: by default
    /// none can ([`AskError::Forwarding`], 501).
    fn ask(&mut self, ask: Ask) -> Result<serde_json::Value, AskError> {
        let _ = ask;
        Err(AskError::Forwarding(self.destination()))
    }
}

/// What a forwarding run did, for the summary at shutdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// Events stored.
    pub events: u64,
    /// Records refused as invalid (counted, not forwarded).
    pub invalid: u64,
    /// Rounds of storing (requests queued together share one).
    pub rounds: u64,
    /// Rounds the store failed, whose requests were refused.
    pub failed_rounds: u64,
    /// Events in those rounds, refused to be sent again.
    pub refused: u64,
    /// Where they went ([`Forward::destination`]).
    pub destination: String,
}

/// The forwarding thread; [`Forwarder::join`] waits for it to drain.
pub struct Forwarder {
    handle: JoinHandle<Result<Forwarded, String>>,
    shared: Arc<Shared>,
    ready: Option<std::sync::mpsc::Receiver<Result<(), String>>>,
}

impl Forwarder {
    /// Wait until [`start`]'s `build` has connected, so an unreachable
    /// destination stops start-up before the service listens.
    pub fn ready(&mut self) -> Result<(), WorkerError> {
        match self.ready.take().map(|r| r.recv()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(WorkerError::Build(e)),
            Some(Err(_)) => Err(WorkerError::Panicked { unscored: 0 }),
        }
    }

    /// Wait for everything queued (after [`Queue::close`]) to be stored.
    pub fn join(self) -> Result<Forwarded, WorkerError> {
        let unscored = self.shared.depth.load(Ordering::SeqCst);
        match self.handle.join() {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(WorkerError::Build(e)),
            Err(_) => Err(WorkerError::Panicked { unscored }),
        }
    }
}

/// Start the forwarding thread. `build` makes the [`Forward`] on that
/// thread (connecting, checking the destination); `capacity` is the
/// queue's size in events, as for a scoring service.
pub fn start<F, B>(build: B, capacity: usize) -> Result<(Queue, Forwarder), WorkerError>
where
    F: Forward,
    B: FnOnce() -> Result<F, String> + Send + 'static,
{
    let (tx, rx) = channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    // Every request waits until its events are stored.
    let shared = Shared::new(capacity, true);
    let for_thread = shared.clone();
    let handle = std::thread::Builder::new()
        .name("ueba-forward".into())
        .spawn(move || {
            let _guard = PanicGuard(for_thread.clone(), "forwarding");
            let mut forward = match build() {
                Ok(f) => {
                    let _ = ready_tx.send(Ok(()));
                    f
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    for_thread.fail(e.clone());
                    return Err(e);
                }
            };
            work(&mut forward, &rx, &for_thread)
        })
        .map_err(WorkerError::Spawn)?;
    Ok((
        Queue {
            tx: Arc::new(Mutex::new(Some(tx))),
            shared: shared.clone(),
        },
        Forwarder {
            handle,
            shared,
            ready: Some(ready_rx),
        },
    ))
}

/// Forward every request as it comes, those queued together in one round.
fn work<F: Forward>(
    forward: &mut F,
    rx: &Receiver<Msg>,
    shared: &Shared,
) -> Result<Forwarded, String> {
    let mut done = Forwarded {
        destination: forward.destination(),
        ..Forwarded::default()
    };
    let mut events: Vec<AccessEvent> = Vec::new();
    let mut acks = Vec::new();
    // Blocks for the first message of a round, then takes whatever else is
    // queued already.
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Events {
                    events: mut more,
                    invalid,
                    ack,
                } => {
                    done.invalid += invalid;
                    events.append(&mut more);
                    acks.extend(ack);
                }
                // A client that went away meanwhile is sent nothing; a
                // verdict it sent is published all the same.
                Msg::Ask(ask, reply) => {
                    let _ = reply.send(forward.ask(ask));
                }
                // No plugins here: a forwarding service has no --plugins to
                // watch, so nothing sends one.
                Msg::Reload(_) => {}
            }
            next = rx.try_recv().ok();
        }
        let n = events.len();
        let stored = match n {
            0 => Ok(()),
            _ => forward.forward(&events),
        };
        match &stored {
            Ok(()) if n > 0 => {
                done.rounds += 1;
                done.events += n as u64;
            }
            Ok(()) => {}
            Err(e) => {
                done.failed_rounds += 1;
                done.refused += n as u64;
                tracing::warn!(
                    events = n,
                    "{}: {e}; {n} events refused (their clients send them again)",
                    done.destination
                );
            }
        }
        shared.depth.fetch_sub(n, Ordering::SeqCst);
        events.clear();
        for ack in acks.drain(..) {
            // A client that went away meanwhile is sent nothing.
            let _ = ack.send(stored.clone());
        }
        *shared
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Snapshot {
            events: done.events,
            invalid: done.invalid,
            refused: done.refused,
            ..Snapshot::default()
        };
    }
    Ok(done)
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
