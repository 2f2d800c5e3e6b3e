//! The scoring pipeline: ordering rule, late events, determinism.

use ueba_engine::config::Config;
use ueba_engine::identity::Identities;
use ueba_lab::generator::{GenConfig, generate};

use crate::util::{event, read_events, score_events};

const MIN: i64 = 60_000;

#[test]
fn events_within_the_lateness_window_are_reordered_not_counted_late() {
    let t0 = 1_767_600_000_000;
    let events = vec![
        event(t0 + 10 * MIN, "a", "t", 1),
        event(t0, "a", "t", 1),            // 10 minutes behind: reordered
        event(t0 + 30 * MIN, "a", "t", 1), // releases both earlier events
        event(t0 + 5 * MIN, "b", "t", 1),  // older than what was scored: late
        event(t0 + 29 * MIN, "b", "t", 1), // behind the newest, but not late
    ];
    let mut cfg = Config::default();
    cfg.input.max_lateness_secs = 15 * 60;
    let (report, _) = score_events(cfg, Identities::default(), &events);
    assert_eq!(report.stats.events, 5);
    assert_eq!(report.stats.late, 1);
}

/// A generated 60-user, 21-day database organisation: its identities and
/// its events in order.
fn org_60x21() -> (Identities, Vec<ueba_engine::event::AccessEvent>) {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(
        &GenConfig {
            users: 60,
            days: 21,
            seed: 3,
            ..GenConfig::default()
        },
        dir.path(),
        &mut |_, _| {},
    )
    .unwrap();
    let ids = Identities::load(&summary.identities_path).unwrap();
    (ids, read_events(&summary.events_path))
}

#[test]
fn shuffling_within_the_lateness_window_changes_no_alert() {
    let (ids, sorted) = org_60x21();
    // Deterministic local disorder: swap neighbours less than a minute apart.
    let mut shuffled = sorted.clone();
    let mut i = 0;
    while i + 1 < shuffled.len() {
        if shuffled[i + 1].time_ms - shuffled[i].time_ms < MIN && i % 3 == 0 {
            shuffled.swap(i, i + 1);
        }
        i += 1;
    }
    assert_ne!(sorted, shuffled, "the shuffle must change the order");
    let (r1, a1) = score_events(Config::default(), ids.clone(), &sorted);
    let (r2, a2) = score_events(Config::default(), ids, &shuffled);
    assert_eq!(r2.stats.late, 0);
    assert_eq!(a1, a2);
    assert_eq!(r1.stats.findings, r2.stats.findings);
}

#[test]
fn replaying_the_same_log_gives_the_same_alerts() {
    let t0 = 1_767_600_000_000;
    let mut events = Vec::new();
    for d in 0..20 {
        for q in 0..20 {
            events.push(event(
                t0 + d * 86_400_000 + q * 10 * MIN,
                "a",
                "support.tickets",
                3,
            ));
        }
    }
    events.push(event(
        t0 + 20 * 86_400_000,
        "a",
        "support.customers",
        68_000,
    ));
    let (_, a1) = score_events(Config::default(), Identities::default(), &events);
    let (_, a2) = score_events(Config::default(), Identities::default(), &events);
    assert!(!a1.is_empty(), "the bulk read alerts");
    assert_eq!(a1, a2);
}

#[test]
fn one_event_dated_far_from_the_log_is_refused_instead_of_moving_its_clock() {
    let (ids, clean) = org_60x21();
    // A line a year early ahead of the log (a reset clock) and one decades
    // ahead in its middle (a mistyped year).
    let mut early = clean[0].clone();
    early.time_ms -= 365 * 86_400_000;
    let mut ahead = clean[clean.len() / 2].clone();
    ahead.time_ms += 30 * 365 * 86_400_000;
    let mut dirty = vec![early];
    dirty.extend_from_slice(&clean[..clean.len() / 2]);
    dirty.push(ahead);
    dirty.extend_from_slice(&clean[clean.len() / 2..]);

    let (r_clean, a_clean) = score_events(Config::default(), ids.clone(), &clean);
    let (r_dirty, a_dirty) = score_events(Config::default(), ids.clone(), &dirty);
    assert_eq!(r_dirty.stats.time_outliers, 2);
    assert_eq!(r_dirty.stats.events, r_clean.stats.events + 2);
    assert_eq!(a_dirty, a_clean, "the two lines changed the alerts");
    let first = r_dirty.stats.time_outlier_first.as_deref().unwrap();
    assert!(first.contains("days before"), "{first}");

    // Without the guard, the early line ends every learning period at once.
    let mut off = Config::default();
    off.input.max_time_jump_days = 0;
    let (r_off, a_off) = score_events(off, ids, &dirty);
    assert_eq!(r_off.stats.time_outliers, 0);
    assert!(
        a_off.len() > a_clean.len() * 2,
        "{} alerts without the guard, {} clean",
        a_off.len(),
        a_clean.len()
    );
}

/// A support agent's weekly census of an analytics table (30 reads of 400
/// rows every Wednesday from the third week), among 20 agents who read
/// their own tables on weekdays and 5 analysts who read analytics. The
/// census alerts, and the host holds the agent out of learning for the
/// episode; the detectors keep what they held and learn it once the
/// episode is over, so the routine becomes the agent's normal: the last
/// three censuses of six alert nothing. (When held days were dropped, the
/// agent alerted at every census.)
#[test]
fn a_routine_that_alerts_is_learned_once_its_episodes_end() {
    const DAY: i64 = 86_400_000;
    const MINUTE: i64 = 60_000;
    // Monday 2026-01-05T00:00Z.
    let t0 = 1_767_571_200_000;
    let mut rng = 5u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut events = Vec::new();
    for day in (0..56).filter(|d| d % 7 < 5) {
        for u in 0..25 {
            let analyst = u >= 20;
            let (name, group) = if analyst {
                (format!("analyst{u}"), "analytics")
            } else {
                (format!("agent{u}"), "support")
            };
            let n = if analyst { 8 + next(5) } else { 25 + next(11) };
            for _ in 0..n {
                let t = t0 + day * DAY + 9 * 60 * MINUTE + next(8 * 60) as i64 * MINUTE;
                let (table, rows) = match (analyst, next(2)) {
                    (true, 0) => ("analytics.sales", 5_000 + next(45_000)),
                    (true, _) => ("analytics.events", 5_000 + next(45_000)),
                    (false, 0) => ("support.tickets", 1 + next(80)),
                    (false, _) => ("support.customers", 1 + next(80)),
                };
                let mut e = event(t, &name, table, rows);
                e.peer_group = Some(group.into());
                events.push(e);
            }
        }
        if day % 7 == 2 && day >= 14 {
            for i in 0..30 {
                let mut e = event(
                    t0 + day * DAY + 10 * 60 * MINUTE + i * MINUTE,
                    "agent3",
                    "analytics.sales",
                    400,
                );
                e.peer_group = Some("support".into());
                events.push(e);
            }
        }
    }
    events.sort_by_key(|e| e.time_ms);
    let (_, alerts) = score_events(Config::default(), Identities::default(), &events);
    let census_days: Vec<String> = alerts
        .iter()
        .filter(|a| a.user == "agent3")
        .map(|a| a.time[..10].to_string())
        .collect();
    assert!(
        census_days.first().is_some_and(|d| d == "2026-01-21"),
        "the first census alerts: {census_days:?}"
    );
    assert!(
        census_days.iter().all(|d| d.as_str() < "2026-02-11"),
        "the last three censuses are the agent's normal: {census_days:?}"
    );
    assert!(
        alerts.iter().all(|a| a.user == "agent3"),
        "nobody else alerts: {:?}",
        alerts.iter().map(|a| &a.user).collect::<Vec<_>>()
    );
}
