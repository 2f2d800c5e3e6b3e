//! The sandbox: detector plugins as WebAssembly components, run by
//! wasmtime under limits, supervised, and with everything they return
//! checked before the host believes it.
//!
//! - [`runtime`]: compiling, caching and instantiating components, one
//!   `Store` per plugin with a memory cap and an epoch deadline per call;
//!   the bindings of each supported contract version.
//! - [`instance`]: one detector in its own store, its calls and their
//!   failures.
//! - [`events`]: the batch's rows as the contract's columns.
//! - [`older`]: the older contract versions' bindings and conversions.
//! - [`load`]: which detectors run (built-in or from `--plugins DIR`),
//!   configured and pinned.
//! - [`plugins`]: keeping them running: snapshots, replay, quarantine.
//! - [`health`]: the health events that report each step.
//! - [`gate`]: the bounds and escaping applied to a plugin's output.

pub mod events;
pub mod gate;
pub mod health;
pub mod instance;
pub mod load;
pub mod older;
pub mod plugins;
pub mod runtime;

pub use events::{Event, NO_BYTES, NO_ID};
pub use instance::{Plugin, PluginInfo};
pub use runtime::*;
pub use ueba_builtins::BUILTIN_PLUGINS;
