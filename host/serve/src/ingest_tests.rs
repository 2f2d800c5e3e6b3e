use super::*;

const GOOD: &str = r#"{"timestamp":"2026-01-05T09:00:00Z","user":"a","action":"select","resource":"support.tickets","rows":3}"#;
const BAD: &str = r#"{"timestamp":"2026-01-05T09:01:00Z","user":"a","action":"select","resource":"t","rows":"many"}"#;

fn cfg() -> FormatsConfig {
    FormatsConfig::default()
}

/// `body` as `POST /events` reads it, with the default formats and a line
/// limit no test body reaches.
fn events(body: &[u8], format: InputFormat) -> Result<Batch, IngestError> {
    events_body(body, format, &cfg(), 1 << 20)
}

/// `body` as the HEC endpoint reads it, with the same defaults as [`events`].
fn hec(body: &[u8], format: InputFormat) -> Result<Batch, IngestError> {
    hec_body(body, format, &cfg(), 1 << 20)
}

#[test]
fn ndjson_counts_invalid_lines_and_names_them() {
    let body = format!("{GOOD}\r\n\n{BAD}\n{GOOD}\n");
    let b = events(body.as_bytes(), InputFormat::Auto).unwrap();
    assert_eq!(b.events.len(), 2);
    assert_eq!(b.invalid, 1);
    assert_eq!(b.errors[0].to_string().split(':').next(), Some("line 3"));
    assert_eq!(b.errors[0].field.as_deref(), Some("rows"));
}

#[test]
fn a_json_array_of_objects_and_strings() {
    let body = format!("[{GOOD}, {BAD}, {}]", serde_json::to_string(GOOD).unwrap());
    let b = events(body.as_bytes(), InputFormat::Jsonl).unwrap();
    assert_eq!(b.events.len(), 2);
    assert_eq!(b.errors[0].unit, Unit::Event);
    assert_eq!(b.errors[0].position, 2);
    let e = events(b"[{", InputFormat::Jsonl).unwrap_err();
    assert!(matches!(e, IngestError::BadArray(_)), "{e}");
}

#[test]
fn other_formats_line_by_line() {
    let cef = "CEF:0|Imperva|SecureSphere|13.0|db|Query|3|rt=1767603600000 suser=mreyes act=select cs1Label=table cs1=support.customers cn1Label=rows cn1=40\n";
    let b = events(cef.as_bytes(), InputFormat::Auto).unwrap();
    assert_eq!(b.events.len(), 1, "{:?}", b.errors);
    assert_eq!(b.events[0].user, "mreyes");
    assert_eq!(b.events[0].rows, 40);
}

#[test]
fn limits_and_empty_bodies_refuse_the_request() {
    let e = events_body(
        format!("{GOOD}\n{GOOD}").as_bytes(),
        InputFormat::Auto,
        &cfg(),
        50,
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "line 1 is {} bytes, more than serve.max_line_bytes (50)",
            GOOD.len()
        )),
        "{e}"
    );
    assert_eq!(
        events_body(b" \n ", InputFormat::Auto, &cfg(), 50).unwrap_err(),
        IngestError::NoData
    );
}

#[test]
fn hec_envelopes_concatenated_with_objects_strings_and_time() {
    let no_ts = r#"{"user":"b","action":"select","resource":"crm.contacts","rows":7}"#;
    let body = format!(
        r#"{{"time":1767603600.5,"host":"db1","sourcetype":"ueba","event":{GOOD}}}{{"event":{}}} {{"time":"1767603601","event":{no_ts},"fields":{{"x":1}}}}"#,
        serde_json::to_string(GOOD).unwrap()
    );
    let b = hec(body.as_bytes(), InputFormat::Auto).unwrap();
    assert_eq!(b.invalid, 0, "{:?}", b.errors);
    assert_eq!(b.events.len(), 3);
    assert_eq!(b.events[2].time_ms, 1_767_603_601_000);
    assert_eq!(b.events[2].user, "b");
}

#[test]
fn hec_envelope_errors_are_numbered() {
    let e = hec(br#"{"event":{"a":1}}{"time":1}"#, InputFormat::Jsonl).unwrap_err();
    assert_eq!(e, IngestError::HecEventMissing { event: 2 });
    let e = hec(br#"{"event":""}"#, InputFormat::Jsonl).unwrap_err();
    assert_eq!(e, IngestError::HecEventBlank { event: 1 });
    let e = hec(br#"{"event":"  \t "}"#, InputFormat::Jsonl).unwrap_err();
    assert_eq!(e, IngestError::HecEventBlank { event: 1 });
    for time in ["-5", "\"NaN\"", "true", "1e300"] {
        let body = format!(r#"{{"event":{{"a":1}}}} {{"time":{time},"event":{{"a":1}}}}"#);
        let e = hec(body.as_bytes(), InputFormat::Jsonl).unwrap_err();
        assert!(matches!(e, IngestError::HecFormat { event: 2, .. }), "{e}");
        assert!(e.to_string().contains("`time`"), "{e}");
    }
    let e = hec(br#"{"event":{}} {"event": nope}"#, InputFormat::Jsonl).unwrap_err();
    assert!(matches!(e, IngestError::HecEventBlank { event: 1 }), "{e}");
    let e = hec(br#"{"event":{"a":1}} {"event": nope}"#, InputFormat::Jsonl).unwrap_err();
    assert!(matches!(e, IngestError::HecFormat { event: 2, .. }), "{e}");
    assert_eq!(
        hec(b"  ", InputFormat::Jsonl).unwrap_err(),
        IngestError::NoData
    );
}
