//! Elastic Common Schema JSON (Filebeat, Elastic Agent, Logstash output).
//!
//! | event field | ECS / OpenTelemetry fields, first present wins |
//! |---|---|
//! | time | `@timestamp` (RFC 3339 or epoch ms) |
//! | user | `user.name`, `db.user`, `postgresql.log.user` |
//! | action | `event.action`, `db.operation.name`, `db.operation`, `postgresql.log.command_tag`, else the statement's first keyword |
//! | resource | `db.collection.name`, `db.sql.table`, qualified with `db.namespace` (or `db.name`, `postgresql.log.database`) when unqualified; else the first table of `db.query.text`, `db.statement` or `postgresql.log.query` ([`super::sql`]); else, for events that are not a database's, `file.path` (a file opened), `url.full` or `url.original` (a page or API called), `host.name` (a logon: the machine logged on to) |
//! | rows | `db.response.returned_rows` |
//! | bytes | only a `[formats.mapping]` path: ECS has no field for bytes of query results |
//! | source | `source.ip`, `client.ip`, `source.address`, `client.address` |
//! | outcome | `event.outcome` |
//!
//! Keys may be nested objects or dotted (`"user.name"`), as Elastic accepts
//! both; `[formats.mapping]` paths are tried first.

use serde_json::Value;

use super::json::{count, first, object, text, time};
use super::{At, Draft, FieldMapping, LineParser, outcome_of, qualify, sql};
use crate::input::Parsed;
use ueba_engine::event::ParseError;

const TIME: &[&str] = &["@timestamp"];
const USER: &[&str] = &["user.name", "db.user", "postgresql.log.user"];
const ACTION: &[&str] = &[
    "event.action",
    "db.operation.name",
    "db.operation",
    "postgresql.log.command_tag",
];
const TABLE: &[&str] = &["db.collection.name", "db.sql.table"];
const NAMESPACE: &[&str] = &["db.namespace", "db.name", "postgresql.log.database"];
const QUERY: &[&str] = &["db.query.text", "db.statement", "postgresql.log.query"];
/// What an event that names no table was about: Winlogbeat's and Elastic
/// Agent's file, web and logon events carry no `db.*` field, and are read
/// as access to the file, the URL or the machine.
const OTHER: &[&str] = &["file.path", "url.full", "url.original", "host.name"];
const ROWS: &[&str] = &["db.response.returned_rows"];
const SOURCE: &[&str] = &["source.ip", "client.ip", "source.address", "client.address"];
const OUTCOME: &[&str] = &["event.outcome"];

/// Parses ECS JSON lines.
pub struct EcsParser {
    mapping: FieldMapping,
}

impl EcsParser {
    /// A parser applying `mapping` overrides before the built-in names.
    pub fn new(mapping: FieldMapping) -> Self {
        EcsParser { mapping }
    }

    /// Parse one ECS document.
    pub fn parse(&self, line: &str, n: u64) -> Result<ueba_engine::event::AccessEvent, ParseError> {
        let e = At { line: n };
        let v = object(line, e)?;
        let m = &self.mapping;
        let mut d = Draft::default();
        let mut names = [
            "@timestamp",
            "user.name",
            "event.action",
            "db.collection.name",
        ];
        if let Some((p, x)) = first(&v, m.time.as_deref(), TIME) {
            d.time_ms = Some(time(x, e, p)?);
        }
        if let Some(p) = m.time.as_deref() {
            names[0] = p;
        }
        if let Some((p, x)) = first(&v, m.user.as_deref(), USER) {
            d.user = Some(text(x, e, p)?);
        }
        if let Some(p) = m.user.as_deref() {
            names[1] = p;
        }
        let query = first(&v, None, QUERY)
            .map(|(p, x)| text(x, e, p))
            .transpose()?;
        d.action = match first(&v, m.action.as_deref(), ACTION) {
            Some((p, x)) => Some(text(x, e, p)?),
            None => query.as_deref().and_then(sql::verb),
        };
        d.resource = resource(&v, m.resource.as_deref(), query.as_deref(), e)?;
        if let Some((p, x)) = first(&v, m.rows.as_deref(), ROWS) {
            d.rows = Some(count(x, e, p)?);
        }
        if let Some((p, x)) = first(&v, m.bytes.as_deref(), &[]) {
            d.bytes = Some(count(x, e, p)?);
        }
        if let Some((p, x)) = first(&v, m.source.as_deref(), SOURCE) {
            d.source = Some(text(x, e, p)?);
        }
        if let Some((p, x)) = first(&v, m.outcome.as_deref(), OUTCOME) {
            d.outcome = outcome_of(&text(x, e, p)?, e, p)?;
        }
        d.build(e, names)
    }
}

fn resource(
    v: &Value,
    mapped: Option<&str>,
    query: Option<&str>,
    e: At,
) -> Result<Option<String>, ParseError> {
    let ns = match first(v, None, NAMESPACE) {
        Some((p, x)) => Some(text(x, e, p)?),
        None => None,
    };
    if let Some((p, x)) = first(v, mapped, TABLE) {
        return Ok(Some(qualify(ns.as_deref(), &text(x, e, p)?)));
    }
    if let Some(table) = query.and_then(|q| sql::tables(q).into_iter().next()) {
        return Ok(Some(qualify(ns.as_deref(), &table)));
    }
    first(v, None, OTHER)
        .map(|(p, x)| text(x, e, p))
        .transpose()
}

impl LineParser for EcsParser {
    fn feed(
        &mut self,
        text: &str,
        line: u64,
        out: &mut Vec<Parsed>,
    ) -> Result<(), super::FormatError> {
        if !text.trim().is_empty() {
            out.push(self.parse(text, line));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "ecs_tests.rs"]
mod tests;
