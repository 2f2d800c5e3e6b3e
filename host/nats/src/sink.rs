//! Alerts held for the asynchronous side of a worker.

use std::sync::{Arc, Mutex};

use ueba_engine::pipeline::AlertSink;
use ueba_engine::risk::aggregate::Alert;

/// One alert ready to publish: its id (the `Nats-Msg-Id`) and its JSON,
/// exactly as `ueba score` writes it with `--output-format jsonl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAlert {
    /// The alert's stable id.
    pub id: String,
    /// The alert as one JSON object.
    pub json: String,
}

/// An [`AlertSink`] that only buffers: the scorer is synchronous and
/// publishing is not, so alerts wait here until the worker publishes them,
/// which it does (and awaits the acks of) before storing the checkpoint
/// that covers them. Clones share one buffer, so the worker keeps a handle
/// while the scorer owns the sink.
#[derive(Clone, Debug, Default)]
pub struct AlertBuffer(Arc<Mutex<Vec<PendingAlert>>>);

impl AlertBuffer {
    /// Take every alert buffered so far, oldest first.
    pub fn drain(&self) -> Vec<PendingAlert> {
        match self.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl AlertSink for AlertBuffer {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        let json = serde_json::to_string(alert)?;
        let pending = PendingAlert {
            id: alert.id.clone(),
            json,
        };
        match self.0.lock() {
            Ok(mut v) => v.push(pending),
            Err(poisoned) => poisoned.into_inner().push(pending),
        }
        Ok(())
    }
}
