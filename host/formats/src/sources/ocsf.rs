//! OCSF JSON: Datastore Activity (class 6005), API Activity (class 6003),
//! Authentication (class 3002: logons) and File System Activity (class
//! 1001).
//!
//! | event field | Datastore Activity (6005) | API Activity (6003) |
//! |---|---|---|
//! | time | `time` (epoch ms) | `time` |
//! | user | `actor.user.name`, `actor.user.uid` | same |
//! | action | `activity_id`: 1 read, 2 update, 3 connect, 4 query, 5 write, 6 create, 7 delete, 8 list, 9 encrypt, 10 decrypt; 0/99 use `activity_name` | `api.operation` |
//! | resource | `table.name` qualified with `database.name`; else `database.name`, `databucket.name`; else the first table of `query_info.query_string` | every `resources[].name` (one event each) |
//! | rows | `query_info.data.rows`, `unmapped.rows` (OCSF has no row count) | same |
//! | bytes | `query_info.bytes`, `traffic.bytes_out` | `traffic.bytes_out` |
//! | source | `src_endpoint.ip`, `src_endpoint.hostname` | same |
//! | outcome | `status_id` 1 success, 2 failure; else `status` | same |
//!
//! Authentication (3002) is a logon to a machine or service: user
//! `user.name` (who logged on; else as above), action from `activity_id` (1
//! logon, 2 logoff, 3 authentication-ticket, 4 service-ticket-request, 5
//! service-ticket-renew, 6 preauth; else `activity_name`), resource
//! `dst_endpoint.hostname`, `dst_endpoint.ip`, `service.name` or
//! `device.hostname`. File System Activity (1001) is a file touched: action
//! from `activity_id` (1 create, 2 read, 3 update, 4 delete, 5 rename, 6
//! set-attributes, 7 set-security, 8 get-attributes, 9 get-security, 10
//! encrypt, 11 decrypt, 12 mount, 13 unmount, 14 open; else
//! `activity_name`), resource `file.path`, else `file.name`. Both have rows
//! 1 unless mapped, and time, source and outcome as above.
//!
//! Other classes are errors naming `class_uid`. `[formats.mapping]` paths
//! are tried before the built-in ones.

use serde_json::Value;

use super::json::{count, first, get, object, text, time};
use super::{At, Draft, FieldMapping, FormatError, LineParser, outcome_of, qualify, sql};
use crate::input::Parsed;
use ueba_engine::event::{AccessEvent, Outcome, ParseError};

/// OCSF class of datastore events.
pub const DATASTORE_ACTIVITY: u64 = 6005;
/// OCSF class of API calls.
pub const API_ACTIVITY: u64 = 6003;
/// OCSF class of logons and other authentications.
pub const AUTHENTICATION: u64 = 3002;
/// OCSF class of files created, read, changed or deleted.
pub const FILE_ACTIVITY: u64 = 1001;

const USER: &[&str] = &["actor.user.name", "actor.user.uid"];
const ROWS: &[&str] = &["query_info.data.rows", "unmapped.rows"];
const BYTES: &[&str] = &["query_info.bytes", "traffic.bytes_out"];
const SOURCE: &[&str] = &["src_endpoint.ip", "src_endpoint.hostname"];

/// The action for a Datastore Activity `activity_id`.
pub fn datastore_action(id: u64) -> Option<&'static str> {
    Some(match id {
        1 => "read",
        2 => "update",
        3 => "connect",
        4 => "query",
        5 => "write",
        6 => "create",
        7 => "delete",
        8 => "list",
        9 => "encrypt",
        10 => "decrypt",
        _ => return None,
    })
}

/// The action for an Authentication `activity_id`.
pub fn authentication_action(id: u64) -> Option<&'static str> {
    Some(match id {
        1 => "logon",
        2 => "logoff",
        3 => "authentication-ticket",
        4 => "service-ticket-request",
        5 => "service-ticket-renew",
        6 => "preauth",
        _ => return None,
    })
}

/// The action for a File System Activity `activity_id`.
pub fn file_action(id: u64) -> Option<&'static str> {
    Some(match id {
        1 => "create",
        2 => "read",
        3 => "update",
        4 => "delete",
        5 => "rename",
        6 => "set-attributes",
        7 => "set-security",
        8 => "get-attributes",
        9 => "get-security",
        10 => "encrypt",
        11 => "decrypt",
        12 => "mount",
        13 => "unmount",
        14 => "open",
        _ => return None,
    })
}

/// Where a class of access events names its user and resource, and what
/// its activity ids mean.
struct Access {
    actions: fn(u64) -> Option<&'static str>,
    /// The ids `actions` knows, for an error.
    ids: &'static str,
    resources: &'static [&'static str],
    users: &'static [&'static str],
}

/// Authentication (3002): who logged on, to which machine or service.
const LOGONS: Access = Access {
    actions: authentication_action,
    ids: "1-6",
    resources: &[
        "dst_endpoint.hostname",
        "dst_endpoint.ip",
        "service.name",
        "device.hostname",
    ],
    users: &["user.name", "actor.user.name", "user.uid"],
};

/// File System Activity (1001): who touched which file.
const FILES: Access = Access {
    actions: file_action,
    ids: "1-14",
    resources: &["file.path", "file.name"],
    users: USER,
};

/// Parses OCSF JSON lines.
pub struct OcsfParser {
    mapping: FieldMapping,
}

impl OcsfParser {
    /// A parser applying `mapping` overrides before the built-in paths.
    pub fn new(mapping: FieldMapping) -> Self {
        OcsfParser { mapping }
    }

    /// Parse one OCSF event into one event (6005) or one per resource (6003).
    pub fn parse(&self, line: &str, n: u64) -> Result<Vec<AccessEvent>, ParseError> {
        let e = At { line: n };
        let v = object(line, e)?;
        let class = match get(&v, "class_uid") {
            Some(x) => count(x, e, "class_uid")?,
            None => return Err(e.field("class_uid", "missing")),
        };
        let m = &self.mapping;
        let mut d = Draft::default();
        let tp = m.time.as_deref().unwrap_or("time");
        if let Some(x) = get(&v, tp) {
            d.time_ms = Some(time(x, e, tp)?);
        }
        if let Some((p, x)) = first(&v, m.user.as_deref(), USER) {
            d.user = Some(text(x, e, p)?);
        }
        if let Some((p, x)) = first(&v, m.rows.as_deref(), ROWS) {
            d.rows = Some(count(x, e, p)?);
        }
        if let Some((p, x)) = first(&v, m.bytes.as_deref(), BYTES) {
            d.bytes = Some(count(x, e, p)?);
        }
        if let Some((p, x)) = first(&v, m.source.as_deref(), SOURCE) {
            d.source = Some(text(x, e, p)?);
        }
        d.outcome = outcome(&v, m.outcome.as_deref(), e)?;
        let user_name = m.user.as_deref().unwrap_or("actor.user.name");
        match class {
            DATASTORE_ACTIVITY => {
                d.action = match first(&v, m.action.as_deref(), &[]) {
                    Some((p, x)) => Some(text(x, e, p)?),
                    None => activity(&v, e, datastore_action, "1-10")?,
                };
                d.resource = datastore_resource(&v, m.resource.as_deref(), e)?;
                let r = m.resource.as_deref().unwrap_or("table.name");
                Ok(vec![d.build(e, [tp, user_name, "activity_id", r])?])
            }
            API_ACTIVITY => {
                let ap = m.action.as_deref().unwrap_or("api.operation");
                if let Some(x) = get(&v, ap) {
                    d.action = Some(text(x, e, ap)?);
                }
                let names: Vec<String> = match m.resource.as_deref() {
                    Some(p) => get(&v, p).map(|x| text(x, e, p)).transpose()?.into_iter().collect(),
                    None => match get(&v, "resources") {
                        Some(Value::Array(items)) => {
                            e.at_most_events(items.len(), "resources", "resources")?;
                            items
                                .iter()
                                .filter_map(|r| get(r, "name").or_else(|| get(r, "uid")))
                                .map(|x| text(x, e, "resources.name"))
                                .collect::<Result<_, _>>()?
                        }
                        Some(_) => return Err(e.field("resources", "expected an array")),
                        None => Vec::new(),
                    },
                };
                if names.is_empty() {
                    return Err(e.field(m.resource.as_deref().unwrap_or("resources"), "missing"));
                }
                let r = m.resource.as_deref().unwrap_or("resources.name");
                names
                    .into_iter()
                    .map(|name| {
                        let mut one = d.clone();
                        one.resource = Some(name);
                        one.build(e, [tp, user_name, ap, r])
                    })
                    .collect()
            }
            AUTHENTICATION | FILE_ACTIVITY => {
                let c = if class == AUTHENTICATION {
                    &LOGONS
                } else {
                    &FILES
                };
                if let Some((p, x)) = first(&v, m.user.as_deref(), c.users) {
                    d.user = Some(text(x, e, p)?);
                }
                d.action = match first(&v, m.action.as_deref(), &[]) {
                    Some((p, x)) => Some(text(x, e, p)?),
                    None => activity(&v, e, c.actions, c.ids)?,
                };
                if let Some((p, x)) = first(&v, m.resource.as_deref(), c.resources) {
                    d.resource = Some(text(x, e, p)?);
                }
                let u = m.user.as_deref().unwrap_or(c.users[0]);
                let r = m.resource.as_deref().unwrap_or(c.resources[0]);
                Ok(vec![d.build(e, [tp, u, "activity_id", r])?])
            }
            other => Err(e.field(
                "class_uid",
                format!(
                    "{other} is not Datastore Activity ({DATASTORE_ACTIVITY}), API Activity ({API_ACTIVITY}), Authentication ({AUTHENTICATION}) or File System Activity ({FILE_ACTIVITY})"
                ),
            )),
        }
    }
}

/// The action an `activity_id` names in its class (`actions`, whose ids
/// are `ids`), else `activity_name`.
fn activity(
    v: &Value,
    e: At,
    actions: fn(u64) -> Option<&'static str>,
    ids: &str,
) -> Result<Option<String>, ParseError> {
    let id = match get(v, "activity_id") {
        Some(x) => Some(count(x, e, "activity_id")?),
        None => None,
    };
    if let Some(a) = id.and_then(actions) {
        return Ok(Some(a.to_string()));
    }
    match get(v, "activity_name") {
        Some(x) => Ok(Some(text(x, e, "activity_name")?)),
        None if id.is_some() => Err(e.field(
            "activity_id",
            format!("not one of {ids} and no activity_name says what it was"),
        )),
        None => Ok(None),
    }
}

fn datastore_resource(
    v: &Value,
    mapped: Option<&str>,
    e: At,
) -> Result<Option<String>, ParseError> {
    let db = match get(v, "database.name") {
        Some(x) => Some(text(x, e, "database.name")?),
        None => None,
    };
    if let Some((p, x)) = first(v, mapped, &["table.name"]) {
        return Ok(Some(qualify(db.as_deref(), &text(x, e, p)?)));
    }
    if db.is_some() {
        return Ok(db);
    }
    if let Some(x) = get(v, "databucket.name") {
        return Ok(Some(text(x, e, "databucket.name")?));
    }
    match get(v, "query_info.query_string") {
        Some(x) => Ok(sql::tables(&text(x, e, "query_info.query_string")?)
            .into_iter()
            .next()),
        None => Ok(None),
    }
}

fn outcome(v: &Value, mapped: Option<&str>, e: At) -> Result<Outcome, ParseError> {
    if let Some(p) = mapped {
        return match get(v, p) {
            Some(x) => outcome_of(&text(x, e, p)?, e, p),
            None => Ok(Outcome::Unknown),
        };
    }
    if let Some(x) = get(v, "status_id") {
        return Ok(match count(x, e, "status_id")? {
            1 => Outcome::Success,
            2 => Outcome::Failure,
            _ => Outcome::Unknown,
        });
    }
    match get(v, "status") {
        Some(x) => Ok(super::parse_outcome_lenient(&text(x, e, "status")?)),
        None => Ok(Outcome::Unknown),
    }
}

impl LineParser for OcsfParser {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        match self.parse(text, line) {
            Ok(evs) => out.extend(evs.into_iter().map(Ok)),
            Err(err) => out.push(Err(err)),
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "ocsf_tests.rs"]
mod tests;
