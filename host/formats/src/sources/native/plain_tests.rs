use super::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn plain_len_finds_the_first_quote_backslash_or_control(
        bytes in prop::collection::vec(
            prop_oneof![4 => 0x20u8..0x7f, 1 => any::<u8>(), 1 => Just(b'"'), 1 => Just(b'\\')],
            0..40,
        ),
        skip in 0usize..40,
    ) {
        let bytes = &bytes[skip.min(bytes.len())..];
        let naive = bytes
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(bytes.len());
        prop_assert_eq!(plain_len(bytes), naive);
    }
}

#[test]
fn reads_the_lines_ueba_gen_and_exporters_write() {
    let e = parse(
        r#"{"timestamp":"2026-01-05T14:03:11.250Z","user":"u0000042","action":"select","resource":"sales.orders","rows":12,"bytes":5120,"source":"10.0.0.1","outcome":"failure"}"#,
    )
    .unwrap();
    assert_eq!(e.time_ms, 1_767_621_791_250);
    assert_eq!(e.user, "u0000042");
    assert_eq!(e.bytes, Some(5120));
    assert_eq!(e.outcome, Outcome::Failure);
    let spaced = " { \"timestamp\" : 1767621791250 ,\t\"user\":\"a\", \"action\":\"s\",\"resource\":\"t\", \"extra\": [1] }";
    assert_eq!(parse(spaced), None, "nested values are left to serde");
    let spaced = " { \"timestamp\" : 1767621791250 ,\t\"user\":\"a\", \"action\":\"s\",\"resource\":\"t\", \"extra\": -1.5e3, \"ok\": true, \"n\": null }\n";
    let e = parse(spaced).unwrap();
    assert_eq!((e.rows, e.bytes, e.source), (1, None, None));
}

#[test]
fn leaves_everything_unusual_to_serde() {
    let base = r#""timestamp":1,"user":"a","action":"s","resource":"t""#;
    assert!(parse(&format!("{{{base}}}")).is_some());
    for extra in [
        r#","user":"b""#,
        r#","rows":null,"rows":2"#,
        r#","x":"\n""#,
        r#","x":01"#,
        r#","x":1."#,
        r#","x":-"#,
        r#","x":nul"#,
        r#","rows":-1"#,
        r#","rows":2.0"#,
        r#","rows":18446744073709551616"#,
        r#","outcome":"maybe""#,
        r#","outcome":"""#,
        r#","source":"""#,
        r#","source":7"#,
        ",",
    ] {
        let line = format!("{{{base}{extra}}}");
        assert_eq!(parse(&line), None, "{line}");
    }
    for line in [
        "",
        "{",
        "{}",
        "[]",
        "{\"user\":\"a\"} x",
        "{\"timestamp\":1}",
    ] {
        assert_eq!(parse(line), None, "{line}");
    }
}

#[test]
fn numbers_follow_the_json_grammar() {
    fn value(text: &str) -> Option<Value<'_>> {
        let mut c = Cursor { text, at: 0 };
        c.value().filter(|_| c.at == text.len())
    }
    assert_eq!(value("0"), Some(Value::Digits("0")));
    assert_eq!(value("120"), Some(Value::Digits("120")));
    for other in ["-0", "-12", "1.5", "1e9", "1E+9", "2.5e-3", "true", "false"] {
        assert_eq!(value(other), Some(Value::Other), "{other}");
    }
    for bad in [
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "tru", "nul",
    ] {
        assert_eq!(value(bad), None, "{bad}");
    }
}
