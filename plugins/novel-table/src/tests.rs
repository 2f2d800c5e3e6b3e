//! Behaviour tests, driving the detector through `Runtime` as the host does.

use ueba_sdk::{ConfigError, DAY_MS, Event, Finding, HOUR_MS, Runtime, SymbolKind, Value};

use crate::NovelTable;

/// 2024-01-01T00:00Z, a Monday.
const T0: i64 = 1_704_067_200_000;
const GROUPS: u32 = 10;
const PER_GROUP: u32 = 20;
const TABLES_PER_GROUP: u32 = 5;
/// Read by groups 1, 2 and 3 only.
const CUSTOMERS: u32 = 100;
/// Read by nobody during the history.
const SALARIES: u32 = 101;
const ARCHIVE: u32 = 102;
/// Read by everybody.
const LOOKUP: u32 = 103;

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

fn runtime() -> Runtime<NovelTable> {
    let mut rt = Runtime::<NovelTable>::default();
    let s = rt.symbols_mut();
    for u in 0..GROUPS * PER_GROUP + 10 {
        s.insert(SymbolKind::User, u, format!("user{u}"));
    }
    for g in 0..GROUPS {
        s.insert(SymbolKind::PeerGroup, g, format!("team{g}"));
        for t in 0..TABLES_PER_GROUP {
            s.insert(
                SymbolKind::Resource,
                g * TABLES_PER_GROUP + t,
                format!("team{g}.t{t}"),
            );
        }
    }
    s.insert(SymbolKind::Resource, CUSTOMERS, "support.customers");
    s.insert(SymbolKind::Resource, SALARIES, "hr.salaries");
    s.insert(SymbolKind::Resource, ARCHIVE, "archive.old_orders");
    s.insert(SymbolKind::Resource, LOOKUP, "common.lookup");
    rt
}

fn group_of(user: u32) -> u32 {
    (user / PER_GROUP).min(GROUPS - 1)
}

fn ev(user: u32, resource: u32, time_ms: i64) -> Event {
    Event {
        time_ms,
        user,
        peer_group: Some(group_of(user)),
        resource,
        ..Event::default()
    }
}

/// 30 days: every user reads a few of their group's tables a day (table 4
/// of each group only by its first 18 members) and `common.lookup`; groups
/// 1–3 also read `support.customers`.
fn history(days: i64) -> Vec<Event> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut all = Vec::new();
    for day in 0..days {
        if day.rem_euclid(7) >= 5 {
            continue;
        }
        for u in 0..GROUPS * PER_GROUP {
            let g = group_of(u);
            let member = u % PER_GROUP;
            let tables = if member < 18 {
                TABLES_PER_GROUP
            } else {
                TABLES_PER_GROUP - 1
            };
            let t0 = T0 + day * DAY_MS + 9 * HOUR_MS;
            for _ in 0..4 {
                let t = g * TABLES_PER_GROUP + rng.below(u64::from(tables)) as u32;
                all.push(ev(u, t, t0 + rng.below(8 * HOUR_MS as u64) as i64));
            }
            all.push(ev(u, LOOKUP, t0 + rng.below(8 * HOUR_MS as u64) as i64));
            if (1..=3).contains(&g) {
                all.push(ev(u, CUSTOMERS, t0 + rng.below(8 * HOUR_MS as u64) as i64));
            }
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

fn trained() -> Runtime<NovelTable> {
    let mut rt = runtime();
    rt.observe(&history(30));
    rt
}

/// One event by `user` on day 30 (a Wednesday) at 14:00.
fn first_read(rt: &mut Runtime<NovelTable>, user: u32, resource: u32) -> Vec<Finding> {
    let e = ev(user, resource, T0 + 30 * DAY_MS + 14 * HOUR_MS);
    rt.observe(&sequence(vec![e], 1_000_000))
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

#[test]
fn ordinary_history_stays_quiet() {
    let mut rt = runtime();
    let findings = rt.observe(&history(30));
    assert!(max_score(&findings) < 30.0, "{findings:#?}");
}

#[test]
fn a_table_the_group_uses_is_a_mild_first() {
    let mut rt = trained();
    // Member 19 of team 0 never read team0.t4; 18 of its 19 peers did.
    let findings = first_read(&mut rt, 19, 4);
    assert!(max_score(&findings) <= 25.0, "{findings:#?}");
}

#[test]
fn a_sensitive_table_only_other_groups_read_is_notable() {
    let mut rt = trained();
    let findings = first_read(&mut rt, 5, CUSTOMERS);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    // About 35 times rarer than the team's usual discoveries (a team table
    // is itself read by a tenth of the organisation), by a user who
    // discovers little.
    assert!((33.0..=50.0).contains(&f.score), "{f:#?}");
    assert_eq!(evidence(f, "peer_users_touching"), Value::Int(0));
    assert_eq!(evidence(f, "peer_size"), Value::Int(19));
    assert_eq!(evidence(f, "org_users_touching"), Value::Int(60));
    assert_eq!(evidence(f, "sensitive"), Value::Int(1));
    assert!(f.reason.contains("support.customers"), "{}", f.reason);
}

#[test]
fn a_sensitive_table_nobody_reads_alerts_alone() {
    // 60 is the host's alert threshold; with longer history the user's
    // discovery rate shrinks and the score grows.
    let mut rt = trained();
    let findings = first_read(&mut rt, 5, SALARIES);
    assert!(max_score(&findings) >= 60.0, "{findings:#?}");
}

#[test]
fn a_table_nobody_reads_is_strong() {
    let mut rt = trained();
    let findings = first_read(&mut rt, 5, ARCHIVE);
    assert!(max_score(&findings) >= 48.0, "{findings:#?}");
}

/// A file in a folder named after the user (their home folder, where a
/// scanner files their scans) is in their own space: its first access is
/// learned and not reported, while the same file in another user's folder
/// is reported as a first access to a resource nobody has read.
#[test]
fn a_first_access_in_the_users_own_named_folder_is_not_reported() {
    let mut rt = trained();
    let (mine, theirs, address) = (200, 201, 202);
    let s = rt.symbols_mut();
    s.insert(
        SymbolKind::Resource,
        mine,
        r"\\fs04\home$\USER5\scan_0042.pdf",
    );
    s.insert(
        SymbolKind::Resource,
        theirs,
        r"\\fs04\home$\user6\scan_0042.pdf",
    );
    s.insert(SymbolKind::Resource, address, "drive/user5/plan.docx");
    assert!(first_read(&mut rt, 5, mine).is_empty());
    assert!(first_read(&mut rt, 5, address).is_empty());
    let f = first_read(&mut rt, 5, theirs);
    assert!(max_score(&f) >= 30.0, "{f:#?}");
}

#[test]
fn a_path_names_a_user_by_a_whole_segment_of_three_characters_or_more() {
    use crate::names_user;
    assert!(names_user("/home/jjones/.bashrc", "jjones"));
    assert!(names_user(r"C:\Users\JJones\Desktop", "jjones"));
    assert!(names_user("drive/jjones/x", "jjones@example.com"));
    assert!(names_user(r"\\fs01\scans\jjones\s.pdf", r"CORP\jjones"));
    assert!(!names_user("/home/jjones2/x", "jjones"));
    assert!(!names_user("/home/jjonesx", "jjones"));
    assert!(!names_user(r"\\fs01\hr\pay.xlsx", "hr"));
    assert!(!names_user("support.customers", "support"));
    assert!(!names_user("anything", ""));
}

#[test]
fn one_finding_per_user_and_resource() {
    let mut rt = trained();
    assert_eq!(first_read(&mut rt, 5, SALARIES).len(), 1);
    assert!(first_read(&mut rt, 5, SALARIES).is_empty());
    // The next user to read it is judged with one toucher now.
    let second = first_read(&mut rt, 6, SALARIES);
    assert_eq!(evidence(&second[0], "org_users_touching"), Value::Int(1));
    assert_eq!(evidence(&second[0], "peer_users_touching"), Value::Int(1));
}

#[test]
fn no_findings_during_learning() {
    let mut rt = runtime();
    let mut events = history(6);
    events.push(ev(5, SALARIES, T0 + 5 * DAY_MS));
    assert!(rt.observe(&sequence(events, 0)).is_empty());
}

#[test]
fn the_pseudocount_sets_how_rare_never_touched_is() {
    // Nobody has read hr.salaries: both the peer and the organisation term
    // are pseudocount / (n + 1), so 0.5 instead of 0.2 costs 2 × 4 points.
    let mut loose = runtime();
    loose.configure([("pseudocount", "0.5")]).unwrap();
    loose.observe(&history(30));
    let mut default = trained();
    let a = max_score(&first_read(&mut loose, 5, SALARIES));
    let b = max_score(&first_read(&mut default, 5, SALARIES));
    let want = 20.0 * (0.5f32 / 0.2).log10();
    assert!((b - a - want).abs() < 0.5, "{a} {b}");
    // A table most peers read hardly moves.
    let c = max_score(&first_read(&mut loose, 19, 4));
    let d = max_score(&first_read(&mut default, 19, 4));
    assert!((c - d).abs() < 1.0, "{c} {d}");
}

#[test]
fn config_is_validated_and_applied() {
    let mut rt = runtime();
    assert_eq!(
        rt.configure([("nope", "1")]),
        Err(ConfigError::UnknownKey("nope".into()))
    );
    for (key, bad) in [
        ("learning_days", "1.5"),
        ("min_score", "-1"),
        ("sensitive", "5"),
        ("sensitive_factor", "2"),
        ("pseudocount", "0"),
        ("pseudocount", "20"),
    ] {
        match rt.configure([(key, bad)]) {
            Err(ConfigError::InvalidValue { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}={bad}: {other:?}"),
        }
    }
    let mut rt = runtime();
    for k in <NovelTable as ueba_sdk::Detector>::info().config {
        rt.configure([(k.name, k.default)]).unwrap();
    }
    // Without sensitive patterns, the customer table loses its 10 points.
    let mut plain = runtime();
    plain.configure([("sensitive", "[]")]).unwrap();
    plain.observe(&history(30));
    let mut default = trained();
    let a = first_read(&mut plain, 5, CUSTOMERS);
    let b = first_read(&mut default, 5, CUSTOMERS);
    assert!((b[0].score - a[0].score - 10.0).abs() < 0.01);
    // A pattern configured later matches resources already seen.
    plain.configure([("sensitive", "[\"archive.*\"]")]).unwrap();
    assert_eq!(
        evidence(&first_read(&mut plain, 5, ARCHIVE)[0], "sensitive"),
        Value::Int(1)
    );
}

#[test]
fn snapshot_restore_gives_identical_findings() {
    let mut events = history(30);
    events.push(ev(5, SALARIES, T0 + 29 * DAY_MS));
    events.push(ev(7, CUSTOMERS, T0 + 29 * DAY_MS));
    events.push(ev(45, SALARIES, T0 + 29 * DAY_MS));
    let events = sequence(events, 0);
    let cut = events.len() * 3 / 4;
    let mut a = runtime();
    a.observe(&events[..cut]);
    let mut b = Runtime::<NovelTable>::default();
    b.restore(&a.snapshot()).unwrap();
    let fa = a.observe(&events[cut..]);
    let fb = b.observe(&events[cut..]);
    assert!(fa.len() >= 3);
    assert_eq!(fa, fb);
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn a_user_who_changes_group_is_counted_in_the_new_one() {
    let mut rt = trained();
    // User 5 (team 0) moves to team 1, which reads support.customers.
    let mut e = ev(5, 0, T0 + 30 * DAY_MS);
    e.peer_group = Some(1);
    rt.observe(&[e]);
    let f = first_read(&mut rt, 5, CUSTOMERS);
    // first_read reports the old group again, so user 5 is back in team 0
    // (19 others) and team 1 is back to 20 members.
    assert_eq!(evidence(&f[0], "peer_size"), Value::Int(19));
    let mut e = ev(6, CUSTOMERS, T0 + 30 * DAY_MS + 15 * HOUR_MS);
    e.peer_group = Some(1);
    e.seq = 2_000_000;
    let moved = rt.observe(&[e]);
    // User 6 now belongs to team 1, where every other member reads the table.
    assert_eq!(evidence(&moved[0], "peer_users_touching"), Value::Int(20));
    assert!(max_score(&moved) < 35.0, "{moved:#?}");
}

#[test]
fn hostile_input_does_not_panic() {
    let mut rt = trained();
    let base = T0 + 31 * DAY_MS;
    let cases = [
        (u32::MAX, u32::MAX, base, 0),
        (3, u32::MAX - 1, base - 5 * DAY_MS, 0),
        (3, 7, base + 400 * DAY_MS, i32::MAX),
        (3, 8, i64::MIN, i32::MIN),
        (3, 9, i64::MAX, i32::MAX),
        (u32::MAX - 1, u32::MAX, i64::MAX, i32::MIN),
    ];
    let events: Vec<Event> = cases
        .iter()
        .cycle()
        .take(cases.len() * 5)
        .enumerate()
        .map(|(i, &(user, resource, time_ms, offset))| Event {
            seq: i as u64,
            time_ms,
            utc_offset_minutes: offset,
            user,
            peer_group: [None, Some(u32::MAX), Some(0)][i % 3],
            resource,
            rows: [0, u64::MAX][i % 2],
            ..Event::default()
        })
        .collect();
    for f in rt.observe(&events) {
        assert!((0.0..=100.0).contains(&f.score));
    }
    let mut fresh = Runtime::<NovelTable>::default();
    fresh.observe(&events);
    fresh.observe(&[]);
}

const STAFF: u32 = 0;
const IT: u32 = 1;
/// Workstations are resources 1000 + user id; removable media is 999.
const MEDIA: u32 = 999;
/// A workstation no history touches.
const UNTOUCHED_PC: u32 = 5000;

fn pc(user: u32) -> u32 {
    1000 + user
}

fn ws_runtime() -> Runtime<NovelTable> {
    let mut rt = Runtime::<NovelTable>::default();
    let s = rt.symbols_mut();
    for u in 0..130 {
        s.insert(SymbolKind::User, u, format!("user{u}"));
        s.insert(SymbolKind::Resource, pc(u), format!("PC-{}", 1000 + 37 * u));
    }
    s.insert(SymbolKind::Resource, MEDIA, "removable-media");
    s.insert(SymbolKind::Resource, UNTOUCHED_PC, "PC-9999");
    s.insert(SymbolKind::PeerGroup, STAFF, "staff");
    s.insert(SymbolKind::PeerGroup, IT, "it-admin");
    rt
}

fn ws_ev(user: u32, group: u32, resource: u32, day: i64, minute: i64) -> Event {
    Event {
        time_ms: T0 + day * DAY_MS + minute * 60_000,
        user,
        peer_group: Some(group),
        resource,
        ..Event::default()
    }
}

/// Weekdays of `days`: staff 0..120 log on and off their own workstation
/// (a quarter of them, 0..30, also use removable media); admins 120..123
/// log on to two machines of staff they have not touched yet every day
/// (admin `i` to those of staff `40·i` onwards).
fn workstation_history(days: i64) -> Vec<Event> {
    let mut rng = Rng(77);
    let mut all = Vec::new();
    for day in (0..days).filter(|d| d.rem_euclid(7) < 5) {
        for u in 0..120 {
            all.push(ws_ev(u, STAFF, pc(u), day, 9 * 60 + rng.below(30) as i64));
            if u < 30 {
                all.push(ws_ev(u, STAFF, MEDIA, day, 11 * 60));
            }
            all.push(ws_ev(u, STAFF, pc(u), day, 17 * 60 + rng.below(30) as i64));
        }
        for (i, a) in (120..123).enumerate() {
            for k in 0..2 {
                let target = (day as u32 * 2 + k) % 30 + 40 * i as u32;
                all.push(ws_ev(a, IT, pc(target), day, 10 * 60 + 30 * k as i64));
            }
        }
    }
    sequence(all, 0)
}

fn ws_trained(days: i64) -> Runtime<NovelTable> {
    let mut rt = ws_runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt.observe(&workstation_history(days));
    rt
}

fn ws_first(
    rt: &mut Runtime<NovelTable>,
    user: u32,
    group: u32,
    resource: u32,
    day: i64,
) -> Vec<Finding> {
    rt.observe(&sequence(
        vec![ws_ev(user, group, resource, day, 14 * 60)],
        1_000_000,
    ))
}

#[test]
fn an_admin_who_touches_new_machines_daily_is_quiet() {
    let mut rt = ws_trained(19);
    // Day 21 (a Monday): an admin logs on to another new machine.
    let target = (0..40u32)
        .find(|&u| {
            rt.detector().users.get(120).is_some_and(|a| {
                a.touched
                    .binary_search_by_key(&pc(u), |t| t.resource)
                    .is_err()
            })
        })
        .expect("an untouched machine");
    let findings = ws_first(&mut rt, 120, IT, pc(target), 21);
    assert!(max_score(&findings) < 20.0, "{findings:#?}");
}

#[test]
fn a_user_who_never_discovers_on_a_colleagues_machine_is_loud() {
    let mut rt = ws_trained(19);
    let findings = ws_first(&mut rt, 36, STAFF, pc(35), 21);
    let f = findings.first().expect("a finding");
    assert!(f.score >= 40.0, "{f:#?}");
    assert_eq!(evidence(f, "sole_user"), Value::Text("user35".into()));
    assert!(f.reason.contains("only user35 uses it"), "{}", f.reason);
}

#[test]
fn a_group_that_rarely_discovers_judges_rarity_by_the_organisation() {
    // The staff never discover anything; the admins discover machines
    // one other person uses every day. A staff member's first logon to a
    // machine nobody has touched is rare for the organisation's
    // discoveries in one organisation and unheard of in the other.
    let first = |with_admins: bool| {
        let mut rt = ws_runtime();
        rt.configure([("min_score", "0")]).unwrap();
        let history: Vec<Event> = workstation_history(19)
            .into_iter()
            .filter(|e| with_admins || e.user < 120)
            .collect();
        rt.observe(&history);
        max_score(&ws_first(&mut rt, 50, STAFF, UNTOUCHED_PC, 21))
    };
    let (with, without) = (first(true), first(false));
    assert!(with + 10.0 < without, "{with} vs {without}");
}

#[test]
fn a_first_ever_kind_after_a_long_history_is_strong() {
    // A quarter of the staff use removable media; user 90 never has, in
    // three weeks of one workstation.
    let mut rt = ws_trained(19);
    let findings = ws_first(&mut rt, 90, STAFF, MEDIA, 21);
    let f = findings.first().expect("a finding");
    assert_eq!(evidence(f, "first_of_kind"), Value::Int(1));
    assert!(f.score >= 35.0, "{f:#?}");
}

/// `workstation_history` where staff 60..90 also connect removable media
/// on every weekday from their third: a habit first seen in their first
/// week, as a sparse log shows most habits.
fn workstation_history_with_early_media(days: i64) -> Vec<Event> {
    let mut all = workstation_history(days);
    let weekdays = (0..days).filter(|d| d.rem_euclid(7) < 5);
    for day in weekdays.skip(2) {
        for u in 60..90 {
            all.push(ws_ev(u, STAFF, MEDIA, day, 11 * 60 + 30));
        }
    }
    all.sort_by_key(|e| e.time_ms);
    sequence(all, 0)
}

#[test]
fn kinds_taken_up_in_a_first_week_do_not_make_a_settled_users_first_ordinary() {
    // A quarter of the staff take removable media up on their third day:
    // that is when their habit showed, not a change of it. User 90, three
    // weeks on one workstation without it, is judged by how often settled
    // users take a kind up (never, here), as when nobody took it up late.
    let first = |history: Vec<Event>| {
        let mut rt = ws_runtime();
        rt.configure([("min_score", "0")]).unwrap();
        rt.observe(&history);
        let findings = ws_first(&mut rt, 90, STAFF, MEDIA, 21);
        let f = findings.first().expect("a finding").clone();
        assert_eq!(evidence(&f, "first_of_kind"), Value::Int(1));
        (f.score, number(&f, "discovery_rate"))
    };
    let (score, with_early) = first(workstation_history_with_early_media(19));
    let (_, without) = first(workstation_history(19));
    assert!(score >= 45.0, "{score}");
    // The same rate to within a fifth: the first weeks' take-ups are not
    // counted in it (where they were, it was several times as high).
    assert!(with_early < 1.2 * without, "{with_early} vs {without}");
}

#[test]
fn a_newcomers_first_week_kinds_are_judged_by_first_weeks() {
    // A newcomer (user 125, from day 14) takes removable media up on their
    // third day, as a quarter of the staff did: much weaker evidence than
    // the same first use by someone settled.
    let mut rt = ws_runtime();
    rt.configure([("min_score", "0")]).unwrap();
    let mut history = workstation_history_with_early_media(19);
    for day in [14, 15] {
        history.push(ws_ev(125, STAFF, pc(125), day, 9 * 60 + 5));
    }
    history.sort_by_key(|e| e.time_ms);
    rt.observe(&sequence(history, 0));
    let newcomer = max_score(&ws_first(&mut rt, 125, STAFF, MEDIA, 16));
    let settled = max_score(&ws_first(&mut rt, 90, STAFF, MEDIA, 21));
    assert!(newcomer + 10.0 < settled, "{newcomer} vs {settled}");
}

#[test]
fn kinds_follow_the_configured_globs() {
    let mut rt = ws_runtime();
    rt.configure([("kinds", r#"[["PC-*", "workstation"]]"#)])
        .unwrap();
    rt.configure([("min_score", "0")]).unwrap();
    rt.observe(&workstation_history(19));
    let findings = ws_first(&mut rt, 36, STAFF, pc(35), 21);
    assert_eq!(
        evidence(&findings[0], "kind"),
        Value::Text("workstation".into())
    );
    assert!(rt.configure([("kinds", r#"["PC-*"]"#)]).is_err());
}

#[test]
fn a_reported_first_access_does_not_teach_the_rest_of_its_day() {
    // The second strange table of the day is judged against the habits
    // from before the first.
    let alone = max_score(&first_read(&mut trained(), 5, ARCHIVE));
    let mut rt = trained();
    assert!(!first_read(&mut rt, 5, SALARIES).is_empty());
    let after = max_score(&first_read(&mut rt, 5, ARCHIVE));
    assert!(after >= alone - 1.0, "{after} {alone}");
}

/// Machines nobody has used before: resources `NEW_PC + n`.
const NEW_PC: u32 = 2000;

/// The workstation history plus, every weekday, user 119 (staff) logging on
/// to a brand-new machine besides their own, and admin 123 logging on to
/// their own machine and, every Monday, to the machine of a staff member
/// they never visited (users 60, 61, …: many owners, once a week).
fn ws_with_extras(days: i64) -> Runtime<NovelTable> {
    let mut rt = ws_runtime();
    let s = rt.symbols_mut();
    for n in 0..200 {
        s.insert(SymbolKind::Resource, NEW_PC + n, format!("PC-{}", 9000 + n));
    }
    rt.configure([("min_score", "0")]).unwrap();
    let mut all = workstation_history(days);
    for day in (0..days).filter(|d| d.rem_euclid(7) < 5) {
        all.push(ws_ev(119, STAFF, NEW_PC + day as u32, day, 12 * 60));
        all.push(ws_ev(123, IT, pc(123), day, 9 * 60));
        if day.rem_euclid(7) == 0 {
            all.push(ws_ev(123, IT, pc(60 + day as u32 / 7), day, 11 * 60));
        }
    }
    rt.observe(&sequence(all, 0));
    rt
}

fn number(f: &Finding, key: &str) -> f64 {
    match evidence(f, key) {
        Value::Float(x) => x,
        Value::Int(x) => x as f64,
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn a_first_access_to_a_long_owned_machine_is_strong_for_a_frequent_discoverer() {
    // User 119 discovers a brand-new machine every day, so discovery alone
    // says little; but they have never entered a machine someone owns,
    // and user 35 has used theirs alone for three weeks.
    let mut rt = ws_with_extras(26);
    let findings = ws_first(&mut rt, 119, STAFF, pc(35), 28);
    let f = findings.first().expect("a finding");
    assert!(
        ueba_sdk::score_from_p(number(f, "p_novel")) < 20.0,
        "{f:#?}"
    );
    assert!(f.score >= 45.0, "{f:#?}");
    assert_eq!(evidence(f, "owner"), Value::Text("user35".into()));
    assert_eq!(evidence(f, "sole_user"), Value::Text("user35".into()));
    assert_eq!(evidence(f, "owner_days"), Value::Int(20));
    assert!(
        f.reason.contains("only user35 uses it (20 days)"),
        "{}",
        f.reason
    );
}

#[test]
fn an_admin_who_enters_owned_machines_weekly_is_judged_by_that_rate() {
    let mut rt = ws_with_extras(26);
    let findings = ws_first(&mut rt, 123, IT, pc(70), 28);
    let f = findings.first().expect("a finding");
    assert_eq!(evidence(f, "owner"), Value::Text("user70".into()));
    assert!(f.score < 20.0, "{f:#?}");
    // The same first access by a clerk is strong.
    let mut rt = ws_with_extras(26);
    let clerk = ws_first(&mut rt, 71, STAFF, pc(70), 28);
    assert!(clerk[0].score >= 42.0, "{:#?}", clerk[0]);
}

#[test]
fn an_admin_on_their_own_managers_machine_is_judged_by_how_rare_that_is() {
    // Admin 123 enters a colleague's machine every week, so one more is
    // quiet; user 70 is their manager, and nobody in the organisation has
    // entered their manager's machine in hundreds of such first accesses.
    let as_report = |manager: Option<u32>| {
        let mut rt = ws_with_extras(26);
        let mut e = ws_ev(123, IT, pc(70), 28, 14 * 60);
        e.manager = manager;
        rt.observe(&sequence(vec![e], 1_000_000))
    };
    let colleague = as_report(Some(71));
    let f = colleague.first().expect("a finding at min_score 0");
    assert!(f.score < 20.0, "{f:#?}");
    assert!(!f.reason.contains("manager"), "{}", f.reason);
    let manager = as_report(Some(70));
    let m = manager.first().expect("a finding");
    assert!(m.score >= f.score + 15.0, "{m:#?}");
    assert!(
        m.reason.contains("user70 is the user's manager"),
        "{}",
        m.reason
    );
    let q = number(m, "manager_share");
    // Half a day in days on other users' machines, none the manager's.
    let days = 0.5 / q - 1.0;
    assert!(days >= 30.0 && (days - days.round()).abs() < 1e-6, "{m:#?}");
    assert!(m.evidence.len() <= 32, "{m:#?}");
    // The reading of being on someone else's machine, times q.
    let ratio = number(m, "p_owned") / number(f, "p_owned");
    assert!((ratio - q).abs() < 1e-9 * q.max(1.0), "{ratio} {q}");
}

#[test]
fn a_night_return_to_the_managers_machine_is_read_with_the_manager() {
    // Admin 123 entered user 70's machine one afternoon; two days later
    // they are back on it at 22:00, an hour it is never in use.
    let night = |manager: Option<u32>| {
        let mut rt = ws_with_extras(26);
        let mut day = ws_ev(123, IT, pc(70), 26, 14 * 60);
        day.manager = manager;
        rt.observe(&sequence(vec![day], 1_000_000));
        let mut e = ws_ev(123, IT, pc(70), 28, 22 * 60);
        e.manager = manager;
        rt.observe(&sequence(vec![e], 2_000_000))
    };
    let colleague = night(Some(71));
    let manager = night(Some(70));
    let c = colleague.first().expect("a night finding");
    let m = manager.first().expect("a night finding");
    assert!(c.reason.starts_with("access to PC-"), "{}", c.reason);
    assert!(!c.reason.contains("manager"), "{}", c.reason);
    assert!(
        m.reason.contains("user70 is the user's manager"),
        "{}",
        m.reason
    );
    let q = number(m, "manager_share");
    assert!((number(m, "p") / number(c, "p") - q).abs() < 1e-9, "{m:#?}");
    assert!(m.score >= c.score + 15.0, "{m:#?} {c:#?}");
}

#[test]
fn where_people_often_use_their_managers_machines_it_says_little() {
    // The same organisation, but every admin visit is to the machine of
    // the admin's manager of that day (an assistant's round): such visits
    // are half of the first accesses to others' machines.
    let mut rt = ws_runtime();
    rt.configure([("min_score", "0")]).unwrap();
    let mut all = workstation_history(26);
    let at_ten = |e: &Event| (e.time_ms - T0).rem_euclid(DAY_MS) == 10 * 3_600_000;
    for e in all.iter_mut().filter(|e| e.user >= 120 && at_ten(e)) {
        e.manager = Some(e.resource - 1000);
    }
    rt.observe(&sequence(all, 0));
    let mut e = ws_ev(122, IT, pc(70), 28, 14 * 60);
    e.manager = Some(70);
    let found = rt.observe(&sequence(vec![e], 1_000_000));
    let f = found.first().expect("a finding at min_score 0");
    assert!(number(f, "manager_share") > 0.2, "{f:#?}");
    // Where nobody is known to, the same visit is far stronger.
    let mut rt2 = ws_runtime();
    rt2.configure([("min_score", "0")]).unwrap();
    rt2.observe(&sequence(workstation_history(26), 0));
    let mut e = ws_ev(122, IT, pc(70), 28, 14 * 60);
    e.manager = Some(70);
    let unknown = rt2.observe(&sequence(vec![e], 1_000_000));
    assert!(
        unknown[0].score > f.score + 15.0,
        "{:#?} {f:#?}",
        unknown[0]
    );
}

#[test]
fn manager_counts_cross_shards_and_survive_a_snapshot() {
    let a = ws_with_extras(26);
    let share = a.population();
    let mut b = ws_runtime();
    b.absorb(&[share.as_slice()]).unwrap();
    let snap = b.snapshot();
    let mut c = ws_runtime();
    c.restore(&snap).unwrap();
    assert_eq!(c.population(), b.population());
    let managers = &c.detector().managers;
    assert!(managers.others.values().any(|&(f, m)| f >= 30 && m == 0));
    assert_eq!(a.detector().managers.own().len(), 1);
    // A share claiming more visits to managers than first accesses is
    // refused.
    let mut bad = a.detector().share();
    bad.managers = vec![(0, 1, 2)];
    let err = crate::share::manager_sum(&[bad]).unwrap_err();
    assert!(err.contains("2 days on a manager's resource of 1"), "{err}");
}

#[test]
fn a_brand_new_machine_has_no_owner() {
    let mut rt = ws_with_extras(26);
    let findings = ws_first(&mut rt, 36, STAFF, NEW_PC + 150, 28);
    let f = findings.first().expect("a finding");
    assert!(
        f.evidence
            .iter()
            .all(|(k, _)| k != "owner" && k != "p_owned")
    );
    let p = number(f, "discovery_rate") * number(f, "relative_rarity");
    assert!((number(f, "p") - p).abs() < 1e-12, "{f:#?}");
}

#[test]
fn a_machine_one_user_holds_most_days_of_is_still_theirs() {
    // Admin 120 visited user 5's machine; user 5 still owns it, and a
    // clerk's first logon there names them.
    let mut rt = ws_with_extras(26);
    let findings = ws_first(&mut rt, 36, STAFF, pc(5), 28);
    let f = findings.first().expect("a finding");
    assert_eq!(evidence(f, "owner"), Value::Text("user5".into()));
    assert!(f.evidence.iter().all(|(k, _)| k != "sole_user"));
    assert!(f.reason.contains("mostly user5"), "{}", f.reason);
    assert!(f.score >= 38.0, "{f:#?}");
}

/// Ownership resting on one day (a machine user 119 logged on to once)
/// is a reading of half the weight of ownership resting on weeks: a
/// clerk's first logon there counts the owned reading's tail to the power
/// ½, and scores far below their first logon to a machine its owner has
/// used for twenty days.
#[test]
fn ownership_of_one_day_weighs_half_of_ownership_of_weeks() {
    let mut rt = ws_with_extras(26);
    let once = ws_first(&mut rt, 71, STAFF, NEW_PC + 3, 28);
    let once = once.first().expect("a finding");
    assert_eq!(evidence(once, "owner"), Value::Text("user119".into()));
    assert_eq!(evidence(once, "owner_days"), Value::Int(1));
    assert_eq!(number(once, "ownership_weight"), 0.5);
    let reading = number(once, "owned_access_rate") * number(once, "owned_relative");
    assert!(
        (number(once, "p_owned") - reading.sqrt()).abs() < 1e-12,
        "{once:#?}"
    );
    let mut rt = ws_with_extras(26);
    let weeks = ws_first(&mut rt, 71, STAFF, pc(70), 28);
    assert!(
        once.score < weeks[0].score - 15.0,
        "{once:#?} {:#?}",
        weeks[0]
    );
}

/// The same event, held out of learning.
fn unlearned(e: Event) -> Event {
    Event { learn: false, ..e }
}

/// A copy of `rt`, through its snapshot.
fn fork(rt: &Runtime<NovelTable>) -> Runtime<NovelTable> {
    let mut copy = Runtime::<NovelTable>::default();
    copy.restore(&rt.snapshot()).unwrap();
    copy
}

/// [`trained`] reporting every score.
fn trained_loose() -> Runtime<NovelTable> {
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt.observe(&history(30));
    rt
}

/// One event by `user` on `resource` at 14:00 of `day`, learned or not.
fn read_on(
    rt: &mut Runtime<NovelTable>,
    user: u32,
    resource: u32,
    day: i64,
    learn: bool,
) -> Vec<Finding> {
    let e = Event {
        learn,
        ..ev(user, resource, T0 + day * DAY_MS + 14 * HOUR_MS)
    };
    rt.observe(&sequence(vec![e], 1_000_000 + day as u64))
}

#[test]
fn a_table_first_read_while_held_is_the_users_once_learning_resumes() {
    let alone = read_on(&mut trained(), 5, ARCHIVE, 30, true);
    let mut rt = trained();
    // Held: scored exactly as a learned first read, once a day.
    let held = read_on(&mut rt, 5, ARCHIVE, 30, false);
    assert_eq!(held, alone);
    assert!(read_on(&mut rt, 5, ARCHIVE, 30, false).is_empty());
    let next_day = read_on(&mut rt, 5, ARCHIVE, 31, false);
    assert_eq!(next_day.len(), 1, "{next_day:#?}");
    assert_eq!(next_day[0].score, alone[0].score);
    // Learning resumes: the episode ended without a malicious verdict, so
    // the held first read is learned as one, and the table is the user's:
    // reading it again is no first access, where a run that never saw the
    // held reads reports one.
    let mut never = trained();
    assert_eq!(read_on(&mut never, 5, ARCHIVE, 32, true).len(), 1);
    // What a held user keeps to learn is in the snapshot.
    assert!(read_on(&mut fork(&rt), 5, ARCHIVE, 32, true).is_empty());
    let resumed = read_on(&mut rt, 5, ARCHIVE, 32, true);
    assert!(resumed.is_empty(), "{resumed:#?}");
    assert!(read_on(&mut rt, 5, ARCHIVE, 33, true).is_empty());
}

#[test]
fn a_stretch_of_unlearned_events_teaches_nothing_until_learning_resumes() {
    let mut held = trained_loose();
    let mut never = trained_loose();
    for rt in [&mut held, &mut never] {
        rt.symbols_mut()
            .insert(SymbolKind::Resource, 104, "backup-drive");
    }
    let mut stretch = Vec::new();
    for day in 30..35 {
        let t = T0 + day * DAY_MS + 10 * HOUR_MS;
        // New tables (other teams', nobody's), a kind the user never used,
        // their own tables again, in another peer group.
        for (i, r) in [SALARIES, ARCHIVE, CUSTOMERS, 104, 7, 12, 0, 1]
            .into_iter()
            .enumerate()
        {
            let mut e = ev(5, r, t + i as i64 * 60_000);
            e.peer_group = Some(1 + day as u32 % 2);
            stretch.push(unlearned(e));
        }
        // A user the detector has never seen.
        stretch.push(unlearned(ev(205, SALARIES, t)));
    }
    let found = held.observe(&sequence(stretch, 1_000_000));
    assert!(found.len() >= 25, "{found:#?}");
    // The next learned day of everybody but user 5, who is still held.
    let day35: Vec<Event> = (0..GROUPS * PER_GROUP)
        .filter(|&u| u != 5)
        .map(|u| ev(u, LOOKUP, T0 + 35 * DAY_MS + 9 * HOUR_MS))
        .collect();
    let day35 = sequence(day35, 2_000_000);
    assert_eq!(held.observe(&day35), never.observe(&day35));
    // The user's own habits are as they were while they are held: a table
    // they read while held is judged, on a held read, as if they never had.
    // (Their peer group counts them among its readers of it: see
    // `a_team_taking_up_a_table_while_held_is_the_team_using_it`.)
    assert_eq!(
        read_on(&mut held, 5, ARCHIVE, 36, false),
        read_on(&mut fork(&never), 5, ARCHIVE, 36, false)
    );
    // Once they are learned again, it is theirs.
    assert!(read_on(&mut held, 5, ARCHIVE, 37, true).is_empty());
    assert_eq!(read_on(&mut never, 5, ARCHIVE, 37, true).len(), 1);
}

#[test]
fn a_team_taking_up_a_table_while_held_is_the_team_using_it() {
    // Five members of group 1 read a table nobody reads, each first read
    // reported and the member held; the sixth is judged by a team of
    // which five already read it, not by one where nobody does.
    let mut rt = trained_loose();
    for u in 20..25 {
        for day in 30..33 {
            read_on(&mut rt, u, ARCHIVE, day, false);
        }
    }
    let sixth = read_on(&mut rt, 25, ARCHIVE, 33, true);
    let alone = read_on(&mut trained_loose(), 25, ARCHIVE, 33, true);
    assert_eq!(evidence(&sixth[0], "peer_users_touching"), Value::Int(5));
    assert_eq!(evidence(&alone[0], "peer_users_touching"), Value::Int(0));
    assert!(
        sixth[0].score + 10.0 < alone[0].score,
        "{sixth:#?} {alone:#?}"
    );
    // They are not its users: the organisation's count, and who owns it,
    // stay with learned reads.
    assert_eq!(evidence(&sixth[0], "org_users_touching"), Value::Int(0));
    // A held member's own next read is still their first, judged by the
    // other four.
    let again = read_on(&mut rt, 20, ARCHIVE, 34, false);
    assert_eq!(evidence(&again[0], "peer_users_touching"), Value::Int(5));
}

#[test]
fn new_tables_read_while_held_raise_the_discovery_rate_only_once_learned() {
    let mut rt = trained_loose();
    let rate = |f: &Finding| number(f, "discovery_rate");
    let mut rates = Vec::new();
    // Five days of reading every other team's tables, held.
    for day in 30..35 {
        for g in 1..GROUPS {
            let r = g * TABLES_PER_GROUP + day as u32 % TABLES_PER_GROUP;
            rates.extend(read_on(&mut rt, 5, r, day, false).iter().map(rate));
        }
    }
    assert_eq!(rates.len(), 45);
    assert!(rates.iter().all(|&r| r == rates[0]), "{rates:?}");
    // While held, the next discovery is judged by the rate from before the
    // episode.
    let held = read_on(&mut fork(&rt), 5, ARCHIVE, 35, false);
    let never = read_on(&mut trained_loose(), 5, ARCHIVE, 35, true);
    assert_eq!(rate(&held[0]), rate(&never[0]));
    assert_eq!(held[0].score, never[0].score);
    // Once learning resumes, the episode's 45 discoveries are the user's:
    // they discover often now, and the next discovery says less.
    let after = read_on(&mut rt, 5, ARCHIVE, 35, true);
    assert!(rate(&after[0]) > 2.0 * rate(&never[0]), "{after:#?}");
    assert!(after[0].score < never[0].score, "{after:#?}");
}

#[test]
fn logons_while_held_do_not_make_a_machine_shared() {
    // User 36 logs on to user 35's machine every day of an episode; a
    // clerk's first logon there afterwards still finds it user 35's alone.
    let mut rt = ws_trained(19);
    for day in 21..26 {
        let e = unlearned(ws_ev(36, STAFF, pc(35), day, 14 * 60));
        let found = rt.observe(&sequence(vec![e], 1_000_000 + day as u64));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            evidence(&found[0], "sole_user"),
            Value::Text("user35".into())
        );
    }
    let f = ws_first(&mut rt, 71, STAFF, pc(35), 28);
    assert_eq!(evidence(&f[0], "org_users_touching"), Value::Int(1));
    assert_eq!(evidence(&f[0], "sole_user"), Value::Text("user35".into()));
}

/// [`ws_trained`] for 19 days, then one event by `user` on `resource` at
/// `minute` of day 21 (a Monday), learned or not.
fn ws_at(user: u32, group: u32, resource: u32, minute: i64, learn: bool) -> Vec<Finding> {
    let mut rt = ws_trained(19);
    let e = Event {
        learn,
        ..ws_ev(user, group, resource, 21, minute)
    };
    rt.observe(&sequence(vec![e], 1_000_000))
}

fn dead_finding(findings: &[Finding]) -> Option<&Finding> {
    findings
        .iter()
        .find(|f| f.evidence.iter().any(|(k, _)| k == "p_dead_hour"))
}

#[test]
fn a_non_owner_at_the_machines_dead_hour_scores_high() {
    // Admin 121 logs on to staff machines by day as a habit, so entering
    // user 45's machine says little at 14:00, when it is in use, and much
    // at 21:00, when it never is.
    let day = ws_at(121, IT, pc(45), 14 * 60, true);
    assert!(max_score(&day) < 20.0, "{day:#?}");
    let night = ws_at(121, IT, pc(45), 21 * 60, true);
    let f = dead_finding(&night).expect("a resource-side time finding");
    assert!(f.score >= 40.0, "{f:#?}");
    assert_eq!(evidence(f, "owner"), Value::Text("user45".into()));
    assert_eq!(evidence(f, "resource_days_in_use_at_hour"), Value::Int(0));
    assert!(f.reason.contains("user45 owns it"), "{}", f.reason);
}

#[test]
fn nights_on_other_peoples_machines_make_one_more_a_habit() {
    // Admin 121 spends a week of nights on staff machines nobody uses
    // then (maintenance rounds); user 45's machine at 21:00 afterwards is
    // one more such night for them.
    let visit = |rt: &mut Runtime<NovelTable>| {
        let e = ws_ev(121, IT, pc(45), 30, 21 * 60);
        let found = rt.observe(&sequence(vec![e], 2_000_000));
        dead_finding(&found)
            .expect("a resource-side time finding")
            .clone()
    };
    let without = visit(&mut ws_trained(19));
    assert!(without.score >= 40.0, "{without:#?}");
    let mut rt = ws_trained(19);
    for (i, day) in [21, 22, 23, 24, 25, 28, 29].into_iter().enumerate() {
        let e = ws_ev(121, IT, pc(80 + i as u32), day, 22 * 60);
        rt.observe(&sequence(vec![e], 1_000_000 + day as u64));
    }
    let f = &visit(&mut rt);
    assert!(f.score <= without.score - 10.0, "{f:#?} {without:#?}");
    assert!(
        number(f, "p_dead_habit") > number(f, "p_dead_hour"),
        "{f:#?}"
    );
    assert!(
        f.reason.contains("at hours like this often enough"),
        "{}",
        f.reason
    );
    // A clerk's first such visit is still judged by the hour alone.
    let clerk = ws_ev(70, STAFF, pc(45), 30, 21 * 60);
    let found = rt.observe(&sequence(vec![clerk], 2_000_001));
    let f = dead_finding(&found).expect("a resource-side time finding");
    assert!(f.score >= 40.0, "{f:#?}");
    assert!(!has(f, "p_dead_habit"), "{f:#?}");
    // A first access with an owner and hours stays within the host's
    // default of 32 evidence items.
    assert!(f.evidence.len() <= 32, "{}", f.evidence.len());
    assert!(!f.reason.contains("often enough"), "{}", f.reason);
}

#[test]
fn the_owner_at_an_unusual_hour_of_theirs_is_not_judged_by_it() {
    let findings = ws_at(45, STAFF, pc(45), 21 * 60, true);
    assert!(dead_finding(&findings).is_none(), "{findings:#?}");
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_machine_with_little_history_says_nothing_of_its_hours() {
    // Machine NEW_PC + 7 has been user 50's for two days only.
    let mut rt = ws_runtime();
    rt.symbols_mut()
        .insert(SymbolKind::Resource, NEW_PC + 7, "PC-9007");
    rt.configure([("min_score", "0")]).unwrap();
    let mut all = workstation_history(19);
    for day in [17, 18] {
        all.push(ws_ev(50, STAFF, NEW_PC + 7, day, 9 * 60));
        all.push(ws_ev(50, STAFF, NEW_PC + 7, day, 17 * 60));
    }
    rt.observe(&sequence(all, 0));
    let e = ws_ev(121, IT, NEW_PC + 7, 21, 21 * 60);
    let findings = rt.observe(&sequence(vec![e], 1_000_000));
    assert!(dead_finding(&findings).is_none(), "{findings:#?}");
}

#[test]
fn tables_nobody_owns_keep_the_reading_quiet() {
    // Every table is read by a whole team: a first read at night is judged
    // by the user's discovery habits alone.
    let mut rt = trained_loose();
    let findings = read_on(&mut rt, 5, LOOKUP, 31, true);
    assert!(dead_finding(&findings).is_none(), "{findings:#?}");
}

#[test]
fn unlearned_events_do_not_teach_a_machine_its_hours() {
    // Admin 121 uses user 45's machine every night for a week while held
    // out of learning: each night still scores as the first did.
    let mut rt = ws_trained(19);
    let mut scores = Vec::new();
    for day in 21..26 {
        let e = Event {
            learn: false,
            ..ws_ev(121, IT, pc(45), day, 21 * 60)
        };
        let findings = rt.observe(&sequence(vec![e], 1_000_000 + day as u64));
        scores.push(dead_finding(&findings).map_or(0.0, |f| f.score));
    }
    assert!(scores[0] >= 40.0, "{scores:?}");
    assert!(
        scores.iter().all(|s| (s - scores[0]).abs() < 0.5),
        "{scores:?}"
    );
    // Learned, the same nights make the hour the machine's own.
    let mut rt = ws_trained(19);
    let mut last = 100.0;
    for day in 21..33 {
        let e = ws_ev(121, IT, pc(45), day, 21 * 60);
        let findings = rt.observe(&sequence(vec![e], 1_000_000 + day as u64));
        last = dead_finding(&findings).map_or(0.0, |f| f.score);
    }
    assert!(last < scores[0] - 10.0, "{last} {scores:?}");
}

fn has(f: &Finding, key: &str) -> bool {
    f.evidence.iter().any(|(k, _)| k == key)
}

/// User 5's findings for a first read of `SALARIES` (a table) and, `gap_ms`
/// later, a first use of `second`.
fn two_firsts(second: u32, gap_ms: i64) -> Vec<Finding> {
    let mut rt = trained_loose();
    rt.symbols_mut()
        .insert(SymbolKind::Resource, 104, "backup-drive");
    let t = T0 + 30 * DAY_MS + 9 * HOUR_MS;
    rt.observe(&sequence(
        vec![ev(5, SALARIES, t), ev(5, second, t + gap_ms)],
        1_000_000,
    ))
}

#[test]
fn first_accesses_of_two_kinds_in_one_session_compound() {
    let near = two_firsts(104, 10 * 60_000);
    let far = two_firsts(104, 9 * HOUR_MS);
    assert_eq!(near.len(), 2, "{near:#?}");
    assert_eq!(far.len(), 2, "{far:#?}");
    // The drive alone, a shift later, is judged by itself.
    assert!(!has(&far[1], "session_kind"), "{:#?}", far[1]);
    // Ten minutes after the salaries, it carries them too: Fisher's
    // combination of the two chances, stronger than either.
    assert_eq!(evidence(&near[1], "session_kind"), Value::from("table"));
    let alone = number(&near[1], "p_alone");
    let other = number(&near[1], "session_p");
    let q = alone * other;
    let fisher = q * (1.0 - q.ln());
    assert!((number(&near[1], "p") - fisher).abs() <= fisher * 1e-9);
    assert!(fisher < alone.min(other));
    assert!(
        near[1].score > far[1].score,
        "{} vs {}",
        near[1].score,
        far[1].score
    );
    // The first finding is as it was.
    assert_eq!(near[0], far[0]);
}

#[test]
fn first_accesses_of_one_kind_do_not_compound() {
    // Two new tables in a row: each judged by the discovery rate alone.
    let found = two_firsts(ARCHIVE, 10 * 60_000);
    assert!(!found.is_empty());
    for f in &found {
        assert!(!has(f, "session_kind"), "{f:#?}");
    }
}

/// Two instances, as with `--shards 2`: even users' events go to the
/// first, odd users' to the second, in days of event time from `T0`, and
/// after each day the instances exchange their populations, as the host
/// does at fixed points of event time.
fn two_shards(make: fn() -> Runtime<NovelTable>, events: &[Event]) -> [Runtime<NovelTable>; 2] {
    let mut shards = [make(), make()];
    let last = events.iter().map(|e| e.time_ms).max().unwrap_or(T0);
    for day in 0..=(last - T0) / DAY_MS {
        let start = T0 + day * DAY_MS;
        for (i, rt) in shards.iter_mut().enumerate() {
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| e.user % 2 == i as u32)
                .filter(|e| (start..start + DAY_MS).contains(&e.time_ms))
                .copied()
                .collect();
            rt.observe(&mine);
        }
        exchange(&mut shards);
    }
    shards
}

fn exchange(shards: &mut [Runtime<NovelTable>; 2]) {
    let shares = [shards[0].population(), shards[1].population()];
    shards[0].absorb(&[&shares[1]]).unwrap();
    shards[1].absorb(&[&shares[0]]).unwrap();
}

fn loose_runtime() -> Runtime<NovelTable> {
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt
}

fn loose_ws_runtime() -> Runtime<NovelTable> {
    let mut rt = ws_runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt
}

/// A copy of an instance, by its snapshot.
fn copy(rt: &Runtime<NovelTable>) -> Runtime<NovelTable> {
    let mut c = Runtime::<NovelTable>::default();
    // Configured as the loose runtimes it copies: a restored instance
    // keeps its own configuration, not the snapshot's.
    c.configure([("min_score", "0")]).unwrap();
    c.restore(&rt.snapshot()).unwrap();
    c
}

/// The population figures of a finding.
fn population_figures(f: &Finding) -> [Value; 4] {
    [
        "peer_users_touching",
        "peer_size",
        "org_users_touching",
        "org_users",
    ]
    .map(|k| evidence(f, k))
}

#[test]
fn shards_that_exchange_populations_report_the_whole_organisation() {
    let mut whole = loose_runtime();
    whole.observe(&history(30));
    let [first, second] = two_shards(loose_runtime, &history(30));
    // User 4 (team 0, the first shard's) reads the customer table only
    // teams 1-3 read; user 19 (team 0, the second's) the team table 18 of
    // their 19 peers read.
    for (mut shard, user, table) in [(copy(&first), 4, CUSTOMERS), (copy(&second), 19, 4)] {
        let want = first_read(&mut copy(&whole), user, table);
        let got = first_read(&mut shard, user, table);
        assert_eq!(population_figures(&got[0]), population_figures(&want[0]));
        // The user's own habits are the same in both, and the pooled rates
        // are sums of the same counts, the rarities of the other shard's
        // discoveries rated a day late at worst.
        assert!(
            (got[0].score - want[0].score).abs() < 0.5,
            "{} vs {}",
            got[0].score,
            want[0].score
        );
    }
    let want = first_read(&mut copy(&whole), 4, CUSTOMERS);
    assert_eq!(evidence(&want[0], "peer_size"), Value::Int(19));
    assert_eq!(evidence(&want[0], "org_users_touching"), Value::Int(60));
    assert_eq!(evidence(&want[0], "org_users"), Value::Int(199));
    // Without the other shard's share the first knows only its own users.
    let mut alone = copy(&first);
    alone.absorb::<Vec<u8>>(&[]).unwrap();
    let got = first_read(&mut alone, 4, CUSTOMERS);
    assert_eq!(evidence(&got[0], "org_users_touching"), Value::Int(30));
    assert_eq!(evidence(&got[0], "org_users"), Value::Int(99));
}

#[test]
fn a_machine_owned_on_another_shard_is_judged_as_owned() {
    let events = workstation_history(19);
    let mut whole = loose_ws_runtime();
    whole.observe(&events);
    let [first, second] = two_shards(loose_ws_runtime, &events);
    // User 36 (the first shard's) logs on to the machine of user 35 (the
    // second's), who has used it alone.
    let want = ws_first(&mut copy(&whole), 36, STAFF, pc(35), 21);
    let got = ws_first(&mut copy(&first), 36, STAFF, pc(35), 21);
    assert_eq!(evidence(&got[0], "sole_user"), Value::Text("user35".into()));
    for key in ["owner_days", "resource_user_days", "org_users_touching"] {
        assert_eq!(evidence(&got[0], key), evidence(&want[0], key), "{key}");
    }
    assert!(
        (got[0].score - want[0].score).abs() < 0.5,
        "{} vs {}",
        got[0].score,
        want[0].score
    );
    // Admin 121 (the second shard's) at 21:00 on user 44's machine (the
    // first's): the machine's hours and owner come from the first shard.
    let at_night = |rt: &mut Runtime<NovelTable>| {
        let e = ws_ev(121, IT, pc(44), 21, 21 * 60);
        rt.observe(&sequence(vec![e], 1_000_000))
    };
    let want = at_night(&mut copy(&whole));
    let got = at_night(&mut copy(&second));
    let (want, got) = (dead_finding(&want).unwrap(), dead_finding(&got).unwrap());
    assert_eq!(evidence(got, "owner"), Value::Text("user44".into()));
    for key in [
        "resource_days",
        "resource_days_in_use_at_hour",
        "not_owner_chance",
    ] {
        assert_eq!(evidence(got, key), evidence(want, key), "{key}");
    }
    assert!(
        (got.score - want.score).abs() < 0.5,
        "{} vs {}",
        got.score,
        want.score
    );
    // Alone, the second shard has never seen the machine's owner.
    let mut alone = copy(&second);
    alone.absorb::<Vec<u8>>(&[]).unwrap();
    assert!(dead_finding(&at_night(&mut alone)).is_none());
}

#[test]
fn a_settled_users_first_kind_is_judged_by_every_shards_settled_users() {
    let events = workstation_history_with_early_media(19);
    let mut whole = loose_ws_runtime();
    whole.observe(&events);
    let [first, _] = two_shards(loose_ws_runtime, &events);
    // User 90 (the first shard's) connects removable media for the first
    // time: the settled users' rate counts the second shard's too.
    let want = ws_first(&mut copy(&whole), 90, STAFF, MEDIA, 21);
    let got = ws_first(&mut copy(&first), 90, STAFF, MEDIA, 21);
    let (want, got) = (
        number(&want[0], "discovery_rate"),
        number(&got[0], "discovery_rate"),
    );
    assert!((got / want - 1.0).abs() < 0.05, "{got} vs {want}");
    // Alone, the first shard has half the settled accesses, and a rate of
    // none among them is twice as high.
    let mut alone = copy(&first);
    alone.absorb::<Vec<u8>>(&[]).unwrap();
    let lonely = number(
        &ws_first(&mut alone, 90, STAFF, MEDIA, 21)[0],
        "discovery_rate",
    );
    assert!(lonely > 1.5 * want, "{lonely} vs {want}");
}

#[test]
fn absorbing_the_same_shares_again_changes_nothing() {
    let [mut first, second] = two_shards(loose_runtime, &history(12));
    let once = first.snapshot();
    let share = second.population();
    for _ in 0..3 {
        first.absorb(&[&share]).unwrap();
    }
    assert!(first.snapshot() == once);
    // An instance's own share never carries what it absorbed.
    let own = first.population();
    first.absorb::<Vec<u8>>(&[]).unwrap();
    assert_eq!(first.population(), own);
    assert!(first.snapshot() != once);
    first.absorb(&[&share]).unwrap();
    assert!(first.snapshot() == once);
}

#[test]
fn a_restored_instance_keeps_what_it_absorbed() {
    let [first, _] = two_shards(loose_runtime, &history(30));
    let mut restored = Runtime::<NovelTable>::default();
    restored.restore(&first.snapshot()).unwrap();
    let mut original = copy(&first);
    let t = T0 + 30 * DAY_MS + 14 * HOUR_MS;
    let events = sequence(
        vec![
            ev(4, CUSTOMERS, t),
            ev(6, SALARIES, t),
            ev(8, 47, t + HOUR_MS),
        ],
        1_000_000,
    );
    let found = original.observe(&events);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(restored.observe(&events), found);
    assert_eq!(restored.population(), original.population());
}

#[test]
fn shares_that_do_not_decode_are_refused_and_change_nothing() {
    let [mut first, second] = two_shards(loose_runtime, &history(10));
    let before = first.snapshot();
    let share = second.population();
    // The runtime's header: magic, name length, name.
    let header = 8 + 2 + "novel-table".len();
    let with_body = |body: Vec<u8>| {
        let mut b = share[..header].to_vec();
        b.extend(body);
        b
    };
    let mut truncated = share.clone();
    truncated.truncate(share.len() / 2);
    let mut nan = crate::share::Share::default();
    nan.org.kinds.new_kind.firsts = f32::NAN;
    let mut unnamed = crate::share::Share::default();
    unnamed.clocks.push((3, Default::default()));
    let garbage = [
        truncated,
        with_body(ueba_sdk::population::encode(&nan)),
        with_body(ueba_sdk::population::encode(&unnamed)),
        b"junk".to_vec(),
    ];
    for g in garbage {
        // Refused even next to a good share, which is not half-applied.
        assert!(first.absorb(&[&share, &g]).is_err());
        assert!(first.snapshot() == before);
    }
    // population() leaves the state alone.
    first.population();
    assert!(first.snapshot() == before);
}

/// Rarities rated for one user's discoveries of a kind, as the detector
/// rates them.
fn rated(rarities: &[f64]) -> crate::KindStats {
    let mut k = crate::KindStats::default();
    for &r in rarities {
        k.rate_rarity(r, 64.0);
    }
    k
}

#[test]
fn a_discovery_as_rare_as_half_of_what_the_user_discovers_is_not_rare_for_them() {
    // Half of this user's discoveries are files nobody else has opened,
    // half their team's shared documents: one more file nobody has opened
    // is like half of what they discover, far above its ratio to their
    // typical (geometric mean) discovery.
    let mixed = rated(&[1e-6, 1e-2].repeat(10));
    let typical = crate::typical_log_rarity(&mixed.discovery, &Default::default(), None, 0.0);
    let ratio = ueba_sdk::novelty::Discovery::relative_rarity(1e-6, typical);
    let relative = crate::relative_rarity(1e-6, &mixed, None, None, Default::default());
    assert!(ratio < 0.01, "{ratio}");
    assert!(relative > 0.1, "{relative}");
    // A clerk whose discoveries are all their team's tables has little
    // spread: a table nobody reads is as rare as its ratio says.
    let clerk = rated(&[0.1; 20]);
    let relative = crate::relative_rarity(1e-5, &clerk, None, None, Default::default());
    let typical = crate::typical_log_rarity(&clerk.discovery, &Default::default(), None, 0.0);
    let ratio = ueba_sdk::novelty::Discovery::relative_rarity(1e-5, typical);
    assert_eq!(relative, ratio);
    // Halving past the window keeps sums and squares together.
    let long = rated(&[1e-6, 1e-2].repeat(100));
    assert!(long.discovery.rated <= 64.0);
    let relative = crate::relative_rarity(1e-6, &long, None, None, Default::default());
    assert!(relative > 0.1, "{relative}");
}

#[test]
fn a_new_kinds_discoveries_are_judged_by_the_organisations_discoveries() {
    // A share that appears mid-log has no typical discovery of its own. In
    // an organisation whose discoveries are files nobody else has opened,
    // one more such file in the new share is ordinary; in one whose
    // discoveries are tables a tenth of it reads, a table nobody reads
    // stays rare.
    let empty = crate::KindStats::default();
    let files = crate::Base::of([rated(&[1e-5; 40]), rated(&[1e-4; 40])].iter());
    let tables = crate::Base::of([rated(&[0.1; 80])].iter());
    let on_files = crate::relative_rarity(1e-5, &empty, None, None, files);
    let on_tables = crate::relative_rarity(1e-5, &empty, None, None, tables);
    let on_nothing = crate::relative_rarity(1e-5, &empty, None, None, Default::default());
    assert!(on_files > 0.2, "{on_files}");
    assert!(on_tables < 1e-3, "{on_tables}");
    assert!(on_nothing <= on_tables, "{on_nothing} {on_tables}");
    // The kind's own discoveries take over as they come.
    let own_kind = rated(&[0.1; 64]);
    let settled = crate::relative_rarity(1e-5, &empty, Some(&own_kind), None, files);
    assert!(settled < 1e-2, "{settled}");
}

#[test]
fn a_team_taking_a_table_up_together_alerts_on_its_first_member_only() {
    // Day 30: team 5 starts reading archive.old_orders (nobody ever has),
    // one member after another, an hour apart.
    let mut rt = trained();
    rt.configure([("min_score", "0")]).unwrap();
    let team: Vec<u32> = (100..106).collect();
    let mut scores = Vec::new();
    for (i, &u) in team.iter().enumerate() {
        let e = ev(u, ARCHIVE, T0 + 30 * DAY_MS + (9 + i as i64) * HOUR_MS);
        let found = rt.observe(&sequence(vec![e], 1_000_000 + i as u64));
        scores.push(found[0].score);
        if i > 0 {
            assert!(
                found[0].reason.contains("the team taking it up"),
                "{}",
                found[0].reason
            );
        }
    }
    assert!(scores[0] >= 50.0, "{scores:?}");
    // One other member today already makes the next unremarkable, and
    // each further member more so.
    assert!(scores[1] < 20.0, "{scores:?}");
    assert!(
        scores.windows(2).skip(1).all(|w| w[1] <= w[0]),
        "{scores:?}"
    );
    // A member of another team is judged by their own habits (six more
    // users of the organisation have touched it).
    let other = first_read(&mut rt, 150, ARCHIVE);
    assert!(other[0].score >= 30.0, "{other:?}");
    assert!(
        !other[0].reason.contains("team taking"),
        "{}",
        other[0].reason
    );
    // A sensitive table stays stricter: the team's reading is times the
    // sensitive factor too.
    let mut rt = trained();
    rt.configure([("min_score", "0")]).unwrap();
    let a = ev(100, SALARIES, T0 + 30 * DAY_MS + 9 * HOUR_MS);
    rt.observe(&sequence(vec![a], 1_000_000));
    let second = first_read(&mut rt, 101, SALARIES);
    assert!(second[0].score > scores[1] + 9.0, "{second:?}");
}

#[test]
fn a_table_the_team_took_up_is_no_discovery_of_the_member() {
    // Member 101's first read of archive.old_orders on day 30, after 100's
    // that day (the team's), or alone (their own discovery); then their
    // first read of hr.salaries the next day.
    let next_discovery = |day_30: &[u32]| {
        let mut rt = trained();
        let reads: Vec<Event> = day_30
            .iter()
            .enumerate()
            .map(|(i, &u)| ev(u, ARCHIVE, T0 + 30 * DAY_MS + (9 + i as i64) * HOUR_MS))
            .collect();
        rt.observe(&sequence(reads, 1_000_000));
        let e = ev(101, SALARIES, T0 + 31 * DAY_MS + 11 * HOUR_MS);
        rt.observe(&sequence(vec![e], 2_000_000))[0].score
    };
    let untouched = next_discovery(&[]);
    let with_team = next_discovery(&[100, 101]);
    let alone = next_discovery(&[101]);
    // The team's take-up leaves the member's rate as it was (the team's
    // first member's discovery moves the pools' a little).
    assert!(
        (with_team - untouched).abs() < 0.5,
        "{with_team} {untouched}"
    );
    assert!(alone < untouched - 2.0, "{alone} {untouched}");
}
#[test]
fn team_take_ups_cross_shards() {
    // Member 100 took archive.old_orders up in one instance; in another, member
    // 101 of the same team is judged with it once the shares are swapped.
    let mut a = trained();
    let mut b = trained();
    first_read(&mut a, 100, ARCHIVE);
    b.absorb(&[a.population().as_slice()]).unwrap();
    let found = first_read(&mut b, 101, ARCHIVE);
    assert!(
        found.is_empty() || found[0].reason.contains("the team taking it up"),
        "{found:?}"
    );
    let alone = first_read(&mut trained(), 101, ARCHIVE);
    assert!(
        max_score(&found) < alone[0].score - 20.0,
        "{found:?} {alone:?}"
    );
}
