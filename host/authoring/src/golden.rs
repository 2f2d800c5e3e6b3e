//! Findings in a stable form, and comparing them with an expectations file.
//!
//! `ueba plugin test --expect FILE` keeps a detector's findings on a sample
//! as JSON lines, one finding per line with the fields always in the same
//! order, so the file reads well in review and diffs cleanly when the
//! detector changes. Lines are compared as JSON values (so spacing in a
//! hand-edited file does not matter), and differences are shown as a
//! line diff with the fields that changed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::SerializeMap;

use super::AuthoringError;

/// One finding as the expectations file holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// The `seq` of the event: its position in the sample, from 0, after
    /// ordering by event time.
    pub event: u64,
    /// Event time, RFC 3339 UTC.
    pub time: String,
    /// Who acted.
    pub user: String,
    /// What was done.
    pub action: String,
    /// What was touched.
    pub resource: String,
    /// The score, rounded to one decimal as alerts show it.
    pub score: f64,
    /// The detector's reason.
    pub reason: String,
    /// The evidence, in the detector's order.
    pub evidence: Evidence,
}

/// Evidence as ordered (key, value) pairs, written as a JSON object whose
/// keys keep the detector's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence(pub Vec<(String, serde_json::Value)>);

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Record {
    /// The record as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        // Plain data with string keys always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The whole expectations file for `records`.
pub fn to_jsonl(records: &[Record]) -> String {
    records.iter().map(|r| r.to_line() + "\n").collect()
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// In both; (expected line number, text).
    Same(usize, String),
    /// Expected but not found; (expected line number, text).
    Missing(usize, String),
    /// Found but not expected.
    Unexpected(String),
}

/// How the findings differ from the expectations file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    /// The expectations file.
    pub path: PathBuf,
    /// Every line, in order, changed or not.
    pub lines: Vec<Line>,
}

impl Diff {
    /// Lines expected but not found, and found but not expected.
    pub fn counts(&self) -> (usize, usize) {
        let missing = self
            .lines
            .iter()
            .filter(|l| matches!(l, Line::Missing(..)))
            .count();
        let unexpected = self
            .lines
            .iter()
            .filter(|l| matches!(l, Line::Unexpected(_)))
            .count();
        (missing, unexpected)
    }
}

impl fmt::Display for Diff {
    /// Changed lines with one line of context, `-` for expected lines not
    /// found and `+` for findings not expected; a `-`/`+` pair is followed
    /// by the fields that differ.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- expected ({})", self.path.display())?;
        writeln!(f, "+++ found")?;
        let changed = |i: usize| !matches!(self.lines.get(i), Some(Line::Same(..)) | None);
        let mut skipped = false;
        for (i, line) in self.lines.iter().enumerate() {
            let near = changed(i) || (i > 0 && changed(i - 1)) || changed(i + 1);
            if !near {
                skipped = true;
                continue;
            }
            if skipped {
                writeln!(f, "  ...")?;
                skipped = false;
            }
            match line {
                Line::Same(n, t) => writeln!(f, "  {n:>4} {t}")?,
                Line::Missing(n, t) => writeln!(f, "- {n:>4} {t}")?,
                Line::Unexpected(t) => {
                    writeln!(f, "+      {t}")?;
                    if let Some(Line::Missing(_, old)) = i.checked_sub(1).map(|j| &self.lines[j]) {
                        for d in field_changes(old, t) {
                            writeln!(f, "         {d}")?;
                        }
                    }
                }
            }
        }
        if skipped {
            writeln!(f, "  ...")?;
        }
        Ok(())
    }
}

/// "field: expected X, found Y" for each top-level field that differs.
fn field_changes(old: &str, new: &str) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (
        serde_json::from_str::<serde_json::Value>(old),
        serde_json::from_str::<serde_json::Value>(new),
    ) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a
        .keys()
        .chain(b.keys().filter(|k| !a.contains_key(*k)))
        .collect();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
            format!("{k}: expected {}, found {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

/// Compare findings with the expectations file's text. `Ok(None)` means
/// they match; a line that is not a JSON object is an error naming it.
pub fn compare(
    path: &Path,
    expected: &str,
    found: &[Record],
) -> Result<Option<Diff>, AuthoringError> {
    let mut want: Vec<(usize, String, serde_json::Value)> = Vec::new();
    for (i, text) in expected.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| AuthoringError::Golden {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("not JSON: {e}"),
            })?;
        if !value.is_object() {
            return Err(AuthoringError::Golden {
                path: path.to_path_buf(),
                line: i + 1,
                message: "expected one finding as a JSON object".into(),
            });
        }
        want.push((i + 1, text.to_string(), value));
    }
    let got: Vec<(String, serde_json::Value)> = found
        .iter()
        .map(|r| {
            let line = r.to_line();
            let value = serde_json::to_value(r).unwrap_or_default();
            (line, value)
        })
        .collect();
    let lines = align(&want, &got);
    if lines.iter().all(|l| matches!(l, Line::Same(..))) {
        return Ok(None);
    }
    Ok(Some(Diff {
        path: path.to_path_buf(),
        lines,
    }))
}

/// A longest-common-subsequence alignment of expected and found lines by
/// JSON value. Samples are small; past a few million cells the lines are
/// paired by position instead, which still shows every difference.
fn align(
    want: &[(usize, String, serde_json::Value)],
    got: &[(String, serde_json::Value)],
) -> Vec<Line> {
    let (n, m) = (want.len(), got.len());
    let mut out = Vec::with_capacity(n.max(m));
    if n.saturating_mul(m) > 4_000_000 {
        for i in 0..n.max(m) {
            match (want.get(i), got.get(i)) {
                (Some(w), Some(g)) if w.2 == g.1 => out.push(Line::Same(w.0, w.1.clone())),
                (w, g) => {
                    if let Some(w) = w {
                        out.push(Line::Missing(w.0, w.1.clone()));
                    }
                    if let Some(g) = g {
                        out.push(Line::Unexpected(g.0.clone()));
                    }
                }
            }
        }
        return out;
    }
    // lcs[i][j]: length of the LCS of want[i..] and got[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if want[i].2 == got[j].1 {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && want[i].2 == got[j].1 {
            out.push(Line::Same(want[i].0, want[i].1.clone()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            out.push(Line::Missing(want[i].0, want[i].1.clone()));
            i += 1;
        } else {
            out.push(Line::Unexpected(got[j].0.clone()));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
#[path = "golden_tests.rs"]
mod tests;
