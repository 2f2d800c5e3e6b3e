//! ueba: a UEBA scoring engine for database access events.
//!
//! Access events (who read which table, how many rows, when, from where) are
//! parsed ([`event`]), enriched from an identity file ([`identity`]), interned
//! to ids ([`intern`]) and fed in batches to sandboxed WebAssembly detector
//! plugins ([`runtime`], [`plugins`]). Their findings are aggregated into a
//! per-user risk that decays over time ([`aggregate`]), and alerts are written
//! as JSON lines ([`score`]). [`generator`] makes realistic organisations with
//! labelled insider scenarios for demos, tests and evaluation.
#![deny(missing_docs)]

pub mod aggregate;
pub mod authoring;
pub mod bench;
pub mod budget;
pub mod config;
pub mod eval;
pub mod event;
pub mod exceptions;
pub mod findings;
pub mod formats;
pub mod gate;
#[path = "gen/mod.rs"]
pub mod generator;
pub mod identity;
pub mod input;
pub mod intern;
pub mod plugins;
pub mod reorder;
pub mod runtime;
pub mod score;
pub mod serve;
pub mod state;
