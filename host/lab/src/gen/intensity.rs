//! How strongly the malicious scenarios stand out: the knob `ueba eval
//! --sweep` turns to measure detection rate against attack strength.
//!
//! Without an [`Intensity`] the generator plans its scenarios exactly as it
//! always has (same random draws, byte-identical files). With one, three of
//! them are planned from the given strengths instead of their usual ranges,
//! and the users and days they happen on depend only on the seed, not on the
//! strengths, so runs at different intensities with one seed differ in the
//! attack alone.

use super::GenError;

/// Whether the tables of the novel-table scenario are familiar to the
/// user's peer group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NovelTables {
    /// Tables the user's own peer group reads but the user never has: a
    /// colleague's ordinary work, the hardest case to tell from normal.
    PeerUsed,
    /// `hr.salaries` (nobody reads it) and `auth.users` (only DBAs do): the
    /// default scenario.
    NeverUsed,
}

impl NovelTables {
    /// Short name for tables and JSON: `peer-used` or `never-used`.
    pub fn name(self) -> &'static str {
        match self {
            NovelTables::PeerUsed => "peer-used",
            NovelTables::NeverUsed => "never-used",
        }
    }
}

/// Strength of the malicious scenarios, for [`super::generate_with`].
/// The trend-micro scenario is the 2019 case as it happened and is never
/// scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Intensity {
    /// slow-exfiltration: the attack day's rows as a multiple of the user's
    /// normal daily rows (the default scenario draws 8–12×). The extra rows
    /// come from up to 50 reads of support.customers. At least 1.01, at
    /// most 10,000.
    pub exfil_factor: f64,
    /// off-hours: hours after the end of the user's shift at which their
    /// 2–2.5 hour session starts, i.e. how far into the night it is (the
    /// default scenario is at 01:00–03:30 local, about 8–10 hours after a
    /// day shift). From 0 to 14.
    pub off_hours_shift_hours: f64,
    /// novel-table: which kind of table the user reads for the first time.
    pub novel: NovelTables,
}

impl Intensity {
    pub(super) fn validate(&self) -> Result<(), GenError> {
        if !(1.01..=10_000.0).contains(&self.exfil_factor) {
            return Err(GenError::InvalidConfig(format!(
                "intensity: exfil_factor must be from 1.01 to 10000, got {}",
                self.exfil_factor
            )));
        }
        if !(0.0..=14.0).contains(&self.off_hours_shift_hours) {
            return Err(GenError::InvalidConfig(format!(
                "intensity: off_hours_shift_hours must be from 0 to 14, got {}",
                self.off_hours_shift_hours
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "intensity_tests.rs"]
mod tests;
