use super::*;
use serde_json::json;

#[test]
fn paths_match_nested_dotted_and_mixed_keys() {
    let v = json!({"user": {"name": "a"}, "db.sql.table": "t", "db": {"collection.name": "c"},
                   "resources": [{"name": "r0"}], "x": null});
    assert_eq!(get(&v, "user.name"), Some(&json!("a")));
    assert_eq!(get(&v, "db.sql.table"), Some(&json!("t")));
    assert_eq!(get(&v, "db.collection.name"), Some(&json!("c")));
    assert_eq!(get(&v, "resources.0.name"), Some(&json!("r0")));
    assert_eq!(get(&v, "resources.1.name"), None);
    assert_eq!(get(&v, "x"), None);
    assert_eq!(get(&v, "user.nope"), None);
}

#[test]
fn times_in_audit_plugin_forms_are_utc() {
    let want = 1_767_621_791_000;
    assert_eq!(parse_time("2026-01-05T14:03:11 UTC"), Ok(want));
    assert_eq!(parse_time("2026-01-05 14:03:11"), Ok(want));
    assert_eq!(parse_time("2026-01-05T14:03:11Z"), Ok(want));
    assert_eq!(parse_time("1767621791000"), Ok(want));
    assert!(parse_time("yesterday").is_err());
    assert_eq!(parse_time("9999-12-31T23:59:59Z"), Ok(253_402_300_799_000));
}

#[test]
fn counts_past_u64_are_errors_not_saturated() {
    let at = At { line: 3 };
    let big: Value = serde_json::from_str("18446744073709551616").unwrap();
    let e = count(&big, at, "rows").unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (3, Some("rows")));
    assert!(
        e.message
            .starts_with("expected a whole number from 0 to 18446744073709551615, got"),
        "{e:?}"
    );
    assert_eq!(count(&json!(u64::MAX), at, "rows"), Ok(u64::MAX));
    assert_eq!(count(&json!(12.0), at, "rows"), Ok(12));
}
