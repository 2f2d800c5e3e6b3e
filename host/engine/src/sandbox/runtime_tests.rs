use super::*;
use crate::sandbox::instance::{classify, ticks};

/// A component whose exports return data from its memory as the canonical
/// ABI lays it out: `bytes` eight good bytes, `out-of-bounds` a list whose
/// pointer is past the end of memory, `bad-utf8` a string that is not
/// UTF-8, and `trap` traps.
const COPIES: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (data (i32.const 16) "\20\00\00\00\08\00\00\00")
    (data (i32.const 32) "abcdefgh")
    (data (i32.const 48) "\00\00\ff\ff\08\00\00\00")
    (data (i32.const 64) "\50\00\00\00\02\00\00\00")
    (data (i32.const 80) "\ff\fe")
    (func (export "bytes") (result i32) i32.const 16)
    (func (export "out-of-bounds") (result i32) i32.const 48)
    (func (export "bad-utf8") (result i32) i32.const 64)
    (func (export "trap") (result i32) unreachable))
  (core instance $i (instantiate $m))
  (func (export "bytes") (result (list u8))
    (canon lift (core func $i "bytes") (memory (core memory $i "memory"))))
  (func (export "out-of-bounds") (result (list u8))
    (canon lift (core func $i "out-of-bounds") (memory (core memory $i "memory"))))
  (func (export "bad-utf8") (result string)
    (canon lift (core func $i "bad-utf8") (memory (core memory $i "memory"))))
  (func (export "trap") (result (list u8))
    (canon lift (core func $i "trap") (memory (core memory $i "memory")))))
"#;

fn copies() -> Vec<u8> {
    wat::parse_str(COPIES).unwrap()
}

/// Call `export` of [`COPIES`] with `fuel` bytes of hostcall fuel, as `R`.
fn call<R>(rt: &Runtime, export: &str, fuel: usize) -> wasmtime::Result<R>
where
    (R,): wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
{
    let component = rt.compile_cached("copies", &copies()).unwrap();
    let mut store = Store::new(&rt.engine, ());
    store.set_epoch_deadline(ticks(Duration::from_secs(60)));
    store.set_hostcall_fuel(fuel);
    let instance = Linker::<()>::new(&rt.engine)
        .instantiate(&mut store, &component)
        .unwrap();
    let f = instance
        .get_typed_func::<(), (R,)>(&mut store, export)
        .unwrap();
    f.call(&mut store, ()).map(|(r,)| r)
}

#[test]
fn a_result_over_the_hostcall_fuel_is_the_findings_or_snapshot_limit() {
    let rt = Runtime::new(None).unwrap();
    assert_eq!(call::<Vec<u8>>(&rt, "bytes", 8).unwrap(), b"abcdefgh");
    let e = call::<Vec<u8>>(&rt, "bytes", 4).unwrap_err();
    assert_eq!(classify(&e, false, "observe"), Failure::Findings, "{e:#}");
    assert_eq!(classify(&e, false, "snapshot"), Failure::Snapshot, "{e:#}");
    // The memory limiter's refusal comes first, as for any failure.
    assert_eq!(classify(&e, true, "observe"), Failure::Memory);
}

#[test]
fn a_malformed_result_or_a_trap_is_a_trap_not_a_size_limit() {
    let rt = Runtime::new(None).unwrap();
    let fuel = 1 << 20;
    let out_of_bounds = call::<Vec<u8>>(&rt, "out-of-bounds", fuel).unwrap_err();
    let bad_utf8 = call::<String>(&rt, "bad-utf8", fuel).unwrap_err();
    let trap = call::<Vec<u8>>(&rt, "trap", fuel).unwrap_err();
    // How wasmtime reports each, which `result_too_large` relies on.
    assert!(out_of_bounds.is::<&'static str>(), "{out_of_bounds:#}");
    assert!(bad_utf8.is::<std::str::Utf8Error>(), "{bad_utf8:#}");
    assert!(trap.is::<wasmtime::Trap>(), "{trap:#}");
    for e in [out_of_bounds, bad_utf8, trap] {
        assert_eq!(classify(&e, false, "observe"), Failure::Trap, "{e:#}");
        assert_eq!(classify(&e, false, "snapshot"), Failure::Trap, "{e:#}");
    }
}

#[test]
fn deadline_and_stack_traps_are_their_limits() {
    let interrupt = wasmtime::Error::new(wasmtime::Trap::Interrupt);
    let stack = wasmtime::Error::new(wasmtime::Trap::StackOverflow);
    assert_eq!(classify(&interrupt, true, "observe"), Failure::Time);
    assert_eq!(classify(&stack, false, "snapshot"), Failure::Stack);
}

#[test]
fn a_cache_path_must_be_owned_by_this_user_and_writable_by_nobody_else() {
    let p = Path::new("/cache");
    assert_eq!(private_to("directory", p, 1000, 0o40700, 1000), Ok(()));
    assert_eq!(private_to("directory", p, 1000, 0o40755, 1000), Ok(()));
    assert_eq!(private_to("file", p, 1000, 0o100600, 1000), Ok(()));
    assert_eq!(
        private_to("directory", p, 0, 0o40700, 1000),
        Err(CacheRefused::Owner {
            what: "directory",
            path: p.into(),
            owner: 0,
            euid: 1000
        })
    );
    for mode in [0o40777, 0o40775, 0o40702, 0o41777] {
        assert_eq!(
            private_to("directory", p, 1000, mode, 1000),
            Err(CacheRefused::Writable {
                what: "directory",
                path: p.into(),
                mode: mode & 0o7777
            }),
            "{mode:o}"
        );
    }
    let refused = private_to("file", Path::new("/c/x.cwasm"), 1000, 0o100666, 1000);
    assert_eq!(
        refused.unwrap_err().to_string(),
        "compile cache file `/c/x.cwasm` can be written by other users (mode 0666); plugins are compiled afresh and the cache is left alone (`chmod go-w` it, or choose another cache_dir)"
    );
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    fn cached_files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }

    #[test]
    fn the_cache_is_created_private_and_a_cached_artefact_is_loaded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("xdg/ueba");
        let rt = Runtime::new(Some(dir.clone())).unwrap();
        rt.compile_cached("copies", &copies()).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("xdg")), 0o700);
        let files = cached_files(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(mode(&files[0]), 0o600);
        let ino = std::fs::metadata(&files[0]).unwrap().ino();
        // A second runtime loads the artefact (it is not rewritten) and it works.
        let rt2 = Runtime::new(Some(dir.clone())).unwrap();
        assert_eq!(call::<Vec<u8>>(&rt2, "bytes", 8).unwrap(), b"abcdefgh");
        assert_eq!(std::fs::metadata(&files[0]).unwrap().ino(), ino);
        assert_eq!(rt2.cache_refused(), None);
    }

    #[test]
    fn a_cache_directory_others_can_write_is_refused_and_plugins_still_compile() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let rt = Runtime::new(Some(dir.clone())).unwrap();
        // Known as soon as the runtime exists, before any compile.
        assert_eq!(
            rt.cache_refused(),
            Some(&CacheRefused::Writable {
                what: "directory",
                path: dir.clone(),
                mode: 0o777
            })
        );
        assert_eq!(call::<Vec<u8>>(&rt, "bytes", 8).unwrap(), b"abcdefgh");
        assert!(cached_files(&dir).is_empty(), "nothing written");
        // Clones share the one report.
        assert!(rt.clone().cache_refused().is_some());
    }

    #[test]
    fn a_cached_artefact_others_can_write_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        Runtime::new(Some(dir.clone()))
            .unwrap()
            .compile_cached("copies", &copies())
            .unwrap();
        let file = cached_files(&dir).remove(0);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let ino = std::fs::metadata(&file).unwrap().ino();
        let rt = Runtime::new(Some(dir.clone())).unwrap();
        assert_eq!(rt.cache_refused(), None, "the directory is fine");
        assert_eq!(call::<Vec<u8>>(&rt, "bytes", 8).unwrap(), b"abcdefgh");
        assert_eq!(
            rt.cache_refused(),
            Some(&CacheRefused::Writable {
                what: "file",
                path: file.clone(),
                mode: 0o666
            })
        );
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), ino, "not replaced");
        assert_eq!(mode(&file), 0o666);
    }
}
