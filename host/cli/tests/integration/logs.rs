//! `--log-format`: diagnostics on stderr as today's text lines, or as one
//! JSON object per line for log shippers.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::util::{ueba, ueba_cmd};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every stderr line parsed as JSON; a line that is not JSON fails.
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    text(stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A compile cache directory anyone may write: `ueba` refuses it with a
/// warning, the cheapest warning to provoke.
fn shared_cache() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn refused_cache_message(dir: &std::path::Path) -> String {
    format!(
        "compile cache directory `{}` can be written by other users (mode 0777); plugins are compiled afresh and the cache is left alone (`chmod go-w` it, or choose another cache_dir)",
        dir.display()
    )
}

#[test]
fn a_warning_is_a_json_line_with_level_and_message_under_log_format_json() {
    let cache = shared_cache();
    for (flag, env) in [(Some("json"), None), (None, Some("json"))] {
        let mut cmd = ueba_cmd();
        cmd.env("UEBA_CACHE_DIR", cache.path()).arg("config");
        if let Some(f) = flag {
            cmd.args(["--log-format", f]);
        }
        if let Some(e) = env {
            cmd.env("UEBA_LOG_FORMAT", e);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let lines = json_lines(&out.stderr);
        assert_eq!(lines.len(), 1, "{}", text(&out.stderr));
        let warning = &lines[0];
        assert_eq!(warning["level"], "WARN");
        assert_eq!(
            warning["message"].as_str(),
            Some(refused_cache_message(cache.path()).as_str())
        );
        assert_eq!(warning["target"], "ueba");
        assert!(warning["timestamp"].is_string(), "{warning}");
        // The program's output is not a diagnostic and stays as it was.
        assert!(text(&out.stdout).contains("[detectors.volume]"));
    }
}

#[test]
fn text_format_writes_the_warning_as_before() {
    let cache = shared_cache();
    for flag in [None, Some("text")] {
        let mut cmd = ueba_cmd();
        cmd.env("UEBA_CACHE_DIR", cache.path());
        if let Some(f) = flag {
            cmd.args(["--log-format", f]);
        }
        let out = cmd.arg("config").output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!("warning: {}\n", refused_cache_message(cache.path()))
        );
    }
}

#[test]
fn an_error_is_a_json_line_too_and_text_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let expected = format!(
        "opening {}: No such file or directory (os error 2)",
        missing.display()
    );
    let out = ueba(&["--log-format", "json", "score", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", text(&out.stderr));
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["message"].as_str(), Some(expected.as_str()));

    let out = ueba(&["score", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), format!("error: {expected}\n"));
}

#[test]
fn health_events_are_json_lines_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (_, volume) = ueba_engine::sandbox::plugins::BUILTIN_PLUGINS[0];
    std::fs::write(dir.path().join("my-volume.wasm"), volume).unwrap();
    let plugins = dir.path().to_str().unwrap();

    // Text: the health event's own JSON line, as it always was.
    let out = ueba(&["config", "--plugins", plugins]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with(r#"{"type":"health","time":""#));
    let health = &lines[0];
    assert_eq!(health["event"], "replaced_builtin");
    assert_eq!(health["plugin"], "volume");
    let message = health["message"].as_str().unwrap().to_string();
    assert!(message.contains("my-volume.wasm"), "{message}");

    // Json: a diagnostic like the others, its fields beside level and target.
    let out = ueba(&["config", "--plugins", plugins, "--log-format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", text(&out.stderr));
    let health = &lines[0];
    assert_eq!(health["target"], "ueba::health");
    assert_eq!(health["level"], "INFO");
    assert_eq!(health["event"], "replaced_builtin");
    assert_eq!(health["plugin"], "volume");
    assert_eq!(health["message"].as_str(), Some(message.as_str()));
    assert_eq!(health["batch"], 0);
}
