//! The statistics behind the volume detector: robust baselines of bucket
//! totals on a log scale, shrinkage towards a prior, and the negative
//! binomial tail that turns a running total into a probability.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, DiscreteCDF, NegativeBinomial, Normal, StudentsT};
use ueba_sdk::calibrate::p_from_score;
use ueba_sdk::score_from_p;

/// Consistency constant that turns a MAD into a normal standard deviation.
const MAD_TO_SD: f64 = 1.4826;
/// Degrees of freedom from which the normal tail is used instead of the t.
const MAX_T_DF: f64 = 1000.0;
/// The standard normal's 90th percentile.
const Z90: f64 = 1.281_551_6;
/// The standard normal's 97.5th percentile.
const Z975: f64 = 1.959_964;
/// Values needed before the 97.5th percentile is used: with fewer, it would
/// be the single largest value, and one spike must not raise the bar.
const MIN_N_975: usize = 40;

/// Totals above this are clamped before the tail is computed: any baseline
/// the detector can hold already puts them at the bottom of the scale, and
/// it keeps the special functions far from the edges of f64.
const MAX_TOTAL: u64 = 1 << 52;

/// The most recent completed bucket totals, as `ln(1 + total)`, in a ring.
///
/// Stored as f32 (4 bytes a value): the baseline needs two significant
/// digits, not sixteen.
///
/// Beside the ring it keeps the values' order keys sorted, updated by each
/// push (one removal and one insertion), so that `fit` reads its quantiles
/// instead of sorting: users refit at every day's close and pools every 32
/// buckets, and sorting there was the largest part of the detector's time.
/// The sorted copy is derived state, not part of the snapshot: a restored
/// ring rebuilds it on its first push, and fits by sorting until then.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ring {
    vals: Vec<f32>,
    next: u32,
    #[serde(skip)]
    sorted: Vec<i32>,
}

/// Values a ring has room for at its first value.
const FIRST_ROOM: usize = 4;

impl PartialEq for Ring {
    fn eq(&self, other: &Self) -> bool {
        self.vals == other.vals && self.next == other.next
    }
}

impl Ring {
    /// Record a completed bucket's total, overwriting the oldest once `cap`
    /// values are held. (The detector passes the logarithm it already has to
    /// [`Ring::push_log`].)
    #[cfg(test)]
    pub fn push(&mut self, total: u64, cap: usize) {
        self.push_log(log_total(total) as f32, cap);
    }

    /// [`Ring::push`] with `ln(1 + total)` already computed (as f32), for a
    /// total that joins several rings: a user's and two pools'.
    pub fn push_log(&mut self, v: f32, cap: usize) {
        if self.sorted.len() != self.vals.len() {
            self.sorted = self.vals.iter().map(|&x| total_order_key(x)).collect();
            self.sorted.sort_unstable();
        }
        let key = total_order_key(v);
        if self.vals.len() < cap {
            if self.vals.len() == self.vals.capacity() {
                // Room for a few values first (most users of a large
                // organisation have little history); once a ring holds a
                // few it fills up, so then its whole capacity at once rather
                // than through a chain of doublings (which also overshoot:
                // 192 values would get room for 256).
                let want = if self.vals.is_empty() {
                    FIRST_ROOM.min(cap)
                } else {
                    cap
                };
                self.vals.reserve_exact(want - self.vals.len());
                self.sorted
                    .reserve_exact(want.saturating_sub(self.sorted.len()));
            }
            self.vals.push(v);
        } else if let Some(slot) = self.vals.get_mut(self.next as usize) {
            let old = total_order_key(*slot);
            *slot = v;
            self.next = (self.next + 1) % cap.max(1) as u32;
            if old == key {
                return;
            }
            if let Ok(i) = self.sorted.binary_search(&old) {
                // Replace the old key by the new one where it belongs,
                // moving only the keys between the two places rather than
                // the whole tail out and back.
                let j = self.sorted.partition_point(|&k| k < key);
                if j > i {
                    self.sorted[i..j].rotate_left(1);
                    self.sorted[j - 1] = key;
                } else {
                    self.sorted[j..=i].rotate_right(1);
                    self.sorted[j] = key;
                }
                return;
            }
        } else {
            return;
        }
        let i = self.sorted.partition_point(|&k| k < key);
        self.sorted.insert(i, key);
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.vals.len()
    }

    /// The held values, the most recent first.
    pub fn newest_first(&self) -> impl Iterator<Item = f32> + '_ {
        let n = self.vals.len();
        let next = self.next as usize;
        (0..n).map(move |i| self.vals[(next + 2 * n - 1 - i) % n])
    }

    /// Median and robust spread of the held values: the larger of the
    /// MAD-based spread and the spread implied by the upper decile (and, with
    /// at least 40 values, the upper 2.5%; so a right-skewed history is not
    /// mistaken for a narrow one), floored at `min_sd`; `None` when fewer
    /// than `min_n` values are held.
    ///
    /// The values are read in the IEEE total order (the order
    /// `f64::total_cmp` gives) from the sorted keys, and the median absolute
    /// deviation is read off them by walking outwards from the median
    /// instead of sorting the deviations. The result is bit-identical to
    /// sorting both (a test compares them).
    pub fn fit(&self, min_n: usize, min_sd: f64) -> Option<Fit> {
        if self.vals.len() < min_n.max(1) {
            return None;
        }
        let resorted;
        let keys: &[i32] = if self.sorted.len() == self.vals.len() {
            &self.sorted
        } else {
            let mut k: Vec<i32> = self.vals.iter().map(|&x| total_order_key(x)).collect();
            k.sort_unstable();
            resorted = k;
            &resorted
        };
        Some(fit_sorted(keys, min_sd))
    }
}

/// [`Ring::fit`] of any values: `None` when fewer than `min_n` are given.
pub fn fit_values(values: impl Iterator<Item = f32>, min_n: usize, min_sd: f64) -> Option<Fit> {
    let mut keys: Vec<i32> = values.map(total_order_key).collect();
    if keys.len() < min_n.max(1) {
        return None;
    }
    keys.sort_unstable();
    Some(fit_sorted(&keys, min_sd))
}

/// [`Ring::fit`] of the values behind `keys` (at least one), sorted.
fn fit_sorted(keys: &[i32], min_sd: f64) -> Fit {
    let at = |i: usize| value_of_key(keys[i]);
    let n = keys.len();
    let m = if n % 2 == 1 {
        at(n / 2)
    } else {
        0.5 * (at(n / 2 - 1) + at(n / 2))
    };
    // The upper decile shows how far busy buckets reach, which the MAD
    // misses when the lower half is the wider one.
    let q90 = at(((n - 1) * 9).div_ceil(10));
    let mut upper = (q90 - m) / Z90;
    if n >= MIN_N_975 {
        // With a long history, also the top 2.5%: a user whose reads are
        // now and then whole tables (a few hours in a hundred) has a
        // heavy upper tail that the upper decile alone does not show.
        let q975 = at(((n - 1) * 39).div_ceil(40));
        upper = upper.max((q975 - m) / Z975);
    }
    let mad = median_abs_deviation(keys, m);
    Fit {
        m,
        s: (MAD_TO_SD * mad).max(upper).max(min_sd),
    }
}

/// A [`Ring`] of at most `N` values held inline, for the short histories
/// every user × resource pair keeps: no heap allocations of its own (a
/// [`Ring`] has two), so a pair's history is in the pair's own cache lines
/// and closing a pair's day does not wait for two more. With so few values
/// a fit sorts a copy of their keys rather than keeping them sorted.
///
/// It behaves exactly as a [`Ring`] pushed with `cap` `N`, fits the same
/// (a test compares them), and its snapshot is a [`Ring`]'s; a snapshot
/// holding more than `N` values (which no ring pushed with `cap` `N`
/// holds) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RingState")]
pub struct SmallRing<const N: usize> {
    vals: [f32; N],
    len: u32,
    next: u32,
}

impl<const N: usize> Default for SmallRing<N> {
    fn default() -> Self {
        SmallRing {
            vals: [0.0; N],
            len: 0,
            next: 0,
        }
    }
}

/// A ring as a snapshot holds it, [`SmallRing`]'s or [`Ring`]'s.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Ring")]
struct RingState {
    vals: Vec<f32>,
    next: u32,
}

/// [`RingState`] by reference, to write a [`SmallRing`] without copying it.
#[derive(Serialize)]
#[serde(rename = "Ring")]
struct RingStateRef<'a> {
    vals: &'a [f32],
    next: &'a u32,
}

impl<const N: usize> TryFrom<RingState> for SmallRing<N> {
    type Error = String;

    fn try_from(r: RingState) -> Result<Self, String> {
        let mut ring = SmallRing::default();
        let Some(room) = ring.vals.get_mut(..r.vals.len()) else {
            return Err(format!(
                "a history of {} values, at most {N} expected",
                r.vals.len()
            ));
        };
        room.copy_from_slice(&r.vals);
        ring.len = r.vals.len() as u32;
        ring.next = r.next;
        Ok(ring)
    }
}

impl<const N: usize> Serialize for SmallRing<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RingStateRef {
            vals: self.values(),
            next: &self.next,
        }
        .serialize(s)
    }
}

impl<const N: usize> SmallRing<N> {
    fn values(&self) -> &[f32] {
        &self.vals[..self.len as usize]
    }

    /// [`Ring::push_log`] with `cap` `N`.
    pub fn push_log(&mut self, v: f32) {
        let len = self.len as usize;
        if len < N {
            self.vals[len] = v;
            self.len += 1;
        } else if let Some(slot) = self.vals.get_mut(self.next as usize) {
            *slot = v;
            self.next = (self.next + 1) % N.max(1) as u32;
        }
    }

    /// [`Ring::fit`].
    pub fn fit(&self, min_n: usize, min_sd: f64) -> Option<Fit> {
        let len = self.len as usize;
        if len < min_n.max(1) {
            return None;
        }
        let mut keys = [0i32; N];
        for (k, &v) in keys.iter_mut().zip(self.values()) {
            *k = total_order_key(v);
        }
        let keys = &mut keys[..len];
        keys.sort_unstable();
        Some(fit_sorted(keys, min_sd))
    }
}

/// An integer whose order is `f32::total_cmp`'s: negative values have their
/// magnitude bits flipped. The map is its own inverse.
fn total_order_key(x: f32) -> i32 {
    let bits = x.to_bits() as i32;
    bits ^ (((bits >> 31) as u32) >> 1) as i32
}

/// The value behind a [`total_order_key`], widened to f64 (exactly).
fn value_of_key(key: i32) -> f64 {
    let bits = key ^ (((key >> 31) as u32) >> 1) as i32;
    f64::from(f32::from_bits(bits as u32))
}

/// The median of `|x - m|` over the values behind sorted keys. Deviations
/// grow walking away from `m` on either side (rounding is monotone), so the
/// deviations are two sorted runs (leftwards from `m`, rightwards from it)
/// and the middle one or two of their merge are found by a binary search
/// for how many of the smaller half come from each run: a refit of a pooled
/// ring of 512 values reads about twenty deviations instead of 256.
///
/// The merge's middle values are the same whichever run a tie is taken
/// from, so this is the value [`median_abs_deviation_by_walking`] finds
/// (a test compares them); that walk is kept for values the runs might not
/// order (a NaN or infinite median, or NaN values from a restored ring).
fn median_abs_deviation(keys: &[i32], m: f64) -> f64 {
    let n = keys.len();
    let (Some(&lowest), Some(&highest)) = (keys.first(), keys.last()) else {
        return 0.0;
    };
    if !m.is_finite() || value_of_key(lowest).is_nan() || value_of_key(highest).is_nan() {
        return median_abs_deviation_by_walking(keys, m);
    }
    let v = |i: usize| value_of_key(keys[i]);
    // Values at or below `m` lie left of `split`, values above it from it on.
    let split = keys.partition_point(|&k| value_of_key(k) <= m);
    // The j-th deviation of each run, smallest first.
    let below = |j: usize| (v(split - 1 - j) - m).abs();
    let above = |j: usize| (v(split + j) - m).abs();
    let (a, b) = (split, n - split);
    // Take the `c` smallest deviations, `i` of them from below: the least
    // `i` for which the next one below is not smaller than the last one
    // taken from above (both runs are sorted, so that test is monotone in
    // `i`, and at that `i` the last one taken from below is not larger than
    // the next above either).
    let c = n / 2;
    let (mut lo, mut hi) = (c.saturating_sub(b), c.min(a));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        if above(c - i - 1) > below(i) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let next = match (i < a, c - i < b) {
        (true, true) => below(i).min(above(c - i)),
        (true, false) => below(i),
        (false, _) => above(c - i),
    };
    if n % 2 == 1 {
        return next;
    }
    let last = match (i > 0, c > i) {
        (true, true) => below(i - 1).max(above(c - i - 1)),
        (true, false) => below(i - 1),
        (false, _) => above(c - i - 1),
    };
    0.5 * (last + next)
}

/// [`median_abs_deviation`] by merging the two runs one deviation at a time
/// up to the middle.
fn median_abs_deviation_by_walking(keys: &[i32], m: f64) -> f64 {
    let n = keys.len();
    let v = |i: usize| value_of_key(keys[i]);
    // Values at or below `m` lie left of `split`, values above it from it on.
    let split = keys.partition_point(|&k| value_of_key(k) <= m);
    let (mut left, mut right) = (split, split);
    let mut next = || {
        let below = (left > 0).then(|| (v(left - 1) - m).abs());
        let above = (right < n).then(|| (v(right) - m).abs());
        match (below, above) {
            (Some(b), Some(a)) if a.total_cmp(&b).is_lt() => {
                right += 1;
                a
            }
            (Some(b), _) => {
                left -= 1;
                b
            }
            (None, Some(a)) => {
                right += 1;
                a
            }
            (None, None) => 0.0,
        }
    };
    let mut before = 0.0;
    for _ in 0..n / 2 {
        before = next();
    }
    let middle = next();
    if n % 2 == 1 {
        middle
    } else {
        0.5 * (before + middle)
    }
}

/// `ln(1 + total)`, the scale baselines live on.
pub fn log_total(total: u64) -> f64 {
    (total.min(MAX_TOTAL) as f64).ln_1p()
}

/// Totals below this have their [`log_total`] in a table.
const SMALL_TOTALS: usize = 256;

/// [`log_total`] of a total that is usually small (a day's event count on
/// one resource), read from a table of the same function's values below
/// [`SMALL_TOTALS`], so the same bits, without a `ln_1p` per pair and day.
pub fn log_small_total(total: u64) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; SMALL_TOTALS]> = std::sync::OnceLock::new();
    match usize::try_from(total) {
        Ok(i) if i < SMALL_TOTALS => {
            TABLE.get_or_init(|| std::array::from_fn(|i| log_total(i as u64)))[i]
        }
        _ => log_total(total),
    }
}

/// A baseline on the log scale: location `m` (log of 1 + the median total)
/// and robust spread `s`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Median of `ln(1 + total)`.
    pub m: f64,
    /// 1.4826 × MAD of `ln(1 + total)`, floored.
    pub s: f64,
}

/// Spreads of the prior within which a user's own median counts as like
/// the prior's users (see [`Fit::kinship`]).
const KIN_SPREADS: f64 = 2.0;

impl Fit {
    /// Shrink `own` (fitted from `n` buckets) towards `prior` with the prior
    /// worth `prior_weight` buckets times [`Fit::kinship`]; either may be
    /// missing.
    pub fn blend(own: Option<Fit>, n: u32, prior: Option<Fit>, prior_weight: f64) -> Option<Fit> {
        match (own, prior) {
            (None, None) => None,
            (Some(o), None) => Some(o),
            (None, Some(p)) => Some(p),
            (Some(o), Some(p)) => Some(Fit::mix(
                o,
                n,
                p,
                prior_weight.max(0.0) * Fit::kinship(o, n, p),
            )),
        }
    }

    /// Shrink `own` (fitted from `n` buckets) towards a pool of many users'
    /// buckets (`pool`: a peer group's or the organisation's), as
    /// [`Fit::blend`] does, with the pool worth at most `likeness` buckets
    /// (`spread`): a pool whose members differ far more than each member's
    /// buckets vary says little about any one member once they have
    /// buckets of their own. Without `likeness` the blend's weight stands.
    pub fn pooled(
        own: Option<Fit>,
        n: u32,
        pool: Option<Fit>,
        likeness: Option<f64>,
        prior_weight: f64,
    ) -> Option<Fit> {
        match (own, pool, likeness) {
            (Some(o), Some(p), Some(like)) => {
                let k = (prior_weight.max(0.0) * Fit::kinship(o, n, p)).min(like.max(0.0));
                Some(Fit::mix(o, n, p, k))
            }
            _ => Fit::blend(own, n, pool, prior_weight),
        }
    }

    /// `own` (from `n` buckets) and `prior` (worth `k` buckets), mixed.
    fn mix(o: Fit, n: u32, p: Fit, k: f64) -> Fit {
        let w = f64::from(n) / (f64::from(n) + k);
        let w = if w.is_finite() { w } else { 1.0 };
        Fit {
            m: w * o.m + (1.0 - w) * p.m,
            s: (w * o.s * o.s + (1.0 - w) * p.s * p.s).sqrt(),
        }
    }

    /// How far `prior` (the peer group's or the organisation's buckets)
    /// speaks for a user whose own `n` buckets fit `own`: 1 while the own
    /// median is within [`KIN_SPREADS`] spreads of the prior's (the spread
    /// of the prior and the own median's uncertainty, `own.s/√n`), falling
    /// off as a normal tail beyond, `exp(−(z − 2)²/2)`: 0.61 at three
    /// spreads, 0.01 at five. A user unlike their pool (a service account
    /// reading forty thousand rows a day, steadily, among agents reading a
    /// thousand) is judged by their own days as soon as they have some,
    /// instead of by a median half-way to the pool's, against which their
    /// ordinary day looks like a bulk read. A user near the pool keeps the
    /// full prior, and one with a day or two of history keeps most of it,
    /// since their own median is uncertain.
    pub fn kinship(own: Fit, n: u32, prior: Fit) -> f64 {
        let sd = (prior.s * prior.s + own.s * own.s / f64::from(n.max(1))).sqrt();
        let excess = ((own.m - prior.m).abs() / sd - KIN_SPREADS).max(0.0);
        // Most users are within the spreads, where the tail is exactly 1:
        // skip the exponential, which runs on every event.
        if excess == 0.0 {
            return 1.0;
        }
        let k = (-0.5 * excess * excess).exp();
        if k.is_finite() { k } else { 1.0 }
    }

    /// The same baseline with its spread at least `s` (NaN is ignored).
    pub fn widen(self, s: f64) -> Fit {
        Fit {
            m: self.m,
            s: self.s.max(s),
        }
    }

    /// The median total in rows.
    pub fn median_rows(&self) -> f64 {
        self.m.exp_m1().max(0.0)
    }

    /// The negative binomial matched to this baseline: the mean and
    /// variance of the log-normal it describes. Returns `(mean, size r)`.
    pub fn negative_binomial(&self) -> (f64, f64) {
        let s2 = self.s * self.s;
        let mean = self.mean();
        // Log-normal variance is mean² (e^{s²} − 1); the NB's is
        // mean + mean²/r, so r = 1/(e^{s²} − 1) makes it at least as wide.
        let r = (1.0 / s2.exp_m1()).clamp(0.05, 1e6);
        (mean, r)
    }

    /// The matched negative binomial's mean alone (as
    /// [`Fit::negative_binomial`] gives it), for the many places that need
    /// only the mean and should not pay for the size's `exp_m1`.
    pub fn mean(&self) -> f64 {
        let s2 = self.s * self.s;
        ((self.m + s2 / 2.0).exp() - 1.0).clamp(1.0, 1e15)
    }

    /// P(X ≥ total): the larger of the matched negative binomial's tail and
    /// the log-normal's. The negative binomial is the count model; the
    /// log-normal's heavier far tail keeps a skewed history (an analyst's
    /// bursty hours) from making an ordinary busy bucket look impossible, so
    /// a total has to be extreme under both to score high. Always in 0..=1.
    ///
    /// `df` is how many buckets (own and prior) the baseline rests on, less
    /// one. The log-scale tail is the predictive Student-t with those degrees
    /// of freedom rather than the normal: a median and spread estimated from
    /// eight table-days are themselves uncertain, and a normal tail would
    /// call a total seven spreads out a one-in-ten-billion event when such a
    /// baseline cannot support more than about one in a hundred thousand.
    /// Long histories (hundreds of buckets) give the normal back.
    pub fn tail(&self, total: u64, df: f64) -> f64 {
        if total == 0 {
            return 1.0;
        }
        let p = self
            .negative_binomial_tail(total)
            .max(self.log_normal_tail(total, df));
        if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) }
    }

    /// The matched negative binomial's P(X ≥ total), for `total` ≥ 1; 0 when
    /// it cannot be computed, so the log-normal's tail decides.
    fn negative_binomial_tail(&self, total: u64) -> f64 {
        let (mean, r) = self.negative_binomial();
        let x = total.min(MAX_TOTAL) - 1;
        NegativeBinomial::new(r, r / (r + mean))
            .ok()
            .map(|nb| nb.sf(x))
            .filter(|p| p.is_finite())
            .unwrap_or(0.0)
    }

    /// The log-scale tail at `ln(1 + total)`: Student-t with `df` degrees
    /// of freedom when `df` is in 1..1000, else normal; NaN when the
    /// baseline is not a valid distribution.
    fn log_normal_tail(&self, total: u64, df: f64) -> f64 {
        let x = log_total(total);
        let scale = self.s.max(1e-3);
        if (1.0..MAX_T_DF).contains(&df) {
            StudentsT::new(self.m, scale, df)
                .map(|t| t.sf(x))
                .unwrap_or(f64::NAN)
        } else {
            Normal::new(self.m, scale)
                .map(|n| n.sf(x))
                .unwrap_or(f64::NAN)
        }
    }

    /// Whether a bucket total counts under this baseline with a score of at
    /// least `need`: the detector's own test, word for word: not at or
    /// below the fitted mean (a NaN mean does not stop it), and
    /// `score_from_p(tail) >= need`.
    pub fn reaches(&self, total: u64, df: f64, need: f32) -> bool {
        let mean = self.mean();
        not_at_or_below(total, mean) && score_from_p(self.tail(total, df)) >= need
    }
}

/// `!(total as f64 <= mean)`, the detector's test of whether a total is
/// worth a tail: true for a NaN mean.
fn not_at_or_below(total: u64, mean: f64) -> bool {
    !matches!(
        (total as f64).partial_cmp(&mean),
        Some(Ordering::Less | Ordering::Equal)
    )
}

/// Gates test for a score this much below the one asked for, so that the
/// few ulps of noise in the computed tail (see [`Gate`]) can never let a
/// total under the gate reach the score.
const GATE_MARGIN: f32 = 0.01;
/// Totals from here on always take the full computation. The negative
/// binomial's tail is computed through log-gamma functions of the total,
/// so its rounding noise grows with the total: measured over the widest
/// baselines, it rises from one total to the next by at most 8e-7 of
/// itself at 2²⁴, 2.5e-5 at 2²⁸ (1e-4 score points, a fiftieth of what
/// the margin allows) and 4e-4 at 2³².
const GATE_LIMIT: u64 = 1 << 28;

/// Where a bucket's running total starts to matter, for one baseline and
/// the score the bucket must reach.
///
/// The tail only falls as a total grows, so whether a bucket can report is
/// a threshold on its total. A baseline changes only when a bucket closes
/// or a pool refits, while running totals change on every event; so the
/// detector finds the threshold once per baseline and then compares
/// integers per event, and computes tails only for an event at or past
/// it, exactly as before. Findings are those of computing every tail
/// (tests check the gate against [`Fit::reaches`] total by total, and the
/// whole detector against an ungated one).
///
/// The computed tail is not exactly monotone: near 10¹⁰ rows the negative
/// binomial's tail wobbles by a few parts in 10⁵ from one total to the
/// next. So the threshold is found for a score [`GATE_MARGIN`] lower than
/// the one asked for, and totals from [`GATE_LIMIT`] on always take the
/// full computation; below it the wobble is far under the margin, so no
/// total under the gate can reach the score.
///
/// The threshold is found in up to three steps, each only once a total
/// gets past the previous one, so a baseline no total comes near costs
/// almost nothing: first `at` is the least total above the fitted mean
/// (below it nothing is scored); then the threshold of the log-scale tail
/// alone, which the full tail is never below, from its quantile and a check
/// or two (for a Student-t tail, the normal's: the t's upper tail is never
/// below the normal's, and the normal costs an `erfc` where the t costs an
/// incomplete beta function); last the threshold of the full tail,
/// searched for upwards from there.
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    fit: Fit,
    df: f64,
    need: f32,
    /// Which threshold `at` is: 0 the mean's, 1 the log-scale tail's, 2 the
    /// full tail's.
    stage: u8,
    /// No total below this reaches `need`.
    at: u64,
}

/// The score of p = ½ is 3.0103; for higher scores only totals above the
/// median count, where the t's tail is at least the normal's.
const SCORE_AT_HALF: f32 = 3.02;

impl Gate {
    /// Whether a total passes the gate in `slot` for this baseline (`fit`,
    /// `df`) and score, rebuilding the gate when any of them changed since
    /// it was built. `false` guarantees `fit.reaches(total, df, need)` is
    /// false; `true` means it has to be computed.
    ///
    /// The usual answer (the gate was built for this baseline and score,
    /// and the total is under it) is a few comparisons inlined into the
    /// caller; anything else is left to [`Gate::opens_rebuilding`].
    #[inline]
    pub fn opens(
        slot: &mut Option<Gate>,
        fit: Fit,
        df: f64,
        need: f32,
        total: u64,
        quantiles: &mut Quantiles,
    ) -> bool {
        if let Some(g) = slot
            && g.is_for(fit, df, need)
            && total < g.at
        {
            return false;
        }
        Gate::opens_rebuilding(slot, fit, df, need, total, quantiles)
    }

    /// [`Gate::opens`] when the gate has to be built or moved on.
    #[inline(never)]
    fn opens_rebuilding(
        slot: &mut Option<Gate>,
        fit: Fit,
        df: f64,
        need: f32,
        total: u64,
        quantiles: &mut Quantiles,
    ) -> bool {
        let gate = match slot {
            Some(g) if g.is_for(fit, df, need) => g,
            _ => slot.insert(Gate::new(fit, df, need)),
        };
        while total >= gate.at {
            match gate.stage {
                0 => gate.at = gate.log_scale_threshold(quantiles),
                1 => {
                    let (fit, df, need) = (gate.fit, gate.df, gate.need - GATE_MARGIN);
                    gate.at = lowest(|x| fit.reaches(x, df, need), gate.at, gate.at);
                }
                _ => return true,
            }
            gate.stage += 1;
        }
        false
    }

    /// Whether this gate was built for exactly this baseline and score
    /// (bit for bit: any change at all rebuilds it).
    fn is_for(&self, fit: Fit, df: f64, need: f32) -> bool {
        self.fit.m.to_bits() == fit.m.to_bits()
            && self.fit.s.to_bits() == fit.s.to_bits()
            && self.df.to_bits() == df.to_bits()
            && self.need.to_bits() == need.to_bits()
    }

    fn new(fit: Fit, df: f64, need: f32) -> Gate {
        let gate = |stage, at| Gate {
            fit,
            df,
            need,
            stage,
            at,
        };
        if need > 100.0 {
            // No score exceeds 100.
            return gate(2, u64::MAX);
        }
        let mean = fit.mean();
        // The least total not at or below the mean (which is at most 1e15,
        // so the comparison is exact); all that matters where no score is
        // needed.
        let floor = if mean.is_nan() {
            0
        } else {
            mean.floor() as u64 + 1
        };
        gate(if need <= 0.0 { 2 } else { 0 }, floor)
    }

    /// The threshold of the log-scale tail, from the mean's (in `at`) on.
    fn log_scale_threshold(&self, quantiles: &mut Quantiles) -> u64 {
        let (fit, need) = (self.fit, self.need - GATE_MARGIN);
        let df = if need > SCORE_AT_HALF {
            f64::INFINITY
        } else {
            self.df
        };
        let mean = fit.mean();
        let z = quantiles.upper(df, need);
        let guess = fit.m + fit.s.max(1e-3) * z;
        let guess = if guess.is_nan() {
            self.at
        } else {
            guess.exp_m1().ceil().clamp(0.0, GATE_LIMIT as f64) as u64
        };
        // The full tail is never below the log-scale one (where that is a
        // number), so no total the log-scale tail keeps under the score can
        // reach it.
        let log_scale_reaches = |x: u64| {
            let p = fit.log_normal_tail(x, df);
            not_at_or_below(x, mean) && (p.is_nan() || score_from_p(p) >= need)
        };
        lowest(log_scale_reaches, self.at, guess)
    }
}

/// The least `x` in `floor..GATE_LIMIT` with `reaches(x)`, or `GATE_LIMIT`
/// when there is none, for a `reaches` that is false below `floor` and
/// turns true once; `guess` is where to start looking. The value returned
/// has been seen to be `floor` or to follow a total seen not to reach.
fn lowest(reaches: impl Fn(u64) -> bool, floor: u64, guess: u64) -> u64 {
    if floor >= GATE_LIMIT {
        return GATE_LIMIT;
    }
    let start = guess.clamp(floor, GATE_LIMIT - 1);
    // Gallop away from the guess until the answer is bracketed by `no`
    // (does not reach) and `yes` (reaches), then bisect.
    let (mut no, mut yes);
    let mut step = 1u64;
    if reaches(start) {
        yes = start;
        loop {
            if yes == floor {
                return floor;
            }
            let probe = yes.saturating_sub(step).max(floor);
            if !reaches(probe) {
                no = probe;
                break;
            }
            yes = probe;
            step = step.saturating_mul(2);
        }
    } else {
        no = start;
        loop {
            if no == GATE_LIMIT - 1 {
                return GATE_LIMIT;
            }
            let probe = no.saturating_add(step).min(GATE_LIMIT - 1);
            if reaches(probe) {
                yes = probe;
                break;
            }
            no = probe;
            step = step.saturating_mul(2);
        }
    }
    while yes - no > 1 {
        let mid = no + (yes - no) / 2;
        if reaches(mid) {
            yes = mid;
        } else {
            no = mid;
        }
    }
    yes
}

/// Upper quantiles of the standard normal and Student-t distributions, by
/// degrees of freedom and the score whose tail probability they are the
/// quantile of (so a hit costs no `powf` either), kept because the t's
/// costs an inverse incomplete beta function. Only a few pairs occur (the t's
/// degrees of freedom follow from a pair's days, at most eight, and the
/// prior weight), so a short list suffices.
#[derive(Clone, Debug, Default)]
pub struct Quantiles(Vec<(u64, u64, f64)>);

/// Most quantiles kept; beyond it the list starts over.
const MAX_QUANTILES: usize = 64;

impl Quantiles {
    /// The `z` with P(Z ≥ z) = `p_from_score(score)` for the log-scale
    /// tail [`Fit::tail`] uses at `df`: Student-t for `df` in 1..1000, else
    /// normal.
    fn upper(&mut self, df: f64, score: f32) -> f64 {
        let key = (df.to_bits(), u64::from(score.to_bits()));
        if let Some(&(_, _, z)) = self.0.iter().find(|&&(d, q, _)| (d, q) == key) {
            return z;
        }
        let q = (1.0 - p_from_score(score)).clamp(0.0, 1.0);
        let z = if (1.0..MAX_T_DF).contains(&df) {
            StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |t| t.inverse_cdf(q))
        } else {
            Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.inverse_cdf(q))
        };
        if self.0.len() >= MAX_QUANTILES {
            self.0.clear();
        }
        self.0.push((key.0, key.1, z));
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_unlike_their_pool_is_judged_by_their_own_days() {
        // Agents: a median day of ~1,800 rows, spread 0.8 on the log scale.
        let pool = Fit { m: 7.5, s: 0.8 };
        // An agent like them keeps the full prior: six days against five.
        let agent = Fit { m: 8.0, s: 0.4 };
        let blended = Fit::blend(Some(agent), 6, Some(pool), 5.0).unwrap();
        assert!((blended.m - (6.0 * 8.0 + 5.0 * 7.5) / 11.0).abs() < 1e-9);
        // A service account's steady 41,000 rows a day, six days of them:
        // its ordinary day stays within about a spread of the blend, where
        // a median half-way to the agents' (9.2, spread 0.58) put it 2.4
        // spreads up, a bulk read to the tails.
        let service = Fit { m: 10.62, s: 0.3 };
        let blended = Fit::blend(Some(service), 6, Some(pool), 5.0).unwrap();
        let z = (service.m - blended.m) / blended.s;
        assert!(z < 1.2, "{blended:?} {z}");
        // With one day of history the own median is uncertain: the prior
        // keeps more of its weight than with six.
        let one = Fit::kinship(service, 1, pool);
        assert!(one > Fit::kinship(service, 6, pool), "{one}");
        assert_eq!(Fit::kinship(agent, 6, pool), 1.0);
        assert!(
            (Fit::kinship(
                Fit {
                    m: 7.5 + 3.0 * 0.8,
                    s: 0.0
                },
                6,
                pool
            ) - (-0.5f64).exp())
            .abs()
                < 1e-9
        );
    }

    #[test]
    fn a_pool_of_unlike_members_stops_speaking_for_a_member_with_days_of_their_own() {
        // The organisation's days without peer groups: service accounts,
        // analysts and clerks, a spread of 2.5 on the log scale, which
        // members' days within it make worth a tenth of a day.
        let org = Fit { m: 7.0, s: 2.5 };
        // An analyst's steady ~900 rows a day, spread 0.3.
        let analyst = Fit { m: 6.8, s: 0.3 };
        // Nineteen days in, their own days decide: a day of eight times
        // their usual is more than three spreads up, where the pool's
        // whole spread in the blend hid it (below two).
        let pooled = Fit::pooled(Some(analyst), 19, Some(org), Some(0.1), 5.0).unwrap();
        let blended = Fit::blend(Some(analyst), 19, Some(org), 5.0).unwrap();
        let z = |f: Fit| (analyst.m + 8f64.ln() - f.m) / f.s;
        assert!(z(pooled) > 3.0, "{pooled:?}");
        assert!(z(blended) < 2.0, "{blended:?}");
        // Members who do not differ (or a pool that cannot tell yet): the
        // blend's weight stands.
        for like in [Some(f64::INFINITY), None] {
            assert_eq!(
                Fit::pooled(Some(analyst), 19, Some(org), like, 5.0),
                Some(blended)
            );
        }
    }

    #[test]
    fn small_totals_have_the_same_logarithm() {
        for t in (0..600).chain([u64::MAX, MAX_TOTAL, MAX_TOTAL + 1]) {
            assert_eq!(log_small_total(t).to_bits(), log_total(t).to_bits(), "{t}");
        }
    }

    #[test]
    fn ring_keeps_the_latest_values() {
        let mut r = Ring::default();
        for t in 0..10u64 {
            r.push(t, 4);
        }
        assert_eq!(r.len(), 4);
        let mut held: Vec<f32> = r.vals.clone();
        held.sort_by(f32::total_cmp);
        let want: Vec<f32> = (6..10u64).map(|t| log_total(t) as f32).collect();
        assert_eq!(held, want);
    }

    #[test]
    fn a_ring_lists_its_values_newest_first_and_fits_as_any_list_of_them() {
        let mut r = Ring::default();
        assert_eq!(r.newest_first().count(), 0);
        for t in 0..3u64 {
            r.push(t, 4);
        }
        let logs = |ts: &[u64]| -> Vec<f32> { ts.iter().map(|&t| log_total(t) as f32).collect() };
        assert_eq!(r.newest_first().collect::<Vec<_>>(), logs(&[2, 1, 0]));
        for t in 3..10u64 {
            r.push(t * 7, 4);
        }
        assert_eq!(
            r.newest_first().collect::<Vec<_>>(),
            logs(&[63, 56, 49, 42])
        );
        for min_n in [1, 4, 5] {
            assert_eq!(fit_values(r.newest_first(), min_n, 0.1), r.fit(min_n, 0.1));
        }
    }

    #[test]
    fn fit_is_robust_to_rare_outliers() {
        let mut r = Ring::default();
        for t in [40u64, 42, 38, 45, 41, 39, 1_000_000]
            .repeat(2)
            .into_iter()
            .chain([40; 8])
        {
            r.push(t, 28);
        }
        let f = r.fit(3, 0.1).unwrap();
        assert!((f.median_rows() - 40.0).abs() < 1.0);
        assert!(f.s < 0.2);
    }

    #[test]
    fn tail_is_a_probability_for_extreme_inputs() {
        let f = Fit { m: 4.0, s: 0.5 };
        assert_eq!(f.tail(0, f64::INFINITY), 1.0);
        for t in [1, 50, 68_000, u64::MAX] {
            let p = f.tail(t, 7.0);
            assert!((0.0..=1.0).contains(&p), "{t} -> {p}");
        }
        assert!(f.tail(68_000, f64::INFINITY) < 1e-10);
        assert!(f.tail(68_000, 7.0) > f.tail(68_000, 100.0));
        let weird = Fit {
            m: f64::NAN,
            s: f64::NAN,
        };
        assert!((0.0..=1.0).contains(&weird.tail(10, f64::NAN)));
    }

    /// splitmix64: a tiny deterministic generator for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        /// A bucket total spread over every magnitude, with small ones common.
        fn total(&mut self) -> u64 {
            let bits = match self.below(10) {
                0 => return 0,
                1..=6 => 1 + self.below(20),
                _ => 1 + self.below(60),
            };
            self.below(1 << bits)
        }
    }

    /// The fit as first written: sort the values, then sort the absolute
    /// deviations for the MAD.
    fn fit_by_sorting(r: &Ring, min_n: usize, min_sd: f64) -> Option<Fit> {
        fn median(v: &mut [f64]) -> f64 {
            v.sort_unstable_by(f64::total_cmp);
            let n = v.len();
            match n {
                0 => 0.0,
                _ if n % 2 == 1 => v[n / 2],
                _ => 0.5 * (v[n / 2 - 1] + v[n / 2]),
            }
        }
        if r.vals.len() < min_n.max(1) {
            return None;
        }
        let mut v: Vec<f64> = r.vals.iter().map(|&x| f64::from(x)).collect();
        let m = median(&mut v);
        let q90 = v[((v.len() - 1) * 9).div_ceil(10)];
        let mut upper = (q90 - m) / Z90;
        if v.len() >= MIN_N_975 {
            let q975 = v[((v.len() - 1) * 39).div_ceil(40)];
            upper = upper.max((q975 - m) / Z975);
        }
        for x in v.iter_mut() {
            *x = (*x - m).abs();
        }
        let mad = median(&mut v);
        Some(Fit {
            m,
            s: (MAD_TO_SD * mad).max(upper).max(min_sd),
        })
    }

    #[test]
    fn fit_is_bit_identical_to_sorting_twice() {
        let mut rng = Rng(7);
        for case in 0..3000 {
            let cap = [1, 2, 3, 8, 28, 39, 40, 41, 192, 256, 512][case % 11];
            let mut r = Ring::default();
            // Few distinct values in some rings, so ties are common.
            let distinct = 1 + rng.below(if case % 3 == 0 { 4 } else { 1000 });
            let pool: Vec<u64> = (0..distinct).map(|_| rng.total()).collect();
            for _ in 0..rng.below(2 * cap as u64 + 1) {
                r.push(pool[rng.below(distinct) as usize], cap);
            }
            let mut keys: Vec<i32> = r.vals.iter().map(|&x| total_order_key(x)).collect();
            keys.sort_unstable();
            assert_eq!(r.sorted, keys, "case {case}: sorted keys drifted");
            let want = fit_by_sorting(&r, 3, 0.3);
            let got = r.fit(3, 0.3);
            assert_eq!(
                got.map(|f| (f.m.to_bits(), f.s.to_bits())),
                want.map(|f| (f.m.to_bits(), f.s.to_bits())),
                "case {case}: {:?}",
                r.vals
            );
        }
    }

    /// An inline ring holds, replaces and fits exactly as a [`Ring`] with
    /// the same cap, from empty and from restored states (a `next` past
    /// the values, fewer values than the cap).
    #[test]
    fn small_rings_behave_as_rings() {
        let mut rng = Rng(17);
        for case in 0..3000 {
            let mut big = Ring::default();
            if case % 3 == 0 {
                let n = rng.below(9) as usize;
                big.vals = (0..n).map(|_| log_total(rng.total()) as f32).collect();
                big.next = rng.below(10) as u32;
            }
            let mut small = SmallRing::<8>::try_from(RingState {
                vals: big.vals.clone(),
                next: big.next,
            })
            .unwrap();
            for _ in 0..rng.below(30) {
                let v = log_total(rng.total()) as f32;
                big.push_log(v, 8);
                small.push_log(v);
                assert_eq!(small.values(), &big.vals[..], "case {case}");
                assert_eq!(small.next, big.next, "case {case}");
                for min_n in [1, 3] {
                    let (a, b) = (small.fit(min_n, 0.5), big.fit(min_n, 0.5));
                    assert_eq!(
                        a.map(|f| (f.m.to_bits(), f.s.to_bits())),
                        b.map(|f| (f.m.to_bits(), f.s.to_bits())),
                        "case {case}"
                    );
                }
            }
        }
        let nine = RingState {
            vals: vec![1.0; 9],
            next: 0,
        };
        assert!(SmallRing::<8>::try_from(nine).is_err());
    }

    /// The binary search over the two runs of deviations finds what the
    /// walk finds, bit for bit, on every length, with many ties, with
    /// medians between and at values, and with infinities and NaNs.
    #[test]
    fn mad_search_is_bit_identical_to_the_walk() {
        let mut rng = Rng(13);
        let special = [
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
            -f32::NAN,
            -0.0,
            0.0,
        ];
        for case in 0..20_000 {
            let n = 1 + rng.below(if case % 4 == 0 { 600 } else { 12 }) as usize;
            let distinct = 1 + rng.below(if case % 3 == 0 { 3 } else { 1000 });
            let pool: Vec<f32> = (0..distinct)
                .map(|_| match rng.below(50) {
                    0 => special[rng.below(special.len() as u64) as usize],
                    1..=5 => -(log_total(rng.total()) as f32),
                    _ => log_total(rng.total()) as f32,
                })
                .collect();
            let mut keys: Vec<i32> = (0..n)
                .map(|_| total_order_key(pool[rng.below(distinct) as usize]))
                .collect();
            keys.sort_unstable();
            let at = |i: usize| value_of_key(keys[i]);
            let m = match rng.below(4) {
                0 => at(rng.below(n as u64) as usize),
                1 => f64::from(rng.below(30) as u32) * 0.5,
                _ if n % 2 == 1 => at(n / 2),
                _ => 0.5 * (at(n / 2 - 1) + at(n / 2)),
            };
            let got = median_abs_deviation(&keys, m);
            let want = median_abs_deviation_by_walking(&keys, m);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "case {case}: m {m} keys {keys:?}"
            );
        }
    }

    #[test]
    fn a_ring_without_its_sorted_copy_fits_the_same_and_rebuilds_it() {
        // As after a restore: the sorted keys are not in the snapshot.
        let mut rng = Rng(11);
        let mut live = Ring::default();
        for _ in 0..300 {
            live.push(rng.total(), 192);
        }
        let mut restored = live.clone();
        restored.sorted.clear();
        assert_eq!(restored, live);
        assert_eq!(restored.fit(3, 0.5), live.fit(3, 0.5));
        for _ in 0..50 {
            let t = rng.total();
            live.push(t, 192);
            restored.push(t, 192);
            assert_eq!(restored.sorted, live.sorted);
            assert_eq!(restored.fit(3, 0.5), live.fit(3, 0.5));
        }
    }

    #[test]
    fn order_keys_sort_as_total_cmp() {
        let values = [
            f32::NEG_INFINITY,
            -3.5,
            -0.0,
            0.0,
            f32::MIN_POSITIVE,
            1.0,
            2.5,
            f32::MAX,
            f32::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(total_order_key(w[0]) < total_order_key(w[1]), "{w:?}");
        }
        for v in values {
            assert_eq!(
                value_of_key(total_order_key(v)).to_bits(),
                f64::from(v).to_bits()
            );
        }
    }

    /// A baseline as the detector builds them: medians from one row to a
    /// billion, spreads from the floors up to wide, and the degrees of
    /// freedom of hours and days (infinite), of pairs (a few to a few dozen)
    /// and of the edges of the t's range.
    fn baseline(rng: &mut Rng) -> (Fit, f64) {
        let fit = Fit {
            m: rng.unit() * 21.0,
            s: 0.3 + rng.unit() * rng.unit() * 3.0,
        };
        let df = match rng.below(6) {
            0 | 1 => f64::INFINITY,
            2 => 3.0 + rng.below(8) as f64 + [0.0, 5.0, 0.5][rng.below(3) as usize],
            3 => 1.0 + rng.unit() * 60.0,
            4 => [0.5, 1.0, 999.0, 1000.0][rng.below(4) as usize],
            _ => 4.0 + rng.below(5) as f64,
        };
        (fit, df)
    }

    fn need(rng: &mut Rng) -> f32 {
        match rng.below(5) {
            0 => [0.0, 20.0, 30.0, 100.0, 100.5, -1.0][rng.below(6) as usize],
            1 => 20.0 + 10.0 * rng.below(9) as f32,
            _ => rng.unit() as f32 * 105.0,
        }
    }

    /// What the gates promise, for any total: a closed gate means the total
    /// does not reach the score; an open one below [`GATE_LIMIT`] means it
    /// reaches nearly the score (the gate is for the score less
    /// [`GATE_MARGIN`], and where the tail wobbles the verdict at that score
    /// does too, so this checks at twice the margin). Returns whether the
    /// total reaches the score.
    fn check_gate(
        slot: &mut Option<Gate>,
        (fit, df, need): (Fit, f64, f32),
        t: u64,
        q: &mut Quantiles,
    ) -> bool {
        let opens = Gate::opens(slot, fit, df, need, t, q);
        let reaches = fit.reaches(t, df, need);
        assert!(
            opens || !reaches,
            "{fit:?} df {df} need {need}: closed at {t}, which reaches"
        );
        if t < GATE_LIMIT {
            assert!(
                !opens || fit.reaches(t, df, need - 2.0 * GATE_MARGIN),
                "{fit:?} df {df} need {need}: open at {t}, which falls short"
            );
        }
        reaches
    }

    /// Totals around the threshold, at random, at the edges, rising as a
    /// bucket fills and in random order, on random baselines and scores.
    #[test]
    fn gates_decide_as_the_full_tail() {
        let mut rng = Rng(42);
        let mut q = Quantiles::default();
        let mut crossed = 0;
        for case in 0..2000 {
            let (fit, df) = baseline(&mut rng);
            let key = (fit, df, need(&mut rng));
            let mut slot = None;
            let mut totals: Vec<u64> = (0..12).map(|_| rng.total()).collect();
            if case % 2 == 0 {
                totals.sort_unstable();
            }
            totals.extend([0, 1, 2, GATE_LIMIT - 1, GATE_LIMIT, MAX_TOTAL, u64::MAX]);
            for t in totals {
                crossed += usize::from(check_gate(&mut slot, key, t, &mut q));
            }
            let at = slot.map_or(0, |g| g.at);
            for t in at.saturating_sub(20)..at.saturating_add(20) {
                check_gate(&mut slot, key, t, &mut q);
            }
        }
        assert!(crossed > 2000, "only {crossed} totals reached their score");
    }

    /// Every total from 0 up past the threshold, one by one, on baselines
    /// like the detector's: the direct computation starts to reach the
    /// score at most once, and the gate opens there (give or take the
    /// margin).
    #[test]
    fn gates_match_every_total_near_typical_baselines() {
        let mut q = Quantiles::default();
        let mut crossings = 0;
        for (m, s, df) in [
            (2.4, 0.5, f64::INFINITY),
            (0.7, 0.3, f64::INFINITY),
            (5.0, 1.1, 8.0),
            (3.3, 1.2, 11.5),
            (8.1, 0.9, f64::INFINITY),
        ] {
            let fit = Fit { m, s };
            for need in [20.0f32, 31.0, 60.0] {
                let mut slot = None;
                let (mut last, mut flips) = (false, 0);
                for t in 0..40_000u64 {
                    let reaches = check_gate(&mut slot, (fit, df, need), t, &mut q);
                    flips += usize::from(reaches != last);
                    last = reaches;
                }
                assert!(flips <= 1, "{fit:?} {need}: {flips} changes");
                crossings += flips;
            }
        }
        assert!(crossings >= 10, "only {crossings} thresholds under 40,000");
    }

    /// Where the computed tail wobbles (a wide baseline near 10¹⁰ rows:
    /// one total reaches 20 points, the next does not), the totals are past
    /// the gate's limit and always computed.
    #[test]
    fn gates_leave_the_noisy_far_tail_to_the_full_computation() {
        let fit = Fit {
            m: 17.675_319_533_429_82,
            s: 2.149_039_213_140_197,
        };
        let df = f64::INFINITY;
        let (a, b) = (10_391_249_024u64, 10_391_249_025u64);
        assert!(fit.reaches(a, df, 20.0) && !fit.reaches(b, df, 20.0));
        let mut q = Quantiles::default();
        let mut slot = None;
        assert!(Gate::opens(&mut slot, fit, df, 20.0, a, &mut q));
        assert!(Gate::opens(&mut slot, fit, df, 20.0, b, &mut q));
        assert!(slot.is_some_and(|g| g.at <= GATE_LIMIT));
    }

    /// The gates judge a Student-t tail by the normal's when the score
    /// needed is above [`SCORE_AT_HALF`]: wherever the t's tail scores that
    /// much, the normal's is no larger.
    #[test]
    fn t_tails_are_at_least_normal_tails_above_the_median() {
        let mut rng = Rng(3);
        for _ in 0..20_000 {
            let (fit, df) = baseline(&mut rng);
            let df = if (1.0..MAX_T_DF).contains(&df) {
                df
            } else {
                1.0 + rng.unit() * 998.0
            };
            let t = rng.total();
            let student = fit.log_normal_tail(t, df);
            if score_from_p(student) >= SCORE_AT_HALF {
                let normal = fit.log_normal_tail(t, f64::INFINITY);
                assert!(
                    normal <= student,
                    "{fit:?} df {df} total {t}: {normal} > {student}"
                );
            }
        }
    }

    #[test]
    fn lowest_finds_the_first_true_from_any_guess() {
        for threshold in [
            0u64,
            1,
            5,
            1000,
            123_456_789,
            GATE_LIMIT - 1,
            GATE_LIMIT,
            u64::MAX,
        ] {
            for floor in [0u64, 3, 1000, GATE_LIMIT, u64::MAX] {
                for guess in [0u64, 1, 7, 999, 1001, 1 << 27, GATE_LIMIT, u64::MAX] {
                    let got = lowest(|x| x >= threshold, floor, guess);
                    let want = threshold.max(floor).min(GATE_LIMIT);
                    assert_eq!(
                        got, want,
                        "threshold {threshold} floor {floor} guess {guess}"
                    );
                }
            }
        }
    }
}
