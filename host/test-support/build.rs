//! Builds the test fixture detectors (`plugins/fixtures/`) as components
//! into `$OUT_DIR`, for tests only: release builds of `ueba` never build
//! them. Tests find them through `UEBA_FIXTURE_DIR`.

use std::path::PathBuf;

/// (fixture name, cargo package, library file stem).
const FIXTURES: &[(&str, &str, &str)] = &[
    ("hostile", "ueba-fixture-hostile", "ueba_fixture_hostile"),
    (
        "contract-liar",
        "ueba-fixture-contract-liar",
        "ueba_fixture_contract_liar",
    ),
    (
        "contract-0-2",
        "ueba-fixture-contract-0-2",
        "ueba_fixture_contract_0_2",
    ),
    (
        "contract-0-3",
        "ueba-fixture-contract-0-3",
        "ueba_fixture_contract_0_3",
    ),
    (
        "contract-0-4",
        "ueba-fixture-contract-0-4",
        "ueba_fixture_contract_0_4",
    ),
];

fn main() {
    let run = || -> Result<(), String> {
        let manifest_dir =
            PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
        let plugins = manifest_dir.join("../../plugins");
        let out_dir =
            PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?).join("fixtures");
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
        ueba_wasm_build::build_script(&plugins, FIXTURES, &out_dir).map_err(|e| e.to_string())?;
        println!("cargo:rustc-env=UEBA_FIXTURE_DIR={}", out_dir.display());
        Ok(())
    };
    if let Err(msg) = run() {
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
