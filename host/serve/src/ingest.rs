//! Turning request bodies into events with the same parsers `ueba score` uses.
//!
//! `POST /v1/events` takes newline-delimited records in any `--format`
//! (native JSON lines by default detection), or a JSON array whose elements
//! are event objects or record strings. The Splunk HEC endpoint takes one
//! or more concatenated `{"event": ...}` envelopes whose `event` is an
//! event object or a record string. Every record goes through one
//! [`LineParser`] made fresh for the request, so `auto` decides per request
//! and multi-line formats work within a body.
//!
//! A request is accepted whole or not at all: limits (line size) and
//! envelope errors refuse it before anything is queued, while records that
//! parse but are not valid events are counted as invalid, reported with
//! their position, and the rest is accepted, exactly as `--skip-invalid`.

use serde::Serialize;
use serde_json::value::RawValue;

use ueba_engine::event::{AccessEvent, ParseError};
use ueba_formats::input::Parsed;
use ueba_formats::sources::{FormatError, FormatsConfig, InputFormat, LineParser, parser_for};

/// Errors shown in a response, at most.
pub const ERRORS_SHOWN: usize = 5;

/// The events of one request and what could not be used.
#[derive(Debug, Default)]
pub struct Batch {
    /// Valid events, in body order.
    pub events: Vec<AccessEvent>,
    /// Records that were not valid events.
    pub invalid: u64,
    /// The first [`ERRORS_SHOWN`] of them.
    pub errors: Vec<RecordError>,
    /// Well-formed records that are not data access (connects, other log
    /// lines), skipped as `ueba score` skips them.
    pub skipped: u64,
}

/// Where in a body a record was, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// A line of a newline-delimited body (1-based).
    Line,
    /// An element of a JSON array or a HEC envelope (1-based).
    Event,
}

/// One invalid record, as reported to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordError {
    /// Whether `position` counts lines or events.
    pub unit: Unit,
    /// 1-based position in the body.
    pub position: u64,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.unit {
            Unit::Line => "line",
            Unit::Event => "event",
        };
        write!(f, "{unit} {}: ", self.position)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a whole request was refused; nothing of it was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// A line or an event is longer than `serve.max_line_bytes`.
    #[error("{unit} {position} is {len} bytes, more than serve.max_line_bytes ({max})")]
    RecordTooLarge {
        /// `line` or `event`.
        unit: &'static str,
        /// 1-based position.
        position: u64,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body held no records.
    #[error("no data: the body holds no events")]
    NoData,
    /// The body starts like a JSON array but is not one.
    #[error("the body is not a valid JSON array: {0}")]
    BadArray(String),
    /// A HEC envelope is not valid JSON, or its `time` is not epoch seconds
    /// (`event` is 1-based).
    #[error("invalid data format: event {event}: {message}")]
    HecFormat {
        /// 1-based envelope number.
        event: u64,
        /// serde_json's message.
        message: String,
    },
    /// A HEC envelope has no `event` field.
    #[error("event field is required: event {event}")]
    HecEventMissing {
        /// 1-based envelope number.
        event: u64,
    },
    /// A HEC envelope's `event` is empty or blank.
    #[error("event field cannot be blank: event {event}")]
    HecEventBlank {
        /// 1-based envelope number.
        event: u64,
    },
    /// The records' format could not be determined or set up.
    #[error("{0}")]
    Format(#[from] FormatError),
}

/// Gathers a parser's output for one request.
struct Collector {
    parser: Box<dyn LineParser>,
    out: Vec<Parsed>,
    batch: Batch,
    unit: Unit,
}

impl Collector {
    fn new(format: InputFormat, formats: &FormatsConfig, unit: Unit) -> Result<Self, IngestError> {
        Ok(Collector {
            parser: parser_for(format, formats)?,
            out: Vec::new(),
            batch: Batch::default(),
            unit,
        })
    }

    fn feed(&mut self, text: &str, position: u64) -> Result<(), IngestError> {
        self.parser.feed(text, position, &mut self.out)?;
        self.drain();
        Ok(())
    }

    fn invalid(&mut self, e: ParseError) {
        self.batch.invalid += 1;
        if self.batch.errors.len() < ERRORS_SHOWN {
            self.batch.errors.push(RecordError {
                unit: self.unit,
                position: e.line,
                field: e.field,
                message: e.message,
            });
        }
    }

    fn drain(&mut self) {
        for parsed in std::mem::take(&mut self.out) {
            match parsed {
                Ok(ev) => self.batch.events.push(ev),
                Err(e) => self.invalid(e),
            }
        }
    }

    fn finish(mut self) -> Result<Batch, IngestError> {
        self.parser.finish(&mut self.out)?;
        self.drain();
        self.batch.skipped = self.parser.skipped();
        if self.batch.events.is_empty() && self.batch.invalid == 0 && self.batch.skipped == 0 {
            return Err(IngestError::NoData);
        }
        Ok(self.batch)
    }
}

/// Parse a `POST /v1/events` body: a JSON array when it starts with `[`,
/// else newline-delimited records in `format`.
pub fn events_body(
    body: &[u8],
    format: InputFormat,
    formats: &FormatsConfig,
    max_line: usize,
) -> Result<Batch, IngestError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        None => Err(IngestError::NoData),
        Some(b'[') => array_body(body, format, formats, max_line),
        Some(_) => lines_body(body, format, formats, max_line),
    }
}

fn lines_body(
    body: &[u8],
    format: InputFormat,
    formats: &FormatsConfig,
    max_line: usize,
) -> Result<Batch, IngestError> {
    let mut c = Collector::new(format, formats, Unit::Line)?;
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > max_line {
            return Err(IngestError::RecordTooLarge {
                unit: "line",
                position: line,
                len: raw.len(),
                max: max_line,
            });
        }
        match std::str::from_utf8(raw) {
            Ok(text) => c.feed(text, line)?,
            Err(e) => c.invalid(ParseError {
                line,
                field: None,
                message: format!("not valid UTF-8 (byte {})", e.valid_up_to()),
            }),
        }
    }
    c.finish()
}

fn array_body(
    body: &[u8],
    format: InputFormat,
    formats: &FormatsConfig,
    max_line: usize,
) -> Result<Batch, IngestError> {
    let elements: Vec<&RawValue> =
        serde_json::from_slice(body).map_err(|e| IngestError::BadArray(e.to_string()))?;
    let mut c = Collector::new(format, formats, Unit::Event)?;
    for (i, raw) in elements.into_iter().enumerate() {
        feed_value(&mut c, raw, None, i as u64 + 1, max_line)?;
    }
    c.finish()
}

/// Feed one JSON value as a record: a string is the record's text (a CEF
/// line, say), anything else its JSON. `time_ms` fills in a native event's
/// missing `timestamp` (HEC's envelope `time`).
fn feed_value(
    c: &mut Collector,
    raw: &RawValue,
    time_ms: Option<i64>,
    position: u64,
    max_line: usize,
) -> Result<(), IngestError> {
    let too_large = |len: usize| IngestError::RecordTooLarge {
        unit: "event",
        position,
        len,
        max: max_line,
    };
    let text = raw.get();
    if text.len() > max_line {
        return Err(too_large(text.len()));
    }
    if text.starts_with('"') {
        match serde_json::from_str::<String>(text) {
            Ok(s) => c.feed(&s, position),
            Err(e) => {
                c.invalid(ParseError {
                    line: position,
                    field: None,
                    message: e.to_string(),
                });
                Ok(())
            }
        }
    } else if let Some(filled) = time_ms.and_then(|ms| with_timestamp(text, ms)) {
        c.feed(&filled, position)
    } else {
        c.feed(text, position)
    }
}

/// `text` with `"timestamp": ms` added, when it is a native-looking event
/// object (it has `user`) without a `timestamp` of its own.
fn with_timestamp(text: &str, ms: i64) -> Option<String> {
    let mut obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    if obj.contains_key("timestamp") || !obj.contains_key("user") {
        return None;
    }
    obj.insert("timestamp".into(), ms.into());
    serde_json::to_string(&obj).ok()
}

/// One HEC envelope; fields other than `event` and `time` (`host`,
/// `source`, `sourcetype`, `index`, `fields`) are accepted and not used.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    time: Option<serde_json::Value>,
}

/// Parse a Splunk HEC `/services/collector/event` body: one or more JSON
/// envelopes, concatenated or whitespace-separated.
pub fn hec_body(
    body: &[u8],
    format: InputFormat,
    formats: &FormatsConfig,
    max_line: usize,
) -> Result<Batch, IngestError> {
    let mut c = Collector::new(format, formats, Unit::Event)?;
    let stream = serde_json::Deserializer::from_slice(body).into_iter::<Envelope>();
    let mut n = 0u64;
    for envelope in stream {
        n += 1;
        let envelope = envelope.map_err(|e| IngestError::HecFormat {
            event: n,
            message: e.to_string(),
        })?;
        let Some(event) = envelope.event else {
            return Err(IngestError::HecEventMissing { event: n });
        };
        let text = event.get().trim();
        let blank_text = || serde_json::from_str::<String>(text).is_ok_and(|s| s.trim().is_empty());
        if text == "null" || text == "{}" || (text.starts_with('"') && blank_text()) {
            return Err(IngestError::HecEventBlank { event: n });
        }
        // A `time` that says nothing usable is refused rather than passed
        // over: the event would then be timed by its own fields or not at
        // all, and the sender would not learn why.
        let time_ms = match &envelope.time {
            Some(t) => Some(hec_time_ms(t).ok_or_else(|| IngestError::HecFormat {
                event: n,
                message: format!(
                    "`time` {}: expected epoch seconds from 1970 to 9999, as a number or a string of one",
                    ueba_engine::event::clip(&t.to_string())
                ),
            })?),
            None => None,
        };
        feed_value(&mut c, event, time_ms, n, max_line)?;
    }
    if n == 0 {
        return Err(IngestError::NoData);
    }
    c.finish()
}

/// HEC's `time`: epoch seconds with optional fraction, a number or a string.
fn hec_time_ms(v: &serde_json::Value) -> Option<i64> {
    let secs = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    let ms = (secs * 1000.0).round();
    (0.0..253_402_300_800_000.0)
        .contains(&ms)
        .then_some(ms as i64)
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
