use super::*;

#[test]
fn the_cached_offset_is_the_zone_offset_across_transitions() {
    let zones = [
        "America/New_York",
        "Europe/Dublin",
        "Australia/Lord_Howe",
        "Asia/Manila",
        "UTC",
    ];
    let start = 1_735_689_600_000i64; // 2025-01-01T00:00Z
    for name in zones {
        let tz = TimeZone::get(name).unwrap();
        let mut cache = LocalOffset::new(tz.clone());
        let mut check = |ms: i64| {
            assert_eq!(
                cache.minutes_at(ms),
                offset_minutes(&tz, ms),
                "{name} at {ms}"
            );
        };
        // Two years forwards in uneven steps, then backwards: every
        // span is entered from both sides.
        let mut t = start;
        while t < start + 2 * 365 * 86_400_000 {
            check(t);
            t += 3_599_000 + (t % 7) * 1_000;
        }
        while t > start {
            check(t);
            t -= 86_399_000;
        }
        // Exactly at each transition, and a millisecond either side.
        let transitions: Vec<i64> = tz
            .following(jiff::Timestamp::from_millisecond(start).unwrap())
            .take(4)
            .map(|tr| tr.timestamp().as_millisecond())
            .collect();
        for at in transitions {
            for ms in [at - 1, at, at + 1, at, at - 1] {
                check(ms);
            }
        }
    }
}

fn load(text: &str) -> Result<Identities, IdentityError> {
    Identities::from_reader(text.as_bytes(), Path::new("users.csv"))
}

#[test]
fn reads_groups_and_timezones() {
    let ids = load("user,peer_group,timezone\nmreyes,tier1-support,Asia/Manila\njdoe,,\n").unwrap();
    assert_eq!(ids.len(), 2);
    let m = ids.get("mreyes").unwrap();
    assert_eq!(m.peer_group.as_deref(), Some("tier1-support"));
    // 2026-01-05T00:00Z: Manila is UTC+8 all year.
    assert_eq!(
        offset_minutes(m.timezone.as_ref().unwrap(), 1_767_571_200_000),
        480
    );
    assert!(ids.get("jdoe").unwrap().timezone.is_none());
}

#[test]
fn daylight_saving_is_followed() {
    let ids = load("user,peer_group,timezone\na,g,America/Chicago\n").unwrap();
    let tz = ids.get("a").unwrap().timezone.clone().unwrap();
    assert_eq!(offset_minutes(&tz, 1_767_571_200_000), -360); // January: CST
    assert_eq!(offset_minutes(&tz, 1_783_296_000_000), -300); // July: CDT
}

#[test]
fn errors_name_file_line_and_field() {
    let e = load("user,peer_group,timezone\na,g,UTC\nb,g,Mars/Olympus\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "users.csv:3: field `timezone`: `Mars/Olympus` is not an IANA timezone name (e.g. Europe/Dublin)"
    );
    let e = load("name,group\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("users.csv:1: header must name a `user` column"),
        "{e}"
    );
    let e = load("user,peer_group,timezone\na,g\n").unwrap_err();
    assert!(e.to_string().starts_with("users.csv:2:"), "{e}");
    let e = load("user,peer_group,timezone\na,g,UTC\na,h,UTC\n").unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
    // Lines are the file's, blank lines and CRLF included.
    let e = load("user,peer_group,timezone\na,g,UTC\n\n\n\n\nx,g,Bad/Zone\n").unwrap_err();
    assert!(
        e.to_string().starts_with("users.csv:7: field `timezone`"),
        "{e}"
    );
    let e = load("user,peer_group,timezone\r\n\r\n\r\nx,g,UTC\r\nx,g,UTC\r\n").unwrap_err();
    assert!(e.to_string().starts_with("users.csv:5:"), "{e}");
    let e = load("user,peer_group,timezone\n\n\n\nx,g,UTC,high\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "users.csv:5: 4 fields where the header has 3"
    );
    // A value quoted in an error is cut and shows no control character raw.
    let long = format!("Europe/\u{1b}]0;pwned\u{7}{}", "x".repeat(100_000));
    let e = load(&format!("user,peer_group,timezone\na,g,{long}\n")).unwrap_err();
    let e = e.to_string();
    assert!(e.contains("Europe/\\u{1b}]0;pwned\\u{7}"), "{e}");
    assert!(!e.contains('\u{1b}') && e.len() < 300, "{e}");
}

#[test]
fn criticality_and_watchlists_are_optional_columns_checked_by_line() {
    let text = "user,peer_group,timezone,criticality,watchlists\nann,dba,,extreme,vip;departing\nbob,dba,,,\n";
    let ids = Identities::from_reader(text.as_bytes(), Path::new("ids.csv")).unwrap();
    let ann = ids.get("ann").unwrap();
    assert_eq!(ann.criticality, Some(crate::config::Criticality::Extreme));
    assert_eq!(ann.watchlists, vec!["vip", "departing"]);
    assert!(ids.get("bob").unwrap().watchlists.is_empty());
    let mut lists = crate::config::WatchlistsConfig::new();
    lists.insert("vip".into(), 1.5);
    let e = ids.check_watchlists(&lists).unwrap_err().to_string();
    assert!(
        e.starts_with("ids.csv:2: field `watchlists`") && e.contains("departing"),
        "{e}"
    );
    let bad = "user,peer_group,timezone,criticality\nann,dba,,urgent\n";
    let e = Identities::from_reader(bad.as_bytes(), Path::new("ids.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("ids.csv:2: field `criticality`") && e.contains("urgent"),
        "{e}"
    );
}

#[test]
fn columns_are_found_by_name_and_others_are_left_unread() {
    // An HR export: columns in its own order, its own case, and more of
    // them than ueba reads.
    let text =
        "Title,TimeZone,User,manager,Peer_Group\nboss,Asia/Manila,ann,,dba\nclerk,,bob,ann,\n";
    let ids = load(text).unwrap();
    let ann = ids.get("ann").unwrap();
    assert_eq!(ann.peer_group.as_deref(), Some("dba"));
    assert!(ann.timezone.is_some());
    let bob = ids.get("bob").unwrap();
    assert!(bob.peer_group.is_none() && bob.timezone.is_none());
    assert_eq!(bob.manager.as_deref(), Some("ann"));
    assert_eq!(ann.manager, None);
    // Only `user` is needed.
    let ids = load("user\nann\n").unwrap();
    assert!(ids.get("ann").unwrap().peer_group.is_none());
    // A column named twice is an error, not a guess.
    let e = load("user,timezone,TIMEZONE\nann,UTC,UTC\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "users.csv:1: header names column `timezone` twice"
    );
    // Errors still name the column by what ueba reads.
    let e = load("timezone,user\nMars/Olympus,ann\n").unwrap_err();
    assert!(
        e.to_string().starts_with("users.csv:2: field `timezone`"),
        "{e}"
    );
}

#[test]
fn a_manager_is_read_under_either_name_and_nobody_manages_themselves() {
    let ids = load("user,Supervisor\nann,ann\nbob,ann\ncid,\n").unwrap();
    assert_eq!(ids.get("bob").unwrap().manager.as_deref(), Some("ann"));
    assert_eq!(ids.get("ann").unwrap().manager, None, "named as their own");
    assert_eq!(ids.get("cid").unwrap().manager, None);
    // Both names at once is the same column twice.
    let e = load("user,manager,supervisor\nann,bob,bob\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "users.csv:1: header names column `manager` twice"
    );
}

#[test]
fn a_manager_given_by_display_name_is_the_user_of_that_name() {
    // An LDAP export: supervisors by full name, users by id.
    let text = "employee_name,user_id,User,supervisor\n\
                Ann Lee,1,ann,\n\
                Bob Roe,2,bob,Ann Lee\n\
                Cid Poe,3,cid,bob\n\
                Dee Fox,4,dee,Zed Nobody\n\
                Eve Kay,5,eve,Eve Kay\n";
    let ids = load(text).unwrap();
    assert_eq!(ids.get("bob").unwrap().manager.as_deref(), Some("ann"));
    assert_eq!(ids.get("cid").unwrap().manager.as_deref(), Some("bob"));
    // Nobody of that name: kept as given, a user name of the events.
    assert_eq!(
        ids.get("dee").unwrap().manager.as_deref(),
        Some("Zed Nobody")
    );
    // Their own display name: no manager.
    assert_eq!(ids.get("eve").unwrap().manager, None);
}
