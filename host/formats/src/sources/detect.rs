//! `--format auto`: tell the input format from its first lines.
//!
//! Rules, applied to each non-blank line until one decides:
//!
//! | the line | format |
//! |---|---|
//! | a JSON object with `audit_record`, or with `class` + `event` + `timestamp` (audit_log_filter) | `mysql` |
//! | a JSON object with `class_uid` | `ocsf` |
//! | a JSON object with `@timestamp` | `ecs` |
//! | a JSON object with top-level `timestamp` and `user` | `jsonl` (native) |
//! | contains `CEF:<digit>\|` | `cef` |
//! | contains `LEEF:1.0\|` or `LEEF:2.0\|` | `leef` |
//! | contains `AUDIT: SESSION,` or `AUDIT: OBJECT,`, starting with a time followed by `,` | `pgaudit-csv` |
//! | contains `AUDIT: SESSION,` or `AUDIT: OBJECT,` otherwise | `pgaudit` |
//!
//! A JSON object behind a syslog header counts as the object
//! ([`super::syslog`]).
//!
//! A first line that matches none of these but reads as a CSV header naming
//! every column an event needs (by `[formats.mapping]`, the usual names,
//! or `[formats.csv.fixed]`, with `[formats.csv]`'s delimiter) is `csv`:
//! a header is only ever the first line.
//!
//! A line matching two rules is ambiguous, an error asking for `--format`.
//! Other lines (PostgreSQL log lines that are not audit records, `[` of a
//! JSON array, a pretty-printed record's inner lines, malformed lines) do
//! not decide; after [`MAX_UNDECIDED`] of them, or at the end of the input,
//! the format is unknown, an error asking for `--format`. Lines read while
//! deciding are replayed into the chosen parser, so none is lost.

use std::collections::{HashMap, HashSet};

use serde::de::IgnoredAny;
use serde_json::Value;

use super::{FormatError, FormatsConfig, InputFormat, LineParser, clip, parser_for};
use crate::input::Parsed;

/// Non-blank lines read without a decision before giving up.
pub const MAX_UNDECIDED: usize = 64;

/// What one line says about the format: `Ok(None)` when it does not decide.
pub fn classify(line: &str) -> Result<Option<InputFormat>, (InputFormat, InputFormat)> {
    let t = super::syslog::json_payload(line).unwrap_or(line.trim());
    let mut found: Vec<InputFormat> = Vec::new();
    if t.starts_with('{') {
        let body = t.strip_suffix(',').unwrap_or(t);
        // The keys decide. A value serde_json cannot hold (a number past
        // f64, a lone surrogate) must not hide them: the format's parser
        // then names the field, where an undecided input could only say
        // "pass --format".
        let keys: Option<HashSet<String>> = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(o)) => Some(o.into_iter().map(|(k, _)| k).collect()),
            Ok(_) => None,
            Err(_) => serde_json::from_str::<HashMap<String, IgnoredAny>>(body)
                .ok()
                .map(|o| o.into_keys().collect()),
        };
        match keys {
            Some(o) => {
                if o.contains("audit_record")
                    || (o.contains("class") && o.contains("event") && o.contains("timestamp"))
                {
                    found.push(InputFormat::Mysql);
                }
                if o.contains("class_uid") {
                    found.push(InputFormat::Ocsf);
                }
                if o.contains("@timestamp") {
                    found.push(InputFormat::Ecs);
                }
                if o.contains("timestamp") && o.contains("user") && !o.contains("audit_record") {
                    found.push(InputFormat::Jsonl);
                }
            }
            None => {
                if t.contains("\"audit_record\"") || t.contains("\"general_data\"") {
                    found.push(InputFormat::Mysql);
                }
            }
        }
    } else if t.contains("\"audit_record\"") || t.contains("\"general_data\"") {
        found.push(InputFormat::Mysql);
    }
    if let Some(i) = t.find("CEF:") {
        let b = &t.as_bytes()[i + 4..];
        if b.first().is_some_and(u8::is_ascii_digit) && b.get(1) == Some(&b'|') {
            found.push(InputFormat::Cef);
        }
    }
    if t.contains("LEEF:1.0|") || t.contains("LEEF:2.0|") {
        found.push(InputFormat::Leef);
    }
    if t.contains("AUDIT: SESSION,") || t.contains("AUDIT: OBJECT,") {
        found.push(if csvlog_start(t) {
            InputFormat::PgauditCsv
        } else {
            InputFormat::Pgaudit
        });
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        [a, b, ..] => Err((*a, *b)),
    }
}

/// Whether a line starts like a csvlog record: a PostgreSQL time then `,`.
fn csvlog_start(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() > 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b' '
        && t.find(',').is_some_and(|i| {
            let head = &t[..i];
            i >= 19 && !head.contains('"') && !head.contains('[')
        })
}

/// Reads lines until one decides the format, then hands everything to
/// that format's parser.
pub struct AutoParser {
    cfg: FormatsConfig,
    held: Vec<(u64, String)>,
    undecided: usize,
    inner: Option<Box<dyn LineParser>>,
}

impl AutoParser {
    /// A detector building the chosen parser from `cfg`.
    pub fn new(cfg: FormatsConfig) -> Self {
        AutoParser {
            cfg,
            held: Vec::new(),
            undecided: 0,
            inner: None,
        }
    }

    fn unknown(&self) -> FormatError {
        let (line, text) = self
            .held
            .iter()
            .find(|(_, t)| !t.trim().is_empty())
            .map(|(n, t)| (*n, clip(t.trim())))
            .unwrap_or((0, String::new()));
        FormatError::Unknown {
            line,
            excerpt: text,
        }
    }

    fn decide(&mut self, format: InputFormat, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        let mut inner = parser_for(format, &self.cfg)?;
        for (n, t) in std::mem::take(&mut self.held) {
            inner.feed(&t, n, out)?;
        }
        self.inner = Some(inner);
        Ok(())
    }
}

impl LineParser for AutoParser {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        if let Some(inner) = &mut self.inner {
            return inner.feed(text, line, out);
        }
        self.held.push((line, text.to_string()));
        if text.trim().is_empty() {
            return Ok(());
        }
        let first = self.undecided == 0;
        match classify(text) {
            Ok(Some(format)) => self.decide(format, out),
            Ok(None)
                if first
                    && super::csv::CsvParser::reads_header(
                        self.cfg.mapping.clone(),
                        &self.cfg.csv,
                        text,
                    ) =>
            {
                self.decide(InputFormat::Csv, out)
            }
            Ok(None) => {
                self.undecided += 1;
                if self.undecided >= MAX_UNDECIDED {
                    Err(self.unknown())
                } else {
                    Ok(())
                }
            }
            Err((first, second)) => Err(FormatError::Ambiguous {
                line,
                first: first.name(),
                second: second.name(),
            }),
        }
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        match &mut self.inner {
            Some(inner) => inner.finish(out),
            None if self.undecided == 0 => Ok(()),
            None => Err(self.unknown()),
        }
    }

    fn skipped(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.skipped())
    }

    fn pending_line(&self) -> Option<u64> {
        match &self.inner {
            Some(inner) => inner.pending_line(),
            None => self.held.first().map(|(line, _)| *line),
        }
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
