//! Helpers shared by the JSON formats: dotted-path lookup and typed reads
//! that turn a wrong type into a [`ParseError`] naming the path.

use serde_json::Value;

use super::{At, clip};
use ueba_engine::event::{ParseError, parse_timestamp_text};

/// Deepest object nesting accepted; serde_json's own recursion limit (128)
/// already bounds parsing, this bounds path lookups on it.
const MAX_PATH_SEGMENTS: usize = 16;

/// Parse a line as one JSON object.
pub(crate) fn object(text: &str, e: At) -> Result<Value, ParseError> {
    let v: Value =
        serde_json::from_str(text).map_err(|err| e.line(format!("not a JSON object ({err})")))?;
    if !v.is_object() {
        return Err(e.line("not a JSON object; each line must be one event object"));
    }
    Ok(v)
}

/// The value at a dotted `path`, matching nested objects (`{"user":{"name":..}}`),
/// dotted keys (`{"user.name":..}`) or a mix, and array indexes
/// (`resources.0.name`). JSON `null` counts as absent.
pub(crate) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.split('.').count() > MAX_PATH_SEGMENTS {
        return None;
    }
    lookup(v, path).filter(|x| !x.is_null())
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    match v {
        Value::Object(obj) => {
            if let Some(x) = obj.get(path) {
                return Some(x);
            }
            path.match_indices('.').find_map(|(i, _)| {
                obj.get(&path[..i])
                    .and_then(|inner| lookup(inner, &path[i + 1..]))
            })
        }
        Value::Array(items) => {
            let (head, rest) = path.split_once('.').unwrap_or((path, ""));
            let item = items.get(head.parse::<usize>().ok()?)?;
            if rest.is_empty() {
                Some(item)
            } else {
                lookup(item, rest)
            }
        }
        _ => None,
    }
}

/// The first present path among the mapped one (if any) and the built-ins.
pub(crate) fn first<'a, 'p>(
    v: &'a Value,
    mapped: Option<&'p str>,
    builtins: &[&'p str],
) -> Option<(&'p str, &'a Value)> {
    mapped
        .into_iter()
        .chain(builtins.iter().copied())
        .find_map(|p| get(v, p).map(|x| (p, x)))
}

/// A string (numbers and booleans are accepted as their text).
pub(crate) fn text(v: &Value, e: At, path: &str) -> Result<String, ParseError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(e.field(
            path,
            format!("expected a string, got `{}`", clip(&other.to_string())),
        )),
    }
}

/// A whole number: an integer, a whole float or a string of digits.
pub(crate) fn count(v: &Value, e: At, path: &str) -> Result<u64, ParseError> {
    let bad = || {
        e.field(
            path,
            format!("expected a whole number, got `{}`", clip(&v.to_string())),
        )
    };
    match v {
        // `u64::MAX as f64` rounds up to 2^64, which does not fit: the bound
        // is exclusive, so larger numbers are refused, not saturated.
        Value::Number(n) => n.as_u64().map_or_else(
            || {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..u64::MAX as f64).contains(f))
                    .map(|f| f as u64)
                    .ok_or_else(|| {
                        e.field(
                            path,
                            format!(
                                "expected a whole number from 0 to {}, got `{}`",
                                u64::MAX,
                                clip(&n.to_string())
                            ),
                        )
                    })
            },
            Ok,
        ),
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A time: epoch milliseconds as a number or digits, RFC 3339, or the
/// zone-less forms audit plugins write (taken as UTC).
pub(crate) fn time(v: &Value, e: At, path: &str) -> Result<i64, ParseError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            e.field(
                path,
                format!(
                    "expected epoch milliseconds, got `{}`",
                    clip(&n.to_string())
                ),
            )
        }),
        Value::String(s) => parse_time(s).map_err(|m| e.field(path, m)),
        other => Err(e.field(
            path,
            format!("expected a time, got `{}`", clip(&other.to_string())),
        )),
    }
}

/// Parse a time written as epoch milliseconds, RFC 3339, or a civil time
/// `YYYY-MM-DD[ T]HH:MM:SS[.fff]` with an optional ` UTC` suffix and no
/// offset (MySQL and Percona audit logs write UTC this way).
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = parse_timestamp_text(s) {
        return Ok(ms);
    }
    let civil = s
        .strip_suffix(" UTC")
        .unwrap_or(s)
        .strip_suffix('Z')
        .unwrap_or(s);
    let civil = civil.strip_suffix(" UTC").unwrap_or(civil);
    civil_ms(civil, &jiff::tz::TimeZone::UTC).ok_or_else(|| {
        format!(
            "`{}` is not a time (RFC 3339, `YYYY-MM-DD HH:MM:SS` UTC or epoch ms)",
            clip(s)
        )
    })
}

/// Epoch milliseconds of a civil time `YYYY-MM-DD[ T]HH:MM:SS[.fff]` in
/// `zone`; `None` when it is not one or lies outside jiff's range.
pub(crate) fn civil_ms(s: &str, zone: &jiff::tz::TimeZone) -> Option<i64> {
    zoned_ms(s.parse().ok()?, zone)
}

/// Epoch milliseconds of `dt` in `zone` (the earlier instant of a time a
/// clock change repeats); `None` outside jiff's range.
pub(crate) fn zoned_ms(dt: jiff::civil::DateTime, zone: &jiff::tz::TimeZone) -> Option<i64> {
    dt.to_zoned(zone.clone())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
