//! pgAudit lines in PostgreSQL's stderr log and in its csvlog.
//!
//! pgAudit writes `AUDIT: <type>,<statement id>,<substatement id>,<class>,
//! <command>,<object type>,<object name>,<statement>,<parameter>[,<rows>]`
//! through PostgreSQL's logger. The statement is CSV-quoted when it holds
//! commas, quotes or newlines; `<rows>` is there when `pgaudit.log_rows` is
//! on (pgAudit 1.7+: "the rows field will be included after the parameter
//! field") and is recognised as a tenth field of digits.
//!
//! - **stderr**: who and where come from `log_line_prefix`
//!   ([`FormatsConfig::pg_log_line_prefix`], default `'%m [%p] %q%u@%d '`);
//!   `%m`, `%t` or `%n` give the time and `%u` the user, both required;
//!   `%d` the database, `%h`/`%r` the client. A statement spanning lines
//!   continues on lines that start with a tab or do not match the prefix;
//!   they are joined to the line before.
//! - **csvlog**: PostgreSQL 15's fixed columns (`log_time`, `user_name`,
//!   `database_name`, ..., `connection_from` at 5, `message` at 14);
//!   records may span lines inside quotes.
//!
//! One event per audit line, i.e. per relation: pgAudit logs a statement
//! touching several relations as several lines with the same statement id,
//! and each event carries the statement's rows (pgAudit's row count is per
//! statement, not per relation). The resource is the object name
//! (`schema.table`). SESSION lines without an object name (`SELECT` with
//! `pgaudit.log_relation` off) take their tables from the statement text
//! ([`super::sql`]), one event each, or are skipped and counted, per
//! [`FormatsConfig::pg_session_without_object`]. Log lines that are not
//! audit lines (connections, checkpoints, errors) are skipped and counted.

use super::csv::{open_quote, split};
use super::json::zoned_ms;
use super::{
    At, Draft, FormatError, FormatsConfig, LineParser, Replay, WithoutObject, clip, qualify, sql,
};
use crate::input::Parsed;
use ueba_engine::event::{AccessEvent, ParseError};

/// PostgreSQL's default-like prefix with user and database: `'%m [%p] %q%u@%d '`.
pub use ueba_engine::config::DEFAULT_PG_PREFIX as DEFAULT_PREFIX;
/// Largest record (a statement over many lines) held, bytes.
const MAX_RECORD: usize = 4 << 20;
/// csvlog column of the message (0-based), PostgreSQL 13 to 17.
const CSV_MESSAGE: usize = 13;

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Lit(String),
    /// `%m`, `%t`: `YYYY-MM-DD HH:MM:SS[.fff] ZONE`.
    Time,
    /// `%s`: session start, same shape, not used.
    OtherTime,
    /// `%n`: epoch seconds with milliseconds.
    Epoch,
    User,
    Db,
    Host,
    HostPort,
    /// Any other escape: text up to the next literal.
    Text,
    /// `%q`: non-session lines stop here.
    Q,
}

/// A compiled `log_line_prefix`.
#[derive(Clone, Debug)]
pub struct Prefix {
    pieces: Vec<Piece>,
}

/// What a prefix gave for one line.
#[derive(Default, Debug)]
struct Captured<'a> {
    time_ms: Option<Result<i64, String>>,
    user: Option<&'a str>,
    db: Option<&'a str>,
    host: Option<&'a str>,
}

impl Prefix {
    /// Compile `log_line_prefix` text. Supported escapes: `%m %t %n %s %p %P
    /// %l %u %d %h %r %a %b %c %v %x %e %i %Q %q %%`. Two escapes other than
    /// `%q` must be separated by literal text, or a line could not be split.
    pub fn compile(text: &str) -> Result<Prefix, FormatError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let Some(esc) = chars.next() else {
                return Err(FormatError::Prefix("ends with a lone `%`".into()));
            };
            let piece = match esc {
                '%' => {
                    lit.push('%');
                    continue;
                }
                'm' | 't' => Piece::Time,
                's' => Piece::OtherTime,
                'n' => Piece::Epoch,
                'u' => Piece::User,
                'd' => Piece::Db,
                'h' => Piece::Host,
                'r' => Piece::HostPort,
                'q' => Piece::Q,
                'a' | 'b' | 'c' | 'p' | 'P' | 'l' | 'v' | 'x' | 'e' | 'i' | 'Q' => Piece::Text,
                other => {
                    return Err(FormatError::Prefix(format!(
                        "`%{other}` is not a supported escape"
                    )));
                }
            };
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(piece);
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        let escapes: Vec<&Piece> = pieces.iter().filter(|p| **p != Piece::Q).collect();
        for w in escapes.windows(2) {
            let free = |p: &Piece| {
                matches!(
                    p,
                    Piece::User | Piece::Db | Piece::Host | Piece::HostPort | Piece::Text
                )
            };
            if free(w[0]) && !matches!(w[1], Piece::Lit(_)) {
                return Err(FormatError::Prefix(
                    "two escapes without literal text between them cannot be told apart".into(),
                ));
            }
        }
        if !pieces
            .iter()
            .any(|p| matches!(p, Piece::Time | Piece::Epoch))
        {
            return Err(FormatError::Prefix(
                "needs %m, %t or %n: the event time comes from the prefix".into(),
            ));
        }
        if !pieces.contains(&Piece::User) {
            return Err(FormatError::Prefix(
                "needs %u: the user comes from the prefix".into(),
            ));
        }
        Ok(Prefix { pieces })
    }

    /// Match the start of `line`; with `full` false only up to `%q` (enough
    /// to tell a new log record from a continuation line). Returns the
    /// captures and the rest of the line.
    fn matches<'a>(&self, line: &'a str, full: bool) -> Option<(Captured<'a>, &'a str)> {
        let mut cap = Captured::default();
        let mut pos = 0usize;
        for (i, piece) in self.pieces.iter().enumerate() {
            let rest = &line[pos..];
            let took = match piece {
                Piece::Q if !full => break,
                Piece::Q => 0,
                Piece::Lit(s) => {
                    if !rest.starts_with(s.as_str()) {
                        return None;
                    }
                    s.len()
                }
                Piece::Time | Piece::OtherTime => {
                    let n = time_len(rest)?;
                    if *piece == Piece::Time {
                        cap.time_ms = Some(pg_time(&rest[..n]));
                    }
                    n
                }
                Piece::Epoch => {
                    let n = rest
                        .bytes()
                        .take_while(|b| b.is_ascii_digit() || *b == b'.')
                        .count();
                    if n == 0 {
                        return None;
                    }
                    cap.time_ms = Some(epoch_secs(&rest[..n]));
                    n
                }
                _ => {
                    let next = self.pieces[i + 1..].iter().find(|p| **p != Piece::Q);
                    let n = match next {
                        Some(Piece::Lit(s)) => rest.find(s.as_str())?,
                        _ => rest.find(char::is_whitespace).unwrap_or(rest.len()),
                    };
                    let v = &rest[..n];
                    match piece {
                        Piece::User => cap.user = Some(v),
                        Piece::Db => cap.db = Some(v),
                        Piece::Host => cap.host = Some(v),
                        Piece::HostPort => cap.host = Some(v.split('(').next().unwrap_or(v)),
                        _ => {}
                    }
                    n
                }
            };
            pos += took;
        }
        Some((cap, &line[pos..]))
    }
}

/// Length of a `YYYY-MM-DD HH:MM:SS[.fff] ZONE` time at the start of `s`.
fn time_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let shape = b"dddd-dd-dd dd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (x, want) in b.iter().zip(shape) {
        let ok = if *want == b'd' {
            x.is_ascii_digit()
        } else {
            x == want
        };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    if b.get(n) == Some(&b'.') {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    if b.get(n) == Some(&b' ') {
        let zone = b[n + 1..]
            .iter()
            .take_while(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b':' | b'/' | b'_')
            })
            .count();
        if zone > 0 {
            n += 1 + zone;
        }
    }
    Some(n)
}

/// Parse PostgreSQL's `%m`/`%t`/csvlog time: `2026-01-05 14:03:11.250 UTC`.
fn pg_time(s: &str) -> Result<i64, String> {
    let (civil, zone) = match s.get(19..).map(|r| r.split_once(' ')) {
        Some(Some((frac, zone))) => (&s[..19 + frac.len()], zone),
        _ => (s, "UTC"),
    };
    let dt: jiff::civil::DateTime = civil
        .parse()
        .map_err(|_| format!("`{}` is not a PostgreSQL log time", clip(s)))?;
    let tz = if matches!(zone, "UTC" | "GMT" | "Z") {
        jiff::tz::TimeZone::UTC
    } else if zone.starts_with(['+', '-']) {
        let digits: String = zone.chars().filter(char::is_ascii_digit).collect();
        let (h, m) = digits.split_at(digits.len().min(2));
        let secs = h.parse::<i32>().unwrap_or(0) * 3600 + m.parse::<i32>().unwrap_or(0) * 60;
        let secs = if zone.starts_with('-') { -secs } else { secs };
        jiff::tz::Offset::from_seconds(secs)
            .map(jiff::tz::TimeZone::fixed)
            .map_err(|_| format!("offset `{}` is out of range", clip(zone)))?
    } else {
        jiff::tz::TimeZone::get(zone).map_err(|_| {
            format!(
                "time zone `{}` is unknown; set log_timezone = 'UTC' in postgresql.conf",
                clip(zone)
            )
        })?
    };
    zoned_ms(dt, &tz).ok_or_else(|| format!("`{}` is out of range", clip(s)))
}

fn epoch_secs(s: &str) -> Result<i64, String> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("`{}` is not epoch seconds", clip(s)))?;
    let ms: i64 = format!("{frac:0<3}")
        .get(..3)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    secs.checked_mul(1000)
        .and_then(|x| x.checked_add(ms))
        .ok_or_else(|| format!("`{}` overflows", clip(s)))
}

/// An audit record's fields, from `SESSION,...` (after `AUDIT: `).
struct Audit {
    command: String,
    object_name: String,
    statement: String,
    rows: Option<u64>,
}

fn audit_payload(payload: &str, e: At) -> Result<Audit, ParseError> {
    let f = split(payload, ',');
    if f.len() < 8 {
        return Err(e.line(format!(
            "a pgAudit record has at least 8 comma-separated fields, found {}",
            f.len()
        )));
    }
    if !matches!(f[0].as_str(), "SESSION" | "OBJECT") {
        return Err(e.field(
            "audit_type",
            format!("`{}` is not SESSION or OBJECT", clip(&f[0])),
        ));
    }
    let rows = if f.len() >= 10 {
        let last = f[f.len() - 1].trim();
        if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
            Some(super::parse_u64(last, e, "rows")?)
        } else {
            None
        }
    } else {
        None
    };
    let stmt_end = match (f.len(), rows) {
        (n, Some(_)) => n - 2,
        (n, None) if n >= 9 => n - 1,
        (n, None) => n,
    };
    Ok(Audit {
        command: f[4].clone(),
        object_name: f[6].clone(),
        statement: f[7..stmt_end.max(7)].join(","),
        rows,
    })
}

/// Which PostgreSQL log layout is being read.
#[derive(Debug)]
enum Layout {
    Stderr(Prefix),
    Csv,
}

/// Parses pgAudit records out of a PostgreSQL log.
pub struct PgAuditParser {
    layout: Layout,
    without_object: WithoutObject,
    /// The record being assembled: first line number and text.
    pending: Option<(u64, String)>,
    /// Whether `pending` leaves a CSV quote open, kept as lines arrive
    /// (each flips it when it holds an odd number of `"`): counting the
    /// whole record again at every line would take time quadratic in a
    /// record of many short lines.
    quote_open: bool,
    skipped: u64,
    /// csvlog lines of a record given up, to read again ([`Replay`]).
    replay: Replay,
}

impl PgAuditParser {
    /// A parser for stderr logs with the configured `log_line_prefix`.
    pub fn stderr(cfg: &FormatsConfig) -> Result<Self, FormatError> {
        Ok(Self::with(
            Layout::Stderr(Prefix::compile(&cfg.pg_log_line_prefix)?),
            cfg,
        ))
    }

    /// A parser for csvlog files.
    pub fn csvlog(cfg: &FormatsConfig) -> Self {
        Self::with(Layout::Csv, cfg)
    }

    fn with(layout: Layout, cfg: &FormatsConfig) -> Self {
        PgAuditParser {
            layout,
            without_object: cfg.pg_session_without_object,
            pending: None,
            quote_open: false,
            skipped: 0,
            replay: Replay::default(),
        }
    }

    fn flush(&mut self, out: &mut Vec<Parsed>) {
        if let Some((line, text)) = self.pending.take() {
            let e = At { line };
            let record = match &self.layout {
                Layout::Stderr(prefix) => self.stderr_record(prefix, &text, e),
                Layout::Csv => self.csv_record(&text, e),
            };
            match record {
                Ok(Some(evs)) if evs.is_empty() => self.skipped += 1,
                Ok(Some(evs)) => out.extend(evs.into_iter().map(Ok)),
                Ok(None) => self.skipped += 1,
                Err(err) => out.push(Err(err)),
            }
        }
    }

    fn stderr_record(
        &self,
        prefix: &Prefix,
        text: &str,
        e: At,
    ) -> Result<Option<Vec<AccessEvent>>, ParseError> {
        let Some((cap, rest)) = prefix.matches(text, true) else {
            // Lines of non-session processes stop at `%q`; only an audit
            // line that does not match is an error.
            if text.contains("AUDIT: ") {
                return Err(e.line("does not match formats.pg_log_line_prefix"));
            }
            return Ok(None);
        };
        let Some(payload) = audit_message(rest) else {
            if misplaced_audit(rest) {
                return Err(e.line(format!(
                    "an audit record, but after formats.pg_log_line_prefix the line reads `{}`, \
                     not `LOG:  AUDIT: ...`: copy log_line_prefix from postgresql.conf",
                    clip(rest)
                )));
            }
            return Ok(None);
        };
        let d = Draft {
            time_ms: Some(
                cap.time_ms
                    .unwrap_or_else(|| Err("missing".into()))
                    .map_err(|m| e.field("log_time", m))?,
            ),
            user: cap.user.map(str::to_string),
            source: cap.host.map(str::to_string),
            ..Draft::default()
        };
        self.events(d, cap.db, payload, e).map(Some)
    }

    fn csv_record(&self, text: &str, e: At) -> Result<Option<Vec<AccessEvent>>, ParseError> {
        let cols = split(text, ',');
        if cols.len() <= CSV_MESSAGE {
            return Err(e.line(format!(
                "a csvlog record has at least {} columns, found {}",
                CSV_MESSAGE + 1,
                cols.len()
            )));
        }
        let Some(payload) = cols[CSV_MESSAGE].strip_prefix("AUDIT: ") else {
            return Ok(None);
        };
        let host = cols[4]
            .rsplit_once(':')
            .map_or(cols[4].as_str(), |(h, _)| h);
        let d = Draft {
            time_ms: Some(pg_time(&cols[0]).map_err(|m| e.field("log_time", m))?),
            user: Some(cols[1].clone()),
            source: Some(host.to_string()),
            ..Draft::default()
        };
        let db = Some(cols[2].as_str()).filter(|s| !s.is_empty());
        self.events(d, db, payload, e).map(Some)
    }

    fn events(
        &self,
        mut d: Draft,
        db: Option<&str>,
        payload: &str,
        e: At,
    ) -> Result<Vec<AccessEvent>, ParseError> {
        let a = audit_payload(payload, e)?;
        d.action = Some(a.command.clone());
        d.rows = a.rows;
        let names = ["log_time", "user_name", "command", "object_name"];
        let resources: Vec<String> = if !a.object_name.is_empty() {
            vec![qualify(db, &a.object_name)]
        } else if a.command.eq_ignore_ascii_case("COPY") {
            // pgAudit names no object for COPY. `COPY table TO` reads the
            // table; `COPY (query) TO` repeats what the query's own
            // substatement line already logged, so it adds nothing.
            copy_table(&a.statement)
                .map(|t| qualify(db, &t))
                .into_iter()
                .collect()
        } else {
            match self.without_object {
                WithoutObject::Skip => Vec::new(),
                WithoutObject::Statement => sql::each_table(&a.statement, e, "statement")?
                    .into_iter()
                    .map(|t| qualify(db, &t))
                    .collect(),
            }
        };
        resources
            .into_iter()
            .map(|r| {
                let mut one = d.clone();
                one.resource = Some(r);
                one.build(e, names)
            })
            .collect()
    }
}

/// The audit payload of a log message `LEVEL:  AUDIT: ...`, if it is one.
fn audit_message(rest: &str) -> Option<&str> {
    let (level, after) = rest.split_once(':')?;
    if level.is_empty()
        || !level
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return None;
    }
    after.trim_start().strip_prefix("AUDIT: ")
}

/// Whether the text after the prefix holds a pgAudit record further on:
/// the configured prefix is shorter than the server's `log_line_prefix`, so
/// the record would otherwise be skipped unseen.
///
/// That is `LEVEL:  AUDIT: SESSION,` or `...OBJECT,` after a space, at the
/// first `AUDIT: `; it is read backwards from there, so a line of many
/// words before it costs time linear in its length.
fn misplaced_audit(rest: &str) -> bool {
    let Some(at) = rest.find(AUDIT) else {
        return false;
    };
    if !is_audit_record(&rest[at + AUDIT.len()..]) {
        return false;
    }
    let Some(before) = rest[..at].trim_end().strip_suffix(':') else {
        return false;
    };
    let level = before
        .bytes()
        .rev()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        .count();
    level > 0 && before[..before.len() - level].ends_with(char::is_whitespace)
}

/// What introduces a pgAudit record in a log message.
const AUDIT: &str = "AUDIT: ";

/// Whether `payload` (the text after `AUDIT: `) starts like a pgAudit
/// record.
fn is_audit_record(payload: &str) -> bool {
    payload.starts_with("SESSION,") || payload.starts_with("OBJECT,")
}

/// Whether a line that does not start with the configured prefix holds a
/// pgAudit record: then the prefix is not the server's `log_line_prefix`,
/// and skipping the line as not data access would lose every record
/// unseen.
fn unprefixed_audit(text: &str) -> bool {
    text.match_indices(AUDIT)
        .any(|(at, _)| is_audit_record(&text[at + AUDIT.len()..]))
}

/// The table of `COPY [ONLY] table [(columns)] TO|FROM ...`, unquoted; `None`
/// for `COPY (query) TO ...` and anything else.
fn copy_table(statement: &str) -> Option<String> {
    let s = statement.trim_start();
    let rest = s
        .get(..4)
        .filter(|w| w.eq_ignore_ascii_case("copy"))
        .map(|_| &s[4..])?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut rest = rest.trim_start();
    if rest
        .get(..5)
        .is_some_and(|w| w.eq_ignore_ascii_case("only "))
    {
        rest = rest[5..].trim_start();
    }
    let mut name = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            c if !quoted && (c.is_whitespace() || c == '(' || c == ';') => break,
            c => name.push(c),
        }
    }
    (!name.is_empty()).then_some(name)
}

impl PgAuditParser {
    /// Read one line of the input, or one read again.
    fn feed_one(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) {
        let starts_record = match &self.layout {
            Layout::Stderr(prefix) => {
                !text.starts_with('\t') && prefix.matches(text, false).is_some()
            }
            Layout::Csv => self.pending.is_none() || !self.quote_open,
        };
        if starts_record {
            self.flush(out);
            if !(matches!(self.layout, Layout::Csv) && text.trim().is_empty()) {
                self.pending = Some((line, text.to_string()));
                self.quote_open = open_quote(text);
            }
        } else if matches!(self.layout, Layout::Stderr(_))
            && !text.starts_with('\t')
            && unprefixed_audit(text)
        {
            // PostgreSQL indents a message's continuation lines with a tab,
            // so an audit record here starts a line the prefix should have
            // matched.
            self.flush(out);
            out.push(Err(At { line }.line(format!(
                "an audit record on a line that does not start with formats.pg_log_line_prefix \
                 (`{}`): copy log_line_prefix from postgresql.conf",
                clip(text)
            ))));
        } else {
            match &mut self.pending {
                Some((first, p)) => {
                    if p.len() + text.len() >= MAX_RECORD {
                        let (first, held) = (*first, std::mem::take(p));
                        self.pending = None;
                        if matches!(self.layout, Layout::Csv) {
                            // A csvlog record runs on only while a quote is
                            // open: the lines after its first are records of
                            // their own.
                            out.push(Err(At { line: first }.line(format!(
                                "a quoted field opened on this line is still open after {MAX_RECORD} bytes"
                            ))));
                            self.replay.unread(first, &held, Some((line, text)));
                        } else {
                            out.push(Err(At { line: first }
                                .line(format!("record is longer than {MAX_RECORD} bytes"))));
                        }
                        self.quote_open = false;
                    } else {
                        p.push('\n');
                        p.push_str(text.strip_prefix('\t').unwrap_or(text));
                        self.quote_open ^= open_quote(text);
                    }
                }
                None if text.trim().is_empty() => {}
                None => self.skipped += 1,
            }
        }
        if matches!(self.layout, Layout::Csv) && self.pending.is_some() && !self.quote_open {
            self.flush(out);
        }
    }

    /// Read the lines queued to be read again.
    fn replay(&mut self, out: &mut Vec<Parsed>) {
        while let Some((line, text)) = self.replay.next() {
            self.feed_one(&text, line, out);
        }
    }
}

impl LineParser for PgAuditParser {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        self.feed_one(text, line, out);
        self.replay(out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        while matches!(self.layout, Layout::Csv) && self.quote_open {
            let Some((line, held)) = self.pending.take() else {
                break;
            };
            self.quote_open = false;
            out.push(Err(At { line }.line(
                "a quoted field opened on this line never closes (the input ended inside it)",
            )));
            self.replay.unread(line, &held, None);
            self.replay(out);
        }
        self.flush(out);
        Ok(())
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn pending_line(&self) -> Option<u64> {
        self.pending.as_ref().map(|(line, _)| *line)
    }
}

#[cfg(test)]
#[path = "pgaudit_tests.rs"]
mod tests;
