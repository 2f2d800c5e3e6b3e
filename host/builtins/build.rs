//! Builds the built-in detector plugins from `plugins/` as WebAssembly
//! components and writes `builtin_plugins.rs` listing them for
//! `include_bytes!`.
//!
//! The plugins live in their own cargo workspace so that they are never
//! compiled natively with the host's features; `ueba-wasm-build` runs the
//! nested build, adds the wasm target with rustup when it is missing, and
//! stops saying exactly what to run when that is impossible.

use std::fmt::Write as _;
use std::path::PathBuf;

/// (detector name, cargo package, library file stem) of each built-in
/// detector: the one list to extend when adding one.
const PLUGINS: &[(&str, &str, &str)] = &[
    ("volume", "ueba-volume", "ueba_volume"),
    ("off-hours", "ueba-off-hours", "ueba_off_hours"),
    ("novel-table", "ueba-novel-table", "ueba_novel_table"),
    ("new-source", "ueba-new-source", "ueba_new_source"),
];

fn main() {
    if let Err(msg) = run() {
        // A build script reports failure by exiting non-zero; cargo shows stderr.
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let plugins = manifest_dir.join("../../plugins");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let paths =
        ueba_wasm_build::build_script(&plugins, PLUGINS, &out_dir).map_err(|e| e.to_string())?;
    let mut listing = String::from(
        "/// The built-in detectors as (name, component bytes), embedded at build time.\n\
         pub const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n",
    );
    for ((name, _, _), path) in PLUGINS.iter().zip(paths) {
        writeln!(
            listing,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .map_err(|e| e.to_string())?;
    }
    listing.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), listing)
        .map_err(|e| format!("writing builtin_plugins.rs: {e}"))
}
