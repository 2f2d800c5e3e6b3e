//! How far a pool's members' buckets stray from each member's own level.
//!
//! A pooled baseline (a peer group's or the organisation's member-days)
//! has a spread that holds two things: how members differ from each other
//! and how each member's days vary about their own level. Only the first
//! is what a member's own days can replace. Without peer groups the pool
//! is the whole organisation, whose days span service accounts, analysts
//! and clerks; shrinking an analyst's twentieth steady day towards a
//! spread that wide hides a day of ten times their usual. In a group of
//! research coordinators who now and then export a whole trial report,
//! the spread is the members' own lumpy days, and a member whose first
//! weeks held no export should still be judged with it.
//!
//! So each pool keeps, for days and for active hours, two exponentially
//! weighted sums over about as many values as its ring holds: of its
//! values (`ln(1 + total)`), whose variance `T` is the pool's whole
//! spread, and of each learned bucket's distance from its member's own
//! level at the time (the median of their own baseline, once they have
//! one), whose mean square `V` is the spread within members. Neither is
//! robust, on purpose, and so they compare: an export of a thousand rows
//! among chart views of two is part of how a member's days vary, and it
//! weighs in both. `B = T − V` is the variance between members, and
//! [`crate::model::Fit::pooled`] weighs the pool against a member's own
//! buckets as a normal hierarchy would, `V / B` buckets.
//!
//! The sums are plain sums over member-buckets, so with several shards
//! each instance shares its own and adds the others' (replaced at each
//! exchange), as with the pools' values.

use serde::{Deserialize, Serialize};

/// The weight of values each of a pool's sums needs before it says how
/// alike its members are: as many as a pooled baseline needs.
pub const MIN_WEIGHT: f64 = crate::POOL_MIN as f64;

/// Exponentially weighted sums of values: their weight, sum and sum of
/// squares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The weight of the values held (at most the window).
    pub w: f64,
    /// Their weighted sum.
    pub sum: f64,
    /// Their weighted squares.
    pub sq: f64,
}

impl Spread {
    /// Add `x`, forgetting older values over about `window` of them.
    pub fn push(&mut self, x: f64, window: usize) {
        if !x.is_finite() {
            return;
        }
        let keep = 1.0 - 1.0 / window.max(1) as f64;
        self.w = self.w * keep + 1.0;
        self.sum = self.sum * keep + x;
        self.sq = self.sq * keep + x * x;
    }

    /// The sums of two spreads' values.
    pub fn plus(self, other: Spread) -> Spread {
        Spread {
            w: self.w + other.w,
            sum: self.sum + other.sum,
            sq: self.sq + other.sq,
        }
    }

    /// The mean square (of distances, about 0), once at least `min_w`
    /// values' weight is held.
    pub fn mean_square(self, min_w: f64) -> Option<f64> {
        let v = self.sq / self.w;
        (self.w >= min_w && v.is_finite()).then_some(v)
    }

    /// The variance about the mean, once at least `min_w` values' weight
    /// is held.
    pub fn variance(self, min_w: f64) -> Option<f64> {
        let mean = self.sum / self.w;
        self.mean_square(min_w)
            .map(|ms| (ms - mean * mean).max(0.0))
            .filter(|v| v.is_finite())
    }

    /// Whether a shared spread holds what sums of values can.
    pub fn check(self) -> Result<(), String> {
        if [self.w, self.sum, self.sq].iter().all(|v| v.is_finite())
            && self.w >= 0.0
            && self.sq >= 0.0
        {
            Ok(())
        } else {
            Err(format!(
                "population share holds a spread of weight {}, sum {} and squares {}",
                self.w, self.sum, self.sq
            ))
        }
    }
}

/// A pool's spreads of one kind of bucket (days or active hours): of its
/// values and of its members' distances from their own levels, its own
/// members' and the other instances' as of the last exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spreads {
    /// Its own members' values.
    pub values: Spread,
    /// Its own members' distances from their own levels.
    pub offs: Spread,
    /// The other instances' values.
    pub others_values: Spread,
    /// The other instances' distances.
    pub others_offs: Spread,
    /// [`Spreads::likeness`] as of the last [`Spreads::refresh`] or
    /// exchange, kept so that the per-event path reads a number instead of
    /// dividing sums, and changes when the pool's fits do.
    like: Option<f64>,
}

impl Spreads {
    /// Add a member's bucket `x` and its distance `off` from the member's
    /// own level, when they have one; [`Spreads::refresh`] reads the
    /// likeness again.
    pub fn push(&mut self, x: f64, off: Option<f64>, window: usize) {
        self.values.push(x, window);
        if let Some(d) = off {
            self.offs.push(d, window);
        }
    }

    /// Read [`Spreads::likeness`] again from the sums; until then it is
    /// what the last reading (or exchange) found, so that its owner
    /// decides when its members' baselines change.
    pub fn refresh(&mut self) {
        self.like = self.compute();
    }

    /// Replace the other instances' sums by `values` and `offs`, and read
    /// the likeness again.
    pub fn set_others(&mut self, values: Spread, offs: Spread) {
        self.others_values = values;
        self.others_offs = offs;
        self.like = self.compute();
    }

    /// How many of a member's own buckets the pool is worth, `V / B`
    /// (module docs), once [`MIN_WEIGHT`] values' weight holds each sum;
    /// none before, and infinite when the members do not differ (`B ≤ 0`).
    pub fn likeness(&self) -> Option<f64> {
        self.like
    }

    /// [`Spreads::likeness`] from the sums.
    fn compute(&self) -> Option<f64> {
        let min_w = MIN_WEIGHT;
        let total = self.values.plus(self.others_values).variance(min_w)?;
        let within = self.offs.plus(self.others_offs).mean_square(min_w)?;
        let between = total - within;
        let k = within / between;
        Some(if between > 0.0 && k.is_finite() {
            k
        } else {
            f64::INFINITY
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_keeps_the_recent_moments() {
        let mut s = Spread::default();
        assert_eq!(s.variance(1.0), None);
        for x in [1.0, 3.0].repeat(5) {
            s.push(x, 1_000_000);
        }
        assert!((s.mean_square(5.0).unwrap() - 5.0).abs() < 1e-3);
        assert!((s.variance(5.0).unwrap() - 1.0).abs() < 1e-3);
        // Older values fade: after many values of 2, the moments are theirs.
        for _ in 0..5_000 {
            s.push(2.0, 256);
        }
        assert!(s.variance(5.0).unwrap() < 1e-6);
        assert!(s.w <= 256.0 + 1e-9);
        assert!(
            Spread {
                w: -1.0,
                ..Spread::default()
            }
            .check()
            .is_err()
        );
        assert!(
            Spread {
                sq: f64::NAN,
                ..Spread::default()
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn members_who_differ_make_a_pool_worth_little_and_lumpy_members_keep_it() {
        // Three kinds of member, steady about levels 2, 5 and 8.
        let mut unlike = Spreads::default();
        for i in 0..300 {
            let level = [2.0, 5.0, 8.0][i % 3];
            let wobble = if i % 2 == 0 { 0.2 } else { -0.2 };
            unlike.push(level + wobble, Some(wobble), 256);
        }
        assert_eq!(unlike.likeness(), None, "read at refresh only");
        unlike.refresh();
        let k = unlike.likeness().unwrap();
        assert!(k < 0.01, "{k}");
        // Members alike, each now and then six above their level of 3.
        let mut lumpy = Spreads::default();
        for i in 0..300 {
            let off = if i % 5 == 0 { 6.0 } else { 0.0 };
            lumpy.push(3.0 + off, Some(off), 256);
        }
        lumpy.refresh();
        assert_eq!(lumpy.likeness(), Some(f64::INFINITY));
        assert_eq!(Spreads::default().likeness(), None);
    }
}
