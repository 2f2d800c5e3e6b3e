//! The native format: JSON lines in ueba's own schema.
//!
//! One event per line:
//! `{"timestamp":"2026-01-05T14:03:11Z","user":"mreyes","action":"select","resource":"support.customers","rows":12}`.
//! `timestamp` is RFC 3339 or integer epoch milliseconds; `user`, `action` and
//! `resource` are required; `rows` (default 1), `bytes`, `source`,
//! `peer_group` and `outcome` are optional. A bad line is an error naming the
//! line and the field, never a panic.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use ueba_engine::event::{
    AccessEvent, MAX_FIELD_LEN, MAX_TIME_MS, MIN_TIME_MS, Outcome, ParseError, Text, clip,
    parse_outcome, parse_timestamp_text,
};

mod plain;
mod write;

pub use write::to_line;

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
///
/// A line of the usual shape (a flat object without escapes, good values)
/// is read directly in one scan; any other line, good or bad, is read by
/// serde_json, which defines what is accepted and what each error says.
pub fn parse_line(text: &str, line: u64) -> Result<AccessEvent, ParseError> {
    match plain::parse(text) {
        Some(event) => Ok(event),
        None => parse_with_serde(text, line),
    }
}

/// [`parse_line`] for any line, by serde_json.
///
/// serde_json reads the line once, keeping each known field as the slice of
/// the line that holds it; the fields are then read from those slices without
/// copying (strings without escapes are borrowed), so the only allocations on
/// a good line are the event's own strings. Keeping the slices, rather than
/// typed values, is what lets a wrong value be quoted exactly as written.
fn parse_with_serde(text: &str, line: u64) -> Result<AccessEvent, ParseError> {
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
    let at = |name: &'static str| move |message: String| err(Some(name), message);
    let time_ms = match raw.timestamp {
        None => return Err(err(Some("timestamp"), "missing".into())),
        Some(v) => timestamp_field(v).map_err(at("timestamp"))?,
    };
    let outcome = match optional(raw.outcome, string_field).map_err(at("outcome"))? {
        None => Outcome::Unknown,
        Some(o) => parse_outcome(&o).ok_or_else(|| {
            err(
                Some("outcome"),
                format!("`{o}` is not one of success, failure, unknown"),
            )
        })?,
    };
    let required = |v: Option<&RawValue>, name: &'static str| -> Result<Text, ParseError> {
        let v = v.ok_or_else(|| err(Some(name), "missing".into()))?;
        string_field(v).map(Text::from).map_err(at(name))
    };
    let owned = |v: Option<&RawValue>, name: &'static str| {
        optional(v, string_field)
            .map(|s| s.map(Text::from))
            .map_err(at(name))
    };
    Ok(AccessEvent {
        time_ms,
        user: required(raw.user, "user")?,
        action: required(raw.action, "action")?,
        resource: required(raw.resource, "resource")?,
        rows: optional(raw.rows, u64_field)
            .map_err(at("rows"))?
            .unwrap_or(1),
        bytes: optional(raw.bytes, u64_field).map_err(at("bytes"))?,
        source: owned(raw.source, "source")?,
        peer_group: owned(raw.peer_group, "peer_group")?,
        outcome,
    })
}

/// An optional field read with `read`; absent or `null` is `None`.
fn optional<'a, T>(
    v: Option<&'a RawValue>,
    read: impl FnOnce(&'a RawValue) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match v {
        None => Ok(None),
        Some(v) if v.get() == "null" => Ok(None),
        Some(v) => read(v).map(Some),
    }
}

/// The text of `raw` if it is a JSON string, else `None`: what
/// `serde_json::from_str::<String>` returns for it, but borrowed from the
/// line when the string has no escapes, which is nearly always. serde_json
/// has already checked `raw` (a string in it is quoted, with no raw control
/// characters or quotes inside), so only a backslash needs decoding.
fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.as_bytes().contains(&b'\\') => Some(Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

fn string_field(v: &RawValue) -> Result<Cow<'_, str>, String> {
    let s = json_str(v).ok_or_else(|| format!("expected a string, got `{}`", clip(v.get())))?;
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
    let n = if let Some(s) = json_str(v) {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("expected a whole number, got `{}`", clip(text)))?
    } else {
        let f: f64 = text
            .parse()
            .map_err(|_| format!("expected a whole number, got `{}`", clip(text)))?;
        // `u64::MAX as f64` rounds up to 2^64, which does not fit: the
        // bound is exclusive, so 18446744073709551616 is refused, not
        // saturated.
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
    } else if let Some(s) = json_str(v) {
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

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
