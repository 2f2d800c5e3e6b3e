//! What the organisation knows about its users and resources beyond the
//! log: criticality levels, watchlists and their risk modifiers
//! (`[criticality]`, `[watchlists]`, `[resources]` in `ueba.toml`).
//!
//! A modifier multiplies the *odds* of a risk, `p = s / (100 − s)`,
//! `p′ = p · m`, `s′ = 100 · p′ / (1 + p′)`, as Elastic's entity risk does,
//! so a modifier moves a middling risk a lot and a near-certain one little,
//! and no modifier can push a risk past 100 or below 0.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// How much harm an entity's misuse would do: the identity file's
/// `criticality` column and `[resources] criticality`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    /// Low: risk counts less (odds × `criticality.low`).
    Low,
    /// Medium: the default level, no change unless configured otherwise.
    Medium,
    /// High.
    High,
    /// Extreme: the crown jewels.
    Extreme,
}

impl Criticality {
    /// Every level, lowest first.
    pub const ALL: [Criticality; 4] = [
        Criticality::Low,
        Criticality::Medium,
        Criticality::High,
        Criticality::Extreme,
    ];

    /// Its name as written in files.
    pub fn name(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Extreme => "extreme",
        }
    }
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Criticality {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Criticality::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!(
                    "`{}` is not a criticality level (low, medium, high, extreme)",
                    crate::event::clip(s)
                )
            })
    }
}

/// `[criticality]`: the odds multiplier of each level.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CriticalityConfig {
    /// Multiplier for `low`.
    pub low: f64,
    /// Multiplier for `medium`.
    pub medium: f64,
    /// Multiplier for `high`.
    pub high: f64,
    /// Multiplier for `extreme`.
    pub extreme: f64,
}

impl Default for CriticalityConfig {
    fn default() -> Self {
        CriticalityConfig {
            low: 0.5,
            medium: 1.0,
            high: 1.5,
            extreme: 2.0,
        }
    }
}

impl CriticalityConfig {
    /// The multiplier of `level`.
    pub fn factor(&self, level: Criticality) -> f64 {
        match level {
            Criticality::Low => self.low,
            Criticality::Medium => self.medium,
            Criticality::High => self.high,
            Criticality::Extreme => self.extreme,
        }
    }
}

/// `[resources]`: what is known about resources.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcesConfig {
    /// `[glob, level]` pairs, first match wins: a finding about a matching
    /// resource has its score's odds multiplied by the level's factor.
    pub criticality: Vec<(String, Criticality)>,
    /// `[glob, kind]` pairs, first match wins: the kinds of resources,
    /// given to every detector that keeps habits per kind (one declaring a
    /// `kinds` key: novel-table, volume) whose own section does not set
    /// `kinds`, so that one setting names the kinds for all of them.
    pub kinds: Vec<(String, String)>,
}

impl ResourcesConfig {
    /// The level of the first glob `resource` matches.
    pub fn criticality_of(&self, resource: &str) -> Option<Criticality> {
        self.criticality
            .iter()
            .find(|(glob, _)| ueba_sdk::glob::matches(glob, resource))
            .map(|(_, level)| *level)
    }
}

/// `[watchlists]`: name → odds multiplier for users on that list.
pub type WatchlistsConfig = BTreeMap<String, f64>;

/// A 0–100 score with its odds multiplied by `factor` (see the module
/// docs). A factor of 1 returns the score unchanged.
pub fn scale_odds(score: f64, factor: f64) -> f64 {
    if factor == 1.0 || score <= 0.0 {
        return score.max(0.0);
    }
    if score >= 100.0 {
        return 100.0;
    }
    let p = score / (100.0 - score) * factor;
    100.0 * p / (1.0 + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odds_follow_the_documented_formula() {
        // 60 → odds 1.5 → ×2 = 3 → 75.
        assert!((scale_odds(60.0, 2.0) - 75.0).abs() < 1e-9);
        // 50 → odds 1 → ×0.5 → 33.3.
        assert!((scale_odds(50.0, 0.5) - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(scale_odds(42.0, 1.0), 42.0);
        assert_eq!(scale_odds(0.0, 2.0), 0.0);
        assert_eq!(scale_odds(100.0, 0.5), 100.0);
    }

    #[test]
    fn levels_parse_and_name_the_bad_one() {
        assert_eq!("extreme".parse::<Criticality>(), Ok(Criticality::Extreme));
        let e = "urgent".parse::<Criticality>().unwrap_err();
        assert!(e.contains("`urgent`") && e.contains("extreme"), "{e}");
    }
}
