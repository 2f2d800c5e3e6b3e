//! `[[exceptions]]` in `ueba.toml`: the rules as written, and the checks
//! that name a bad one's index and field. Matching them against findings
//! is the risk stage's (`risk::exceptions`).

use serde::Deserialize;

/// One `[[exceptions]]` entry as written in the config.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exception {
    /// Glob on the user.
    pub user: Option<String>,
    /// Glob on the user's peer group; an event without one never matches.
    pub peer_group: Option<String>,
    /// Glob on the resource.
    pub resource: Option<String>,
    /// Glob on the action.
    pub action: Option<String>,
    /// Glob on the source; an event without one never matches.
    pub source: Option<String>,
    /// Glob on the detector's name.
    pub detector: Option<String>,
    /// First event time it applies to, RFC 3339 (inclusive).
    pub from: Option<String>,
    /// Event time it stops applying at, RFC 3339 (exclusive).
    pub until: Option<String>,
    /// Why, for the analyst and the `--findings` output.
    pub note: String,
    /// Whether detectors still learn from matching events (default true).
    pub learn: bool,
}

impl Default for Exception {
    fn default() -> Self {
        Exception {
            user: None,
            peer_group: None,
            resource: None,
            action: None,
            source: None,
            detector: None,
            from: None,
            until: None,
            note: String::new(),
            learn: true,
        }
    }
}

/// An exception that is not usable, naming its index and field.
#[derive(Debug, thiserror::Error)]
#[error("exceptions[{index}].{field}: {message}")]
pub struct ExceptionError {
    /// Its position in the config, from 0.
    pub index: usize,
    /// The field at fault.
    pub field: &'static str,
    /// Why.
    pub message: String,
}

impl Exception {
    /// The event-time window the exception applies to, `[from, until)` in
    /// ms since the epoch, after checking every field: times are RFC 3339,
    /// globs are not empty, and there is at least one condition. `index`
    /// is its position in the config, for the error.
    pub fn window(&self, index: usize) -> Result<(i64, i64), ExceptionError> {
        let bad = |field, message: String| ExceptionError {
            index,
            field,
            message,
        };
        let time = |field, t: &Option<String>, default| match t {
            None => Ok(default),
            Some(t) => t
                .parse::<jiff::Timestamp>()
                .map(|ts| ts.as_millisecond())
                .map_err(|err| bad(field, format!("{t:?} is not an RFC 3339 time: {err}"))),
        };
        let from = time("from", &self.from, i64::MIN)?;
        let until = time("until", &self.until, i64::MAX)?;
        if from >= until {
            return Err(bad("until", "must be after `from`".into()));
        }
        let globs = [
            ("user", &self.user),
            ("peer_group", &self.peer_group),
            ("resource", &self.resource),
            ("action", &self.action),
            ("source", &self.source),
            ("detector", &self.detector),
        ];
        for (field, g) in globs {
            if g.as_deref().is_some_and(str::is_empty) {
                return Err(bad(
                    field,
                    "is empty; leave it out to match anything".into(),
                ));
            }
        }
        if globs.iter().all(|(_, g)| g.is_none()) && self.from.is_none() && self.until.is_none() {
            return Err(bad(
                "user",
                "the exception has no condition and would silence everything; give at least one of user, peer_group, resource, action, source, detector, from, until".into(),
            ));
        }
        Ok((from, until))
    }
}
