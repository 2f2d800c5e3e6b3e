//! Writing custom detectors: what `ueba plugin new|build|test|inspect` do.
//!
//! A custom detector is a standalone Rust crate against the guest SDK
//! (`plugins/sdk`), built for `wasm32-unknown-unknown` and wrapped as a
//! component exactly as the built-in detectors are. This module holds the
//! library side of that workflow, so it is testable without the CLI:
//!
//! * [`scaffold`]: a new detector crate from templates that builds and passes
//!   its own tests straight away;
//! * [`build`]: cargo for the wasm target, the component wrapping, and the
//!   checks that the result loads in this host;
//! * [`surface`]: what a `.wasm` file imports and exports, read without
//!   compiling it, so a refused plugin can still be described;
//! * [`harness`]: one plugin run over an events file through the production
//!   sandbox, its findings in a stable form;
//! * [`golden`]: comparing those findings with an expectations file and
//!   showing the difference readably.

pub mod build;
pub mod golden;
pub mod harness;
pub mod scaffold;
pub mod surface;

use std::path::PathBuf;

use ueba_engine::sandbox::PluginError;

/// Why an authoring step failed. Every variant names the file (and line or
/// field where there is one), so the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The detector name cannot be a package and detector name.
    #[error("`{name}` cannot be a detector name: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The directory to scaffold into already has files.
    #[error("{path} already exists and is not empty; choose another --dir")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Neither this checkout's SDK nor a git location for it is known.
    #[error(
        "cannot tell where the ueba SDK is: this binary was not built from a checkout it can still find; pass --sdk-path to a checkout's plugins/sdk or --sdk-git with the repository URL"
    )]
    NoSdk,
    /// A tool the build needs could not be run or failed.
    #[error("{what} failed: {message}")]
    Tool {
        /// What was being done, e.g. `cargo build` in a directory.
        what: String,
        /// Its output or status.
        message: String,
    },
    /// The `wasm32-unknown-unknown` target is missing and could not be added.
    #[error(
        "building detectors needs the wasm32-unknown-unknown target and it could not be added automatically; run `rustup target add wasm32-unknown-unknown` and build again"
    )]
    WasmTarget,
    /// The crate built, but produced no WebAssembly library.
    #[error(
        "{manifest}: the build produced no .wasm library; the crate needs `crate-type = [\"cdylib\", \"rlib\"]` under [lib]"
    )]
    NoArtifact {
        /// The crate's manifest.
        manifest: PathBuf,
    },
    /// The file is not WebAssembly.
    #[error("{path}: not a WebAssembly module or component")]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be parsed as WebAssembly.
    #[error("{path}: malformed WebAssembly: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with the offset.
        message: String,
    },
    /// A core module imports WASI; detectors may import nothing.
    #[error(
        "{path} imports `{import}`, but detector plugins may import nothing (the host provides no WASI: no files, sockets, clocks or randomness); build for wasm32-unknown-unknown, not a wasi target, and leave out crates that need the operating system"
    )]
    WasiImport {
        /// The module.
        path: PathBuf,
        /// The first WASI import, as `module::name`.
        import: String,
    },
    /// Wrapping the core module as a component failed.
    #[error(
        "{path}: could not wrap the module as a component: {message} (does the crate end with `ueba_sdk::export_detector!(...)`?)"
    )]
    Encode {
        /// The core module.
        path: PathBuf,
        /// wit-component's explanation.
        message: String,
    },
    /// The host refused the component or the plugin failed a call.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// An events file line could not be read.
    #[error("{path}: {message}")]
    Events {
        /// The events file.
        path: PathBuf,
        /// The line, field and problem.
        message: String,
    },
    /// A finding names an event that was not in the batch it came with.
    #[error(
        "detector `{plugin}` returned a finding for event {event}, which was not in its batch (events {first}..={last}); the scorer would drop it"
    )]
    StrayFinding {
        /// The detector.
        plugin: String,
        /// The `event` the finding named.
        event: u64,
        /// First `seq` of the batch.
        first: u64,
        /// Last `seq` of the batch.
        last: u64,
    },
    /// The detector was slow on as many batches in a row as quarantine it
    /// in `ueba score` (`max_slow_batches`).
    #[error(
        "detector `{plugin}` took longer than {us_per_event} µs an event (at least 10 ms a batch) on {batches} batches in a row, up to the batch of events {first}..={last}: `ueba score` would quarantine it (raise [detectors.{plugin}] max_us_per_event if it is meant to be that costly)"
    )]
    TooSlow {
        /// The detector.
        plugin: String,
        /// Slow batches in a row.
        batches: u32,
        /// The pace it was held to.
        us_per_event: u64,
        /// First `seq` of the last slow batch.
        first: u64,
        /// Last `seq` of the last slow batch.
        last: u64,
    },
    /// The detector returned output the scorer's gate would drop or cut:
    /// a non-finite or out-of-range score, a non-finite evidence value,
    /// or text past the default budgets.
    #[error(
        "detector `{plugin}` returned output the scorer would not take as it is, in the batch of events {first}..={last}: {counts}"
    )]
    RejectedOutput {
        /// The detector.
        plugin: String,
        /// First `seq` of the batch.
        first: u64,
        /// Last `seq` of the batch.
        last: u64,
        /// What the gate dropped or cut.
        counts: ueba_engine::sandbox::gate::GateCounts,
    },
    /// An expectations file line is not a JSON object.
    #[error("{path}: line {line}: {message}")]
    Golden {
        /// The expectations file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Attach a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AuthoringError {
    let path = path.into();
    move |source| AuthoringError::Io { path, source }
}
