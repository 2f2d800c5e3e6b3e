//! Behaviour tests, driving the detector through `Runtime` as the host does.

use ueba_sdk::{ConfigError, DAY_MS, Event, Finding, HOUR_MS, Runtime, SymbolKind, Value};

use crate::{OffHours, TeamDays};

/// 2024-01-01T00:00Z, a Monday; day 5 is a Saturday, day 6 a Sunday.
const T0: i64 = 1_704_067_200_000;
const SUPPORT: u32 = 0;
const DBA: u32 = 1;
const NIGHT: u32 = 2;
const ROTA: u32 = 3;

/// xorshift64*: a tiny deterministic generator, so histories are fixed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn runtime() -> Runtime<OffHours> {
    let mut rt = Runtime::<OffHours>::default();
    let s = rt.symbols_mut();
    for u in 0..64u32 {
        s.insert(SymbolKind::User, u, format!("user{u}"));
    }
    s.insert(SymbolKind::PeerGroup, SUPPORT, "tier1-support");
    s.insert(SymbolKind::PeerGroup, DBA, "dba");
    s.insert(SymbolKind::PeerGroup, NIGHT, "night-ops");
    s.insert(SymbolKind::PeerGroup, ROTA, "emergency-rota");
    s.insert(SymbolKind::Resource, 0, "support.customers");
    rt
}

fn group_of(user: u32) -> u32 {
    match user {
        10..20 => DBA,
        20..25 => NIGHT,
        45..60 => ROTA,
        _ => SUPPORT,
    }
}

/// Days are counted from `T0`, a Monday.
fn is_weekend(day: i64) -> bool {
    day.rem_euclid(7) >= 5
}

/// `n` events spread over hour `hour` of `day` (which may be 24+).
fn session(user: u32, day: i64, hour: i64, n: u64, rng: &mut Rng) -> Vec<Event> {
    (0..n)
        .map(|_| Event {
            time_ms: T0 + day * DAY_MS + hour * HOUR_MS + rng.below(HOUR_MS as u64) as i64,
            user,
            peer_group: Some(group_of(user)),
            ..Event::default()
        })
        .collect()
}

/// One ordinary day for `user`: support 09–17 on weekdays; DBAs the same
/// plus maintenance every Sunday 01–03; night ops 22–06 from weekday
/// evenings. Each active hour has 1–7 events.
fn ordinary_day(rng: &mut Rng, user: u32, day: i64) -> Vec<Event> {
    let mut out = Vec::new();
    let hours: Vec<i64> = match group_of(user) {
        NIGHT if !is_weekend(day) => (22..30).collect(),
        DBA if day.rem_euclid(7) == 6 => (1..3).collect(),
        _ if !is_weekend(day) => (9..17).collect(),
        _ => Vec::new(),
    };
    for h in hours {
        let n = 1 + rng.below(7);
        out.extend(session(user, day, h, n, rng));
    }
    out
}

fn history(days: i64) -> Vec<Event> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut all = Vec::new();
    for day in 0..days {
        for u in 0..25 {
            all.extend(ordinary_day(&mut rng, u, day));
        }
    }
    sequence(all, 0)
}

fn sequence(mut events: Vec<Event>, first_seq: u64) -> Vec<Event> {
    events.sort_by_key(|e| (e.time_ms, e.user));
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = first_seq + i as u64;
    }
    events
}

fn max_score(findings: &[Finding]) -> f32 {
    findings.iter().map(|f| f.score).fold(0.0, f32::max)
}

fn evidence(f: &Finding, key: &str) -> Value {
    f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no evidence {key}"))
}

/// 28 days (four full weeks) of ordinary work; day 28 is a Monday.
fn trained() -> Runtime<OffHours> {
    let mut rt = runtime();
    rt.observe(&history(28));
    rt
}

fn run(rt: &mut Runtime<OffHours>, events: Vec<Event>) -> Vec<Finding> {
    rt.observe(&sequence(events, 1_000_000))
}

#[test]
fn ordinary_history_stays_quiet() {
    let mut rt = runtime();
    let findings = rt.observe(&history(35));
    assert!(max_score(&findings) < 40.0, "{findings:#?}");
    assert!(findings.iter().filter(|f| f.score > 35.0).count() <= 1);
}

#[test]
fn a_night_session_by_a_day_worker_is_extreme() {
    let mut rt = trained();
    let mut rng = Rng(3);
    // Tuesday (day 29) 02:00, 30 queries.
    let findings = run(&mut rt, session(3, 29, 2, 30, &mut rng));
    assert!(max_score(&findings) >= 65.0, "{findings:#?}");
    assert!(findings.len() <= 8, "{} findings", findings.len());
    let f = &findings[0];
    assert_eq!(evidence(f, "local_hour"), Value::Int(2));
    assert_eq!(evidence(f, "weekend"), Value::Int(0));
}

#[test]
fn an_evening_the_team_works_too_is_the_teams_not_the_users() {
    // Tuesday (day 29): support works its day; user 7 stays until 21:00.
    // In one organisation six of the other nine stay with them (a
    // month-end close); in the other user 7 stays alone.
    let evening = |team: bool| {
        let mut rt = runtime();
        rt.configure([("min_score", "0")]).unwrap();
        rt.observe(&history(28));
        let mut rng = Rng(21);
        let mut events = Vec::new();
        for u in 0..10 {
            events.extend(ordinary_day(&mut rng, u, 29));
        }
        if team {
            for u in 0..6 {
                events.extend(session(u, 29, 19, 4, &mut rng));
                events.extend(session(u, 29, 20, 4, &mut rng));
            }
        }
        events.extend(session(7, 29, 19, 8, &mut rng));
        events.extend(session(7, 29, 20, 8, &mut rng));
        let findings: Vec<Finding> = run(&mut rt, events)
            .into_iter()
            .filter(|f| f.reason.contains("local"))
            .collect();
        let last = findings
            .iter()
            .rev()
            .find(|f| f.evidence.iter().any(|(k, _)| k == "session_events"))
            .cloned();
        (max_score(&findings), last)
    };
    let (alone, last) = evening(false);
    assert!(alone >= 40.0, "{alone}");
    let last = last.expect("a finding");
    assert!(
        last.evidence.iter().all(|(k, _)| k != "team_day"),
        "{last:#?}"
    );
    let (together, last) = evening(true);
    assert!(together + 15.0 < alone, "{together} vs {alone}");
    let last = last.expect("a finding");
    assert_eq!(evidence(&last, "peers_present_at_hour"), Value::Int(6));
    assert!(
        last.reason.contains("peers at work today"),
        "{}",
        last.reason
    );
}

#[test]
fn a_single_night_event_is_only_mildly_surprising() {
    // About 30 events a day: one stray event at night is a small share of
    // such a day.
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt.observe(&history(28));
    let mut rng = Rng(4);
    let findings = run(&mut rt, session(3, 29, 3, 1, &mut rng));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let s = findings[0].score;
    assert!((12.0..=25.0).contains(&s), "score {s}");
    let reason = &findings[0].reason;
    assert!(reason.contains("1 event at 03:00 local"), "{reason}");
}

#[test]
fn a_weekday_workers_saturday_session_is_rare_for_them() {
    let mut rt = trained();
    let mut rng = Rng(5);
    // Saturday, day 33, 10:00, a busy hour.
    let mut events = session(4, 33, 10, 10, &mut rng);
    events.extend(session(4, 33, 11, 10, &mut rng));
    let findings = run(&mut rt, events);
    assert!(max_score(&findings) >= 20.0, "{findings:#?}");
    assert!(
        findings
            .iter()
            .all(|f| evidence(f, "weekend") == Value::Int(1))
    );
}

#[test]
fn learned_dba_sunday_maintenance_is_normal() {
    let mut rt = trained();
    let mut rng = Rng(6);
    let mut events = Vec::new();
    // Sunday, day 34: maintenance 01:00-03:00, a busy night.
    for u in 10..20 {
        events.extend(session(u, 34, 1, 7, &mut rng));
        events.extend(session(u, 34, 2, 7, &mut rng));
    }
    let findings = run(&mut rt, events);
    assert!(max_score(&findings) < 35.0, "{findings:#?}");
}

#[test]
fn overtime_after_a_shift_is_mild() {
    let mut rt = trained();
    let mut rng = Rng(7);
    let mut events = Vec::new();
    for u in 0..10 {
        events.extend(ordinary_day(&mut rng, u, 29));
        events.extend(session(u, 29, 17, 3, &mut rng));
        events.extend(session(u, 29, 18, 2, &mut rng));
    }
    let findings = run(&mut rt, events);
    assert!(max_score(&findings) < 40.0, "{findings:#?}");
}

#[test]
fn night_shift_workers_on_their_nights_are_normal() {
    let mut rt = trained();
    let mut rng = Rng(8);
    let mut events = Vec::new();
    for u in 20..25 {
        events.extend(ordinary_day(&mut rng, u, 29));
    }
    let findings = run(&mut rt, events);
    assert!(max_score(&findings) < 35.0, "{findings:#?}");
}

#[test]
fn a_new_user_is_judged_by_their_peer_group() {
    let mut rt = trained();
    let mut rng = Rng(9);
    // User 40 joins support: an ordinary day is fine, a 2 a.m. session is not.
    let day: Vec<Event> = (9..17)
        .flat_map(|h| session(40, 29, h, 4, &mut rng))
        .collect();
    assert!(max_score(&run(&mut rt, day)) < 35.0);
    let night = run(&mut rt, session(40, 30, 2, 30, &mut rng));
    assert!(max_score(&night) >= 65.0, "{night:#?}");
}

#[test]
fn no_findings_during_learning() {
    let mut rt = runtime();
    let mut rng = Rng(10);
    let mut events = history(6);
    events.extend(session(3, 3, 2, 30, &mut rng));
    assert!(rt.observe(&sequence(events, 0)).is_empty());
}

#[test]
fn config_is_validated_and_applied() {
    let mut rt = runtime();
    assert_eq!(
        rt.configure([("nope", "1")]),
        Err(ConfigError::UnknownKey("nope".into()))
    );
    for (key, bad) in [
        ("learning_days", "\"x\""),
        ("min_score", "101"),
        ("prior_days", "-1"),
        ("off_share", "1.5"),
        ("session_gap_hours", "169"),
        ("session_gap_hours", "-1"),
        ("repeat_days", "29"),
        ("repeat_days", "1.5"),
    ] {
        match rt.configure([(key, bad)]) {
            Err(ConfigError::InvalidValue { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}={bad}: {other:?}"),
        }
    }
    let mut rt = runtime();
    for k in <OffHours as ueba_sdk::Detector>::info().config {
        rt.configure([(k.name, k.default)]).unwrap();
    }
    // With no gap allowed, two night hours apart are two sessions.
    let mut rt = runtime();
    rt.configure([("session_gap_hours", "0")]).unwrap();
    rt.observe(&history(28));
    let mut rng = Rng(4);
    let mut events = session(3, 29, 1, 6, &mut rng);
    events.extend(session(3, 29, 3, 6, &mut rng));
    let session_events = |findings: &[Finding]| -> Vec<Value> {
        findings
            .iter()
            .map(|f| evidence(f, "session_events"))
            .collect()
    };
    let split = run(&mut rt, events.clone());
    assert!(!split.is_empty());
    assert!(
        session_events(&split)
            .iter()
            .all(|v| matches!(v, Value::Int(n) if *n <= 6)),
        "{split:#?}"
    );
    let mut rt = trained();
    let joined = run(&mut rt, events);
    assert!(
        session_events(&joined)
            .iter()
            .any(|v| matches!(v, Value::Int(n) if *n > 6)),
        "{joined:#?}"
    );
}

#[test]
fn snapshot_restore_gives_identical_findings() {
    let mut rng = Rng(11);
    let mut events = history(28);
    events.extend(session(3, 27, 2, 30, &mut rng));
    events.extend(session(4, 26, 3, 1, &mut rng));
    let events = sequence(events, 0);
    let cut = events.len() * 3 / 4;
    let mut a = runtime();
    a.observe(&events[..cut]);
    let mut b = Runtime::<OffHours>::default();
    b.restore(&a.snapshot()).unwrap();
    let fa = a.observe(&events[cut..]);
    let fb = b.observe(&events[cut..]);
    assert!(!fa.is_empty());
    assert_eq!(fa, fb);
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn hostile_input_does_not_panic() {
    let mut rt = trained();
    let base = T0 + 29 * DAY_MS;
    let cases = [
        (u32::MAX, base, u64::MAX, 0),
        (3, base - 5 * DAY_MS, 0, 0),
        (3, base - DAY_MS, 1, 0),
        (3, base + 400 * DAY_MS, 1, i32::MAX),
        (3, i64::MIN, 7, i32::MIN),
        (3, i64::MAX, 7, i32::MAX),
        (3, base, 0, -900),
        (u32::MAX - 1, i64::MAX, u64::MAX, i32::MIN),
    ];
    let events: Vec<Event> = cases
        .iter()
        .cycle()
        .take(cases.len() * 20)
        .enumerate()
        .map(|(i, &(user, time_ms, rows, offset))| Event {
            seq: i as u64,
            time_ms,
            utc_offset_minutes: offset,
            user,
            peer_group: if i % 3 == 0 { Some(u32::MAX) } else { None },
            resource: u32::MAX,
            rows,
            ..Event::default()
        })
        .collect();
    for f in rt.observe(&events) {
        assert!((0.0..=100.0).contains(&f.score));
    }
    let mut fresh = Runtime::<OffHours>::default();
    fresh.observe(&events);
    fresh.observe(&[]);
}

#[test]
fn config_off_share_decides_which_hours_are_scored() {
    // With off_share 0, no hour is ever off: even a night session is quiet.
    let mut rt = runtime();
    rt.configure([("off_share", "0.0")]).unwrap();
    rt.observe(&history(28));
    let mut rng = Rng(12);
    assert!(run(&mut rt, session(3, 29, 2, 30, &mut rng)).is_empty());
}

#[test]
fn bursts_in_working_hours_are_never_findings() {
    let mut rt = trained();
    let mut rng = Rng(13);
    // Ten times the usual pace at 10:00 and 15:00: a busy day, not off hours.
    let mut events = session(3, 29, 10, 60, &mut rng);
    events.extend(session(4, 29, 15, 60, &mut rng));
    let findings = run(&mut rt, events);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_few_night_events_are_moderate() {
    // For a user with ~30 events a day, each further night event adds
    // evidence; a session reports again every 10 points, so the highest
    // report is within 10 of the last event's score.
    for (n, lo, hi) in [
        (1u64, 12.0f32, 25.0f32),
        (3, 22.0, 40.0),
        (8, 32.0, 55.0),
        (30, 65.0, 100.0),
    ] {
        let mut rt = runtime();
        rt.configure([("min_score", "0")]).unwrap();
        rt.observe(&history(28));
        let mut rng = Rng(14);
        let findings = run(&mut rt, session(3, 29, 3, n, &mut rng));
        let s = max_score(&findings);
        assert!((lo..=hi).contains(&s), "{n} events: {s}");
    }
}

#[test]
fn a_night_session_accumulates_across_its_hours() {
    // Wednesday 01:00 to 03:59, 4 events an hour: one session.
    let hours = |rng: &mut Rng, to: i64| -> Vec<Event> {
        (25..to).flat_map(|h| session(3, 29, h, 4, rng)).collect()
    };
    let mut rt = trained();
    let first = run(&mut rt, hours(&mut Rng(15), 26));
    let mut rt = trained();
    let findings = run(&mut rt, hours(&mut Rng(15), 28));
    let last = findings.last().expect("findings");
    assert_eq!(
        evidence(last, "session_hours"),
        Value::Int(3),
        "{findings:#?}"
    );
    assert!(
        matches!(evidence(last, "session_events"), Value::Int(n) if n >= 9),
        "{findings:#?}"
    );
    assert!(max_score(&first) < 40.0, "{first:#?}");
    assert!(
        max_score(&findings) >= max_score(&first) + 10.0,
        "{findings:#?}"
    );
    // Thirty events over two night hours are strong on their own.
    let mut rt = trained();
    let mut rng = Rng(18);
    let mut events = session(3, 29, 1, 15, &mut rng);
    events.extend(session(3, 29, 2, 15, &mut rng));
    assert!(max_score(&run(&mut rt, events)) >= 65.0);
}

#[test]
fn a_session_continues_across_midnight() {
    let mut rt = trained();
    let mut rng = Rng(19);
    let mut events = session(3, 29, 23, 3, &mut rng);
    events.extend(session(3, 29, 24, 10, &mut rng));
    let findings = run(&mut rt, events);
    let last = findings.last().expect("findings");
    assert_eq!(
        evidence(last, "session_hours"),
        Value::Int(2),
        "{findings:#?}"
    );
    // It counts the three events before midnight too.
    let Value::Int(n) = evidence(last, "session_events") else {
        panic!("session_events is not an integer")
    };
    assert!(n > 3 + 1 && n <= 13, "{n}");
    assert!(max_score(&findings) >= 45.0, "{findings:#?}");
}

#[test]
fn night_workers_friday_night_into_saturday_is_normal() {
    let mut rt = trained();
    let mut rng = Rng(16);
    let mut events = Vec::new();
    // Friday, day 32: the shift runs 22:00 to Saturday 06:00.
    for u in 20..25 {
        events.extend(ordinary_day(&mut rng, u, 32));
    }
    let findings = run(&mut rt, events);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_newcomers_own_days_soon_count() {
    let mut rt = trained();
    let mut rng = Rng(17);
    // User 41 joins support but works 18:00-22:00, unlike their peers. The
    // first evening is unusual; after three such evenings it is their normal.
    let evening = |rng: &mut Rng, day: i64| -> Vec<Event> {
        (18..22).flat_map(|h| session(41, day, h, 5, rng)).collect()
    };
    let first = run(&mut rt, evening(&mut rng, 28));
    assert!(max_score(&first) >= 30.0, "{first:#?}");
    for day in 29..31 {
        run(&mut rt, evening(&mut rng, day));
    }
    let fourth = run(&mut rt, evening(&mut rng, 31));
    assert!(fourth.is_empty(), "{fourth:#?}");
}

const CLERKS: u32 = 3;
const ANALYSTS: u32 = 4;

/// An event of `user` in `group` at `day`, `minute` (local = UTC).
fn at(user: u32, group: u32, day: i64, minute: i64) -> Event {
    Event {
        time_ms: T0 + day * DAY_MS + minute * 60_000,
        user,
        peer_group: Some(group),
        ..Event::default()
    }
}

/// Weekdays 0..12 of a sparse organisation: users 40..60 log on around
/// 09:00, do 0–3 things in the day and log off around 21:00; and of a
/// dense one: users 30..40 make 300 events a day between 09:00 and 17:00.
fn sparse_and_dense_history() -> Vec<Event> {
    let mut rng = Rng(21);
    let mut all = Vec::new();
    for day in (0..12).filter(|&d| !is_weekend(d)) {
        for u in 40..60 {
            all.push(at(u, CLERKS, day, 8 * 60 + 30 + rng.below(60) as i64));
            for _ in 0..rng.below(4) {
                all.push(at(u, CLERKS, day, 10 * 60 + rng.below(10 * 60) as i64));
            }
            all.push(at(u, CLERKS, day, 20 * 60 + 30 + rng.below(60) as i64));
        }
        for u in 30..40 {
            for _ in 0..300 {
                all.push(at(u, ANALYSTS, day, 9 * 60 + rng.below(8 * 60) as i64));
            }
        }
    }
    sequence(all, 0)
}

fn sparse_and_dense() -> Runtime<OffHours> {
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt.observe(&sparse_and_dense_history());
    rt
}

#[test]
fn a_sparse_users_night_session_is_one_strong_finding() {
    // Monday (day 14): logon at 00:06, removable media at 01:30, off at 05:00.
    let mut rt = sparse_and_dense();
    let night = vec![
        at(45, CLERKS, 14, 6),
        at(45, CLERKS, 14, 90),
        at(45, CLERKS, 14, 300),
    ];
    let findings = run(&mut rt, night);
    let last = findings.last().expect("findings");
    assert_eq!(
        evidence(last, "session_events"),
        Value::Int(3),
        "{findings:#?}"
    );
    assert_eq!(evidence(last, "session_span_hours"), Value::Int(6));
    assert!(last.score >= 45.0, "{findings:#?}");
    assert!(last.score >= findings[0].score + 10.0, "{findings:#?}");
}

#[test]
fn one_night_event_says_more_of_a_sparse_user_than_of_a_dense_one() {
    let mut rt = sparse_and_dense();
    let sparse = run(&mut rt, vec![at(45, CLERKS, 14, 6)]);
    let dense = run(&mut rt, vec![at(35, ANALYSTS, 14, 6)]);
    let (s, d) = (max_score(&sparse), max_score(&dense));
    assert!(d <= 25.0, "dense {dense:#?}");
    assert!(s >= d + 8.0, "sparse {s}, dense {d}");
    assert!(s >= 25.0, "sparse {sparse:#?}");
}

#[test]
fn a_user_who_sometimes_works_whole_nights_is_judged_by_those_nights() {
    // User 8 works weekdays 09–17 and, on two Saturdays of four, the whole
    // night 00–06 at their usual pace.
    let mut rng = Rng(51);
    let mut events = history(28);
    for day in [5i64, 19] {
        for h in 0..6 {
            events.extend(session(8, day, h, 5, &mut rng));
        }
    }
    let mut rt = runtime();
    rt.observe(&sequence(events, 0));
    // Saturday, day 33: another such night.
    let night: Vec<Event> = (0..6)
        .flat_map(|h| session(8, 33, h, 5, &mut rng))
        .collect();
    let findings = run(&mut rt, night);
    assert!(max_score(&findings) < 40.0, "{findings:#?}");
    // The same night from a colleague who never works nights is extreme.
    let mut rt = runtime();
    rt.observe(&history(28));
    let night: Vec<Event> = (0..6)
        .flat_map(|h| session(7, 33, h, 5, &mut rng))
        .collect();
    assert!(max_score(&run(&mut rt, night)) >= 65.0);
}

#[test]
fn a_busy_users_evening_and_night_are_two_sessions() {
    // About 30 events a day: an event at 19:00 and a session at 02:00 are
    // seven hours apart, far more than such a day spaces events.
    let mut rt = trained();
    let mut rng = Rng(61);
    let mut events = session(3, 29, 19, 1, &mut rng);
    events.extend(session(3, 29, 26, 20, &mut rng));
    let findings = run(&mut rt, events);
    let last = findings.last().expect("findings");
    assert_eq!(
        evidence(last, "session_span_hours"),
        Value::Int(1),
        "{findings:#?}"
    );
}

/// `events` with `learn` set to `learn`.
fn learning(mut events: Vec<Event>, learn: bool) -> Vec<Event> {
    for e in &mut events {
        e.learn = learn;
    }
    events
}

/// A support agent's (user 3's) night at 02:00 and ordinary day, the same
/// events on every `day` (a fixed seed), so that a night's findings can be
/// compared with another's.
fn night_and_day(day: i64) -> Vec<Event> {
    let mut rng = Rng(71);
    let mut events = session(3, day, 2, 10, &mut rng);
    events.extend(ordinary_day(&mut rng, 3, day));
    events
}

/// While the host holds user 3 out of learning, the same night session
/// scores exactly as on the first night, night after night; learned, the
/// nights become the user's normal and are soon quiet. Only user 3 is
/// active, so the held days change nothing at all.
#[test]
fn held_nights_score_as_the_first_while_learned_nights_fade() {
    const DAYS: [i64; 7] = [29, 30, 31, 32, 35, 36, 37];
    let nights = |learn: bool| -> Vec<Vec<Finding>> {
        let mut rt = trained();
        // Each night alone: repeated nights compound otherwise
        // (`a_second_night_within_a_week_scores_more_than_either_alone`).
        rt.configure([("repeat_days", "0")]).unwrap();
        DAYS.iter()
            .map(|&day| {
                let events = learning(night_and_day(day), learn);
                let mut findings = rt.observe(&sequence(events, day as u64 * 100_000));
                for f in &mut findings {
                    f.event = 0;
                }
                findings
            })
            .collect()
    };
    let held = nights(false);
    assert!(max_score(&held[0]) >= 40.0, "{:#?}", held[0]);
    for (day, findings) in DAYS.iter().zip(&held) {
        assert_eq!(findings, &held[0], "day {day}");
    }
    let learned = nights(true);
    assert_eq!(learned[0], held[0]);
    let last = learned.last().expect("days");
    assert!(
        max_score(last) <= max_score(&learned[0]) - 20.0,
        "{learned:#?}"
    );
}

/// Days held out of learning wait, their whole days included, and join
/// the profiles once the host learns the user again (their episode ended
/// without a malicious verdict). On day 29 user 3's night session is
/// learned for four events and held from the fifth on (as when an alert
/// opens an episode), so day 29 is held whole; days 30 and 31 are held.
/// Everyone else works as usual throughout.
/// - While held, the stretch is not learned: the findings of days 32 and
///   33 (user 3 still held) match a run in which user 3 was away on days
///   29 to 31.
/// - Once user 3 is learned again (from day 34), the state matches a
///   run in which days 29 to 31 were learned as they came, and so do the
///   findings of the days after.
#[test]
fn a_held_stretch_waits_and_is_learned_when_the_hold_ends() {
    let mut rng = Rng(72);
    let mut others = Vec::new();
    for day in 29..32 {
        for u in (0..25).filter(|&u| u != 3) {
            others.extend(ordinary_day(&mut rng, u, day));
        }
    }
    let days = |rng: &mut Rng, from: i64, to: i64, learn: bool| {
        let mut out = Vec::new();
        for day in from..to {
            for u in 0..25 {
                let mut events = ordinary_day(rng, u, day);
                if u == 3 {
                    events = learning(events, learn);
                }
                out.extend(events);
            }
        }
        out
    };
    let still_held = days(&mut rng, 32, 34, false);
    // Days 33 and 34 are a weekend: user 3 is next active on day 35, and
    // that day, learned, closes on day 36.
    let learned_again = days(&mut rng, 34, 37, true);
    let later = days(&mut rng, 37, 42, true);
    let nights = |held: bool| {
        let mut user3 = night_and_day(29);
        user3.sort_by_key(|e| e.time_ms);
        for e in user3.iter_mut().filter(|e| e.local_hour() == 2).skip(4) {
            e.learn = !held;
        }
        user3.extend(learning(night_and_day(30), !held));
        user3.extend(learning(night_and_day(31), !held));
        user3
    };
    // Earlier nights' findings are evidence the detector keeps, not
    // learning; without them the runs' profiles must be equal.
    let start = || {
        let mut rt = trained();
        rt.configure([("repeat_days", "0")]).unwrap();
        rt
    };

    let mut held = start();
    let found = run(&mut held, [others.clone(), nights(true)].concat());
    assert!(max_score(&found) >= 40.0, "{found:#?}");
    let mut away = start();
    run(&mut away, others.clone());
    assert_eq!(
        held.observe(&sequence(still_held.clone(), 2_000_000)),
        away.observe(&sequence(still_held.clone(), 2_000_000)),
        "a held stretch is not learned while the user is held"
    );

    let mut learned = start();
    run(&mut learned, [others, nights(false)].concat());
    learned.observe(&sequence(still_held, 2_000_000));
    for rt in [&mut held, &mut learned] {
        rt.observe(&sequence(learned_again.clone(), 3_000_000));
    }
    assert_eq!(learned_state(&held), learned_state(&learned));
    assert_eq!(
        held.observe(&sequence(later.clone(), 4_000_000)),
        learned.observe(&sequence(later, 4_000_000))
    );
}

/// The state less the count of how far off each day went: that count is
/// evidence the detector keeps of the days as they were scored, as its
/// nights are, not what it learned from them.
fn learned_state(rt: &Runtime<OffHours>) -> Vec<u8> {
    let mut d = rt.detector().clone();
    d.org.forget_how_far_off();
    for (_, g) in d.groups.iter_mut() {
        g.forget_how_far_off();
    }
    for (_, u) in d.users.iter_mut() {
        u.profile.forget_how_far_off();
    }
    ueba_sdk::population::encode(&d)
}

/// A user held for good (an analyst's malicious verdict keeps the host
/// holding them) keeps at most [`crate::HELD_DAYS_KEPT`] days aside.
#[test]
fn held_days_kept_aside_are_bounded() {
    let mut rt = trained();
    let mut events = Vec::new();
    for day in 28..28 + 3 * crate::HELD_DAYS_KEPT as i64 {
        events.extend(learning(night_and_day(day), false));
    }
    run(&mut rt, events);
    let kept = rt.detector().users.get(3).expect("user 3").held_days.len();
    assert_eq!(kept, crate::HELD_DAYS_KEPT);
}

/// An event late from the previous day joins the profile, unless that day
/// was held out of learning or the event itself is held.
#[test]
fn late_events_of_held_days_are_not_learned() {
    let mut rt = trained();
    let event = |day: i64, hour: i64, learn: bool| Event {
        learn,
        ..at(3, SUPPORT, day, hour * 60)
    };
    // Day 29 is held; day 30 starts, closing it.
    run(&mut rt, vec![event(29, 10, false), event(30, 10, true)]);
    let before = rt.snapshot();
    run(&mut rt, vec![event(29, 15, true)]);
    assert_eq!(rt.snapshot(), before, "a late event of a held day");
    // Day 30 is learned; day 31 starts, closing it.
    run(&mut rt, vec![event(31, 10, true)]);
    let before = rt.snapshot();
    run(&mut rt, vec![event(30, 15, false)]);
    assert_eq!(rt.snapshot(), before, "a held late event");
    run(&mut rt, vec![event(30, 15, true)]);
    assert_ne!(rt.snapshot(), before, "a learned late event is learned");
}

#[test]
fn the_hours_between_a_sparse_users_logon_and_logoff_are_not_off() {
    // The clerks log on around 09:00 and off around 21:00 with at most
    // three events between, so no hour of the afternoon has events on a
    // fifth of their days; they are still at work then.
    let mut rt = sparse_and_dense();
    let day = vec![
        at(45, CLERKS, 14, 9 * 60),
        at(45, CLERKS, 14, 15 * 60 + 10),
        at(45, CLERKS, 14, 15 * 60 + 20),
        at(45, CLERKS, 14, 15 * 60 + 30),
        at(45, CLERKS, 14, 21 * 60),
    ];
    let findings = run(&mut rt, day);
    assert!(findings.is_empty(), "{findings:#?}");
}

/// `events` split between two instances by user parity (even users to
/// the first), fed in order, with an exchange of populations after each
/// of `cuts` (positions in `events`) and at the end.
fn sharded(events: &[Event], cuts: &[usize]) -> (Runtime<OffHours>, Runtime<OffHours>) {
    let (mut r1, mut r2) = (runtime(), runtime());
    let mut from = 0;
    for &to in cuts.iter().chain([&events.len()]) {
        let part = &events[from..to];
        let mine = |even: bool| -> Vec<Event> {
            part.iter()
                .filter(|e| (e.user % 2 == 0) == even)
                .cloned()
                .collect()
        };
        r1.observe(&mine(true));
        r2.observe(&mine(false));
        exchange(&mut r1, &mut r2);
        from = to;
    }
    (r1, r2)
}

fn exchange(r1: &mut Runtime<OffHours>, r2: &mut Runtime<OffHours>) {
    let (p1, p2) = (r1.population(), r2.population());
    r1.absorb(&[p2]).unwrap();
    r2.absorb(&[p1]).unwrap();
}

#[test]
fn a_team_working_late_on_another_shard_counts_after_the_exchange() {
    // Support's evening of day 29 (users 0..6 until 21:00) goes to two
    // shards by user; after the hour's exchange, user 7 (the second's)
    // sees all six, three of them the first shard's.
    let mut rng = Rng(22);
    let mut day = Vec::new();
    for u in 0..10 {
        day.extend(ordinary_day(&mut rng, u, 29));
    }
    for u in 0..6 {
        day.extend(session(u, 29, 19, 4, &mut rng));
        day.extend(session(u, 29, 20, 4, &mut rng));
    }
    let mut events = history(28);
    let cut = events.len();
    events.extend(sequence(day, 500_000));
    let (_, mut second) = sharded(&events, &[cut]);
    second.configure([("min_score", "0")]).unwrap();
    let late = session(7, 29, 20, 12, &mut rng);
    let findings = run(&mut second, late);
    let last = findings.last().expect("a finding");
    assert_eq!(evidence(last, "peers_present_at_hour"), Value::Int(6));
}

/// A newcomer to support (user 40) working a normal day and then a 2 a.m.
/// session: judged by the peer group alone.
fn newcomer_night(rt: &mut Runtime<OffHours>) -> Vec<Finding> {
    let mut rng = Rng(9);
    let day: Vec<Event> = (9..17)
        .flat_map(|h| session(40, 29, h, 4, &mut rng))
        .collect();
    let mut events = day;
    events.extend(session(40, 30, 2, 12, &mut rng));
    run(rt, events)
}

#[test]
fn a_newcomer_on_one_shard_is_judged_by_the_whole_peer_group() {
    let events = history(28);
    let mut whole = runtime();
    whole.observe(&events);
    let expected = newcomer_night(&mut whole);
    assert!(!expected.is_empty());

    // Exchanged twice: the second replaces what the first gave.
    let (mut r1, _) = sharded(&events, &[events.len() / 2]);
    assert_eq!(newcomer_night(&mut r1), expected);

    // Without the exchange the shard knows half the group, and says so.
    let mut alone = runtime();
    alone.observe(
        &events
            .iter()
            .filter(|e| e.user % 2 == 0)
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert_ne!(newcomer_night(&mut alone), expected);
}

#[test]
fn a_share_holds_only_the_instances_own_users() {
    let events = history(14);
    let mut alone = runtime();
    alone.observe(
        &events
            .iter()
            .filter(|e| e.user % 2 == 0)
            .cloned()
            .collect::<Vec<_>>(),
    );
    let (r1, r2) = sharded(&events, &[]);
    assert_eq!(r1.population(), alone.population());
    assert_ne!(r1.population(), r2.population());
    // One instance's share changes nothing of its state.
    let before = r1.snapshot();
    let _ = r1.population();
    assert_eq!(r1.snapshot(), before);
    // And a fresh instance has nothing but an empty organisation to share.
    assert!(runtime().population().len() < 200);
}

#[test]
fn absorbing_the_same_shares_twice_counts_them_once() {
    let events = history(14);
    let (mut r1, r2) = sharded(&events, &[]);
    let once = r1.snapshot();
    r1.absorb(&[r2.population()]).unwrap();
    assert_eq!(r1.snapshot(), once);
    // Absorbing nothing takes the others out again: back to the lone shard.
    let mut alone = runtime();
    alone.observe(
        &events
            .iter()
            .filter(|e| e.user % 2 == 0)
            .cloned()
            .collect::<Vec<_>>(),
    );
    r1.absorb(&[] as &[Vec<u8>]).unwrap();
    assert_eq!(newcomer_night(&mut r1), newcomer_night(&mut alone));
}

#[test]
fn a_restored_instance_keeps_what_it_absorbed() {
    let events = history(28);
    let (mut r1, r2) = sharded(&events, &[]);
    let mut restored = Runtime::<OffHours>::default();
    restored.restore(&r1.snapshot()).unwrap();
    let fa = newcomer_night(&mut r1);
    assert!(!fa.is_empty());
    assert_eq!(fa, newcomer_night(&mut restored));
    // The restored instance replaces the others' part as the original does.
    let p2 = r2.population();
    r1.absorb(&[&p2]).unwrap();
    restored.absorb(&[&p2]).unwrap();
    assert_eq!(r1.snapshot(), restored.snapshot());
    assert_eq!(r1.population(), restored.population());
}

#[test]
fn shares_that_do_not_decode_are_refused_and_change_nothing() {
    let events = history(14);
    let (mut r1, r2) = sharded(&events, &[]);
    let before = r1.snapshot();
    let good = r2.population();
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    let mut junk = good.clone();
    let body = junk.len() - 40;
    junk.truncate(body);
    junk.extend([0xff; 40]);
    for bad in [truncated, junk] {
        assert!(r1.absorb(&[good.clone(), bad]).is_err());
        assert_eq!(r1.snapshot(), before);
    }
}

/// User 3's nights of four events at 02:00 on `days`, with their
/// ordinary days, and the findings of each night. The nights are held out
/// of learning, as the host holds a user whose risk a night raised.
fn nights_of(rt: &mut Runtime<OffHours>, days: &[i64]) -> Vec<Vec<Finding>> {
    let nights: Vec<(i64, i64)> = days.iter().map(|&d| (d, 2)).collect();
    nights_learned(rt, &nights, false)
}

/// [`nights_of`] at other hours (day, hour), the nights learned or held.
fn nights_learned(
    rt: &mut Runtime<OffHours>,
    nights: &[(i64, i64)],
    learn: bool,
) -> Vec<Vec<Finding>> {
    nights
        .iter()
        .map(|&(day, hour)| {
            let mut rng = Rng(81 + day as u64);
            let mut events = learning(session(3, day, hour, 4, &mut rng), learn);
            events.extend(ordinary_day(&mut rng, 3, day));
            rt.observe(&sequence(events, day as u64 * 100_000))
        })
        .collect()
}

/// [`nights_of`] on a trained detector that scores each night alone
/// (`repeat_days` 0).
fn each_night_alone(days: &[i64]) -> Vec<Vec<Finding>> {
    let mut alone = trained();
    alone.configure([("repeat_days", "0")]).unwrap();
    nights_of(&mut alone, days)
}

#[test]
fn a_second_night_within_a_week_scores_more_than_either_alone() {
    let each = each_night_alone(&[29, 31]);
    let mut rt = trained();
    let joined = nights_of(&mut rt, &[29, 31]);
    // The first night has nothing to join.
    assert_eq!(joined[0], each[0]);
    let (first, second) = (max_score(&each[0]), max_score(&each[1]));
    assert!((20.0..45.0).contains(&first), "{each:#?}");
    let together = max_score(&joined[1]);
    assert!(together >= first.max(second) + 8.0, "{joined:#?}");
    let last = joined[1].last().expect("findings");
    assert_eq!(evidence(last, "other_off_days"), Value::Int(1));
    assert!(
        last.reason
            .contains("off hours also on 1 other day of the last 7"),
        "{}",
        last.reason
    );
}

#[test]
fn nights_further_apart_than_repeat_days_stay_alone() {
    let each = each_night_alone(&[29, 31]);
    let mut rt = trained();
    rt.configure([("repeat_days", "2")]).unwrap();
    let apart = nights_of(&mut rt, &[29, 31]);
    assert_eq!(apart, each);
}

#[test]
fn the_combined_tail_counts_every_day_of_the_window() {
    use crate::combined_tail;
    // One day of one: the tail itself.
    assert!((combined_tail(1e-4, 1, 0.01) - 1e-4).abs() < 1e-12);
    // One night in a week is about seven chances at it: weaker than alone.
    let one = combined_tail(1e-3, 7, 0.01);
    assert!((6e-3..1e-2).contains(&one), "{one}");
    // Two such nights are far rarer than either.
    let two = combined_tail(1e-6, 7, 0.01);
    assert!(two < 2e-4, "{two}");
    assert!(combined_tail(1e-9, 7, 0.01) < two);
    assert_eq!(combined_tail(f64::NAN, 7, 0.01), 1.0);
    assert_eq!(combined_tail(0.0, 7, 0.01), 0.0);
}

#[test]
fn a_night_learned_as_normal_adds_nothing_to_the_next() {
    // A planned move to nights: nothing held the user, so each night joins
    // their profile and is their new normal, not evidence against the next.
    let mut alone = trained();
    alone.configure([("repeat_days", "0")]).unwrap();
    // Nights at hours far apart, so that a learned one leaves the next
    // still off hours.
    let nights = [(29, 2), (30, 22), (31, 1)];
    let each = nights_learned(&mut alone, &nights, true);
    let mut rt = trained();
    let learned = nights_learned(&mut rt, &nights, true);
    assert!(learned.iter().all(|n| max_score(n) >= 20.0), "{learned:#?}");
    assert!(max_score(&learned[0]) >= 20.0, "{learned:#?}");
    assert_eq!(learned, each, "{learned:#?}");
}

/// Four weeks of user 40 (support), whose work comes in bursts: a logon
/// at 08:00, one burst of 15–25 events at some hour from 09:00 to 14:00,
/// and a last event at 18:00 on one day in seven (else nothing after the
/// burst), beside everyone's ordinary days.
fn bursty_history() -> Runtime<OffHours> {
    const DAYS: i64 = 14;
    let mut rng = Rng(0x5EED_0FB0_u64);
    let mut all = history(DAYS);
    for day in (0..DAYS).filter(|&d| !is_weekend(d)) {
        all.extend(session(40, day, 8, 1, &mut rng));
        let hour = 9 + rng.below(6) as i64;
        let n = 15 + rng.below(11);
        all.extend(session(40, day, hour, n, &mut rng));
        if day % 7 == 0 {
            all.extend(session(40, day, 18, 1, &mut rng));
        }
    }
    let mut rt = runtime();
    rt.observe(&sequence(all, 0));
    rt
}

#[test]
fn a_burst_at_an_hour_the_user_is_sometimes_at_work_is_judged_at_their_pace() {
    // Their 18:00s held one event each, but twenty at once is how this
    // user works: a late burst on a day they stay is not off hours...
    let day = 15;
    let mut rng = Rng(17);
    let mut late = session(40, day, 8, 1, &mut rng);
    late.extend(session(40, day, 18, 20, &mut rng));
    let found = run(&mut bursty_history(), late);
    assert!(max_score(&found) < 30.0, "{found:#?}");
    // ...while the same burst at 02:00, where they never are, still is.
    let mut night = session(40, day, 2, 20, &mut rng);
    night.extend(session(40, day, 8, 1, &mut rng));
    let found = run(&mut bursty_history(), night);
    assert!(max_score(&found) >= 40.0, "{found:#?}");
}

/// A day worker's night: 8 events in each of 01:00, 02:00 and 03:00.
fn night_out(user: u32, day: i64, rng: &mut Rng) -> Vec<Event> {
    (1..4).flat_map(|h| session(user, day, h, 8, rng)).collect()
}

/// Four weeks of the usual 25 users and of a rota of 15 who keep day
/// hours, but the first `nights` of whom once worked a night, each on a
/// day of their own.
fn rota_history(nights: u32) -> Runtime<OffHours> {
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let mut all = Vec::new();
    for day in 0..28 {
        for u in (0..25).chain(45..60) {
            all.extend(ordinary_day(&mut rng, u, day));
        }
        for u in (45..60u32).take(nights as usize) {
            let own = [8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22, 23, 24, 25, 7][(u - 45) as usize];
            if day == own {
                all.extend(night_out(u, day, &mut rng));
            }
        }
    }
    let mut rt = runtime();
    rt.observe(&sequence(all, 0));
    rt
}

fn strongest(findings: &[Finding]) -> &Finding {
    findings
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .unwrap_or_else(|| panic!("no finding"))
}

fn number(f: &Finding, key: &str) -> f64 {
    match evidence(f, key) {
        Value::Float(x) => x,
        v => panic!("{key} is {v:?}"),
    }
}

/// A rota whose members' days now and then go far off their own hours
/// (a night among day shifts) makes a member's night less telling, by how
/// often a peer's day goes that far beyond the rest of the organisation's;
/// a support agent's same night, in a group whose days keep their hours,
/// is judged on its own tail as before. The more of the rota's days went
/// that far, the less the night says.
#[test]
fn a_night_weighs_less_where_peers_nights_are_routine() {
    let night = |nights: u32, user: u32| {
        let mut rt = rota_history(nights);
        run(&mut rt, night_out(user, 28, &mut Rng(3)))
    };
    let agent = night(15, 1);
    let agent = strongest(&agent);
    assert_eq!(number(agent, "peer_routine"), 0.0, "{agent:#?}");
    assert_eq!(f64::from(agent.score), number(agent, "raw_score"));
    assert!(agent.score > 60.0, "{agent:#?}");

    let some = night(6, 46);
    let strongest_some = strongest(&some);
    assert!(number(strongest_some, "peer_routine") > 0.0, "{some:#?}");
    assert!(f64::from(strongest_some.score) < number(strongest_some, "raw_score"));
    assert!(max_score(&some) < agent.score - 20.0, "{some:#?}");
    assert!(
        strongest_some.reason.contains("more of the peers' days"),
        "{}",
        strongest_some.reason
    );

    let routine = night(15, 46);
    assert!(max_score(&routine) < max_score(&some), "{routine:#?}");
}

/// The peers' share leaves the user's own days out: a member whose own
/// nights are the group's only far ones gets no discount from them, while
/// a peer of theirs does.
#[test]
fn a_users_own_nights_never_make_their_nights_routine() {
    let mut det = rota_history(15).detector().clone();
    let (group, org) = (det.groups.get(ROTA).cloned().unwrap(), det.org.clone());
    let level = crate::LEVELS.iter().position(|&l| l == 60.0).unwrap();
    let night_days = group.reached[level];
    assert!(night_days >= 10, "{group:?}");
    // User 46 is made the one who worked every one of the rota's nights.
    let u = det.users.get_mut(46).unwrap();
    u.profile.reached = group.reached;
    u.profile.closed = group.closed / 15;
    let alone = det.users.get(46).unwrap().clone();
    assert_eq!(det.routine(&alone, 65.0), 0.0);
    let peer = det.users.get(47).unwrap().clone();
    assert!(det.routine(&peer, 65.0) > 0.0);
    assert!(org.reached[level] >= night_days);
}

const SHIFTS: u32 = 5;
const EVENINGS: u32 = 6;

/// Three weeks (days 0..21) of two groups of twelve: an emergency rota
/// (users 0..12) whose members work one week in three on morning shifts
/// (07–15) and the others on evening shifts (15–23), and an evening team
/// (users 20..32) on evenings only, both at about five events an hour on
/// weekdays. User 12 (of the rota) and user 32 (of the evening team) have
/// worked only evenings so far.
fn shift_history() -> Runtime<OffHours> {
    let mut rng = Rng(71);
    let mut all = Vec::new();
    let mut shift = |user: u32, group: u32, day: i64, from: i64, all: &mut Vec<Event>| {
        for h in from..from + 8 {
            for _ in 0..3 + rng.below(5) {
                all.push(at(user, group, day, h * 60 + rng.below(60) as i64));
            }
        }
    };
    for day in (0..21).filter(|&d| !is_weekend(d)) {
        let week = day / 7;
        for u in 0..12u32 {
            let from = if (week + i64::from(u)) % 3 == 0 {
                7
            } else {
                15
            };
            shift(u, SHIFTS, day, from, &mut all);
        }
        shift(12, SHIFTS, day, 15, &mut all);
        for u in 20..33u32 {
            shift(u, EVENINGS, day, 15, &mut all);
        }
    }
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt.symbols_mut()
        .insert(SymbolKind::PeerGroup, SHIFTS, "ed-physicians");
    rt.symbols_mut()
        .insert(SymbolKind::PeerGroup, EVENINGS, "evening-desk");
    rt.observe(&sequence(all, 0));
    rt
}

/// A whole morning shift, 07–15 at five events an hour, on Monday, day 21.
fn morning_shift(user: u32, group: u32) -> Vec<Event> {
    (7..15)
        .flat_map(|h| (0..5).map(move |i| at(user, group, 21, h * 60 + i * 11)))
        .collect()
}

/// At hours a user has never worked around, how busy a present hour is
/// comes from their peers: a rota member's first morning shift after
/// evenings is their peers' ordinary morning, at an ordinary pace, and
/// says little; the same shift from someone whose peers never work
/// mornings is still far off.
#[test]
fn a_first_shift_at_hours_the_peers_work_is_judged_at_their_pace() {
    let mut rt = shift_history();
    let rota = run(&mut rt, morning_shift(12, SHIFTS));
    let mut rt = shift_history();
    let desk = run(&mut rt, morning_shift(32, EVENINGS));
    assert!(max_score(&rota) < 35.0, "{rota:#?}");
    assert!(max_score(&desk) >= 60.0, "{desk:#?}");
    // The finding says whose pace judged the hours.
    let paced = strongest(&rota);
    assert!(
        matches!(evidence(paced, "peer_paced_hours"), Value::Int(n) if n >= 1),
        "{paced:#?}"
    );
    assert!(
        paced.reason.contains("their peers work"),
        "{}",
        paced.reason
    );
    assert!(
        desk.iter()
            .all(|f| f.evidence.iter().all(|(k, _)| k != "peer_paced_hours"))
    );
}

#[test]
fn a_members_clock_ahead_of_the_team_does_not_take_the_teams_day_before() {
    let mut t = TeamDays::default();
    for day in [10, 11] {
        t.day_mut(day).expect("a day").active = 30;
    }
    // One member's event three days ahead of the rest.
    t.day_mut(14).expect("a day").active = 1;
    // The team's next day still knows the day before it, when 30 were at
    // work: a night shift alone at 02:00 is not the whole team.
    t.day_mut(12).expect("a day").active = 2;
    assert_eq!(t.at(12, 2).0, 30);
    // A day older than both kept is late and not counted.
    assert!(t.day_mut(9).is_none());
}
