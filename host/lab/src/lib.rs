//! ueba's laboratory: what makes and measures organisations rather than
//! scoring a real one.
//!
//! - [`generator`]: synthetic organisations (database or workstation logs)
//!   with labelled insider scenarios and benign look-alikes, for the demo,
//!   tests and evaluation.
//! - [`eval`]: scoring a labelled log and reporting detection quality
//!   (per scenario, false alerts per 1,000 user-days, ROC over user-days),
//!   against baseline rules, with an HTML report and parameter sweeps.
//! - [`bench`](mod@bench): `ueba bench`, the throughput and memory matrix, shared with
//!   the criterion benches in `benches/`.
#![deny(missing_docs)]

pub mod bench;
pub mod eval;
#[path = "gen/mod.rs"]
pub mod generator;
