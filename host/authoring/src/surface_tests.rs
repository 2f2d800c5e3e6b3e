use super::*;

#[test]
fn reads_core_module_imports_and_exports() {
    let bytes = wat::parse_str(
        r#"(module
                 (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                 (func (export "observe")))"#,
    )
    .unwrap();
    let s = Surface::read(Path::new("m.wasm"), &bytes).unwrap();
    assert_eq!(s.kind, Kind::Module);
    assert_eq!(s.imports, ["wasi_snapshot_preview1::fd_write"]);
    assert_eq!(s.exports, ["observe"]);
    assert_eq!(s.wasi_import(), Some("wasi_snapshot_preview1::fd_write"));
    assert!(s.contracts().is_empty());
}

#[test]
fn reads_only_the_top_level_of_a_component() {
    let bytes = wat::parse_str(
        r#"(component
                 (core module $m (import "env" "inner" (func)) (func (export "f")))
                 (import "wasi:clocks/wall-clock@0.2.0" (instance))
                 (core module $n (func (export "f")))
                 (core instance $i (instantiate $n))
                 (func $f (canon lift (core func $i "f")))
                 (instance $api (export "describe" (func $f)))
                 (export "ueba:detector/detector@0.6.0" (instance $api)))"#,
    )
    .unwrap();
    let s = Surface::read(Path::new("c.wasm"), &bytes).unwrap();
    assert_eq!(s.kind, Kind::Component);
    assert_eq!(s.imports, ["wasi:clocks/wall-clock@0.2.0"]);
    assert_eq!(s.exports, ["ueba:detector/detector@0.6.0"]);
    assert_eq!(s.contracts(), ["0.6.0"]);
    assert!(!s.supported());
}

#[test]
fn text_is_not_wasm() {
    let err = Surface::read(Path::new("notes.txt"), b"hello").unwrap_err();
    assert_eq!(
        err.to_string(),
        "notes.txt: not a WebAssembly module or component"
    );
}
