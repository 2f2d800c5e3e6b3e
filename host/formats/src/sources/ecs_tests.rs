use super::*;

#[test]
fn nested_and_dotted_documents_map_alike() {
    let p = EcsParser::new(FieldMapping::default());
    let nested = p
        .parse(
            r#"{"@timestamp":"2026-01-05T14:03:11.250Z","user":{"name":"mreyes"},"event":{"action":"select","outcome":"success"},"source":{"ip":"10.0.0.1"},"db":{"namespace":"support","collection":{"name":"customers"},"response":{"returned_rows":12}}}"#,
            1,
        )
        .unwrap();
    let dotted = p
        .parse(
            r#"{"@timestamp":"2026-01-05T14:03:11.250Z","user.name":"mreyes","event.action":"select","event.outcome":"success","source.ip":"10.0.0.1","db.namespace":"support","db.collection.name":"customers","db.response.returned_rows":12}"#,
            1,
        )
        .unwrap();
    assert_eq!(nested, dotted);
    assert_eq!(nested.resource, "support.customers");
    assert_eq!(nested.rows, 12);
    assert_eq!(nested.time_ms, 1_767_621_791_250);
}

#[test]
fn mapping_overrides_and_query_fallback() {
    let p = EcsParser::new(FieldMapping {
        user: Some("labels.db_user".into()),
        ..FieldMapping::default()
    });
    let ev = p
        .parse(
            r#"{"@timestamp":1767621791250,"labels":{"db_user":"svc"},"db.statement":"SELECT * FROM hr.salaries"}"#,
            4,
        )
        .unwrap();
    assert_eq!((ev.user.as_str(), ev.action.as_str()), ("svc", "select"));
    assert_eq!(ev.resource, "hr.salaries");
    let err = p
        .parse(
            r#"{"@timestamp":1,"event.action":"x","db.sql.table":"t"}"#,
            9,
        )
        .unwrap_err();
    assert_eq!(
        (err.line, err.field.as_deref()),
        (9, Some("labels.db_user"))
    );
}
