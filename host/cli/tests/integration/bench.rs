//! `ueba bench`: every configuration runs and lands in the JSON report.
//! A test of behaviour on a tiny workload, not of speed.

use std::process::Command;

#[test]
fn quick_bench_reports_every_configuration_with_positive_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_ueba"))
        .args(["bench", "--quick", "--users", "30", "--events", "3000"])
        .args(["--entities", "50,200", "--json"])
        .arg(&json)
        .env(
            "UEBA_CACHE_DIR",
            std::env::temp_dir().join("ueba-test-cache"),
        )
        .output()
        .expect("run ueba bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ueba bench failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wasm-batch/native"), "{stdout}");
    assert!(stdout.contains("end-to-end 2 shards/1 shard"), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("valid json");
    let results = report["results"].as_array().expect("results");
    let mut expected: Vec<String> = Vec::new();
    for p in [1, 3, 10] {
        expected.push(format!("native/{p}p/b1024/u30"));
        let batches: &[usize] = if p == 3 { &[64, 1024, 8192] } else { &[1024] };
        for b in batches {
            expected.push(format!("wasm-batch/{p}p/b{b}/u30"));
        }
        expected.push(format!("wasm-per-event/{p}p/b1/u30"));
    }
    for p in [1, 3] {
        expected.push(format!("end-to-end/{p}p/b1024/u30"));
        expected.push(format!("end-to-end-sharded/{p}p/b1024/u30"));
    }
    for u in [50, 200] {
        for mode in ["native", "wasm-batch", "end-to-end"] {
            expected.push(format!("{mode}/3p/b1024/u{u}"));
        }
    }
    for name in &expected {
        let r = results
            .iter()
            .find(|r| r["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from {results:#?}"));
        assert!(r["events"].as_u64().unwrap_or(0) > 0, "{name}: no events");
        let per_sec = r["events_per_sec"]["median"].as_f64().unwrap_or(0.0);
        assert!(per_sec > 0.0, "{name}: throughput {per_sec}");
    }
    assert_eq!(results.len(), expected.len());

    // The detectors did real work: findings natively and in the sandbox
    // (counts may differ by a finding or two, since wasm and native floating
    // point libraries round differently near a threshold).
    for name in ["native/3p/b1024/u30", "wasm-batch/3p/b1024/u30"] {
        let r = results.iter().find(|r| r["name"] == name).expect("case");
        assert!(
            r["findings"].as_u64().unwrap_or(0) > 0,
            "{name}: no findings"
        );
    }
    // Memory per entity is measured for the sandboxed plugins.
    let wasm = results
        .iter()
        .find(|r| r["name"] == "wasm-batch/3p/b1024/u200")
        .expect("sweep case");
    assert!(
        wasm["memory"]["plugin_bytes"]
            .as_array()
            .is_some_and(|b| b.len() == 3)
    );
}
