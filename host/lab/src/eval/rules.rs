//! The rules a SOC writes today, as the baseline ueba is compared with:
//! each flags a user-day when any of that user's events that day matches.
//! They see the same events as the detectors.
//!
//! Three are static ([`RuleSet`]): a bulk read, an hour outside office
//! hours, a sensitive table. Three learn each user's habits ([`Habits`]),
//! as a script anyone can write over any log does: a day's volume beyond
//! the user's median and MAD, an hour the user was never active at, a
//! resource they never touched. The static ones suit database logs; the
//! learned ones work on any shape, and are the baseline to beat on logs
//! that are not (logons, removable media).

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use ueba_engine::config::Config;
use ueba_engine::event::AccessEvent;

use super::DAY_MS;

/// Default resource patterns of the sensitive-table rule: the same as the
/// novel-table detector's default `sensitive` setting, so the rule and the
/// detector agree on what is sensitive.
pub const DEFAULT_SENSITIVE: [&str; 5] = [
    "*.customers",
    "*.contacts",
    "*.payment_methods",
    "hr.*",
    "auth.*",
];

/// One of the rules, by index into [`RuleSet::describe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// One event returned more than [`RuleSet::rows_threshold`] rows.
    BulkRows,
    /// An event outside working hours in the user's own time zone.
    OffHours,
    /// Any access to a resource matching a sensitive pattern.
    SensitiveTable,
    /// A day's rows beyond the user's median and MAD ([`Habits`]).
    DailyVolume,
    /// A local hour the user was never active at ([`Habits`]).
    NewHour,
    /// A resource the user never touched ([`Habits`]).
    NewResource,
}

/// How many rules there are: the static ones, then the learned ones.
pub const RULES: usize = 6;

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; RULES] = [
        Rule::BulkRows,
        Rule::OffHours,
        Rule::SensitiveTable,
        Rule::DailyVolume,
        Rule::NewHour,
        Rule::NewResource,
    ];

    /// Short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Rule::BulkRows => "bulk-rows",
            Rule::OffHours => "off-hours",
            Rule::SensitiveTable => "sensitive-table",
            Rule::DailyVolume => "daily-volume",
            Rule::NewHour => "new-hour",
            Rule::NewResource => "new-resource",
        }
    }
}

/// The rules' parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleSet {
    /// `bulk-rows` flags an event returning more rows than this.
    pub rows_threshold: u64,
    /// `off-hours` flags an event before this local hour...
    pub work_start_hour: u8,
    /// ...or at or after this one.
    pub work_end_hour: u8,
    /// `sensitive-table` flags any access to a resource matching one of
    /// these globs (`*` any run of characters, `?` one character).
    pub sensitive: Vec<String>,
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet {
            rows_threshold: 10_000,
            work_start_hour: 8,
            work_end_hour: 18,
            sensitive: DEFAULT_SENSITIVE.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl RuleSet {
    /// The default rules, with the sensitive patterns taken from the
    /// novel-table detector's `sensitive` setting when the config sets it,
    /// so the rule looks at the same tables as the detector.
    pub fn from_config(config: &Config) -> Self {
        let mut rules = RuleSet::default();
        let configured = config
            .detectors
            .get("novel-table")
            .and_then(|d| d.settings.get("sensitive"))
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            });
        if let Some(patterns) = configured {
            rules.sensitive = patterns;
        }
        rules
    }

    /// A one-line description of `rule` with its parameters.
    pub fn describe(&self, rule: Rule) -> String {
        match rule {
            Rule::BulkRows => format!(
                "any single event returning over {} rows",
                self.rows_threshold
            ),
            Rule::OffHours => format!(
                "any event outside {:02}:00–{:02}:00 in the user's time zone",
                self.work_start_hour, self.work_end_hour
            ),
            Rule::SensitiveTable => {
                format!(
                    "any access to a sensitive table ({})",
                    self.sensitive.join(", ")
                )
            }
            Rule::DailyVolume => format!(
                "a day's rows above the user's median + {MAD_FACTOR} × MAD of their earlier active days (after {LEARNING_DAYS} days, with {MIN_HISTORY_DAYS} days of their own)"
            ),
            Rule::NewHour => format!(
                "an event at a local hour the user was never active at (after {LEARNING_DAYS} days)"
            ),
            Rule::NewResource => {
                format!("a resource the user never touched (after {LEARNING_DAYS} days)")
            }
        }
    }

    /// Which rules `ev` trips, in [`Rule::ALL`] order, given its local hour.
    pub fn check(&self, ev: &AccessEvent, local_hour: u8) -> [bool; 3] {
        [
            ev.rows > self.rows_threshold,
            local_hour < self.work_start_hour || local_hour >= self.work_end_hour,
            self.sensitive.iter().any(|p| glob(p, &ev.resource)),
        ]
    }
}

/// Days of event time, from the first event, in which the learned rules
/// only learn, as the detectors' `learning_days`.
pub const LEARNING_DAYS: i64 = 7;
/// Earlier active days a user needs before their volume is judged.
pub const MIN_HISTORY_DAYS: usize = 5;
/// MADs above the median that flag a day's volume.
pub const MAD_FACTOR: f64 = 3.0;

/// The learned rules' state: each user's hours, resources and daily rows
/// so far. Fed every event in order; it learns from every event (a rule
/// keeps no baseline out of learning), and flags only after the first
/// [`LEARNING_DAYS`] of event time.
#[derive(Default)]
pub struct Habits {
    first_ms: Option<i64>,
    users: FxHashMap<u32, UserHabits>,
}

#[derive(Default)]
struct UserHabits {
    /// Local hours seen, one bit each.
    hours: u32,
    resources: FxHashSet<String>,
    /// The local day being counted and its rows so far.
    day: Option<i64>,
    today: u64,
    /// Rows of each earlier active day.
    totals: Vec<u64>,
    /// The flag bound of the current day, from `totals`.
    bound: Option<f64>,
}

impl Habits {
    /// Which learned rules `ev` of `user` trips, in [`Rule::ALL`]'s order of
    /// the learned ones (volume, hour, resource), given its local hour and
    /// local day.
    pub fn check(
        &mut self,
        user: u32,
        ev: &AccessEvent,
        local_hour: u8,
        local_day: i64,
    ) -> [bool; 3] {
        let first = *self.first_ms.get_or_insert(ev.time_ms);
        let judging = ev.time_ms >= first.saturating_add(LEARNING_DAYS * DAY_MS);
        let h = self.users.entry(user).or_default();
        if h.day != Some(local_day) {
            if h.day.is_some() {
                h.totals.push(h.today);
            }
            h.day = Some(local_day);
            h.today = 0;
            h.bound = volume_bound(&h.totals);
        }
        h.today = h.today.saturating_add(ev.rows);
        let hour_bit = 1u32 << local_hour.min(23);
        let new_hour = h.hours & hour_bit == 0;
        h.hours |= hour_bit;
        let new_resource = !h.resources.contains(ev.resource.as_str());
        if new_resource {
            h.resources.insert(ev.resource.to_string());
        }
        let over = h.bound.is_some_and(|b| h.today as f64 > b);
        [
            judging && over,
            judging && new_hour,
            judging && new_resource,
        ]
    }
}

/// The rows above which a day is flagged: the median of `totals` plus
/// [`MAD_FACTOR`] median absolute deviations (at least 1, so a user whose
/// days are all alike is not flagged for one row more), once there are
/// [`MIN_HISTORY_DAYS`].
fn volume_bound(totals: &[u64]) -> Option<f64> {
    if totals.len() < MIN_HISTORY_DAYS {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let mut days: Vec<f64> = totals.iter().map(|&t| t as f64).collect();
    let m = median(&mut days);
    let mut deviations: Vec<f64> = days.iter().map(|d| (d - m).abs()).collect();
    let mad = median(&mut deviations).max(1.0);
    Some(m + MAD_FACTOR * mad)
}

/// Whether `text` matches `pattern` as a whole: the novel-table detector's
/// own matcher from the SDK, so the rule baseline and the detector agree on
/// what "sensitive" means.
pub use ueba_sdk::glob::matches as glob;

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
