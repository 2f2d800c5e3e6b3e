//! Event counts and the slow reference, beside the row baselines of
//! `model`: how many events a user makes on a resource per hour and per day
//! (a steady 5 removable-media connections a day becoming 20), and a
//! baseline that learns far more slowly than the fast one, so a ramp that
//! teaches the fast baseline still stands out.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, DiscreteCDF, NegativeBinomial, Normal, Poisson};
use ueba_sdk::calibrate::p_from_score;

/// Active buckets after which count moments forget geometrically: about
/// three weeks of active days, or two days of active hours.
pub const COUNT_WINDOW_DAYS: f32 = 21.0;
/// The same for active hours.
pub const COUNT_WINDOW_HOURS: f32 = 48.0;
/// Active days after which the slow reference forgets geometrically: a
/// quarter of a year of active days.
pub const SLOW_WINDOW: f32 = 90.0;
/// Active days a slow reference needs before it is scored against.
pub const SLOW_MIN_DAYS: f32 = 10.0;
/// A day further than this many spreads above the slow reference does not
/// teach it: a ramp under way must not become its own reference.
const SLOW_EXCLUDE_Z: f64 = 2.0;
/// Consecutive excluded days after which the slow reference starts over
/// from the present level: a lasting change (a new job) is accepted after
/// about six working weeks rather than flagged for ever.
const SLOW_RESTART_DAYS: u16 = 30;
/// Smallest spread of the slow reference on the log scale.
pub const MIN_SD_SLOW: f64 = 0.3;

/// A completed bucket's count is folded into the moments at most at the
/// count the history gives this chance of reaching (about 3 spreads above
/// the mean): a burst the detector finds remarkable must not widen the
/// baseline it is judged by, or the second day of a surge looks ordinary
/// after the first (winsorised updating, as the row baselines' medians are
/// robust). A lasting change still teaches, a clipped count at a time, and
/// the bound rises with the mean and spread it moves.
const CLIP_P: f64 = 1e-3;
/// Buckets the moments need before counts are clipped: a spread from
/// fewer says too little about what is remarkable.
const CLIP_MIN_N: f32 = 5.0;

/// Score points by which [`Moments::surely_below`] stays clear of the
/// score asked for: rounding in the tail's computation and in the partial
/// sum is many orders of magnitude smaller.
const COUNT_SKIP_MARGIN: f32 = 1.0;
/// Largest count whose tail [`Moments::surely_below`] judges.
const COUNT_SKIP_TERMS: u32 = 64;
/// Most terms after the first that [`Moments::surely_below`] adds: a tail
/// whose first terms fall short is mostly one that does reach the score
/// (or nearly), so more terms would rarely spare its computation.
const COUNT_SKIP_SUM: u32 = 32;
/// Largest negative binomial size, and mean, [`Moments::surely_below`]
/// judges: beyond them the tail's continued fraction converges slowly.
const COUNT_SKIP_MAX_SIZE: f64 = 1e4;
const COUNT_SKIP_MAX_MEAN: f64 = 1e3;

/// Exponentially weighted mean and variance of a count per active bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Effective buckets behind the moments (at most the window).
    pub n: f32,
    /// Mean and variance of the count per bucket.
    pub mean: f32,
    pub var: f32,
}

impl Moments {
    /// Add a completed bucket's count, clipped at [`Moments::clip_bound`]
    /// once [`CLIP_MIN_N`] buckets stand behind the moments.
    pub fn push(&mut self, x: u32, window: f32) {
        let x = if self.n >= CLIP_MIN_N {
            self.clip_bound(x)
        } else {
            x
        };
        let x = x as f32;
        self.n = (self.n + 1.0).min(window);
        let a = 1.0 / self.n;
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }

    /// The largest count up to `x` whose tail ([`Moments::tail`] without a
    /// log-scale floor) is at least [`CLIP_P`]: `x` itself when it is not
    /// remarkable. Counts within three spreads of the mean are never
    /// remarkable and are answered without computing a tail.
    pub fn clip_bound(&self, x: u32) -> u32 {
        let ordinary = self.cheap_bound(3.0);
        if x <= ordinary || self.tail(x, 0.0) >= CLIP_P {
            return x;
        }
        // tail(lo) ≥ CLIP_P > tail(hi); the tail falls as the count rises.
        let (mut lo, mut hi) = (ordinary, x);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.tail(mid, 0.0) >= CLIP_P {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The mean and variance of the next bucket's count as [`Moments::tail`]
    /// judges it: the history's, the variance at least Poisson's and at
    /// least that of a spread of `min_log_sd` on the log scale, widened by
    /// `1 + 1/n`.
    fn predictive(&self, min_log_sd: f64) -> (f64, f64) {
        let m = f64::from(self.mean).max(0.5);
        let n = f64::from(self.n).max(1.0);
        let v = f64::from(self.var).max(m).max((m * min_log_sd).powi(2)) * (1.0 + 1.0 / n);
        (m, v)
    }

    /// `P(X ≥ x)` for the next bucket's count: a negative binomial with the
    /// history's mean and variance, widened by `1 + 1/n` for the
    /// uncertainty of a mean from `n` buckets. The variance is at least
    /// Poisson's, and at least that of a spread of `min_log_sd` on the log
    /// scale (`(mean · min_log_sd)²`): small counts are limited by chance,
    /// large ones by how much the user's days vary as a whole.
    pub fn tail(&self, x: u32, min_log_sd: f64) -> f64 {
        let m = f64::from(self.mean).max(0.5);
        if f64::from(x) <= m {
            return 1.0;
        }
        let (m, v) = self.predictive(min_log_sd);
        let k = u64::from(x - 1);
        let p = if v <= m * (1.0 + 1e-9) {
            Poisson::new(m).ok().map(|d| d.sf(k))
        } else {
            let r = m * m / (v - m);
            NegativeBinomial::new(r, r / (r + m)).ok().map(|d| d.sf(k))
        };
        p.filter(|p| p.is_finite()).unwrap_or(1.0).clamp(0.0, 1.0)
    }

    /// Whether [`Moments::tail`] at `x` surely scores below `need`, known
    /// without computing it: the tail `P(X ≥ x)` is at least the sum of
    /// its first terms `P(X = x) + P(X = x + 1) + …`, a short product and
    /// a recurrence for a small count (the tail itself is an incomplete
    /// beta function), so when that partial sum alone is more than the
    /// probability of `need` less [`COUNT_SKIP_MARGIN`] points, the tail
    /// scores less than `need`. `false` decides nothing: the tail has to
    /// be computed. Only for counts up to [`COUNT_SKIP_TERMS`] and
    /// distributions whose tail is computed to far better than the margin
    /// (a test compares the two over many baselines); elsewhere `false`.
    pub fn surely_below(&self, x: u32, min_log_sd: f64, need: f32) -> bool {
        if need <= COUNT_SKIP_MARGIN || x > COUNT_SKIP_TERMS {
            return false;
        }
        // The distribution exactly as `tail` chooses it.
        let (m, v) = self.predictive(min_log_sd);
        if f64::from(x) <= m || v <= m * (1.0 + 1e-9) {
            return false;
        }
        let r = m * m / (v - m);
        if !(r > 0.0 && r <= COUNT_SKIP_MAX_SIZE && m <= COUNT_SKIP_MAX_MEAN) {
            return false;
        }
        // Negative binomial: P(X = j) = p^r Π_{i<j} (r + i) q / (i + 1).
        let (p, q) = (r / (r + m), m / (r + m));
        let enough = p_from_score(need - COUNT_SKIP_MARGIN);
        let mut term = (0..x).fold((r * p.ln()).exp(), |t, i| {
            t * (r + f64::from(i)) * q / f64::from(i + 1)
        });
        let mut sum = term;
        for j in x..x + COUNT_SKIP_SUM {
            if !sum.is_finite() || sum > enough {
                break;
            }
            term *= (r + f64::from(j)) * q / f64::from(j + 1);
            sum += term;
        }
        sum.is_finite() && sum > enough
    }

    /// The mean plus `k` standard deviations: no count below it can reach a
    /// score worth computing (a tail needs at least about two).
    pub fn cheap_bound(&self, k: f64) -> u32 {
        let m = f64::from(self.mean).max(0.5);
        let v = f64::from(self.var).max(m);
        (m + k * v.sqrt()).ceil().clamp(1.0, f64::from(u32::MAX)) as u32
    }
}

/// A slow reference of `ln(1 + total)` per active day: the user's first
/// weeks, then forgetting over [`SLOW_WINDOW`] active days; days far above
/// it do not teach it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Slow {
    /// Effective days behind the reference (at most [`SLOW_WINDOW`]).
    pub n: f32,
    /// Mean and variance of `ln(1 + total)`.
    pub mean: f32,
    pub var: f32,
    /// Consecutive active days excluded as far above the reference.
    pub excluded: u16,
}

impl Slow {
    /// Whether the reference has enough days to judge against.
    pub fn ready(&self) -> bool {
        self.n >= SLOW_MIN_DAYS
    }

    /// The spread a total is judged with: the reference's own, never below
    /// `min_sd` (nor [`MIN_SD_SLOW`]), widened for few days.
    pub fn sd(&self, min_sd: f64) -> f64 {
        let n = f64::from(self.n).max(1.0);
        f64::from(self.var).sqrt().max(MIN_SD_SLOW).max(min_sd) * (1.0 + 1.0 / n).sqrt()
    }

    /// The least spread a reference of event counts is judged with: the
    /// chance in a count itself. A Poisson count of mean `μ` has a spread
    /// of about `√μ / (1 + μ)` on the `ln(1 + count)` scale (delta
    /// method): two logons a day becoming four is a doubling, and as
    /// common as chance makes it (0.47 at `μ` = 2), while at 200 a day
    /// chance (0.07) is narrower than the reference's own floor
    /// ([`MIN_SD_SLOW`]). `μ` is the reference's level, `exp(mean) − 1`.
    pub fn count_sd(&self) -> f64 {
        let mu = f64::from(self.mean).exp_m1().max(0.0);
        mu.sqrt() / (1.0 + mu)
    }

    /// How many spreads `total` is above the reference.
    pub fn z(&self, total: u64, min_sd: f64) -> f64 {
        self.z_of_log(crate::model::log_total(total), min_sd)
    }

    /// [`Slow::z`] of a total given as `ln(1 + total)`.
    fn z_of_log(&self, log_total: f64, min_sd: f64) -> f64 {
        (log_total - f64::from(self.mean)) / self.sd(min_sd)
    }

    /// Whether `total` is at least `z` spreads above the reference, judged
    /// with [`Slow::rows_sd`] of `min_sd` as its spread floor. `gate`
    /// caches the smallest total that may be, for this `min_sd` and `z`, so
    /// most calls are one comparison, and the chance in a count is computed
    /// only when the gate is built, not on every event; the answer is
    /// exactly `z(total) ≥ z` either way. The usual answer (not ready, or
    /// under a gate built for this `min_sd` and `z`) is inlined into the
    /// caller; the rest is [`Slow::reaches_past_gate`].
    #[inline]
    pub fn reaches_rows(
        &self,
        total: u64,
        min_sd: f64,
        z: f64,
        gate: &mut Option<SlowGate>,
    ) -> bool {
        self.reaches_with(total, z, gate, min_sd, || self.rows_sd(min_sd))
    }

    /// The spread floor of a reference of rows: `min_sd`, and never below
    /// the chance in a count at the reference's level ([`Slow::count_sd`]).
    /// Rows are at least as uncertain as a count of them: where each event
    /// is a row (logons, file opens), two a day becoming six is a tripling
    /// that chance alone makes about one day in seventy, however steady the
    /// days before; at hundreds of rows a day the count's chance is far
    /// below `min_sd` and changes nothing.
    pub fn rows_sd(&self, min_sd: f64) -> f64 {
        min_sd.max(self.count_sd())
    }

    /// [`Slow::reaches_rows`] for a reference of event counts, judged with
    /// [`Slow::count_sd`] as its spread floor. The floor follows from the
    /// reference itself, so a gate built since the reference last learned
    /// (its owner clears the gate then) was built with it, and the floor is
    /// computed only when a gate is built, not on every event.
    #[inline]
    pub fn reaches_counts(&self, total: u64, z: f64, gate: &mut Option<SlowGate>) -> bool {
        self.reaches_with(total, z, gate, 0.0, || self.count_sd())
    }

    /// The gate check [`Slow::reaches_rows`] and [`Slow::reaches_counts`]
    /// make: `key` is what the caller's floor follows from (a gate built
    /// for another key is built again), `min_sd` gives the floor when the
    /// gate has to be passed or built. What the floor takes from the
    /// reference itself (the chance in a count) changes only when the
    /// reference learns, and its owner clears the gate then, so a counts
    /// reference's key is constant.
    #[inline(always)]
    fn reaches_with(
        &self,
        total: u64,
        z: f64,
        gate: &mut Option<SlowGate>,
        key: f64,
        min_sd: impl FnOnce() -> f64,
    ) -> bool {
        if !self.ready() {
            return false;
        }
        if let Some(g) = *gate
            && g.key == key
            && g.z == z
            && total < g.total
        {
            return false;
        }
        self.reaches_past_gate(total, key, min_sd(), z, gate)
    }

    /// [`Slow::reaches_with`] for a ready reference whose gate has to be built
    /// or which the total is not under.
    #[inline(never)]
    fn reaches_past_gate(
        &self,
        total: u64,
        key: f64,
        min_sd: f64,
        z: f64,
        gate: &mut Option<SlowGate>,
    ) -> bool {
        let at = match *gate {
            Some(g) if g.key == key && g.z == z => g.total,
            _ => {
                let x = (f64::from(self.mean) + z * self.sd(min_sd)).exp_m1();
                // A little below the rounded threshold, so rounding never
                // hides a total that reaches it.
                let total = if x.is_finite() {
                    (x * 0.999 - 1.0).max(0.0) as u64
                } else {
                    u64::MAX
                };
                *gate = Some(SlowGate { total, key, z });
                total
            }
        };
        total >= at && self.z(total, min_sd) >= z
    }

    /// `P(Z ≥ z)` for the standard normal.
    pub fn tail(&self, total: u64, min_sd: f64) -> f64 {
        let z = self.z(total, min_sd);
        if z <= 0.0 {
            return 1.0;
        }
        Normal::standard().sf(z).clamp(0.0, 1.0)
    }

    /// Add a completed active day's total.
    pub fn push(&mut self, total: u64) {
        self.push_log(crate::model::log_small_total(total));
    }

    /// [`Slow::push`] with `ln(1 + total)` already computed, for a total
    /// that also joins a row history.
    pub fn push_log(&mut self, log_total: f64) {
        if self.ready() && self.z_of_log(log_total, 0.0) > SLOW_EXCLUDE_Z {
            self.excluded = self.excluded.saturating_add(1);
            if self.excluded > SLOW_RESTART_DAYS {
                *self = Slow::default();
            }
            return;
        }
        self.excluded = 0;
        let x = log_total as f32;
        self.n = (self.n + 1.0).min(SLOW_WINDOW);
        let a = 1.0 / self.n;
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }
}

/// The smallest total that may reach a slow reference's `z`, for the
/// caller's floor (`key`, see [`Slow::reaches_with`]) and `z` it was
/// computed with; derived from the reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowGate {
    total: u64,
    key: f64,
    z: f64,
}

/// The `z` whose upper normal tail scores `score`.
pub fn z_for_score(score: f32) -> f64 {
    let p = p_from_score(score);
    Normal::standard().inverse_cdf(1.0 - p).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_reference_is_never_narrower_than_chance() {
        let mut two = Slow::default();
        let mut many = Slow::default();
        for _ in 0..12 {
            two.push(2);
            many.push(200);
        }
        assert!(
            (two.count_sd() - 2f64.sqrt() / 3.0).abs() < 0.02,
            "{}",
            two.count_sd()
        );
        assert!(many.count_sd() < 0.08, "{}", many.count_sd());
        // Two logons a day becoming four is within chance; at 200 a day
        // chance is narrower than the reference's own floor, which judges.
        assert!(
            two.z(4, two.count_sd()) < 1.5,
            "{}",
            two.z(4, two.count_sd())
        );
        assert!(two.z(4, 0.0) > 2.0 * two.z(4, two.count_sd()) - 1.0);
        assert_eq!(many.z(400, many.count_sd()), many.z(400, 0.0));
    }

    #[test]
    fn a_surge_day_does_not_widen_the_baseline_it_is_judged_by() {
        let mut m = Moments::default();
        for x in [2, 5, 3, 6, 4, 2, 5, 4, 3, 6] {
            m.push(x, COUNT_WINDOW_DAYS);
        }
        let before = m;
        // An ordinary day is learned as it is.
        assert_eq!(m.clip_bound(7), 7);
        // A day of 22 is learned as the most the history found unremarkable.
        let bound = m.clip_bound(22);
        assert!((9..22).contains(&bound), "{bound}");
        assert!(m.tail(bound, 0.0) >= CLIP_P && m.tail(bound + 1, 0.0) < CLIP_P);
        m.push(22, COUNT_WINDOW_DAYS);
        let mut clipped = before;
        clipped.push(bound, COUNT_WINDOW_DAYS);
        assert_eq!(m, clipped);
        // So the next day's 16 still scores as a surge.
        assert!(
            ueba_sdk::score_from_p(m.tail(16, 0.0)) >= 20.0,
            "{}",
            m.tail(16, 0.0)
        );
        // Until the moments have a few buckets, nothing is clipped.
        let mut young = Moments::default();
        for x in [2, 3, 40] {
            young.push(x, COUNT_WINDOW_DAYS);
        }
        assert!(young.mean > 10.0);
    }

    #[test]
    fn a_steady_count_quadrupling_is_deep_in_the_tail() {
        let mut m = Moments::default();
        for x in [4, 5, 6, 5, 4, 6, 5] {
            m.push(x, COUNT_WINDOW_DAYS);
        }
        assert!(m.tail(8, 0.3) > 0.01, "{}", m.tail(8, 0.3));
        // Small counts are limited by chance, not by the day's spread.
        assert_eq!(m.tail(20, 0.3), m.tail(20, 0.0));
        assert!(ueba_sdk::score_from_p(m.tail(20, 0.3)) >= 50.0);
        assert!(ueba_sdk::score_from_p(m.tail(24, 0.3)) >= 60.0);
        // Large ones by the day's spread: 28 a day doubling.
        let mut busy = Moments::default();
        for x in [24, 28, 33, 22, 30, 27, 31, 29, 26, 30] {
            busy.push(x, COUNT_WINDOW_DAYS);
        }
        assert!(busy.tail(60, 0.0) < 1e-5);
        assert!(busy.tail(60, 0.5) > 1e-3, "{}", busy.tail(60, 0.5));
        // A bursty history is judged leniently.
        let mut b = Moments::default();
        for x in [1, 12, 3, 30, 2, 8, 15] {
            b.push(x, COUNT_WINDOW_DAYS);
        }
        assert!(b.tail(20, 0.0) > 0.05, "{}", b.tail(20, 0.0));
    }

    /// Wherever the partial sum says a count's tail scores below what is
    /// needed, the computed tail does, by most of the margin, over
    /// baselines from steady to bursty, short and long, with and without
    /// a day spread; and the partial sum spares most tails that fall
    /// short.
    #[test]
    fn counts_surely_below_never_hide_a_score() {
        let mut state: u64 = 0x5EED;
        let mut unit = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut skipped, mut short) = (0, 0);
        for case in 0..20_000 {
            let mean = (unit() * 7.0 - 1.0).exp() as f32;
            let moments = Moments {
                n: 1.0 + (unit() * 60.0) as f32,
                mean,
                var: mean * (unit() * 6.0 - 2.0).exp() as f32,
            };
            let sd = if unit() < 0.3 { 0.0 } else { unit() * 2.0 };
            let need = if case % 2 == 0 {
                20.0
            } else {
                (unit() * 100.0) as f32
            };
            for x in 0..=COUNT_SKIP_TERMS + 1 {
                let score = ueba_sdk::score_from_p(moments.tail(x, sd));
                if moments.surely_below(x, sd, need) {
                    assert!(
                        score < need - 0.9 * COUNT_SKIP_MARGIN,
                        "{moments:?} sd {sd} x {x}: {score} vs {need}"
                    );
                    skipped += 1;
                }
                short += usize::from(score < need && f64::from(x) > f64::from(mean));
            }
        }
        assert!(4 * skipped > 3 * short, "spared {skipped} of {short}");
    }

    #[test]
    fn the_slow_reference_ignores_days_far_above_it() {
        let mut s = Slow::default();
        for _ in 0..20 {
            s.push(1_000);
        }
        assert!(s.ready());
        let before = s;
        s.push(100_000);
        assert_eq!((s.mean, s.n), (before.mean, before.n));
        assert!(s.tail(5_000, 0.0) < 1e-6);
        let mut gate = None;
        for total in [1_000, 1_500, 2_000, 2_500, 3_000, 10_000] {
            let exact = s.z(total, s.rows_sd(0.0)) >= 3.0;
            assert_eq!(s.reaches_rows(total, 0.0, 3.0, &mut gate), exact, "{total}");
        }
        assert!(s.tail(5_000, 1.0) > 1e-3);
        for _ in 0..=SLOW_RESTART_DAYS {
            s.push(100_000);
        }
        assert!(!s.ready());
        let z = z_for_score(60.0);
        assert!((ueba_sdk::score_from_p(Normal::standard().sf(z)) - 60.0).abs() < 0.01);
    }
}
