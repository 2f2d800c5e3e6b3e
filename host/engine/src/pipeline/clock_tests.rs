use super::*;

const DAY: i64 = 86_400_000;
const J: i64 = 7 * DAY;

/// An event of user `user`.
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

/// What the guard made of a log, driven as the scorer drives it.
#[derive(Debug, Default)]
struct Run {
    /// Users (here: event ids) let through, in order.
    passed: Vec<u32>,
    /// Ids refused.
    refused: Vec<u32>,
    /// Events waiting when the input ended.
    waiting_at_end: usize,
}

/// Drive the guard over events (time, id), each id its own user unless
/// `user` says otherwise; go idle after the event at `idle_after`.
fn drive(events: &[(i64, u32)], user: impl Fn(u32) -> u32, idle_after: Option<usize>) -> Run {
    let mut clock = Clock::default();
    let mut newest: Option<i64> = None;
    let mut run = Run::default();
    let take = |out: &mut Vec<Decision>, newest: &mut Option<i64>, run: &mut Run| {
        for d in out.drain(..) {
            match d {
                Decision::Pass(t, e) => {
                    *newest = Some(newest.map_or(t, |n| n.max(t)));
                    run.passed.push(e.offset as u32);
                }
                Decision::Refuse(_, e) => run.refused.push(e.offset as u32),
            }
        }
    };
    let mut out = Vec::new();
    for (i, &(t, id)) in events.iter().enumerate() {
        let e = Compact {
            offset: id as i32,
            ..ev(user(id))
        };
        if clock.in_step(J, newest, t) {
            out.push(Decision::Pass(t, e));
        } else {
            clock.out_of_step(J, newest, t, e, &mut out);
        }
        take(&mut out, &mut newest, &mut run);
        if idle_after == Some(i) {
            clock.idle(J, newest, &mut out);
            take(&mut out, &mut newest, &mut run);
        }
    }
    run.waiting_at_end = clock.waiting();
    clock.end(J, newest, &mut out);
    take(&mut out, &mut newest, &mut run);
    assert_eq!(clock.refused as usize, run.refused.len());
    run
}

fn own(id: u32) -> u32 {
    id
}

/// A steady log: one event an hour from `start`, ids from `first`.
fn steady(start: i64, first: u32, n: u32) -> Vec<(i64, u32)> {
    (0..n)
        .map(|i| (start + i64::from(i) * 3_600_000, first + i))
        .collect()
}

fn ids(r: std::ops::Range<u32>) -> Vec<u32> {
    r.collect()
}

#[test]
fn an_ordinary_log_passes_whole_and_in_order() {
    let run = drive(&steady(100 * DAY, 0, 500), own, None);
    assert_eq!(run.passed, ids(0..500));
    assert!(run.refused.is_empty());
}

#[test]
fn lines_dated_a_year_early_ahead_of_the_log_are_refused_even_from_two_users() {
    let mut log = vec![
        (100 * DAY - 365 * DAY, 998),
        (100 * DAY - 365 * DAY + 1000, 999),
    ];
    log.extend(steady(100 * DAY, 0, 50));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..50));
    assert_eq!(run.refused, [998, 999]);
    assert_eq!(run.waiting_at_end, 2, "they waited to the end");
}

#[test]
fn many_lines_of_a_clock_never_set_do_not_make_themselves_the_start() {
    // A sorted export: nineteen users' events stamped 1970-01-01T00:00:00
    // come first, more than half of the events the start is decided on.
    let mut log: Vec<(i64, u32)> = (900..919).map(|id| (0, id)).collect();
    log.extend(steady(20_000 * DAY, 0, 50));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..50));
    assert_eq!(run.refused, ids(900..919));
    // Had they been spread over time as a log is, they would have been
    // the stream: the rule weighs distinct times, not a kind of line.
    let mut log: Vec<(i64, u32)> = (900..919).map(|id| (i64::from(id), id)).collect();
    log.extend(steady(20_000 * DAY, 0, 13));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(900..919));
    assert_eq!(run.refused, ids(0..13));
}

#[test]
fn an_event_years_ahead_in_the_middle_is_refused() {
    let mut log = steady(100 * DAY, 0, 40);
    log.push((100 * DAY + 3000 * DAY, 999));
    log.extend(steady(102 * DAY, 40, 20));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..60));
    assert_eq!(run.refused, [999]);
}

#[test]
fn a_log_resuming_after_a_long_outage_passes_with_its_first_event_one_step_late() {
    let mut log = steady(100 * DAY, 0, 40);
    log.extend(steady(160 * DAY, 40, 10));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..50));
    assert!(run.refused.is_empty());
}

#[test]
fn a_backlog_delivered_late_passes_once_two_of_it_agree() {
    let mut log = steady(100 * DAY, 0, 40);
    log.extend(steady(60 * DAY, 40, 5));
    log.extend(steady(102 * DAY, 45, 5));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..50));
    assert!(run.refused.is_empty());
}

#[test]
fn a_short_log_decides_its_start_at_its_end_or_when_idle() {
    // Three events, the second an outlier: the other two are the stream.
    let log = [(100 * DAY, 0), (900 * DAY, 1), (100 * DAY + 60_000, 2)];
    let run = drive(&log, own, None);
    assert_eq!((run.passed, run.refused), (vec![0, 2], vec![1]));
    // Idle after the first two: the start is decided on them.
    let log = [(5 * DAY, 0), (5 * DAY + 1000, 1), (5 * DAY + 2000, 2)];
    let run = drive(&log, own, Some(1));
    assert_eq!((run.passed, run.refused), (vec![0, 1, 2], vec![]));
}

#[test]
fn a_short_log_longer_than_the_jump_passes_whole() {
    // Twenty events, one every two days: fewer than the start is decided
    // on, spanning forty days, so the start is decided at the end; the log
    // is one stream however far its ends are apart, not a week of it.
    let log: Vec<(i64, u32)> = (0..20).map(|i| (i64::from(i) * 2 * DAY, i)).collect();
    let run = drive(&log, |_| 1, None);
    assert_eq!(run.passed, ids(0..20));
    assert!(run.refused.is_empty());
}

#[test]
fn without_a_stream_to_stand_out_from_nothing_is_refused() {
    let run = drive(&[(5 * DAY, 0)], own, None);
    assert_eq!((run.passed, run.refused), (vec![0], vec![]));
    let log: Vec<(i64, u32)> = (0..5).map(|i| (i64::from(i) * 30 * DAY, i)).collect();
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..5));
    assert!(run.refused.is_empty());
}

#[test]
fn a_sparse_log_is_not_taken_for_a_string_of_outliers() {
    // One user's audit trail, an event every 8 days: however long it is,
    // every event is scored.
    for n in [10, START_EVENTS as u32 + 1, 1025, 3000] {
        let log: Vec<(i64, u32)> = (0..n).map(|i| (i64::from(i) * 8 * DAY, i)).collect();
        let run = drive(&log, |_| 1, None);
        assert_eq!(run.passed, ids(0..n), "{n} events");
        assert!(run.refused.is_empty(), "{n} events");
    }
    // ... while a year's jump in it still stands out.
    let mut log: Vec<(i64, u32)> = (0..100).map(|i| (i64::from(i) * 8 * DAY, i)).collect();
    log.insert(60, (60 * 8 * DAY + 2000 * DAY, 999));
    let run = drive(&log, |_| 1, None);
    assert_eq!(run.refused, [999]);
}

#[test]
fn one_users_few_events_do_not_confirm_each_other() {
    // A workstation whose clock was reset: its user's events all dated
    // years back, in the middle of the log.
    let mut log = steady(100 * DAY, 0, 40);
    log.extend((0..MIN_RUN as u32 - 1).map(|i| (i64::from(i) * 1000, 900 + i)));
    log.extend(steady(102 * DAY, 40, 10));
    let run = drive(&log, |id| if id >= 900 { 7 } else { id }, None);
    assert_eq!(run.passed, ids(0..50));
    assert_eq!(run.refused, ids(900..900 + MIN_RUN as u32 - 1));
}

#[test]
fn one_users_log_resuming_after_an_outage_passes_after_a_run() {
    let mut log: Vec<(i64, u32)> = (0..40)
        .map(|i| (100 * DAY + i64::from(i) * 60_000, i))
        .collect();
    log.extend((0..MIN_RUN as u32 + 2).map(|i| (200 * DAY + i64::from(i) * 60_000, 40 + i)));
    let run = drive(&log, |_| 1, None);
    assert_eq!(run.passed, ids(0..40 + MIN_RUN as u32 + 2));
    assert!(run.refused.is_empty());
}

#[test]
fn at_most_max_waiting_wait_and_the_oldest_is_refused() {
    let mut log = steady(100 * DAY, 0, 40);
    // Outliers years apart: none confirms another.
    log.extend(
        (0..MAX_WAITING as u32 + 5).map(|i| (5000 * DAY + i64::from(i) * 400 * DAY, 100 + i)),
    );
    let mut clock = Clock::default();
    let mut out = Vec::new();
    let mut newest = None;
    for &(t, id) in &log {
        let mut e = ev(id);
        e.offset = id as i32;
        if clock.in_step(J, newest, t) {
            newest = Some(newest.map_or(t, |n: i64| n.max(t)));
        } else {
            clock.out_of_step(J, newest, t, e, &mut out);
            for d in &out {
                if let Decision::Pass(t, _) = d {
                    newest = Some(newest.map_or(*t, |n: i64| n.max(*t)));
                }
            }
            out.retain(|d| matches!(d, Decision::Refuse(..)));
        }
        assert!(clock.waiting() <= MAX_WAITING);
    }
    let refused: Vec<i32> = out
        .iter()
        .map(|d| match d {
            Decision::Refuse(_, e) => e.offset,
            Decision::Pass(..) => unreachable!(),
        })
        .collect();
    assert_eq!(refused, [100, 101, 102, 103, 104]);
}

#[test]
fn off_lets_everything_through() {
    let mut clock = Clock::default();
    assert!(clock.in_step(0, None, 0));
    assert!(clock.in_step(0, Some(0), 1_000 * DAY));
}

#[test]
fn two_users_lines_far_ahead_do_not_move_the_stream() {
    let mut log = steady(100 * DAY, 0, 40);
    log.push((500 * DAY, 998));
    log.push((500 * DAY + 3_600_000, 999));
    log.extend(steady(102 * DAY, 40, 20));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..60));
    assert_eq!(run.refused, [998, 999]);
}

#[test]
fn lines_of_one_instant_far_ahead_do_not_move_the_stream() {
    // Twenty users' lines stamped with one instant 74 years ahead (a stuck
    // clock, or a client sending them), then the log goes on.
    let mut log = steady(100 * DAY, 0, 40);
    log.extend((900..920).map(|id| (27_000 * DAY, id)));
    log.extend(steady(102 * DAY, 40, 20));
    let run = drive(&log, own, None);
    assert_eq!(run.passed, ids(0..60));
    assert_eq!(run.refused, ids(900..920));
    // The same twenty a minute apart are a log resuming there.
    let mut log = steady(100 * DAY, 0, 40);
    log.extend((0..20).map(|i| (27_000 * DAY + i64::from(i) * 60_000, 900 + i)));
    let run = drive(&log, own, None);
    assert!(run.refused.is_empty(), "{:?}", run.refused);
    assert_eq!(run.passed.len(), 60);
    // And very many of one instant are believed.
    let mut log = steady(100 * DAY, 0, 40);
    log.extend((0..STUCK_RUN as u32).map(|i| (27_000 * DAY, 1000 + i)));
    let run = drive(&log, own, None);
    assert!(run.refused.is_empty());
}
