use super::*;

const MIB: usize = 1 << 20;

#[test]
fn a_cheap_snapshot_is_always_due() {
    let mut s = SnapshotSchedule::default();
    assert!(s.due(), "the first snapshot is taken on schedule");
    s.taken(Duration::from_millis(1), 10 * MIB);
    assert!(s.due());
}

#[test]
fn a_costly_snapshot_waits_for_ten_times_its_cost_in_scoring() {
    let mut s = SnapshotSchedule::default();
    s.taken(Duration::from_secs(2), 300 * MIB);
    s.observing = Duration::from_secs(19);
    assert!(!s.due(), "19 s of scoring does not pay for a 2 s snapshot");
    s.observing = Duration::from_secs(20);
    assert!(s.due());
}

#[test]
fn replay_never_outgrows_the_snapshot_it_follows() {
    let mut s = SnapshotSchedule::default();
    s.taken(Duration::from_secs(2), 300 * MIB);
    s.replay_bytes = 300 * MIB - 1;
    assert!(!s.due());
    s.replay_bytes = 300 * MIB;
    assert!(s.due(), "recovery must not hold more than twice the state");
}

#[test]
fn after_a_restore_the_next_snapshot_measures_its_cost() {
    let s = SnapshotSchedule::after(300 * MIB);
    assert!(s.due(), "a resumed run takes its next snapshot on schedule");
    assert_eq!(s.size, 300 * MIB);
}

#[test]
fn every_health_kind_is_written_as_its_label() {
    for kind in HealthKind::ALL {
        let written = serde_json::to_string(&kind).unwrap();
        assert_eq!(written, format!("\"{}\"", kind.as_str()));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    let mut labels: Vec<&str> = HealthKind::ALL.iter().map(|k| k.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), HealthKind::ALL.len());
}

#[test]
fn a_health_event_is_written_as_one_json_line_in_field_order() {
    let mut h = HealthEvent::new(
        "volume",
        HealthKind::RetryFailed,
        Some(Failure::Time),
        "ran past 50 ms".into(),
    )
    .at_batch(3, 100, 5);
    h.time = "2026-01-02T03:04:05Z".into();
    assert_eq!(
        serde_json::to_string(&h).unwrap(),
        r#"{"type":"health","time":"2026-01-02T03:04:05Z","plugin":"volume","event":"retry_failed","limit":"time","batch":3,"first_event":100,"events":5,"message":"ran past 50 ms"}"#
    );
    let mut h = HealthEvent::new("hostile", HealthKind::LoadFailed, None, "bad".into());
    h.time = "2026-01-02T03:04:05Z".into();
    assert_eq!(
        serde_json::to_string(&h).unwrap(),
        r#"{"type":"health","time":"2026-01-02T03:04:05Z","plugin":"hostile","event":"load_failed","batch":0,"first_event":0,"events":0,"message":"bad"}"#
    );
}
