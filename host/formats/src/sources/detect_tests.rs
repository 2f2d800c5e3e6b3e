use super::*;

#[test]
fn each_format_is_recognised() {
    let cases = [
        (
            r#"{"timestamp":"2026-01-05T14:03:11Z","user":"a","action":"s","resource":"t"}"#,
            InputFormat::Jsonl,
        ),
        (
            r#"{"@timestamp":"2026-01-05T14:03:11Z","user":{"name":"a"}}"#,
            InputFormat::Ecs,
        ),
        (r#"{"class_uid":6005,"time":1}"#, InputFormat::Ocsf),
        (
            r#"Jan  5 14:03:11 host app[12]: {"timestamp":"2026-01-05T14:03:11Z","user":"a","action":"s","resource":"t"}"#,
            InputFormat::Jsonl,
        ),
        (
            r#"<134>1 2026-01-05T14:03:11Z host beat - - - {"@timestamp":"2026-01-05T14:03:11Z","user":{"name":"a"}}"#,
            InputFormat::Ecs,
        ),
        (
            "<134>Jan  5 14:03:11 host CEF:0|a|b|1|2|n|3|suser=x",
            InputFormat::Cef,
        ),
        ("LEEF:2.0|a|b|1|2|^|usrName=x", InputFormat::Leef),
        (
            "2026-01-05 14:03:11.250 UTC [1] a@db LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>",
            InputFormat::Pgaudit,
        ),
        (
            "2026-01-05 14:03:11.250 UTC,\"a\",\"db\",1,\"h:1\",x,1,\"SELECT\",2026-01-05 14:00:00 UTC,1/2,0,LOG,00000,\"AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>\"",
            InputFormat::PgauditCsv,
        ),
        (r#"{"audit_record":{"name":"Query"}}"#, InputFormat::Mysql),
        (
            r#"{"timestamp":"2023-03-29 11:17:05","class":"general","event":"status"},"#,
            InputFormat::Mysql,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(classify(line), Ok(Some(want)), "{line}");
    }
    assert_eq!(
        classify("2026-01-05 14:03:11 UTC [1] LOG:  checkpoint"),
        Ok(None)
    );
    assert_eq!(classify("["), Ok(None));
    assert!(classify(r#"{"@timestamp":1,"class_uid":6005}"#).is_err());
}

#[test]
fn undecidable_and_ambiguous_inputs_are_errors() {
    let mut p = AutoParser::new(FormatsConfig::default());
    let mut out = Vec::new();
    p.feed("hello", 1, &mut out).unwrap();
    assert!(matches!(
        p.finish(&mut out),
        Err(FormatError::Unknown { line: 1, .. })
    ));
    let mut p = AutoParser::new(FormatsConfig::default());
    let err = p
        .feed(r#"{"@timestamp":1,"class_uid":6005}"#, 3, &mut out)
        .unwrap_err();
    assert!(err.to_string().contains("--format"), "{err}");
}

#[test]
fn held_lines_are_replayed() {
    let mut p = AutoParser::new(FormatsConfig::default());
    let mut out = Vec::new();
    p.feed(
        "2026-01-05 14:03:10 UTC [9] LOG:  database system is ready",
        1,
        &mut out,
    )
    .unwrap();
    p.feed("2026-01-05 14:03:11 UTC [1] a@db LOG:  AUDIT: OBJECT,1,1,READ,SELECT,TABLE,s.t,select 1,<none>", 2, &mut out).unwrap();
    p.finish(&mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().unwrap().resource, "s.t");
    assert_eq!(p.skipped(), 1);
}

#[test]
fn a_first_line_naming_an_event_s_columns_is_a_csv_header() {
    let mut p = AutoParser::new(FormatsConfig::default());
    let mut out = Vec::new();
    p.feed("timestamp,user,action,resource,rows", 1, &mut out)
        .unwrap();
    p.feed(
        "2026-01-05T14:03:11Z,mreyes,select,support.customers,12",
        2,
        &mut out,
    )
    .unwrap();
    p.finish(&mut out).unwrap();
    assert_eq!(
        out.len(),
        1,
        "the header read as CSV and the row as an event"
    );
    // Columns named by [formats.mapping] count, the usual names not.
    let mut cfg = FormatsConfig::default();
    cfg.mapping.resource = Some("object".into());
    let mut p = AutoParser::new(cfg);
    p.feed("timestamp,user,action,object", 1, &mut out).unwrap();
    assert!(p.pending_line().is_none(), "decided at the header");
    // A header lacking what an event needs decides nothing, nor does a
    // header-like line after the first.
    let mut p = AutoParser::new(FormatsConfig::default());
    p.feed("id,when,who", 1, &mut out).unwrap();
    p.feed("timestamp,user,action,resource", 2, &mut out)
        .unwrap();
    assert!(matches!(
        p.finish(&mut out),
        Err(FormatError::Unknown { line: 1, .. })
    ));
}

/// A value serde_json cannot hold (a number past f64) does not hide the
/// keys that decide the format, so the format's parser can name the field.
#[test]
fn an_out_of_range_value_does_not_hide_the_format() {
    let line = r#"{"timestamp":"2026-01-05T14:03:11Z","user":"a","action":"s","resource":"t","rows":1e400}"#;
    assert_eq!(classify(line), Ok(Some(InputFormat::Jsonl)));
    let line = r#"{"@timestamp":"2026-01-05T14:03:11Z","db":{"rows":1e999}}"#;
    assert_eq!(classify(line), Ok(Some(InputFormat::Ecs)));
}
