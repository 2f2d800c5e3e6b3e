//! Each detector's tail as this organisation's ordinary user-days reach it.
//!
//! A detector's score says how rare its finding is under the detector's own
//! model: 60 is a one-in-a-million event. Whether that holds on a given log
//! depends on how well the model fits it. On a log whose ordinary users
//! work late now and then, or read in bursts, a detector built and measured
//! on other logs may put dozens of ordinary user-days a month above 60. The
//! alert budget sees the risk that results, but not which detector is off,
//! and its ceiling keeps it from following an overspent log up. So the host
//! measures each detector against the organisation's own ordinary days,
//! over the alert budget's window ([`crate::risk::budget`]):
//!
//! - per closed UTC day, each active user's strongest score from each
//!   detector (from [`LOW`] up), unless the user's alert episode is open
//!   then: their days are left out as the budget leaves out their peaks,
//!   so an alerted attack never becomes the organisation's normal;
//! - for a score `s`, `U(s)` is how many distinct users reached at least
//!   `s` from that detector on the window's days, and `N` the window's
//!   user-days;
//! - where more than `M` ([`SET_ASIDE`]) users reached it, the
//!   organisation's own rarity of `s` is `S(s) = −10·log₁₀((U(s) − M)/N)`,
//!   on the same scale as the score, and a finding of score `s` counts as
//!   `max(s − D, min(s, S(s)))`, `D` being [`MAX_DISCOUNT`].
//!
//! A detector whose scores are as rare on this log as they claim keeps
//! them: `S(s) ≥ s` wherever fewer than `M + N·10^(−s/10)` users reach `s`.
//! One that scores ordinary user-days high is read at the rate this log's
//! ordinary users reach its scores, and never more than [`MAX_DISCOUNT`]
//! points below what it said, so its strongest findings still stand out.
//! This holds for a plugin nobody on the team wrote as for the built-ins.
//!
//! Why distinct users, less [`SET_ASIDE`]: one user's days, however many
//! and however strong, move `U` by one, and the `M` users furthest out are
//! set aside altogether. An insider whose findings stay under the alert
//! threshold for days discounts nobody, himself included; it takes more
//! than `M` users of the organisation reaching a score for it to count as
//! ordinary. Several insiders at once could lower a detector's weight by
//! at most [`MAX_DISCOUNT`] for the others, and only after their days
//! closed without an alert.
//!
//! The discount is monotone in `s` (`S` never falls as `s` rises), so a
//! detector's order among its own findings is kept; what changes is how
//! its scores weigh against other detectors' and the threshold. It applies
//! once the budget's warm-up is over (the budget judges), and not at all
//! with no alert budget (`risk.alert_budget_per_1k_user_days = 0`). A
//! discounted finding says so in its `tail` field ([`TailDiscount`]).
//!
//! Measured (`ueba eval`, same inputs before and after): 32 generated
//! database and workstation organisations kept their detections and false
//! alerts; on three database logs of a separately written generator (400
//! users, six weeks, ten insiders each) false alerts went from 26, 49 and
//! 8 to 28, 40 and 7 (83 to 75) and insiders detected from 18 to 19 of 30
//! (README "Each detector is read against this log's ordinary days").

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Scores below this are neither tallied nor discounted: how often weak
/// findings occur says nothing about the tail that alerts.
pub const LOW: f32 = 30.0;

/// Users set aside before a detector's tail counts as ordinary: the few
/// furthest out may be the attack.
pub const SET_ASIDE: u32 = 3;

/// Most points a finding loses to its detector's tail.
pub const MAX_DISCOUNT: f32 = 20.0;

/// Score levels tallied: [`LOW`] to 100, in whole points.
const LEVELS: usize = 71;

/// Detectors tallied at most (a tally names its detector in a byte).
const MAX_DETECTORS: usize = 256;

/// Users kept per detector and day, the strongest: a detector (or a
/// plugin) that reaches [`LOW`] for more users a day has those below the
/// kept ones' level forgotten for that day. That undercounts `U` at the
/// levels forgotten, so it reads the detector less lower there, never
/// more, and bounds the tails at about 64 KiB per detector and day
/// (under 2 MiB per detector over a 28-day window), whatever it reports.
pub const USERS_PER_DAY: usize = 8192;

/// The whole-point level of a score from [`LOW`] up.
fn level(score: f32) -> usize {
    ((score - LOW).floor().max(0.0) as usize).min(LEVELS - 1)
}

/// How a finding's score was read against its detector's tail: on the
/// alert, in `--findings` and in `ueba explain`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TailDiscount {
    /// The detector's own score.
    pub detector_score: f64,
    /// Distinct users whose ordinary days reached it from this detector
    /// over the window.
    pub users: u32,
    /// User-days in the window.
    pub user_days: u64,
}

/// One closed day's strong user-days: (detector, user, level).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct TailDay {
    strong: Vec<(u8, u32, u8)>,
}

/// The detectors' tails over the budget's window; saved with the budget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tails {
    /// Detector names; a tally's detector is an index into them, so the
    /// tails survive a change in which detectors are loaded.
    detectors: Vec<String>,
    /// Today's strongest score per (detector, user), from [`LOW`] up.
    today: BTreeMap<(u8, u32), f32>,
    /// Per detector, today's users in `today` and the lowest level still
    /// tallied today (raised when more than [`USERS_PER_DAY`] users reach
    /// it).
    today_users: Vec<(u32, u8)>,
    days: VecDeque<TailDay>,
    /// Per detector, the users reaching each level or more over the window
    /// (cumulative from the top), and the window's user-days: derived from
    /// `days` at each closed day and on restore, empty while the budget
    /// does not judge.
    #[serde(skip)]
    reach: Vec<[u32; LEVELS]>,
    #[serde(skip)]
    user_days: u64,
}

impl Tails {
    fn index(&self, detector: &str) -> Option<u8> {
        self.detectors
            .iter()
            .position(|d| d == detector)
            .and_then(|i| u8::try_from(i).ok())
    }

    /// `detector` scored `score` (its own) for `user` on the current day.
    pub fn tally(&mut self, detector: &str, user: u32, score: f32) {
        if score.is_nan() || score < LOW {
            return;
        }
        let d = match self.index(detector) {
            Some(d) => d,
            None if self.detectors.len() < MAX_DETECTORS => {
                self.detectors.push(detector.to_string());
                (self.detectors.len() - 1) as u8
            }
            None => return,
        };
        let di = usize::from(d);
        if self.today_users.len() <= di {
            self.today_users.resize(di + 1, (0, 0));
        }
        if level(score) < usize::from(self.today_users[di].1) {
            return;
        }
        match self.today.entry((d, user)) {
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let s = e.get_mut();
                *s = s.max(score);
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(score);
                self.today_users[di].0 += 1;
                if self.today_users[di].0 as usize > USERS_PER_DAY {
                    self.raise_floor(d);
                }
            }
        }
    }

    /// Forget `d`'s weakest level of today, and the next, until at most
    /// [`USERS_PER_DAY`] of its users are left.
    fn raise_floor(&mut self, d: u8) {
        let di = usize::from(d);
        let mut per_level = [0usize; LEVELS];
        for (_, &s) in self.today.range((d, 0)..=(d, u32::MAX)) {
            per_level[level(s)] += 1;
        }
        let mut left = self.today_users[di].0 as usize;
        let mut floor = usize::from(self.today_users[di].1);
        while left > USERS_PER_DAY && floor < LEVELS {
            left -= per_level[floor];
            floor += 1;
        }
        self.today
            .retain(|&(td, _), &mut s| td != d || level(s) >= floor);
        self.today_users[di] = (left as u32, floor.min(u8::MAX as usize) as u8);
    }

    /// What a finding of `score` from `detector` counts as, and how it was
    /// read when that is less than `score` (see the module docs).
    pub fn calibrated(&self, detector: &str, score: f32) -> (f32, Option<TailDiscount>) {
        if score.is_nan() || score < LOW {
            return (score, None);
        }
        let Some(reach) = self
            .index(detector)
            .and_then(|d| self.reach.get(usize::from(d)))
        else {
            return (score, None);
        };
        let users = reach[level(score)];
        if users <= SET_ASIDE || self.user_days == 0 {
            return (score, None);
        }
        let rarity =
            (-10.0 * (f64::from(users - SET_ASIDE) / self.user_days as f64).log10()) as f32;
        let counted = score.min(rarity).max(score - MAX_DISCOUNT);
        if counted < score {
            let how = TailDiscount {
                detector_score: crate::risk::aggregate::round1(score),
                users,
                user_days: self.user_days,
            };
            (counted, Some(how))
        } else {
            (score, None)
        }
    }

    /// Close the day: keep its strong user-days but those of users for
    /// whom `in_episode` holds, and drop days past `window`. Then
    /// [`Tails::refresh`].
    pub fn close_day(
        &mut self,
        window: usize,
        user_days: u64,
        judges: bool,
        in_episode: impl Fn(u32) -> bool,
    ) {
        self.today_users.clear();
        let strong = std::mem::take(&mut self.today)
            .into_iter()
            .filter(|&((_, u), _)| !in_episode(u))
            .map(|((d, u), s)| (d, u, level(s) as u8))
            .collect();
        self.days.push_back(TailDay { strong });
        while self.days.len() > window {
            self.days.pop_front();
        }
        self.refresh(user_days, judges);
    }

    /// Forget today's tallies (a day the budget does not keep).
    pub fn skip_day(&mut self) {
        self.today.clear();
        self.today_users.clear();
    }

    /// Derive the users reaching each level from the window's days, which
    /// hold `user_days`; none while the budget does not `judge`.
    pub fn refresh(&mut self, user_days: u64, judges: bool) {
        self.reach.clear();
        self.user_days = user_days;
        if !judges {
            return;
        }
        // Each user's highest level per detector over the window.
        let mut best: BTreeMap<(u8, u32), u8> = BTreeMap::new();
        for day in &self.days {
            for &(d, u, l) in &day.strong {
                let e = best.entry((d, u)).or_insert(l);
                *e = (*e).max(l);
            }
        }
        self.reach = vec![[0; LEVELS]; self.detectors.len()];
        for ((d, _), l) in best {
            if let Some(r) = self.reach.get_mut(usize::from(d)) {
                r[usize::from(l)] += 1;
            }
        }
        for r in &mut self.reach {
            for l in (0..LEVELS - 1).rev() {
                r[l] += r[l + 1];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of `days` closed days on which `users` distinct users each
    /// reached `score` once from "chatty", among `per_day` user-days a day.
    fn window(users: u32, score: f32, days: usize, per_day: u64) -> Tails {
        let mut t = Tails::default();
        for day in 0..days {
            for u in 0..users {
                if u as usize % days == day {
                    t.tally("chatty", u, score);
                }
            }
            t.tally("quiet", 1000, 31.0);
            t.close_day(28, per_day * (day as u64 + 1), true, |_| false);
        }
        t
    }

    #[test]
    fn a_detector_as_rare_as_it_claims_keeps_its_scores() {
        // 20 days of 500 user-days: 10,000 user-days, so a 40 (one in
        // 10,000) is expected of about one user.
        let t = window(3, 60.0, 20, 500);
        assert_eq!(t.calibrated("chatty", 60.0), (60.0, None));
        assert_eq!(t.calibrated("quiet", 45.0), (45.0, None));
        assert_eq!(t.calibrated("unknown", 80.0), (80.0, None));
        assert_eq!(t.calibrated("chatty", 25.0), (25.0, None));
    }

    #[test]
    fn a_detector_ordinary_users_reach_is_read_at_their_rate_within_the_bound() {
        // 103 users reached 60 over 10,000 user-days: 100 after setting 3
        // aside is one in a hundred, a 20.
        let t = window(103, 60.0, 20, 500);
        let (s, how) = t.calibrated("chatty", 60.0);
        assert_eq!(s, 60.0 - MAX_DISCOUNT);
        let how = how.unwrap();
        assert_eq!(
            (how.detector_score, how.users, how.user_days),
            (60.0, 103, 10_000)
        );
        // Above what anyone reached, a score stands as it is.
        assert_eq!(t.calibrated("chatty", 61.0), (61.0, None));
        // 13 users: 10 in 10,000, a 30; a 35 reads as 30.
        let t = window(13, 60.0, 20, 500);
        let (s, _) = t.calibrated("chatty", 35.0);
        assert!((s - 30.0).abs() < 1e-3, "{s}");
        // The order among the detector's own findings is kept.
        let mut last = 0.0;
        for x in 30..=100 {
            let (s, _) = t.calibrated("chatty", x as f32);
            assert!(s >= last, "{x}: {s} < {last}");
            last = s;
        }
    }

    #[test]
    fn one_user_however_often_and_users_in_an_episode_discount_nobody() {
        let mut t = Tails::default();
        for day in 0..20u64 {
            t.tally("chatty", 7, 90.0);
            for u in 100..110 {
                t.tally("chatty", u, 70.0);
            }
            // Users 100..110 are alerted: their days are not ordinary.
            t.close_day(28, 500 * (day + 1), true, |u| u >= 100);
        }
        assert_eq!(t.calibrated("chatty", 90.0), (90.0, None));
        assert_eq!(t.calibrated("chatty", 70.0), (70.0, None));
    }

    #[test]
    fn nothing_is_discounted_before_the_budget_judges() {
        let mut t = Tails::default();
        for u in 0..200 {
            t.tally("chatty", u, 70.0);
        }
        t.close_day(28, 500, false, |_| false);
        assert_eq!(t.calibrated("chatty", 70.0), (70.0, None));
        // Once it judges, the same window discounts.
        t.refresh(500, true);
        assert!(t.calibrated("chatty", 70.0).0 < 70.0);
    }

    #[test]
    fn a_detector_reaching_everyone_keeps_only_its_strongest_users_a_day() {
        let mut t = Tails::default();
        let n = USERS_PER_DAY as u32 * 3;
        for u in 0..n {
            // A third at 80, the rest at 40.
            t.tally("loud", u, if u % 3 == 0 { 80.0 } else { 40.0 });
        }
        assert!(t.today.len() <= USERS_PER_DAY);
        t.close_day(28, 1_000_000, true, |_| false);
        assert_eq!(t.days[0].strong.len(), USERS_PER_DAY);
        // The 80s are all counted; the 40s forgotten that day read the
        // detector less lower, not more.
        let (at_80, how) = t.calibrated("loud", 80.0);
        assert_eq!(how.unwrap().users, USERS_PER_DAY as u32);
        let (at_40, _) = t.calibrated("loud", 40.0);
        assert!(at_40 <= 40.0 && at_80 <= 80.0);
    }

    #[test]
    fn days_past_the_window_are_forgotten() {
        let mut t = window(103, 60.0, 20, 500);
        for day in 0..28u64 {
            t.close_day(28, 500 * 28 + day, true, |_| false);
        }
        assert_eq!(t.calibrated("chatty", 60.0), (60.0, None));
    }
}
