//! MySQL audit logs in JSON: Percona's audit log plugin and MySQL
//! Enterprise / Percona `audit_log_filter`.
//!
//! Records may be one per line, inside a top-level JSON array (`[`, `,`
//! and `]` between records are skipped) or pretty-printed over several
//! lines: objects are assembled by brace depth.
//!
//! | event field | Percona `audit_record` | `audit_log_filter` `general`/`status` | `table_access` |
//! |---|---|---|---|
//! | time | `timestamp` (`2026-01-05T14:03:11 UTC`) | `timestamp` (`2023-03-29 11:17:05`, UTC) | same |
//! | user | `user` up to `[` (`root[root] @ localhost []` → `root`) | `account.user`, same trimming | same |
//! | action | `command_class`, else the statement's first keyword | `general_data.sql_command` | `event` (`read`, `insert`, ...) |
//! | resource | tables of `sqltext` ([`super::sql`]) qualified with `db` | tables of `general_data.query` | `table_access_data.db`.`table` |
//! | rows | `rows`, else `rows_sent` when above 0, else `rows_examined` | `query_statistics.rows_sent` | same |
//! | bytes | none | `query_statistics.bytes_sent` | same |
//! | source | `ip`, else `host` | `login.ip`, else `account.host` | same |
//! | outcome | `status` 0 success, else failure | `general_data.status` | `table_access_data.status` |
//!
//! A statement naming several tables gives one event per table, each with
//! the statement's rows. Records that are not statements (connect, quit,
//! audit start, `general`/`log` duplicates of `status`, `query` class) and
//! statements naming no table (`SET`, `SELECT 1`) are skipped and counted.
//! When a server logs both `general` and `table_access` classes, each
//! statement is counted in both; log one of them.

use serde_json::Value;

use super::json::{count, first, get, text, time};
use super::{At, Draft, FieldMapping, FormatError, LineParser, Replay, qualify, sql};
use crate::input::Parsed;
use ueba_engine::event::{AccessEvent, Outcome, ParseError};

/// Largest JSON record assembled over several lines, bytes.
const MAX_RECORD: usize = 4 << 20;

/// Parses MySQL / Percona audit JSON.
pub struct MysqlParser {
    mapping: FieldMapping,
    buf: String,
    first_line: u64,
    depth: usize,
    in_string: bool,
    escaped: bool,
    skipped: u64,
    /// Lines of a record given up, to read again ([`Replay`]).
    replay: Replay,
}

impl MysqlParser {
    /// A parser applying `mapping` overrides before the built-in paths.
    pub fn new(mapping: FieldMapping) -> Self {
        MysqlParser {
            mapping,
            buf: String::new(),
            first_line: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            skipped: 0,
            replay: Replay::default(),
        }
    }

    /// Map one complete record. `Ok(vec![])` means not data access.
    pub fn record(&self, v: &Value, n: u64) -> Result<Vec<AccessEvent>, ParseError> {
        let e = At { line: n };
        if let Some(r) = get(v, "audit_record") {
            return self.percona(r, e);
        }
        let class = get(v, "class").and_then(Value::as_str).unwrap_or("");
        let event = get(v, "event").and_then(Value::as_str).unwrap_or("");
        match (class, event) {
            ("general", "status") => self.filter_general(v, e),
            ("table_access", _) => self.table_access(v, event, e),
            _ if get(v, "timestamp").is_some() => Ok(Vec::new()),
            _ => Err(e.line(
                "neither an `audit_record` nor an audit_log_filter record (`class`, `event`)",
            )),
        }
    }

    fn percona(&self, r: &Value, e: At) -> Result<Vec<AccessEvent>, ParseError> {
        let name = get(r, "name").and_then(Value::as_str).unwrap_or("");
        if !matches!(name, "Query" | "Execute") {
            return Ok(Vec::new());
        }
        let m = &self.mapping;
        let mut d = self.common(r, e, "timestamp", "user", &["ip", "host"])?;
        let query = opt_text(r, "sqltext", e)?;
        d.action = match first(r, m.action.as_deref(), &["command_class"]) {
            Some((p, x)) => Some(text(x, e, p)?),
            None => query.as_deref().and_then(sql::verb),
        };
        d.rows = match first(r, m.rows.as_deref(), &["rows"]) {
            Some((p, x)) => Some(count(x, e, p)?),
            None => {
                let sent = opt_count(r, "rows_sent", e)?;
                let examined = opt_count(r, "rows_examined", e)?;
                match (sent, examined) {
                    (Some(s), _) if s > 0 => Some(s),
                    (s, None) => s,
                    (_, x) => x,
                }
            }
        };
        d.outcome = status(r, "status", e)?;
        let db = opt_text(r, "db", e)?;
        self.expand(
            d,
            r,
            query.as_deref().map(|q| (q, "sqltext")),
            db.as_deref(),
            e,
        )
    }

    fn filter_general(&self, v: &Value, e: At) -> Result<Vec<AccessEvent>, ParseError> {
        let g = get(v, "general_data").unwrap_or(&Value::Null);
        let m = &self.mapping;
        let mut d = self.common(
            v,
            e,
            "timestamp",
            "account.user",
            &["login.ip", "account.host"],
        )?;
        let query = opt_text(g, "query", e)?;
        d.action = match first(v, m.action.as_deref(), &["general_data.sql_command"]) {
            Some((p, x)) => Some(text(x, e, p)?),
            None => query.as_deref().and_then(sql::verb),
        };
        self.statistics(v, &mut d, e)?;
        d.outcome = status(v, "general_data.status", e)?;
        let db = opt_text(v, "connection_data.db", e)?;
        let query = query.as_deref().map(|q| (q, "general_data.query"));
        self.expand(d, v, query, db.as_deref(), e)
    }

    fn table_access(&self, v: &Value, event: &str, e: At) -> Result<Vec<AccessEvent>, ParseError> {
        let mut d = self.common(
            v,
            e,
            "timestamp",
            "account.user",
            &["login.ip", "account.host"],
        )?;
        d.action = match first(v, self.mapping.action.as_deref(), &[]) {
            Some((p, x)) => Some(text(x, e, p)?),
            None => Some(event.to_string()),
        };
        self.statistics(v, &mut d, e)?;
        d.outcome = status(v, "table_access_data.status", e)?;
        let table = opt_text(v, "table_access_data.table", e)?;
        let db = opt_text(v, "table_access_data.db", e)?;
        d.resource = match first(v, self.mapping.resource.as_deref(), &[]) {
            Some((p, x)) => Some(text(x, e, p)?),
            None => table.map(|t| qualify(db.as_deref(), &t)),
        };
        Ok(vec![d.build(e, self.names())?])
    }

    fn statistics(&self, v: &Value, d: &mut Draft, e: At) -> Result<(), ParseError> {
        if let Some((p, x)) = first(
            v,
            self.mapping.rows.as_deref(),
            &["query_statistics.rows_sent"],
        ) {
            d.rows = Some(count(x, e, p)?);
        }
        if let Some((p, x)) = first(
            v,
            self.mapping.bytes.as_deref(),
            &["query_statistics.bytes_sent"],
        ) {
            d.bytes = Some(count(x, e, p)?);
        }
        Ok(())
    }

    /// Time, user and source, with mapping overrides.
    fn common(
        &self,
        v: &Value,
        e: At,
        t: &str,
        u: &str,
        src: &[&str],
    ) -> Result<Draft, ParseError> {
        let m = &self.mapping;
        let mut d = Draft::default();
        if let Some((p, x)) = first(v, m.time.as_deref(), &[t]) {
            d.time_ms = Some(time(x, e, p)?);
        }
        if let Some((p, x)) = first(v, m.user.as_deref(), &[u]) {
            let full = text(x, e, p)?;
            d.user = Some(full.split('[').next().unwrap_or(&full).trim().to_string());
        }
        let found = m
            .source
            .as_deref()
            .into_iter()
            .chain(src.iter().copied())
            .find_map(|p| match get(v, p).map(|x| text(x, e, p)) {
                Some(Ok(s)) if s.trim().is_empty() => None,
                other => other,
            })
            .transpose()?;
        d.source = found;
        Ok(d)
    }

    fn names(&self) -> [&str; 4] {
        let m = &self.mapping;
        [
            m.time.as_deref().unwrap_or("timestamp"),
            m.user.as_deref().unwrap_or("user"),
            m.action.as_deref().unwrap_or("command_class"),
            m.resource.as_deref().unwrap_or("sqltext"),
        ]
    }

    /// One event per table of the statement (or the mapped resource);
    /// `query` is the statement and the field it came from.
    fn expand(
        &self,
        d: Draft,
        v: &Value,
        query: Option<(&str, &str)>,
        db: Option<&str>,
        e: At,
    ) -> Result<Vec<AccessEvent>, ParseError> {
        let tables: Vec<String> = match first(v, self.mapping.resource.as_deref(), &[]) {
            Some((p, x)) => vec![text(x, e, p)?],
            None => match query {
                Some((q, field)) => sql::each_table(q, e, field)?
                    .into_iter()
                    .map(|t| qualify(db, &t))
                    .collect(),
                None => Vec::new(),
            },
        };
        tables
            .into_iter()
            .map(|t| {
                let mut one = d.clone();
                one.resource = Some(t);
                one.build(e, self.names())
            })
            .collect()
    }

    fn complete(&mut self, out: &mut Vec<Parsed>) {
        let n = self.first_line;
        let text = std::mem::take(&mut self.buf);
        let parsed = serde_json::from_str::<Value>(&text)
            .map_err(|err| At { line: n }.line(format!("not a JSON object ({err})")))
            .and_then(|v| self.record(&v, n));
        match parsed {
            Ok(evs) if evs.is_empty() => self.skipped += 1,
            Ok(evs) => out.extend(evs.into_iter().map(Ok)),
            Err(err) => out.push(Err(err)),
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }
}

fn opt_text(v: &Value, path: &str, e: At) -> Result<Option<String>, ParseError> {
    get(v, path)
        .map(|x| text(x, e, path))
        .transpose()
        .map(|s| s.filter(|s| !s.is_empty()))
}

fn opt_count(v: &Value, path: &str, e: At) -> Result<Option<u64>, ParseError> {
    get(v, path).map(|x| count(x, e, path)).transpose()
}

fn status(v: &Value, path: &str, e: At) -> Result<Outcome, ParseError> {
    Ok(match get(v, path) {
        None => Outcome::Unknown,
        Some(x) => match count(x, e, path) {
            Ok(0) => Outcome::Success,
            _ => Outcome::Failure,
        },
    })
}

impl MysqlParser {
    /// Read one line of the input, or one read again.
    fn feed_one(&mut self, line_text: &str, line: u64, out: &mut Vec<Parsed>) {
        let mut stray = false;
        let mut start = 0usize;
        for (i, c) in line_text.char_indices() {
            if self.depth == 0 {
                match c {
                    '{' => {
                        self.depth = 1;
                        self.first_line = line;
                        start = i;
                    }
                    '[' | ']' | ',' => {}
                    c if c.is_whitespace() => {}
                    _ => stray = true,
                }
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == '"' {
                    self.in_string = false;
                }
                continue;
            }
            match c {
                '"' => self.in_string = true,
                '{' | '[' => self.depth += 1,
                '}' | ']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.buf.push_str(&line_text[start..i + 1]);
                        self.complete(out);
                        start = i + 1;
                    }
                }
                _ => {}
            }
        }
        if self.depth > 0 {
            self.buf.push_str(&line_text[start..]);
            self.buf.push('\n');
            if self.buf.len() > MAX_RECORD {
                self.give_up(
                    out,
                    &format!(
                        "the JSON record starting on this line is longer than {MAX_RECORD} bytes"
                    ),
                );
            }
        }
        if stray {
            out.push(Err(At { line }.line(
                "not a JSON object; each record must be a MySQL or Percona audit JSON object",
            )));
        }
    }

    /// Report the open record's first line as `why` and queue the lines
    /// after it to be read again ([`Replay`]).
    fn give_up(&mut self, out: &mut Vec<Parsed>, why: &str) {
        let first = self.first_line;
        let held = std::mem::take(&mut self.buf);
        self.reset();
        out.push(Err(At { line: first }.line(why)));
        self.replay.unread(first, &held, None);
    }

    /// Read the lines queued to be read again.
    fn replay(&mut self, out: &mut Vec<Parsed>) {
        while let Some((line, text)) = self.replay.next() {
            self.feed_one(&text, line, out);
        }
    }
}

impl LineParser for MysqlParser {
    fn feed(
        &mut self,
        line_text: &str,
        line: u64,
        out: &mut Vec<Parsed>,
    ) -> Result<(), FormatError> {
        self.feed_one(line_text, line, out);
        self.replay(out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        while self.depth > 0 {
            self.give_up(
                out,
                "the JSON record starting on this line never closes (the input ended inside it)",
            );
            self.replay(out);
        }
        Ok(())
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
#[path = "mysql_tests.rs"]
mod tests;
