//! The pooled recent buckets of peer groups and the organisation, shared
//! between instances of the detector on different shards: what one
//! instance shares, and how the other instances' values are mixed with its
//! own (the crate's "Sharing with other shards" says why).

use serde::{Deserialize, Serialize};

use crate::model::{Fit, Ring, fit_values};
use crate::outsize::RatioCounts;
use crate::reads::GroupReads;
use crate::spread::{Spread, Spreads};

/// One pool's share: the recent values of its own users' buckets, as
/// `ln(1 + total)`, the most recent first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolShare {
    /// Member-days.
    pub days: Vec<f32>,
    /// Members' active hours.
    pub hours: Vec<f32>,
    /// How its own members' days spread, in all and about each member's
    /// own level (`spread`).
    pub day_spreads: (Spread, Spread),
    /// The same for active hours.
    pub hour_spreads: (Spread, Spread),
}

impl PoolShare {
    /// The values held by a pool's own rings, and its own members' spreads.
    pub fn of(days: &Ring, hours: &Ring, day: &Spreads, hour: &Spreads) -> PoolShare {
        PoolShare {
            days: days.newest_first().collect(),
            hours: hours.newest_first().collect(),
            day_spreads: (day.values, day.offs),
            hour_spreads: (hour.values, hour.offs),
        }
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty() && self.hours.is_empty()
    }

    /// Refuse values no bucket total gives (a total's logarithm is finite
    /// and not negative).
    fn check(&self) -> Result<(), String> {
        let bad = self
            .days
            .iter()
            .chain(&self.hours)
            .find(|v| !(v.is_finite() && **v >= 0.0));
        if let Some(v) = bad {
            return Err(format!("population share holds {v}, not a bucket total"));
        }
        let (a, b) = self.day_spreads;
        let (c, d) = self.hour_spreads;
        [a, b, c, d].into_iter().try_for_each(Spread::check)
    }
}

/// One instance's population share: the organisation's pool and every
/// peer group's (by the host's peer-group id) that holds any value, and
/// the usual reads its own users' days taught (`reads`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// The organisation's pool.
    pub org: PoolShare,
    /// Each peer group's pool.
    pub groups: Vec<(u32, PoolShare)>,
    /// Each tracked resource's usual reads, per peer group.
    pub reads: Vec<(u32, Vec<GroupReads>)>,
    /// Its own readers' reads by how outsized each was (`outsize`).
    pub ratios: RatioCounts,
}

impl Share {
    /// Refuse a share holding a value no bucket total gives.
    pub fn check(&self) -> Result<(), String> {
        self.org.check()?;
        self.groups.iter().try_for_each(|(_, p)| p.check())?;
        self.ratios.check()?;
        crate::reads::check(&self.reads)
    }
}

/// The relative age of the value `rank` places from the most recent of
/// `n` held: `(rank + ½) / n`. Taking the values of several sources
/// youngest first by it takes from each in proportion to what it holds.
fn age(rank: usize, n: usize) -> f32 {
    ((rank as f64 + 0.5) / n as f64) as f32
}

/// The other instances' values of one pooled ring, as (relative age,
/// value), youngest first (ties in shard order), at most the ring's
/// capacity: more are never mixed in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    vals: Vec<(f32, f32)>,
    /// How many values the sources offered (each at most the capacity),
    /// before the youngest were taken.
    offered: usize,
}

impl Recent {
    /// The values of `sources` (each the most recent first, in shard
    /// order) that a pool of capacity `cap` mixes in: the `cap` youngest by
    /// relative age, at most `cap` of each.
    pub fn merge<'a>(sources: impl Iterator<Item = &'a [f32]>, cap: usize) -> Recent {
        let mut all: Vec<(f32, usize, f32)> = Vec::new();
        let mut offered = 0usize;
        for (i, s) in sources.enumerate() {
            let s = &s[..s.len().min(cap)];
            offered = offered.saturating_add(s.len());
            all.extend(s.iter().enumerate().map(|(r, &v)| (age(r, s.len()), i, v)));
        }
        // Stable, so each source keeps its order among equal ages.
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.truncate(cap);
        Recent {
            vals: all.into_iter().map(|(a, _, v)| (a, v)).collect(),
            offered,
        }
    }

    /// After how many of its own new values a pool holding `own` refits
    /// its mixed fit: `POOL_REFIT` scaled by the part of the mixed pool its
    /// own values make, (own + offered) / own, since its values change only
    /// that part of it.
    pub fn refit_every(&self, own: usize) -> u32 {
        let own = own.max(1);
        let scale = own.saturating_add(self.offered) / own;
        crate::POOL_REFIT.saturating_mul(u32::try_from(scale.max(1)).unwrap_or(u32::MAX))
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.vals.is_empty()
    }

    /// How many values a pool of capacity `cap` holding `own` of its own
    /// has with these.
    pub fn held_with(&self, own: usize, cap: usize) -> usize {
        own.saturating_add(self.vals.len()).min(cap)
    }

    /// The fit ([`Ring::fit`]) of the `cap` youngest values by relative
    /// age of the pool's own ring and these (own first on a tie).
    pub fn fit_with(&self, own: &Ring, cap: usize, min_n: usize, min_sd: f64) -> Option<Fit> {
        let n = own.len();
        let mut mine = own
            .newest_first()
            .enumerate()
            .map(|(r, v)| (age(r, n), v))
            .peekable();
        let mut theirs = self.vals.iter().copied().peekable();
        let youngest = std::iter::from_fn(|| match (mine.peek(), theirs.peek()) {
            (Some(a), Some(b)) if a.0 <= b.0 => mine.next(),
            (Some(_), None) => mine.next(),
            _ => theirs.next(),
        });
        fit_values(youngest.take(cap).map(|(_, v)| v), min_n, min_sd)
    }
}

/// The other instances' part of one pool, and the pool's fits with it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Shared {
    /// Their member-days.
    pub days: Recent,
    /// Their members' active hours.
    pub hours: Recent,
    /// The fit of the pool's own member-days mixed with theirs.
    pub day_fit: Option<Fit>,
    /// The fit of the pool's own active hours mixed with theirs.
    pub hour_fit: Option<Fit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(values: &[f32], cap: usize) -> Ring {
        let mut r = Ring::default();
        for &v in values {
            r.push_log(v, cap);
        }
        r
    }

    #[test]
    fn sources_give_in_proportion_to_what_they_hold() {
        // Newest first: 8 values of one source, 4 of another, room for 6.
        let a: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..4).map(|i| 100.0 + i as f32).collect();
        let r = Recent::merge([&a[..], &b[..]].into_iter(), 6);
        let mut vals: Vec<f32> = r.vals.iter().map(|&(_, v)| v).collect();
        vals.sort_by(f32::total_cmp);
        assert_eq!(vals, [0.0, 1.0, 2.0, 3.0, 100.0, 101.0]);
        // With room for all, all are kept.
        assert_eq!(
            Recent::merge([&a[..], &b[..]].into_iter(), 64).vals.len(),
            12
        );
    }

    #[test]
    fn a_pool_mixed_with_others_fits_as_one_ring_of_all_their_values() {
        let mine: Vec<f32> = (0..7).map(|i| (i * 3 % 11) as f32).collect();
        let theirs: Vec<f32> = (0..9).map(|i| (i * 5 % 13) as f32 + 0.5).collect();
        let own = ring(&mine, 32);
        let newest: Vec<f32> = theirs.iter().rev().copied().collect();
        let recent = Recent::merge([&newest[..]].into_iter(), 32);
        let all = ring(&[&mine[..], &theirs[..]].concat(), 32);
        assert_eq!(recent.held_with(own.len(), 32), 16);
        assert_eq!(recent.fit_with(&own, 32, 10, 0.3), all.fit(10, 0.3));
        assert_eq!(
            Recent::default().fit_with(&own, 32, 3, 0.3),
            own.fit(3, 0.3)
        );
        // Over capacity, each side keeps its youngest half.
        assert_eq!(recent.held_with(own.len(), 8), 8);
        let half = ring(&[&mine[3..], &theirs[5..]].concat(), 32);
        assert_eq!(recent.fit_with(&own, 8, 3, 0.3), half.fit(3, 0.3));
    }
}
