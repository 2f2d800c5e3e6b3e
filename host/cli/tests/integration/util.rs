//! Shared helpers for the integration tests.

use std::path::Path;

use ueba_engine::config::Config;
use ueba_engine::event::AccessEvent;
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::{Report, Scorer};
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::sandbox::Runtime;

/// A runtime with no on-disk cache, so tests do not touch the user's cache.
pub fn runtime() -> Runtime {
    Runtime::new(None).expect("engine")
}

/// Score events with the built-in detectors and the given config.
pub fn score_events(
    cfg: Config,
    identities: Identities,
    events: &[AccessEvent],
) -> (Report, Vec<Alert>) {
    let rt = runtime();
    let plugins =
        ueba_engine::sandbox::plugins::load(&rt, &cfg, None).expect("built-in plugins load");
    let mut scorer = Scorer::new(cfg, identities, plugins, Vec::new());
    for e in events {
        scorer.push(e).expect("push");
    }
    scorer.finish().expect("finish")
}

/// Read a JSON-lines events file.
pub fn read_events(path: &Path) -> Vec<AccessEvent> {
    let text = std::fs::read_to_string(path).expect("events file");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            ueba_formats::sources::native::parse_line(l, i as u64 + 1)
                .expect("generated events parse")
        })
        .collect()
}

pub use ueba_test_support::event;

/// The `ueba` binary with a private compile cache, for tests that run the
/// CLI as users do.
pub fn ueba_cmd() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ueba"));
    cmd.env(
        "UEBA_CACHE_DIR",
        std::env::temp_dir().join("ueba-test-cache"),
    );
    cmd
}

/// Run `ueba ARGS` to completion (see [`ueba_cmd`]).
pub fn ueba(args: &[&str]) -> std::process::Output {
    ueba_cmd().args(args).output().expect("run ueba")
}

/// Start `ueba ARGS` (a scoring run keeping state in `state`), wait for its
/// first checkpoint, let it run on a little past it, so output exists that
/// the checkpoint does not cover, and kill it with SIGKILL: no chance to
/// checkpoint or flush. Fails when the run ends before it can be killed.
pub fn kill_after_first_checkpoint(args: &[&str], state: &Path) {
    use std::time::{Duration, Instant};
    let mut child = ueba_cmd()
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start ueba");
    let checkpoint = state.join("checkpoint");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint.exists() {
        assert!(Instant::now() < deadline, "no checkpoint was written");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed; give it more events"
    );
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
}
