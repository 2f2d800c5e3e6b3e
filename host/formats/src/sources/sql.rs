//! A small SQL table extractor for logs that carry only the statement text.
//!
//! MySQL's audit logs (and pgAudit SESSION lines without an object name)
//! name no table; the statement does. This finds the tables after `FROM`,
//! `JOIN`, `INTO`, `UPDATE` and `TABLE` (including comma lists in `FROM`),
//! skipping string literals and comments and unquoting `"x"` and `` `x` ``
//! identifiers. It is a lexer, not a parser: tables referenced only inside
//! function bodies, dynamic SQL, CTE names (which are reported as if they
//! were tables), and vendor syntax like `FROM a STRAIGHT_JOIN b` are its
//! known limits. Unquoted names are kept as written.

use std::collections::HashSet;

use super::At;
use ueba_engine::event::ParseError;

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Quoted(String),
    Dot,
    Comma,
    Open,
    Other,
}

fn lex(sql: &str) -> Vec<Tok<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'\'' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                out.push(Tok::Other);
            }
            b'"' | b'`' => {
                let q = c;
                let mut s = Vec::new();
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            s.push(q);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    s.push(b[i]);
                    i += 1;
                }
                i += 1;
                out.push(Tok::Quoted(String::from_utf8_lossy(&s).into_owned()));
            }
            b'.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Tok::Word(&sql[start..i]));
            }
            _ => {
                if !c.is_ascii_whitespace() {
                    out.push(Tok::Other);
                }
                i += 1;
            }
        }
    }
    out
}

const NOT_A_NAME: &[&str] = &[
    "select",
    "lateral",
    "only",
    "where",
    "on",
    "using",
    "set",
    "values",
    "as",
    "join",
    "inner",
    "left",
    "right",
    "full",
    "cross",
    "natural",
    "outer",
    "group",
    "order",
    "limit",
    "having",
    "union",
    "window",
    "from",
    "into",
    "if",
    "exists",
    "not",
    "ignore",
    "low_priority",
    "quick",
    "delayed",
    "high_priority",
    "unnest",
    "generate_series",
    "dual",
];

fn is_keyword(w: &str, list: &[&str]) -> bool {
    list.iter().any(|k| w.eq_ignore_ascii_case(k))
}

/// Read a possibly qualified name at `toks[i..]`; returns it and the index after it.
fn name_at(toks: &[Tok<'_>], mut i: usize) -> Option<(String, usize)> {
    let mut parts = Vec::new();
    loop {
        match toks.get(i)? {
            Tok::Word(w) if parts.is_empty() && is_keyword(w, NOT_A_NAME) => return None,
            Tok::Word(w) => parts.push((*w).to_string()),
            Tok::Quoted(q) => parts.push(q.clone()),
            _ => return None,
        }
        i += 1;
        if toks.get(i) == Some(&Tok::Dot) && parts.len() < 3 {
            i += 1;
        } else {
            break;
        }
    }
    Some((parts.join("."), i))
}

/// The tables of the statement in `field` of line `e`, one event's worth
/// each: an error naming the line and field when there are more than
/// [`super::MAX_EVENTS_PER_RECORD`], so the record is counted as invalid
/// (or stops the run) instead of losing its other tables in silence.
pub(crate) fn each_table(sql: &str, e: At, field: &str) -> Result<Vec<String>, ParseError> {
    let all = tables(sql);
    e.at_most_events(all.len(), field, "tables in the statement")?;
    Ok(all)
}

/// The tables a statement reads or writes, in order of appearance, each once.
pub fn tables(sql: &str) -> Vec<String> {
    let toks = lex(sql);
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |t: String, out: &mut Vec<String>| {
        if seen.insert(t.clone()) {
            out.push(t);
        }
    };
    let mut i = 0;
    while i < toks.len() {
        let Tok::Word(w) = toks[i] else {
            i += 1;
            continue;
        };
        let lower = w.to_ascii_lowercase();
        let list = lower == "from";
        if !matches!(
            lower.as_str(),
            "from" | "join" | "into" | "update" | "table"
        ) {
            i += 1;
            continue;
        }
        i += 1;
        // `UPDATE LOW_PRIORITY t`, `INSERT IGNORE INTO`, `TRUNCATE TABLE ONLY t`,
        // `CREATE TABLE IF NOT EXISTS t`.
        while let Some(Tok::Word(m)) = toks.get(i) {
            if is_keyword(
                m,
                &["only", "low_priority", "ignore", "if", "not", "exists"],
            ) {
                i += 1;
            } else {
                break;
            }
        }
        let Some((t, next)) = name_at(&toks, i) else {
            continue;
        };
        push(t, &mut out);
        i = next;
        if !list {
            continue;
        }
        // FROM a [AS] x, b [AS] y, ...
        loop {
            if let Some(Tok::Word(a)) = toks.get(i)
                && a.eq_ignore_ascii_case("as")
            {
                i += 1;
            }
            match toks.get(i) {
                Some(Tok::Word(a)) if !is_keyword(a, NOT_A_NAME) => i += 1,
                Some(Tok::Quoted(_)) => i += 1,
                _ => {}
            }
            if toks.get(i) != Some(&Tok::Comma) {
                break;
            }
            i += 1;
            match name_at(&toks, i) {
                Some((t, next)) => {
                    push(t, &mut out);
                    i = next;
                }
                None => break,
            }
        }
    }
    out
}

/// The statement's first keyword, lower case (`select`, `insert`, ...), or
/// `with` for CTEs, as the event's action when the log gives none.
pub fn verb(sql: &str) -> Option<String> {
    lex(sql).into_iter().find_map(|t| match t {
        Tok::Word(w) => Some(w.to_ascii_lowercase()),
        _ => None,
    })
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
