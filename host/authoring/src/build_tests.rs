use super::*;

#[test]
fn a_core_module_importing_wasi_is_refused_before_encoding() {
    let bytes = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32))))"#,
    )
    .unwrap();
    let err = componentize(Path::new("det.wasm"), &bytes).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("det.wasm imports `wasi_snapshot_preview1::random_get`"),
        "{msg}"
    );
    assert!(msg.contains("wasm32-unknown-unknown"), "{msg}");
}

#[test]
fn a_module_without_the_contract_is_refused_by_the_host() {
    let bytes = wat::parse_str("(module (func (export \"hello\")))").unwrap();
    // wit-component wraps a bare module as a component exporting
    // nothing, which the host then refuses for exporting no detector.
    let component = componentize(Path::new("bare.wasm"), &bytes).unwrap();
    let rt = Runtime::new(None).unwrap();
    let err = check(&rt, Path::new("bare.wasm"), &component).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bare.wasm"), "{msg}");
    assert!(
        msg.contains("this host supports 0.5.0, 0.4.0, 0.3.0, 0.2.0, 0.1.0"),
        "{msg}"
    );
}

#[test]
fn cargo_artifact_lines_are_matched_to_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("Cargo.toml");
    std::fs::write(&manifest, "").unwrap();
    let line = serde_json::json!({
        "reason": "compiler-artifact",
        "manifest_path": manifest,
        "target": {"kind": ["cdylib", "rlib"]},
        "filenames": ["/t/wasm32-unknown-unknown/release/x.wasm", "/t/x.rlib"],
    })
    .to_string();
    assert_eq!(
        wasm_artifact(&line, &manifest),
        Some(PathBuf::from("/t/wasm32-unknown-unknown/release/x.wasm"))
    );
    let other = line.replace("Cargo.toml", "Other.toml");
    assert_eq!(wasm_artifact(&other, &manifest), None);
    assert_eq!(wasm_artifact("Compiling x", &manifest), None);
}
