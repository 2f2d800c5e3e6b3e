//! `ueba plugin`: scaffold a detector, build it, test it against its golden
//! file, inspect it, and refuse modules that import WASI or target another
//! contract.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ueba_engine::sandbox::plugins::BUILTIN_PLUGINS;
use ueba_engine::sandbox::sha256_hex;

fn ueba(args: &[&str]) -> Output {
    crate::util::ueba_cmd()
        .args(args)
        // The scaffolded crate compiles the SDK and its dependencies for
        // wasm; a stable target dir keeps reruns incremental.
        .env("CARGO_TARGET_DIR", scaffold_target_dir())
        .output()
        .expect("run ueba")
}

fn scaffold_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cmd-target")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn failed(out: &Output) -> (String, String) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    (text(&out.stdout), err)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn a_scaffolded_detector_builds_tests_and_inspects_straight_away() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rare-action");
    let made = ok(&ueba(&["plugin", "new", "rare-action", "--dir", s(&dir)]));
    assert!(made.contains("ueba-sdk = { path = "), "{made}");
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "README.md",
        "sample.jsonl",
        "expected.jsonl",
    ] {
        assert!(dir.join(f).is_file(), "{f} written");
    }

    // Its own unit tests pass natively.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let unit = Command::new(cargo)
        .current_dir(&dir)
        .args(["test", "--quiet"])
        .env("CARGO_TARGET_DIR", scaffold_target_dir())
        .output()
        .expect("run cargo test");
    ok(&unit);

    // It builds for wasm and loads in the host.
    let wasm = tmp.path().join("rare-action.wasm");
    let built = ok(&ueba(&["plugin", "build", s(&dir), "--out", s(&wasm)]));
    assert!(built.contains("detector  rare-action 0.1.0"), "{built}");
    assert!(built.contains("contract  0.5.0"), "{built}");
    assert!(built.contains("learning_days = 1"), "{built}");
    assert!(wasm.is_file());

    // Its findings on the sample are the expected ones.
    let events = dir.join("sample.jsonl");
    let expected = dir.join("expected.jsonl");
    let args = |expect: &Path| {
        vec![
            "plugin".to_string(),
            "test".into(),
            s(&wasm).into(),
            "--events".into(),
            s(&events).into(),
            "--expect".into(),
            s(expect).into(),
        ]
    };
    let run = |a: Vec<String>| ueba(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let tested = ok(&run(args(&expected)));
    assert!(tested.contains("ok: the findings match"), "{tested}");
    assert!(tested.contains("copy on support.customers"), "{tested}");

    // A changed expectation fails, showing what differs.
    let golden = std::fs::read_to_string(&expected).unwrap();
    let changed = golden.replacen("\"user\":\"alice\"", "\"user\":\"mallory\"", 1);
    assert_ne!(changed, golden, "the sample's expectations name alice");
    std::fs::write(&expected, &changed).unwrap();
    let (out, err) = failed(&run(args(&expected)));
    assert!(out.contains("--- expected ("), "{out}");
    assert!(
        out.contains("user: expected \"mallory\", found \"alice\""),
        "{out}"
    );
    assert!(
        err.contains("1 expected findings not found, 1 found but not expected"),
        "{err}"
    );

    // --bless writes the findings back.
    let mut bless = args(&expected);
    bless.push("--bless".into());
    ok(&run(bless));
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), golden);

    // inspect prints the sha256 of the file, to pin.
    let inspected = ok(&ueba(&["plugin", "inspect", s(&wasm)]));
    let sha = sha256_hex(&std::fs::read(&wasm).unwrap());
    assert!(
        inspected.contains(&format!("sha256    {sha}")),
        "{inspected}"
    );
    assert!(
        inspected.contains(&format!("[pins] \"rare-action.wasm\" = \"{sha}\"")),
        "{inspected}"
    );
    assert!(inspected.contains("imports   (none)"), "{inspected}");
    assert!(
        inspected.contains("exports   ueba:detector/detector@0.5.0"),
        "{inspected}"
    );
}

#[test]
fn test_and_inspect_work_on_a_built_in_plugin_with_config() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, bytes) = BUILTIN_PLUGINS
        .iter()
        .find(|(n, _)| *n == "novel-table")
        .expect("novel-table is built in");
    let wasm = tmp.path().join("novel-table.wasm");
    std::fs::write(&wasm, bytes).unwrap();
    let events = tmp.path().join("sample.jsonl");
    std::fs::write(&events, ueba_authoring::scaffold::SAMPLE_EVENTS).unwrap();
    let config = tmp.path().join("ueba.toml");
    std::fs::write(
        &config,
        "[detectors.novel-table]\nlearning_days = 1\nmin_score = 0\n",
    )
    .unwrap();
    let expected = tmp.path().join("expected.jsonl");
    let base = [
        "plugin",
        "test",
        s(&wasm),
        "--events",
        s(&events),
        "--config",
        s(&config),
        "--expect",
        s(&expected),
    ];
    let mut bless = base.to_vec();
    bless.push("--bless");
    let blessed = ok(&ueba(&bless));
    assert!(
        blessed.contains("first access to sensitive auth.roles"),
        "{blessed}"
    );
    // The sample's days are sent in the scorer's blocks of 15 minutes of
    // event time, not as one batch of up to 1,024 events.
    let sent = |out: &str| -> usize {
        let head = out.lines().next().unwrap_or_default();
        let n = head.rsplit(" in ").next().unwrap_or_default();
        n.trim_end_matches(" batches").parse().unwrap_or(0)
    };
    assert!(sent(&blessed) > 1, "{blessed}");
    // The pace it kept, against the one `ueba score` holds plugins to.
    assert!(
        blessed.contains(&format!(
            "0 of {} batches slower than the host allows",
            sent(&blessed)
        )),
        "{blessed}"
    );
    ok(&ueba(&base));
    let golden = std::fs::read_to_string(&expected).unwrap();
    let first_line = golden.lines().next().expect("findings").to_string();
    std::fs::write(&expected, golden.replacen(&(first_line + "\n"), "", 1)).unwrap();
    let (out, err) = failed(&ueba(&base));
    assert!(out.contains("+      {\"event\":"), "{out}");
    assert!(
        err.contains("0 expected findings not found, 1 found but not expected"),
        "{err}"
    );

    let inspected = ok(&ueba(&["plugin", "inspect", s(&wasm)]));
    assert!(inspected.contains(&sha256_hex(bytes)), "{inspected}");
    assert!(
        inspected.contains("sensitive = [\"*.customers\""),
        "{inspected}"
    );
}

#[test]
fn a_plugin_too_slow_for_the_host_fails_its_test() {
    // The hostile fixture busies itself on every batch after the trigger
    // (rows 666): each event here is a batch of its own.
    let tmp = tempfile::tempdir().unwrap();
    let wasm = ueba_test_support::fixture_dir().join("hostile.wasm");
    let events = tmp.path().join("events.jsonl");
    let lines: String = (0..12)
        .map(|i| {
            let rows = if i == 1 { 666 } else { 3 };
            format!(
                "{{\"timestamp\":\"2026-01-05T{:02}:{:02}:00Z\",\"user\":\"u\",\"action\":\"select\",\"resource\":\"t\",\"rows\":{rows}}}\n",
                8 + i / 2,
                (i % 2) * 30
            )
        })
        .collect();
    std::fs::write(&events, lines).unwrap();
    let config = tmp.path().join("ueba.toml");
    std::fs::write(
        &config,
        "[sandbox]\nmax_slow_batches = 3\n[detectors.hostile]\nmode = \"slow\"\nmax_us_per_event = 50\n",
    )
    .unwrap();
    let args = [
        "plugin",
        "test",
        s(&wasm),
        "--events",
        s(&events),
        "--config",
        s(&config),
    ];
    let (_, err) = failed(&ueba(&args));
    assert!(
        err.contains("on 3 batches in a row") && err.contains("would quarantine it"),
        "{err}"
    );
}

fn wat_file(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).expect("valid text")).unwrap();
    path
}

#[test]
fn modules_importing_wasi_are_refused_by_build_and_inspect() {
    let tmp = tempfile::tempdir().unwrap();
    let module = wat_file(
        tmp.path(),
        "core.wasm",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#,
    );
    let (_, err) = failed(&ueba(&["plugin", "build", s(&module)]));
    assert!(
        err.contains("imports `wasi_snapshot_preview1::fd_write`"),
        "{err}"
    );
    assert!(err.contains("may import nothing"), "{err}");
    assert!(
        !tmp.path().join("core.component.wasm").exists(),
        "nothing written"
    );

    let component = wat_file(
        tmp.path(),
        "reader.wasm",
        r#"(component (import "wasi:filesystem/types@0.2.0" (instance (export "get-type" (func)))))"#,
    );
    for cmd in ["build", "inspect"] {
        let (out, err) = failed(&ueba(&["plugin", cmd, s(&component)]));
        assert!(
            err.contains("imports `wasi:filesystem/types@0.2.0`"),
            "{cmd}: {err}"
        );
        assert!(err.contains("no WASI"), "{cmd}: {err}");
        if cmd == "inspect" {
            assert!(
                out.contains("imports   wasi:filesystem/types@0.2.0"),
                "{out}"
            );
        }
    }
}

#[test]
fn a_plugin_for_another_contract_is_refused_naming_both_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let future = wat_file(
        tmp.path(),
        "future.wasm",
        r#"(component
             (core module $m (func (export "f")))
             (core instance $i (instantiate $m))
             (func $f (canon lift (core func $i "f")))
             (instance $api (export "describe" (func $f)))
             (export "ueba:detector/detector@0.6.0" (instance $api)))"#,
    );
    for cmd in ["build", "inspect"] {
        let (out, err) = failed(&ueba(&["plugin", cmd, s(&future)]));
        assert!(err.contains("built for contract 0.6.0"), "{cmd}: {err}");
        assert!(
            err.contains("this host supports 0.5.0, 0.4.0, 0.3.0, 0.2.0, 0.1.0"),
            "{cmd}: {err}"
        );
        if cmd == "inspect" {
            assert!(out.contains("contract  0.6.0"), "{out}");
        }
    }
}

#[test]
fn new_refuses_bad_names_and_occupied_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, err) = failed(&ueba(&[
        "plugin",
        "new",
        "Rare Action",
        "--dir",
        s(tmp.path()),
    ]));
    assert!(
        err.contains("`Rare Action` cannot be a detector name"),
        "{err}"
    );
    std::fs::write(tmp.path().join("mine.txt"), "keep").unwrap();
    let (_, err) = failed(&ueba(&[
        "plugin",
        "new",
        "rare-action",
        "--dir",
        s(tmp.path()),
    ]));
    assert!(err.contains("already exists and is not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("mine.txt")).unwrap(),
        "keep"
    );
}
