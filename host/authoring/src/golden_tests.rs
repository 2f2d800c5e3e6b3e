use super::*;

fn record(event: u64, score: f64) -> Record {
    Record {
        event,
        time: "2026-01-05T09:00:00.000Z".into(),
        user: "alice".into(),
        action: "copy".into(),
        resource: "support.customers".into(),
        score,
        reason: "copy on support.customers".into(),
        evidence: Evidence(vec![
            ("p".into(), serde_json::json!(0.001)),
            ("action".into(), serde_json::json!("copy")),
        ]),
    }
}

#[test]
fn fields_and_evidence_keep_their_order() {
    let line = record(3, 30.0).to_line();
    assert!(line.starts_with(r#"{"event":3,"time":"#), "{line}");
    assert!(
        line.ends_with(r#""evidence":{"p":0.001,"action":"copy"}}"#),
        "{line}"
    );
}

#[test]
fn matching_findings_compare_equal_whatever_the_spacing() {
    let found = [record(1, 25.6), record(7, 30.0)];
    let mut text = to_jsonl(&found);
    assert_eq!(compare(Path::new("e.jsonl"), &text, &found).unwrap(), None);
    text = text.replace(",\"", ", \"") + "\n";
    assert_eq!(compare(Path::new("e.jsonl"), &text, &found).unwrap(), None);
}

#[test]
fn a_changed_finding_is_shown_with_the_field_that_changed() {
    let expected = to_jsonl(&[record(1, 25.6), record(7, 30.0), record(9, 40.0)]);
    let found = [
        record(1, 25.6),
        record(7, 31.5),
        record(9, 40.0),
        record(12, 20.0),
    ];
    let diff = compare(Path::new("e.jsonl"), &expected, &found)
        .unwrap()
        .expect("differs");
    assert_eq!(diff.counts(), (1, 2));
    let shown = diff.to_string();
    assert!(shown.contains("--- expected (e.jsonl)"), "{shown}");
    assert!(shown.contains("-    2 {\"event\":7"), "{shown}");
    assert!(
        shown.contains("score: expected 30.0, found 31.5"),
        "{shown}"
    );
    assert!(shown.contains("+      {\"event\":12"), "{shown}");
}

#[test]
fn missing_findings_and_bad_lines_are_reported() {
    let expected = to_jsonl(&[record(1, 25.6)]);
    let diff = compare(Path::new("e.jsonl"), &expected, &[])
        .unwrap()
        .unwrap();
    assert_eq!(diff.counts(), (1, 0));
    let err = compare(Path::new("e.jsonl"), "{\"event\":1}\nnope\n", &[]).unwrap_err();
    assert!(
        err.to_string().starts_with("e.jsonl: line 2: not JSON"),
        "{err}"
    );
    let err = compare(Path::new("e.jsonl"), "[1]\n", &[]).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}
