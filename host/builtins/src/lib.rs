//! The built-in detectors (`plugins/volume`, `off-hours`, `novel-table`,
//! `new-source`) as WebAssembly components, embedded in the binary.
//!
//! They are built by this crate's build script so that the engine is
//! compiled without knowing how a component is made; the engine loads them
//! through the same sandbox as any third-party plugin.
#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
