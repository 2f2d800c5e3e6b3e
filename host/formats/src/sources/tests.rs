use super::*;

#[test]
fn drafts_enforce_native_limits() {
    let e = At { line: 3 };
    let ok = Draft {
        time_ms: Some(1),
        user: Some("a".into()),
        action: Some("SELECT".into()),
        resource: Some("t".into()),
        ..Draft::default()
    };
    let ev = ok.build(e, ["t", "u", "a", "r"]).unwrap();
    assert_eq!(ev.action, "select");
    assert_eq!(ev.rows, 1);
    let missing = Draft {
        time_ms: Some(1),
        ..Draft::default()
    };
    let err = missing.build(e, ["t", "u", "a", "r"]).unwrap_err();
    assert_eq!((err.line, err.field.as_deref()), (3, Some("u")));
    let long = Draft {
        time_ms: Some(1),
        user: Some("x".repeat(MAX_FIELD_LEN + 1)),
        action: Some("s".into()),
        resource: Some("t".into()),
        ..Draft::default()
    };
    assert_eq!(
        long.build(e, ["t", "u", "a", "r"])
            .unwrap_err()
            .field
            .as_deref(),
        Some("u")
    );
    let early = Draft {
        time_ms: Some(-1),
        ..Draft::default()
    };
    assert_eq!(
        early
            .build(e, ["t", "u", "a", "r"])
            .unwrap_err()
            .field
            .as_deref(),
        Some("t")
    );
}

#[test]
fn native_parser_skips_blank_lines() {
    let mut out = Vec::new();
    let mut p = NativeParser;
    p.feed("   ", 1, &mut out).unwrap();
    p.feed(
        r#"{"timestamp":1,"user":"a","action":"s","resource":"t"}"#,
        2,
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].is_ok());
}

#[test]
fn qualify_adds_namespace_once() {
    assert_eq!(qualify(Some("support"), "customers"), "support.customers");
    assert_eq!(
        qualify(Some("db"), "support.customers"),
        "support.customers"
    );
    assert_eq!(qualify(None, "t"), "t");
}
