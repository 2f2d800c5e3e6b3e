//! The statistics behind the volume detector: robust baselines of bucket
//! totals on a log scale, shrinkage towards a prior, and the negative
//! binomial tail that turns a running total into a probability.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, DiscreteCDF, NegativeBinomial, Normal, StudentsT};

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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ring {
    vals: Vec<f32>,
    next: u32,
}

impl Ring {
    /// Record a completed bucket's total, overwriting the oldest once `cap`
    /// values are held.
    pub fn push(&mut self, total: u64, cap: usize) {
        let v = log_total(total) as f32;
        if self.vals.len() < cap {
            self.vals.push(v);
        } else if let Some(slot) = self.vals.get_mut(self.next as usize) {
            *slot = v;
            self.next = (self.next + 1) % cap.max(1) as u32;
        }
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.vals.len()
    }

    /// Median and robust spread of the held values: the larger of the
    /// MAD-based spread and the spread implied by the upper decile (and, with
    /// at least 40 values, the upper 2.5%; so a right-skewed history is not
    /// mistaken for a narrow one), floored at `min_sd`; `None` when fewer
    /// than `min_n` values are held.
    pub fn fit(&self, min_n: usize, min_sd: f64) -> Option<Fit> {
        if self.vals.len() < min_n.max(1) {
            return None;
        }
        let mut v: Vec<f64> = self.vals.iter().map(|&x| f64::from(x)).collect();
        let m = median(&mut v);
        // v is sorted now; the upper decile shows how far busy buckets reach,
        // which the MAD misses when the lower half is the wider one.
        let q90 = v[((v.len() - 1) * 9).div_ceil(10)];
        let mut upper = (q90 - m) / Z90;
        if v.len() >= MIN_N_975 {
            // With a long history, also the top 2.5%: a user whose reads are
            // now and then whole tables (a few hours in a hundred) has a
            // heavy upper tail that the upper decile alone does not show.
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
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// `ln(1 + total)`, the scale baselines live on.
pub fn log_total(total: u64) -> f64 {
    (total.min(MAX_TOTAL) as f64).ln_1p()
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

impl Fit {
    /// Shrink `own` (fitted from `n` buckets) towards `prior` with the prior
    /// worth `prior_weight` buckets; either may be missing.
    pub fn blend(own: Option<Fit>, n: u32, prior: Option<Fit>, prior_weight: f64) -> Option<Fit> {
        match (own, prior) {
            (None, None) => None,
            (Some(o), None) => Some(o),
            (None, Some(p)) => Some(p),
            (Some(o), Some(p)) => {
                let w = f64::from(n) / (f64::from(n) + prior_weight.max(0.0));
                let w = if w.is_finite() { w } else { 1.0 };
                Some(Fit {
                    m: w * o.m + (1.0 - w) * p.m,
                    s: (w * o.s * o.s + (1.0 - w) * p.s * p.s).sqrt(),
                })
            }
        }
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
        let mean = ((self.m + s2 / 2.0).exp() - 1.0).clamp(1.0, 1e15);
        // Log-normal variance is mean² (e^{s²} − 1); the NB's is
        // mean + mean²/r, so r = 1/(e^{s²} − 1) makes it at least as wide.
        let r = (1.0 / s2.exp_m1()).clamp(0.05, 1e6);
        (mean, r)
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
        let (mean, r) = self.negative_binomial();
        let x = total.min(MAX_TOTAL) - 1;
        let nb = NegativeBinomial::new(r, r / (r + mean))
            .ok()
            .map(|nb| nb.sf(x))
            .filter(|p| p.is_finite())
            .unwrap_or(0.0);
        let x = log_total(total);
        let scale = self.s.max(1e-3);
        let log_normal = if (1.0..MAX_T_DF).contains(&df) {
            StudentsT::new(self.m, scale, df)
                .map(|t| t.sf(x))
                .unwrap_or(f64::NAN)
        } else {
            Normal::new(self.m, scale)
                .map(|n| n.sf(x))
                .unwrap_or(f64::NAN)
        };
        let p = nb.max(log_normal);
        if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
