//! The analyst endpoints: what the service knows about incidents and users,
//! and analysts' verdicts on alerts.
//!
//! The scorer lives on the worker thread ([`super::queue`]), so a handler
//! validates what the client sent here, then sends an [`Ask`] through the
//! same channel as events and waits for the answer. An ask is therefore
//! answered after every event queued before it has been pushed into the
//! scorer. Pushed is not yet scored: events held for reordering are scored
//! as later ones arrive or after `serve.idle_flush_ms` without any, as
//! `ueba score` does, so their alerts and incidents show up then.
//!
//! A verdict is appended (and fsynced) to the verdicts file by the worker
//! before it is queued in the scorer and before the client is answered, in
//! the order verdicts arrive, so the file is the durable record: a
//! restarted service reads it back and skips those its checkpoint already
//! applied. With `--state`, a checkpoint is saved just before, so the
//! alert a verdict names is in the state it is read back against. Without
//! a verdicts file a verdict would be lost at the next restart, so the
//! service refuses it.
//!
//! Answers:
//!
//! - incidents: `{"incidents": [IncidentRecord, ...]}`, each as a line of
//!   `--incidents` describes it (`change` is `opened` for an open one,
//!   `closed` for a closed one), oldest first.
//! - a user: `user`, `risk` (decayed to `as_of`, the newest event time
//!   scored), `threshold`, `peak` and `peak_time`, `alerts`, `findings` (per
//!   detector), `top_reason`, `kept` (the strongest findings held per
//!   detector, as alerts show them) and `incidents` (theirs, with their
//!   verdicts).
//! - a verdict: the line recorded (`time`, `id`, `verdict`, `note`,
//!   `analyst`) and its `line` number in the verdicts file. It applies from
//!   `time` on, when the events from then on are scored. A service that
//!   forwards to NATS publishes it for the workers instead and answers with
//!   its `partition` and `subject` in place of `line`
//!   ([`crate::forward::Forward::ask`]).

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use ueba_engine::event::parse_timestamp_text;
use ueba_engine::pipeline::{AlertSink, Scorer};
use ueba_engine::risk::verdicts::{
    self, MAX_ID_BYTES, MAX_TEXT_BYTES, PendingVerdict, VerdictError, VerdictKind,
};

use super::queue::QueueError;

/// Longest user name accepted in `GET /v1/users/{user}` and
/// `?user=`, bytes: names come from logs and are short; a longer one is a
/// client error, not a lookup.
pub const MAX_USER_BYTES: usize = 256;

/// Largest `POST /v1/feedback` body, bytes: a verdict is a few short
/// fields (a note and an analyst of at most [`MAX_TEXT_BYTES`] each), so
/// anything larger is refused before it is parsed.
pub const MAX_FEEDBACK_BYTES: usize = 16 * 1024;

/// A question for the worker, answered from the scorer's state once the
/// events queued before it have been pushed.
#[derive(Clone, Debug, PartialEq)]
pub enum Ask {
    /// Open and recently closed incidents, of one user when given.
    Incidents {
        /// Only this user's, when given.
        user: Option<String>,
    },
    /// What the service knows about one user now.
    User {
        /// The user's name.
        user: String,
    },
    /// Record a verdict and queue it for the scorer.
    Feedback(Feedback),
}

/// A validated `POST /v1/feedback` request.
#[derive(Clone, Debug, PartialEq)]
pub struct Feedback {
    /// The alert's id.
    pub id: String,
    /// Benign or malicious.
    pub verdict: VerdictKind,
    /// Why, in the analyst's words.
    pub note: String,
    /// Who gave it.
    pub analyst: String,
    /// Event time from which it applies (ms), when the client gave one;
    /// else just after the newest event scored.
    pub at: Option<i64>,
}

/// The body of `POST /v1/feedback`, as sent. Unknown fields are refused so
/// that a misspelt `verdict` or `time` is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    id: String,
    verdict: VerdictKind,
    #[serde(default)]
    note: String,
    #[serde(default)]
    analyst: String,
    #[serde(default)]
    time: Option<String>,
}

/// Why a request to an analyst endpoint was refused before reaching the
/// worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON at all (400).
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    /// Well-formed, but a field is missing, unknown or out of bounds (422).
    #[error("{0}")]
    Invalid(String),
    /// The user name or query is not usable (400).
    #[error("{0}")]
    BadUser(String),
}

/// Why the worker could not answer an [`Ask`].
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The worker has stopped or the service is shutting down (503).
    #[error(transparent)]
    Closed(#[from] QueueError),
    /// No risk is known for this user (404).
    #[error(
        "nothing is known about user `{0}`: no detector has found anything about them, or no event of theirs has been scored"
    )]
    UnknownUser(String),
    /// No alert has this id (404).
    #[error("{0}")]
    UnknownAlert(String),
    /// The verdict cannot be recorded as given, e.g. its time is before
    /// events already scored (422).
    #[error("{0}")]
    Refused(String),
    /// The service keeps no verdicts file, so a verdict would be lost at
    /// the next restart (409).
    #[error(
        "this service keeps no verdicts file, so a verdict would be lost at restart: start it with --state DIR (verdicts go to DIR/verdicts.jsonl) or --verdicts FILE"
    )]
    NoVerdictsFile,
    /// The verdicts file could not be written; nothing was recorded (500).
    #[error("recording the verdict: {0}")]
    Record(#[from] VerdictError),
    /// This service forwards events for workers to score and keeps no risk
    /// or incidents of its own (501).
    #[error(
        "this service forwards events to NATS JetStream for `ueba worker` to score ({0}); it keeps no risk or incidents: `ueba explain USER --nats URL` reads a user's from the workers' checkpoints, and `ueba worker --incidents` publishes incidents to ueba.incidents"
    )]
    Forwarding(String),
    /// Where the answer is kept (or where a verdict goes) could not be
    /// reached, or did not store the verdict; the client may ask again
    /// (503). The message says what was and was not done.
    #[error("{0}")]
    Unavailable(String),
    /// What was stored to answer from could not be read back (500).
    #[error("{0}")]
    Internal(String),
}

/// Parse and bound a `POST /v1/feedback` body. Malformed JSON is
/// [`RequestError::Malformed`]; well-formed JSON with a missing, unknown,
/// mistyped or oversized field, or a `time` that is not RFC 3339, is
/// [`RequestError::Invalid`].
pub fn parse_feedback(body: &[u8]) -> Result<Feedback, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::Malformed(e.to_string()))?;
    // serde would take a struct from an array too; a verdict is an object.
    if !value.is_object() {
        return Err(RequestError::Invalid(
            "the body must be a JSON object: {\"id\": ..., \"verdict\": \"benign\"|\"malicious\", ...}"
                .into(),
        ));
    }
    let parsed =
        FeedbackBody::deserialize(value).map_err(|e| RequestError::Invalid(e.to_string()))?;
    if parsed.id.is_empty() || parsed.id.len() > MAX_ID_BYTES {
        return Err(RequestError::Invalid(format!(
            "`id` must be an alert id of 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    if parsed.note.len() > MAX_TEXT_BYTES || parsed.analyst.len() > MAX_TEXT_BYTES {
        return Err(RequestError::Invalid(format!(
            "`note` and `analyst` must be at most {MAX_TEXT_BYTES} bytes"
        )));
    }
    let at = match parsed.time.as_deref() {
        None => None,
        // Epoch milliseconds are an event format, not what a person writes.
        Some(t) if t.is_empty() || t.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(RequestError::Invalid(
                "`time` must be an RFC 3339 time, e.g. 2026-01-17T09:00:00Z".into(),
            ));
        }
        Some(t) => Some(
            parse_timestamp_text(t).map_err(|e| RequestError::Invalid(format!("`time`: {e}")))?,
        ),
    };
    Ok(Feedback {
        id: parsed.id,
        verdict: parsed.verdict,
        note: parsed.note,
        analyst: parsed.analyst,
        at,
    })
}

/// Check a user name taken from the path or the query: 1 to
/// [`MAX_USER_BYTES`] bytes.
pub fn check_user(user: &str) -> Result<(), RequestError> {
    if user.is_empty() {
        return Err(RequestError::BadUser("the user name is empty".into()));
    }
    if user.len() > MAX_USER_BYTES {
        return Err(RequestError::BadUser(format!(
            "the user name is {} bytes, more than the {MAX_USER_BYTES} accepted",
            user.len()
        )));
    }
    Ok(())
}

/// The `user` filter of `GET /v1/incidents?user=NAME`, percent-decoded;
/// any other parameter is refused, so a misspelt filter does not silently
/// list everyone's incidents.
pub fn incidents_query(query: Option<&str>) -> Result<Option<String>, RequestError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let mut user = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "user" {
            return Err(RequestError::BadUser(format!(
                "unknown query parameter `{}`; the only one is `user`",
                ueba_engine::event::clip(&percent_decode(key).unwrap_or_default())
            )));
        }
        if user.is_some() {
            return Err(RequestError::BadUser("`user` is given twice".into()));
        }
        let name = percent_decode(value)?;
        check_user(&name)?;
        user = Some(name);
    }
    Ok(user)
}

/// Decode a query component: `%XX` escapes and `+` for space, into UTF-8.
fn percent_decode(text: &str) -> Result<String, RequestError> {
    let bad = || RequestError::BadUser("the query is not valid percent-encoded UTF-8".into());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Answer `ask` from the scorer's state (on the worker thread). `verdicts`
/// is the verdicts file a feedback is appended to, when the service keeps
/// one.
pub fn answer<S: AlertSink>(
    scorer: &mut Scorer<S>,
    ask: Ask,
    verdicts: Option<&Path>,
) -> Result<Value, AskError> {
    match ask {
        Ask::Incidents { user } => {
            let incidents: Vec<_> = scorer
                .incidents()
                .into_iter()
                .filter(|i| user.as_ref().is_none_or(|u| &i.user == u))
                .collect();
            Ok(json!({ "incidents": incidents }))
        }
        Ask::User { user } => user_answer(scorer, user),
        Ask::Feedback(f) => record(scorer, f, verdicts),
    }
}

fn user_answer<S: AlertSink>(scorer: &Scorer<S>, user: String) -> Result<Value, AskError> {
    let summary = scorer
        .user_summary(&user)
        .ok_or(AskError::UnknownUser(user))?;
    serde_json::to_value(summary).map_err(|e| AskError::Internal(e.to_string()))
}

/// Admit a verdict against the scorer's state, append it to the verdicts
/// file, then queue it, so what the client is told is recorded is on disk.
fn record<S: AlertSink>(
    scorer: &mut Scorer<S>,
    f: Feedback,
    verdicts: Option<&Path>,
) -> Result<Value, AskError> {
    let Some(path) = verdicts else {
        return Err(AskError::NoVerdictsFile);
    };
    let known = scorer.knows_alert(&f.id);
    let verdict = verdicts::admit(
        &f.id,
        f.verdict,
        &f.note,
        &f.analyst,
        f.at,
        scorer.released_ms(),
        known,
    )
    .map_err(|why| {
        if known {
            AskError::Refused(why)
        } else {
            AskError::UnknownAlert(why)
        }
    })?;
    let time_ms = verdict.check().map_err(AskError::Refused)?;
    let line = verdicts::append(path, &verdict).map_err(|e| match e {
        e @ verdicts::VerdictError::OutOfOrder { .. } => AskError::Refused(e.to_string()),
        e => AskError::Record(e),
    })?;
    let answer = json!({
        "time": verdict.time,
        "id": verdict.id,
        "verdict": verdict.verdict,
        "note": verdict.note,
        "analyst": verdict.analyst,
        "line": line,
    });
    scorer.queue_verdict(PendingVerdict {
        verdict,
        time_ms,
        path: path.to_path_buf(),
        line,
    });
    Ok(answer)
}

#[cfg(test)]
#[path = "analyst_tests.rs"]
mod tests;
