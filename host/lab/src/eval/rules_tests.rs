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
