//! The sandbox: loads detector components with wasmtime and calls them.
//!
//! Each plugin gets its own `Store` with a memory cap (`StoreLimits`) and an
//! epoch deadline per call, driven by one ticker thread per [`Runtime`]. The
//! linker is empty: the host provides no WASI and no other imports, so a
//! component that imports anything is refused before instantiation with an
//! error naming the import. Compiled components are cached on disk, keyed by
//! the component's sha256 and the engine's compatibility hash, so starting on
//! a cached plugin takes milliseconds instead of a compile. A cached artefact
//! is native code that gets run, so it is loaded only from a directory and a
//! file that this user owns and nobody else can write ([`CacheRefused`]).

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{DetectorConfig, SandboxConfig};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

/// Generated bindings for the current detector contract (`wit/detector.wit`).
/// The host's own types ([`wit`]) are these; a plugin built for an older,
/// still supported contract is called through that version's bindings and
/// converted (see [`Contract`]).
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ueba:detector/detector-plugin@0.5.0",
        additional_derives: [PartialEq],
    });
}

pub use bindings::exports::ueba::detector0_5_0::detector as wit;

use super::instance::{Plugin, PluginInfo, ticks};

use super::older::{v0_1, v0_2, v0_3, v0_4};

/// The contract version this host implements (`wit/detector.wit`).
pub const CONTRACT_VERSION: &str = "0.5.0";
/// The export a plugin for the current contract provides.
pub const DETECTOR_EXPORT: &str = "ueba:detector/detector@0.5.0";
/// Every contract version this host loads, newest first: the current one
/// and the older ones still supported (frozen under `wit/deps/`,
/// [`super::older`]). The policy is in `docs/contract.md`.
pub const SUPPORTED_CONTRACTS: &[&str] = &[CONTRACT_VERSION, "0.4.0", "0.3.0", "0.2.0", "0.1.0"];

/// A contract version this host can load, and so which generated bindings
/// call a plugin. Supporting an older version when the contract changes
/// means: freeze its WIT under `wit/deps/`, generate its `bindgen!` world in
/// [`super::older`], add a variant here and to [`SUPPORTED_CONTRACTS`], and
/// convert its types to and from [`wit`] in the calls of [`Plugin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// The current contract, [`CONTRACT_VERSION`].
    Current,
    /// Contract 0.4.0: the current batch without the `manager` column
    /// ([`v0_4`]).
    V0_4,
    /// Contract 0.3.0: the current calls without the population exchange
    /// ([`v0_3`]).
    V0_3,
    /// Contract 0.2.0: the current columns without `learn` ([`v0_2`]).
    V0_2,
    /// Contract 0.1.0: events as a list of records ([`v0_1`]).
    V0_1,
}

impl Contract {
    /// Every supported contract, in the order of [`SUPPORTED_CONTRACTS`].
    pub const ALL: &[Contract] = &[
        Contract::Current,
        Contract::V0_4,
        Contract::V0_3,
        Contract::V0_2,
        Contract::V0_1,
    ];

    /// Its version, e.g. `0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            Contract::Current => CONTRACT_VERSION,
            Contract::V0_4 => SUPPORTED_CONTRACTS[1],
            Contract::V0_3 => SUPPORTED_CONTRACTS[2],
            Contract::V0_2 => SUPPORTED_CONTRACTS[3],
            Contract::V0_1 => SUPPORTED_CONTRACTS[4],
        }
    }

    /// The interface a plugin for this version exports.
    pub fn export_name(self) -> String {
        format!("{EXPORT_PREFIX}{}", self.version())
    }

    /// The supported contract a component's export names, if any.
    fn of_export(name: &str) -> Option<Contract> {
        let version = name.strip_prefix(EXPORT_PREFIX)?;
        Contract::ALL
            .iter()
            .copied()
            .find(|c| c.version() == version)
    }
}

/// What every version of the detector interface's export name starts with.
const EXPORT_PREFIX: &str = "ueba:detector/detector@";

/// The supported versions as the error messages list them: `0.1.0, 0.2.0`.
fn supported_list() -> String {
    SUPPORTED_CONTRACTS.join(", ")
}

/// A plugin instance's generated bindings, one variant per supported
/// contract.
pub(crate) enum Bindings {
    Current(bindings::DetectorPlugin),
    V0_4(v0_4::bindings::DetectorPlugin),
    V0_3(v0_3::bindings::DetectorPlugin),
    V0_2(v0_2::bindings::DetectorPlugin),
    V0_1(v0_1::bindings::DetectorPlugin),
}
/// How often the epoch ticker advances; deadlines are counted in these.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Sandbox limits applied to every call into a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory cap, bytes.
    pub memory_bytes: usize,
    /// Wall-clock budget for one call (one batch), enforced by epochs.
    pub call_timeout: Duration,
    /// Most findings one batch may return; more is a misbehaving plugin.
    pub max_findings: usize,
    /// Largest snapshot accepted, bytes.
    pub max_snapshot_bytes: usize,
    /// Wall-clock budget for one `snapshot` or `restore` call. Separate from
    /// the batch budget because it grows with everything the detector has
    /// learned (seconds at a million users), not with the batch.
    pub snapshot_timeout: Duration,
}

impl Limits {
    /// The limits for a detector: `[sandbox]`'s defaults with the
    /// detector's `[detectors.NAME]` overrides applied.
    pub fn for_detector(sandbox: &SandboxConfig, detector: Option<&DetectorConfig>) -> Self {
        let d = detector.cloned().unwrap_or_default();
        Limits {
            memory_bytes: d.memory_mib.unwrap_or(sandbox.memory_mib) << 20,
            call_timeout: Duration::from_millis(
                d.batch_timeout_ms.unwrap_or(sandbox.batch_timeout_ms),
            ),
            max_findings: d
                .max_findings_per_batch
                .unwrap_or(sandbox.max_findings_per_batch),
            max_snapshot_bytes: d.max_snapshot_mib.unwrap_or(sandbox.max_snapshot_mib) << 20,
            snapshot_timeout: Duration::from_millis(sandbox.snapshot_timeout_ms),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(5),
            max_findings: 100_000,
            max_snapshot_bytes: 256 << 20,
            snapshot_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// The time budget of one call: `snapshot` and `restore` scale with the
    /// detector's state, everything else with one batch.
    pub(crate) fn budget(&self, call: &str) -> Duration {
        match call {
            // A population share grows with what was learned, as a snapshot.
            "snapshot" | "restore" | "population" | "absorb" => self.snapshot_timeout,
            _ => self.call_timeout,
        }
    }

    /// Bytes one call may copy out of the guest. wasmtime bounds this (128
    /// MiB by default) so a guest cannot make the host allocate without
    /// limit. A snapshot may be as large as `max_snapshot_bytes`, so it gets
    /// that plus its framing, and is refused by the documented limit, with
    /// its size, rather than by wasmtime's.
    pub(crate) fn hostcall_fuel(&self, call: &str) -> usize {
        const DEFAULT: usize = 128 << 20;
        match call {
            "snapshot" | "population" => {
                self.max_snapshot_bytes.max(DEFAULT).saturating_add(1 << 20)
            }
            _ => DEFAULT,
        }
    }
}

/// Which limit a failed call hit, for health events and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// Ran past the time budget (epoch deadline).
    Time,
    /// Tried to grow memory past the cap.
    Memory,
    /// Overflowed its stack.
    Stack,
    /// Trapped otherwise (a panic, an unreachable, a bad access).
    Trap,
    /// Returned an error of its own.
    Error,
    /// Returned more findings than allowed.
    Findings,
    /// Produced a snapshot larger than allowed.
    Snapshot,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Failure::Time => "time limit",
            Failure::Memory => "memory limit",
            Failure::Stack => "stack overflow",
            Failure::Trap => "trap",
            Failure::Error => "detector error",
            Failure::Findings => "findings limit",
            Failure::Snapshot => "snapshot size limit",
        };
        f.write_str(s)
    }
}

/// Why a plugin could not be loaded or called.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a valid component, or compiling them failed.
    #[error("plugin `{plugin}` is not a valid detector component: {message}")]
    Invalid {
        /// Where the plugin came from.
        plugin: String,
        /// The compiler's explanation.
        message: String,
    },
    /// The component imports something; plugins may import nothing.
    #[error(
        "plugin `{plugin}` imports `{import}`, but detector plugins may import nothing (the host provides no WASI: no files, sockets, clocks or randomness)"
    )]
    ForbiddenImport {
        /// Where the plugin came from.
        plugin: String,
        /// The first import found.
        import: String,
    },
    /// The component was built for a contract version this host does not
    /// load, by the interface it exports or by what its `describe` says.
    #[error("plugin `{plugin}` was built for contract {found}, this host supports {supported}")]
    ContractMismatch {
        /// Where the plugin came from.
        plugin: String,
        /// The version it was built for, e.g. `0.2.0`, or what it exports
        /// instead when that is no detector interface at all.
        found: String,
        /// The contract versions this host loads, e.g. `0.2.0, 0.1.0`.
        supported: String,
    },
    /// The plugin refused its configuration.
    #[error("detector `{plugin}`: config key `{key}`: {message}")]
    Config {
        /// Detector name.
        plugin: String,
        /// The key at fault.
        key: String,
        /// Why it was refused.
        message: String,
    },
    /// The plugin trapped, hit a limit, or returned an error.
    #[error("detector `{plugin}` failed in {call} ({failure}): {message}")]
    Call {
        /// Detector name.
        plugin: String,
        /// Which export was being called.
        call: &'static str,
        /// The trap or error text.
        message: String,
        /// Which limit, or what kind of failure.
        failure: Failure,
    },
}

/// Per-store data: the memory limiter, remembering whether it refused, so
/// that the trap that follows is reported as the memory limit.
pub(crate) struct StoreState {
    pub(crate) limits: StoreLimits,
    pub(crate) memory_refused: bool,
}

impl wasmtime::ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        self.memory_refused |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The wasmtime engine, empty linker and compile cache shared by all plugins
/// of a run. Cloning is cheap and shares the engine; the epoch ticker thread
/// runs while any clone (or any plugin instantiated from one) is alive.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Linker<StoreState>,
    cache_dir: Option<PathBuf>,
    /// The first time the cache was found unsafe to use, shared by clones so
    /// that it is reported once per run.
    cache_refused: Arc<OnceLock<CacheRefused>>,
}

/// Why the compile cache was not used: compiled plugins are native code
/// that the host runs, so a cache directory or artefact that another user
/// owns or can write would let them run code as this user. The plugin is
/// compiled afresh instead and nothing is written into that cache.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CacheRefused {
    /// Owned by another user.
    #[error(
        "compile cache {what} `{}` is owned by uid {owner}, not by this user (uid {euid}); plugins are compiled afresh and the cache is left alone",
        .path.display()
    )]
    Owner {
        /// `directory` or `file`.
        what: &'static str,
        /// The directory or artefact refused.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// This process's effective uid.
        euid: u32,
    },
    /// Writable by the group or by others.
    #[error(
        "compile cache {what} `{}` can be written by other users (mode {mode:04o}); plugins are compiled afresh and the cache is left alone (`chmod go-w` it, or choose another cache_dir)",
        .path.display()
    )]
    Writable {
        /// `directory` or `file`.
        what: &'static str,
        /// The directory or artefact refused.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl Runtime {
    /// Create an engine with epoch interruption, and start its ticker.
    /// `cache_dir` is where compiled plugins are kept; `None` disables the cache.
    /// With `UEBA_PERF_MAP=1` in the environment the engine writes a perf
    /// map of the plugins' compiled code, so that `perf record` profiles
    /// of scoring name the detectors' functions instead of bare addresses.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        if std::env::var_os("UEBA_PERF_MAP").is_some_and(|v| v == "1") {
            // For `perf record`: plugins' compiled functions are written to
            // /tmp/perf-PID.map, so profiles name them (BENCHMARKS.md).
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Invalid {
            plugin: "(engine)".into(),
            message: format!("{e:#}"),
        })?;
        let ticker_engine = engine.weak();
        std::thread::Builder::new()
            .name("ueba-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    match ticker_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| PluginError::Invalid {
                plugin: "(engine)".into(),
                message: format!("could not start the epoch ticker: {e}"),
            })?;
        let runtime = Runtime {
            linker: Linker::new(&engine),
            engine,
            cache_dir,
            cache_refused: Arc::new(OnceLock::new()),
        };
        // Check an existing cache directory now, so that a refusal is known
        // (and can be shown) before the first plugin is compiled; each load
        // checks again.
        if let Some(dir) = &runtime.cache_dir {
            runtime.cache_dir_usable(dir);
        }
        Ok(runtime)
    }

    /// Why the compile cache is not being used, if it was refused: its
    /// directory or an artefact in it is owned by another user or writable
    /// by others. Set at most once per run (the first refusal), so a caller
    /// can show it once; plugins still load, compiled afresh.
    pub fn cache_refused(&self) -> Option<&CacheRefused> {
        self.cache_refused.get()
    }

    /// Whether the cache directory may be read from and written to: it does
    /// not exist yet (it is created private on first write) or it passes
    /// [`check_private`]. A refusal is remembered for [`Self::cache_refused`].
    fn cache_dir_usable(&self, dir: &Path) -> bool {
        match std::fs::metadata(dir) {
            Ok(meta) => self.accept("directory", dir, &meta),
            Err(_) => true,
        }
    }

    /// [`check_private`], remembering the first refusal.
    fn accept(&self, what: &'static str, path: &Path, meta: &std::fs::Metadata) -> bool {
        match check_private(what, path, meta) {
            Ok(()) => true,
            Err(refused) => {
                let _ = self.cache_refused.set(refused);
                false
            }
        }
    }

    /// The default cache directory: `$UEBA_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/ueba`, else `~/.cache/ueba`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("UEBA_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("ueba"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ueba"))
    }

    /// Compile (or fetch from cache) a component and check its imports and
    /// exports. `label` names the plugin in errors (a file name or `builtin:volume`).
    pub fn compile(&self, label: &str, bytes: &[u8]) -> Result<Component, PluginError> {
        let component = self.compile_cached(label, bytes)?;
        let ty = component.component_type();
        if let Some((name, _)) = ty.imports(&self.engine).next() {
            return Err(PluginError::ForbiddenImport {
                plugin: label.into(),
                import: name.to_string(),
            });
        }
        self.contract_of(label, &component)?;
        Ok(component)
    }

    /// Which supported contract a component implements, by the detector
    /// interface it exports.
    fn contract_of(&self, label: &str, component: &Component) -> Result<Contract, PluginError> {
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        if let Some(c) = exports.iter().find_map(|e| Contract::of_export(e)) {
            return Ok(c);
        }
        let found = exports
            .iter()
            .find_map(|e| e.strip_prefix(EXPORT_PREFIX))
            .map(str::to_string)
            .unwrap_or_else(|| {
                if exports.is_empty() {
                    "nothing (it exports no detector interface)".into()
                } else {
                    format!("none it names (it exports {})", exports.join(", "))
                }
            });
        Err(PluginError::ContractMismatch {
            plugin: label.into(),
            found,
            supported: supported_list(),
        })
    }

    fn compile_cached(&self, label: &str, bytes: &[u8]) -> Result<Component, PluginError> {
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            plugin: label.into(),
            message: format!("{e:#}"),
        };
        let Some(dir) = self
            .cache_dir
            .as_deref()
            .filter(|d| self.cache_dir_usable(d))
        else {
            return Component::new(&self.engine, bytes).map_err(invalid);
        };
        let path = dir.join(self.cache_key(bytes));
        match self.read_cached(&path) {
            Cached::Bytes(cached) => {
                // SAFETY: `Component::deserialize` runs the bytes as native
                // code. They were written by `Component::serialize` of an
                // engine with the same compatibility hash (it is in the file
                // name), and `read_cached` checked, on the open file, that it
                // and its directory belong to this user and nobody else can
                // write them. wasmtime checks the header; bytes that fail are
                // recompiled and replaced.
                if let Ok(c) = unsafe { Component::deserialize(&self.engine, &cached) } {
                    return Ok(c);
                }
            }
            Cached::Missing => {}
            Cached::Refused => return Component::new(&self.engine, bytes).map_err(invalid),
        }
        let component = Component::new(&self.engine, bytes).map_err(invalid)?;
        // The cache is an optimisation: failing to write it only costs a
        // compile next time, so errors here are not fatal.
        if let Ok(compiled) = component.serialize() {
            let _ = write_private(dir, &path, &compiled);
        }
        Ok(component)
    }

    /// A cached artefact's bytes, if there is one that passes
    /// [`check_private`]. The check is made on the open file, so the file
    /// checked is the file read. The artefact is read into memory rather
    /// than mapped: a mapped file that another process truncates would
    /// crash us with SIGBUS.
    fn read_cached(&self, path: &Path) -> Cached {
        let Ok(mut file) = std::fs::File::open(path) else {
            return Cached::Missing;
        };
        let Ok(meta) = file.metadata() else {
            return Cached::Missing;
        };
        if !self.accept("file", path, &meta) {
            return Cached::Refused;
        }
        let mut bytes = Vec::new();
        match file.read_to_end(&mut bytes) {
            Ok(_) => Cached::Bytes(bytes),
            Err(_) => Cached::Missing,
        }
    }

    fn cache_key(&self, bytes: &[u8]) -> String {
        let mut h = std::hash::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let digest = Sha256::digest(bytes);
        format!("{}-{:016x}.cwasm", hex(&digest), h.finish())
    }

    /// Instantiate a compiled component in a fresh store with `limits`.
    pub fn instantiate(
        &self,
        label: &str,
        component: &Component,
        limits: Limits,
    ) -> Result<Plugin, PluginError> {
        let mut store = Store::new(
            &self.engine,
            StoreState {
                limits: StoreLimitsBuilder::new()
                    .memory_size(limits.memory_bytes)
                    .instances(4)
                    .build(),
                memory_refused: false,
            },
        );
        store.limiter(|s| s);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(limits.call_timeout));
        let instantiation_failed = |e: wasmtime::Error| PluginError::Invalid {
            plugin: label.into(),
            message: format!("instantiation failed: {e:#}"),
        };
        let contract = self.contract_of(label, component)?;
        let bindings = match contract {
            Contract::Current => Bindings::Current(
                bindings::DetectorPlugin::instantiate(&mut store, component, &self.linker)
                    .map_err(instantiation_failed)?,
            ),
            Contract::V0_4 => Bindings::V0_4(
                v0_4::bindings::DetectorPlugin::instantiate(&mut store, component, &self.linker)
                    .map_err(instantiation_failed)?,
            ),
            Contract::V0_3 => Bindings::V0_3(
                v0_3::bindings::DetectorPlugin::instantiate(&mut store, component, &self.linker)
                    .map_err(instantiation_failed)?,
            ),
            Contract::V0_2 => Bindings::V0_2(
                v0_2::bindings::DetectorPlugin::instantiate(&mut store, component, &self.linker)
                    .map_err(instantiation_failed)?,
            ),
            Contract::V0_1 => Bindings::V0_1(
                v0_1::bindings::DetectorPlugin::instantiate(&mut store, component, &self.linker)
                    .map_err(instantiation_failed)?,
            ),
        };
        let mut plugin = Plugin {
            store,
            bindings,
            limits,
            info: PluginInfo::default(),
        };
        let info = plugin.with_deadline("describe", |p| match &p.bindings {
            Bindings::Current(b) => b.ueba_detector0_5_0_detector().call_describe(&mut p.store),
            Bindings::V0_4(b) => b
                .ueba_detector_detector()
                .call_describe(&mut p.store)
                .map(v0_4::info),
            Bindings::V0_3(b) => b
                .ueba_detector_detector()
                .call_describe(&mut p.store)
                .map(v0_3::info),
            Bindings::V0_2(b) => b
                .ueba_detector_detector()
                .call_describe(&mut p.store)
                .map(v0_2::info),
            Bindings::V0_1(b) => b
                .ueba_detector_detector()
                .call_describe(&mut p.store)
                .map(v0_1::info),
        })?;
        // The version a plugin says it was built for must be one this host
        // supports and the one whose interface it exports: a mismatch means
        // a broken or mislabelled build, whose behaviour nobody vouches for.
        if !SUPPORTED_CONTRACTS.contains(&info.contract.as_str()) {
            return Err(PluginError::ContractMismatch {
                plugin: label.into(),
                found: crate::sandbox::gate::plugin_message(&info.contract),
                supported: supported_list(),
            });
        }
        if info.contract != contract.version() {
            return Err(PluginError::Invalid {
                plugin: label.into(),
                message: format!(
                    "describe says contract {}, but it exports the {} interface",
                    info.contract,
                    contract.export_name()
                ),
            });
        }
        // Everything `describe` says is hostile input: the gate refuses bad
        // names and keys and escapes the text before anyone prints it.
        plugin.info = crate::sandbox::gate::check_info(PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            contract: info.contract,
            config: info
                .config
                .into_iter()
                .map(|k| (k.name, k.default, k.description))
                .collect(),
        })
        .map_err(|e| PluginError::Invalid {
            plugin: label.into(),
            message: e.to_string(),
        })?;
        Ok(plugin)
    }
}

/// Lower-case hex of bytes, for cache keys and pinned hashes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a plugin file, as lower-case hex (the value to pin in config).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// What the cache holds for a component.
enum Cached {
    /// An artefact that passed [`check_private`].
    Bytes(Vec<u8>),
    /// Nothing readable: compile, and write the artefact.
    Missing,
    /// An artefact that failed [`check_private`]: compile, and leave it be.
    Refused,
}

/// Whether a cache directory or artefact is private to this user: owned by
/// the effective uid and writable by nobody else. Anyone who can write
/// there can plant native code that this process would run.
#[cfg(unix)]
fn check_private(
    what: &'static str,
    path: &Path,
    meta: &std::fs::Metadata,
) -> Result<(), CacheRefused> {
    use std::os::unix::fs::MetadataExt;
    private_to(
        what,
        path,
        meta.uid(),
        meta.mode(),
        rustix::process::geteuid().as_raw(),
    )
}

/// Non-Unix systems have no owner and mode bits to check.
#[cfg(not(unix))]
fn check_private(_: &'static str, _: &Path, _: &std::fs::Metadata) -> Result<(), CacheRefused> {
    Ok(())
}

/// [`check_private`] on an owner and mode, for `euid`.
#[cfg(any(unix, test))]
fn private_to(
    what: &'static str,
    path: &Path,
    owner: u32,
    mode: u32,
    euid: u32,
) -> Result<(), CacheRefused> {
    if owner != euid {
        return Err(CacheRefused::Owner {
            what,
            path: path.to_path_buf(),
            owner,
            euid,
        });
    }
    if mode & 0o022 != 0 {
        return Err(CacheRefused::Writable {
            what,
            path: path.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Write `bytes` to `path` atomically inside `dir`, creating `dir` (and any
/// missing parents) with mode 0700: cached code is executed, so nobody else
/// may write it. The file is created 0600 by `tempfile` and renamed into
/// place.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
