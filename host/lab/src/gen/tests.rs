use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::org::{Org, Shift};
use super::*;

/// One generated event line (both shapes; the workstation shape has no bytes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Event {
    pub timestamp: String,
    pub user: String,
    pub action: String,
    pub resource: String,
    pub rows: u64,
    #[serde(default)]
    pub bytes: u64,
    pub source: String,
    pub outcome: String,
}

/// A generated organisation read back.
pub(super) struct Output {
    _dir: tempfile::TempDir,
    pub summary: GenSummary,
    pub events: Vec<Event>,
    /// login -> (peer group, time zone)
    pub identities: BTreeMap<String, (String, String)>,
    /// login -> manager's login, for those the file names one of.
    pub managers: BTreeMap<String, String>,
    pub labels: Labels,
}

impl Output {
    pub(super) fn tz(&self, user: &str) -> TimeZone {
        TimeZone::get(&self.identities[user].1).expect("valid zone")
    }

    pub(super) fn label(&self, name: &str) -> &Scenario {
        self.labels
            .scenarios
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("label {name} missing"))
    }

    pub(super) fn start(&self, s: &Scenario) -> Timestamp {
        ts(s.start.as_deref().expect("the scenario has a start"))
    }

    pub(super) fn of_user<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().filter(move |e| e.user == user)
    }
}

pub(super) fn cfg(users: usize, days: u32, scenarios: bool) -> GenConfig {
    GenConfig {
        users,
        days,
        scenarios,
        ..GenConfig::default()
    }
}

/// Generates `cfg` into a temporary directory and reads it back.
pub(super) fn run(cfg: &GenConfig) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = generate(cfg, dir.path(), &mut |_, _| {}).expect("generate");
    let events = std::fs::read_to_string(&summary.events_path)
        .expect("events")
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1))
        })
        .collect();
    let ids_text = std::fs::read_to_string(&summary.identities_path).expect("identities");
    let mut lines = ids_text.lines();
    let header = lines.next();
    let width = match header {
        Some("user,peer_group,timezone") => 3,
        Some("user,peer_group,timezone,manager") => 4,
        other => panic!("identity header {other:?}"),
    };
    let mut identities = BTreeMap::new();
    let mut managers = BTreeMap::new();
    for l in lines {
        let cols: Vec<&str> = l.split(',').collect();
        assert_eq!(cols.len(), width, "identity line {l}");
        let prev = identities.insert(
            cols[0].to_string(),
            (cols[1].to_string(), cols[2].to_string()),
        );
        assert!(prev.is_none(), "user {} listed twice", cols[0]);
        if let Some(m) = cols.get(3).filter(|m| !m.is_empty()) {
            managers.insert(cols[0].to_string(), m.to_string());
        }
    }
    let labels: Labels =
        serde_json::from_str(&std::fs::read_to_string(&summary.labels_path).expect("labels"))
            .expect("labels parse");
    Output {
        _dir: dir,
        summary,
        events,
        identities,
        managers,
        labels,
    }
}

pub(super) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("timestamp {s}: {e}"))
}

fn day_start_utc(cfg: &GenConfig, day: i64) -> Timestamp {
    cfg.start
        .checked_add(jiff::Span::new().days(day))
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .expect("date")
        .timestamp()
}

#[test]
fn events_are_sorted_and_well_formed() {
    let out = run(&cfg(60, 21, true));
    assert_eq!(out.events.len() as u64, out.summary.events);
    assert!(
        out.events.len() > 20_000,
        "only {} events",
        out.events.len()
    );
    let actions = [
        "select", "update", "insert", "delete", "vacuum", "analyze", "copy",
    ];
    let mut prev: Option<Timestamp> = None;
    let mut failures = 0;
    for e in &out.events {
        assert!(
            e.timestamp.ends_with('Z') && e.timestamp.len() == 24,
            "{}",
            e.timestamp
        );
        let t = ts(&e.timestamp);
        assert!(prev.is_none_or(|p| p <= t), "not sorted at {}", e.timestamp);
        prev = Some(t);
        assert!(actions.contains(&e.action.as_str()), "action {}", e.action);
        assert!(e.resource.contains('.'), "resource {}", e.resource);
        assert!(
            e.source.parse::<std::net::Ipv4Addr>().is_ok(),
            "source {}",
            e.source
        );
        match e.outcome.as_str() {
            // VACUUM and ANALYZE return no rows; every other success does.
            "success" if matches!(e.action.as_str(), "vacuum" | "analyze") => {
                assert_eq!(e.rows, 0, "{} returns no rows", e.action)
            }
            "success" => assert!(e.rows > 0 && e.bytes > 0, "empty success {}", e.timestamp),
            "failure" => {
                failures += 1;
                assert_eq!(e.rows, 0);
            }
            o => panic!("outcome {o}"),
        }
    }
    let share = f64::from(failures) / out.events.len() as f64;
    assert!(share > 0.0005 && share < 0.03, "failure share {share}");
}

#[test]
fn identities_cover_every_user_once_with_valid_zones() {
    let out = run(&cfg(60, 21, true));
    assert_eq!(out.identities.len(), 60);
    assert_eq!(out.summary.users, 60);
    let in_events: BTreeSet<&str> = out.events.iter().map(|e| e.user.as_str()).collect();
    for u in &in_events {
        assert!(out.identities.contains_key(*u), "{u} has no identity");
    }
    let groups: BTreeSet<&str> = out.identities.values().map(|(g, _)| g.as_str()).collect();
    let expected = [
        "analytics",
        "billing",
        "dba",
        "engineering",
        "service",
        "tier1-support",
        "tier2-support",
    ];
    assert_eq!(groups, expected.into_iter().collect());
    for (user, (_, tz)) in &out.identities {
        assert!(TimeZone::get(tz).is_ok(), "{user}: bad zone {tz}");
        assert!(
            user.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "login {user}"
        );
    }
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    check_determinism(&cfg(30, 14, true));
}

/// Generates `c` twice and with another seed: the same seed gives the same
/// bytes in every file, another seed other events.
pub(super) fn check_determinism(c: &GenConfig) {
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    for (dir, seed) in dirs.iter().zip([c.seed, c.seed, c.seed + 1]) {
        let c = GenConfig { seed, ..c.clone() };
        generate(&c, dir.path(), &mut |_, _| {}).expect("generate");
    }
    let read = |i: usize, f: &str| std::fs::read(dirs[i].path().join(f)).expect("read");
    for f in ["events.jsonl", "identities.csv", "labels.json"] {
        assert!(read(0, f) == read(1, f), "{f} differs for the same seed");
    }
    assert!(read(0, "events.jsonl") != read(2, "events.jsonl"));
}

#[test]
fn labels_name_the_right_people_at_the_right_time() {
    let c = cfg(60, 21, true);
    let out = run(&c);
    let period = (day_start_utc(&c, 0), day_start_utc(&c, i64::from(c.days)));
    let not_before = day_start_utc(&c, 10);
    let support = &["tier1-support", "tier2-support"][..];
    let expect = [
        ("trend-micro", true, &["tier1-support"][..]),
        ("off-hours", true, &["tier2-support"][..]),
        ("novel-table", true, &["tier2-support", "billing"][..]),
        ("slow-exfiltration", true, &["billing"][..]),
        ("boiling-frog", true, support),
        ("dba-night-maintenance", false, &["dba"][..]),
        ("analyst-big-reads", false, &["analytics"][..]),
        ("service-account", false, &["service"][..]),
        ("new-hire", false, support),
    ];
    let names: Vec<&str> = out
        .labels
        .scenarios
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, expect.map(|e| e.0), "malicious first, then benign");
    assert_eq!(out.labels.scenarios, out.summary.scenarios);
    let mut malicious_users = BTreeSet::new();
    for (name, malicious, groups) in expect {
        let s = out.label(name);
        assert_eq!(s.malicious, malicious, "{name}");
        let group = &out.identities[&s.user].0;
        assert!(
            groups.contains(&group.as_str()),
            "{name}: {} is {group}",
            s.user
        );
        assert!(!s.description.is_empty() && !s.description.contains('\n'));
        let Some(start) = &s.start else {
            // Only behaviour that runs through the whole period has no start.
            assert_eq!(name, "service-account");
            continue;
        };
        let start = ts(start);
        assert!(
            start >= period.0 && start < period.1,
            "{name} starts {start} outside the period"
        );
        if malicious {
            assert!(
                start >= not_before,
                "{name} starts {start}, within the first ten days"
            );
            assert!(
                malicious_users.insert(s.user.clone()),
                "{} used twice",
                s.user
            );
        }
        // The label's start is the user's event at that instant.
        assert!(
            out.of_user(&s.user)
                .any(|e| Some(&e.timestamp) == s.start.as_ref()),
            "{name} start has no event"
        );
    }
}

#[test]
fn trend_micro_dumps_customers_at_night() {
    let out = run(&cfg(60, 21, true));
    let s = out.label("trend-micro");
    let tz = out.tz(&s.user);
    let start = out.start(s);
    let night: Vec<&Event> = out
        .of_user(&s.user)
        .filter(|e| (1..=3).contains(&ts(&e.timestamp).to_zoned(tz.clone()).hour()))
        .collect();
    let customers: u64 = night
        .iter()
        .filter(|e| e.resource == "support.customers")
        .map(|e| e.rows)
        .sum();
    assert_eq!(customers, 68_000);
    assert!(
        night
            .iter()
            .any(|e| e.resource == "crm.contacts" && e.rows > 1_000)
    );
    assert!(
        (15..=25).contains(&night.len()),
        "{} night queries",
        night.len()
    );
    for e in &night {
        let t = ts(&e.timestamp);
        assert!(
            t >= start && t.duration_since(start).as_secs() <= 50 * 60,
            "{}",
            e.timestamp
        );
    }
    // Tier-1 never reads crm.contacts otherwise.
    for e in &out.events {
        if e.resource == "crm.contacts" && out.identities[&e.user].0 == "tier1-support" {
            assert_eq!(e.user, s.user);
        }
    }
}

#[test]
fn without_scenarios_nobody_touches_the_forbidden_tables() {
    let out = run(&cfg(60, 21, false));
    for e in &out.events {
        assert_ne!(e.resource, "hr.salaries", "{} read hr.salaries", e.user);
        let group = &out.identities[&e.user].0;
        if e.resource == "crm.contacts" {
            assert!(
                group != "tier1-support" && group != "tier2-support",
                "{} ({group})",
                e.user
            );
        }
        if e.resource == "auth.users" {
            assert_eq!(group, "dba", "{} read auth.users", e.user);
        }
    }
    let names: Vec<&str> = out
        .labels
        .scenarios
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "dba-night-maintenance",
            "analyst-big-reads",
            "service-account",
            "new-hire"
        ]
    );
    assert!(out.labels.scenarios.iter().all(|s| !s.malicious));
}

#[test]
fn novel_table_and_exfiltration_stand_out_from_the_users_own_baseline() {
    let out = run(&cfg(60, 21, true));
    let novel = out.label("novel-table");
    let readers: BTreeSet<&str> = out
        .events
        .iter()
        .filter(|e| e.resource == "hr.salaries")
        .map(|e| e.user.as_str())
        .collect();
    assert_eq!(readers, [novel.user.as_str()].into_iter().collect());

    let s = out.label("slow-exfiltration");
    let tz = out.tz(&s.user);
    let mut per_day: BTreeMap<jiff::civil::Date, u64> = BTreeMap::new();
    for e in out.of_user(&s.user) {
        *per_day
            .entry(ts(&e.timestamp).to_zoned(tz.clone()).date())
            .or_default() += e.rows;
    }
    let day = out.start(s).to_zoned(tz).date();
    let attack = per_day[&day];
    let mut normal: Vec<u64> = per_day
        .iter()
        .filter(|(d, _)| **d != day)
        .map(|(_, r)| *r)
        .collect();
    normal.sort_unstable();
    let median = normal[normal.len() / 2] as f64;
    let factor = attack as f64 / median;
    assert!(
        (5.0..=16.0).contains(&factor),
        "exfiltration day is {factor:.1}× the median day"
    );
}

#[test]
fn day_shift_users_work_their_shift() {
    let c = cfg(60, 21, true);
    let out = run(&c);
    let org = Org::build(&c).expect("org");
    let labelled: BTreeSet<&str> = out
        .labels
        .scenarios
        .iter()
        .map(|s| s.user.as_str())
        .collect();
    let mut local: HashMap<&str, Vec<i64>> = HashMap::new();
    for e in &out.events {
        let z = ts(&e.timestamp).to_zoned(out.tz(&e.user));
        let ms = i64::from(z.hour()) * 3_600_000 + i64::from(z.minute()) * 60_000;
        local.entry(e.user.as_str()).or_default().push(ms);
    }
    let mut checked = 0;
    for u in 0..org.users.len() as u32 {
        let login = org.login(u);
        if org.users[u as usize].shift != Shift::Day || labelled.contains(login) {
            continue;
        }
        let Some(times) = local.get(login) else {
            continue;
        };
        let (s, e) = day::local_shift(&org, u);
        let inside = times
            .iter()
            .filter(|&&t| t >= s - 2 * HOUR_MS && t <= e + 2 * HOUR_MS)
            .count();
        let share = inside as f64 / times.len() as f64;
        assert!(
            share >= 0.9,
            "{login}: only {share:.2} of events within shift ± 2 h"
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} day-shift users checked");
}

#[test]
fn invalid_configs_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = [
        cfg(0, 30, false),
        cfg(10, 0, false),
        cfg(200, 13, true),
        cfg(11, 30, true),
        cfg(10, 5_000, false),
        cfg(MAX_USERS + 1, 1, false),
        GenConfig {
            start: jiff::civil::date(9999, 12, 20),
            ..cfg(20, 30, false)
        },
        GenConfig {
            start: jiff::civil::date(1969, 12, 31),
            ..cfg(20, 30, false)
        },
    ];
    for c in bad {
        let r = generate(&c, dir.path(), &mut |_, _| {});
        assert!(
            matches!(r, Err(GenError::InvalidConfig(_))),
            "{c:?} gave {r:?}"
        );
    }
    // An output path that is a file cannot become a directory.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let r = generate(&cfg(12, 14, true), &file, &mut |_, _| {});
    assert!(matches!(r, Err(GenError::Io { .. })), "{r:?}");
}

#[test]
fn small_demo_and_tiny_orgs_work() {
    let out = run(&cfg(12, 14, true));
    assert_eq!(
        out.labels.scenarios.iter().filter(|s| s.malicious).count(),
        5
    );
    assert_eq!(out.labels.scenarios.len(), 9);
    assert!(out.events.len() > 1_000);
    for users in [1, 3, 7] {
        let out = run(&cfg(users, 3, false));
        assert_eq!(out.identities.len(), users);
    }
}

#[test]
fn progress_ends_at_the_last_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut calls = Vec::new();
    generate(&cfg(20, 15, true), dir.path(), &mut |d, t| {
        calls.push((d, t))
    })
    .expect("generate");
    assert_eq!(calls.last(), Some(&(15, 15)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn site_timezones_move_a_sites_shifts_and_identities_together() {
    let base = cfg(60, 15, false);
    let moved = GenConfig {
        site_timezones: vec![("manila".into(), "Etc/GMT-3".into())],
        ..base.clone()
    };
    let (a, b) = (run(&base), run(&moved));
    let org = Org::build(&moved).expect("org");
    let manila: BTreeSet<&str> = (0..org.users.len() as u32)
        .filter(|&u| org.users[u as usize].tz == catalog::MANILA)
        .map(|u| org.login(u))
        .collect();
    assert!(manila.len() >= 5, "only {} users in Manila", manila.len());
    for (user, (_, zone)) in &b.identities {
        let want = if manila.contains(user.as_str()) {
            "Etc/GMT-3"
        } else {
            a.identities[user].1.as_str()
        };
        assert_eq!(zone, want, "{user}");
    }
    // Asia/Manila is UTC+8 all year and Etc/GMT-3 is UTC+3: the same local
    // shifts happen five hours later in UTC; other sites do not move.
    let times = |o: &Output, shift_ms: i64| -> BTreeMap<String, Vec<i64>> {
        let mut m: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for e in &o.events {
            let t = ts(&e.timestamp).as_millisecond();
            let t = if manila.contains(e.user.as_str()) {
                t - shift_ms
            } else {
                t
            };
            m.entry(format!("{} {} {}", e.user, e.resource, e.rows))
                .or_default()
                .push(t);
        }
        m.values_mut().for_each(|v| v.sort_unstable());
        m
    };
    assert_eq!(times(&a, 0), times(&b, 5 * HOUR_MS));

    let bad = [
        vec![("atlantis".to_string(), "UTC".to_string())],
        vec![
            ("dublin".to_string(), "UTC".to_string()),
            ("dublin".to_string(), "Etc/GMT+1".to_string()),
        ],
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for site_timezones in bad {
        let c = GenConfig {
            site_timezones,
            ..base.clone()
        };
        let r = generate(&c, dir.path(), &mut |_, _| {});
        assert!(matches!(r, Err(GenError::InvalidConfig(_))), "{r:?}");
    }
    let c = GenConfig {
        site_timezones: vec![("dublin".into(), "Mars/Olympus_Mons".into())],
        ..base
    };
    let r = generate(&c, dir.path(), &mut |_, _| {});
    assert!(matches!(r, Err(GenError::TimeZone { .. })), "{r:?}");
}

/// Rows per local day of `user`, for the days they have events.
fn daily_rows(out: &Output, user: &str, table: Option<&str>) -> BTreeMap<jiff::civil::Date, u64> {
    let tz = out.tz(user);
    let mut per_day: BTreeMap<jiff::civil::Date, u64> = BTreeMap::new();
    for e in out.of_user(user) {
        if table.is_none_or(|t| e.resource == t) {
            *per_day
                .entry(ts(&e.timestamp).to_zoned(tz.clone()).date())
                .or_default() += e.rows;
        }
    }
    per_day
}

#[test]
fn the_boiling_frog_grows_day_by_day_at_normal_hours() {
    let c = cfg(60, 30, true);
    let out = run(&c);
    let s = out.label("boiling-frog");
    let start_day = out.start(s).to_zoned(out.tz(&s.user)).date();
    let per_day = daily_rows(&out, &s.user, None);
    let mut before: Vec<u64> = per_day.range(..start_day).map(|(_, r)| *r).collect();
    before.sort_unstable();
    let median = before[before.len() / 2] as f64;
    let ramp: Vec<u64> = per_day.range(start_day..).map(|(_, r)| *r).collect();
    // 12 % a calendar day from day 11 to day 29: the last working day is
    // more than 5× a normal one, and the ramp mostly rises.
    let last = *ramp.last().expect("ramp days") as f64;
    assert!(
        last >= 5.0 * median,
        "last ramp day {last} vs median {median}"
    );
    let rising = ramp.windows(2).filter(|w| w[1] >= w[0]).count();
    assert!(rising * 3 >= (ramp.len() - 1) * 2, "{ramp:?}");
    // At normal hours: the user's shift, like every other day.
    let org = Org::build(&c).expect("org");
    let u = (0..org.users.len() as u32)
        .find(|&u| org.login(u) == s.user)
        .expect("user");
    let (from, to) = day::local_shift(&org, u);
    for e in out.of_user(&s.user) {
        let z = ts(&e.timestamp).to_zoned(out.tz(&s.user));
        let ms = i64::from(z.hour()) * HOUR_MS + i64::from(z.minute()) * 60_000;
        assert!(
            ms >= from - 2 * HOUR_MS && ms <= to + 3 * HOUR_MS,
            "{} at {z}",
            e.resource
        );
    }
    assert!(
        s.description.contains("12% more rows a day"),
        "{}",
        s.description
    );
}

#[test]
fn the_service_account_runs_at_every_hour_and_the_new_hire_starts_mid_period() {
    let c = cfg(60, 21, false);
    let out = run(&c);
    let svc = out.label("service-account");
    assert!(svc.start.is_none() && !svc.malicious);
    assert_eq!(out.identities[&svc.user].0, "service");
    let mut per_hour = [0u32; 24];
    let mut days = BTreeSet::new();
    for e in out.of_user(&svc.user) {
        let t = ts(&e.timestamp).to_zoned(TimeZone::UTC);
        per_hour[usize::from(t.hour() as u8)] += 1;
        days.insert(t.date());
    }
    let (min, max) = (
        *per_hour.iter().min().unwrap(),
        *per_hour.iter().max().unwrap(),
    );
    assert!(
        min > 0 && f64::from(min) >= 0.9 * f64::from(max),
        "{per_hour:?}"
    );
    assert!(days.len() >= 21, "every day: {}", days.len());

    let hire = out.label("new-hire");
    let start = out.start(hire);
    assert!(
        out.of_user(&hire.user).all(|e| ts(&e.timestamp) >= start),
        "no events before joining"
    );
    let joined = day_start_utc(&c, 10);
    assert!(
        start >= joined - jiff::SignedDuration::from_hours(14),
        "joins mid-period: {start}"
    );
    assert!(out.of_user(&hire.user).count() > 100, "then works normally");
}

#[test]
fn shapes_have_names() {
    for s in Shape::ALL {
        assert_eq!(Shape::parse(s.name()).expect("known"), s);
    }
    let e = Shape::parse("mainframe").unwrap_err().to_string();
    assert!(e.contains("database, workstation"), "{e}");
    assert_eq!(GenConfig::default().shape, Shape::Database);
}
