//! Delimited text with a header row: the shape most exports, data sets and
//! spreadsheet-made logs take (`date,user,pc,activity`).
//!
//! The first non-blank line names the columns. Each event field is read
//! from the column `[formats.mapping]` names, else from the first column
//! with one of its usual names below (compared without case), else from
//! `[formats.csv.fixed]`, a value for every line (a removable-media log
//! that names only the machine: `resource = "removable-media"`). The
//! header must give time, user, action and resource one way or another;
//! a mapped column the header lacks stops the run at the header, naming
//! the columns it has.
//!
//! | event field | usual column names |
//! |---|---|
//! | time | `timestamp`, `time`, `date`, `datetime`, `@timestamp` |
//! | user | `user`, `username`, `user_name` |
//! | action | `action`, `activity`, `event` |
//! | resource | `resource`, `object`, `table` |
//! | rows | `rows` |
//! | bytes | `bytes` |
//! | source | `source`, `source_ip`, `src`, `host` |
//! | outcome | `outcome`, `status` |
//!
//! Fields follow RFC 4180: a field in double quotes may hold the
//! delimiter, doubled quotes and line breaks (a record then continues on
//! the next lines). The delimiter is `[formats.csv] delimiter` (`,`); a
//! header that is one column by it but reads by `;`, a tab or `|` is read
//! by that one, with a warning.
//! Times are RFC 3339, epoch milliseconds or `YYYY-MM-DD HH:MM:SS[.fff]`;
//! `[formats.csv] time_format` (a `strftime` format such as
//! `%m/%d/%Y %H:%M:%S`) is tried first when set. Times without an offset
//! are in `[formats.csv] time_zone` (UTC). A line whose number of fields
//! differs from the header's is an error naming the line; an empty rows,
//! bytes, source or outcome field is as if the column were absent.
//!
//! A resumed run (`--state`) starts reading after the header: the
//! caller feeds the file's first line again first (see
//! [`LineParser::needs_header`]).

use jiff::tz::TimeZone;
use ueba_engine::config::CsvConfig;
use ueba_engine::event::{AccessEvent, ParseError, parse_timestamp_text};

use super::json::{civil_ms, zoned_ms};
use super::{
    At, Draft, FieldMapping, FormatError, LineParser, Replay, clip, outcome_of, parse_u64,
};
use crate::input::Parsed;

/// Most bytes of one record spanning several lines (a quoted field left
/// open): past it the record is refused rather than held in memory.
const MAX_RECORD: usize = 1 << 20;

/// Delimiters tried, in order, on a header that is one column by the one
/// configured.
const SNIFFED: [char; 3] = [';', '\t', '|'];

/// The event fields, in [`Columns`] order, with their usual column names,
/// the first found deciding. A resource is what was touched: a table, else
/// a file or URL, else the machine logged on to (a logon export's `pc`),
/// so a file-access export whose lines also name the machine reads the
/// file.
const FIELDS: [(&str, &[&str]); 8] = [
    (
        "time",
        &["timestamp", "time", "date", "datetime", "@timestamp"],
    ),
    ("user", &["user", "username", "user_name"]),
    ("action", &["action", "activity", "event"]),
    (
        "resource",
        &[
            "resource", "object", "table", "filename", "file", "path", "url", "pc", "computer",
            "hostname",
        ],
    ),
    ("rows", &["rows"]),
    ("bytes", &["bytes"]),
    ("source", &["source", "source_ip", "src", "host"]),
    ("outcome", &["outcome", "status"]),
];

/// Where each event field comes from, in [`FIELDS`] order.
#[derive(Clone, Debug)]
struct Columns {
    /// Per field: its column's index and name, or `None`.
    at: [Option<(usize, String)>; 8],
    /// How many fields a record has.
    width: usize,
}

/// Parses delimited files with a header row.
pub struct CsvParser {
    delimiter: char,
    time_format: Option<String>,
    zone: TimeZone,
    /// Per field, in [`FIELDS`] order: the column `[formats.mapping]`
    /// names for it, and the value `[formats.csv.fixed]` gives it.
    mapped: [Option<String>; 8],
    fixed: [Option<String>; 8],
    columns: Option<Columns>,
    /// A record still open (a quoted field spanning lines): its first line
    /// and text so far.
    pending: Option<(u64, String)>,
    /// Lines of a record given up, to read again ([`Replay`]).
    replay: Replay,
}

fn by_field(m: &FieldMapping) -> [Option<String>; 8] {
    [
        m.time.clone(),
        m.user.clone(),
        m.action.clone(),
        m.resource.clone(),
        m.rows.clone(),
        m.bytes.clone(),
        m.source.clone(),
        m.outcome.clone(),
    ]
}

impl CsvParser {
    /// A parser reading columns by `mapping`, with `cfg`'s delimiter, time
    /// format, zone and fixed values. A bad delimiter or zone is refused
    /// here, before any line is read.
    pub fn new(mapping: FieldMapping, cfg: &CsvConfig) -> Result<Self, FormatError> {
        let delimiter = match cfg.delimiter.as_str() {
            "\\t" | "tab" => '\t',
            d => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => c,
                    _ => {
                        return Err(FormatError::Csv(format!(
                            "formats.csv.delimiter: `{}` is not one ASCII character other than a quote or line break",
                            clip(d)
                        )));
                    }
                }
            }
        };
        let zone = TimeZone::get(&cfg.time_zone).map_err(|_| {
            FormatError::Csv(format!(
                "formats.csv.time_zone: `{}` is not an IANA time zone",
                clip(&cfg.time_zone)
            ))
        })?;
        Ok(CsvParser {
            delimiter,
            time_format: cfg.time_format.clone(),
            zone,
            mapped: by_field(&mapping),
            fixed: by_field(&cfg.fixed),
            columns: None,
            pending: None,
            replay: Replay::default(),
        })
    }

    /// Whether `text` is a header this parser can read events by: it names
    /// (or `[formats.csv.fixed]` supplies) every column an event needs.
    /// `--format auto` takes such a first line as CSV.
    pub(crate) fn reads_header(mapping: FieldMapping, cfg: &CsvConfig, text: &str) -> bool {
        CsvParser::new(mapping, cfg).is_ok_and(|mut p| p.header(text).is_ok())
    }

    /// Learn the columns from the header line `text`. A header that is
    /// one column by the delimiter but reads by `;`, a tab or `|` (a
    /// spreadsheet's export where the decimal mark is a comma, a TSV) is
    /// read by that one, which is returned (the caller says so).
    fn header(&mut self, text: &str) -> Result<Option<char>, FormatError> {
        let first = self.header_by(text);
        if first.is_err() && split(text, self.delimiter).len() == 1 {
            let configured = self.delimiter;
            for d in SNIFFED {
                self.delimiter = d;
                if self.header_by(text).is_ok() {
                    return Ok(Some(d));
                }
            }
            self.delimiter = configured;
        }
        first.map(|()| None)
    }

    /// Learn the columns from the header line `text`, split by the
    /// parser's delimiter.
    fn header_by(&mut self, text: &str) -> Result<(), FormatError> {
        let names: Vec<String> = split(text, self.delimiter)
            .into_iter()
            .map(|n| n.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let find = |want: &str| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(want))
                .map(|i| (i, names[i].clone()))
        };
        let mut at: [Option<(usize, String)>; 8] = Default::default();
        for (i, (field, usual)) in FIELDS.iter().enumerate() {
            at[i] = match &self.mapped[i] {
                Some(col) => Some(find(col).ok_or_else(|| {
                    FormatError::Csv(format!(
                        "formats.mapping.{field}: column `{}` is not in the header (columns: {})",
                        clip(col),
                        clip(&names.join(", "))
                    ))
                })?),
                None => usual.iter().find_map(|u| find(u)),
            };
            if i < 4 && at[i].is_none() && self.fixed[i].is_none() {
                return Err(FormatError::Csv(format!(
                    "the header names no {field} column (looked for {}; columns: {}); name it in [formats.mapping] {field} or give a value in [formats.csv.fixed]",
                    usual.join(", "),
                    clip(&names.join(", "))
                )));
            }
        }
        self.columns = Some(Columns {
            at,
            width: names.len(),
        });
        Ok(())
    }

    /// Parse one complete record that began on line `n`.
    fn record(&self, columns: &Columns, text: &str, n: u64) -> Result<AccessEvent, ParseError> {
        let e = At { line: n };
        let values = split(text, self.delimiter);
        if values.len() != columns.width {
            return Err(e.line(format!(
                "{} fields where the header has {}",
                values.len(),
                columns.width
            )));
        }
        let value = |i: usize| -> Option<(&str, &str)> {
            match &columns.at[i] {
                Some((c, name)) => Some((values[*c].as_str(), name.as_str())),
                None => self.fixed[i].as_deref().map(|v| (v, FIELDS[i].0)),
            }
        };
        let present = |i: usize| value(i).filter(|(v, _)| !v.trim().is_empty());
        let name = |i: usize| value(i).map_or(FIELDS[i].0, |(_, n)| n);
        let time_ms = match value(0) {
            Some((v, col)) => Some(self.time(v).map_err(|m| e.field(col, m))?),
            None => None,
        };
        let text_of = |i: usize| value(i).map(|(v, _)| v.trim().to_string());
        let d = Draft {
            time_ms,
            user: text_of(1),
            action: text_of(2),
            resource: text_of(3),
            rows: present(4).map(|(v, c)| parse_u64(v, e, c)).transpose()?,
            bytes: present(5).map(|(v, c)| parse_u64(v, e, c)).transpose()?,
            source: present(6).map(|(v, _)| v.trim().to_string()),
            outcome: present(7)
                .map(|(v, c)| outcome_of(v, e, c))
                .transpose()?
                .unwrap_or_default(),
        };
        d.build(e, [name(0), name(1), name(2), name(3)])
    }

    /// Epoch milliseconds of a time field.
    fn time(&self, v: &str) -> Result<i64, String> {
        let v = v.trim();
        if let Some(format) = &self.time_format
            && let Ok(parts) = jiff::fmt::strtime::parse(format, v)
        {
            if parts.offset().is_some() {
                return parts
                    .to_timestamp()
                    .map(|t| t.as_millisecond())
                    .map_err(|err| format!("`{}`: {err}", clip(v)));
            }
            return parts
                .to_datetime()
                .map_err(|err| format!("`{}`: {err}", clip(v)))
                .and_then(|dt| {
                    zoned_ms(dt, &self.zone).ok_or_else(|| format!("`{}` is out of range", clip(v)))
                });
        }
        if let Ok(ms) = parse_timestamp_text(v) {
            return Ok(ms);
        }
        civil_ms(v, &self.zone).ok_or_else(|| match &self.time_format {
                Some(f) => format!(
                    "`{}` matches neither formats.csv.time_format `{}` nor RFC 3339, epoch ms or `YYYY-MM-DD HH:MM:SS`",
                    clip(v),
                    clip(f)
                ),
                None => format!(
                    "`{}` is not a time (RFC 3339, epoch ms or `YYYY-MM-DD HH:MM:SS`); set formats.csv.time_format for other forms",
                    clip(v)
                ),
            })
    }

    /// Parse the record held in `pending`, now complete.
    fn flush(&mut self, out: &mut Vec<Parsed>) {
        if let (Some((line, text)), Some(columns)) = (self.pending.take(), &self.columns) {
            out.push(self.record(columns, &text, line));
        }
    }
}

/// Whether `text` leaves a quoted field open (RFC 4180: quotes are
/// doubled inside one, so an odd count leaves it open); PostgreSQL's
/// csvlog records too.
pub(crate) fn open_quote(text: &str) -> bool {
    text.bytes().filter(|&b| b == b'"').count() % 2 == 1
}

/// Split one record into fields (RFC 4180 quoting, line breaks inside
/// quotes kept); PostgreSQL's csvlog records too.
pub(crate) fn split(s: &str, delimiter: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            c if c == delimiter => {
                out.push(std::mem::take(&mut cur));
                at_start = true;
            }
            c => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    out.push(cur);
    out
}

impl CsvParser {
    /// Read one line of the input, or one read again.
    fn feed_one(
        &mut self,
        text: &str,
        line: u64,
        out: &mut Vec<Parsed>,
    ) -> Result<(), FormatError> {
        if let Some((first, held)) = &mut self.pending {
            if held.len() + text.len() + 1 > MAX_RECORD {
                let (first, held) = (*first, std::mem::take(held));
                self.pending = None;
                out.push(Err(At { line: first }.line(format!(
                    "a quoted field opened on this line is still open after {MAX_RECORD} bytes"
                ))));
                self.replay.unread(first, &held, Some((line, text)));
                return Ok(());
            }
            held.push('\n');
            held.push_str(text);
            // What is held leaves a quote open, so the record closes when
            // this line holds an odd number of quotes. Counting the whole
            // record again at every line would take time quadratic in a
            // record of many short lines.
            if open_quote(text) {
                self.flush(out);
            }
            return Ok(());
        }
        if text.trim().is_empty() {
            return Ok(());
        }
        if self.columns.is_none() {
            let configured = self.delimiter;
            if let Some(d) = self.header(text)? {
                tracing::warn!(
                    "csv: the header is one column by `{}` but reads by {}: reading the file so (set [formats.csv] delimiter to say so)",
                    configured.escape_default(),
                    if d == '\t' {
                        "tab".to_string()
                    } else {
                        format!("`{d}`")
                    }
                );
            }
            return Ok(());
        }
        self.pending = Some((line, text.to_string()));
        if !open_quote(text) {
            self.flush(out);
        }
        Ok(())
    }

    /// Read the lines queued to be read again.
    fn replay(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        while let Some((line, text)) = self.replay.next() {
            self.feed_one(&text, line, out)?;
        }
        Ok(())
    }
}

impl LineParser for CsvParser {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        self.feed_one(text, line, out)?;
        self.replay(out)
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        while let Some((line, held)) = self.pending.take() {
            out.push(Err(At { line }.line(
                "a quoted field opened on this line never closes (the input ended inside it)",
            )));
            self.replay.unread(line, &held, None);
            self.replay(out)?;
        }
        Ok(())
    }

    fn pending_line(&self) -> Option<u64> {
        self.pending.as_ref().map(|(line, _)| *line)
    }

    fn needs_header(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
