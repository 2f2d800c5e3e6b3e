//! The event, finding and symbol types a detector works with.
//!
//! They mirror the WIT records, but are plain Rust so detectors compile and
//! test natively without any WebAssembly glue.

use serde::{Deserialize, Serialize};

/// The contract's own types and constants, shared with the host
/// (`host/contract`): an [`Event`] is one row of a batch, with strings as
/// [`SymbolKind`] ids; [`HOUR_MS`] and [`DAY_MS`] turn event times into
/// buckets, e.g. for a learning period of `learning_days`:
///
/// ```
/// let first_ms = 1_767_571_200_000; // 2026-01-05T00:00Z
/// let learning_days: i64 = 7;
/// let learning_ends = first_ms + learning_days * ueba_sdk::DAY_MS;
/// assert_eq!(learning_ends, 1_768_176_000_000); // 2026-01-12T00:00Z
/// ```
///
/// Local time follows the user's offset:
///
/// ```
/// use ueba_sdk::{Event, HOUR_MS};
/// // 2026-01-05T02:30Z is a Monday; in Chicago (UTC-6) it is Sunday 20:30.
/// let e = Event {
///     time_ms: 1_767_571_200_000 + 2 * HOUR_MS + 30 * 60_000,
///     utc_offset_minutes: -360,
///     rows: 68_000,
///     ..Event::default()
/// };
/// assert_eq!(e.local_hour(), 20);
/// assert_eq!(e.local_weekday(), 6);
/// assert!(e.is_weekend());
/// assert_eq!(e.local_day(), e.time_ms.div_euclid(ueba_sdk::DAY_MS) - 1);
/// ```
///
/// Volume-style detectors usually skip failures: a denied bulk read moved
/// no data.
///
/// ```
/// use ueba_sdk::{Event, Outcome};
/// let denied = Event { outcome: Outcome::Failure, rows: 50_000, ..Event::default() };
/// let rows_read = if denied.outcome == Outcome::Failure { 0 } else { denied.rows };
/// assert_eq!(rows_read, 0);
/// ```
pub use ueba_contract::{DAY_MS, Event, HOUR_MS, Outcome, SymbolKind};

/// Ids at or above this are kept in a sparse map rather than a vector, so a
/// stray huge id cannot make the plugin allocate gigabytes. The host assigns
/// dense ids from 0, so in practice every id is below it.
pub const MAX_DENSE_ID: u32 = 1 << 24;

/// The text of every id seen so far, per kind.
///
/// The host sends each string once; the SDK stores it here before the events
/// that use it reach the detector, and keeps it in the snapshot, so a
/// detector never needs to keep strings itself. In native tests, insert the
/// symbols your events use, as the host would:
///
/// ```
/// use ueba_sdk::{SymbolKind, Symbols};
/// let mut s = Symbols::default();
/// s.insert(SymbolKind::User, 0, "jreyes");
/// s.insert(SymbolKind::Resource, 0, "support.customers");
/// assert_eq!(s.user(0), "jreyes");
/// assert_eq!(s.resource(0), "support.customers");
/// assert_eq!(s.resource(7), ""); // never sent: empty, never a panic
/// assert_eq!(s.count(SymbolKind::User), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbols {
    users: Vec<String>,
    resources: Vec<String>,
    actions: Vec<String>,
    sources: Vec<String>,
    peer_groups: Vec<String>,
    sparse: std::collections::BTreeMap<(u8, u32), String>,
}

impl Symbols {
    fn table(&self, kind: SymbolKind) -> &Vec<String> {
        match kind {
            SymbolKind::User => &self.users,
            SymbolKind::Resource => &self.resources,
            SymbolKind::Action => &self.actions,
            SymbolKind::Source => &self.sources,
            SymbolKind::PeerGroup => &self.peer_groups,
        }
    }

    /// Record the text of an id. Ids normally arrive in order; a gap is
    /// filled with empty strings so lookups never go out of bounds.
    pub fn insert(&mut self, kind: SymbolKind, id: u32, text: impl Into<String>) {
        if id >= MAX_DENSE_ID {
            self.sparse.insert((kind as u8, id), text.into());
            return;
        }
        let table = match kind {
            SymbolKind::User => &mut self.users,
            SymbolKind::Resource => &mut self.resources,
            SymbolKind::Action => &mut self.actions,
            SymbolKind::Source => &mut self.sources,
            SymbolKind::PeerGroup => &mut self.peer_groups,
        };
        let i = id as usize;
        if table.len() <= i {
            table.resize(i + 1, String::new());
        }
        table[i] = text.into();
    }

    /// The text of an id, or `""` for an id never sent.
    pub fn get(&self, kind: SymbolKind, id: u32) -> &str {
        let text = if id >= MAX_DENSE_ID {
            self.sparse.get(&(kind as u8, id))
        } else {
            self.table(kind).get(id as usize)
        };
        text.map(String::as_str).unwrap_or("")
    }

    /// One more than the highest dense id of a kind; per-entity vectors can
    /// size to it.
    pub fn count(&self, kind: SymbolKind) -> usize {
        self.table(kind).len()
    }

    /// A user's name.
    pub fn user(&self, id: u32) -> &str {
        self.get(SymbolKind::User, id)
    }

    /// A resource's name.
    pub fn resource(&self, id: u32) -> &str {
        self.get(SymbolKind::Resource, id)
    }

    /// An action's name.
    pub fn action(&self, id: u32) -> &str {
        self.get(SymbolKind::Action, id)
    }

    /// A source's text.
    pub fn source(&self, id: u32) -> &str {
        self.get(SymbolKind::Source, id)
    }

    /// A peer group's name.
    pub fn peer_group(&self, id: u32) -> &str {
        self.get(SymbolKind::PeerGroup, id)
    }
}

/// A typed evidence value, so alerts carry numbers as numbers.
///
/// Usually made implicitly by [`Finding::with`] from an integer, a float or
/// a string; a `u64` too large for `i64` (a log may claim any row count)
/// becomes the nearest float, which keeps its magnitude, rather than
/// wrapping or being cut to `i64::MAX`.
///
/// ```
/// use ueba_sdk::Value;
/// assert_eq!(Value::from(68_000u64), Value::Int(68_000));
/// assert_eq!(Value::from(i64::MAX as u64), Value::Int(i64::MAX));
/// assert_eq!(Value::from(u64::MAX), Value::Float(u64::MAX as f64));
/// assert_eq!(Value::from(7usize), Value::Int(7));
/// assert_eq!(Value::from(1e-9), Value::Float(1e-9));
/// assert_eq!(Value::from("hour"), Value::Text("hour".into()));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A whole number, e.g. a row count.
    Int(i64),
    /// A real number, e.g. a probability.
    Float(f64),
    /// Text, e.g. a table name.
    Text(String),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

/// A detector's claim that one event is anomalous, with the numbers why.
///
/// Alerts show the reason and the evidence to an analyst, so put the
/// numbers that justify the score in the evidence (the observation, the
/// baseline, the tail probability), and derive the score from the tail
/// probability with [`crate::score_from_p`] so it is on the shared scale.
///
/// ```
/// use ueba_sdk::{Finding, Value, score_from_p};
/// let p = 1e-6;
/// let f = Finding::new(42, score_from_p(p), "read 68000 rows of support.customers")
///     .with("rows", 68_000u64)
///     .with("baseline_p50", 10u64)
///     .with("p", p);
/// assert_eq!(f.event, 42);
/// assert!((f.score - 60.0).abs() < 1e-3);
/// assert_eq!(f.evidence[0], ("rows".to_string(), Value::Int(68_000)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The `seq` of the event it refers to.
    pub event: u64,
    /// 0 to 100 on the shared scale (see [`crate::calibrate`]).
    pub score: f32,
    /// A short human reason.
    pub reason: String,
    /// Named evidence, in the order it should be shown.
    pub evidence: Vec<(String, Value)>,
}

impl Finding {
    /// A finding with no evidence yet; the score is clamped to 0..=100 (NaN
    /// becomes 0) so a detector's arithmetic slip cannot break the scale.
    ///
    /// ```
    /// use ueba_sdk::Finding;
    /// assert_eq!(Finding::new(1, 250.0, "too much").score, 100.0);
    /// assert_eq!(Finding::new(1, f32::NAN, "nonsense").score, 0.0);
    /// ```
    pub fn new(event: u64, score: f32, reason: impl Into<String>) -> Self {
        let score = if score.is_nan() {
            0.0
        } else {
            score.clamp(0.0, 100.0)
        };
        Finding {
            event,
            score,
            reason: reason.into(),
            evidence: Vec::new(),
        }
    }

    /// Add one piece of evidence (builder style); evidence is shown in the
    /// order it was added.
    ///
    /// ```
    /// use ueba_sdk::Finding;
    /// let f = Finding::new(7, 30.0, "night session").with("hour", 3u32).with("bucket", "weekday");
    /// let keys: Vec<&str> = f.evidence.iter().map(|(k, _)| k.as_str()).collect();
    /// assert_eq!(keys, ["hour", "bucket"]);
    /// ```
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.evidence.push((key.to_string(), value.into()));
        self
    }
}

/// A configuration key a detector accepts, with its default as TOML text.
///
/// `ueba config` prints these under `[detectors.NAME]`, so the default must
/// be valid TOML (strings quoted, lists in brackets) and the description
/// should say what changing it does.
///
/// ```
/// use ueba_sdk::ConfigKey;
/// let key = ConfigKey {
///     name: "sensitive",
///     default: r#"["*.customers", "hr.*"]"#,
///     description: "globs naming sensitive resources",
/// };
/// let parsed: Vec<String> = ueba_sdk::config::parse(key.name, key.default).unwrap();
/// assert_eq!(parsed, ["*.customers", "hr.*"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    /// Key name, as written under `[detectors.NAME]` in ueba.toml.
    pub name: &'static str,
    /// Default value, written as in TOML.
    pub default: &'static str,
    /// What it changes.
    pub description: &'static str,
}

/// What a detector says about itself, returned by [`crate::Detector::info`].
///
/// The name is how alerts, `[detectors.NAME]` config sections and
/// `--plugins` replacement refer to the detector; `version` is usually
/// `env!("CARGO_PKG_VERSION")`.
///
/// ```
/// use ueba_sdk::Info;
/// let info = Info {
///     name: "rare-action",
///     version: env!("CARGO_PKG_VERSION"),
///     description: "an action that is rare in the user's own history",
///     config: vec![],
/// };
/// assert_eq!(info.name, "rare-action");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// Unique name.
    pub name: &'static str,
    /// The detector's own version.
    pub version: &'static str,
    /// One line on what it detects.
    pub description: &'static str,
    /// Accepted config keys.
    pub config: Vec<ConfigKey>,
}

/// Why a configuration key was refused. The host reports it naming the
/// detector and the key, and refuses to start, so a typo in ueba.toml is
/// caught at once rather than silently ignored.
///
/// ```
/// use ueba_sdk::ConfigError;
/// let e = ConfigError::UnknownKey("learnig_days".into());
/// assert_eq!(e.to_string(), "unknown key `learnig_days`");
/// let e = ueba_sdk::config::parse::<u32>("learning_days", "\"soon\"").unwrap_err();
/// assert!(e.to_string().starts_with("invalid value for `learning_days`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Not a key this detector accepts.
    UnknownKey(String),
    /// A known key whose value is not acceptable.
    InvalidValue {
        /// The key.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::UnknownKey(k) => write!(f, "unknown key `{k}`"),
            ConfigError::InvalidValue { key, message } => {
                write!(f, "invalid value for `{key}`: {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_uses_offset() {
        // 2024-01-01T02:00Z is a Monday; at UTC-6 it is Sunday 20:00.
        let e = Event {
            time_ms: 1_704_074_400_000,
            utc_offset_minutes: -360,
            ..Event::default()
        };
        assert_eq!(e.local_hour(), 20);
        assert_eq!(e.local_weekday(), 6);
        assert!(e.is_weekend());
        let utc = Event {
            utc_offset_minutes: 0,
            ..e
        };
        assert_eq!(utc.local_hour(), 2);
        assert_eq!(utc.local_weekday(), 0);
    }

    #[test]
    fn symbols_fill_gaps_and_never_panic() {
        let mut s = Symbols::default();
        s.insert(SymbolKind::User, 2, "carol");
        assert_eq!(s.user(2), "carol");
        assert_eq!(s.user(0), "");
        assert_eq!(s.user(99), "");
        assert_eq!(s.count(SymbolKind::User), 3);
        s.insert(SymbolKind::User, u32::MAX, "huge");
        assert_eq!(s.user(u32::MAX), "huge");
        assert_eq!(s.count(SymbolKind::User), 3);
    }

    #[test]
    fn finding_scores_are_clamped() {
        assert_eq!(Finding::new(1, 250.0, "x").score, 100.0);
        assert_eq!(Finding::new(1, -3.0, "x").score, 0.0);
        assert_eq!(Finding::new(1, f32::NAN, "x").score, 0.0);
    }
}
