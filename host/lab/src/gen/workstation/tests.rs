use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;

use super::super::tests::{Event, Output, cfg, check_determinism, run, ts};
use super::super::{GenConfig, Shape};

fn ws(users: usize, days: u32, scenarios: bool) -> GenConfig {
    GenConfig {
        shape: Shape::Workstation,
        ..cfg(users, days, scenarios)
    }
}

/// Local date and hour of an event in its user's zone.
fn local(out: &Output, e: &Event) -> (Date, i8) {
    let z = ts(&e.timestamp).to_zoned(out.tz(&e.user));
    (z.date(), z.hour())
}

fn is_machine(s: &str) -> bool {
    s.strip_prefix("PC-")
        .is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    check_determinism(&ws(40, 15, true));
}

#[test]
fn events_have_the_documented_types_and_density() {
    let out = run(&ws(200, 19, true));
    assert_eq!(out.events.len() as u64, out.summary.events);
    let mut prev = None;
    let mut user_days: BTreeMap<(String, Date), u32> = BTreeMap::new();
    for e in &out.events {
        let t = ts(&e.timestamp);
        assert!(prev.is_none_or(|p| p <= t), "not sorted at {}", e.timestamp);
        prev = Some(t);
        assert_eq!((e.rows, e.outcome.as_str()), (1, "success"));
        assert!(is_machine(&e.source), "source {}", e.source);
        match e.action.as_str() {
            "logon" | "logoff" => {
                assert!(is_machine(&e.resource), "resource {}", e.resource);
                assert_eq!(e.resource, e.source);
            }
            "usb-connect" | "usb-disconnect" => assert_eq!(e.resource, "removable-media"),
            a => panic!("action {a}"),
        }
        *user_days
            .entry((e.user.clone(), t.to_zoned(jiff::tz::TimeZone::UTC).date()))
            .or_default() += 1;
    }
    let mean = out.events.len() as f64 / user_days.len() as f64;
    assert!(
        (2.0..=12.0).contains(&mean),
        "{mean:.1} events per user-day"
    );
    let mut counts: Vec<u32> = user_days.values().copied().collect();
    counts.sort_unstable();
    let p90 = counts[counts.len() * 9 / 10];
    assert!(p90 <= 16, "90% of user-days have at most {p90} events");
    // Everyone is in the identity file under a job role with a real zone.
    let roles: BTreeSet<&str> = out.identities.values().map(|(r, _)| r.as_str()).collect();
    let want = [
        "engineering",
        "finance",
        "it-admin",
        "management",
        "operations",
        "sales",
        "support",
    ];
    assert_eq!(roles, want.into_iter().collect());
    for (_, zone) in out.identities.values() {
        assert!(jiff::tz::TimeZone::get(zone).is_ok(), "{zone}");
    }
    // Everyone below management reports to a manager in the file.
    for (user, (role, _)) in &out.identities {
        match out.managers.get(user) {
            Some(m) => assert_eq!(out.identities[m].0, "management", "{user}'s manager {m}"),
            None => assert_eq!(role, "management", "{user} has no manager"),
        }
    }
}

#[test]
fn own_and_shared_machines_admins_roam_and_night_workers_work_nights() {
    let out = run(&ws(200, 19, false));
    let mut machines: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut users_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut night_logons: BTreeMap<&str, u32> = BTreeMap::new();
    for e in out.events.iter().filter(|e| e.action == "logon") {
        machines.entry(&e.user).or_default().insert(&e.resource);
        users_of.entry(&e.resource).or_default().insert(&e.user);
        let (_, h) = local(&out, e);
        if !(2..21).contains(&h) {
            *night_logons.entry(&e.user).or_default() += 1;
        }
    }
    let role = |u: &str| out.identities[u].0.as_str();
    let admins: Vec<&&str> = machines.keys().filter(|u| role(u) == "it-admin").collect();
    assert!(admins.len() >= 2);
    for a in admins {
        assert!(machines[*a].len() >= 10, "admin {a}: {:?}", machines[*a]);
    }
    let office = machines
        .iter()
        .filter(|(u, _)| matches!(role(u), "finance" | "sales" | "engineering"))
        .filter(|(_, m)| m.len() == 1)
        .count();
    assert!(
        office >= 20,
        "office workers keep to their own machine: {office}"
    );
    let shared = users_of
        .values()
        .filter(|us| us.iter().filter(|u| role(u) != "it-admin").count() >= 2)
        .count();
    assert!(shared >= 3, "hot desks are shared: {shared}");
    let night_ops = night_logons
        .iter()
        .filter(|(u, n)| role(u) == "operations" && **n >= 5)
        .count();
    assert!(night_ops >= 3, "operations works nights: {night_ops}");
}

#[test]
fn labels_name_the_cert_like_scenarios_and_their_look_alikes() {
    let out = run(&ws(100, 21, true));
    let names: Vec<(&str, bool)> = out
        .labels
        .scenarios
        .iter()
        .map(|s| (s.name.as_str(), s.malicious))
        .collect();
    assert_eq!(
        names,
        [
            ("after-hours-usb", true),
            ("usb-surge", true),
            ("admin-supervisor-usb", true),
            ("night-shift-move", false),
            ("machine-rollout", false),
            ("heavy-usb-user", false),
        ]
    );
    for s in &out.labels.scenarios {
        assert!(!s.description.is_empty(), "{}", s.name);
        match &s.start {
            Some(start) => assert!(
                out.of_user(&s.user).any(|e| &e.timestamp == start),
                "{}: its start is one of the user's events",
                s.name
            ),
            None => assert_eq!(s.name, "heavy-usb-user"),
        }
    }
    let off = run(&ws(100, 21, false));
    assert!(off.labels.scenarios.iter().all(|s| !s.malicious));
    assert_eq!(off.labels.scenarios.len(), 3);
}

/// usb-connects per local day of `user` on days with any event.
fn daily_connects(out: &Output, user: &str) -> BTreeMap<Date, u32> {
    let mut per_day: BTreeMap<Date, u32> = BTreeMap::new();
    for e in out.of_user(user) {
        let n = per_day.entry(local(out, e).0).or_default();
        *n += u32::from(e.action == "usb-connect");
    }
    per_day
}

#[test]
fn usb_surge_is_three_times_the_users_own_rate_then_they_leave() {
    let out = run(&ws(100, 21, true));
    let s = out.label("usb-surge");
    let start = local(
        &out,
        out.of_user(&s.user)
            .find(|e| Some(&e.timestamp) == s.start.as_ref())
            .expect("start"),
    )
    .0;
    let per_day = daily_connects(&out, &s.user);
    let mean = |v: Vec<u32>| f64::from(v.iter().sum::<u32>()) / v.len().max(1) as f64;
    let before = mean(per_day.range(..start).map(|(_, n)| *n).collect());
    let after = mean(per_day.range(start..).map(|(_, n)| *n).collect());
    assert!(before >= 2.0, "a few drives a day before: {before:.1}");
    assert!(
        after >= 3.0 * before,
        "{after:.1} a day after vs {before:.1} before"
    );
    let last = *per_day.keys().last().expect("days");
    assert!(
        last < jiff::civil::date(2026, 1, 25),
        "leaves before the end: {last}"
    );
}

#[test]
fn after_hours_usb_is_new_in_both_ways_and_the_admin_uses_the_bosses_machine() {
    let out = run(&ws(100, 21, true));
    let s = out.label("after-hours-usb");
    let start = out.start(s);
    let (mut usb_before, mut late_before, mut late_after) = (0, 0, 0);
    for e in out.of_user(&s.user) {
        let (_, h) = local(&out, e);
        let late = e.action == "logon" && !(5..20).contains(&h);
        if ts(&e.timestamp) < start {
            usb_before += usize::from(e.action.starts_with("usb"));
            late_before += usize::from(late);
        } else {
            late_after += usize::from(late);
        }
    }
    assert_eq!((usb_before, late_before), (0, 0), "{}", s.description);
    assert!(late_after >= 1);
    assert!(out.of_user(&s.user).any(|e| e.action == "usb-connect"));

    let a = out.label("admin-supervisor-usb");
    let first = out
        .of_user(&a.user)
        .position(|e| Some(&e.timestamp) == a.start.as_ref())
        .expect("start");
    let evs: Vec<&Event> = out.of_user(&a.user).skip(first).take(8).collect();
    let machine = &evs[0].resource;
    assert_eq!(evs[0].action, "logon");
    assert!(
        evs.iter()
            .any(|e| e.action == "usb-connect" && &e.source == machine)
    );
    // The machine is the supervisor's own: the one they log on to most.
    let boss = a
        .description
        .split("supervisor ")
        .nth(1)
        .and_then(|r| r.split('\'').next());
    let boss = boss.expect("supervisor named");
    // The identity file names the supervisor as the admin's manager.
    assert_eq!(out.managers.get(&a.user).map(String::as_str), Some(boss));
    let mut theirs: BTreeMap<&str, u32> = BTreeMap::new();
    for e in out.of_user(boss).filter(|e| e.action == "logon") {
        *theirs.entry(&e.resource).or_default() += 1;
    }
    let own = theirs.iter().max_by_key(|(_, n)| **n).map(|(m, _)| *m);
    assert_eq!(own, Some(machine.as_str()), "{}", a.description);
}

#[test]
fn look_alikes_move_to_nights_and_roll_out_new_machines() {
    let out = run(&ws(100, 21, true));
    let n = out.label("night-shift-move");
    let start = out.start(n);
    let nights = out
        .of_user(&n.user)
        .filter(|e| ts(&e.timestamp) >= start && e.action == "logon")
        .filter(|e| (21..=23).contains(&local(&out, e).1))
        .count();
    assert!(nights >= 1, "{}", n.description);

    let r = out.label("machine-rollout");
    let start = out.start(r);
    let seen: BTreeSet<&str> = out
        .events
        .iter()
        .filter(|e| ts(&e.timestamp) < start)
        .map(|e| e.source.as_str())
        .collect();
    let new: BTreeSet<&str> = out
        .of_user(&r.user)
        .filter(|e| e.action == "logon" && !seen.contains(e.resource.as_str()))
        .map(|e| e.resource.as_str())
        .collect();
    assert!(
        new.len() >= 25,
        "{} new machines: {}",
        new.len(),
        r.description
    );
}
