//! Discovery rates, shared by the detectors that score first accesses
//! (`novel-table` for resources, `new-source` for networks).
//!
//! A first access means little from someone who touches something new every
//! day (an IT administrator logging on to a new machine) and much from
//! someone who never does. So a first access is scored against the chance
//! that this user's next access is to something new: the Good–Turing
//! estimate, the share of their recent accesses that were first accesses,
//! shrunk towards their peer group's share. And what is new to a user is
//! judged rare only relative to the things they usually discover: an
//! administrator's every discovery is a machine one other person uses, so
//! one more such machine is not rare *for them*.
//!
//! An *access* is one (user, thing, local day): repeating a query a hundred
//! times in a day is one access, so bursts do not dilute the rate. Counts
//! are halved when they pass a window, so the rate follows recent habits.

use serde::{Deserialize, Serialize};

use crate::calibrate::P_FLOOR;

/// Recent accesses and first accesses of one user (or one pool of users),
/// and how rare their scored discoveries were.
///
/// ```
/// use ueba_sdk::novelty::Discovery;
/// let mut admin = Discovery::default();
/// let mut clerk = Discovery::default();
/// for day in 0..20 {
///     admin.access(true, 256.0); // a new machine every day
///     clerk.access(false, 256.0); // the same machine every day
/// }
/// let peers = Discovery::default();
/// assert!(admin.rate_with_prior(&peers, 10.0) > 0.6);
/// assert!(clerk.rate_with_prior(&peers, 10.0) < 0.2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    /// Accesses counted (halved as they pass the window).
    pub accesses: f32,
    /// Of those, first accesses.
    pub firsts: f32,
    /// Sum of `ln(rarity)` over the rated first accesses.
    pub log_rarity: f32,
    /// Rated first accesses (halved with `log_rarity`).
    pub rated: f32,
}

impl Discovery {
    /// Count one access, a first access or not; halve the counts once the
    /// accesses pass `window`, so older habits fade.
    pub fn access(&mut self, first: bool, window: f32) {
        self.accesses += 1.0;
        if first {
            self.firsts += 1.0;
        }
        if self.accesses > window.max(2.0) {
            self.accesses *= 0.5;
            self.firsts *= 0.5;
        }
    }

    /// Record how rare a first access was (a probability-like share, see
    /// [`Discovery::relative_rarity`]); halved past `window` rated ones.
    pub fn rate_rarity(&mut self, rarity: f64, window: f32) {
        let ln = rarity.clamp(P_FLOOR, 1.0).ln() as f32;
        self.log_rarity += ln;
        self.rated += 1.0;
        if self.rated > window.max(2.0) {
            self.rated *= 0.5;
            self.log_rarity *= 0.5;
        }
    }

    /// The Good–Turing chance that the next access is a first access, with
    /// a Jeffreys half-count so that none so far is rare, not impossible.
    pub fn rate(&self) -> f64 {
        (f64::from(self.firsts) + 0.5) / (f64::from(self.accesses) + 1.0)
    }

    /// This user's discovery rate shrunk towards `prior`'s, which is worth
    /// `weight` accesses: a newcomer discovers like their peers, and their
    /// own habit takes over as their accesses accumulate.
    pub fn rate_with_prior(&self, prior: &Discovery, weight: f64) -> f64 {
        self.rate_toward(prior.rate(), weight)
    }

    /// This rate shrunk towards `prior_rate`, worth `weight` accesses: as
    /// [`Discovery::rate_with_prior`], for a prior that is itself shrunk
    /// (a small peer group's rate leaning on the organisation's, where the
    /// group alone would be little more than its half-count).
    pub fn rate_toward(&self, prior_rate: f64, weight: f64) -> f64 {
        let own = f64::from(self.accesses);
        let r = (f64::from(self.firsts) + weight * prior_rate) / (own + weight);
        if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// The typical `ln(rarity)` of this user's discoveries, shrunk towards
    /// `prior`'s, worth `weight` discoveries; `prior`'s own mean is shrunk
    /// towards 0 (rarity 1, no discount) by `prior_weight` discoveries, so a
    /// pool discounts rarity only once many discoveries stand behind it.
    pub fn typical_log_rarity(&self, prior: &Discovery, weight: f64, prior_weight: f64) -> f64 {
        self.typical_log_rarity_from(prior.mean_log_rarity(0.0, prior_weight), weight)
    }

    /// The mean `ln(rarity)` of these rated discoveries, shrunk towards
    /// `base` by `weight` discoveries: a pool's typical rarity, which leans
    /// on the level above it (a peer group's on the organisation's, the
    /// organisation's on 0, no discount) while it has few discoveries of
    /// its own.
    ///
    /// ```
    /// use ueba_sdk::novelty::Discovery;
    /// let none = Discovery::default();
    /// assert_eq!(none.mean_log_rarity(-3.0, 20.0), -3.0);
    /// ```
    pub fn mean_log_rarity(&self, base: f64, weight: f64) -> f64 {
        let m = (f64::from(self.log_rarity) + weight * base) / (f64::from(self.rated) + weight);
        if m.is_finite() {
            m.min(0.0)
        } else {
            base.min(0.0)
        }
    }

    /// The typical `ln(rarity)` of this user's discoveries, shrunk towards
    /// `prior_mean` (a pool's, from [`Discovery::mean_log_rarity`]) worth
    /// `weight` discoveries.
    pub fn typical_log_rarity_from(&self, prior_mean: f64, weight: f64) -> f64 {
        let prior_mean = if prior_mean.is_finite() {
            prior_mean
        } else {
            0.0
        };
        let m =
            (f64::from(self.log_rarity) + weight * prior_mean) / (f64::from(self.rated) + weight);
        if m.is_finite() { m.min(0.0) } else { 0.0 }
    }

    /// How much rarer `rarity` is than the typical discovery `typical_log`
    /// (from [`Discovery::typical_log_rarity`]): `min(1, rarity / typical)`.
    /// A discovery as common as or commoner than the user's usual ones says
    /// nothing beyond the fact of being new.
    ///
    /// ```
    /// use ueba_sdk::novelty::Discovery;
    /// // Usual discoveries are one-in-a-thousand things.
    /// let typical = (1e-3f64).ln();
    /// assert_eq!(Discovery::relative_rarity(1e-2, typical), 1.0);
    /// assert!((Discovery::relative_rarity(1e-5, typical) - 1e-2).abs() < 1e-9);
    /// ```
    pub fn relative_rarity(rarity: f64, typical_log: f64) -> f64 {
        let r = (rarity.clamp(P_FLOOR, 1.0).ln() - typical_log).exp();
        if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// Add another's counts (for pools of users).
    pub fn merge(&mut self, other: &Discovery) {
        self.accesses += other.accesses;
        self.firsts += other.firsts;
        self.log_rarity += other.log_rarity;
        self.rated += other.rated;
    }

    /// A pool's counts with `others` (the other shards' part of the same
    /// pool) added, halved as [`Discovery::access`] and
    /// [`Discovery::rate_rarity`] halve (accesses with first accesses past
    /// `access_window`, rated discoveries with their rarities past
    /// `rated_window`) until within the windows again: as heavy as one
    /// instance holding every member's counts would be.
    ///
    /// ```
    /// use ueba_sdk::novelty::Discovery;
    /// let half = Discovery { accesses: 200.0, firsts: 20.0, ..Discovery::default() };
    /// let both = half.pooled_with(&half, 256.0, 64.0);
    /// assert_eq!((both.accesses, both.firsts), (200.0, 20.0));
    /// ```
    pub fn pooled_with(
        &self,
        others: &Discovery,
        access_window: f32,
        rated_window: f32,
    ) -> Discovery {
        // Enough halvings for any finite f32, so a corrupt count cannot
        // loop for long.
        const MAX_HALVINGS: usize = 160;
        let mut d = *self;
        d.merge(others);
        for _ in 0..MAX_HALVINGS {
            if d.accesses <= access_window.max(2.0) {
                break;
            }
            d.accesses *= 0.5;
            d.firsts *= 0.5;
        }
        for _ in 0..MAX_HALVINGS {
            if d.rated <= rated_window.max(2.0) {
                break;
            }
            d.rated *= 0.5;
            d.log_rarity *= 0.5;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_habits_and_fade() {
        let mut d = Discovery::default();
        for _ in 0..100 {
            d.access(true, 64.0);
        }
        assert!(d.accesses <= 64.0 && d.rate() > 0.9);
        for _ in 0..300 {
            d.access(false, 64.0);
        }
        assert!(d.rate() < 0.05, "{}", d.rate());
        let none = Discovery::default();
        assert_eq!(none.rate(), 0.5);
        assert_eq!(none.rate_with_prior(&none, 0.0), 1.0);
    }

    #[test]
    fn typical_rarity_shrinks_to_the_prior() {
        let mut peers = Discovery::default();
        for _ in 0..10 {
            peers.rate_rarity(1e-2, 100.0);
        }
        let own = Discovery::default();
        let t = own.typical_log_rarity(&peers, 5.0, 0.0);
        assert!((t - (1e-2f64).ln()).abs() < 1e-4, "{t}");
        // Ten discoveries against a prior of ten: half the discount.
        let half = own.typical_log_rarity(&peers, 5.0, 10.0);
        assert!((half - 0.5 * (1e-2f64).ln()).abs() < 1e-4, "{half}");
        assert_eq!(own.typical_log_rarity(&own, 5.0, 0.0), 0.0);
        assert_eq!(Discovery::relative_rarity(f64::NAN, 0.0), 1.0);
    }
}

/// Things (resources, networks) a user first used on one local day in
/// events the detector may not learn from (`Event::learn` false: the host
/// holds their open alert episode out of the baselines).
///
/// Such a thing stays new to the user, so without this every event on it
/// would be reported as a first access again; with it, each is reported
/// once a day. Bookkeeping only: never folded into what is learned, and
/// reset at the user's next learned event.
///
/// ```
/// use ueba_sdk::novelty::FirstToday;
/// let mut seen = FirstToday::default();
/// assert!(seen.first_today(7u32, 100, 10));
/// assert!(!seen.first_today(7, 100, 10)); // again that day
/// assert!(seen.first_today(7, 101, 10)); // the next day
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FirstToday<K> {
    day: i64,
    /// Sorted.
    keys: Vec<K>,
}

impl<K> Default for FirstToday<K> {
    fn default() -> Self {
        FirstToday {
            day: 0,
            keys: Vec::new(),
        }
    }
}

impl<K: Ord> FirstToday<K> {
    /// Note a first use of `key` on local `day`; false when it was noted
    /// that day already, or when the day's list holds `max` keys (a bound
    /// on what one user's day can cost).
    pub fn first_today(&mut self, key: K, day: i64, max: usize) -> bool {
        if self.day != day {
            self.day = day;
            self.keys.clear();
        }
        match self.keys.binary_search(&key) {
            Ok(_) => false,
            Err(_) if self.keys.len() >= max => false,
            Err(i) => {
                self.keys.insert(i, key);
                true
            }
        }
    }
}
