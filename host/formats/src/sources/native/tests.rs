//! The native parser against a reference parser and properties.

use super::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use ueba_engine::event::format_time;

/// The parser as it was before it read fields without re-parsing them:
/// the definition of the accepted language and of every error message,
/// which the differential properties below hold the real one to.
mod reference {
    use super::super::{
        AccessEvent, MAX_FIELD_LEN, MAX_TIME_MS, MIN_TIME_MS, Outcome, ParseError, clip,
    };
    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    struct Line<'a> {
        #[serde(borrow)]
        timestamp: Option<&'a RawValue>,
        #[serde(borrow)]
        user: Option<&'a RawValue>,
        #[serde(borrow)]
        action: Option<&'a RawValue>,
        #[serde(borrow)]
        resource: Option<&'a RawValue>,
        #[serde(borrow)]
        rows: Option<&'a RawValue>,
        #[serde(borrow)]
        bytes: Option<&'a RawValue>,
        #[serde(borrow)]
        source: Option<&'a RawValue>,
        #[serde(borrow)]
        peer_group: Option<&'a RawValue>,
        #[serde(borrow)]
        outcome: Option<&'a RawValue>,
    }

    /// Parse one JSON line into an event. `line` is its 1-based number, used in
    /// errors. Unknown fields are ignored, so richer logs pass through.
    pub(super) fn parse_line(text: &str, line: u64) -> Result<AccessEvent, ParseError> {
        let err = |field: Option<&str>, message: String| ParseError {
            line,
            field: field.map(str::to_string),
            message,
        };
        let raw: Line<'_> = serde_json::from_str(text).map_err(|e| {
            err(
                None,
                format!("not a JSON object ({e}); each line must be one event object"),
            )
        })?;
        let required = |v: Option<&RawValue>, name: &str| -> Result<String, ParseError> {
            let v = v.ok_or_else(|| err(Some(name), "missing".into()))?;
            string_field(v).map_err(|m| err(Some(name), m))
        };
        let optional_str =
            |v: Option<&RawValue>, name: &str| -> Result<Option<String>, ParseError> {
                match v {
                    None => Ok(None),
                    Some(v) if v.get() == "null" => Ok(None),
                    Some(v) => string_field(v).map(Some).map_err(|m| err(Some(name), m)),
                }
            };
        let optional_u64 = |v: Option<&RawValue>, name: &str| -> Result<Option<u64>, ParseError> {
            match v {
                None => Ok(None),
                Some(v) if v.get() == "null" => Ok(None),
                Some(v) => u64_field(v).map(Some).map_err(|m| err(Some(name), m)),
            }
        };
        let time_ms = match raw.timestamp {
            None => return Err(err(Some("timestamp"), "missing".into())),
            Some(v) => timestamp_field(v).map_err(|m| err(Some("timestamp"), m))?,
        };
        let outcome = match optional_str(raw.outcome, "outcome")? {
            None => Outcome::Unknown,
            Some(o) => parse_outcome(&o).ok_or_else(|| {
                err(
                    Some("outcome"),
                    format!("`{o}` is not one of success, failure, unknown"),
                )
            })?,
        };
        Ok(AccessEvent {
            time_ms,
            user: required(raw.user, "user")?.into(),
            action: required(raw.action, "action")?.into(),
            resource: required(raw.resource, "resource")?.into(),
            rows: optional_u64(raw.rows, "rows")?.unwrap_or(1),
            bytes: optional_u64(raw.bytes, "bytes")?,
            source: optional_str(raw.source, "source")?.map(super::Text::from),
            peer_group: optional_str(raw.peer_group, "peer_group")?.map(super::Text::from),
            outcome,
        })
    }

    /// Map the many ways logs spell an outcome onto three values.
    fn parse_outcome(text: &str) -> Option<Outcome> {
        match text.to_ascii_lowercase().as_str() {
            "success" | "succeeded" | "ok" | "allowed" | "allow" => Some(Outcome::Success),
            "failure" | "failed" | "fail" | "denied" | "deny" | "error" => Some(Outcome::Failure),
            "unknown" | "" => Some(Outcome::Unknown),
            _ => None,
        }
    }

    fn string_field(v: &RawValue) -> Result<String, String> {
        let s: String = serde_json::from_str(v.get())
            .map_err(|_| format!("expected a string, got `{}`", clip(v.get())))?;
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > MAX_FIELD_LEN {
            return Err(format!(
                "{} bytes long; at most {MAX_FIELD_LEN} are accepted",
                s.len()
            ));
        }
        Ok(s)
    }

    fn u64_field(v: &RawValue) -> Result<u64, String> {
        let text = v.get();
        if let Ok(n) = text.parse::<u64>() {
            return Ok(n);
        }
        // Accept whole numbers written as floats (`12.0`) or strings (`"12"`),
        // which some exporters emit; reject negatives, fractions and overflow.
        let n = if let Ok(s) = serde_json::from_str::<String>(text) {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("expected a whole number, got `{}`", clip(text)))?
        } else {
            let f: f64 = text
                .parse()
                .map_err(|_| format!("expected a whole number, got `{}`", clip(text)))?;
            if !(0.0..u64::MAX as f64).contains(&f) || f.fract() != 0.0 {
                return Err(format!(
                    "expected a whole number from 0 to {}, got `{}`",
                    u64::MAX,
                    clip(text)
                ));
            }
            f as u64
        };
        Ok(n)
    }

    fn timestamp_field(v: &RawValue) -> Result<i64, String> {
        let text = v.get();
        let ms = if let Ok(ms) = text.parse::<i64>() {
            ms
        } else if let Ok(s) = serde_json::from_str::<String>(text) {
            parse_timestamp_text(&s)?
        } else {
            return Err(format!(
                "expected an RFC 3339 string or integer epoch milliseconds, got `{}`",
                clip(text)
            ));
        };
        if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
            return Err(format!(
                "{ms} ms is outside the accepted range (1970 to 9999)"
            ));
        }
        Ok(ms)
    }

    /// Parse an RFC 3339 timestamp (or an all-digit string of epoch milliseconds).
    pub(super) fn parse_timestamp_text(s: &str) -> Result<i64, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<i64>()
                .map_err(|_| format!("`{}` overflows epoch milliseconds", clip(s)));
        }
        match s.parse::<jiff::Timestamp>() {
            Ok(ts) => Ok(ts.as_millisecond()),
            // Year 9999 runs to its end, past jiff's last timestamp:
            // counted here from its first day.
            Err(e) => jiff::fmt::temporal::Pieces::parse(s)
                .ok()
                .filter(|p| p.date().year() == 9999)
                .and_then(|p| {
                    let t = p.time()?;
                    let offset = p.to_numeric_offset()?;
                    let in_day = i64::from(t.hour()) * 3_600_000
                        + i64::from(t.minute()) * 60_000
                        + i64::from(t.second()) * 1000
                        + i64::from(t.millisecond());
                    Some(
                        253_370_764_800_000
                            + (i64::from(p.date().day_of_year()) - 1) * 86_400_000
                            + in_day
                            - i64::from(offset.seconds()) * 1000,
                    )
                })
                .ok_or_else(|| format!("`{}` is not RFC 3339: {e}", clip(s))),
        }
    }
}

#[test]
fn parses_full_and_minimal_events() {
    let e = parse_line(
        r#"{"timestamp":"2026-01-05T14:03:11.250Z","user":"mreyes","action":"select","resource":"support.customers","rows":12,"bytes":5120,"source":"10.0.0.1","peer_group":"tier1","outcome":"success","extra":{"x":1}}"#,
        1,
    )
    .unwrap();
    assert_eq!(e.time_ms, 1_767_621_791_250);
    assert_eq!(e.rows, 12);
    assert_eq!(e.bytes, Some(5120));
    assert_eq!(e.outcome, Outcome::Success);
    let m = parse_line(
        r#"{"timestamp":1767621791250,"user":"a","action":"select","resource":"t"}"#,
        2,
    )
    .unwrap();
    assert_eq!(m.time_ms, 1_767_621_791_250);
    assert_eq!(m.rows, 1);
    assert_eq!(m.source, None);
}

#[test]
fn errors_name_line_and_field() {
    let cases = [
        (r#"{"user":"a","action":"s","resource":"t"}"#, "timestamp"),
        (
            r#"{"timestamp":"yesterday","user":"a","action":"s","resource":"t"}"#,
            "timestamp",
        ),
        (
            r#"{"timestamp":1,"user":7,"action":"s","resource":"t"}"#,
            "user",
        ),
        (
            r#"{"timestamp":1,"user":"a","action":"s","resource":"t","rows":-4}"#,
            "rows",
        ),
        (
            r#"{"timestamp":1,"user":"a","action":"s","resource":"t","rows":1e30}"#,
            "rows",
        ),
        (
            r#"{"timestamp":1,"user":"a","action":"s","resource":"t","rows":99999999999999999999999}"#,
            "rows",
        ),
        (
            r#"{"timestamp":1,"user":"a","action":"s","resource":"t","outcome":"maybe"}"#,
            "outcome",
        ),
        (
            r#"{"timestamp":-5,"user":"a","action":"s","resource":"t"}"#,
            "timestamp",
        ),
        (
            r#"{"timestamp":"99999-01-01T00:00:00Z","user":"a","action":"s","resource":"t"}"#,
            "timestamp",
        ),
        (
            r#"{"timestamp":1,"user":"","action":"s","resource":"t"}"#,
            "user",
        ),
    ];
    for (text, field) in cases {
        let e = parse_line(text, 42).unwrap_err();
        assert_eq!(e.line, 42, "{text}");
        assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        assert!(e.to_string().starts_with("line 42: field `"), "{e}");
    }
    for text in ["", "not json", "[1,2]", "{\"timestamp\":", "\u{0}"] {
        let e = parse_line(text, 7).unwrap_err();
        assert_eq!(e.line, 7);
        assert_eq!(e.field, None);
    }
}

#[test]
fn overlong_fields_are_refused_with_short_messages() {
    let long = "x".repeat(MAX_FIELD_LEN + 1);
    let text = format!(r#"{{"timestamp":1,"user":"{long}","action":"s","resource":"t"}}"#);
    let e = parse_line(&text, 1).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("user"));
    assert!(e.to_string().len() < 200);
}

#[test]
fn numbers_as_strings_and_whole_floats_are_accepted() {
    let e = parse_line(
        r#"{"timestamp":"1767621791250","user":"a","action":"s","resource":"t","rows":"30","bytes":12.0}"#,
        1,
    )
    .unwrap();
    assert_eq!(e.rows, 30);
    assert_eq!(e.bytes, Some(12));
    assert_eq!(e.time_ms, 1_767_621_791_250);
}

/// Cases per differential property: `PROPTEST_CASES` when set, as in the
/// integration fuzz tests, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// JSON values of every kind, biased towards the edges of what the
/// fields accept: numbers as floats and strings, escapes, lone
/// surrogates, control characters, the length limit, time limits.
fn json_value() -> impl Strategy<Value = String> {
    let edge = prop::sample::select(vec![
        "null",
        "true",
        "false",
        "[]",
        "{}",
        "[1, {\"a\": [null]}]",
        "{ \"x\" : 1 }",
        "-0",
        "-0.0",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "1e+",
        "+1",
        "--1",
        "00",
        "1.e5",
        "nul",
        "truex",
        "True",
        "[1,",
        "0",
        "0.0",
        "0.5",
        "12.0",
        "12e0",
        "1.2e1",
        "1E+2",
        "1e400",
        "-4",
        "18446744073709551615",
        "18446744073709551616",
        "18446744073709551616.0",
        "1e19",
        "1.8446744073709552e19",
        "4503599627370496.5",
        "9223372036854775808",
        "253402300799999",
        "253402300800000",
        "99999999999999999999999",
        "\"\"",
        "\" \"",
        "\"12\"",
        "\" 12 \"",
        "\"-3\"",
        "\"1e3\"",
        "\"12.0\"",
        "\"abc\"",
        "\"a\\u0062c\"",
        "\"\\ud800\"",
        "\"\\ud83d\\ude00\"",
        "\"\\n\"",
        "\"\\/x\"",
        "\"\\\"q\\\"\"",
        "\"\\u0000\"",
        "\"\u{7f}\"",
        "\"é\"",
        "\"SUCCESS\"",
        "\"Ok\"",
        "\"denied\"",
        "\"Unknown\"",
        "\"maybe\"",
        "\"2026-01-05T14:03:11Z\"",
        "\"2026-01-05T14:03:11.250+02:00\"",
        "\"2026-01-05 14:03:11Z\"",
        "\"2026-01-05T14:03:11\"",
        "\"1767621791250\"",
        "\"99999999999999999999\"",
        "\"1969-12-31T23:59:59.999Z\"",
        "\"9999-12-31T23:59:59.999Z\"",
        "\"-262143-01-01T00:00:00Z\"",
        "\"2026-02-30T00:00:00Z\"",
        "\"2026-01-05T23:59:60Z\"",
    ])
    .prop_map(str::to_string);
    prop_oneof![
        3 => edge,
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|x| format!("{x:e}")),
        1 => any::<f64>().prop_map(|x| format!("{x:?}")),
        1 => (0u64..1 << 54).prop_map(|n| format!("{n}.0")),
        1 => ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => "[a-zA-Z0-9 .:_-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        1 => (MAX_FIELD_LEN - 4..MAX_FIELD_LEN + 4, prop::bool::ANY).prop_map(|(n, wide)| {
            let text = if wide { "é".repeat(n / 2) } else { "x".repeat(n) };
            format!("\"{text}\"")
        }),
    ]
}

/// Keys: the known fields (also escaped, or in the wrong case) and others.
fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "timestamp",
        "user",
        "action",
        "resource",
        "rows",
        "bytes",
        "source",
        "peer_group",
        "outcome",
        "other",
        "User",
        "",
        "us\\u0065r",
        "time\\u0073tamp",
    ])
}

/// Whitespace JSON allows between tokens, mostly none.
fn gap() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\t", "\n ", "\r"])
}

/// Objects (duplicate and unknown keys included), arrays (the
/// positional form serde accepts for a struct), and either cut short or
/// followed by stray text.
fn event_like_line() -> impl Strategy<Value = String> {
    let member = (gap(), key(), gap(), json_value(), gap());
    let object = prop::collection::vec(member, 0..12).prop_map(|members| {
        let body: Vec<String> = members
            .iter()
            .map(|(a, k, b, v, c)| format!("{a}\"{k}\"{b}:{c}{v}{a}"))
            .collect();
        format!("{{{}}}", body.join(","))
    });
    let array = prop::collection::vec((gap(), json_value()), 0..11).prop_map(|items| {
        let body: Vec<String> = items.iter().map(|(g, v)| format!("{g}{v}")).collect();
        format!("[{}]", body.join(","))
    });
    let whole = prop_oneof![3 => object, 1 => array];
    let tail = prop::sample::select(vec!["", "", "", " ", "x", ",", "}", "]", "{}", "\u{0}"]);
    (
        whole,
        tail,
        any::<prop::sample::Index>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(line, tail, cut, truncate)| {
            let mut line = line + tail;
            if truncate {
                let mut at = cut.index(line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.truncate(at);
            }
            line
        })
}

/// Lines that mostly parse: every required field present with a good
/// value, optional ones present or not, in any order, values written
/// the ways exporters write them.
fn good_line() -> impl Strategy<Value = String> {
    let time = prop_oneof![
        (MIN_TIME_MS..=MAX_TIME_MS).prop_map(|ms| ms.to_string()),
        (MIN_TIME_MS..=MAX_TIME_MS).prop_map(|ms| format!("\"{}\"", format_time(ms))),
        (MIN_TIME_MS..=MAX_TIME_MS).prop_map(|ms| format!("\"{ms}\"")),
    ];
    let text = prop_oneof![
        4 => "[a-zA-Z0-9.:_-]{1,24}".prop_map(|s| format!("\"{s}\"")),
        1 => ".{1,24}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    let count = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("\"{n}\"")),
        (0u64..1 << 53).prop_map(|n| format!("{n}.0")),
        Just("null".to_string()),
    ];
    let outcome = prop::sample::select(vec![
        "\"success\"",
        "\"FAILED\"",
        "\"deny\"",
        "\"ok\"",
        "\"\"",
        "null",
        "\"unknown\"",
    ])
    .prop_map(str::to_string);
    let optional = |name: &'static str, v: BoxedStrategy<String>| {
        prop::option::of(v).prop_map(move |v| v.map(|v| (name, v)))
    };
    (
        time,
        text.clone(),
        text.clone(),
        text.clone(),
        optional("rows", count.clone().boxed()),
        optional("bytes", count.boxed()),
        optional("source", text.clone().boxed()),
        optional("peer_group", text.boxed()),
        optional("outcome", outcome.boxed()),
        any::<u64>(),
    )
        .prop_map(|(t, u, a, r, rows, bytes, source, peer, outcome, order)| {
            let mut fields = vec![
                ("timestamp", t),
                ("user", u),
                ("action", a),
                ("resource", r),
            ];
            fields.extend([rows, bytes, source, peer, outcome].into_iter().flatten());
            let n = fields.len();
            let mut order = order;
            for i in (1..n).rev() {
                fields.swap(i, (order % (i as u64 + 1)) as usize);
                order /= i as u64 + 1;
            }
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        })
}

/// Good lines with a few more members (any key, any value, spaced
/// any way) at the front or the back: what the fast path must skip,
/// or leave to serde, on a line it would otherwise accept.
fn good_line_and_more() -> impl Strategy<Value = String> {
    let member =
        (key(), json_value(), gap()).prop_map(|(k, v, g)| format!("{g}\"{k}\"{g}:{g}{v}{g}"));
    (
        good_line(),
        prop::collection::vec(member, 1..4),
        prop::bool::ANY,
    )
        .prop_map(|(line, more, front)| {
            let body = &line[1..line.len() - 1];
            let more = more.join(",");
            if front {
                format!("{{{more},{body}}}")
            } else {
                format!("{{{body},{more}}}")
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(3000), ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_the_reference_on_good_lines_and_more(text in good_line_and_more()) {
        agrees(&text, 5)?;
    }

    #[test]
    fn agrees_with_the_reference_on_event_like_lines(text in event_like_line(), line in 1u64..1000) {
        agrees(&text, line)?;
    }

    #[test]
    fn agrees_with_the_reference_on_good_lines(text in good_line()) {
        agrees(&text, 3)?;
    }

    #[test]
    fn agrees_with_the_reference_on_arbitrary_text(text in ".{0,120}") {
        agrees(&text, 1)?;
    }
}

/// `parse_line`, and its serde path on its own (which the fast path
/// hides on most good lines), both give what the reference gives.
fn agrees(text: &str, line: u64) -> Result<(), TestCaseError> {
    let expected = reference::parse_line(text, line);
    prop_assert_eq!(&parse_line(text, line), &expected, "{}", text);
    prop_assert_eq!(&parse_with_serde(text, line), &expected, "{}", text);
    Ok(())
}

#[test]
fn lines_that_once_told_the_parsers_apart_agree() {
    // Counterexamples the properties found while the fast paths were
    // written, to real slips (an empty outcome, the end of jiff's range)
    // and to checks broken on purpose to see the properties notice (an
    // escape, a leading zero, a duplicate field).
    for text in [
        r#"{"timestamp":"\u0000"}"#,
        r#"{"user":"_","action":"\\","resource":"0","timestamp":0}"#,
        r#"{"user":"A","action":"_","resource":"_","outcome":"","timestamp":0}"#,
        r#"{"user":"0","action":"a","resource":"a","timestamp":0,"rows":00}"#,
        r#"{"user":"a","action":"-","resource":"-","timestamp":0,"timestamp":0}"#,
        r#"["9999-12-31T23:59:59.999Z",null,null,null,null,null,null,null,null]"#,
    ] {
        agrees(text, 2).unwrap();
    }
}

#[test]
fn good_lines_mostly_parse() {
    // The good-line generator must actually reach the success path, or
    // its property would compare error messages only.
    // Most should take the fast path too, or the properties would test
    // the serde path twice over.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut ok, mut fast) = (0, 0);
    for _ in 0..500 {
        let text = good_line().new_tree(&mut runner).unwrap().current();
        ok += usize::from(parse_line(&text, 1).is_ok());
        fast += usize::from(plain::parse(&text).is_some());
    }
    assert!(ok > 250, "only {ok} of 500 generated good lines parsed");
    assert!(
        fast > 150,
        "only {fast} of 500 generated good lines took the fast path"
    );
}

/// Timestamps near the form `utc_timestamp_ms` reads: every field
/// in and just out of range, other separators and zones, fractions of
/// every length, occasionally without zero padding.
fn near_rfc3339() -> impl Strategy<Value = String> {
    let year = prop_oneof![
        1960i64..2040,
        0i64..=9999,
        prop::sample::select(vec![1969, 1970, 2000, 2100, 9999])
    ];
    let parts = (year, 0i64..=13, 0i64..=32, 0i64..=25, 0i64..=61, 0i64..=61);
    let separator = prop::sample::select(vec!["T", "T", "T", "t", " ", "_"]);
    let fraction = prop::option::of("[0-9]{0,11}");
    let zone = prop::sample::select(vec!["Z", "Z", "Z", "z", "+00:00", "-05:30", "", "Z ", "ZZ"]);
    (parts, separator, fraction, zone, prop::bool::weighted(0.05)).prop_map(
        |((y, mo, d, h, mi, se), t, fraction, zone, unpadded)| {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            if unpadded {
                format!("{y}-{mo}-{d}{t}{h}:{mi}:{se}{fraction}{zone}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{se:02}{fraction}{zone}")
            }
        },
    )
}

/// 9999-01-01T00:00:00Z: jiff formats times up to its last day only.
const FIRST_MS_OF_9999: i64 = 253_370_764_800_000;

#[test]
fn year_9999_is_accepted_to_its_end() {
    assert_eq!(
        parse_timestamp_text("9998-12-31T23:59:59.999Z").ok(),
        Some(FIRST_MS_OF_9999 - 1)
    );
    assert_eq!(
        parse_timestamp_text("9999-01-01T00:00:00Z").ok(),
        Some(FIRST_MS_OF_9999)
    );
    // Past jiff's last timestamp (late on 9999-12-30), any offset.
    for (text, ms) in [
        ("9999-12-31T23:59:59Z", MAX_TIME_MS - 999),
        ("9999-12-31T23:59:59.999Z", MAX_TIME_MS),
        ("9999-12-31T23:59:59.999+00:00", MAX_TIME_MS),
        ("9999-12-31T20:59:59.999-03:00", MAX_TIME_MS),
        ("9999-12-31t23:59:59.999z", MAX_TIME_MS),
        ("9999-12-31T23:00:00-02:00", MAX_TIME_MS + 3_600_001),
    ] {
        assert_eq!(parse_timestamp_text(text), Ok(ms), "{text}");
        assert_eq!(
            parse_timestamp_text(text),
            reference::parse_timestamp_text(text)
        );
    }
    let e = parse_line(
        r#"{"timestamp":"9999-12-31T23:59:59Z","user":"a","action":"s","resource":"t"}"#,
        1,
    )
    .unwrap();
    assert_eq!(e.time_ms, MAX_TIME_MS - 999);
    let e = parse_line(
        r#"{"timestamp":"9999-12-31T23:00:00-02:00","user":"a","action":"s","resource":"t"}"#,
        4,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("timestamp"));
    assert!(e.message.contains("outside the accepted range"), "{e:?}");
    assert!(parse_timestamp_text("9999-12-32T00:00:00Z").is_err());
    assert!(parse_timestamp_text("9999-12-31T23:59:59").is_err());
}

#[test]
fn a_count_past_u64_is_an_error_naming_line_and_field() {
    for rows in [
        "18446744073709551616",
        "18446744073709551616.0",
        "1.8446744073709552e19",
    ] {
        let text =
            format!(r#"{{"timestamp":1,"user":"a","action":"s","resource":"t","rows":{rows}}}"#);
        let e = parse_line(&text, 7).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (7, Some("rows")), "{rows}");
        assert!(
            e.message
                .contains("whole number from 0 to 18446744073709551615"),
            "{e:?}"
        );
    }
    let max =
        r#"{"timestamp":1,"user":"a","action":"s","resource":"t","bytes":18446744073709551615}"#;
    assert_eq!(parse_line(max, 1).unwrap().bytes, Some(u64::MAX));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(5000), ..ProptestConfig::default() })]

    #[test]
    fn timestamps_agree_with_the_reference(text in near_rfc3339()) {
        prop_assert_eq!(parse_timestamp_text(&text), reference::parse_timestamp_text(&text), "{}", text);
    }

    #[test]
    fn formatted_times_round_trip(ms in MIN_TIME_MS..FIRST_MS_OF_9999) {
        prop_assert_eq!(parse_timestamp_text(&format_time(ms)).ok(), Some(ms));
    }
}
