use super::*;

const DAY: i64 = 86_400_000;
const J: i64 = 7 * DAY;

/// An event told apart by its user id.
fn ev(user: u32) -> Compact {
    Compact {
        offset: 0,
        user,
        peer: None,
        action: 0,
        resource: 0,
        source: None,
        rows: 1,
        bytes: None,
        outcome: 0,
    }
}

/// The guard as the scorer drives it: events (time, id) in; the ids let
/// through in order, and the ids refused, after the input ends.
fn run(events: &[(i64, u32)], idle_after: Option<usize>) -> (Vec<u32>, Vec<u32>, usize) {
    let mut clock = Clock::default();
    let mut newest: Option<i64> = None;
    let (mut passed, mut refused) = (Vec::new(), Vec::new());
    let mut take = |out: Vec<Decision>, newest: &mut Option<i64>| {
        for d in out {
            match d {
                Decision::Pass(t, e) => {
                    *newest = Some(newest.map_or(t, |n| n.max(t)));
                    passed.push(e.user);
                }
                Decision::Refuse(_, e) => refused.push(e.user),
            }
        }
    };
    for (i, &(t, id)) in events.iter().enumerate() {
        if clock.in_step(J, newest, t) {
            take(vec![Decision::Pass(t, ev(id))], &mut newest);
        } else {
            let mut out = Vec::new();
            clock.out_of_step(J, newest, t, ev(id), &mut out);
            take(out, &mut newest);
        }
        if idle_after == Some(i) {
            let mut out = Vec::new();
            clock.idle(newest, &mut out);
            take(out, &mut newest);
        }
    }
    let waiting = clock.waiting();
    let mut out = Vec::new();
    clock.end(newest, &mut out);
    take(out, &mut newest);
    assert_eq!(clock.refused as usize, refused.len());
    (passed, refused, waiting)
}

/// A steady log: one event an hour from `start`, ids from `first` (each
/// event its own user).
fn steady(start: i64, first: u32, n: u32) -> Vec<(i64, u32)> {
    (0..n)
        .map(|i| (start + i64::from(i) * 3_600_000, first + i))
        .collect()
}

#[test]
fn an_ordinary_log_passes_whole_and_in_order() {
    let log = steady(100 * DAY, 0, 500);
    let (passed, refused, _) = run(&log, None);
    assert_eq!(passed, (0..500).collect::<Vec<_>>());
    assert!(refused.is_empty());
}

#[test]
fn a_first_event_a_year_early_is_refused_and_the_log_passes() {
    let mut log = vec![(100 * DAY - 365 * DAY, 999)];
    log.extend(steady(100 * DAY, 0, 50));
    let (passed, refused, waiting) = run(&log, None);
    assert_eq!(passed, (0..50).collect::<Vec<_>>());
    assert_eq!(refused, [999]);
    assert_eq!(waiting, 1, "it waited to the end");
}

#[test]
fn an_event_years_ahead_in_the_middle_is_refused() {
    let mut log = steady(100 * DAY, 0, 20);
    log.push((100 * DAY + 3000 * DAY, 999));
    log.extend(steady(101 * DAY, 20, 20));
    let (passed, refused, _) = run(&log, None);
    assert_eq!(passed, (0..40).collect::<Vec<_>>());
    assert_eq!(refused, [999]);
}

#[test]
fn a_log_resuming_after_a_long_outage_passes_with_its_first_event_one_step_late() {
    let mut log = steady(100 * DAY, 0, 10);
    log.extend(steady(160 * DAY, 10, 10));
    let (passed, refused, _) = run(&log, None);
    assert_eq!(passed, (0..20).collect::<Vec<_>>());
    assert!(refused.is_empty());
}

#[test]
fn a_backlog_delivered_late_passes_once_two_of_it_agree() {
    let mut log = steady(100 * DAY, 0, 10);
    log.extend(steady(60 * DAY, 10, 5));
    log.extend(steady(101 * DAY, 15, 5));
    let (passed, refused, _) = run(&log, None);
    assert_eq!(passed, (0..20).collect::<Vec<_>>());
    assert!(refused.is_empty());
}

#[test]
fn a_second_event_far_from_the_first_waits_until_the_third_decides() {
    // The first event is sound and the second is the outlier: the third
    // confirms the first.
    let log = [(100 * DAY, 0), (900 * DAY, 999), (100 * DAY + 60_000, 1)];
    let (passed, refused, _) = run(&log, None);
    assert_eq!(passed, [0, 1]);
    assert_eq!(refused, [999]);
}

#[test]
fn without_a_stream_to_stand_out_from_nothing_is_refused() {
    // One event, or events all far apart: there is no stream's time.
    let (passed, refused, _) = run(&[(5 * DAY, 0)], None);
    assert_eq!((passed, refused), (vec![0], vec![]));
    let log: Vec<(i64, u32)> = (0..5).map(|i| (i64::from(i) * 30 * DAY, i)).collect();
    let (passed, refused, _) = run(&log, None);
    assert_eq!(passed, [0, 1, 2, 3, 4]);
    assert!(refused.is_empty());
}

#[test]
fn idle_input_lets_a_lone_first_event_through() {
    let log = [(5 * DAY, 0), (5 * DAY + 1000, 1)];
    let (passed, refused, _) = run(&log, Some(0));
    assert_eq!((passed, refused), (vec![0, 1], vec![]));
}

#[test]
fn idle_input_keeps_an_outlier_waiting_once_the_stream_has_a_time() {
    let log = [(5 * DAY, 0), (5 * DAY + 1000, 1), (500 * DAY, 999)];
    let mut clock = Clock::default();
    let mut out = Vec::new();
    clock.out_of_step(J, Some(5 * DAY + 1000), log[2].0, ev(999), &mut out);
    clock.idle(Some(5 * DAY + 1000), &mut out);
    assert!(out.is_empty());
    assert_eq!(clock.waiting(), 1);
}

#[test]
fn at_most_max_waiting_wait_and_the_oldest_is_refused() {
    let mut log = steady(100 * DAY, 0, 3);
    // Outliers each a month apart: none confirms another.
    log.extend(
        (0..MAX_WAITING as u32 + 5).map(|i| (1000 * DAY + i64::from(i) * 30 * DAY, 100 + i)),
    );
    let mut clock = Clock::default();
    let mut out = Vec::new();
    for &(t, id) in &log[3..] {
        clock.out_of_step(J, Some(100 * DAY), t, ev(id), &mut out);
        assert!(clock.waiting() <= MAX_WAITING);
    }
    let refused: Vec<u32> = out
        .iter()
        .map(|d| match d {
            Decision::Refuse(_, e) => e.user,
            Decision::Pass(..) => panic!("an outlier passed"),
        })
        .collect();
    assert_eq!(refused, [100, 101, 102, 103, 104]);
}

#[test]
fn one_users_few_events_do_not_confirm_each_other() {
    // A workstation whose clock was reset: its user's events all dated
    // 1970, ahead of the log.
    let mut clock = Clock::default();
    let mut out = Vec::new();
    for i in 0..MIN_RUN as i64 - 1 {
        clock.out_of_step(J, None, i * 1000, ev(7), &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    let mut log: Vec<(i64, u32)> = Vec::new();
    let mut passed = Vec::new();
    let mut newest = None;
    for (t, id) in steady(100 * DAY, 0, 10) {
        log.push((t, id));
        if clock.in_step(J, newest, t) {
            passed.push(id);
        } else {
            clock.out_of_step(J, newest, t, ev(id), &mut out);
        }
        for d in out.drain(..) {
            if let Decision::Pass(t, e) = d {
                newest = Some(newest.map_or(t, |n: i64| n.max(t)));
                passed.push(e.user);
            }
        }
    }
    assert_eq!(passed, (0..10).collect::<Vec<_>>());
    clock.end(newest, &mut out);
    assert_eq!(out.len(), MIN_RUN - 1);
    assert!(
        out.iter()
            .all(|d| matches!(d, Decision::Refuse(_, e) if e.user == 7))
    );
}

#[test]
fn one_users_log_resuming_after_an_outage_passes_after_a_run() {
    let mut events: Vec<(i64, Compact)> =
        (0..10).map(|i| (100 * DAY + i * 60_000, ev(1))).collect();
    events.extend((0..MIN_RUN as i64 + 2).map(|i| (200 * DAY + i * 60_000, ev(1))));
    let mut clock = Clock::default();
    let (mut newest, mut passed, mut out) = (None, 0, Vec::new());
    for (t, e) in events {
        if clock.in_step(J, newest, t) {
            newest = Some(newest.map_or(t, |n: i64| n.max(t)));
            passed += 1;
        } else {
            clock.out_of_step(J, newest, t, e, &mut out);
        }
        for d in out.drain(..) {
            let Decision::Pass(t, _) = d else {
                panic!("refused")
            };
            newest = Some(newest.map_or(t, |n: i64| n.max(t)));
            passed += 1;
        }
    }
    assert_eq!(passed, 10 + MIN_RUN + 2);
}

#[test]
fn off_lets_everything_through() {
    let mut clock = Clock::default();
    assert!(clock.in_step(0, None, 0));
    assert!(clock.in_step(0, Some(0), 1_000 * DAY));
}
