//! A change in a pair's rate of events that has lasted: the last few days
//! against the days before them.
//!
//! A person who connected removable media on two days of eight, a couple of
//! times each, and then connects it eight times a day for a week has
//! changed their rate twentyfold, but no single day shows it well: the
//! daily count moments need days of history, and learn each surge day (a
//! clipped count at a time) before the next is judged. So each pair keeps
//! its counts on the user's last [`RECENT_DAYS`]` − 1` learned days (zero
//! on a day the user was active without it) and, before them,
//! exponentially weighted moments of the earlier days' counts (about three
//! weeks).
//!
//! The zeros start [`RECENT_DAYS`]` − 1` of the user's learned days
//! before the pair's first day, not at it: a rate counted from the first
//! use alone puts that day, which is never a zero, in every rate, and
//! overstates it. Someone who worked a week without removable media,
//! connected it on two days and then thirteen times a day for three has
//! a rate of four events over seven days behind the surge, not four over
//! two, and the surge is judged from its second day, where from the first
//! use there were too few days to judge it at all. Earlier days are not
//! counted: a
//! resource the user took up weeks after they started (a machine they
//! moved to) is a new habit whose rate is its own, and counting the
//! weeks before it would make every move a surge. For each window ending today of `k` = 2 to
//! [`RECENT_DAYS`] days (today and the `k − 1` days before it), the events
//! `x` in the window are judged against the events `x₀` over the `n₀`
//! days before it by the posterior predictive of a Poisson rate with
//! Jeffreys' prior: a negative binomial of size `x₀ + ½` and success
//! chance `n₀ / (n₀ + k)`, whose tail is
//! `P(X ≥ x) = I_{k/(n₀+k)}(x, x₀ + ½)` (regularised incomplete beta). It
//! knows how little a few days say about a rate. A single day is the daily
//! count moments' to judge; a window says the change has lasted.
//!
//! Days are not Poisson: events come in pairs (a connect and its
//! disconnect), work comes in runs, and a resource used on some days and
//! not others (a colleague's machine, a drive) has days of nothing and
//! days of several. Counts are therefore divided by a dispersion factor
//! `φ` before they are judged (quasi-Poisson), the largest of:
//!
//! * the variance-to-mean ratio of the days before the window, shrunk
//!   towards the typical ratio of the resource's pairs (the geometric mean
//!   over its pairs with ten earlier days or more; the organisation's
//!   while the resource has few; 1 while neither is known) with the
//!   weight of ten days;
//! * `1 + (1 − π) · μ`, the ratio of a resource in use on a share `π` of
//!   days (with Jeffreys' half-day) holding `μ` events on each: a week at
//!   a colleague's desk after two visits in a fortnight is more days of
//!   use, each like the visits before, and is no change of rate unless
//!   each day holds far more;
//! * `1 + rate · log_sd²`, what the user's day spread on the log scale
//!   gives a count at the earlier rate: large counts vary in proportion,
//!   not as their square root, so forty queries a day becoming eighty is
//!   a busy day, while one connection becoming eight is not.
//!
//! Days the host held out of learning (the user's risk reached
//! `hold_above`, or an alert episode is open) are never a window's earlier
//! days: that would learn the change being judged. They are not dropped
//! either. Up to [`RECENT_DAYS`]` − 1` of them, the latest since the user's
//! last learned day, are recent days that windows reach back over first
//! (zeros for held days without the pair), so a surge that keeps its user
//! held is judged as one change that has lasted, one day longer each day,
//! rather than as if it began today. The user's first learned event ends
//! the run: the host has taken the user back as normal, and the held days
//! join the recent days as learned ones (`crate::held`).
//!
//! A window needs [`MIN_BEFORE_DAYS`] days before it, with events on
//! [`MIN_BEFORE_ACTIVE`] of them: a rate from one day of use is not a
//! rate, and a first use is the novelty detectors' to judge. The strongest
//! window is reported, its tail multiplied by the number of windows tried
//! (Bonferroni).

use serde::{Deserialize, Serialize};
use statrs::function::beta::checked_beta_reg;

use ueba_sdk::table::Table;

use crate::counts::{COUNT_WINDOW_DAYS, Moments};

/// Days of the longest window: today and the user's four learned days
/// before it, a working week.
pub const RECENT_DAYS: usize = 5;
/// Days before a window its rate needs.
const MIN_BEFORE_DAYS: f64 = 3.0;
/// Days with events among them: a rate from one day of use is not a rate,
/// and a first use is the novelty detectors' to judge.
const MIN_BEFORE_ACTIVE: f64 = 2.0;
/// Days of its own history a pair's dispersion ratio is worth as much as
/// the organisation's, in the shrinkage of one towards the other.
const DISPERSION_PRIOR_DAYS: f64 = 10.0;
/// Days of history a pair needs before its ratio joins the organisation's.
const DISPERSION_OWN_DAYS: f32 = 10.0;
/// Observations behind [`Dispersion`] at most: it forgets over about ten
/// thousand pair-days.
const DISPERSION_WINDOW: f32 = 10_000.0;
/// Observations a resource's [`Dispersion`] needs before it is the prior
/// of its pairs.
const RESOURCE_DISPERSION_MIN: f32 = 20.0;
/// Observations the organisation's [`Dispersion`] needs before it stands
/// in for resources with fewer (until then 1 is the prior).
const DISPERSION_MIN: f32 = 100.0;

/// A typical variance-to-mean ratio of pairs' daily counts: the geometric
/// mean over pairs with [`DISPERSION_OWN_DAYS`] of history, each ratio at
/// least 1, one observation per pair-day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dispersion {
    n: f32,
    mean_log: f32,
}

impl Dispersion {
    fn observe(&mut self, ratio: f64) {
        let x = ratio.max(1.0).ln() as f32;
        self.n = (self.n + 1.0).min(DISPERSION_WINDOW);
        self.mean_log += (x - self.mean_log) / self.n;
    }

    /// The ratio, once `min` observations stand behind it.
    fn factor(&self, min: f32) -> Option<f64> {
        (self.n >= min).then(|| f64::from(self.mean_log).exp())
    }
}

/// The typical dispersion of each resource's pairs and of all pairs: how a
/// resource is used shapes how its days vary (removable media on a few
/// days in bursts, a workstation every day, a table in runs of work), so a
/// pair with little history of its own leans on its resource's pairs, and
/// on the organisation's while the resource has few. This instance's users
/// only (with `--shards`, each shard's): a ratio, not a count of people,
/// which a shard's users estimate as the whole organisation's would.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Dispersions {
    org: Dispersion,
    resources: Table<Dispersion>,
}

impl Dispersions {
    fn observe(&mut self, resource: u32, ratio: f64) {
        self.org.observe(ratio);
        self.resources
            .get_or_insert_with(resource, Dispersion::default)
            .observe(ratio);
    }

    /// The prior ratio of `resource`'s pairs: its own pairs', else the
    /// organisation's, else none.
    pub fn prior(&self, resource: u32) -> Option<f64> {
        self.resources
            .get(resource)
            .and_then(|d| d.factor(RESOURCE_DISPERSION_MIN))
            .or_else(|| self.org.factor(DISPERSION_MIN))
    }
}

/// A pair's recent days and the days before them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentDays {
    /// Counts on the user's latest learned days, the latest first; `len`
    /// of them are filled.
    counts: [u16; RECENT_DAYS - 1],
    len: u8,
    /// Counts on the days held out of learning since the user's last
    /// learned day, the latest first (zero on a held day without the
    /// pair); `held_len` of them are filled. They are never a rate's
    /// earlier days, only its recent ones: a change the host held out of
    /// learning is still a change, and each held day of it is more
    /// evidence that it has lasted.
    held: [u16; RECENT_DAYS - 1],
    held_len: u8,
    /// The user's held days (since their last learned day) up to which
    /// `held` is current.
    held_mark: u32,
    /// Whether each earlier day had events, weighted as `before` is: its
    /// mean times `before.n` is the earlier days with events.
    before_active: Moments,
    /// Daily counts of the earlier days, zeros included.
    before: Moments,
}

/// [`RecentDays`] as volume 0.3 wrote it, before held days: read by the
/// upgrade of a 0.3 snapshot, whose pairs start with no held days.
#[derive(Deserialize)]
#[serde(rename = "RecentDays")]
pub struct RecentDaysV03 {
    counts: [u16; RECENT_DAYS - 1],
    len: u8,
    before_active: Moments,
    before: Moments,
}

impl From<RecentDaysV03> for RecentDays {
    fn from(r: RecentDaysV03) -> RecentDays {
        RecentDays {
            counts: r.counts,
            len: r.len,
            before_active: r.before_active,
            before: r.before,
            ..RecentDays::default()
        }
    }
}

/// The strongest rate change of a pair's windows ending today.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateChange {
    /// Days in the window, today included.
    pub days: u8,
    /// Events in it.
    pub events: u32,
    /// Events and days before it (exponentially weighted).
    pub before_events: f64,
    pub before_days: f64,
    /// The dispersion factor counts were divided by.
    pub dispersion: f64,
    /// The window's tail, times the windows tried.
    pub p: f64,
}

impl RecentDays {
    /// A learned day's count (zero for a day the user was active without
    /// the pair): the oldest recent day, once they are full, joins the
    /// earlier days, and a pair with ten earlier days or more tells its
    /// resource's and the organisation's dispersion its own ratio.
    pub fn push(&mut self, count: u32, resource: u32, dispersion: &mut Dispersions) {
        let len = usize::from(self.len);
        if len == self.counts.len() {
            let oldest = self.counts[len - 1];
            self.before.push(u32::from(oldest), COUNT_WINDOW_DAYS);
            self.before_active
                .push(u32::from(oldest > 0), COUNT_WINDOW_DAYS);
            if let Some(ratio) = self.own_ratio(DISPERSION_OWN_DAYS) {
                dispersion.observe(resource, ratio);
            }
        } else {
            self.len += 1;
        }
        self.counts.copy_within(..RECENT_DAYS - 2, 1);
        self.counts[0] = u16::try_from(count).unwrap_or(u16::MAX);
        self.end_held();
    }

    /// Bring the held days up to the user's `held_run` (their held days
    /// since their last learned day): the held days since the pair's last
    /// are zeros.
    pub fn catch_up_held(&mut self, held_run: u32) {
        let zeros = held_run.saturating_sub(self.held_mark);
        for _ in 0..zeros.min(RECENT_DAYS as u32 - 1) {
            self.shift_held(0);
        }
        self.held_mark = held_run;
    }

    /// The user's run of held days has ended: the host has taken the user
    /// back as normal, and the held days are learned as days of their own
    /// (`crate::held`), so their counts here go.
    pub fn end_held(&mut self) {
        self.held = [0; RECENT_DAYS - 1];
        self.held_len = 0;
        self.held_mark = 0;
    }

    /// A day held out of learning closes with `count` events on the pair;
    /// `held_run` is the user's held days since their last learned day,
    /// this one included.
    pub fn push_held(&mut self, count: u32, held_run: u32) {
        self.shift_held(count);
        self.held_mark = held_run;
    }

    fn shift_held(&mut self, count: u32) {
        self.held.copy_within(..RECENT_DAYS - 2, 1);
        self.held[0] = u16::try_from(count).unwrap_or(u16::MAX);
        self.held_len = (self.held_len + 1).min(RECENT_DAYS as u8 - 1);
    }

    /// The variance-to-mean ratio of the earlier days, once `min_days`
    /// stand behind it and some had events.
    fn own_ratio(&self, min_days: f32) -> Option<f64> {
        (self.before.n >= min_days && self.before.mean > 0.0)
            .then(|| f64::from(self.before.var) / f64::from(self.before.mean))
    }

    /// The strongest window ending today (with `today` events so far), if
    /// any has days enough before it.
    ///
    /// Each window's counts are divided by a dispersion factor, the
    /// largest of: the variance-to-mean ratio of the days before it (the
    /// earlier days' moments with the recent days before the window),
    /// shrunk towards `org` (the resource's or organisation's typical
    /// ratio, 1 while unknown; [`shrunk_ratio`]); the ratio of intermittent
    /// use, `1 + (1 − π) · μ`; and `1 + rate · log_sd²`, what a day spread
    /// of `log_sd` on the log scale (the user's, for their whole day) gives
    /// a count at the earlier rate: large counts vary in proportion, not as
    /// their square root, so forty queries a day becoming eighty is a busy
    /// day, while one connection becoming eight is not.
    pub fn change(&self, today: u32, org: Option<f64>, log_sd: f64) -> Option<RateChange> {
        let len = usize::from(self.len);
        let lag_n = f64::from(self.before.n);
        let lag_mean = f64::from(self.before.mean);
        let lag_sum = lag_mean * lag_n;
        let lag_squares = lag_n * (f64::from(self.before.var) + lag_mean * lag_mean);
        let held = usize::from(self.held_len);
        let mut best: Option<RateChange> = None;
        let mut events = today;
        let mut tried = 0u32;
        // Windows end today and reach back over the held days first, then
        // the learned ones; only learned days are ever earlier days.
        for k in 2..=held + len + 1 {
            let back = k - 2;
            let day = if back < held {
                self.held[back]
            } else {
                self.counts[back - held]
            };
            events = events.saturating_add(u32::from(day));
            let earlier = &self.counts[(k - 1).saturating_sub(held).min(len)..len];
            let before_events = lag_sum + earlier.iter().map(|&c| f64::from(c)).sum::<f64>();
            let before_days = lag_n + earlier.len() as f64;
            let active = f64::from(self.before_active.mean) * lag_n
                + earlier.iter().filter(|&&c| c > 0).count() as f64;
            // Weighted counts carry rounding: two days are two.
            if before_days < MIN_BEFORE_DAYS || active + 1e-6 < MIN_BEFORE_ACTIVE {
                continue;
            }
            tried += 1;
            let rate = before_events / before_days;
            let squares = lag_squares + earlier.iter().map(|&c| f64::from(c).powi(2)).sum::<f64>();
            let var = (squares / before_days - rate * rate).max(0.0);
            let own = if rate > 0.0 { var / rate } else { 1.0 };
            let shrunk = shrunk_ratio(own, before_days, org);
            // Use on some days and not others: a day's count is whether it
            // is a day of use, times what such a day holds, whose ratio is
            // `1 + (1 − π) · μ` for a share `π` of days in use holding `μ`
            // events each (Jeffreys' half-day on the share).
            let share = (active + 0.5) / (before_days + 1.0);
            let per_active = before_events / active;
            let intermittent = 1.0 + (1.0 - share).max(0.0) * per_active;
            let dispersion = shrunk.max(intermittent).max(1.0 + rate * log_sd * log_sd);
            let p = tail(
                f64::from(events) / dispersion,
                before_events / dispersion,
                k as f64,
                before_days,
            );
            if best.is_none_or(|b| p < b.p) {
                best = Some(RateChange {
                    days: k as u8,
                    events,
                    before_events,
                    before_days,
                    dispersion,
                    p,
                });
            }
        }
        best.map(|b| RateChange {
            p: (b.p * f64::from(tried)).min(1.0),
            ..b
        })
    }

    /// What today's count must reach before a window may be worth judging:
    /// the earlier days' mean per day plus two spreads at the dispersion
    /// of [`RecentDays::change`] (from the earlier days' moments alone).
    pub fn cheap_bound(&self, org: Option<f64>, log_sd: f64) -> u32 {
        let m = f64::from(self.before.mean).max(0.5);
        let own = self.own_ratio(1.0).unwrap_or(1.0);
        let dispersion =
            shrunk_ratio(own, f64::from(self.before.n), org).max(1.0 + m * log_sd * log_sd);
        (m + 2.0 * (m * dispersion).sqrt())
            .ceil()
            .clamp(1.0, f64::from(u32::MAX)) as u32
    }
}

/// A pair's variance-to-mean ratio `own` over `days` days (at least 1),
/// shrunk towards the typical ratio `org` of its resource's pairs (at
/// least 1; 1 while unknown) with the weight of [`DISPERSION_PRIOR_DAYS`].
fn shrunk_ratio(own: f64, days: f64, org: Option<f64>) -> f64 {
    let prior = org.unwrap_or(1.0).max(1.0);
    (days * own.max(1.0) + DISPERSION_PRIOR_DAYS * prior) / (days + DISPERSION_PRIOR_DAYS)
}

/// `P(X ≥ x)` for `X` the events over `k` days, given `x0` events over
/// `n0` days before them: the negative binomial of a Poisson rate's
/// Jeffreys posterior, `I_{k/(n0+k)}(x, x0 + ½)`. Real-valued counts (after
/// division by the dispersion) are allowed; a count at or below the
/// expected one is 1.
fn tail(x: f64, x0: f64, k: f64, n0: f64) -> f64 {
    let expected = k * (x0 + 0.5) / n0;
    if x <= expected || x <= 0.0 {
        return 1.0;
    }
    checked_beta_reg(x, x0 + 0.5, k / (n0 + k))
        .ok()
        .filter(|p| p.is_finite())
        .unwrap_or(1.0)
        .clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent(days: &[u32]) -> (RecentDays, Dispersions) {
        let mut r = RecentDays::default();
        let mut d = Dispersions::default();
        for &c in days {
            r.push(c, 7, &mut d);
        }
        (r, d)
    }

    #[test]
    fn tail_matches_a_known_rate_as_history_grows() {
        // With a long history the posterior predictive approaches the
        // Poisson tail: 1 a day for 1000 days, 6 tomorrow.
        let p = tail(6.0, 1000.0, 1.0, 1000.0);
        let poisson = 1.0
            - (0..6)
                .map(|i| (-1f64).exp() / (1..=i).product::<u64>().max(1) as f64)
                .sum::<f64>();
        assert!((p / poisson - 1.0).abs() < 0.05, "{p} vs {poisson}");
        // From two days it is far less sure.
        assert!(tail(6.0, 2.0, 1.0, 2.0) > 20.0 * poisson);
    }

    #[test]
    fn a_surge_over_days_from_a_thin_history_stands_out() {
        // Removable media on two days of eight, twice each, then ten a day:
        // by the third day of it a change far beyond what eight days allow.
        let (r, _) = recent(&[2, 0, 0, 0, 2, 0, 0, 0, 10, 10]);
        let c = r.change(10, None, 0.0).expect("days before the window");
        assert!(c.p < 1e-5, "{c:?}");
        assert_eq!((c.days, c.events), (3, 30));
        // Two days of the same are less sure than three.
        let (two, _) = recent(&[2, 0, 0, 0, 2, 0, 0, 0, 10]);
        assert!(two.change(10, None, 0.0).unwrap().p > c.p);
    }

    #[test]
    fn an_ordinary_day_is_not_a_change() {
        let (r, _) = recent(&[2, 1, 3, 2, 1, 1, 2, 3]);
        let c = r.change(3, None, 0.0).expect("enough days");
        assert!(c.p > 0.05, "{c:?}");
    }

    #[test]
    fn more_days_of_use_like_the_earlier_ones_are_no_change() {
        // Two visits of three logons in a fortnight, then three days in a
        // row of the same: the share of days in use rose, not their load.
        let mut days = vec![0; 14];
        days[3] = 3;
        days[10] = 3;
        days.extend([3, 3]);
        let (visits, _) = recent(&days);
        let c = visits.change(3, None, 0.0).unwrap();
        assert!(c.p > 1e-3, "{c:?}");
        // Ten a day on each is.
        days.truncate(14);
        days.extend([10, 10]);
        let (surge, _) = recent(&days);
        assert!(surge.change(10, None, 0.0).unwrap().p < 1e-4);
    }

    #[test]
    fn bursty_pairs_are_judged_by_their_own_dispersion() {
        // A steady user's two days of 12 are remarkable; a user whose days
        // swing from 1 to 14 has had such days before.
        let (steady, _) = recent(&[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 12]);
        let (bursty, _) = recent(&[1, 14, 2, 9, 1, 12, 3, 1, 13, 2, 1, 12]);
        let s = steady.change(12, None, 0.0).unwrap();
        let b = bursty.change(12, None, 0.0).unwrap();
        assert!(b.dispersion > 2.0, "{b:?}");
        assert!(s.p < 1e-6 && b.p > 1e-2, "{s:?} {b:?}");
    }

    #[test]
    fn large_counts_vary_in_proportion() {
        // Forty a day for a week, then eighty for two days: for a user whose
        // days vary by a third on the log scale, busy days rather than a
        // change of rate.
        let mut days = [40, 38, 42, 41, 39, 40, 43, 37, 41, 39].repeat(2);
        days.push(80);
        let (r, _) = recent(&days);
        let c = r.change(80, None, 0.35).unwrap();
        assert!(c.p > 1e-3, "{c:?}");
        assert!(r.change(80, None, 0.0).unwrap().p < 1e-6);
    }

    #[test]
    fn a_rate_needs_days_of_use_before_the_window() {
        let (none, _) = recent(&[]);
        assert!(none.change(20, None, 0.0).is_none());
        let (two, _) = recent(&[3, 2]);
        assert!(two.change(20, None, 0.0).is_none(), "too few days before");
        let (one, _) = recent(&[3, 0, 0, 0, 0, 0]);
        assert!(
            one.change(20, None, 0.0).is_none(),
            "one day of use is not a rate"
        );
        let (three, _) = recent(&[3, 0, 2, 0]);
        assert_eq!(three.change(20, None, 0.0).unwrap().days, 2);
    }

    #[test]
    fn held_days_join_windows_but_never_the_days_before_them() {
        // Two a day for eight days, then two held days of ten: a window of
        // today and the held days, judged against the eight.
        let (mut r, _) = recent(&[2, 2, 2, 2, 2, 2, 2, 2]);
        r.push_held(10, 1);
        r.push_held(10, 2);
        let c = r.change(10, None, 0.0).unwrap();
        assert_eq!((c.days, c.events), (3, 30));
        assert!(
            (c.before_events / c.before_days - 2.0).abs() < 1e-9,
            "{c:?}"
        );
        // A learned day ends the run: the host took the user back.
        let mut d = Dispersions::default();
        r.push(2, 7, &mut d);
        let after = r.change(10, None, 0.0).unwrap();
        assert!(after.events < 30 && after.p > c.p, "{after:?}");
    }

    #[test]
    fn held_days_without_the_pair_are_zeros() {
        let (mut r, _) = recent(&[2, 2, 2, 2, 2, 2, 2, 2]);
        r.push_held(10, 1);
        // Two more held days without the pair, then today: the window of
        // all three held days holds ten events over four days.
        r.catch_up_held(3);
        assert_eq!((r.held_len, &r.held[..3]), (3, &[0, 0, 10][..]));
        let c = r.change(10, None, 0.0).unwrap();
        assert_eq!((c.days, c.events), (4, 20), "{c:?}");
        // Once the run ends, what was held is gone.
        r.end_held();
        r.catch_up_held(1);
        assert_eq!((r.held_len, r.held[0]), (1, 0));
    }
}
