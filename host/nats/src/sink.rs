//! Records held for the asynchronous side of a worker.

use std::sync::{Arc, Mutex};

use ueba_engine::pipeline::AlertSink;
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::risk::findings::{FindingRecord, FindingSink};
use ueba_engine::risk::incidents::{IncidentRecord, IncidentSink};
use ueba_engine::sandbox::sha256_hex;

/// One record ready to publish: its `Nats-Msg-Id` and its JSON, exactly as
/// `ueba score` writes it (alerts with `--output-format jsonl`, incident
/// changes with `--incidents`, findings with `--findings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// An alert's stable id; for other records, the sha256 of their JSON,
    /// which the same input reproduces, so a re-emitted record is dropped
    /// by the stream as a duplicate.
    pub id: String,
    /// The record as one JSON object.
    pub json: String,
}

/// A sink that only buffers: the scorer is synchronous and publishing is
/// not, so records wait here until the worker publishes them, which it
/// does (and awaits the acks of) before storing the checkpoint that covers
/// them. Clones share one buffer, so the worker keeps a handle while the
/// scorer owns the sink. One outbox per kind of record.
#[derive(Clone, Debug, Default)]
pub struct Outbox(Arc<Mutex<Vec<PendingRecord>>>);

impl Outbox {
    /// Take every record buffered so far, oldest first.
    pub fn drain(&self) -> Vec<PendingRecord> {
        match self.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    fn push(&self, id: Option<&str>, record: &impl serde::Serialize) -> std::io::Result<()> {
        // As `ueba score` writes it: hidden characters escaped.
        let json = ueba_engine::json::to_string(record)?;
        let pending = PendingRecord {
            id: id.map_or_else(|| sha256_hex(json.as_bytes()), str::to_string),
            json,
        };
        match self.0.lock() {
            Ok(mut v) => v.push(pending),
            Err(poisoned) => poisoned.into_inner().push(pending),
        }
        Ok(())
    }
}

impl AlertSink for Outbox {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.push(Some(&alert.id), alert)
    }
}

impl FindingSink for Outbox {
    fn record(&mut self, record: &FindingRecord) -> std::io::Result<()> {
        self.push(None, record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl IncidentSink for Outbox {
    fn record(&mut self, record: &IncidentRecord) -> std::io::Result<()> {
        self.push(None, record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
