use super::*;
use ueba_test_support::event;

fn ev(resource: &str, rows: u64) -> AccessEvent {
    AccessEvent {
        source: None,
        ..event(0, "u", resource, rows)
    }
}

#[test]
fn rules_flag_what_they_say() {
    let r = RuleSet::default();
    assert_eq!(r.check(&ev("support.tickets", 10_000), 9), [false; 3]);
    assert_eq!(
        r.check(&ev("support.tickets", 10_001), 9),
        [true, false, false]
    );
    assert_eq!(r.check(&ev("support.tickets", 1), 7), [false, true, false]);
    assert_eq!(r.check(&ev("support.tickets", 1), 18), [false, true, false]);
    assert_eq!(r.check(&ev("support.tickets", 1), 17), [false; 3]);
    for t in [
        "support.customers",
        "crm.contacts",
        "hr.salaries",
        "auth.users",
    ] {
        assert_eq!(r.check(&ev(t, 1), 12), [false, false, true], "{t}");
    }
    assert_eq!(r.check(&ev("support.customers_archive", 1), 12), [false; 3]);
}

#[test]
fn sensitive_patterns_follow_the_novel_table_config() {
    let cfg: Config =
        toml::from_str("[detectors.novel-table]\nsensitive = [\"billing.*\"]\n").unwrap();
    let r = RuleSet::from_config(&cfg);
    assert_eq!(r.sensitive, ["billing.*"]);
    assert_eq!(
        r.check(&ev("billing.invoices", 1), 12),
        [false, false, true]
    );
    assert_eq!(r.check(&ev("hr.salaries", 1), 12), [false; 3]);
    assert_eq!(RuleSet::from_config(&Config::default()), RuleSet::default());
}

#[test]
fn globs() {
    assert!(glob("*.customers", "support.customers"));
    assert!(!glob("*.customers", "support.customers_archive"));
    assert!(glob("hr.*", "hr.salaries"));
    assert!(!glob("hr.*", "chr.salaries"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(glob("*a*b*", "xxaxxbxx"));
    assert!(!glob("*a*b*", "xxbxxaxx"));
}

/// An event of user 0 on `day` at `hour` (UTC, the local time here).
fn at(day: i64, hour: i64, resource: &str, rows: u64) -> (AccessEvent, u8, i64) {
    let e = AccessEvent {
        time_ms: day * DAY_MS + hour * 3_600_000,
        ..ev(resource, rows)
    };
    (e, hour as u8, day)
}

fn check(h: &mut Habits, (e, hour, day): (AccessEvent, u8, i64)) -> [bool; 3] {
    h.check(0, &e, hour, day)
}

#[test]
fn learned_rules_learn_first_then_flag_what_is_new_to_the_user() {
    let mut h = Habits::default();
    // Ten days of 10 rows a day on one table at 09:00; the first week only
    // learns, so even the first event of each kind is not flagged.
    for day in 0..10 {
        assert_eq!(check(&mut h, at(day, 9, "t", 10)), [false; 3], "day {day}");
    }
    // An hour never seen, then a resource never seen: flagged once each.
    assert_eq!(check(&mut h, at(10, 3, "t", 1)), [false, true, false]);
    assert_eq!(check(&mut h, at(10, 3, "t", 1)), [false; 3]);
    assert_eq!(check(&mut h, at(11, 9, "u", 1)), [false, false, true]);
    // A day of 11 rows is within the user's days (median 10, MAD floored
    // at 1: bound 13); 14 is beyond it.
    assert_eq!(check(&mut h, at(12, 9, "t", 11)), [false; 3]);
    assert_eq!(check(&mut h, at(13, 9, "t", 14)), [true, false, false]);
}

#[test]
fn a_volume_needs_days_of_history() {
    let mut h = Habits::default();
    // Another user's event on day 0 starts the clock: learning is over by
    // day 8, the user's first day, but five earlier days of their own are
    // needed before a volume is judged.
    let (first, hour, day) = at(0, 9, "t", 1);
    h.check(1, &first, hour, day);
    for day in 8..13 {
        assert!(!check(&mut h, at(day, 9, "t", 10))[0], "day {day}");
    }
    assert!(check(&mut h, at(13, 9, "t", 1000))[0]);
}
