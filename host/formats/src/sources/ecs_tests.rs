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

#[test]
fn logon_file_and_web_events_are_read_as_access_to_the_machine_file_or_url() {
    let p = EcsParser::new(FieldMapping::default());
    // Winlogbeat, event 4624: a remote logon to WS-0042.
    let logon = p
        .parse(
            r#"{"@timestamp":"2026-01-05T10:00:00.000Z","event":{"code":"4624","action":"logged-in","outcome":"success"},"user":{"name":"alice"},"host":{"name":"WS-0042"},"source":{"ip":"10.1.2.3"}}"#,
            1,
        )
        .unwrap();
    assert_eq!(
        (logon.action.as_str(), logon.resource.as_str(), logon.rows),
        ("logged-in", "WS-0042", 1)
    );
    assert_eq!(logon.source.as_deref(), Some("10.1.2.3"));
    // Event 4663 on a file server: the file, not the server.
    let file = p
        .parse(
            r#"{"@timestamp":"2026-01-05T10:05:00.000Z","event":{"action":"File System"},"user":{"name":"alice"},"host":{"name":"FS-01"},"file":{"path":"\\\\FS-01\\finance\\payroll.xlsx"}}"#,
            2,
        )
        .unwrap();
    assert_eq!(file.resource, r"\\FS-01\finance\payroll.xlsx");
    let web = p
        .parse(
            r#"{"@timestamp":"2026-01-05T10:06:00.000Z","event.action":"GET","user.name":"bob","url.full":"https://crm/api/customers?page=2","host.name":"proxy-1"}"#,
            3,
        )
        .unwrap();
    assert_eq!(web.resource, "https://crm/api/customers?page=2");
    // A table still wins over the host the database runs on.
    let db = p
        .parse(
            r#"{"@timestamp":"2026-01-05T10:07:00.000Z","user.name":"bob","db.statement":"SELECT * FROM crm.customers","host.name":"db01"}"#,
            4,
        )
        .unwrap();
    assert_eq!(db.resource, "crm.customers");
}
