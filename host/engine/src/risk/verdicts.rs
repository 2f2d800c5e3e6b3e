//! Analysts' verdicts on alerts: `benign` or `malicious`, recorded in an
//! append-only JSON-lines file and applied at event time.
//!
//! ```json
//! {"time":"2026-01-12T09:30:00Z","id":"3f1c…","verdict":"benign","note":"DBA maintenance","analyst":"kim"}
//! ```
//!
//! `time` is the event time from which the verdict applies; `id` an alert's
//! `id`. The scorer applies a verdict before the first block of the event
//! sequence ([`crate::pipeline::block`]) whose first event is at or after
//! `time`, once every earlier verdict of the file has
//! been applied. So replaying a log with its verdicts file gives the same
//! alerts, and so does a run resumed from a checkpoint (which records how
//! many of the file's verdicts it has applied).
//!
//! What a verdict does is the aggregator's
//! ([`crate::risk::aggregate::Aggregator::apply_verdict`]).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// An analyst's judgement of an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// Expected behaviour: close the episode, reset the risk, learn it.
    Benign,
    /// An attack: keep the episode open and its events out of baselines.
    Malicious,
}

impl VerdictKind {
    /// Its name as written.
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Benign => "benign",
            VerdictKind::Malicious => "malicious",
        }
    }
}

impl std::str::FromStr for VerdictKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "benign" => Ok(VerdictKind::Benign),
            "malicious" => Ok(VerdictKind::Malicious),
            _ => Err(format!("`{s}` is not a verdict (benign or malicious)")),
        }
    }
}

/// One line of the verdicts file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Event time from which it applies, RFC 3339.
    pub time: String,
    /// The alert's `id`.
    pub id: String,
    /// `benign` or `malicious`.
    pub verdict: VerdictKind,
    /// Why, in the analyst's words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Who gave it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub analyst: String,
}

/// The verdicts file in a state directory.
pub const FILE_NAME: &str = "verdicts.jsonl";

/// Longest note or analyst name kept, bytes: verdicts come from HTTP
/// clients too, and each one is kept in the state.
pub const MAX_TEXT_BYTES: usize = 1024;

/// How far past the newest event scored a verdict's time may be, ms (a
/// day). Verdicts apply in file order, so one timed far ahead would hold
/// back every verdict given after it; a time beyond the data is a mistake.
pub const MAX_AHEAD_MS: i64 = 86_400_000;

/// Longest alert id accepted, bytes.
pub const MAX_ID_BYTES: usize = 128;

impl Verdict {
    /// Its time in ms since the epoch, after checking every field.
    pub fn check(&self) -> Result<i64, String> {
        if self.id.is_empty() || self.id.len() > MAX_ID_BYTES {
            return Err(format!(
                "`id` must be an alert id of 1 to {MAX_ID_BYTES} bytes"
            ));
        }
        if self.note.len() > MAX_TEXT_BYTES || self.analyst.len() > MAX_TEXT_BYTES {
            return Err(format!(
                "`note` and `analyst` must be at most {MAX_TEXT_BYTES} bytes"
            ));
        }
        // RFC 3339 in the range events may have (1970 to the end of 9999),
        // read as event times are: a verdict outside it could never apply.
        let not_rfc_3339 = |why: String| {
            format!(
                "`time` {:?} is not an RFC 3339 time from 1970 to 9999: {why}",
                crate::event::clip(&self.time)
            )
        };
        if self.time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_rfc_3339("a number".into()));
        }
        crate::event::parse_timestamp_text(&self.time)
            .map_err(not_rfc_3339)
            .and_then(|ms| {
                (crate::event::MIN_TIME_MS..=crate::event::MAX_TIME_MS)
                    .contains(&ms)
                    .then_some(ms)
                    .ok_or_else(|| not_rfc_3339("out of range".into()))
            })
    }
}

/// A verdict that could not be read or applied, naming where it is.
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not a valid verdict, or names an alert that does not exist.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file (or where the verdict came from).
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A verdict to append is timed before the file's last one: verdicts
    /// apply in the file's order, so it would wait behind that one.
    #[error(
        "{path}: this verdict is timed {time}, before line {line}'s {last}: verdicts apply in order as event time reaches them, so give a time at or after it (`--at`, or `time`)"
    )]
    OutOfOrder {
        /// The file.
        path: PathBuf,
        /// The new verdict's time.
        time: String,
        /// The last line's number.
        line: u64,
        /// The last line's time.
        last: String,
    },
}

/// A verdict with where it came from, ready to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingVerdict {
    /// The verdict.
    pub verdict: Verdict,
    /// Its time, ms since the epoch.
    pub time_ms: i64,
    /// The file it is in.
    pub path: PathBuf,
    /// Its line there, from 1.
    pub line: u64,
}

/// Make an analyst's verdict on alert `id` into a line of the verdicts
/// file, or say why it cannot be one.
///
/// `known` is whether the alert exists in the state the verdict is given
/// against; `released_ms` the newest event time already scored there. The
/// verdict applies from `at` (event time, ms) when given, else from just
/// after `released_ms`: never to events already scored, so that replaying
/// the log with its verdicts file applies it at the same point as the run
/// that recorded it, and at most [`MAX_AHEAD_MS`] after them.
pub fn admit(
    id: &str,
    verdict: VerdictKind,
    note: &str,
    analyst: &str,
    at: Option<i64>,
    released_ms: Option<i64>,
    known: bool,
) -> Result<Verdict, String> {
    if !known {
        return Err(format!(
            "no alert has id `{id}` (an alert's `id` field, as written in the alert output)"
        ));
    }
    // Just after the newest event, but never past the last instant an
    // event may have (a log that reached it leaves no later one).
    let earliest = released_ms.map_or(i64::MIN, |t| {
        t.saturating_add(1).min(crate::event::MAX_TIME_MS)
    });
    let time_ms = match at {
        Some(t) if t < earliest => {
            return Err(format!(
                "the verdict's time {} is before the newest event already scored ({}): a verdict applies only to events not yet scored, so that a replay applies it at the same point",
                crate::event::format_time(t),
                crate::event::format_time(earliest - 1)
            ));
        }
        Some(t) if released_ms.is_some_and(|r| t > r.saturating_add(MAX_AHEAD_MS)) => {
            return Err(format!(
                "the verdict's time {} is more than a day after the newest event scored ({}): verdicts apply in the order given, so one timed beyond the data would hold back every later one",
                crate::event::format_time(t),
                crate::event::format_time(earliest - 1)
            ));
        }
        Some(t) => t,
        None => earliest,
    };
    let v = Verdict {
        time: crate::event::format_time(time_ms),
        id: id.to_string(),
        verdict,
        note: note.to_string(),
        analyst: analyst.to_string(),
    };
    v.check()?;
    Ok(v)
}

/// Read a verdicts file, every line checked; a missing file is empty.
pub fn read(path: &Path) -> Result<Vec<PendingVerdict>, VerdictError> {
    let io = |source| VerdictError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i as u64 + 1;
        let invalid = |message: String| VerdictError::Invalid {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let text = match line {
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(invalid("not valid UTF-8".into()));
            }
            line => line.map_err(io)?,
        };
        if text.trim().is_empty() {
            continue;
        }
        let verdict: Verdict = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let time_ms = verdict.check().map_err(invalid)?;
        // Verdicts apply in the file's order as event time reaches each, so
        // one timed after a later line would hold that line back unseen.
        if let Some(before) = out.last().filter(|b: &&PendingVerdict| b.time_ms > time_ms) {
            return Err(invalid(format!(
                "`time` {} is before line {}'s {}: verdicts apply in order, so each must be timed at or after the one before",
                verdict.time, before.line, before.verdict.time
            )));
        }
        out.push(PendingVerdict {
            verdict,
            time_ms,
            path: path.to_path_buf(),
            line: line_no,
        });
    }
    Ok(out)
}

/// Append one verdict to a verdicts file (created when missing) and make
/// it durable before returning: an acknowledged verdict is never lost.
/// Returns its line number.
pub fn append(path: &Path, verdict: &Verdict) -> Result<u64, VerdictError> {
    let io = |source| VerdictError::Io {
        path: path.to_path_buf(),
        source,
    };
    let lines = match std::fs::read(path) {
        Ok(bytes) => {
            if bytes.last().is_some_and(|b| *b != b'\n') {
                return Err(VerdictError::Invalid {
                    path: path.to_path_buf(),
                    line: bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1,
                    message: "the last line is cut off (no newline); fix or remove it first".into(),
                });
            }
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
            if let Some((n, last)) = last_verdict(&bytes, lines)
                && let (Ok(t), Ok(new)) = (last.check(), verdict.check())
                && new < t
            {
                return Err(VerdictError::OutOfOrder {
                    path: path.to_path_buf(),
                    time: verdict.time.clone(),
                    line: n,
                    last: last.time,
                });
            }
            lines
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io(e)),
    };
    // The note is an analyst's text: hidden characters are escaped.
    let mut line = crate::json::to_vec(verdict).map_err(|e| io(std::io::Error::other(e)))?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(&line).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(lines + 1)
}

/// The last verdict of a file's `bytes` (`lines` lines, each ending in a
/// newline) and its line number, if it has one that reads as a verdict.
fn last_verdict(bytes: &[u8], lines: u64) -> Option<(u64, Verdict)> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines()
        .rev()
        .zip((1..=lines).rev())
        .find(|(l, _)| !l.trim().is_empty())
        .and_then(|(l, n)| Some((n, serde_json::from_str(l).ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(id: &str) -> Verdict {
        Verdict {
            time: "2026-01-05T10:00:00Z".into(),
            id: id.into(),
            verdict: VerdictKind::Benign,
            note: "maintenance".into(),
            analyst: "kim".into(),
        }
    }

    #[test]
    fn appended_verdicts_read_back_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdicts.jsonl");
        assert!(read(&path).unwrap().is_empty());
        assert_eq!(append(&path, &verdict("a")).unwrap(), 1);
        assert_eq!(append(&path, &verdict("b")).unwrap(), 2);
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].verdict, verdict("b"));
        assert_eq!(back[1].line, 2);
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.jsonl");
        std::fs::write(
            &path,
            "{\"time\":\"2026-01-05T10:00:00Z\",\"id\":\"a\",\"verdict\":\"benign\"}\n{\"time\":\"yesterday\",\"id\":\"a\",\"verdict\":\"benign\"}\n",
        )
        .unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("v.jsonl:2:") && e.contains("yesterday"), "{e}");
        std::fs::write(
            &path,
            "{\"time\":\"2026-01-05T10:00:00Z\",\"id\":\"a\",\"verdict\":\"fine\"}\n",
        )
        .unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("v.jsonl:1:") && e.contains("fine"), "{e}");
        std::fs::write(
            &path,
            b"{\"time\":\"2026-01-05T10:00:00Z\",\"id\":\"a\",\"verdict\":\"benign\"}\n{\"note\":\"caf\xe9\"}\n",
        )
        .unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("v.jsonl:2: not valid UTF-8"), "{e}");
    }

    #[test]
    fn admitted_verdicts_apply_after_what_was_scored() {
        let v = admit("a", VerdictKind::Benign, "", "kim", None, Some(1_000), true).unwrap();
        assert_eq!(v.time, "1970-01-01T00:00:01.001Z");
        assert_eq!(v.check().unwrap(), 1_001);
        let later = admit(
            "a",
            VerdictKind::Malicious,
            "",
            "",
            Some(5_000),
            Some(1_000),
            true,
        );
        assert_eq!(later.unwrap().check().unwrap(), 5_000);
        let e = admit(
            "a",
            VerdictKind::Benign,
            "",
            "",
            Some(500),
            Some(1_000),
            true,
        )
        .unwrap_err();
        assert!(e.contains("before the newest event already scored"), "{e}");
        let far = admit(
            "a",
            VerdictKind::Benign,
            "",
            "",
            Some(MAX_AHEAD_MS + 1_001),
            Some(1_000),
            true,
        );
        assert!(far.unwrap_err().contains("more than a day after"));
        let e = admit("zz", VerdictKind::Benign, "", "", None, Some(1_000), false).unwrap_err();
        assert!(e.contains("no alert has id `zz`"), "{e}");
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        assert!(admit("a", VerdictKind::Benign, &long, "", None, Some(0), true).is_err());
        // A log that reached the last instant an event may have still takes
        // verdicts, at that instant.
        let last = crate::event::MAX_TIME_MS;
        let v = admit("a", VerdictKind::Benign, "", "", None, Some(last), true).unwrap();
        assert_eq!(v.time, "9999-12-31T23:59:59.999Z");
    }

    fn at(id: &str, time: &str) -> Verdict {
        Verdict {
            time: time.into(),
            id: id.into(),
            verdict: VerdictKind::Benign,
            note: String::new(),
            analyst: String::new(),
        }
    }

    #[test]
    fn verdicts_stay_in_time_order_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdicts.jsonl");
        append(&path, &at("a", "2026-01-06T00:00:00Z")).unwrap();
        append(&path, &at("b", "2026-01-06T00:00:00Z")).unwrap();
        // Appending one timed before the last is refused, naming both.
        let e = append(&path, &at("c", "2026-01-05T00:00:00Z")).unwrap_err();
        assert!(matches!(e, VerdictError::OutOfOrder { line: 2, .. }), "{e}");
        assert!(e.to_string().contains("2026-01-05T00:00:00Z"), "{e}");
        assert_eq!(read(&path).unwrap().len(), 2);
        // A file edited out of order is refused where it goes back.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&serde_json::to_string(&at("d", "2025-12-31T00:00:00Z")).unwrap());
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(
            e.contains("verdicts.jsonl:3:") && e.contains("before line 2's"),
            "{e}"
        );
    }
}
