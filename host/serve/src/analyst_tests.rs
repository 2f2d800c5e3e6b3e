use super::*;

#[test]
fn a_feedback_body_is_parsed_with_optional_fields() {
    let f = parse_feedback(br#"{"id":"abc","verdict":"malicious"}"#).unwrap();
    assert_eq!(f.id, "abc");
    assert_eq!(f.verdict, VerdictKind::Malicious);
    assert_eq!((f.note.as_str(), f.analyst.as_str(), f.at), ("", "", None));
    let f = parse_feedback(
        br#"{"id":"abc","verdict":"benign","note":"DBA maintenance","analyst":"kim","time":"2026-01-17T09:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(f.verdict, VerdictKind::Benign);
    assert_eq!(f.note, "DBA maintenance");
    assert_eq!(f.at, Some(1_768_640_400_000));
}

#[test]
fn malformed_json_is_told_apart_from_bad_fields() {
    for body in [
        &b"{"[..],
        b"not json",
        b"",
        br#"{"id":"a","verdict":"benign"} x"#,
    ] {
        let e = parse_feedback(body).unwrap_err();
        assert!(matches!(e, RequestError::Malformed(_)), "{e:?}");
    }
    let invalid = |body: &[u8], says: &str| {
        let e = parse_feedback(body).unwrap_err();
        assert!(matches!(e, RequestError::Invalid(_)), "{e:?}");
        assert!(e.to_string().contains(says), "{e}");
    };
    invalid(br#"{"verdict":"benign"}"#, "missing field `id`");
    invalid(br#"{"id":"a"}"#, "missing field `verdict`");
    invalid(br#"{"id":"a","verdict":"fine"}"#, "fine");
    invalid(
        br#"{"id":"a","verdict":"benign","score":1}"#,
        "unknown field `score`",
    );
    invalid(br#"{"id":7,"verdict":"benign"}"#, "invalid type");
    invalid(br#"["a","benign"]"#, "");
    invalid(br#"{"id":"","verdict":"benign"}"#, "`id` must be");
    let long_id = format!(
        r#"{{"id":"{}","verdict":"benign"}}"#,
        "a".repeat(MAX_ID_BYTES + 1)
    );
    invalid(long_id.as_bytes(), "`id` must be");
    let long_note = format!(
        r#"{{"id":"a","verdict":"benign","note":"{}"}}"#,
        "n".repeat(MAX_TEXT_BYTES + 1)
    );
    invalid(long_note.as_bytes(), "at most 1024 bytes");
    invalid(
        br#"{"id":"a","verdict":"benign","time":"yesterday"}"#,
        "yesterday",
    );
    invalid(
        br#"{"id":"a","verdict":"benign","time":"1768640400000"}"#,
        "RFC 3339",
    );
    invalid(br#"{"id":"a","verdict":"benign","time":""}"#, "RFC 3339");
}

#[test]
fn user_names_are_bounded() {
    assert!(check_user("rgarcia").is_ok());
    assert!(check_user(&"u".repeat(MAX_USER_BYTES)).is_ok());
    let e = check_user(&"u".repeat(MAX_USER_BYTES + 1)).unwrap_err();
    assert!(e.to_string().contains("257 bytes"), "{e}");
    assert!(check_user("").is_err());
}

#[test]
fn the_incidents_query_takes_only_a_user() {
    assert_eq!(incidents_query(None), Ok(None));
    assert_eq!(incidents_query(Some("")), Ok(None));
    assert_eq!(
        incidents_query(Some("user=r%C3%A9mi+d")),
        Ok(Some("rémi d".into()))
    );
    let e = incidents_query(Some("usr=kim")).unwrap_err();
    assert!(
        e.to_string().contains("unknown query parameter `usr`"),
        "{e}"
    );
    assert!(incidents_query(Some("user=a&user=b")).is_err());
    assert!(incidents_query(Some("user=")).is_err());
    assert!(incidents_query(Some("user=%FF")).is_err());
    assert!(incidents_query(Some("user=%4")).is_err());
    let long = format!("user={}", "u".repeat(MAX_USER_BYTES + 1));
    assert!(incidents_query(Some(&long)).is_err());
}

fn scorer() -> Scorer<Vec<ueba_engine::risk::aggregate::Alert>> {
    Scorer::new(
        ueba_engine::config::Config::default(),
        ueba_engine::identity::Identities::default(),
        Vec::new(),
        Vec::new(),
    )
}

fn feedback(id: &str) -> Ask {
    Ask::Feedback(Feedback {
        id: id.into(),
        verdict: VerdictKind::Benign,
        note: String::new(),
        analyst: "kim".into(),
        at: None,
    })
}

#[test]
fn without_a_verdicts_file_a_verdict_is_refused_and_nothing_written() {
    let e = answer(&mut scorer(), feedback("abc"), None).unwrap_err();
    assert!(matches!(e, AskError::NoVerdictsFile));
    assert!(e.to_string().contains("--state DIR"), "{e}");
    assert!(e.to_string().contains("--verdicts FILE"), "{e}");
}

#[test]
fn a_verdict_on_an_unknown_alert_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verdicts.jsonl");
    let e = answer(&mut scorer(), feedback("abc"), Some(&path)).unwrap_err();
    assert!(matches!(e, AskError::UnknownAlert(_)), "{e:?}");
    assert!(e.to_string().contains("no alert has id `abc`"), "{e}");
    assert!(!path.exists());
}

#[test]
fn unknown_users_and_empty_incidents_are_answered() {
    let mut s = scorer();
    let e = answer(&mut s, Ask::User { user: "kim".into() }, None).unwrap_err();
    assert!(
        matches!(e, AskError::UnknownUser(ref u) if u == "kim"),
        "{e:?}"
    );
    let all = answer(&mut s, Ask::Incidents { user: None }, None).unwrap();
    assert_eq!(all, json!({ "incidents": [] }));
}
