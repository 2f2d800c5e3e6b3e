//! The static rules a SOC writes today, as the baseline ueba is compared
//! with: each flags a user-day when any of that user's events that day
//! matches. They see the same events as the detectors.

use serde::Serialize;

use ueba_engine::config::Config;
use ueba_engine::event::AccessEvent;

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
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 3] = [Rule::BulkRows, Rule::OffHours, Rule::SensitiveTable];

    /// Short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Rule::BulkRows => "bulk-rows",
            Rule::OffHours => "off-hours",
            Rule::SensitiveTable => "sensitive-table",
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

/// Whether `text` matches `pattern` as a whole: the novel-table detector's
/// own matcher from the SDK, so the rule baseline and the detector agree on
/// what "sensitive" means.
pub use ueba_sdk::glob::matches as glob;

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
