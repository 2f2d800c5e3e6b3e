//! Building detectors as WebAssembly components, in one place for every
//! caller: the built-in detectors' build script (`ueba-builtins`), the test
//! fixtures' build script (`ueba-test-support`) and `ueba plugin build`.
//!
//! Three steps, each here once:
//! 1. [`ensure_target`]: the `wasm32-unknown-unknown` standard library is
//!    installed for the toolchain that will build, added with rustup when it
//!    is missing. (A `rust-toolchain.toml` that lists the target does not
//!    make rustup add it to a toolchain that is already installed, so this
//!    stays.)
//! 2. [`nested_build`]: a `cargo build --release --target wasm32-unknown-unknown`
//!    of a separate workspace, from a clean environment so that the outer
//!    build's flags and wrappers (coverage, clippy, sanitizers) do not reach
//!    the guest and the nested build reuses its own cache.
//! 3. [`encode`]: wit-component wraps the core module as a component; the
//!    detectors import nothing, so there is nothing to adapt.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The only target detectors are built for: no WASI, so nothing to import.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Why a detector could not be built as a component.
#[derive(Debug, thiserror::Error)]
pub enum WasmBuildError {
    /// A tool (rustc, rustup, cargo) could not be run.
    #[error("could not run {tool}: {source}")]
    Spawn {
        /// The command.
        tool: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The target is missing and rustup could not add it.
    #[error(
        "the detector plugins need the {WASM_TARGET} target and it could not be added automatically; run `rustup target add {WASM_TARGET}` and build again"
    )]
    MissingTarget,
    /// The nested cargo build failed; its messages went to stderr.
    #[error(
        "building the detectors in {dir} failed ({status}); run `cargo build --release --target {WASM_TARGET}` there to see why"
    )]
    Cargo {
        /// The workspace that was built.
        dir: PathBuf,
        /// cargo's exit status.
        status: std::process::ExitStatus,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// wit-component refused the core module.
    #[error("wrapping {what} as a component: {message}")]
    Encode {
        /// The module, for the message.
        what: String,
        /// wit-component's explanation.
        message: String,
    },
}

/// What [`ensure_target`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// It was already installed.
    Present,
    /// It was missing and rustup added it.
    Added,
}

/// Make sure the wasm target's standard library is installed for the
/// toolchain that builds in `dir` (whose `rust-toolchain.toml` applies),
/// adding it with rustup when it is missing. `rustc` names the compiler
/// (a build script passes `$RUSTC`).
pub fn ensure_target(dir: &Path, rustc: &OsString) -> Result<Target, WasmBuildError> {
    let libdir = || -> Result<PathBuf, WasmBuildError> {
        let out = Command::new(rustc)
            .current_dir(dir)
            .args(["--print", "sysroot"])
            .output()
            .map_err(|source| WasmBuildError::Spawn {
                tool: format!("{} --print sysroot", rustc.to_string_lossy()),
                source,
            })?;
        let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(sysroot.join("lib/rustlib").join(WASM_TARGET).join("lib"))
    };
    if libdir()?.is_dir() {
        return Ok(Target::Present);
    }
    let added = Command::new("rustup")
        .current_dir(dir)
        .args(["target", "add", WASM_TARGET])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if added && libdir()?.is_dir() {
        Ok(Target::Added)
    } else {
        Err(WasmBuildError::MissingTarget)
    }
}

/// Environment variables of an outer cargo build that must not reach a
/// nested one: they are for the host, not for the guest.
const OUTER_BUILD_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// Build `packages` of the cargo workspace in `workspace` for the wasm
/// target in release mode, into `target_dir` (its own: a nested cargo that
/// shared the outer build's target dir would deadlock on its lock). Returns
/// the directory holding the core modules (`<stem>.wasm`) and their
/// dep-info files (`<stem>.d`).
pub fn nested_build(
    cargo: &OsString,
    workspace: &Path,
    target_dir: &Path,
    packages: &[&str],
) -> Result<PathBuf, WasmBuildError> {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    for var in OUTER_BUILD_VARS {
        cmd.env_remove(var);
    }
    let status = cmd.status().map_err(|source| WasmBuildError::Spawn {
        tool: cargo.to_string_lossy().into_owned(),
        source,
    })?;
    if !status.success() {
        return Err(WasmBuildError::Cargo {
            dir: workspace.to_path_buf(),
            status,
        });
    }
    Ok(target_dir.join(WASM_TARGET).join("release"))
}

/// Wrap a core module as a component. `what` names it in errors.
pub fn encode(what: &str, core: &[u8]) -> Result<Vec<u8>, WasmBuildError> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| WasmBuildError::Encode {
            what: what.to_string(),
            message: format!("{e:#}"),
        })
}

/// Wrap the core module `<stem>.wasm` in `release` (from [`nested_build`])
/// as a component written to `out`. Returns the source files the module was
/// built from, read from its dep-info file, for a build script's
/// `rerun-if-changed` lines (registry sources, which never change, are
/// left out).
pub fn componentize_file(
    release: &Path,
    stem: &str,
    out: &Path,
) -> Result<Vec<String>, WasmBuildError> {
    let core_path = release.join(format!("{stem}.wasm"));
    let core = std::fs::read(&core_path).map_err(|source| WasmBuildError::Io {
        path: core_path.clone(),
        source,
    })?;
    let component = encode(&core_path.display().to_string(), &core)?;
    std::fs::write(out, component).map_err(|source| WasmBuildError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(dep_info_sources(&release.join(format!("{stem}.d"))))
}

/// The project's target dir from a build script's `OUT_DIR`: the ancestor
/// cargo tagged with `CACHEDIR.TAG`, so nested builds share one target dir
/// whatever the profile.
pub fn project_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.to_path_buf())
}

/// Every non-registry source file a dep-info file lists.
fn dep_info_sources(dep_file: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dep_file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| line.split_once(": ").map(|(_, deps)| deps))
        .flat_map(str::split_whitespace)
        .filter(|dep| !dep.contains("/.cargo/registry/"))
        .map(str::to_string)
        .collect()
}

/// What a build script that embeds components needs: build `packages` of
/// the workspace at `workspace` (after making sure the target exists),
/// wrap each as `<out_dir>/<name>.wasm`, and print the `cargo:` lines that
/// rebuild them when their sources change. `components` is (name, package,
/// library stem). Returns each component's path.
pub fn build_script(
    workspace: &Path,
    components: &[(&str, &str, &str)],
    out_dir: &Path,
) -> Result<Vec<PathBuf>, WasmBuildError> {
    let root = workspace.parent().unwrap_or(workspace);
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for file in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if ensure_target(workspace, &rustc)? == Target::Added {
        println!(
            "cargo:warning=the {WASM_TARGET} target was missing and has been added with rustup"
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = project_target_dir(out_dir).join("plugins");
    let packages: Vec<&str> = components.iter().map(|(_, package, _)| *package).collect();
    let release = nested_build(&cargo, workspace, &target_dir, &packages)?;
    let mut paths = Vec::with_capacity(components.len());
    for (name, _, stem) in components {
        let out = out_dir.join(format!("{name}.wasm"));
        for source in componentize_file(&release, stem, &out)? {
            println!("cargo:rerun-if-changed={source}");
        }
        paths.push(out);
    }
    Ok(paths)
}
