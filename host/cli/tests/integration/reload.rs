//! `ueba serve --plugins DIR` following DIR while it serves: the real
//! binary, real plugin files copied in, changed and removed, events posted
//! over loopback HTTP around each change.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ueba_test_support::{builtin, fixture, rebuilt};

use crate::serve::{
    Server, bearer, get, json, post, sample, start, token_file, wait_for_metric, wait_until,
    write_config,
};

/// Put `bytes` at `dir/name` as deployment tools do: written under a hidden
/// temporary name (which the watcher must ignore), then renamed into place.
fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Events go to the service in batches of four, released at once; an idle
/// moment scores a partial batch. Every finding of 10 (the hostile
/// fixture's) alerts anew (risk is always below `rearm_below`), so each of
/// its findings shows in the alerts with its evidence.
const CONFIG: &str = "[input]\nbatch_size = 4\nmax_lateness_secs = 0\n\
    [serve]\nidle_flush_ms = 50\n\
    [risk]\nthreshold = 5\nrearm_below = 100\nmax_findings_per_alert = 100\n";

/// A server on `plugins` with the alerts in `dir/alerts.jsonl`.
fn serve(dir: &Path, plugins: &Path, config: &str, extra: &[&str]) -> Server {
    let cfg = write_config(dir, config);
    let tok = token_file(dir);
    let alerts = dir.join("alerts.jsonl");
    let mut args = vec![
        "--token-file",
        tok.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
        "--output",
        alerts.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    start(&args)
}

/// `n` events of user `a`, a minute apart from minute `from` on.
fn events(from: u64, n: u64) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "{{\"timestamp\":\"2026-01-{:02}T{:02}:{:02}:00Z\",\"user\":\"a\",\"action\":\"select\",\"resource\":\"support.tickets\",\"rows\":3}}\n",
                5 + i / 1440,
                i / 60 % 24,
                i % 60
            )
        })
        .collect()
}

/// Post a body to /v1/events, which must accept all of it.
fn send(base: &str, body: &str) -> u64 {
    let (status, _, resp) = post(
        &format!("{base}/v1/events"),
        Some(&bearer()),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{resp}");
    let r = json(&resp);
    assert_eq!(r["invalid"], 0, "{resp}");
    r["accepted"].as_u64().unwrap()
}

/// Wait until `events` events have been scored and nothing is held back:
/// the idle flush (`idle_flush_ms` after the last event) has run once the
/// batch count stays put.
fn scored(base: &str, events: u64) -> String {
    let mut m = wait_until(base, &format!("{events} events scored"), |m| {
        sample(m, "ueba_events_total") == Some(events as f64)
            && sample(m, "ueba_queue_depth_events") == Some(0.0)
    });
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let again = get(&format!("{base}/metrics"), Some(&bearer())).1;
        let batches = |m: &str| sample(m, "ueba_batches_total");
        if batches(&again) == batches(&m) {
            return again;
        }
        m = again;
    }
}

fn reloads(event: &str) -> String {
    format!("ueba_plugin_reloads_total{{event=\"{event}\"}}")
}

fn detector(series: &str, name: &str) -> String {
    format!("{series}{{detector=\"{name}\"}}")
}

/// The `batches` evidence of the hostile fixture's findings in the alerts
/// written so far, in order: how many batches its state has counted.
fn counted(dir: &Path) -> Vec<i64> {
    let text = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap_or_default();
    let mut seen: Vec<(u64, i64)> = text
        .lines()
        .flat_map(|l| {
            json(l)["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["detector"] == "hostile")
                .map(|f| {
                    (
                        f["event"].as_u64().unwrap(),
                        f["evidence"]["batches"].as_i64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    seen.sort();
    seen.dedup();
    seen.into_iter().map(|(_, b)| b).collect()
}

/// The health events written to stderr, as (plugin, event, message).
fn health(log: &str) -> Vec<(String, String, String)> {
    log.lines()
        .filter(|l| l.starts_with("{\"type\":\"health\""))
        .map(|l| {
            let h = json(l);
            (
                h["plugin"].as_str().unwrap().to_string(),
                h["event"].as_str().unwrap().to_string(),
                h["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every batch went to exactly one version of `name`, and each of its
/// versions saw each event of those batches once: one observe call per
/// batch, one finding per batch (the fixture's), nothing missed.
fn once_per_batch(m: &str, name: &str) {
    let batches = sample(m, "ueba_batches_total").unwrap();
    assert_eq!(
        sample(
            m,
            &format!("ueba_batch_latency_seconds_count{{detector=\"{name}\"}}")
        ),
        Some(batches),
        "{m}"
    );
    assert_eq!(
        sample(m, &detector("ueba_findings_total", name)),
        Some(batches),
        "{m}"
    );
    assert_eq!(
        sample(m, "ueba_events_missed_by_failed_total"),
        Some(0.0),
        "{m}"
    );
}

#[test]
fn a_plugin_copied_in_scores_a_removed_one_stops_and_state_restarts_on_either() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let state = dir.path().join("state");
    let extra = ["--state", state.to_str().unwrap()];
    let server = serve(dir.path(), &plugins, CONFIG, &extra);
    let base = server.base.clone();
    assert_eq!(send(&base, &events(0, 8)), 8);
    let m = scored(&base, 8);
    assert_eq!(sample(&m, "ueba_batches_total"), Some(2.0), "{m}");
    assert_eq!(
        sample(&m, &detector("ueba_findings_total", "hostile")),
        None
    );

    // Copied in (with a text file beside it): it scores from the next batch.
    std::fs::write(plugins.join("README.txt"), "not a plugin").unwrap();
    install(&plugins, "hostile.wasm", &fixture("hostile.wasm"));
    wait_for_metric(&base, &reloads("loaded"), 1.0);
    send(&base, &events(8, 8));
    let m = scored(&base, 16);
    assert_eq!(sample(&m, "ueba_batches_total"), Some(4.0), "{m}");
    assert_eq!(
        sample(&m, &detector("ueba_findings_total", "hostile")),
        Some(2.0),
        "{m}"
    );
    assert_eq!(counted(dir.path()), [1, 2]);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    let h = health(&log);
    assert_eq!(h.len(), 1, "{log}");
    assert_eq!((h[0].0.as_str(), h[0].1.as_str()), ("hostile", "loaded"));
    assert!(
        h[0].2.contains("hostile.wasm (version 0.1.0) started"),
        "{log}"
    );

    // The checkpoint taken after the change restores in a service started
    // on the same directory, with what the plugin had learned.
    let server = serve(dir.path(), &plugins, CONFIG, &extra);
    let base = server.base.clone();
    send(&base, &events(16, 4));
    scored(&base, 20);
    assert_eq!(counted(dir.path()), [1, 2, 3]);

    // Removed: it stops, and its series with it; the others score on.
    std::fs::remove_file(plugins.join("hostile.wasm")).unwrap();
    let m = wait_for_metric(&base, &reloads("removed"), 1.0);
    assert_eq!(
        sample(&m, &detector("ueba_findings_total", "hostile")),
        None,
        "{m}"
    );
    send(&base, &events(20, 8));
    let m = scored(&base, 28);
    assert_eq!(sample(&m, "ueba_batches_total"), Some(7.0), "{m}");
    assert_eq!(
        sample(&m, &detector("ueba_findings_total", "volume")),
        Some(0.0)
    );
    assert_eq!(counted(dir.path()), [1, 2, 3]);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("resuming from"), "{log}");
    assert!(log.contains("events 28 "), "{log}");
    let h = health(&log);
    assert_eq!(h.len(), 1, "{log}");
    assert_eq!((h[0].0.as_str(), h[0].1.as_str()), ("hostile", "removed"));

    // And that checkpoint restores without it.
    let server = serve(dir.path(), &plugins, CONFIG, &extra);
    send(&server.base.clone(), &events(28, 4));
    scored(&server.base.clone(), 32);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("events 32 "), "{log}");
}

#[test]
fn a_new_build_carries_the_state_and_a_broken_one_leaves_the_old_running() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("hostile.wasm"), fixture("hostile.wasm")).unwrap();
    let server = serve(dir.path(), &plugins, CONFIG, &[]);
    let base = server.base.clone();
    send(&base, &events(0, 8));
    scored(&base, 8);
    assert_eq!(counted(dir.path()), [1, 2]);

    // A new build goes on counting where the running one was.
    install(
        &plugins,
        "hostile.wasm",
        &rebuilt(&fixture("hostile.wasm"), "2"),
    );
    wait_for_metric(&base, &reloads("reloaded"), 1.0);
    send(&base, &events(8, 4));
    scored(&base, 12);
    assert_eq!(counted(dir.path()), [1, 2, 3]);

    // Not a component, then a plugin for another contract: nothing changes.
    std::fs::write(
        plugins.join("hostile.wasm"),
        b"\0asm this is not a component",
    )
    .unwrap();
    wait_for_metric(&base, &reloads("load_failed"), 1.0);
    install(&plugins, "liar.wasm", &fixture("contract-liar.wasm"));
    let m = wait_for_metric(&base, &reloads("load_failed"), 2.0);
    assert_eq!(sample(&m, &reloads("reloaded")), Some(1.0), "{m}");
    send(&base, &events(12, 4));
    scored(&base, 16);
    assert_eq!(counted(dir.path()), [1, 2, 3, 4]);
    let (status, h) = get(&format!("{base}/healthz"), None);
    assert_eq!(status, 200, "{h}");

    // Fixed, while events keep arriving: no event is lost or scored twice
    // across the switches.
    std::fs::remove_file(plugins.join("liar.wasm")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicU64::new(16));
    let poster = {
        let (stop, posted, base) = (stop.clone(), posted.clone(), base.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let from = posted.load(Ordering::SeqCst);
                posted.fetch_add(send(&base, &events(from, 3)), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for (round, tag) in ["3", "4", "5"].iter().enumerate() {
        install(
            &plugins,
            "hostile.wasm",
            &rebuilt(&fixture("hostile.wasm"), tag),
        );
        wait_for_metric(&base, &reloads("reloaded"), 2.0 + round as f64);
    }
    stop.store(true, Ordering::SeqCst);
    poster.join().unwrap();
    let total = posted.load(Ordering::SeqCst);
    let m = scored(&base, total);
    once_per_batch(&m, "hostile");
    // One state throughout: the last batch counted is the number of batches.
    let batches = sample(&m, "ueba_batches_total").unwrap() as i64;
    let counts = counted(dir.path());
    assert_eq!(counts, (1..=batches).collect::<Vec<_>>());

    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains(&format!("events {total} ")), "{log}");
    let h = health(&log);
    let kinds: Vec<(&str, &str)> = h.iter().map(|(p, e, _)| (p.as_str(), e.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("hostile", "reloaded"),
            ("hostile", "load_failed"),
            ("liar.wasm", "load_failed"),
            ("hostile", "reloaded"),
            ("hostile", "reloaded"),
            ("hostile", "reloaded"),
        ],
        "{log}"
    );
    assert!(
        h[0].2
            .contains("hostile.wasm changed: version 0.1.0 replaced version 0.1.0")
            && h[0].2.contains("goes on from the state"),
        "{}",
        h[0].2
    );
    assert!(
        h[1].2.contains("not a valid detector component")
            && h[1]
                .2
                .contains("the running version of hostile keeps scoring"),
        "{}",
        h[1].2
    );
    assert!(h[2].2.contains("built for contract 0.6.0"), "{}", h[2].2);
}

#[test]
fn a_version_that_gets_no_state_starts_afresh_and_a_removed_replacement_brings_back_the_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("hostile.wasm"), fixture("hostile.wasm")).unwrap();
    std::fs::write(
        plugins.join("my-volume.wasm"),
        rebuilt(builtin("volume"), "2"),
    )
    .unwrap();
    // On its trigger the fixture grows its state past a 1 MiB snapshot
    // limit: the running version can no longer hand its state over.
    let config =
        format!("{CONFIG}[detectors.hostile]\nmode = \"huge-snapshot\"\nmax_snapshot_mib = 1\n");
    let state = dir.path().join("state");
    let extra = ["--state", state.to_str().unwrap()];
    let server = serve(dir.path(), &plugins, &config, &[]);
    let base = server.base.clone();
    let m = scored(&base, 0);
    assert!(
        sample(&m, &detector("ueba_findings_total", "volume")).is_some(),
        "{m}"
    );
    let trigger = events(0, 1).replace("\"rows\":3", "\"rows\":666");
    send(&base, &format!("{trigger}{}", events(1, 7)));
    scored(&base, 8);
    // The trigger batch makes no finding; the next one counts two batches.
    assert_eq!(counted(dir.path()), [2]);
    install(
        &plugins,
        "hostile.wasm",
        &rebuilt(&fixture("hostile.wasm"), "2"),
    );
    wait_for_metric(&base, &reloads("state_reset"), 1.0);
    send(&base, &events(8, 4));
    scored(&base, 12);
    assert_eq!(counted(dir.path()), [2, 1]);

    // The file that replaced volume goes: the built-in takes over, with the
    // state the file's version learned.
    std::fs::remove_file(plugins.join("my-volume.wasm")).unwrap();
    let m = wait_for_metric(&base, &reloads("reloaded"), 1.0);
    assert_eq!(sample(&m, &reloads("removed")), Some(0.0), "{m}");
    assert!(
        sample(&m, &detector("ueba_findings_total", "volume")).is_some(),
        "{m}"
    );
    send(&base, &events(12, 4));
    let m = scored(&base, 16);
    // Both versions together saw each of the four batches once; all but
    // the trigger batch made a finding.
    assert_eq!(sample(&m, "ueba_batches_total"), Some(4.0), "{m}");
    assert_eq!(
        sample(&m, "ueba_batch_latency_seconds_count{detector=\"hostile\"}"),
        Some(4.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, &detector("ueba_findings_total", "hostile")),
        Some(3.0),
        "{m}"
    );
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    let h = health(&log);
    let reset = h.iter().find(|(_, e, _)| e == "state_reset").unwrap();
    assert_eq!(reset.0, "hostile");
    assert!(
        reset.2.contains("starts learning afresh") && reset.2.contains("could not snapshot"),
        "{}",
        reset.2
    );
    let back = h.iter().find(|(_, e, _)| e == "reloaded").unwrap();
    assert_eq!(back.0, "volume");
    assert!(
        back.2
            .contains("my-volume.wasm was removed; the built-in volume"),
        "{}",
        back.2
    );

    // A service started on the directory as it is now checkpoints and
    // resumes with the built-in volume in the built-ins' place.
    let server = serve(dir.path(), &plugins, &config, &extra);
    send(&server.base.clone(), &events(16, 4));
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    let server = serve(dir.path(), &plugins, &config, &extra);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("resuming from"), "{log}");
}
