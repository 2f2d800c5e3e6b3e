//! Misbehaving plugins cannot hurt the host: each fixture mode is contained,
//! reported as a health event naming the plugin, the limit and the batch,
//! and the built-in detectors keep scoring every event.

use std::path::PathBuf;

use ueba_engine::config::Config;
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::{Report, Scorer};
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::sandbox::Failure;
use ueba_engine::sandbox::gate::is_unsafe_char;
use ueba_engine::sandbox::plugins::{HealthEvent, HealthKind};

use crate::util::{event, runtime};

const TRIGGER: u64 = 666;

pub(crate) fn fixture_dir() -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    std::fs::copy(
        ueba_test_support::fixture_dir().join("hostile.wasm"),
        dir.join("hostile.wasm"),
    )
    .unwrap();
    dir
}

/// Score 40 batches of 16 events (the trigger in batch `trigger_batch`) with
/// the built-ins plus the hostile fixture in `mode`.
fn run(mode: &str, extra: &str, trigger_batch: Option<usize>) -> Report {
    run_with_alerts(mode, extra, trigger_batch).0
}

/// [`run`], with the alerts.
pub(crate) fn run_with_alerts(
    mode: &str,
    extra: &str,
    trigger_batch: Option<usize>,
) -> (Report, Vec<Alert>) {
    run_config(
        &format!(
            "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nsnapshot_interval_batches = 4\nbatch_timeout_ms = 300\nmemory_mib = 64\n[detectors.hostile]\nmode = \"{mode}\"\n{extra}"
        ),
        trigger_batch,
    )
}

/// [`run_with_alerts`] with the whole config given.
pub(crate) fn run_config(config: &str, trigger_batch: Option<usize>) -> (Report, Vec<Alert>) {
    run_sharded(config, trigger_batch, 1)
}

/// [`run_config`] with users split across `shards` shards.
fn run_sharded(config: &str, trigger_batch: Option<usize>, shards: usize) -> (Report, Vec<Alert>) {
    let dir = fixture_dir();
    let cfg = Config::parse(config, std::path::Path::new("test.toml")).unwrap();
    let rt = runtime();
    let plugins = ueba_engine::sandbox::plugins::load(&rt, &cfg, Some(&dir)).expect("load");
    assert_eq!(
        plugins.len(),
        ueba_engine::sandbox::plugins::BUILTIN_PLUGINS.len() + 1
    );
    let mut scorer = Scorer::new(cfg, Identities::default(), plugins, Vec::new())
        .with_shards(shards)
        .unwrap()
        .with_health(Box::new(Vec::<HealthEvent>::new()));
    let t0 = 1_767_600_000_000i64;
    for b in 0..40usize {
        for i in 0..16i64 {
            let rows = if Some(b) == trigger_batch && i == 5 {
                TRIGGER
            } else {
                3
            };
            scorer
                .push(&event(
                    t0 + (b as i64 * 16 + i) * 60_000 * 30,
                    "u",
                    "support.tickets",
                    rows,
                ))
                .unwrap();
        }
    }
    scorer.finish().unwrap()
}

pub(crate) fn hostile_index(r: &Report) -> usize {
    r.detectors.iter().position(|d| d == "hostile").unwrap()
}

pub(crate) fn assert_builtins_saw_everything(r: &Report) {
    assert_eq!(r.stats.events, 640);
    assert_eq!(r.stats.batches, 40);
    // Only the hostile plugin may have missed events.
    let quarantined = r
        .stats
        .health
        .iter()
        .any(|h| h.event == HealthKind::Quarantined);
    assert!(r.stats.events_missed_by_failed <= if quarantined { 640 } else { 16 });
    for h in &r.stats.health {
        assert_eq!(
            h.plugin, "hostile",
            "only the hostile plugin has health events: {h:?}"
        );
        assert!(h.batch >= 1 && h.batch <= 40);
        assert!(h.events > 0);
    }
}

fn limits(r: &Report) -> Vec<(HealthKind, Option<Failure>)> {
    r.stats.health.iter().map(|h| (h.event, h.limit)).collect()
}

#[test]
fn a_well_behaved_fixture_finds_one_per_batch() {
    let r = run("none", "", Some(10));
    assert!(r.stats.health.is_empty());
    // One per batch, none for the trigger batch in this mode.
    assert_eq!(r.stats.findings[hostile_index(&r)], 39);
    assert_builtins_saw_everything(&r);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_time_limit_and_quarantined() {
    let r = run("loop", "", Some(10));
    let l = limits(&r);
    assert_eq!(l[0], (HealthKind::Failed, Some(Failure::Time)), "{l:?}");
    assert_eq!(
        l[1],
        (HealthKind::RetryFailed, Some(Failure::Time)),
        "{l:?}"
    );
    assert_eq!(r.stats.health[0].batch, 11);
    assert_builtins_saw_everything(&r);
    // Later batches have no trigger: the restarted plugin scores them again.
    assert_eq!(r.stats.findings[hostile_index(&r)], 39);
}

#[test]
fn a_plugin_slow_on_every_batch_is_quarantined_though_it_never_times_out() {
    // From batch 11 on, each batch takes the fixture tens of milliseconds:
    // far inside its timeout, far over its time for 16 events (the least
    // time a batch is allowed, 10 ms).
    let (r, _) = run_config(
        "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nmax_slow_batches = 4\n[detectors.hostile]\nmode = \"slow\"\nmax_us_per_event = 50\n",
        Some(10),
    );
    let l = limits(&r);
    assert_eq!(
        l.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        [HealthKind::Slow, HealthKind::Quarantined],
        "{:#?}",
        r.stats.health
    );
    // Batch 11 is the first slow one; the fourth in a row quarantines.
    assert_eq!(r.stats.health[0].batch, 12);
    assert_eq!(r.stats.health[1].batch, 15);
    assert!(
        r.stats.health[1]
            .message
            .contains("slow on 4 batches in a row")
    );
    assert_builtins_saw_everything(&r);
    // It finished the slow batches, whose findings stand; then no more.
    assert_eq!(r.stats.findings[hostile_index(&r)], 14);
}

#[test]
fn a_slow_plugin_with_time_to_spare_keeps_scoring() {
    // The same plugin, allowed a second an event: slow is relative to what
    // the operator allows, and a detector known to be costly can be given
    // more.
    let (r, _) = run_config(
        "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nmax_slow_batches = 4\n[detectors.hostile]\nmode = \"slow\"\nmax_us_per_event = 1000000\n",
        Some(35),
    );
    assert!(r.stats.health.is_empty(), "{:#?}", r.stats.health);
    assert_eq!(r.stats.findings[hostile_index(&r)], 39);
}

#[test]
fn a_trap_is_retried_on_a_fresh_instance_from_the_last_snapshot() {
    let r = run("trap-transient", "", Some(10));
    let l = limits(&r);
    assert_eq!(
        l,
        vec![
            (HealthKind::Failed, Some(Failure::Trap)),
            (HealthKind::Recovered, None)
        ],
        "{:?}",
        r.stats.health
    );
    // Nothing lost: the retried batch's findings count (one per batch + the trigger's).
    assert_eq!(r.stats.findings[hostile_index(&r)], 40);
    assert_eq!(r.stats.events_missed_by_failed, 0);
    assert_builtins_saw_everything(&r);
}

#[test]
fn a_plugin_that_keeps_trapping_is_quarantined() {
    let dir = fixture_dir();
    let cfg = Config::parse(
        "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nmax_failures = 2\n[detectors.hostile]\nmode = \"trap\"\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let plugins = ueba_engine::sandbox::plugins::load(&runtime(), &cfg, Some(&dir)).unwrap();
    let mut scorer = Scorer::new(cfg, Identities::default(), plugins, Vec::new())
        .with_health(Box::new(Vec::<HealthEvent>::new()));
    let t0 = 1_767_600_000_000i64;
    for i in 0..160i64 {
        // Every fourth batch carries the trigger.
        let rows = if i % 64 == 3 { TRIGGER } else { 3 };
        scorer
            .push(&event(t0 + i * 60_000, "u", "t", rows))
            .unwrap();
    }
    let (r, _) = scorer.finish().unwrap();
    let q: Vec<_> = r
        .stats
        .health
        .iter()
        .filter(|h| h.event == HealthKind::Quarantined)
        .collect();
    assert_eq!(q.len(), 1, "{:?}", r.stats.health);
    assert_eq!(q[0].limit, Some(Failure::Trap));
    assert!(r.render(5).contains("QUARANTINED detector hostile"));
    // After quarantine the plugin is never called again.
    let last = r.stats.health.last().unwrap();
    assert_eq!(last.event, HealthKind::Quarantined);
    assert_eq!(r.stats.events, 160);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let r = run("memory-bomb", "", Some(10));
    assert_eq!(
        limits(&r)[0],
        (HealthKind::Failed, Some(Failure::Memory)),
        "{:?}",
        r.stats.health
    );
    assert!(
        r.stats.health[0].message.contains("64 MiB"),
        "{}",
        r.stats.health[0].message
    );
    assert_builtins_saw_everything(&r);
}

#[test]
fn runaway_recursion_is_a_stack_overflow() {
    let r = run("recursion", "", Some(10));
    assert_eq!(
        limits(&r)[0],
        (HealthKind::Failed, Some(Failure::Stack)),
        "{:?}",
        r.stats.health
    );
    assert_builtins_saw_everything(&r);
}

#[test]
fn a_flood_of_findings_hits_the_findings_limit() {
    let r = run(
        "flood",
        "max_findings_per_batch = 1000\nmemory_mib = 1024\nbatch_timeout_ms = 30000\n",
        Some(10),
    );
    assert_eq!(
        limits(&r)[0],
        (HealthKind::Failed, Some(Failure::Findings)),
        "{:?}",
        r.stats.health
    );
    assert!(
        r.stats.health[0].message.contains("too much data"),
        "{}",
        r.stats.health[0].message
    );
    // None of the flood reached the aggregate.
    assert!(r.stats.findings[hostile_index(&r)] < 100);
    assert_builtins_saw_everything(&r);
}

#[test]
fn a_huge_snapshot_is_refused_and_scoring_goes_on() {
    let r = run(
        "huge-snapshot",
        "max_snapshot_mib = 8\nmemory_mib = 256\nbatch_timeout_ms = 30000\n",
        Some(2),
    );
    let refused: Vec<_> = r
        .stats
        .health
        .iter()
        .filter(|h| h.event == HealthKind::SnapshotRefused)
        .collect();
    assert!(!refused.is_empty(), "{:?}", r.stats.health);
    assert_eq!(refused[0].limit, Some(Failure::Snapshot));
    assert_eq!(r.stats.findings[hostile_index(&r)], 39);
    assert_builtins_saw_everything(&r);
}

/// Two shards, 16 events of 30 minutes a batch: the shards exchange
/// populations every third batch (a day of event time).
fn run_two_shards(mode: &str, trigger_batch: Option<usize>) -> Report {
    run_sharded(
        &format!(
            "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nsnapshot_interval_batches = 4\nsnapshot_timeout_ms = 300\nbatch_timeout_ms = 300\nmax_failures = 2\n[detectors.hostile]\nmode = \"{mode}\"\n"
        ),
        trigger_batch,
        2,
    )
    .0
}

#[test]
fn a_population_share_that_never_comes_is_stopped_and_counts_toward_quarantine() {
    let r = run_two_shards("population-loop", Some(2));
    let l = limits(&r);
    assert_eq!(
        l[0],
        (HealthKind::PopulationRefused, Some(Failure::Time)),
        "{l:?}"
    );
    assert!(
        l.contains(&(HealthKind::Quarantined, Some(Failure::Time))),
        "{l:?}"
    );
    assert_builtins_saw_everything(&r);
}

#[test]
fn a_detector_refusing_the_other_shards_shares_keeps_scoring() {
    let r = run_two_shards("absorb-error", None);
    let l = limits(&r);
    assert!(!l.is_empty(), "the exchange must have happened");
    assert!(
        l.iter()
            .all(|x| *x == (HealthKind::PopulationRefused, Some(Failure::Error))),
        "{l:?}"
    );
    // Its message is shown escaped and cut, not a megabyte of escapes.
    let message = &r.stats.health[0].message;
    assert!(message.contains("refusing the other shards"), "{message}");
    assert!(message.contains("\\u{1b}[2J"), "{message}");
    assert!(!message.chars().any(is_unsafe_char), "{message:?}");
    assert!(message.len() < 2048, "{} bytes", message.len());
    assert_eq!(r.stats.findings[hostile_index(&r)], 40);
    assert_builtins_saw_everything(&r);
}

#[test]
fn pinned_plugins_must_match_their_hash() {
    let dir = fixture_dir();
    let bytes = std::fs::read(dir.join("hostile.wasm")).unwrap();
    let good = ueba_engine::sandbox::sha256_hex(&bytes);
    let ok = Config::parse(
        &format!("[pins]\n\"hostile.wasm\" = \"{good}\"\n"),
        std::path::Path::new("p.toml"),
    )
    .unwrap();
    assert!(ueba_engine::sandbox::plugins::load(&runtime(), &ok, Some(&dir)).is_ok());
    let bad = Config::parse(
        &format!("[pins]\n\"hostile.wasm\" = \"{}\"\n", "0".repeat(64)),
        std::path::Path::new("p.toml"),
    )
    .unwrap();
    let err = ueba_engine::sandbox::plugins::load(&runtime(), &bad, Some(&dir))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("hostile.wasm: sha256 is ") && err.contains("refusing to load"),
        "{err}"
    );
    let missing = Config::parse(
        &format!("[pins]\n\"other.wasm\" = \"{good}\"\n"),
        std::path::Path::new("p.toml"),
    )
    .unwrap();
    let err = ueba_engine::sandbox::plugins::load(&runtime(), &missing, Some(&dir))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`other.wasm`"), "{err}");
}

#[test]
fn a_plugin_in_the_directory_replaces_the_builtin_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_, volume) = ueba_engine::sandbox::plugins::BUILTIN_PLUGINS[0];
    std::fs::write(dir.path().join("my-volume.wasm"), volume).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a plugin").unwrap();
    let loaded =
        ueba_engine::sandbox::plugins::load(&runtime(), &Config::default(), Some(dir.path()))
            .unwrap();
    let names: Vec<_> = loaded.iter().map(|l| l.name().to_string()).collect();
    // The other built-ins in their order, then the file that replaced volume.
    let mut expected: Vec<&str> = ueba_engine::sandbox::plugins::BUILTIN_PLUGINS
        .iter()
        .map(|(name, _)| *name)
        .filter(|n| *n != "volume")
        .collect();
    expected.push("volume");
    assert_eq!(names, expected);
    assert_eq!(
        loaded[expected.len() - 1].origin,
        ueba_engine::sandbox::plugins::Origin::File(dir.path().join("my-volume.wasm"))
    );
    std::fs::write(dir.path().join("z-volume.wasm"), volume).unwrap();
    let err = ueba_engine::sandbox::plugins::load(&runtime(), &Config::default(), Some(dir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("are both detector `volume`"), "{err}");
}

#[test]
fn a_configuration_refusal_is_shown_escaped_and_cut() {
    let cfg = Config::parse(
        "[detectors.hostile]\nmode = \"nasty-config\"\n",
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    let err = match ueba_engine::sandbox::plugins::load(&runtime(), &cfg, Some(&fixture_dir())) {
        Ok(_) => panic!("a refused configuration must stop loading"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("hostile"), "{err}");
    assert!(err.contains("\\u{1b}[2J"), "{err}");
    assert!(!err.chars().any(is_unsafe_char), "{err:?}");
    assert!(err.len() < 4096, "{} bytes", err.len());
}

#[test]
fn population_shares_too_large_to_absorb_are_not_exchanged() {
    // Shares of 3 MiB from each of two shards: each fits the 4 MiB limit,
    // together they do not, and no shard could take the other's in.
    let (r, _) = run_sharded(
        "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nmemory_mib = 64\nmax_snapshot_mib = 4\n[detectors.hostile]\nmode = \"huge-population\"\n",
        None,
        2,
    );
    let refused: Vec<_> = r
        .stats
        .health
        .iter()
        .filter(|h| h.plugin == "hostile" && h.event == HealthKind::PopulationRefused)
        .collect();
    assert!(!refused.is_empty(), "{:?}", r.stats.health);
    for h in &refused {
        assert_eq!(h.limit, Some(Failure::Snapshot), "{h:?}");
        assert!(h.message.contains("not exchanged"), "{}", h.message);
    }
    assert!(
        !r.stats
            .health
            .iter()
            .any(|h| h.event == HealthKind::Quarantined),
        "{:?}",
        r.stats.health
    );
    assert_eq!(r.stats.findings[hostile_index(&r)], 40);
    assert_builtins_saw_everything(&r);
}

/// A plugin whose scores say nothing on this log (50 for everyone, every
/// batch) is read, from its fourth user on, at the share of the day's
/// users it reaches (almost nothing), so it neither alerts on the
/// organisation nor holds it out of learning; its findings and the
/// summary say so.
#[test]
fn a_detector_every_ordinary_user_reaches_is_read_at_their_rate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = crate::util::ueba(&[
        "gen",
        "--shape",
        "workstation",
        "--users",
        "200",
        "--days",
        "21",
        "--seed",
        "3",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let cfg = d.join("ueba.toml");
    std::fs::write(&cfg, "[detectors.hostile]\nmode = \"alarmist\"\n").unwrap();
    let findings = d.join("findings.jsonl");
    let plugins = fixture_dir();
    let out = crate::util::ueba(&[
        "score",
        d.join("events.jsonl").to_str().unwrap(),
        "-i",
        d.join("identities.csv").to_str().unwrap(),
        "-c",
        cfg.to_str().unwrap(),
        "-p",
        plugins.to_str().unwrap(),
        "-o",
        d.join("alerts.jsonl").to_str().unwrap(),
        "--findings",
        findings.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&findings)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hostile: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["detector"] == "hostile")
        .collect();
    let first = hostile.first().expect("the fixture finds");
    assert_eq!(first["score"], 50.0);
    assert!(first.get("tail").is_none(), "{first}");
    let read = hostile.last().unwrap();
    assert!(read["score"].as_f64().unwrap() < 5.0, "{read}");
    assert_eq!(read["tail"]["detector_score"], 50.0, "{read}");
    assert!(read["tail"]["users"].as_u64().unwrap() > 3, "{read}");
    // The summary counts them.
    let read_lower = hostile.iter().filter(|r| r.get("tail").is_some()).count();
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains(&format!(
            "hostile {} ({read_lower} read lower by its tail on this log)",
            hostile.len()
        )),
        "{summary}"
    );
    // The organisation is neither alerted on nor kept from learning: about
    // the alerts of the built-in detectors alone, and few events held.
    let alone = crate::util::ueba(&[
        "score",
        d.join("events.jsonl").to_str().unwrap(),
        "-i",
        d.join("identities.csv").to_str().unwrap(),
    ]);
    assert!(alone.status.success());
    let lines = |b: &[u8]| String::from_utf8_lossy(b).lines().count();
    let with_plugin = lines(&std::fs::read(d.join("alerts.jsonl")).unwrap());
    assert!(
        with_plugin <= lines(&alone.stdout) + 2,
        "{with_plugin} alerts with the plugin, {} without",
        lines(&alone.stdout)
    );
    let held: usize = summary
        .lines()
        .find_map(|l| l.split("scored but not learned: ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .expect("the summary counts held events");
    assert!(held < 1000, "{held} events held out of learning of 13,714");
}
