use super::*;
use ueba_engine::event::AccessEvent;
use ueba_engine::identity::Identities;
use ueba_engine::sandbox::plugins::{HealthEvent, HealthKind};
use ueba_engine::sandbox::wit;
use ueba_test_support::{builtin, event, fixture, rebuilt};

fn config(text: &str) -> Config {
    Config::parse(text, Path::new("test.toml")).unwrap()
}

fn ev(i: i64, rows: u64) -> AccessEvent {
    AccessEvent {
        source: None,
        ..event(
            1_767_600_000_000 + i * 60_000,
            &format!("u{}", i % 3),
            "support.tickets",
            rows,
        )
    }
}

fn batch(first: u64, n: u64) -> wit::Batch {
    wit::Batch {
        symbols: Vec::new(),
        events: (first..first + n)
            .map(|seq| ueba_engine::sandbox::Event {
                seq,
                time_ms: 1_767_600_000_000 + seq as i64 * 60_000,
                utc_offset_minutes: 0,
                user: 0,
                peer_group: None,
                manager: None,
                action: 0,
                resource: 0,
                source: None,
                rows: 3,
                bytes: None,
                outcome: ueba_engine::event::Outcome::Success,
                learn: true,
            })
            .collect(),
    }
}

fn batches_evidence(findings: &[wit::Finding]) -> i64 {
    let f = findings.first().expect("a finding");
    match f
        .evidence
        .iter()
        .find(|e| e.key == "batches")
        .map(|e| &e.value)
    {
        Some(wit::EvidenceValue::Integer(n)) => *n,
        other => panic!("no batches evidence: {other:?}"),
    }
}

/// A scorer on the built-ins and `dir`'s plugins that records plugin
/// health, as `ueba serve` starts one; with its runtime, to load the
/// versions a test swaps in.
fn scorer_in(
    dir: &Path,
    cfg: &Config,
) -> (Runtime, Scorer<Vec<ueba_engine::risk::aggregate::Alert>>) {
    let rt = Runtime::new(None).unwrap();
    let plugins = ueba_engine::sandbox::plugins::load(&rt, cfg, Some(dir)).unwrap();
    let scorer = Scorer::new(cfg.clone(), Identities::default(), plugins, Vec::new())
        .with_health(Box::new(Vec::<HealthEvent>::new()));
    (rt, scorer)
}

/// A tracker of `dir` that starts from what a start-up on it loads.
fn tracker(dir: &Path, cfg: Config) -> Tracker {
    let rt = Runtime::new(None).unwrap();
    let plugins = ueba_engine::sandbox::plugins::load(&rt, &cfg, Some(dir)).unwrap();
    Tracker::new(dir, Baseline::scan(dir).loaded(&plugins), rt, cfg)
}

/// A plugin directory holding the hostile fixture, and a config scoring in
/// batches of four with no reordering and no time guard (which holds a
/// run's first 32 events until it has seen where the log starts), so each
/// event goes to the batch as it is pushed.
fn hostile_dir() -> (tempfile::TempDir, Config, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[input]\nbatch_size = 4\nmax_lateness_secs = 0\nmax_time_jump_days = 0\n");
    let path = dir.path().join("hostile.wasm");
    std::fs::write(&path, fixture("hostile.wasm")).unwrap();
    (dir, cfg, path)
}

/// Version 2 of the hostile fixture at `path`, loaded as a watched
/// directory's new file would be.
fn hostile_v2(rt: &Runtime, cfg: &Config, path: &Path) -> LoadedPlugin {
    ueba_engine::sandbox::plugins::load_file(rt, cfg, path, &rebuilt(&fixture("hostile.wasm"), "2"))
        .unwrap()
        .unwrap()
}

fn hostile_file(dir: &Path, bytes: &[u8]) -> LoadedPlugin {
    let path = dir.join("hostile.wasm");
    std::fs::write(&path, bytes).unwrap();
    let rt = Runtime::new(None).unwrap();
    ueba_engine::sandbox::plugins::load_file(&rt, &Config::default(), &path, bytes)
        .unwrap()
        .unwrap()
}

#[test]
fn a_new_version_takes_over_the_state_or_starts_afresh_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = hostile_file(dir.path(), &fixture("hostile.wasm"));
    let mut sink: Vec<HealthEvent> = Vec::new();
    for b in 0..3 {
        old.observe(&batch(b * 4, 4), b + 1, &mut sink);
    }
    let mut new = hostile_file(dir.path(), &rebuilt(&fixture("hostile.wasm"), "2"));
    assert_eq!(new.take_over(&mut old), Handover::Carried);
    // The hostile fixture counts batches in its state: the new version
    // goes on counting from the old one's three.
    let ueba_engine::sandbox::plugins::BatchOutcome::Findings(f) =
        new.observe(&batch(12, 4), 4, &mut sink)
    else {
        panic!("observe failed")
    };
    assert_eq!(batches_evidence(&f), 4);
    assert!(sink.is_empty(), "{sink:?}");

    // Another detector's snapshot is refused: the new one starts afresh
    // on a clean instance, and says why.
    let rt = Runtime::new(None).unwrap();
    let mut volume = ueba_engine::sandbox::plugins::load_builtin(&rt, &Config::default(), "volume")
        .unwrap()
        .unwrap();
    let mut fresh = hostile_file(dir.path(), &fixture("hostile.wasm"));
    let Handover::Reset(why) = fresh.take_over(&mut volume) else {
        panic!("a foreign snapshot was accepted")
    };
    assert!(why.contains("refused the running version's state"), "{why}");
    let ueba_engine::sandbox::plugins::BatchOutcome::Findings(f) =
        fresh.observe(&batch(0, 4), 1, &mut sink)
    else {
        panic!("observe failed after a refused restore")
    };
    assert_eq!(batches_evidence(&f), 1);

    // A quarantined version has nothing to hand over.
    let mut gone = hostile_file(dir.path(), &fixture("hostile.wasm"));
    gone.quarantine();
    let mut next = hostile_file(dir.path(), &fixture("hostile.wasm"));
    let Handover::Reset(why) = next.take_over(&mut gone) else {
        panic!("state from a quarantined version")
    };
    assert!(why.contains("quarantined"), "{why}");
    assert!(!next.is_quarantined());
}

#[test]
fn the_scorer_swaps_detectors_at_a_batch_boundary_and_scores_every_event_once() {
    let (dir, cfg, path) = hostile_dir();
    let (rt, mut scorer) = scorer_in(dir.path(), &cfg);
    for i in 0..10 {
        scorer.push(&ev(i, 3)).unwrap();
    }
    // Two whole batches ran; two events wait in the batch being filled.
    assert_eq!(scorer.stats().batches, 2);
    let names = scorer.detector_names().to_vec();
    assert_eq!(
        names,
        [
            "volume",
            "off-hours",
            "novel-table",
            "new-source",
            "hostile"
        ]
    );
    let new_hostile = hostile_v2(&rt, &cfg, &path);
    let new_volume = ueba_engine::sandbox::plugins::load_builtin(&rt, &cfg, "volume")
        .unwrap()
        .unwrap();
    let changes = scorer
        .change_detectors(vec![
            Lineup::Keep("volume".into()),
            Lineup::Keep("novel-table".into()),
            Lineup::Start(Box::new(new_hostile)),
            // Already in the line-up: ignored.
            Lineup::Keep("hostile".into()),
            Lineup::Keep("no-such-detector".into()),
            Lineup::Start(Box::new(new_volume)),
        ])
        .unwrap();
    // The pending batch was scored by the old set first.
    assert_eq!(scorer.stats().batches, 3);
    assert_eq!(
        scorer.detector_names(),
        ["volume", "novel-table", "hostile"]
    );
    let kinds: Vec<(&str, String)> = changes
        .iter()
        .map(|c| match c {
            DetectorChange::Loaded { name, .. } => ("loaded", name.clone()),
            DetectorChange::Replaced { name, handover, .. } => {
                assert_eq!(*handover, Handover::Carried);
                ("replaced", name.clone())
            }
            DetectorChange::Removed { name, .. } => ("removed", name.clone()),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("replaced", "hostile".to_string()),
            ("removed", "off-hours".to_string()),
            ("removed", "new-source".to_string()),
        ]
    );
    // Counts follow their detectors.
    assert_eq!(scorer.stats().findings.len(), 3);
    assert_eq!(scorer.stats().batch_latency[2].count(), 3);
    assert_eq!(
        scorer.stats().findings[2],
        3,
        "hostile: one finding a batch"
    );
    for i in 10..21 {
        scorer.push(&ev(i, 3)).unwrap();
    }
    let (report, _) = scorer.finish().unwrap();
    let s = &report.stats;
    assert_eq!(s.events, 21);
    // 21 events in batches of 4, cut at every fourth event of the
    // sequence: after the change's short batch (events 8 and 9), 10 and 11
    // end that block, then 12–15, 16–19 and 20 alone: 7 batches.
    assert_eq!(s.batches, 7);
    // Every batch went to exactly one hostile version, and every event
    // with it: one finding and one observe call per batch.
    assert_eq!(s.findings[2], 7);
    assert_eq!(s.batch_latency[2].count(), 7);
    assert_eq!(s.events_missed_by_failed, 0);
    assert_eq!(report.detectors, ["volume", "novel-table", "hostile"]);
}

#[test]
fn apply_reports_each_change_to_the_health_stream() {
    let dir = tempfile::tempdir().unwrap();
    // Without the time guard, which holds a run's first event until a
    // second confirms its time.
    let cfg = config("[input]\nmax_lateness_secs = 0\nmax_time_jump_days = 0\n");
    let (rt, mut scorer) = scorer_in(dir.path(), &cfg);
    // Released at once into the batch being filled.
    scorer.push(&ev(0, 3)).unwrap();
    assert_eq!(scorer.stats().batches, 0);
    let path = dir.path().join("hostile.wasm");
    let hostile =
        ueba_engine::sandbox::plugins::load_file(&rt, &cfg, &path, &fixture("hostile.wasm"))
            .unwrap()
            .unwrap();
    let reload = Reload {
        lineup: Some(vec![
            Lineup::Keep("volume".into()),
            Lineup::Keep("off-hours".into()),
            Lineup::Keep("novel-table".into()),
            Lineup::Start(Box::new(hostile)),
        ]),
        failures: vec![LoadFailure {
            plugin: "broken.wasm".into(),
            message: "broken.wasm was not loaded: junk".into(),
        }],
        notes: BTreeMap::from([("new-source".to_string(), "a note".to_string())]),
    };
    apply(&mut scorer, reload).unwrap();
    let health = &scorer.stats().health;
    let seen: Vec<(&str, HealthKind)> = health
        .iter()
        .map(|h| (h.plugin.as_str(), h.event))
        .collect();
    assert_eq!(
        seen,
        [
            ("broken.wasm", HealthKind::LoadFailed),
            ("hostile", HealthKind::Loaded),
            ("new-source", HealthKind::Removed)
        ]
    );
    // The one event pushed was scored by the old set before the change
    // (batch 1); the new detector's first event is the next one.
    assert_eq!((health[0].batch, health[0].first_event), (0, 1));
    assert!(
        health[1..]
            .iter()
            .all(|h| h.batch == 1 && h.first_event == 1)
    );
    assert_eq!(scorer.stats().events_missed_by_failed, 0);
    assert!(
        health[2].message.ends_with("; a note"),
        "{}",
        health[2].message
    );
    assert!(
        health[1].message.contains("hostile.wasm"),
        "{}",
        health[1].message
    );
}

/// The line-up a reload carries, as (kept or started, name).
fn shape(reload: &Reload) -> Vec<(&'static str, String)> {
    reload
        .lineup
        .as_ref()
        .expect("a new line-up")
        .iter()
        .map(|l| match l {
            Lineup::Keep(n) => ("keep", n.clone()),
            Lineup::Start(p) => ("start", p.name().to_string()),
        })
        .collect()
}

fn keep(names: &[&str]) -> Vec<(&'static str, String)> {
    names.iter().map(|n| ("keep", n.to_string())).collect()
}

#[test]
fn scanning_the_directory_follows_adds_changes_removals_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut t = tracker(d, Config::default());
    let builtins = ["volume", "off-hours", "novel-table", "new-source"];
    assert!(t.scan().is_none(), "nothing changed");

    // Added, with files that are not plugins beside it.
    std::fs::write(d.join("hostile.wasm"), fixture("hostile.wasm")).unwrap();
    std::fs::write(d.join("notes.txt"), "not a plugin").unwrap();
    std::fs::write(d.join(".hostile.wasm"), "half a copy").unwrap();
    std::fs::write(d.join("hostile.wasm.part"), "half a copy").unwrap();
    let r = t.scan().unwrap();
    let mut want = keep(&builtins);
    want.push(("start", "hostile".into()));
    assert_eq!(shape(&r), want);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert!(t.scan().is_none(), "a second look changes nothing");

    // Rewritten with the same bytes: nothing to do.
    std::fs::write(d.join("hostile.wasm"), fixture("hostile.wasm")).unwrap();
    assert!(t.scan().is_none());

    // Broken: reported, and the running version stays.
    std::fs::write(d.join("hostile.wasm"), b"\0asm junk").unwrap();
    let r = t.scan().unwrap();
    assert!(r.lineup.is_none());
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].plugin, "hostile");
    assert!(
        r.failures[0]
            .message
            .contains("not a valid detector component")
            && r.failures[0].message.contains("keeps scoring"),
        "{}",
        r.failures[0].message
    );
    assert!(t.scan().is_none(), "a failure is reported once");

    // Another contract, in a new file: nothing loaded from it.
    std::fs::write(d.join("liar.wasm"), fixture("contract-liar.wasm")).unwrap();
    let r = t.scan().unwrap();
    assert!(r.lineup.is_none());
    assert_eq!(r.failures[0].plugin, "liar.wasm");
    assert!(
        r.failures[0].message.contains("built for contract 0.6.0"),
        "{}",
        r.failures[0].message
    );

    // Fixed with a new build: started, replacing the running one.
    std::fs::write(
        d.join("hostile.wasm"),
        rebuilt(&fixture("hostile.wasm"), "2"),
    )
    .unwrap();
    let r = t.scan().unwrap();
    let mut want = keep(&builtins);
    want.push(("start", "hostile".into()));
    assert_eq!(shape(&r), want);

    // A second file for the same detector is refused.
    std::fs::write(
        d.join("z-hostile.wasm"),
        rebuilt(&fixture("hostile.wasm"), "3"),
    )
    .unwrap();
    let r = t.scan().unwrap();
    assert!(r.lineup.is_none());
    assert!(
        r.failures[0]
            .message
            .contains("are both detector `hostile`"),
        "{}",
        r.failures[0].message
    );
    std::fs::remove_file(d.join("z-hostile.wasm")).unwrap();
    assert!(t.scan().is_none());

    // A built-in replaced by a file moves to the files' place.
    std::fs::write(d.join("my-volume.wasm"), rebuilt(builtin("volume"), "2")).unwrap();
    let r = t.scan().unwrap();
    let mut want = keep(&builtins[1..]);
    want.push(("keep", "hostile".into()));
    want.push(("start", "volume".into()));
    assert_eq!(shape(&r), want);

    std::fs::remove_file(d.join("liar.wasm")).unwrap();
    assert!(t.scan().is_none());

    // Removed: hostile stops; the built-in volume runs again in its
    // own place.
    std::fs::remove_file(d.join("hostile.wasm")).unwrap();
    std::fs::remove_file(d.join("my-volume.wasm")).unwrap();
    let r = t.scan().unwrap();
    let mut want = vec![("start", "volume".to_string())];
    want.extend(keep(&builtins[1..]));
    assert_eq!(shape(&r), want);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    // The line-up is the one a restart on this directory loads.
    let restarted: Vec<String> =
        ueba_engine::sandbox::plugins::load(&t.runtime, &t.config, Some(d))
            .unwrap()
            .iter()
            .map(|p| p.name().to_string())
            .collect();
    assert_eq!(restarted, builtins);
}

#[test]
fn a_pinned_file_must_match_its_pin_and_its_removal_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = fixture("hostile.wasm");
    std::fs::write(d.join("hostile.wasm"), &good).unwrap();
    let cfg = config(&format!(
        "[pins]\n\"hostile.wasm\" = \"{}\"\n",
        sha256_hex(&good)
    ));
    let mut t = tracker(d, cfg);
    std::fs::write(d.join("hostile.wasm"), rebuilt(&good, "2")).unwrap();
    let r = t.scan().unwrap();
    assert!(r.lineup.is_none());
    assert!(
        r.failures[0].message.contains("[pins] requires"),
        "{}",
        r.failures[0].message
    );
    std::fs::remove_file(d.join("hostile.wasm")).unwrap();
    let r = t.scan().unwrap();
    assert_eq!(
        shape(&r),
        keep(&["volume", "off-hours", "novel-table", "new-source"])
    );
    assert!(r.notes["hostile"].contains("[pins] names hostile.wasm"));
}

#[test]
fn with_shards_every_shard_hands_its_own_state_to_the_new_version() {
    let (dir, cfg, path) = hostile_dir();
    let (rt, scorer) = scorer_in(dir.path(), &cfg);
    let mut scorer = scorer.with_shards(2).unwrap();
    let shards: Vec<usize> = (0..3)
        .map(|u| ueba_engine::pipeline::shard_of(&format!("u{u}"), 2))
        .collect();
    assert!(
        shards.contains(&0) && shards.contains(&1),
        "the test needs users in both shards: {shards:?}"
    );
    // Every batch of four consecutive events holds all three users, so
    // both shards' instances observe it: one hostile finding each.
    for i in 0..8 {
        scorer.push(&ev(i, 3)).unwrap();
    }
    // The shards observe while the scorer reads on: the last batch's
    // findings are counted once it is settled.
    scorer.settle().unwrap();
    let at = scorer
        .detector_names()
        .iter()
        .position(|n| n == "hostile")
        .unwrap();
    assert_eq!(scorer.stats().findings[at], 4);
    let new_hostile = hostile_v2(&rt, &cfg, &path);
    let changes = scorer
        .change_detectors(vec![
            Lineup::Keep("volume".into()),
            Lineup::Start(Box::new(new_hostile)),
        ])
        .unwrap();
    assert!(
        matches!(
            changes.first(),
            Some(DetectorChange::Replaced {
                handover: Handover::Carried,
                ..
            })
        ),
        "{changes:?}"
    );
    assert_eq!(scorer.shards(), 2);
    for i in 8..16 {
        scorer.push(&ev(i, 3)).unwrap();
    }
    let (report, _) = scorer.finish().unwrap();
    assert_eq!(report.stats.findings[1], 8, "two instances, four batches");
    assert_eq!(report.stats.events_missed_by_failed, 0);
    assert_eq!(report.stats.events, 16);
}
