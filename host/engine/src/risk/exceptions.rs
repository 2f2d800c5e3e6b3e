//! Analyst exceptions: findings an analyst has judged benign, by condition.
//!
//! ```toml
//! [[exceptions]]
//! user = "dba*"              # globs; every field given must match
//! resource = "support.*"
//! detector = "volume"
//! note = "weekly maintenance"
//! ```
//!
//! A finding matching an exception adds no risk; it is counted per
//! exception (summary, `ueba eval`) and marked with the exception's note
//! in `--findings`. With `learn = false` the matching events are also kept
//! from the detectors (from the named detector only, when the exception
//! names one), so they never become anyone's baseline. Exceptions apply at
//! event time (`from` / `until`), so a replay gives the same alerts.
//!
//! Fields: `user`, `peer_group`, `resource`, `action`, `source` and
//! `detector` are globs (`*` any run of characters, `?` one); `from` and
//! `until` are RFC 3339 times (from inclusive, until exclusive); `note` is
//! free text; `learn` (default true). An exception must have at least one
//! condition.

use ueba_sdk::glob::matches as glob;

pub use crate::config::{Exception, ExceptionError};

/// What one event looks like to an exception: its texts and time.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// The user.
    pub user: &'a str,
    /// Their peer group, when known.
    pub peer_group: Option<&'a str>,
    /// The resource.
    pub resource: &'a str,
    /// The action.
    pub action: &'a str,
    /// The source, when known.
    pub source: Option<&'a str>,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
}

/// The exceptions of a run, checked and with their times parsed.
#[derive(Clone, Debug, Default)]
pub struct Exceptions {
    rules: Vec<(Exception, i64, i64)>,
}

impl Exceptions {
    /// Check `list` (from the config) and prepare it for matching.
    pub fn new(list: &[Exception]) -> Result<Self, ExceptionError> {
        let mut rules = Vec::with_capacity(list.len());
        for (index, e) in list.iter().enumerate() {
            let (from, until) = e.window(index)?;
            rules.push((e.clone(), from, until));
        }
        Ok(Exceptions { rules })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether any exception keeps events from detectors.
    pub fn any_unlearned(&self) -> bool {
        self.rules.iter().any(|(e, _, _)| !e.learn)
    }

    /// The first exception (index and note) that a finding of `detector`
    /// about `subject` matches.
    pub fn finding(&self, detector: &str, subject: &Subject<'_>) -> Option<(usize, &str)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, (e, from, until))| {
                e.detector.as_deref().is_none_or(|g| glob(g, detector))
                    && event_matches(e, *from, *until, subject)
            })
            .map(|(i, (e, _, _))| (i, e.note.as_str()))
    }

    /// Whether `detector` must not see the event `subject`: an exception
    /// with `learn = false` matches it (and names this detector, or none).
    pub fn hides(&self, detector: &str, subject: &Subject<'_>) -> bool {
        self.rules.iter().any(|(e, from, until)| {
            !e.learn
                && e.detector.as_deref().is_none_or(|g| glob(g, detector))
                && event_matches(e, *from, *until, subject)
        })
    }
}

fn event_matches(e: &Exception, from: i64, until: i64, s: &Subject<'_>) -> bool {
    let opt = |g: &Option<String>, v: Option<&str>| {
        g.as_deref().is_none_or(|g| v.is_some_and(|v| glob(g, v)))
    };
    (from..until).contains(&s.time_ms)
        && opt(&e.user, Some(s.user))
        && opt(&e.peer_group, s.peer_group)
        && opt(&e.resource, Some(s.resource))
        && opt(&e.action, Some(s.action))
        && opt(&e.source, s.source)
}

#[cfg(test)]
#[path = "exceptions_tests.rs"]
mod tests;
