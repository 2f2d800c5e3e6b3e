//! IBM QRadar Log Event Extended Format, versions 1.0 and 2.0, bare or
//! behind a syslog header.
//!
//! `LEEF:1.0|Vendor|Product|Version|EventID|k=v<TAB>k=v...` and
//! `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|k=v<D>k=v...` where the
//! 2.0 delimiter is one character (`^`) or its hex code (`x5E`, `0x5E`,
//! `x09`); when 2.0 omits it, or leaves it empty, attributes are separated
//! by tabs as in 1.0.
//!
//! | event field | LEEF attributes, first present wins |
//! |---|---|
//! | time | `devTime` (epoch ms, `MMM dd yyyy HH:mm:ss[.SSS][ zone]`, RFC 3339; `devTimeFormat` is not interpreted); else the syslog header's time |
//! | user | `usrName`, `accountName`, `suser` |
//! | action | `action`, `act`, `operation`, else the header's EventID |
//! | resource | `resource`, `table`, `object`, qualified with `database`/`schema`; else the first table of `query`/`sql`/`statement`; else, for events that are not a database's, `filePath`, `fileName`, `url`, `dstHostName`, `dst` |
//! | rows | `rows`, `rowCount`, `cnt` |
//! | bytes | only a `[formats.mapping]` attribute |
//! | source | `src`, `srcPreNAT`, `identHostName` |
//! | outcome | `outcome`, `status` |

use super::cef::{Fields, KvNames, split_header, syslog_time, to_event};
use super::{At, FieldMapping, FormatError, LineParser, clip};
use crate::input::Parsed;
use ueba_engine::event::{AccessEvent, ParseError};

const LEEF_NAMES: KvNames = KvNames {
    time: &["devTime"],
    user: &["usrName", "accountName", "suser"],
    action: &["action", "act", "operation"],
    resource: &["resource", "table", "object", "objectName"],
    other: &["filePath", "fileName", "url", "dstHostName", "dst"],
    rows: &["rows", "rowCount", "cnt"],
    source: &["src", "srcPreNAT", "identHostName"],
    outcome: &["outcome", "status"],
};

/// Parses LEEF lines.
pub struct LeefParser {
    mapping: FieldMapping,
}

impl LeefParser {
    /// A parser applying `mapping` overrides before the built-in attributes.
    pub fn new(mapping: FieldMapping) -> Self {
        LeefParser { mapping }
    }

    /// Parse one LEEF line.
    pub fn parse(&self, line: &str, n: u64) -> Result<AccessEvent, ParseError> {
        let e = At { line: n };
        let start = line
            .find("LEEF:")
            .ok_or_else(|| e.line("no `LEEF:` header"))?;
        let header_time = syslog_time(&line[..start]);
        let body = &line[start + 5..];
        let (version, _) = body
            .split_once('|')
            .ok_or_else(|| e.line("a LEEF header has `|`-separated fields"))?;
        let (header, attrs, delim) = match version.trim() {
            "1.0" | "1" => {
                let (h, rest) = split_header(body, 5)
                    .ok_or_else(|| e.line("a LEEF 1.0 header has 5 `|`-separated fields"))?;
                (h, rest, '\t')
            }
            "2.0" | "2" => {
                let (h, rest) = split_header(body, 5).ok_or_else(|| {
                    e.line("a LEEF 2.0 header has at least 5 `|`-separated fields")
                })?;
                // The optional sixth field is the delimiter; it is present
                // when the rest holds another `|` before any `=`.
                match rest.find('|') {
                    Some(i) if !rest[..i].contains('=') => {
                        (h, &rest[i + 1..], delimiter(&rest[..i], e)?)
                    }
                    _ => (h, rest, '\t'),
                }
            }
            v => {
                return Err(e.field(
                    "version",
                    format!("LEEF version `{}` is not 1.0 or 2.0", clip(v)),
                ));
            }
        };
        let mut fields = Fields::default();
        for pair in attrs.split(delim) {
            if let Some((k, v)) = pair.split_once('=') {
                fields.push(k.trim().to_string(), v.to_string());
            }
        }
        let event_id = Some(header[4].as_str()).filter(|s| !s.is_empty());
        to_event(
            &fields,
            &self.mapping,
            &LEEF_NAMES,
            event_id,
            header_time,
            e,
        )
    }
}

/// A LEEF 2.0 delimiter: one character, or `xHH` / `0xHH` hex.
fn delimiter(s: &str, e: At) -> Result<char, ParseError> {
    let bad = || {
        e.field(
            "delimiter",
            format!("`{}` is not one character or xHH hex", clip(s)),
        )
    };
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Ok('\t'),
        (Some(c), None) => Ok(c),
        _ => {
            let hex = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .or_else(|| s.strip_prefix('x'))
                .or_else(|| s.strip_prefix('X'))
                .ok_or_else(bad)?;
            u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(bad)
        }
    }
}

impl LineParser for LeefParser {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        if !text.trim().is_empty() {
            out.push(self.parse(text, line));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "leef_tests.rs"]
mod tests;
