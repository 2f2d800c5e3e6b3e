use super::*;

fn run(input: &str) -> (Vec<Parsed>, u64) {
    let mut p = MysqlParser::new(FieldMapping::default());
    let mut out = Vec::new();
    for (i, l) in input.lines().enumerate() {
        p.feed(l, i as u64 + 1, &mut out).unwrap();
    }
    p.finish(&mut out).unwrap();
    (out, p.skipped())
}

#[test]
fn percona_query_record() {
    let (out, skipped) = run(
        r#"{"audit_record":{"name":"Query","record":"6_2026-01-05T14:03:11","timestamp":"2026-01-05T14:03:11 UTC","command_class":"select","connection_id":"12","status":0,"sqltext":"SELECT * FROM customers c JOIN tickets t ON t.cid = c.id","user":"mreyes[mreyes] @ localhost [10.0.0.1]","host":"localhost","os_user":"","ip":"10.0.0.1","db":"support","rows_sent":12,"rows_examined":300}}
{"audit_record":{"name":"Connect","record":"5_2026-01-05T14:03:10","timestamp":"2026-01-05T14:03:10 UTC","connection_id":"12","status":0,"user":"mreyes","host":"localhost","ip":"10.0.0.1","db":"support"}}"#,
    );
    assert_eq!(skipped, 1);
    let evs: Vec<&AccessEvent> = out.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].user, "mreyes");
    assert_eq!(evs[0].resource, "support.customers");
    assert_eq!(evs[1].resource, "support.tickets");
    assert_eq!(evs[0].rows, 12);
    assert_eq!(evs[0].outcome, Outcome::Success);
    assert_eq!(evs[0].time_ms, 1_767_621_791_000);
}

#[test]
fn pretty_printed_filter_array() {
    let (out, skipped) = run(
        "[\n  {\n    \"timestamp\": \"2023-03-29 11:17:05\",\n    \"id\": 5,\n    \"class\": \"general\",\n    \"event\": \"status\",\n    \"connection_id\": 11,\n    \"account\": { \"user\": \"root[root] @ localhost []\", \"host\": \"localhost\" },\n    \"login\": { \"user\": \"root[root] @ localhost []\", \"os\": \"\", \"ip\": \"\", \"proxy\": \"\" },\n    \"general_data\": {\n      \"command\": \"Query\",\n      \"sql_command\": \"select\",\n      \"query\": \"SELECT * FROM db1.t1 WHERE a = '}'\",\n      \"status\": 0}\n  },\n  { \"timestamp\": \"2023-03-29 11:17:03\", \"id\": 0, \"class\": \"audit\", \"server_id\": 1 }\n]\n",
    );
    assert_eq!(skipped, 1);
    let ev = out[0].as_ref().unwrap();
    assert_eq!((ev.user.as_str(), ev.resource.as_str()), ("root", "db1.t1"));
    assert_eq!(ev.source.as_deref(), Some("localhost"));
}

/// A record cut short (its braces never close) costs its own line: when the
/// input ends inside it, or it passes its size limit, the lines after its
/// first are read again as records.
#[test]
fn a_truncated_record_costs_one_line_not_the_records_after_it() {
    let record = r#"{"audit_record":{"name":"Query","record":"6_2026-01-05T14:03:11","timestamp":"2026-01-05T14:03:11 UTC","command_class":"select","connection_id":"12","status":0,"sqltext":"SELECT * FROM customers WHERE id=1","user":"mreyes","host":"localhost","ip":"10.0.0.1","db":"support","rows_sent":1}}"#;
    let mut input = String::from("{\"audit_record\":{\"name\":\"Qu\n");
    for _ in 0..5 {
        input.push_str(record);
        input.push('\n');
    }
    let (out, _) = run(&input);
    let errs: Vec<String> = out
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("line 1"), "{}", errs[0]);
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 5);

    let n = MAX_RECORD / record.len() + 10;
    let mut input = String::from("{\"audit_record\":{\"name\":\"Qu\n");
    for _ in 0..n {
        input.push_str(record);
        input.push('\n');
    }
    let (out, _) = run(&input);
    assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), n);
}

/// A statement naming more tables than one record may become is an invalid
/// line naming the statement's field; the records around it are read.
#[test]
fn statement_with_too_many_tables_is_an_invalid_line() {
    let tables: Vec<String> = (0..70).map(|i| format!("t{i}")).collect();
    let record = |sql: &str| {
        format!(
            r#"{{"audit_record":{{"name":"Query","timestamp":"2026-01-05T14:03:11 UTC","command_class":"select","status":0,"sqltext":"{sql}","user":"mreyes","ip":"10.0.0.1","db":"s","rows_sent":1}}}}"#
        )
    };
    let input = [
        record("SELECT * FROM a"),
        record(&format!("SELECT * FROM {}", tables.join(", "))),
        record("SELECT * FROM b"),
    ]
    .join("\n");
    let (out, _) = run(&input);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].as_ref().unwrap().resource, "s.a");
    let err = out[1].as_ref().unwrap_err();
    assert_eq!((err.line, err.field.as_deref()), (2, Some("sqltext")));
    assert_eq!(out[2].as_ref().unwrap().resource, "s.b");
}
