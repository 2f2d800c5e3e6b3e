use super::*;
use serde::Deserialize;

fn subject<'a>(user: &'a str, resource: &'a str, time_ms: i64) -> Subject<'a> {
    Subject {
        user,
        peer_group: Some("dba"),
        resource,
        action: "select",
        source: None,
        time_ms,
    }
}

fn rule(toml_text: &str) -> Result<Exceptions, ExceptionError> {
    #[derive(Deserialize)]
    struct Doc {
        exceptions: Vec<Exception>,
    }
    let doc: Doc = toml::from_str(toml_text).unwrap();
    Exceptions::new(&doc.exceptions)
}

#[test]
fn every_given_field_must_match() {
    let ex = rule(
        "[[exceptions]]\nuser = \"dba*\"\nresource = \"support.*\"\ndetector = \"volume\"\nnote = \"weekly maintenance\"\n",
    )
    .unwrap();
    let s = subject("dba1", "support.customers", 0);
    assert_eq!(ex.finding("volume", &s), Some((0, "weekly maintenance")));
    assert_eq!(ex.finding("off-hours", &s), None, "another detector");
    assert_eq!(
        ex.finding("volume", &subject("ana", "support.customers", 0)),
        None
    );
    assert_eq!(
        ex.finding("volume", &subject("dba1", "hr.salaries", 0)),
        None
    );
    let needs_source = rule("[[exceptions]]\nsource = \"10.*\"\n").unwrap();
    assert_eq!(
        needs_source.finding("volume", &s),
        None,
        "no source, no match"
    );
}

#[test]
fn times_bound_an_exception_in_event_time() {
    let ex = rule(
        "[[exceptions]]\nuser = \"u\"\nfrom = \"2026-01-05T00:00:00Z\"\nuntil = \"2026-01-06T00:00:00Z\"\n",
    )
    .unwrap();
    let day = 1_767_571_200_000; // 2026-01-05T00:00:00Z
    assert!(ex.finding("x", &subject("u", "t", day)).is_some());
    assert!(ex.finding("x", &subject("u", "t", day - 1)).is_none());
    assert!(
        ex.finding("x", &subject("u", "t", day + 86_400_000))
            .is_none()
    );
}

#[test]
fn bad_exceptions_name_their_index_and_field() {
    let e = rule("[[exceptions]]\nuser = \"a\"\n[[exceptions]]\nnote = \"all\"\n").unwrap_err();
    assert_eq!((e.index, e.field), (1, "user"));
    assert!(e.to_string().contains("would silence everything"), "{e}");
    let e = rule("[[exceptions]]\nuser = \"a\"\nfrom = \"yesterday\"\n").unwrap_err();
    assert_eq!(e.to_string().split(':').next(), Some("exceptions[0].from"));
    let e = rule("[[exceptions]]\nuser = \"\"\n").unwrap_err();
    assert_eq!(e.field, "user");
}

#[test]
fn unlearned_events_are_hidden_from_the_named_detector_only() {
    let ex =
        rule("[[exceptions]]\nuser = \"svc\"\ndetector = \"volume\"\nlearn = false\n").unwrap();
    let s = subject("svc", "t", 0);
    assert!(ex.any_unlearned());
    assert!(ex.hides("volume", &s));
    assert!(!ex.hides("off-hours", &s));
    let learned = rule("[[exceptions]]\nuser = \"svc\"\n").unwrap();
    assert!(!learned.hides("volume", &s), "learn defaults to true");
}
