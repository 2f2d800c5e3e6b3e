//! SIEM and database-log formats: reading events from them, writing alerts to them.
//!
//! ueba's own schema is the native JSON lines of [`ueba_engine::event`]. Real
//! deployments already ship database activity somewhere else: Elastic (ECS),
//! a security lake (OCSF), ArcSight or QRadar (CEF, LEEF), PostgreSQL's own
//! log (pgAudit) or MySQL's audit plugin. Each input module maps one of those
//! onto [`AccessEvent`] so the detectors see the same events whatever the
//! source, and each sink in [`crate::sinks`] writes [`ueba_engine::risk::aggregate::Alert`]s in
//! the form the receiving system indexes natively.
//!
//! Parsers are [`LineParser`]s: the reader thread ([`crate::input`]) feeds
//! them one line at a time, because some formats (pgAudit statements,
//! csvlog records, pretty-printed MySQL JSON) span several lines and some
//! lines are not events at all. Errors are [`ParseError`]s naming the line
//! and the field, exactly as for native input, so `--skip-invalid` works the
//! same everywhere.

pub mod cef;
pub mod csv;
pub mod detect;
pub mod ecs;
mod json;
pub mod leef;
pub mod mysql;
pub mod native;
pub mod ocsf;
pub mod pgaudit;
pub mod sql;
pub mod syslog;

use ueba_engine::event::{
    AccessEvent, MAX_FIELD_LEN, MAX_TIME_MS, Outcome, ParseError, Text, parse_outcome,
};

use crate::input::Parsed;

pub use detect::AutoParser;
pub use native::parse_line;
pub use ueba_engine::config::{FieldMapping, FormatsConfig, WithoutObject};
pub(crate) use ueba_engine::event::clip;

/// The input formats `ueba score --format` accepts.
///
/// Each format's module ([`detect`], [`native`], [`ecs`], [`ocsf`],
/// [`cef`], [`leef`], [`pgaudit`], [`mysql`], [`csv`]) has the details;
/// [`InputFormat::help`] is the line `--help` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Detect the format from the first lines.
    Auto,
    /// ueba's native JSON lines (also accepted as `native`).
    Jsonl,
    /// Elastic Common Schema JSON, nested or dotted keys.
    Ecs,
    /// OCSF Datastore Activity (6005) or API Activity (6003) JSON.
    Ocsf,
    /// ArcSight Common Event Format, optionally behind a syslog header.
    Cef,
    /// IBM QRadar Log Event Extended Format 1.0 and 2.0.
    Leef,
    /// pgAudit lines in PostgreSQL's stderr log.
    Pgaudit,
    /// pgAudit lines in PostgreSQL's csvlog.
    PgauditCsv,
    /// MySQL Enterprise / Percona audit log JSON.
    Mysql,
    /// Delimited text with a header row naming the columns.
    Csv,
}

impl InputFormat {
    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Ecs => "ecs",
            InputFormat::Ocsf => "ocsf",
            InputFormat::Cef => "cef",
            InputFormat::Leef => "leef",
            InputFormat::Pgaudit => "pgaudit",
            InputFormat::PgauditCsv => "pgaudit-csv",
            InputFormat::Mysql => "mysql",
            InputFormat::Csv => "csv",
        }
    }

    /// Every format, in the order `--help` lists them.
    pub const ALL: [InputFormat; 10] = [
        InputFormat::Auto,
        InputFormat::Jsonl,
        InputFormat::Ecs,
        InputFormat::Ocsf,
        InputFormat::Cef,
        InputFormat::Leef,
        InputFormat::Pgaudit,
        InputFormat::PgauditCsv,
        InputFormat::Mysql,
        InputFormat::Csv,
    ];

    /// One line saying what the format is, for `--help`.
    pub fn help(self) -> &'static str {
        match self {
            InputFormat::Auto => "Detect the format from the first lines",
            InputFormat::Jsonl => "ueba's native JSON lines (also: native)",
            InputFormat::Ecs => "Elastic Common Schema JSON, nested or dotted keys",
            InputFormat::Ocsf => "OCSF Datastore Activity (6005) or API Activity (6003) JSON",
            InputFormat::Cef => "ArcSight Common Event Format, optionally behind a syslog header",
            InputFormat::Leef => "IBM QRadar Log Event Extended Format 1.0 and 2.0",
            InputFormat::Pgaudit => "pgAudit lines in PostgreSQL's stderr log",
            InputFormat::PgauditCsv => "pgAudit lines in PostgreSQL's csvlog",
            InputFormat::Mysql => "MySQL Enterprise / Percona audit log JSON",
            InputFormat::Csv => {
                "Delimited text with a header row ([formats.mapping] names the columns)"
            }
        }
    }
}

impl std::str::FromStr for InputFormat {
    type Err = String;

    /// A format by its [`name`](InputFormat::name); `native` is `jsonl`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "native" {
            return Ok(InputFormat::Jsonl);
        }
        InputFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown input format `{}`", clip(s)))
    }
}

/// Why a parser could not be set up or the input's format not determined.
/// These stop the run: no line of the input can be read without them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `--format auto` saw lines of no known format.
    #[error(
        "cannot tell the input format from line {line} ({excerpt}); pass --format (jsonl, ecs, ocsf, cef, leef, pgaudit, pgaudit-csv, mysql, csv)"
    )]
    Unknown {
        /// The first non-blank line looked at.
        line: u64,
        /// Its start.
        excerpt: String,
    },
    /// `--format auto` saw lines matching more than one format.
    #[error(
        "the input looks like both {first} and {second} (line {line}); pass --format to choose"
    )]
    Ambiguous {
        /// The line that disagreed with an earlier one, or matched both.
        line: u64,
        /// One candidate.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// `formats.pg_log_line_prefix` cannot be used to split log lines.
    #[error("formats.pg_log_line_prefix: {0}")]
    Prefix(String),
    /// `[formats.csv]` is unusable, or a CSV header lacks a column the
    /// event needs.
    #[error("csv: {0}")]
    Csv(String),
}

/// Turns input lines into events. Implemented once per format; the reader
/// thread owns one and calls it for every line, blank ones included (a
/// blank line can be part of a multi-line record).
pub trait LineParser: Send {
    /// Feed line `line` (1-based; `text` without its newline). Parsed events
    /// and per-line errors are pushed to `out`; a record spanning several
    /// lines is pushed when it is complete. An `Err` stops the input.
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError>;
    /// The input ended: push whatever record is still pending.
    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        let _ = out;
        Ok(())
    }
    /// Records that were well-formed but not data access (connects, DDL
    /// without an object, non-audit log lines), skipped and counted.
    fn skipped(&self) -> u64 {
        0
    }
    /// The first line of a record still being assembled (not yet pushed),
    /// if any. A resumed run must start reading there, or that record would
    /// be lost; single-line formats never hold one.
    fn pending_line(&self) -> Option<u64> {
        None
    }
    /// Whether the parser must see the input's first line (a header naming
    /// the columns) before any other: a resumed run, which starts reading
    /// after it, feeds it that line first.
    fn needs_header(&self) -> bool {
        false
    }
}

/// Lines to read again after a record that never closed: a quote or a
/// brace left open until the input ended or the record passed its size
/// limit. The record's first line is reported invalid and the lines after
/// it are read again as records of their own, so one stray quote costs one
/// line, not every line up to the limit or the end of the input (which a
/// single error would hide). Parsers read what is queued here before the
/// next line of the input, in order; each time a record is given up at
/// least its first line is gone for good, so reading again ends.
#[derive(Debug, Default)]
pub(crate) struct Replay(std::collections::VecDeque<(u64, String)>);

impl Replay {
    /// Queue the lines of `held` after its first (lines joined by `\n`,
    /// the first numbered `first`), then `next` if given, ahead of whatever
    /// is queued already (which came later in the input).
    pub(crate) fn unread(&mut self, first: u64, held: &str, next: Option<(u64, &str)>) {
        let held = held.strip_suffix('\n').unwrap_or(held);
        let mut lines: Vec<(u64, String)> = (first + 1..)
            .zip(held.split('\n').skip(1))
            .map(|(n, t)| (n, t.to_string()))
            .collect();
        lines.extend(next.map(|(n, t)| (n, t.to_string())));
        for l in lines.into_iter().rev() {
            self.0.push_front(l);
        }
    }

    /// The next line to read again, if any.
    pub(crate) fn next(&mut self) -> Option<(u64, String)> {
        self.0.pop_front()
    }
}

/// The native JSON-lines parser: [`parse_line`] on every non-blank line,
/// with nothing else in the way (it is the benchmark path).
pub struct NativeParser;

impl LineParser for NativeParser {
    #[inline]
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        if !text.bytes().all(|b| b.is_ascii_whitespace()) {
            out.push(parse_line(text, line));
        }
        Ok(())
    }
}

/// A parser for `format`, configured from `cfg`. `Auto` gives an
/// [`AutoParser`] that decides on the first lines.
pub fn parser_for(
    format: InputFormat,
    cfg: &FormatsConfig,
) -> Result<Box<dyn LineParser>, FormatError> {
    Ok(match format {
        InputFormat::Auto => {
            pgaudit::Prefix::compile(&cfg.pg_log_line_prefix)?;
            Box::new(AutoParser::new(cfg.clone()))
        }
        InputFormat::Jsonl => Box::new(syslog::SyslogJson(NativeParser)),
        InputFormat::Ecs => Box::new(syslog::SyslogJson(ecs::EcsParser::new(cfg.mapping.clone()))),
        InputFormat::Ocsf => Box::new(syslog::SyslogJson(ocsf::OcsfParser::new(
            cfg.mapping.clone(),
        ))),
        InputFormat::Cef => Box::new(cef::CefParser::new(cfg.mapping.clone())),
        InputFormat::Leef => Box::new(leef::LeefParser::new(cfg.mapping.clone())),
        InputFormat::Pgaudit => Box::new(pgaudit::PgAuditParser::stderr(cfg)?),
        InputFormat::PgauditCsv => Box::new(pgaudit::PgAuditParser::csvlog(cfg)),
        InputFormat::Mysql => Box::new(syslog::SyslogJson(mysql::MysqlParser::new(
            cfg.mapping.clone(),
        ))),
        InputFormat::Csv => Box::new(csv::CsvParser::new(cfg.mapping.clone(), &cfg.csv)?),
    })
}

/// Most events one record may become (a statement's tables, an API call's
/// resources), so a pathological record cannot turn into thousands of
/// events. A record naming more is refused by line and field
/// (`At::at_most_events`) rather than cut short, so nothing it names goes
/// unseen without a count.
pub const MAX_EVENTS_PER_RECORD: usize = 64;

/// Builds a [`ParseError`] for one line.
#[derive(Clone, Copy)]
pub(crate) struct At {
    pub line: u64,
}

impl At {
    /// An error about `field`.
    pub fn field(self, field: &str, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
    /// Refuse a record whose `field` names `n` of `what` (tables,
    /// resources), one event each, when that is more than
    /// [`MAX_EVENTS_PER_RECORD`].
    pub fn at_most_events(self, n: usize, field: &str, what: &str) -> Result<(), ParseError> {
        if n > MAX_EVENTS_PER_RECORD {
            return Err(self.field(
                field,
                format!(
                    "{n} {what}, more than the {MAX_EVENTS_PER_RECORD} events one record may become"
                ),
            ));
        }
        Ok(())
    }
    /// An error about the whole line.
    pub fn line(self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            field: None,
            message: message.into(),
        }
    }
}

/// The fields of an event as a format found them, validated by [`Draft::build`]
/// so that every format enforces the same limits as native input.
#[derive(Clone, Default, Debug)]
pub(crate) struct Draft {
    pub time_ms: Option<i64>,
    pub user: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub source: Option<String>,
    pub outcome: Outcome,
}

impl Draft {
    /// Check required fields and limits; `names` gives the format's name for
    /// each field (time, user, action, resource) for error messages.
    pub fn build(self, e: At, names: [&str; 4]) -> Result<AccessEvent, ParseError> {
        let time_ms = self.time_ms.ok_or_else(|| e.field(names[0], "missing"))?;
        if !(0..=MAX_TIME_MS).contains(&time_ms) {
            return Err(e.field(
                names[0],
                format!("{time_ms} ms is outside the accepted range (1970 to 9999)"),
            ));
        }
        let required = |v: Option<String>, name: &str| -> Result<String, ParseError> {
            let v = v.ok_or_else(|| e.field(name, "missing"))?;
            checked(v, e, name)
        };
        Ok(AccessEvent {
            time_ms,
            user: required(self.user, names[1])?.into(),
            action: required(self.action, names[2])?.to_ascii_lowercase().into(),
            resource: required(self.resource, names[3])?.into(),
            rows: self.rows.unwrap_or(1),
            bytes: self.bytes,
            source: self
                .source
                .filter(|s| !s.is_empty())
                .map(|s| checked(s, e, "source").map(Text::from))
                .transpose()?,
            peer_group: None,
            outcome: self.outcome,
        })
    }
}

/// Refuse empty and overlong strings, as native input does.
pub(crate) fn checked(v: String, e: At, name: &str) -> Result<String, ParseError> {
    if v.trim().is_empty() {
        return Err(e.field(name, "must not be empty"));
    }
    if v.len() > MAX_FIELD_LEN {
        return Err(e.field(
            name,
            format!(
                "{} bytes long; at most {MAX_FIELD_LEN} are accepted",
                v.len()
            ),
        ));
    }
    Ok(v)
}

/// Parse a whole number written as digits (surrounding blanks allowed).
pub(crate) fn parse_u64(text: &str, e: At, name: &str) -> Result<u64, ParseError> {
    text.trim().parse::<u64>().map_err(|_| {
        e.field(
            name,
            format!("expected a whole number, got `{}`", clip(text)),
        )
    })
}

/// An outcome word, or an error naming the field.
pub(crate) fn outcome_of(text: &str, e: At, name: &str) -> Result<Outcome, ParseError> {
    parse_outcome(text.trim()).ok_or_else(|| {
        e.field(
            name,
            format!("`{}` is not one of success, failure, unknown", clip(text)),
        )
    })
}

/// An outcome word; words of no known meaning are `Unknown` (for free-text
/// status fields, where an unusual word is not a malformed line).
pub(crate) fn parse_outcome_lenient(text: &str) -> Outcome {
    parse_outcome(text.trim()).unwrap_or(Outcome::Unknown)
}

/// Prefix `table` with `namespace` when it is not qualified already, so
/// `customers` in database `support` becomes `support.customers`.
pub(crate) fn qualify(namespace: Option<&str>, table: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() && !table.contains('.') => format!("{ns}.{table}"),
        _ => table.to_string(),
    }
}

#[cfg(test)]
mod tests;
