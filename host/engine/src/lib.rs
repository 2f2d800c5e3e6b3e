//! ueba's engine: from access events to per-user risk and alerts.
//!
//! The data path, one module per stage:
//! 1. [`event`]: the access event every source produces (who did what to
//!    which resource, when, from where), and [`identity`]: who users are
//!    (peer group, timezone, from an identity file).
//! 2. [`pipeline`]: events interned to ids, reordered by event time,
//!    batched and handed to the detectors.
//! 3. [`sandbox`]: the detectors, WebAssembly components run by wasmtime
//!    under limits, supervised, their output checked at a gate.
//! 4. [`risk`]: findings aggregated into a per-user risk that decays;
//!    alerts when it crosses a threshold an alert budget steers; analysts'
//!    exceptions.
//! 5. [`state`]: durable checkpoints of all of it.
//!
//! [`config`] is the configuration file every stage reads its section of;
//! [`json`] is how every JSON output (alerts, findings, incidents,
//! verdicts, the service's answers) is written, hidden characters escaped.
//! Parsing logs and writing alerts in SIEM formats live in `ueba-formats`;
//! the service in `ueba-serve`; the `ueba` binary in `ueba` (host/cli).
#![deny(missing_docs)]

pub mod config;
pub mod event;
pub mod identity;
pub mod json;
pub mod pipeline;
pub mod risk;
pub mod sandbox;
pub mod state;
