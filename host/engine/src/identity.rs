//! The identity file: who belongs to which peer group, in which timezone.
//!
//! CSV whose header names its columns, in any order and in any case: `user`
//! (required), `peer_group` and `timezone` (an IANA name, `Asia/Manila`),
//! each of which may be absent or empty. Detectors judge hours in the
//! user's own local time, so a missing timezone means UTC.
//!
//! Two more columns may be present: `criticality` (`low`, `medium`, `high`,
//! `extreme`, or empty) and `watchlists` (list names separated by `;`, or
//! empty). They change how much the user's risk counts (`[criticality]`,
//! `[watchlists]` in the config), not what detectors see.
//!
//! A `manager` column (or `supervisor`, as LDAP exports name it) gives the
//! user's manager by user name, or by the display name of a `name` column
//! (or `employee_name`, `display_name`, `full_name`), as LDAP exports give
//! it. Detectors are told it (contract 0.5.0), so a user on their own
//! manager's machine can be told from one on a colleague's; a user named
//! as their own manager has none. A manager the file lists under neither is
//! taken as a user name as the events give it, and the load warns once
//! with how many and the first.
//!
//! Other columns (an HR export's `title`) are not read, and the load warns
//! once naming them, so a misspelt `criticality` is seen rather than
//! silently changing nobody's risk.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use rustc_hash::FxHashMap;

use crate::config::{Criticality, WatchlistsConfig};
use crate::event::clip;

/// One user's enrichment.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// Peer group, if given.
    pub peer_group: Option<String>,
    /// Timezone, if given.
    pub timezone: Option<TimeZone>,
    /// Criticality, if given.
    pub criticality: Option<Criticality>,
    /// Watchlists the user is on.
    pub watchlists: Vec<String>,
    /// The user's manager, by user name, if given.
    pub manager: Option<String>,
    /// The line it was read from, for errors found later.
    pub line: u64,
}

/// Why the identity file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{line}: {}{message}", field.map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column at fault, when one is.
        field: Option<&'static str>,
        /// What is wrong.
        message: String,
    },
}

/// Users' peer groups and timezones, keyed by user name.
#[derive(Clone, Debug, Default)]
pub struct Identities {
    users: FxHashMap<String, Identity>,
    path: PathBuf,
}

/// Managers given by display name (`by_name`) as the users they name; a
/// manager the file lists neither as a user nor by name is kept as given
/// (a user name as the events give it) and counted in one warning.
fn resolve_managers(
    users: &mut FxHashMap<String, Identity>,
    by_name: &FxHashMap<String, Option<String>>,
    path: &Path,
) {
    let mut unknown: Vec<(u64, String)> = Vec::new();
    // (user, the manager a display name names, none for themselves)
    let mut named: Vec<(String, Option<String>)> = Vec::new();
    for (user, identity) in users.iter() {
        let Some(m) = identity.manager.as_deref() else {
            continue;
        };
        if users.contains_key(m) {
            continue;
        }
        match by_name.get(m) {
            Some(Some(u)) => named.push((user.clone(), (u != user).then(|| u.clone()))),
            _ => unknown.push((identity.line, clip(m))),
        }
    }
    for (user, manager) in named {
        if let Some(identity) = users.get_mut(&user) {
            identity.manager = manager;
        }
    }
    if let Some((line, first)) = unknown.iter().min() {
        tracing::warn!(
            "{}: {} user(s) have a manager the file lists neither as a user nor by name (first: `{first}`, line {line}); each is taken as a user name as the events give it",
            path.display(),
            unknown.len()
        );
    }
}

/// The columns read, by name; only `user` must be present.
const COLUMNS: [&str; 7] = [
    "user",
    "peer_group",
    "timezone",
    "criticality",
    "watchlists",
    "manager",
    "name",
];

/// Other names a column of [`COLUMNS`] goes by, with its position there.
const ALIASES: [(&str, usize); 4] = [
    ("supervisor", 5),
    ("employee_name", 6),
    ("display_name", 6),
    ("full_name", 6),
];

impl Identities {
    /// Read an identity CSV file.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let file = std::fs::File::open(path).map_err(|source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(file, path)
    }

    /// Read identity CSV from any reader; `path` names it in errors.
    pub fn from_reader(reader: impl std::io::Read, path: &Path) -> Result<Self, IdentityError> {
        let invalid =
            |line: u64, field: Option<&'static str>, message: String| IdentityError::Invalid {
                path: path.to_path_buf(),
                line,
                field,
                message,
            };
        // The CSV reader's line numbers leave out blank lines; errors name
        // the line of the file, found from the record's byte offset (where
        // reading it began: blank lines before it are skipped here).
        let newlines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let line_at = |pos: Option<&csv::Position>| {
            pos.map_or(0, |p| {
                let ends: &[(u64, bool)] = &newlines.borrow();
                let mut k = ends.partition_point(|&(n, _)| n <= p.byte());
                while ends.get(k).is_some_and(|&(_, blank)| blank) {
                    k += 1;
                }
                k as u64 + 1
            })
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(Newlines {
                inner: reader,
                read: 0,
                blank: true,
                at: newlines.clone(),
            });
        let headers = rdr
            .headers()
            .map_err(|e| invalid(1, None, e.to_string()))?
            .clone();
        // Where each of `COLUMNS` is, and the columns read by none.
        let mut at = [None; COLUMNS.len()];
        let mut ignored = Vec::new();
        for (i, name) in headers.iter().enumerate() {
            let known = COLUMNS
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name))
                .or_else(|| {
                    ALIASES
                        .iter()
                        .find(|(a, _)| a.eq_ignore_ascii_case(name))
                        .map(|&(_, k)| k)
                });
            match known {
                Some(k) if at[k].is_some() => {
                    return Err(invalid(
                        1,
                        None,
                        format!("header names column `{}` twice", COLUMNS[k]),
                    ));
                }
                Some(k) => at[k] = Some(i),
                None => ignored.push(clip(name)),
            }
        }
        let [
            user_col,
            group_col,
            tz_col,
            crit_col,
            watch_col,
            manager_col,
            name_col,
        ] = at;
        let Some(user_col) = user_col else {
            return Err(invalid(
                1,
                None,
                format!(
                    "header must name a `user` column (and may name `peer_group`, `timezone`, `criticality`, `watchlists` and `manager`); found `{}`",
                    clip(&headers.iter().collect::<Vec<_>>().join(","))
                ),
            ));
        };
        if !ignored.is_empty() {
            tracing::warn!(
                "{}: column(s) `{}` not read: ueba reads user, peer_group, timezone, criticality, watchlists, manager (or supervisor) and name",
                path.display(),
                ignored.join("`, `")
            );
        }
        fn cell(record: &csv::StringRecord, col: Option<usize>) -> &str {
            col.and_then(|c| record.get(c)).unwrap_or_default()
        }
        let mut users = FxHashMap::default();
        let mut zones: FxHashMap<String, TimeZone> = FxHashMap::default();
        // Display name -> user, for managers given by name; `None` for a
        // name two users share, which then resolves to nobody.
        let mut by_name: FxHashMap<String, Option<String>> = FxHashMap::default();
        for record in rdr.records() {
            let record = record.map_err(|e| {
                let line = line_at(e.position());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields where the header has {expected_len}"),
                    _ => e.to_string(),
                };
                invalid(line, None, message)
            })?;
            let line = line_at(record.position());
            let user = &record[user_col];
            if user.is_empty() {
                return Err(invalid(line, Some("user"), "must not be empty".into()));
            }
            let peer_group = Some(cell(&record, group_col).to_string()).filter(|s| !s.is_empty());
            let tz_name = cell(&record, tz_col);
            let timezone = if tz_name.is_empty() {
                None
            } else if let Some(tz) = zones.get(tz_name) {
                Some(tz.clone())
            } else {
                let tz = TimeZone::get(tz_name).map_err(|_| {
                    invalid(
                        line,
                        Some("timezone"),
                        format!(
                            "`{}` is not an IANA timezone name (e.g. Europe/Dublin)",
                            clip(tz_name)
                        ),
                    )
                })?;
                zones.insert(tz_name.to_string(), tz.clone());
                Some(tz)
            };
            let criticality = match cell(&record, crit_col) {
                "" => None,
                level => Some(
                    level
                        .parse::<Criticality>()
                        .map_err(|m| invalid(line, Some("criticality"), m))?,
                ),
            };
            let manager = Some(cell(&record, manager_col))
                .filter(|m| !m.is_empty() && *m != user)
                .map(str::to_string);
            let name = cell(&record, name_col);
            if !name.is_empty() {
                by_name
                    .entry(name.to_string())
                    .and_modify(|u| *u = None)
                    .or_insert_with(|| Some(user.to_string()));
            }
            let mut watchlists = Vec::new();
            for name in cell(&record, watch_col).split(';') {
                let name = name.trim();
                if !name.is_empty() && !watchlists.iter().any(|w| w == name) {
                    watchlists.push(name.to_string());
                }
            }
            if users
                .insert(
                    user.to_string(),
                    Identity {
                        peer_group,
                        timezone,
                        criticality,
                        watchlists,
                        manager,
                        line,
                    },
                )
                .is_some()
            {
                return Err(invalid(
                    line,
                    Some("user"),
                    format!("`{}` is listed twice", clip(user)),
                ));
            }
        }
        resolve_managers(&mut users, &by_name, path);
        Ok(Identities {
            users,
            path: path.to_path_buf(),
        })
    }

    /// Check that every watchlist named in the file is configured
    /// (`[watchlists]`), naming the first line that names one that is not:
    /// a misspelt list would otherwise silently change nobody's risk.
    pub fn check_watchlists(&self, configured: &WatchlistsConfig) -> Result<(), IdentityError> {
        let mut bad: Vec<(&Identity, &String)> = self
            .users
            .values()
            .flat_map(|i| i.watchlists.iter().map(move |w| (i, w)))
            .filter(|(_, w)| !configured.contains_key(*w))
            .collect();
        bad.sort_by_key(|(i, _)| i.line);
        match bad.first() {
            None => Ok(()),
            Some((i, w)) => Err(IdentityError::Invalid {
                path: self.path.clone(),
                line: i.line,
                field: Some("watchlists"),
                message: format!(
                    "watchlist `{w}` is not configured; add `{w} = 1.5` (its odds multiplier) under [watchlists]{}",
                    if configured.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (configured: {})",
                            configured.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                ),
            }),
        }
    }

    /// A user's identity, if listed.
    pub fn get(&self, user: &str) -> Option<&Identity> {
        self.users.get(user)
    }

    /// How many users are listed.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no users are listed.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Offset of `tz` from UTC at `time_ms`, in minutes.
pub fn offset_minutes(tz: &TimeZone, time_ms: i64) -> i32 {
    jiff::Timestamp::from_millisecond(time_ms)
        .map(|t| tz.to_offset(t).seconds() / 60)
        .unwrap_or(0)
}

/// A time zone and the span of time around its last lookup in which its
/// offset from UTC does not change (between two transitions).
///
/// The scorer asks for a user's offset on every event, and a time-zone
/// lookup is a search through the zone's transitions; a user's events
/// mostly fall between the same two transitions (DST changes twice a year
/// at most), so the answer is kept with the span it holds for.
#[derive(Clone, Debug)]
pub struct LocalOffset {
    tz: TimeZone,
    from_ms: i64,
    until_ms: i64,
    minutes: i32,
}

impl LocalOffset {
    /// A cache over `tz`, empty until the first lookup.
    pub fn new(tz: TimeZone) -> Self {
        LocalOffset {
            tz,
            from_ms: 1,
            until_ms: 0,
            minutes: 0,
        }
    }

    /// The offset at `time_ms`, in minutes: [`offset_minutes`], from the
    /// cached span when `time_ms` is inside it.
    pub fn minutes_at(&mut self, time_ms: i64) -> i32 {
        if self.from_ms <= time_ms && time_ms < self.until_ms {
            return self.minutes;
        }
        let Ok(t) = jiff::Timestamp::from_millisecond(time_ms) else {
            return 0;
        };
        self.minutes = self.tz.to_offset(t).seconds() / 60;
        // The span runs from the last transition at or before `t` to the
        // first one after it. Filtering by the timestamps keeps this right
        // whether jiff's iterators include their starting point or not.
        let after = t
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap_or(t);
        self.from_ms = self
            .tz
            .preceding(after)
            .map(|tr| tr.timestamp())
            .find(|&at| at <= t)
            .map_or(i64::MIN, |at| at.as_millisecond());
        self.until_ms = self
            .tz
            .following(t)
            .map(|tr| tr.timestamp())
            .find(|&at| at > t)
            .map_or(i64::MAX, |at| at.as_millisecond());
        self.minutes
    }
}

/// A reader that notes the byte offset of every newline read through it,
/// and whether the line it ends is blank, so an offset can be turned into
/// a line number.
struct Newlines<R> {
    inner: R,
    read: u64,
    /// Whether the line being read holds nothing but `\r` so far.
    blank: bool,
    at: std::rc::Rc<std::cell::RefCell<Vec<(u64, bool)>>>,
}

impl<R: std::io::Read> std::io::Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut at = self.at.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            match b {
                b'\n' => {
                    at.push((self.read + i as u64, self.blank));
                    self.blank = true;
                }
                b'\r' => {}
                _ => self.blank = false,
            }
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
