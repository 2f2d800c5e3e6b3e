//! ArcSight Common Event Format, bare or behind an RFC 3164 / RFC 5424
//! syslog header.
//!
//! `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|k=v k=v ...`.
//! Header fields escape `\|` and `\\`; extension values escape `\=`, `\\`,
//! `\n` and `\r` and may contain spaces: a value runs until the space
//! before the next `key=`.
//!
//! | event field | CEF keys, first present wins |
//! |---|---|
//! | time | `rt`, `end`, `start` (epoch ms, `MMM dd yyyy HH:mm:ss[.SSS][ zone]`, `MMM dd HH:mm:ss[.SSS]`, RFC 3339); else the syslog header's time |
//! | user | `suser`, `duser`, the first naming a person (not a machine account `HOST$` or Windows' `-`), else the first present |
//! | action | `act`, a custom label `operation`/`command`/`action`, else the header's Name |
//! | resource | a custom label `table`/`resource`/`object`/`object name`/`table name` (e.g. `cs1Label=table cs1=...`), qualified with a `database`/`schema` label; else the first table of a `query`/`sql`/`statement` label; else, for events that are not a database's, `filePath`, `fname` (a file), `request` (a URL), `dhost`, `dst` (a logon: the machine logged on to) |
//! | rows | a custom label `rows`/`row count`/`rowcount`/`rows returned`/`affected rows` (e.g. `cn1Label=rows`); else `cnt` |
//! | bytes | only a `[formats.mapping]` key |
//! | source | `src`, `shost` |
//! | outcome | `outcome`, `cat`/`categoryOutcome` (`/Success`, `/Failure`) |
//!
//! Custom labels are the `...Label` keys of `cs1..cs6`, `cn1..cn3`,
//! `cfp1..cfp4`, `flexString1..2` and the like, matched case-insensitively.
//! A `[formats.mapping]` value names an extension key or such a label and is
//! tried first.

use std::cell::OnceCell;
use std::collections::HashMap;

use super::{
    At, Draft, FieldMapping, FormatError, LineParser, clip, parse_outcome_lenient, qualify, sql,
};
use crate::input::Parsed;
use ueba_engine::event::{AccessEvent, ParseError};

const RESOURCE_LABELS: &[&str] = &[
    "table",
    "resource",
    "object",
    "object name",
    "objectname",
    "table name",
];
const NAMESPACE_LABELS: &[&str] = &["database", "db", "schema", "database name"];
const QUERY_LABELS: &[&str] = &["query", "sql", "statement"];
const ROWS_LABELS: &[&str] = &[
    "rows",
    "row count",
    "rowcount",
    "rows returned",
    "affected rows",
];
const ACTION_LABELS: &[&str] = &["operation", "command", "action"];

/// Key/value pairs of an event with their custom labels resolved, shared by
/// CEF and LEEF.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pairs: Vec<(String, String)>,
    /// Where each key is, built at the first lookup in a line of more than
    /// [`SCAN_PAIRS`] pairs; shorter lines, nearly all, are scanned.
    index: OnceCell<KeyIndex>,
}

/// Pairs a line may hold and still be looked up by scanning them. A lookup
/// is made per custom label that matches, so a line of many
/// `xLabel=table` pairs scanned at each would take time quadratic in its
/// length; an index for every line would cost the usual short one more
/// than the scan.
const SCAN_PAIRS: usize = 64;

/// The first pair of each key of a long line, by its exact name and by its
/// name in lower case.
#[derive(Debug, Default)]
struct KeyIndex {
    exact: HashMap<String, usize>,
    folded: HashMap<String, usize>,
}

impl Fields {
    pub(crate) fn push(&mut self, k: String, v: String) {
        self.pairs.push((k, v));
    }

    /// The value of key `k` (exact, then case-insensitive): the first pair
    /// with that key.
    pub(crate) fn key(&self, k: &str) -> Option<&str> {
        let at = if self.pairs.len() <= SCAN_PAIRS {
            self.pairs.iter().position(|(key, _)| key == k).or_else(|| {
                self.pairs
                    .iter()
                    .position(|(key, _)| key.eq_ignore_ascii_case(k))
            })
        } else {
            let index = self.index.get_or_init(|| {
                let mut index = KeyIndex::default();
                for (at, (key, _)) in self.pairs.iter().enumerate() {
                    index.exact.entry(key.clone()).or_insert(at);
                    index.folded.entry(key.to_ascii_lowercase()).or_insert(at);
                }
                index
            });
            index
                .exact
                .get(k)
                .or_else(|| index.folded.get(&k.to_ascii_lowercase()))
                .copied()
        };
        at.map(|at| self.pairs[at].1.as_str())
    }

    /// The value whose `<key>Label` is `label` (case-insensitive).
    pub(crate) fn label(&self, label: &str) -> Option<(&str, &str)> {
        self.pairs.iter().find_map(|(k, l)| {
            let base = k.strip_suffix("Label")?;
            if !l.trim().eq_ignore_ascii_case(label) {
                return None;
            }
            self.key(base).map(|v| (base, v))
        })
    }

    /// A key or a label: what `[formats.mapping]` values name.
    pub(crate) fn named(&self, name: &str) -> Option<(String, &str)> {
        self.key(name)
            .map(|v| (name.to_string(), v))
            .or_else(|| self.label(name).map(|(b, v)| (b.to_string(), v)))
            .filter(|(_, v)| !v.is_empty())
    }

    /// The first of `keys` whose value names a person, else the first
    /// present: a Windows logon forwarded with the machine account that
    /// reported it (`HOST$`) or Windows' `-` for no account as `suser`,
    /// and the account logged on as `duser`, is the person's.
    fn first_person(&self, keys: &[&str]) -> Option<(String, &str)> {
        let person = |v: &str| v != "-" && !v.ends_with('$');
        keys.iter()
            .filter_map(|k| self.first_key(std::slice::from_ref(k)))
            .find(|(_, v)| person(v))
            .or_else(|| self.first_key(keys))
    }

    fn first_key(&self, keys: &[&str]) -> Option<(String, &str)> {
        keys.iter().find_map(|k| {
            self.key(k)
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v))
        })
    }

    fn first_label(&self, labels: &[&str]) -> Option<(String, &str)> {
        labels
            .iter()
            .find_map(|l| self.label(l).filter(|(_, v)| !v.is_empty()))
            .map(|(b, v)| (b.to_string(), v))
    }
}

/// Built-in key names of a key/value format.
pub(crate) struct KvNames {
    pub time: &'static [&'static str],
    pub user: &'static [&'static str],
    pub action: &'static [&'static str],
    pub resource: &'static [&'static str],
    /// What an event naming no table was about (a file, a URL, the machine
    /// logged on to), tried last.
    pub other: &'static [&'static str],
    pub rows: &'static [&'static str],
    pub source: &'static [&'static str],
    pub outcome: &'static [&'static str],
}

/// Map key/value fields onto an event. `fallback_action` is the header's
/// event name; `header_time` the syslog header's time.
pub(crate) fn to_event(
    f: &Fields,
    m: &FieldMapping,
    names: &KvNames,
    fallback_action: Option<&str>,
    header_time: Option<i64>,
    e: At,
) -> Result<AccessEvent, ParseError> {
    let pick = |mapped: &Option<String>, keys: &[&str], labels: &[&str]| {
        mapped
            .as_deref()
            .and_then(|n| f.named(n))
            .or_else(|| f.first_key(keys))
            .or_else(|| f.first_label(labels))
    };
    let mut d = Draft {
        time_ms: match pick(&m.time, names.time, &[]) {
            Some((k, v)) => Some(parse_time(v).map_err(|msg| e.field(&k, msg))?),
            None => header_time,
        },
        user: m
            .user
            .as_deref()
            .and_then(|n| f.named(n))
            .or_else(|| f.first_person(names.user))
            .map(|(_, v)| v.to_string()),
        action: pick(&m.action, names.action, ACTION_LABELS)
            .map(|(_, v)| v.to_string())
            .or_else(|| fallback_action.map(str::to_string)),
        ..Draft::default()
    };
    let ns = f
        .first_label(NAMESPACE_LABELS)
        .or_else(|| f.first_key(&["database", "schema"]))
        .map(|(_, v)| v.to_string());
    d.resource = match pick(&m.resource, names.resource, RESOURCE_LABELS) {
        Some((_, v)) => Some(qualify(ns.as_deref(), v)),
        None => f
            .first_label(QUERY_LABELS)
            .and_then(|(_, q)| sql::tables(q).into_iter().next())
            .map(|t| qualify(ns.as_deref(), &t))
            .or_else(|| f.first_key(names.other).map(|(_, v)| v.to_string())),
    };
    let rows = m
        .rows
        .as_deref()
        .and_then(|n| f.named(n))
        .or_else(|| f.first_label(ROWS_LABELS))
        .or_else(|| f.first_key(names.rows));
    if let Some((k, v)) = rows {
        d.rows = Some(super::parse_u64(v, e, &k)?);
    }
    if let Some((k, v)) = m.bytes.as_deref().and_then(|n| f.named(n)) {
        d.bytes = Some(super::parse_u64(v, e, &k)?);
    }
    d.source = pick(&m.source, names.source, &[]).map(|(_, v)| v.to_string());
    if let Some((_, v)) = pick(&m.outcome, names.outcome, &[]) {
        d.outcome = parse_outcome_lenient(v.trim_start_matches('/'));
    }
    let name = |mapped: &Option<String>, default: &'static str| -> String {
        mapped.clone().unwrap_or_else(|| default.to_string())
    };
    d.build(
        e,
        [
            &name(&m.time, names.time[0]),
            &name(&m.user, names.user[0]),
            &name(&m.action, names.action[0]),
            &name(&m.resource, "table"),
        ],
    )
}

const CEF_NAMES: KvNames = KvNames {
    time: &["rt", "end", "start"],
    user: &["suser", "duser"],
    action: &["act"],
    resource: &[],
    other: &["filePath", "fname", "request", "dhost", "dst"],
    rows: &["cnt"],
    source: &["src", "shost"],
    outcome: &["outcome", "categoryOutcome", "cat"],
};

/// Parses CEF lines.
pub struct CefParser {
    mapping: FieldMapping,
}

impl CefParser {
    /// A parser applying `mapping` overrides before the built-in keys.
    pub fn new(mapping: FieldMapping) -> Self {
        CefParser { mapping }
    }

    /// Parse one CEF line.
    pub fn parse(&self, line: &str, n: u64) -> Result<AccessEvent, ParseError> {
        let e = At { line: n };
        let start = line
            .find("CEF:")
            .ok_or_else(|| e.line("no `CEF:` header"))?;
        let header_time = syslog_time(&line[..start]);
        let (header, ext) = split_header(&line[start + 4..], 7).ok_or_else(|| {
            e.line("a CEF header has 7 `|`-separated fields before the extension")
        })?;
        let version = header[0].trim();
        if !matches!(version, "0" | "1") {
            return Err(e.field(
                "version",
                format!("CEF version `{}` is not 0 or 1", clip(version)),
            ));
        }
        let fields = extension(ext);
        let name = Some(header[5].as_str()).filter(|s| !s.is_empty());
        to_event(&fields, &self.mapping, &CEF_NAMES, name, header_time, e)
    }
}

impl LineParser for CefParser {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        if !text.trim().is_empty() {
            out.push(self.parse(text, line));
        }
        Ok(())
    }
}

/// Split `n` header fields separated by unescaped `|` off `s` (unescaping
/// `\|` and `\\`); the rest is the extension.
pub(crate) fn split_header(s: &str, n: usize) -> Option<(Vec<String>, &str)> {
    let mut fields = Vec::with_capacity(n);
    let mut cur = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, x @ ('|' | '\\'))) => cur.push(x),
                Some((_, x)) => {
                    cur.push('\\');
                    cur.push(x);
                }
                None => cur.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == n {
                    return Some((fields, &s[i + 1..]));
                }
            }
            c => cur.push(c),
        }
    }
    None
}

/// Parse a CEF extension: `key=value` pairs where values run until the
/// space before the next key and escape `\=`, `\\`, `\n`, `\r`.
pub(crate) fn extension(ext: &str) -> Fields {
    let b = ext.as_bytes();
    // (key start, '=' position) of every key.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'=' => {
                let mut k = i;
                while k > 0 && is_key_byte(b[k - 1]) {
                    k -= 1;
                }
                if k < i && (k == 0 || b[k - 1] == b' ') {
                    keys.push((k, i));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    let mut fields = Fields::default();
    for (j, &(k, eq)) in keys.iter().enumerate() {
        let end = keys.get(j + 1).map_or(b.len(), |&(next, _)| next);
        let raw = ext[eq + 1..end].trim_end_matches(' ');
        fields.push(ext[k..eq].to_string(), unescape_value(raw));
    }
    fields
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']')
}

fn unescape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(x @ ('=' | '\\' | '|')) => out.push(x),
            Some(x) => {
                out.push('\\');
                out.push(x);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The time in a syslog header before a CEF/LEEF payload: RFC 5424
/// (`<PRI>1 2026-01-05T14:03:11Z host ...`) or RFC 3164
/// (`<PRI>Jan  5 14:03:11 host ...`, taken as UTC in the current year,
/// since RFC 3164 has neither). `None` when there is no header.
pub(crate) fn syslog_time(header: &str) -> Option<i64> {
    let h = header.trim();
    let rest = match h.strip_prefix('<') {
        Some(r) => r.split_once('>')?.1,
        None => h,
    };
    if let Some(r) = rest.strip_prefix("1 ") {
        let ts = r.split_whitespace().next()?;
        return ts
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond());
    }
    let words: Vec<&str> = rest.split_whitespace().take(3).collect();
    if words.len() < 3 {
        return None;
    }
    let year = jiff::Zoned::now().year();
    parse_time(&format!("{} {} {year} {}", words[0], words[1], words[2])).ok()
}

/// Parse the time forms CEF and LEEF use: epoch milliseconds, RFC 3339,
/// `MMM dd yyyy HH:mm:ss[.SSS][ zone]` and `MMM dd HH:mm:ss[.SSS][ zone]`
/// (the current year). Zones: `UTC`, `GMT`, `Z` or a numeric offset; none
/// means UTC.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = super::json::parse_time(s) {
        return Ok(ms);
    }
    let mut words: Vec<&str> = s.split_whitespace().collect();
    let mut offset: Option<jiff::tz::Offset> = None;
    if let Some(last) = words.last().copied() {
        if matches!(last, "UTC" | "GMT" | "Z") {
            words.pop();
            offset = Some(jiff::tz::Offset::UTC);
        } else if last.starts_with(['+', '-']) && words.len() > 3 {
            let t = jiff::fmt::strtime::parse("%z", last)
                .ok()
                .and_then(|b| b.offset());
            if let Some(o) = t {
                words.pop();
                offset = Some(o);
            }
        }
    }
    if words.len() == 3 {
        words.insert(2, "");
    }
    let text = if words.len() == 4 && words[2].is_empty() {
        format!(
            "{} {} {} {}",
            words[0],
            words[1],
            jiff::Zoned::now().year(),
            words[3]
        )
    } else {
        words.join(" ")
    };
    let bad = || {
        format!(
            "`{}` is not epoch ms, RFC 3339 or `MMM dd yyyy HH:mm:ss`",
            clip(s)
        )
    };
    let fmt = if text.contains('.') {
        "%b %d %Y %H:%M:%S%.f"
    } else {
        "%b %d %Y %H:%M:%S"
    };
    let dt = jiff::civil::DateTime::strptime(fmt, &text).map_err(|_| bad())?;
    let tz = jiff::tz::TimeZone::fixed(offset.unwrap_or(jiff::tz::Offset::UTC));
    dt.to_zoned(tz)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| bad())
}

#[cfg(test)]
#[path = "cef_tests.rs"]
mod tests;
