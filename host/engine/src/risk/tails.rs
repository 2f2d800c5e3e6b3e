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
//! # Today's share
//!
//! The window's reading waits for the budget's warm-up and is bounded by
//! [`MAX_DISCOUNT`], which a detector that scores everyone (a hostile
//! plugin, or a detector on a day it misreads, such as a clock change)
//! turns into a flood: every user at 50 alerts with any other finding, and
//! over `risk.hold_above` is held out of every detector's learning. So the
//! tails also count, per detector and level, the users of the last closed
//! day and of today so far who reached it. On each of the two days, users
//! beyond [`SET_ASIDE`] and [`DAY_SHARE_ASIDE`] of the day's active users
//! are `B(s)` in all, over `n` user-days, and a finding of `s` counts as at
//! most `−10·log₁₀(B(s)/n)`, unbounded and from the first day the budget
//! keeps. What a few users in a hundred reach on a day is untouched; what
//! most users reach says almost nothing. Each user counts once a day, so
//! the share is of user-days, as the scores' rarity is. The last closed
//! day carries a flood over into the next day's first users, who would
//! otherwise be read against a handful of user-days.
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

/// The share of a day's active users, beyond [`SET_ASIDE`], who may reach
/// a score before the score is read as no rarer than the share that did:
/// a detector may put a few users in a hundred at its weaker scores on a
/// busy day without being read lower for it.
pub const DAY_SHARE_ASIDE: f64 = 0.01;

/// `−10·log₁₀(count / of)`: a rate on the scores' scale.
fn rarity(count: f64, of: u64) -> f32 {
    (-10.0 * (count / of as f64).log10()) as f32
}

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
    /// over the window, or, when the day's reading was lower, the users of
    /// the last closed day and today who reached it.
    pub users: u32,
    /// User-days in the window, or in the last closed day and today.
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
    /// Per detector, today's users in `today` at each level (not
    /// cumulative): derived from `today` as it changes and on restore.
    #[serde(skip)]
    today_levels: Vec<[u32; LEVELS]>,
    /// The same for the last closed day, and its user-days: derived from
    /// `days` at each closed day and on restore.
    #[serde(skip)]
    last_levels: Vec<[u32; LEVELS]>,
    #[serde(skip)]
    last_user_days: u64,
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
        if self.today_levels.len() <= di {
            self.today_levels.resize(di + 1, [0; LEVELS]);
        }
        let levels = &mut self.today_levels[di];
        match self.today.entry((d, user)) {
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let s = e.get_mut();
                if score > *s {
                    levels[level(*s)] -= 1;
                    levels[level(score)] += 1;
                    *s = score;
                }
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(score);
                levels[level(score)] += 1;
                self.today_users[di].0 += 1;
                if self.today_users[di].0 as usize > USERS_PER_DAY {
                    self.raise_floor(d);
                }
            }
        }
    }

    /// Rebuild [`Tails::today_levels`] from `today`.
    fn count_today(&mut self) {
        self.today_levels = vec![[0; LEVELS]; self.detectors.len()];
        for (&(d, _), &s) in &self.today {
            if let Some(levels) = self.today_levels.get_mut(usize::from(d)) {
                levels[level(s)] += 1;
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
        self.count_today();
    }

    /// What a finding of `score` from `detector` counts as, and how it was
    /// read when that is less than `score` (see the module docs):
    /// `today_user_days` is how many users have been active so far today.
    pub fn calibrated(
        &self,
        detector: &str,
        score: f32,
        today_user_days: usize,
    ) -> (f32, Option<TailDiscount>) {
        if score.is_nan() || score < LOW {
            return (score, None);
        }
        let Some(d) = self.index(detector).map(usize::from) else {
            return (score, None);
        };
        let how = |users: u32, user_days: u64| TailDiscount {
            detector_score: crate::risk::aggregate::round1(score),
            users,
            user_days,
        };
        let mut read = (score, None);
        if let Some(reach) = self.reach.get(d) {
            let users = reach[level(score)];
            if users > SET_ASIDE && self.user_days > 0 {
                let rarity = rarity(f64::from(users - SET_ASIDE), self.user_days);
                let counted = score.min(rarity).max(score - MAX_DISCOUNT);
                if counted < score {
                    read = (counted, Some(how(users, self.user_days)));
                }
            }
        }
        // The last closed day and today, each beyond what it sets aside.
        let l = level(score);
        let mut users = 0;
        let mut beyond = 0.0;
        for (levels, n) in [
            (self.last_levels.get(d), self.last_user_days),
            (self.today_levels.get(d), today_user_days as u64),
        ] {
            let reached: u32 = levels.map_or(0, |levels| levels[l..].iter().sum());
            users += reached;
            beyond +=
                (f64::from(reached) - f64::from(SET_ASIDE) - n as f64 * DAY_SHARE_ASIDE).max(0.0);
        }
        let n = self.last_user_days + today_user_days as u64;
        if n > 0 && beyond > 0.0 {
            let counted = rarity(beyond, n).max(0.0);
            if counted < read.0 {
                read = (counted, Some(how(users, n)));
            }
        }
        read
    }

    /// Close the day, which held `day_user_days`: keep its strong
    /// user-days but those of users for whom `in_episode` holds, and drop
    /// days past `window`, which now hold `user_days`. Then
    /// [`Tails::refresh`].
    pub fn close_day(
        &mut self,
        window: usize,
        day_user_days: u64,
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
        self.refresh(user_days, judges, day_user_days);
    }

    /// Forget today's tallies (a day the budget does not keep).
    pub fn skip_day(&mut self) {
        self.today.clear();
        self.today_users.clear();
        self.today_levels.clear();
    }

    /// Derive the users reaching each level from the window's days, which
    /// hold `user_days`; none while the budget does not `judge`.
    pub fn refresh(&mut self, user_days: u64, judges: bool, last_user_days: u64) {
        self.count_today();
        self.last_levels = vec![[0; LEVELS]; self.detectors.len()];
        self.last_user_days = 0;
        if let Some(day) = self.days.back() {
            self.last_user_days = last_user_days;
            for &(d, _, l) in &day.strong {
                if let Some(levels) = self.last_levels.get_mut(usize::from(d)) {
                    levels[usize::from(l)] += 1;
                }
            }
        }
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
            t.close_day(28, 0, per_day * (day as u64 + 1), true, |_| false);
        }
        t
    }

    #[test]
    fn a_detector_as_rare_as_it_claims_keeps_its_scores() {
        // 20 days of 500 user-days: 10,000 user-days, so a 40 (one in
        // 10,000) is expected of about one user.
        let t = window(3, 60.0, 20, 500);
        assert_eq!(t.calibrated("chatty", 60.0, 0), (60.0, None));
        assert_eq!(t.calibrated("quiet", 45.0, 0), (45.0, None));
        assert_eq!(t.calibrated("unknown", 80.0, 0), (80.0, None));
        assert_eq!(t.calibrated("chatty", 25.0, 0), (25.0, None));
    }

    #[test]
    fn a_detector_ordinary_users_reach_is_read_at_their_rate_within_the_bound() {
        // 103 users reached 60 over 10,000 user-days: 100 after setting 3
        // aside is one in a hundred, a 20.
        let t = window(103, 60.0, 20, 500);
        let (s, how) = t.calibrated("chatty", 60.0, 0);
        assert_eq!(s, 60.0 - MAX_DISCOUNT);
        let how = how.unwrap();
        assert_eq!(
            (how.detector_score, how.users, how.user_days),
            (60.0, 103, 10_000)
        );
        // Above what anyone reached, a score stands as it is.
        assert_eq!(t.calibrated("chatty", 61.0, 0), (61.0, None));
        // 13 users: 10 in 10,000, a 30; a 35 reads as 30.
        let t = window(13, 60.0, 20, 500);
        let (s, _) = t.calibrated("chatty", 35.0, 0);
        assert!((s - 30.0).abs() < 1e-3, "{s}");
        // The order among the detector's own findings is kept.
        let mut last = 0.0;
        for x in 30..=100 {
            let (s, _) = t.calibrated("chatty", x as f32, 0);
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
            t.close_day(28, 0, 500 * (day + 1), true, |u| u >= 100);
        }
        assert_eq!(t.calibrated("chatty", 90.0, 0), (90.0, None));
        assert_eq!(t.calibrated("chatty", 70.0, 0), (70.0, None));
    }

    #[test]
    fn nothing_is_discounted_before_the_budget_judges() {
        let mut t = Tails::default();
        for u in 0..200 {
            t.tally("chatty", u, 70.0);
        }
        t.close_day(28, 0, 500, false, |_| false);
        assert_eq!(t.calibrated("chatty", 70.0, 0), (70.0, None));
        // Once it judges, the same window discounts.
        t.refresh(500, true, 0);
        assert!(t.calibrated("chatty", 70.0, 0).0 < 70.0);
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
        t.close_day(28, 0, 1_000_000, true, |_| false);
        assert_eq!(t.days[0].strong.len(), USERS_PER_DAY);
        // The 80s are all counted; the 40s forgotten that day read the
        // detector less lower, not more.
        let (at_80, how) = t.calibrated("loud", 80.0, 0);
        assert_eq!(how.unwrap().users, USERS_PER_DAY as u32);
        let (at_40, _) = t.calibrated("loud", 40.0, 0);
        assert!(at_40 <= 40.0 && at_80 <= 80.0);
    }

    #[test]
    fn a_detector_reaching_most_of_todays_users_is_read_at_their_share_from_the_first_day() {
        let mut t = Tails::default();
        // The first day: nothing closed, the budget does not judge.
        for u in 0..3 {
            t.tally("loud", u, 50.0);
            assert_eq!(t.calibrated("loud", 50.0, u as usize + 1), (50.0, None));
        }
        for u in 3..100 {
            t.tally("loud", u, 50.0);
        }
        let (s, how) = t.calibrated("loud", 50.0, 100);
        assert!(s < 1.0, "{s}");
        let how = how.unwrap();
        assert_eq!((how.users, how.user_days), (100, 100));
        // The next day's first user is read against the day before.
        t.close_day(28, 100, 100, false, |_| false);
        t.tally("loud", 0, 50.0);
        assert!(t.calibrated("loud", 50.0, 1).0 < 1.0);
        // Above what anyone reached, a score stands.
        assert_eq!(t.calibrated("loud", 51.0, 1), (51.0, None));
    }

    #[test]
    fn a_few_users_in_a_hundred_a_day_are_not_read_by_the_day() {
        let mut t = Tails::default();
        // 5 of 400 active users at 45: 3 set aside and 4 for the share.
        for u in 0..5 {
            t.tally("calm", u, 45.0);
        }
        assert_eq!(t.calibrated("calm", 45.0, 400), (45.0, None));
        // 24 of them: 17 beyond, one in 24 of the day, about 13.7.
        for u in 5..24 {
            t.tally("calm", u, 45.0);
        }
        let (s, _) = t.calibrated("calm", 45.0, 400);
        assert!((s - 13.7).abs() < 0.1, "{s}");
        // Order kept across scores.
        let mut last = 0.0;
        for x in 30..=100 {
            let (s, _) = t.calibrated("calm", x as f32, 400);
            assert!(s >= last, "{x}: {s} < {last}");
            last = s;
        }
    }

    #[test]
    fn days_past_the_window_are_forgotten() {
        let mut t = window(103, 60.0, 20, 500);
        for day in 0..28u64 {
            t.close_day(28, 0, 500 * 28 + day, true, |_| false);
        }
        assert_eq!(t.calibrated("chatty", 60.0, 0), (60.0, None));
    }
}
