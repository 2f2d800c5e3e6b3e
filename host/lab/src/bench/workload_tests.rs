use super::*;

fn spec(users: u32, events: u64) -> Spec {
    Spec {
        users,
        events,
        days: 14,
        seed: 7,
    }
}

#[test]
fn is_deterministic_sorted_and_covers_every_user() {
    let a = Workload::synthesise(spec(300, 5_000)).expect("workload");
    let b = Workload::synthesise(spec(300, 5_000)).expect("workload");
    assert_eq!(a.events, b.events);
    assert!(a.events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
    let mut seen = vec![false; 300];
    for e in &a.events {
        seen[e.user as usize] = true;
    }
    assert!(seen.iter().all(|s| *s));
    assert!(a.warm() > 0 && a.warm() < a.len());
}

#[test]
fn jsonl_parses_to_the_same_events() {
    let w = Workload::synthesise(spec(20, 500)).expect("workload");
    for (i, line) in w.jsonl().lines().enumerate() {
        let parsed =
            ueba_formats::sources::native::parse_line(line, i as u64 + 1).expect("valid line");
        assert_eq!(Some(parsed), w.access_event(i));
    }
}

#[test]
fn batches_carry_each_symbol_once() {
    let w = Workload::synthesise(spec(50, 2_000)).expect("workload");
    let enc = w.encode();
    let mut sent = 0;
    let mut total = 0;
    for start in (0..enc.events.len()).step_by(64) {
        let end = (start + 64).min(enc.events.len());
        let s = enc.symbols_for(sent, end);
        total += s.len();
        sent += s.len();
    }
    assert_eq!(total, enc.symbols.len());
}

#[test]
fn refuses_a_workload_without_users_or_past_learning() {
    assert!(Workload::synthesise(spec(0, 10)).is_err());
    assert!(
        Workload::synthesise(Spec {
            days: LEARNING_DAYS,
            ..spec(1, 10)
        })
        .is_err()
    );
}
