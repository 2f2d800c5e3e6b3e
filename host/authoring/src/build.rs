//! `ueba plugin build`: cargo for the wasm target, the component wrapping,
//! and the checks that the result loads in this host.
//!
//! The steps are those the built-in detectors are built with
//! (`ueba-wasm-build`): make sure `wasm32-unknown-unknown` is installed
//! (adding it with rustup when missing), `cargo build --release --lib
//! --target wasm32-unknown-unknown`, then wit-component turns the core
//! module into a component. [`check`] then loads the component through the host's own
//! [`Runtime`], so a plugin that passes here loads in `ueba score`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::surface::{Kind, Surface};
use super::{AuthoringError, io};
use ueba_engine::sandbox::{Limits, PluginInfo, Runtime, sha256_hex};

pub use ueba_wasm_build::WASM_TARGET;

/// What cargo produced for a detector crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CargoOutput {
    /// The package name from the manifest.
    pub package: String,
    /// The core module cargo wrote.
    pub module: PathBuf,
    /// Where the component goes unless told otherwise:
    /// `<target dir>/plugin/<package>.wasm`, apart from cargo's own files so
    /// that `--plugins` pointed there sees only components.
    pub default_out: PathBuf,
}

/// The manifest for `path`: the file itself when it is a `Cargo.toml`,
/// else `path/Cargo.toml`.
pub fn manifest_for(path: &Path) -> PathBuf {
    if path.file_name().is_some_and(|n| n == "Cargo.toml") {
        path.to_path_buf()
    } else {
        path.join("Cargo.toml")
    }
}

/// Build the detector crate at `manifest` for the wasm target. Cargo's
/// progress and diagnostics go to this process's stderr.
pub fn cargo_build(manifest: &Path) -> Result<CargoOutput, AuthoringError> {
    // Absolute, because cargo runs in the crate's directory (so that its
    // rust-toolchain file and .cargo/config apply).
    let manifest = &manifest.canonicalize().map_err(io(manifest))?;
    let text = std::fs::read_to_string(manifest).map_err(io(manifest))?;
    let parsed: toml::Table = toml::from_str(&text).map_err(|e| AuthoringError::Tool {
        what: format!("reading {}", manifest.display()),
        message: e.to_string(),
    })?;
    let package = parsed
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| AuthoringError::Tool {
            what: format!("reading {}", manifest.display()),
            message: "no [package] name; point at a detector crate".into(),
        })?
        .to_string();
    let crate_dir = manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    ensure_wasm_target(crate_dir)?;
    let what = format!(
        "cargo build --release --lib --target {WASM_TARGET} for {}",
        manifest.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(crate_dir)
        .args(["build", "--release", "--lib", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--message-format", "json-render-diagnostics"])
        // The target is given explicitly; a default target from the
        // environment must not turn this into a native build.
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| AuthoringError::Tool {
            what: what.clone(),
            message: format!("could not run cargo: {e}"),
        })?;
    let mut module = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.map_err(io(manifest))?;
            if let Some(path) = wasm_artifact(&line, manifest) {
                module = Some(path);
            }
        }
    }
    let status = child.wait().map_err(|e| AuthoringError::Tool {
        what: what.clone(),
        message: e.to_string(),
    })?;
    if !status.success() {
        return Err(AuthoringError::Tool {
            what,
            message: format!("{status}; cargo's messages are above"),
        });
    }
    let module = module.ok_or_else(|| AuthoringError::NoArtifact {
        manifest: manifest.to_path_buf(),
    })?;
    // <target>/wasm32-unknown-unknown/release/<lib>.wasm
    let target_dir = module
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate_dir.join("target"));
    Ok(CargoOutput {
        default_out: target_dir.join("plugin").join(format!("{package}.wasm")),
        package,
        module,
    })
}

/// The `.wasm` file of a cdylib built from `manifest`, from one line of
/// cargo's JSON messages.
fn wasm_artifact(line: &str, manifest: &Path) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let from = Path::new(msg.get("manifest_path")?.as_str()?);
    let same = match (from.canonicalize(), manifest.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let cdylib = msg
        .get("target")?
        .get("kind")?
        .as_array()?
        .iter()
        .any(|k| k == "cdylib");
    if !same || !cdylib {
        return None;
    }
    msg.get("filenames")?
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

/// Make sure the wasm target's standard library is installed for the
/// toolchain `dir` builds with, adding it with rustup when it is missing.
pub fn ensure_wasm_target(dir: &Path) -> Result<(), AuthoringError> {
    let rustc = std::ffi::OsString::from("rustc");
    match ueba_wasm_build::ensure_target(dir, &rustc) {
        Ok(ueba_wasm_build::Target::Present) => Ok(()),
        Ok(ueba_wasm_build::Target::Added) => {
            tracing::info!("the {WASM_TARGET} target was missing and has been added with rustup");
            Ok(())
        }
        Err(ueba_wasm_build::WasmBuildError::MissingTarget) => Err(AuthoringError::WasmTarget),
        Err(e) => Err(AuthoringError::Tool {
            what: "rustc --print sysroot".into(),
            message: e.to_string(),
        }),
    }
}

/// Turn `bytes` into a detector component: a core module is wrapped with
/// wit-component (after refusing WASI imports, which no host link can
/// satisfy); a component is returned as it is. `path` names it in errors.
pub fn componentize(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, AuthoringError> {
    let surface = Surface::read(path, bytes)?;
    if surface.kind == Kind::Component {
        return Ok(bytes.to_vec());
    }
    if let Some(import) = surface.wasi_import() {
        return Err(AuthoringError::WasiImport {
            path: path.to_path_buf(),
            import: import.to_string(),
        });
    }
    ueba_wasm_build::encode(&path.display().to_string(), bytes).map_err(|e| match e {
        ueba_wasm_build::WasmBuildError::Encode { message, .. } => AuthoringError::Encode {
            path: path.to_path_buf(),
            message,
        },
        other => AuthoringError::Encode {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    })
}

/// A component that loads in this host, with what it says about itself.
#[derive(Clone, Debug)]
pub struct Checked {
    /// What `describe` returned.
    pub info: PluginInfo,
    /// Its imports (none, or it would not have loaded) and exports.
    pub surface: Surface,
    /// Size in bytes.
    pub size: usize,
    /// sha256 as lower-case hex: the value to pin under `[pins]`.
    pub sha256: String,
}

/// Load a component through `runtime` as `ueba score` would (refusing any
/// import, any contract version this host does not support, and a
/// `describe` that disagrees with the exported version), instantiate it
/// under the default sandbox limits and ask it to describe itself.
pub fn check(runtime: &Runtime, path: &Path, bytes: &[u8]) -> Result<Checked, AuthoringError> {
    let surface = Surface::read(path, bytes)?;
    let label = path.display().to_string();
    let component = runtime.compile(&label, bytes)?;
    let plugin = runtime.instantiate(&label, &component, Limits::default())?;
    Ok(Checked {
        info: plugin.info().clone(),
        surface,
        size: bytes.len(),
        sha256: sha256_hex(bytes),
    })
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
