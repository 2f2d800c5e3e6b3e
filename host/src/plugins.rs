//! Which detectors run: the built-in ones embedded in the binary, plus or
//! instead of `.wasm` files from `--plugins DIR`, each configured from
//! `[detectors.NAME]`.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::runtime::{Limits, Plugin, PluginError, Runtime};

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Where a loaded plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the binary.
    Builtin,
    /// Loaded from this file.
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => write!(f, "built-in"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A configured, ready-to-score detector.
pub struct LoadedPlugin {
    /// The instance.
    pub plugin: Plugin,
    /// Where it came from.
    pub origin: Origin,
    /// Its weight in the aggregate.
    pub weight: f64,
}

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
    /// Nothing is left to score with.
    #[error("no detectors are enabled")]
    NoDetectors,
}

/// Compile, instantiate and configure the detectors for a run: built-ins
/// first, then `dir`'s `.wasm` files in name order, a file replacing a
/// built-in of the same name. Disabled detectors are dropped.
pub fn load(
    runtime: &Runtime,
    config: &Config,
    dir: Option<&Path>,
) -> Result<Vec<LoadedPlugin>, LoadError> {
    let limits = Limits {
        memory_bytes: config.sandbox.memory_mib << 20,
        call_timeout: std::time::Duration::from_millis(config.sandbox.batch_timeout_ms),
    };
    let mut loaded: Vec<LoadedPlugin> = Vec::new();
    for (name, bytes) in BUILTIN_PLUGINS {
        let label = format!("builtin:{name}");
        let component = runtime.compile(&label, bytes)?;
        loaded.push(LoadedPlugin {
            plugin: runtime.instantiate(&label, &component, limits)?,
            origin: Origin::Builtin,
            weight: 1.0,
        });
    }
    if let Some(dir) = dir {
        let io = |source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();
        let mut from_dir: Vec<String> = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            let label = path.display().to_string();
            let component = runtime.compile(&label, &bytes)?;
            let plugin = runtime.instantiate(&label, &component, limits)?;
            let name = plugin.info().name.clone();
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
            loaded.push(LoadedPlugin {
                plugin,
                origin: Origin::File(path),
                weight: 1.0,
            });
        }
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
    for mut l in loaded {
        if let Some(dc) = config.detectors.get(&l.plugin.info().name) {
            if !dc.enabled {
                continue;
            }
            l.weight = dc.weight;
            l.plugin.configure(&dc.plugin_pairs())?;
        }
        enabled.push(l);
    }
    if enabled.is_empty() {
        return Err(LoadError::NoDetectors);
    }
    Ok(enabled)
}
