//! Which detectors run: the built-ins, then `--plugins DIR`, each
//! configured from `[detectors.NAME]`, checked against `[pins]`, and started
//! under supervision.

use std::path::{Path, PathBuf};

use wasmtime::component::Component;

use crate::config::Config;
use crate::sandbox::{Limits, Plugin, PluginError, Runtime, sha256_hex};

use super::BUILTIN_PLUGINS;
use super::health::{HealthEvent, HealthKind, HealthSink, StderrHealth};
use super::plugins::{LoadedPlugin, Origin, supervise};

/// Why the set of detectors could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A plugin failed to compile, instantiate or configure.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The plugins directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Two files in the directory are the same detector.
    #[error("{first} and {second} are both detector `{name}`; keep one")]
    Duplicate {
        /// Detector name.
        name: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// The config names a detector that is not loaded.
    #[error("config has [detectors.{name}], but no detector `{name}` is loaded (loaded: {loaded})")]
    UnknownDetector {
        /// The name in the config.
        name: String,
        /// What is loaded.
        loaded: String,
    },
    /// A plugin file's sha256 is not the pinned one.
    #[error("{path}: sha256 is {actual}, but [pins] requires {pinned}; refusing to load it")]
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// Its hash.
        actual: String,
        /// The pinned hash.
        pinned: String,
    },
    /// A pinned file is not in the plugins directory.
    #[error("[pins] names `{file}`, but it is not in the plugins directory{}", dir.as_ref().map(|d| format!(" {}", d.display())).unwrap_or_else(|| " (no --plugins given)".into()))]
    PinnedMissing {
        /// The pinned file name.
        file: String,
        /// The directory searched.
        dir: Option<PathBuf>,
    },
    /// Nothing is left to score with.
    #[error("no detectors are enabled")]
    NoDetectors,
    /// A plugin's name reads like a built-in's without being it.
    #[error(
        "{path}: detector name `{name}` looks like the built-in `{builtin}`; \
         name it `{builtin}` to replace the built-in, or choose a distinct name"
    )]
    Confusable {
        /// The file.
        path: String,
        /// The name it gave.
        name: String,
        /// The built-in it could be mistaken for.
        builtin: &'static str,
    },
}

/// Refuse a plugin file whose name could be mistaken for a built-in's, and
/// say so on stderr (as a `replaced_builtin` health event) when it replaces
/// one: an operator must never be unaware which code runs under a
/// built-in's name.
fn check_file_name(label: &str, name: &str) -> Result<(), LoadError> {
    let builtins: Vec<&'static str> = BUILTIN_PLUGINS.iter().map(|(n, _)| *n).collect();
    if let Some(builtin) = crate::sandbox::gate::confusable_with(name, &builtins) {
        return Err(LoadError::Confusable {
            path: label.to_string(),
            name: name.to_string(),
            builtin,
        });
    }
    if builtins.contains(&name) {
        StderrHealth.report(&HealthEvent::new(
            name,
            HealthKind::ReplacedBuiltin,
            None,
            format!("{label} replaces the built-in detector `{name}`"),
        ));
    }
    Ok(())
}

pub(crate) struct Candidate {
    pub(crate) plugin: Plugin,
    pub(crate) component: Component,
    pub(crate) label: String,
    pub(crate) origin: Origin,
}

/// Compile, instantiate and configure the detectors for a run: built-ins
/// first, then `dir`'s `.wasm` files in name order, a file replacing a
/// built-in of the same name. Disabled detectors are dropped.
pub fn load(
    runtime: &Runtime,
    config: &Config,
    dir: Option<&Path>,
) -> Result<Vec<LoadedPlugin>, LoadError> {
    let defaults = Limits::for_detector(&config.sandbox, None);
    let mut loaded: Vec<Candidate> = Vec::new();
    for (name, bytes) in BUILTIN_PLUGINS {
        let label = format!("builtin:{name}");
        let component = runtime.compile(&label, bytes)?;
        loaded.push(Candidate {
            plugin: runtime.instantiate(&label, &component, defaults)?,
            component,
            label,
            origin: Origin::Builtin,
        });
    }
    let mut pins_seen: Vec<&str> = Vec::new();
    if let Some(dir) = dir {
        let io = |source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_plugin_file(p) && p.is_file())
            .collect();
        files.sort();
        let mut from_dir: Vec<String> = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            if let Some(pinned_name) = check_pin(config, &path, &bytes)? {
                pins_seen.push(pinned_name);
            }
            let label = path.display().to_string();
            let component = runtime.compile(&label, &bytes)?;
            let plugin = runtime.instantiate(&label, &component, defaults)?;
            let name = plugin.info().name.clone();
            check_file_name(&label, &name)?;
            if let Some(first) = loaded
                .iter()
                .find(|l| l.plugin.info().name == name && from_dir.contains(&name))
            {
                return Err(LoadError::Duplicate {
                    name,
                    first: first.origin.to_string(),
                    second: label,
                });
            }
            loaded.retain(|l| l.plugin.info().name != name);
            from_dir.push(name);
            loaded.push(Candidate {
                plugin,
                component,
                label,
                origin: Origin::File(path),
            });
        }
    }
    if let Some(missing) = config
        .pins
        .keys()
        .find(|k| !pins_seen.contains(&k.as_str()))
    {
        return Err(LoadError::PinnedMissing {
            file: missing.clone(),
            dir: dir.map(Path::to_path_buf),
        });
    }
    for name in config.detectors.keys() {
        if !loaded.iter().any(|l| &l.plugin.info().name == name) {
            return Err(LoadError::UnknownDetector {
                name: name.clone(),
                loaded: loaded
                    .iter()
                    .map(|l| l.plugin.info().name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut enabled = Vec::with_capacity(loaded.len());
    for c in loaded {
        enabled.extend(configured(runtime, config, c)?);
    }
    if enabled.is_empty() {
        return Err(LoadError::NoDetectors);
    }
    Ok(enabled)
}

/// Whether `path` names a plugin in `--plugins DIR`: a `.wasm` file whose
/// name does not start with a dot. Hidden files are what copying and
/// deployment tools write while a file is on its way (a temporary
/// `.volume.wasm` renamed into place once complete), so they are skipped
/// both at start and by `ueba serve` watching the directory, which
/// therefore always agree on which plugins a directory holds.
pub fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "wasm")
        && path
            .file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}

/// Refuse `bytes` read from `path` if `[pins]` pins the file to another
/// sha256; the pin's key when the file is pinned and matches.
fn check_pin<'c>(
    config: &'c Config,
    path: &Path,
    bytes: &[u8],
) -> Result<Option<&'c str>, LoadError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some((pinned_name, pinned)) = config.pins.get_key_value(&file_name) else {
        return Ok(None);
    };
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(pinned) {
        return Err(LoadError::PinMismatch {
            path: path.to_path_buf(),
            actual,
            pinned: pinned.clone(),
        });
    }
    Ok(Some(pinned_name))
}

/// Load the plugin file at `path` (bytes `bytes`, read by the caller so
/// that it knows exactly which content it loaded) as [`load`] would: the
/// pin checked, compiled, instantiated and configured from
/// `[detectors.NAME]`. This is how `ueba serve` prepares a new or changed
/// plugin off the scoring thread. `Ok(None)` when the config disables the
/// detector.
pub fn load_file(
    runtime: &Runtime,
    config: &Config,
    path: &Path,
    bytes: &[u8],
) -> Result<Option<LoadedPlugin>, LoadError> {
    check_pin(config, path, bytes)?;
    let label = path.display().to_string();
    start(
        runtime,
        config,
        label,
        bytes,
        Origin::File(path.to_path_buf()),
    )
}

/// Compile, instantiate and configure one plugin as [`load`] would.
fn start(
    runtime: &Runtime,
    config: &Config,
    label: String,
    bytes: &[u8],
    origin: Origin,
) -> Result<Option<LoadedPlugin>, LoadError> {
    let component = runtime.compile(&label, bytes)?;
    let plugin = runtime.instantiate(
        &label,
        &component,
        Limits::for_detector(&config.sandbox, None),
    )?;
    if matches!(origin, Origin::File(_)) {
        check_file_name(&label, &plugin.info().name)?;
    }
    let candidate = Candidate {
        plugin,
        component,
        label,
        origin,
    };
    configured(runtime, config, candidate)
}

/// The built-in detector `name`, started and configured as [`load`] would;
/// `Ok(None)` when there is no such built-in or the config disables it.
/// `ueba serve` falls back to it when the file that replaced it is removed.
pub fn load_builtin(
    runtime: &Runtime,
    config: &Config,
    name: &str,
) -> Result<Option<LoadedPlugin>, LoadError> {
    let Some((_, bytes)) = BUILTIN_PLUGINS.iter().find(|(n, _)| *n == name) else {
        return Ok(None);
    };
    start(
        runtime,
        config,
        format!("builtin:{name}"),
        bytes,
        Origin::Builtin,
    )
}

/// A candidate supervised under its `[detectors.NAME]` section, or `None`
/// when that section disables it.
fn configured(
    runtime: &Runtime,
    config: &Config,
    c: Candidate,
) -> Result<Option<LoadedPlugin>, LoadError> {
    let info = c.plugin.info();
    let dc = config.detector(&info.name, &info.config);
    if dc.as_ref().is_some_and(|d| !d.enabled) {
        return Ok(None);
    }
    supervise(
        runtime,
        &config.sandbox,
        config.input.batch_size,
        c,
        dc.as_ref(),
    )
    .map(Some)
}
