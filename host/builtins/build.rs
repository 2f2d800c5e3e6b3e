//! Builds the built-in detector plugins and embeds them in the `ueba` binary.
//!
//! The plugins live in their own cargo workspace (`plugins/`) so that they are
//! never compiled natively with the host's features. This script runs a nested
//! `cargo build --release --target wasm32-unknown-unknown` for them, in their
//! own directory under the project's one target dir (a nested cargo sharing
//! the outer target dir would deadlock on its lock), wraps each core module as
//! a component with `wit-component`, and writes `builtin_plugins.rs` listing
//! them for `include_bytes!`. If the wasm target is missing it is added with
//! rustup; if that is impossible the build stops saying exactly what to run.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (detector name, cargo package, library file stem) of each built-in plugin.
const PLUGINS: &[(&str, &str, &str)] = &[
    ("volume", "ueba-volume", "ueba_volume"),
    ("off-hours", "ueba-off-hours", "ueba_off_hours"),
    ("novel-table", "ueba-novel-table", "ueba_novel_table"),
    ("new-source", "ueba-new-source", "ueba_new_source"),
];

/// Test fixtures built the same way but never embedded: written to
/// `$OUT_DIR/fixtures/` and found by tests through `UEBA_FIXTURE_DIR`.
const FIXTURES: &[(&str, &str, &str)] = &[
    ("hostile", "ueba-fixture-hostile", "ueba_fixture_hostile"),
    (
        "contract-liar",
        "ueba-fixture-contract-liar",
        "ueba_fixture_contract_liar",
    ),
];

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    if let Err(msg) = run() {
        // A build script reports failure by exiting non-zero; cargo shows stderr.
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let root = manifest_dir
        .parent()
        .ok_or("host/ has no parent directory")?
        .to_path_buf();
    let plugins_dir = root.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let target_dir = project_target_dir(&out_dir).join("plugins");

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        plugins_dir.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        plugins_dir.join("Cargo.lock").display()
    );
    // The plugins' target features and target dir are set there.
    println!(
        "cargo:rerun-if-changed={}",
        plugins_dir.join(".cargo").join("config.toml").display()
    );

    ensure_wasm_target()?;

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins_dir)
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for (_, package, _) in PLUGINS.iter().chain(FIXTURES) {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (coverage, clippy, sanitizers) are
    // for the host, not for the guest; a clean environment keeps the nested
    // build reproducible and lets it reuse its own cache.
    for var in [
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
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("could not run cargo for the plugins: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the detector plugins failed ({status}); run `cargo build --release --target {WASM_TARGET}` in {} to see why",
            plugins_dir.display()
        ));
    }

    let release = target_dir.join(WASM_TARGET).join("release");
    let mut listing = String::from(
        "/// Built-in detector plugins as (name, component bytes), embedded at build time.\n\
         pub const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n",
    );
    let fixture_dir = out_dir.join("fixtures");
    std::fs::create_dir_all(&fixture_dir)
        .map_err(|e| format!("creating {}: {e}", fixture_dir.display()))?;
    for (name, _, stem) in FIXTURES {
        componentize(&release, stem, &fixture_dir.join(format!("{name}.wasm")))?;
    }
    println!("cargo:rustc-env=UEBA_FIXTURE_DIR={}", fixture_dir.display());
    for (name, _, stem) in PLUGINS {
        let out = out_dir.join(format!("{name}.wasm"));
        componentize(&release, stem, &out)?;
        writeln!(
            listing,
            "    ({name:?}, include_bytes!({:?})),",
            out.display().to_string()
        )
        .map_err(|e| e.to_string())?;
    }
    listing.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), listing)
        .map_err(|e| format!("writing builtin_plugins.rs: {e}"))?;
    Ok(())
}

/// Wrap the core module `<stem>.wasm` from the nested build as a component
/// at `out`, and ask cargo to rerun when its sources change.
fn componentize(release: &Path, stem: &str, out: &Path) -> Result<(), String> {
    let core_path = release.join(format!("{stem}.wasm"));
    let core =
        std::fs::read(&core_path).map_err(|e| format!("reading {}: {e}", core_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&core)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| format!("wrapping {} as a component: {e:#}", core_path.display()))?;
    std::fs::write(out, component).map_err(|e| format!("writing {}: {e}", out.display()))?;
    rerun_from_dep_info(&release.join(format!("{stem}.d")));
    Ok(())
}

/// The project's target dir: the ancestor of OUT_DIR that cargo tagged with
/// CACHEDIR.TAG, so plugins share the one target dir whatever the profile.
fn project_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.to_path_buf())
}

/// Make sure the standard library for the wasm target is installed.
fn ensure_wasm_target() -> Result<(), String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("could not run {rustc}: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let libdir = sysroot.join("lib/rustlib").join(WASM_TARGET).join("lib");
    if libdir.is_dir() {
        return Ok(());
    }
    println!(
        "cargo:warning=the {WASM_TARGET} target is missing; running `rustup target add {WASM_TARGET}`"
    );
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if added && libdir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "the detector plugins need the {WASM_TARGET} target and it could not be added automatically; run `rustup target add {WASM_TARGET}` and build again"
        ))
    }
}

/// Emit rerun-if-changed for every source file the nested build read, so the
/// plugins are rebuilt exactly when their sources change.
fn rerun_from_dep_info(dep_file: &Path) {
    let Ok(text) = std::fs::read_to_string(dep_file) else {
        return;
    };
    for line in text.lines() {
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        for dep in deps.split_whitespace() {
            if !dep.contains("/.cargo/registry/") {
                println!("cargo:rerun-if-changed={dep}");
            }
        }
    }
}
