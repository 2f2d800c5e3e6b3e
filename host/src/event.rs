//! Access events as they come in: the JSON-lines schema and its parser.
//!
//! One event per line:
//! `{"timestamp":"2026-01-05T14:03:11Z","user":"mreyes","action":"select","resource":"support.customers","rows":12}`.
//! `timestamp` is RFC 3339 or integer epoch milliseconds; `user`, `action` and
//! `resource` are required; `rows` (default 1), `bytes`, `source`,
//! `peer_group` and `outcome` are optional. A bad line is an error naming the
//! line and the field, never a panic.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Latest accepted event time: year 9999, so arithmetic on times never overflows.
const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// Earliest accepted event time: year 1970.
const MIN_TIME_MS: i64 = 0;
/// Longest accepted string field, in bytes; longer values are an error rather
/// than memory a hostile log could make us keep forever in the symbol table.
pub const MAX_FIELD_LEN: usize = 1024;

/// Whether an access succeeded, as the log says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// Not stated.
    #[default]
    Unknown,
    /// Succeeded.
    Success,
    /// Failed or was denied.
    Failure,
}

/// One normalised access event, strings still as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEvent {
    /// Event time, milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// Who acted.
    pub user: String,
    /// What was done, e.g. `select`.
    pub action: String,
    /// What was touched, e.g. `support.customers`.
    pub resource: String,
    /// Rows read or written (1 when not stated).
    pub rows: u64,
    /// Bytes transferred, when stated.
    pub bytes: Option<u64>,
    /// IP address or host name, when stated.
    pub source: Option<String>,
    /// Peer group, when stated in the event (the identity file may also give it).
    pub peer_group: Option<String>,
    /// Whether it succeeded.
    pub outcome: Outcome,
}

/// Why a line could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct ParseError {
    /// 1-based line number in the input.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

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
pub fn parse_line(text: &str, line: u64) -> Result<AccessEvent, ParseError> {
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
    let optional_str = |v: Option<&RawValue>, name: &str| -> Result<Option<String>, ParseError> {
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
        user: required(raw.user, "user")?,
        action: required(raw.action, "action")?,
        resource: required(raw.resource, "resource")?,
        rows: optional_u64(raw.rows, "rows")?.unwrap_or(1),
        bytes: optional_u64(raw.bytes, "bytes")?,
        source: optional_str(raw.source, "source")?,
        peer_group: optional_str(raw.peer_group, "peer_group")?,
        outcome,
    })
}

/// Map the many ways logs spell an outcome onto three values.
pub fn parse_outcome(text: &str) -> Option<Outcome> {
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
        if !(0.0..=u64::MAX as f64).contains(&f) || f.fract() != 0.0 {
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
pub fn parse_timestamp_text(s: &str) -> Result<i64, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map_err(|_| format!("`{}` overflows epoch milliseconds", clip(s)));
    }
    let ts: jiff::Timestamp = s
        .parse()
        .map_err(|e| format!("`{}` is not RFC 3339: {e}", clip(s)))?;
    Ok(ts.as_millisecond())
}

/// Format epoch milliseconds as RFC 3339 UTC with milliseconds.
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ms.to_string())
}

/// Shorten text quoted in error messages so a megabyte line does not flood them.
fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
