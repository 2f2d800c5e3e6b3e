//! The alert budget: an alert threshold set from the organisation's own
//! distribution of daily peak risk.
//!
//! A fixed threshold cannot suit every log shape: dense database logs give
//! every user many findings, sparse logon logs give few, so the same 60
//! alerts on half the organisation in one and on nobody in the other. With
//! `risk.alert_budget_per_1k_user_days = b` (default 0.5) the threshold is
//! instead the level that the organisation's user-days reach at the stated
//! rate:
//!
//! - A **user-day** is one user active (any event) on one UTC day of event
//!   time; its **peak** is the highest risk the user reached that day (0 with
//!   no finding).
//! - Over the last `risk.budget_window_days` closed days (28), with `N`
//!   user-days, `k = ⌊N·b/1000⌋` alert episodes are allowed. With `a`
//!   episodes opened in the window, the target is the lowest risk (on a
//!   0.5-point grid) that at most `k − a` of the other peaks reach: user-days
//!   of a user whose alert episode is open are left out, so an attack that
//!   was alerted is not learned as the organisation's normal.
//! - When more episodes opened than the budget allows (`a > k`), the
//!   threshold rises instead, by [`MAX_RISE_PER_DAY`] a day; toward a
//!   lower target it falls by at most [`MAX_FALL_PER_DAY`] a day. The two
//!   are equal: a budget that fell faster than it rose would overshoot
//!   below the organisation's level after its learning period and alert
//!   on ordinary busy days until it climbed back (measured: about twice
//!   the budget's false alerts on generated database and workstation logs
//!   with a rise of 1 a day). It stays within `risk.threshold_floor` and
//!   `risk.threshold_ceiling` (35 and 60, widened to include
//!   `risk.threshold` when that is set outside them). An attack's own days
//!   never move the target (its user-days are left out once alerted); what
//!   it can move is the count of episodes, by its one, and never past the
//!   ceiling, while an organisation whose logs score everyone low (sparse
//!   logs) lowers it no further than the floor.
//! - The ceiling defaults to the default threshold, so by default the
//!   budget makes the engine more sensitive where a log's shape scores
//!   everyone low, and never less sensitive than `risk.threshold`. The
//!   episode count cannot tell attacks from false alerts, and with a few
//!   attacks in a month a budget of 0.5 per 1,000 user-days is spent: every
//!   organisation measured with attacks in it ran over its allowance, so
//!   the ceiling, not the budget, set the threshold while they were
//!   attacked. With a ceiling of 75, logon and removable-media logs of a
//!   separate generator modelled on CERT r4.2 (70 insiders among 1,000
//!   users) held it at 75 and alerted 20–23 of the insiders, where 60
//!   alerted 23–27 (README "The alert budget sets the threshold").
//! - **The ceiling lifts where ordinary days crowd below it.** A log shape
//!   whose benign users score above the ceiling (a file-server audit, a
//!   24/7 hospital record) would overspend the budget there for ever. So
//!   at each closed day the ceiling in force is the lowest level, at or
//!   above `risk.threshold_ceiling`, from which up no band of ten points
//!   holds more than nine allowances of the window's *ordinary* peaks
//!   (user-days outside an open episode). Where peaks are as rare as their
//!   scores say (a score is `−10·log₁₀ p`), the ten points below a
//!   threshold hold nine times the peaks at or above it, so nine
//!   allowances there is what a tail spending the budget at the threshold
//!   looks like; more is a log whose ordinary users would overspend it. An
//!   attack cannot lift it: an alerted user's days are left out, and the
//!   days before an alert are a handful against nine allowances. Nor can
//!   the lift run away: the users it would alert are left out once
//!   alerted, so the band thins as the threshold climbs. Measured on
//!   600-user file-server, SaaS and hospital logs, the threshold settled
//!   at 68–71 and false alerts fell by 16–44%, with the same insiders
//!   detected; database, workstation and CERT-like logs never lifted it.
//!   [`AlertBudget::standing`] says when the budget is overspent at the
//!   ceiling or lifted past it (the summary prints it), and a higher
//!   `risk.threshold_ceiling` still lets the budget follow a log up.
//! - **Where the lift holds, the threshold goes there at once.** An
//!   overspent budget whose ceiling is lifted raises the threshold to the
//!   lifted ceiling on the day it closes, not by the daily step: the lift
//!   is measured on ordinary days (an attack's are left out), so there is
//!   nothing for the step to damp, and at five points a day a file-server
//!   audit's threshold took three weeks to climb from 60 to 88, alerting on
//!   ordinary users all the while. For the same reason this is the one
//!   move the budget makes during the warm-up, from its first closed
//!   day: a log whose ordinary days crowd above the ceiling from its
//!   first days need not alert on them for a week first. Before the
//!   window holds one allowance's user-days, a band must still hold more
//!   than nine peaks to lift it: the evidence is the count of ordinary
//!   peaks crowding near the ceiling, and nine of them where the budget
//!   would not yet allow one alert is more than a calibrated tail gives.
//!   Measured on 570-user file-server logs, false alerts fell by 15% and
//!   16% when the lift came from the third day with one allowance's
//!   user-days, and by a further 28% and 27% (50 to 36, 45 to 33) when it
//!   came from the first closed day; hospital record and SaaS logs, with
//!   no crowd in their first days, and logs whose ceiling never lifts
//!   (database, workstation, CERT-like) are untouched, with the same
//!   insiders detected.
//! - The window starts at the first day on which some user has risk:
//!   detectors report nothing while they learn, and days of nothing but
//!   zero peaks would set the threshold to the floor just as they begin to
//!   report, when fresh baselines are at their noisiest (measured: on
//!   generated database logs the threshold then sat at 35 as detectors
//!   began, and climbed to 75 over ten days of false alerts).
//! - Until the window holds `1000/b` user-days (enough for one alert in the
//!   budget) and [`WARM_UP_DAYS`] days, `risk.threshold` applies as it is:
//!   that is the learning period.
//!
//! Everything is event time, so a replay gives the same thresholds; the
//! state is part of checkpoints. `b = 0` keeps `risk.threshold` fixed.
//!
//! Over the same window and user-days, leaving out the same users, the
//! budget also keeps each detector's tail ([`crate::risk::tails`]): how
//! many ordinary users reach each of its scores, against which a finding
//! is read before it adds to risk. The budget weighs the risk all
//! detectors make together; the tails weigh each detector on its own.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::RiskConfig;
use crate::risk::tails::{TailDiscount, Tails};

/// Most points the threshold rises per closed day of event time.
pub const MAX_RISE_PER_DAY: f32 = 5.0;

/// Most points the threshold falls per closed day of event time.
pub const MAX_FALL_PER_DAY: f32 = 5.0;

/// Closed days needed before the budget sets the threshold.
pub const WARM_UP_DAYS: usize = 7;

/// Points below the threshold in which [`AlertBudget`] counts ordinary
/// peaks to tell whether the ceiling holds.
const BAND: f32 = 10.0;

/// Allowances of peaks the band below a threshold may hold before the
/// ceiling is lifted past it: `10^(BAND/10) − 1`, what a tail as rare as
/// its scores puts there for one allowance above.
const BAND_BUDGETS: f64 = 9.0;

/// Buckets of the peak histogram: 0 to 100 in half points.
const BUCKETS: usize = 201;

const DAY_MS: i64 = 86_400_000;

/// A user not active today (risk is never negative).
const INACTIVE: f32 = -1.0;

/// One closed day: how many user-days peaked in each half-point bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Day {
    /// Peaks per bucket, sparse: (bucket, count), ascending.
    peaks: Vec<(u8, u32)>,
    /// User-days in all.
    user_days: u32,
    /// Alert episodes opened that day.
    episodes: u32,
}

/// The adaptive threshold and what it is computed from; saved in
/// checkpoints with the risk state.
///
/// `T` is the detectors' tails: `()` in the layout of checkpoint formats 7
/// to 11 (`AlertBudgetV11` in `state::v11`), which kept none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertBudget<T = Tails> {
    per_1k: f64,
    floor: f32,
    ceiling: f32,
    window: usize,
    threshold: f32,
    /// The UTC day being counted, as days since the epoch.
    today: i64,
    /// Each user's peak so far today, by user id; [`INACTIVE`] for users
    /// not active today.
    today_peaks: Vec<f32>,
    /// Users active today, for closing the day without a scan.
    active: Vec<u32>,
    /// Alert episodes opened today.
    episodes_today: u32,
    days: VecDeque<Day>,
    /// The ceiling in force ([`AlertBudget::ceiling_in_force`]): derived
    /// from the window at each closed day and on restore, so the standing
    /// read after every batch does not sum the window again.
    #[serde(skip)]
    in_force: f32,
    /// Each detector's tail on this log's ordinary user-days
    /// ([`crate::risk::tails`]), kept over the same window.
    tails: T,
}

/// [`AlertBudget`] as checkpoint formats 7 to 11 kept it, with no
/// detector tails (postcard writes `()` as nothing): read so that
/// upgrading ueba keeps a state directory. The tails start empty and fill
/// as days close.
pub(crate) type AlertBudgetV11 = AlertBudget<()>;

impl From<AlertBudgetV11> for AlertBudget {
    fn from(b: AlertBudgetV11) -> AlertBudget {
        AlertBudget {
            per_1k: b.per_1k,
            floor: b.floor,
            ceiling: b.ceiling,
            window: b.window,
            threshold: b.threshold,
            today: b.today,
            today_peaks: b.today_peaks,
            active: b.active,
            episodes_today: b.episodes_today,
            days: b.days,
            in_force: b.ceiling,
            tails: Tails::default(),
        }
    }
}

impl AlertBudget {
    /// A budget from `[risk]`; with a budget of 0 the threshold stays at
    /// `risk.threshold`.
    pub fn new(cfg: &RiskConfig) -> Self {
        // A starting threshold set outside the band widens it: the budget
        // never moves the threshold past where the operator put it.
        let ceiling = cfg.threshold_ceiling.max(cfg.threshold) as f32;
        AlertBudget {
            per_1k: cfg.alert_budget_per_1k_user_days,
            floor: cfg.threshold_floor.min(cfg.threshold) as f32,
            ceiling,
            window: cfg.budget_window_days,
            threshold: cfg.threshold as f32,
            today: i64::MIN,
            today_peaks: Vec::new(),
            active: Vec::new(),
            episodes_today: 0,
            days: VecDeque::new(),
            in_force: ceiling,
            tails: Tails::default(),
        }
    }

    /// A restored budget under this run's `[risk]`: what it learned (the
    /// window and the threshold) carries on; the budget, bounds and window
    /// length are this run's, the threshold kept within the new bounds.
    pub fn configured(self, cfg: &RiskConfig) -> Self {
        let fresh = AlertBudget::new(cfg);
        if !fresh.adapts() {
            return fresh;
        }
        let mut restored = AlertBudget {
            today: self.today,
            today_peaks: self.today_peaks,
            active: self.active,
            episodes_today: self.episodes_today,
            days: self.days,
            tails: self.tails,
            ..fresh
        };
        restored.in_force = restored.ceiling_in_force(&restored.window_peaks());
        let (user_days, judges) = (restored.user_days(), restored.judges());
        let last = restored.last_day_user_days();
        restored.tails.refresh(user_days, judges, last);
        // Under the same bounds the threshold carries on as it was (it may
        // stand above a lifted ceiling that has since come down, falling
        // at its pace); under new ones it is kept within them.
        restored.threshold = if (restored.floor, restored.ceiling) == (self.floor, self.ceiling) {
            self.threshold
        } else {
            self.threshold
                .clamp(restored.floor, restored.in_force.max(restored.floor))
        };
        restored
    }

    /// The threshold in force now.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Whether the threshold adapts (a budget is set).
    pub fn adapts(&self) -> bool {
        self.per_1k > 0.0
    }

    /// User-days in the window so far (closed days only).
    pub fn user_days(&self) -> u64 {
        self.days.iter().map(|d| u64::from(d.user_days)).sum()
    }

    /// Alert episodes allowed in the window as it stands: `⌊N·b/1000⌋`.
    fn allowed(&self) -> u64 {
        ((self.user_days() as f64) * self.per_1k / 1000.0).floor() as u64
    }

    /// Alert episodes opened on the window's closed days.
    fn opened(&self) -> u64 {
        self.days.iter().map(|d| u64::from(d.episodes)).sum()
    }

    /// Whether the budget sets the threshold yet: past the learning period
    /// (the window holds [`WARM_UP_DAYS`] days and enough user-days for one
    /// alert).
    fn judges(&self) -> bool {
        self.days.len() >= WARM_UP_DAYS.min(self.window) && self.allows_one()
    }

    /// Whether a budget is set and the window holds the user-days for one
    /// alert (`1000/b`).
    fn allows_one(&self) -> bool {
        self.adapts() && (self.user_days() as f64) * self.per_1k >= 1000.0
    }

    /// How the window stands against the budget, once it judges (or,
    /// during the warm-up, once it has lifted the ceiling): episodes
    /// opened and allowed, and whether the threshold is held at its
    /// ceiling. An operator reads it to tell a log shape that scores
    /// everyone high (false alerts over the budget: raise the ceiling) from
    /// one with many attacks at once (which the budget counts too).
    pub fn standing(&self) -> Option<Standing> {
        (self.judges() || self.in_force > self.ceiling).then(|| Standing {
            days: self.days.len(),
            user_days: self.user_days(),
            opened: self.opened(),
            allowed: self.allowed(),
            per_1k: self.per_1k,
            ceiling: (self.threshold >= self.ceiling).then_some(self.ceiling),
            lifted: Some(self.in_force).filter(|&c| c > self.ceiling),
        })
    }

    /// `user` was active at `time_ms`: the day's user-day count includes
    /// them. Days close when the first event of a later day arrives;
    /// `in_episode` says, for a user, whether their alert episode is open
    /// then (their day is left out of the peaks).
    pub fn active(&mut self, user: u32, time_ms: i64, in_episode: impl Fn(u32) -> bool) {
        if !self.adapts() {
            return;
        }
        let day = time_ms.div_euclid(DAY_MS);
        if day > self.today {
            if self.today != i64::MIN {
                self.close_day(in_episode);
            }
            self.today = day;
        }
        let i = user as usize;
        if self.today_peaks.len() <= i {
            self.today_peaks.resize(i + 1, INACTIVE);
        }
        if self.today_peaks[i] == INACTIVE {
            self.today_peaks[i] = 0.0;
            self.active.push(user);
        }
    }

    /// An alert episode opened (a `new` alert) on the current day.
    pub fn episode(&mut self) {
        self.episodes_today += 1;
    }

    /// `user`'s risk became `risk` on the current day.
    pub fn risk(&mut self, user: u32, risk: f32) {
        if let Some(p) = self.today_peaks.get_mut(user as usize)
            && *p != INACTIVE
        {
            *p = p.max(risk);
        }
    }

    /// User-days of the last closed day in the window (0 with none): what
    /// the tails read the day before today's first users against.
    fn last_day_user_days(&self) -> u64 {
        self.days.back().map_or(0, |d| u64::from(d.user_days))
    }

    /// `detector` scored `score` (its own) for `user` on the current day:
    /// the tally behind [`AlertBudget::calibrated`].
    pub fn tally(&mut self, detector: &str, user: u32, score: f32) {
        if self.adapts() {
            self.tails.tally(detector, user, score);
        }
    }

    /// What a finding of `score` from `detector` counts as on this log,
    /// and how it was read when discounted ([`crate::risk::tails`]).
    pub fn calibrated(&self, detector: &str, score: f32) -> (f32, Option<TailDiscount>) {
        self.tails.calibrated(detector, score, self.active.len())
    }

    fn close_day(&mut self, in_episode: impl Fn(u32) -> bool) {
        let mut counts = [0u32; BUCKETS];
        for &u in &self.active {
            let p = std::mem::replace(&mut self.today_peaks[u as usize], INACTIVE);
            if !in_episode(u) {
                counts[bucket(p)] += 1;
            }
        }
        let user_days = self.active.len() as u32;
        self.active.clear();
        let episodes = std::mem::take(&mut self.episodes_today);
        // Until some user has risk, the detectors are still learning: such
        // days say nothing about where the organisation's risk lies.
        let silent = counts[1..].iter().all(|&n| n == 0) && episodes == 0;
        if silent && self.days.is_empty() {
            self.tails.skip_day();
            return;
        }
        self.days.push_back(Day {
            peaks: counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(b, n)| (b as u8, *n))
                .collect(),
            user_days,
            episodes,
        });
        while self.days.len() > self.window {
            self.days.pop_front();
        }
        let (user_days, judges) = (self.user_days(), self.judges());
        self.tails.close_day(
            self.window,
            self.last_day_user_days(),
            user_days,
            judges,
            &in_episode,
        );
        let counts = self.window_peaks();
        self.in_force = self.ceiling_in_force(&counts);
        if !self.judges() {
            // Before the warm-up ends, only a log whose ordinary days
            // crowd above the ceiling moves it, and only up to them.
            if self.in_force > self.ceiling {
                self.threshold = self.threshold.max(self.in_force);
            }
            return;
        }
        let ceiling = self.in_force;
        let Some(allowed) = self.allowed().checked_sub(self.opened()) else {
            self.threshold = (self.threshold + MAX_RISE_PER_DAY).min(ceiling.max(self.threshold));
            // Ordinary days crowding above the configured ceiling are not
            // an attack to be damped: the threshold goes to them at once.
            if ceiling > self.ceiling {
                self.threshold = self.threshold.max(ceiling);
            }
            return;
        };
        // The lowest grid point that at most `allowed` peaks reach: walk
        // down from the top while the peaks at or above stay within budget.
        let mut above = 0u64;
        let mut target = 100.5f32;
        for b in (0..BUCKETS).rev() {
            if above + counts[b] > allowed {
                break;
            }
            above += counts[b];
            target = b as f32 / 2.0;
        }
        let target = target.clamp(self.floor, ceiling);
        let step = (target - self.threshold).clamp(-MAX_FALL_PER_DAY, MAX_RISE_PER_DAY);
        self.threshold = (self.threshold + step).clamp(self.floor, ceiling.max(self.threshold));
    }

    /// Peaks of the window's closed days per bucket.
    fn window_peaks(&self) -> [u64; BUCKETS] {
        let mut counts = [0u64; BUCKETS];
        for d in &self.days {
            for &(b, c) in &d.peaks {
                counts[b as usize] += u64::from(c);
            }
        }
        counts
    }

    /// The ceiling in force: `risk.threshold_ceiling`, or where the
    /// window's peaks (`counts`) lift it, once the budget judges, or during
    /// the warm-up from its first closed day once it is overspent. The
    /// lift rests on how many ordinary peaks crowd into a band, never
    /// fewer than [`BAND_BUDGETS`] ([`Self::lifted_ceiling`]), not on how
    /// many days they came in: more than nine ordinary peaks within ten
    /// points of the ceiling on one day, where the budget would not yet
    /// allow one alert, are more than a calibrated tail gives, not less.
    fn ceiling_in_force(&self, counts: &[u64; BUCKETS]) -> f32 {
        if self.judges() || (self.adapts() && self.opened() > self.allowed()) {
            self.lifted_ceiling(counts)
        } else {
            self.ceiling
        }
    }

    /// The ceiling, lifted where the organisation's ordinary days crowd
    /// below it: the lowest grid point at or above `risk.threshold_ceiling`
    /// from which up no band of [`BAND`] points holds more than
    /// [`BAND_BUDGETS`] times the window's allowance of peaks, or than
    /// [`BAND_BUDGETS`] peaks while the window holds less than one
    /// allowance (user-days in an open alert episode are not among
    /// `counts`). On the risk scale a
    /// score is `−10·log₁₀ p`, so where peaks are as rare as their scores
    /// say, the ten points below a level hold nine times the peaks at or
    /// above it: nine allowances under the threshold is what a tail that
    /// spends one allowance over it looks like, and more is a log whose
    /// ordinary users would overspend the budget there. Attacks do not
    /// lift it: an alerted user's days are left out, and the days before
    /// an alert are a handful against nine allowances (on 1,000 users over
    /// 19 days, about 60 user-days).
    fn lifted_ceiling(&self, counts: &[u64; BUCKETS]) -> f32 {
        let limit = BAND_BUDGETS * self.allowed().max(1) as f64;
        let width = (BAND * 2.0) as usize;
        // below[b]: peaks in buckets under b.
        let mut below = [0u64; BUCKETS + 1];
        for b in 0..BUCKETS {
            below[b + 1] = below[b] + counts[b];
        }
        let start = bucket(self.ceiling);
        let lifted = (start..BUCKETS)
            .filter(|&t| (below[t] - below[t.saturating_sub(width)]) as f64 > limit)
            .map(|t| t + 1)
            .max()
            .unwrap_or(start);
        (lifted.min(BUCKETS - 1) as f32 / 2.0).max(self.ceiling)
    }
}

/// The alert budget's window against its allowance ([`AlertBudget::standing`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Standing {
    /// Closed days in the window.
    pub days: usize,
    /// User-days on them.
    pub user_days: u64,
    /// Alert episodes opened on them.
    pub opened: u64,
    /// Alert episodes the budget allows on them.
    pub allowed: u64,
    /// The budget, per 1,000 user-days.
    pub per_1k: f64,
    /// The ceiling, when the threshold is held there (or above it).
    pub ceiling: Option<f32>,
    /// Where the ceiling is lifted to, when this log's ordinary user-days
    /// crowd below `risk.threshold_ceiling` ([`AlertBudget`]'s
    /// `lifted_ceiling`): the budget may follow them up to there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifted: Option<f32>,
}

impl Standing {
    /// Whether more episodes opened than the budget allows.
    pub fn over(&self) -> bool {
        self.opened > self.allowed
    }

    /// The ceiling, when an overspent budget holds the threshold there:
    /// what the summary, `ueba eval` and `ueba explain` tell an operator.
    pub fn held_at_ceiling(&self) -> Option<f32> {
        self.ceiling
            .filter(|_| self.over() && self.lifted.is_none())
    }

    /// "the threshold may rise past risk.threshold_ceiling to 69.5, as
    /// this log's ordinary user-days (no alert episode open) crowd below
    /// the ceiling": the one wording, when the ceiling is lifted.
    pub fn lifted_note(&self) -> Option<String> {
        self.lifted.map(|l| {
            format!(
                "the threshold may rise past risk.threshold_ceiling to {l:.1}, as this log's ordinary user-days (no alert episode open) crowd below the ceiling"
            )
        })
    }
}

/// "9 alert episodes opened over the last 24 days (8223 user-days), where
/// 0.5 per 1,000 user-days allows 4": the one wording of the window's
/// standing wherever it is reported.
impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} alert episodes opened over the last {} days ({} user-days), where {} per 1,000 user-days allows {}",
            self.opened, self.days, self.user_days, self.per_1k, self.allowed
        )
    }
}

/// The half-point bucket of a risk, rounding up, so a peak of exactly a
/// grid value counts as reaching it.
fn bucket(risk: f32) -> usize {
    ((risk.max(0.0) * 2.0).ceil() as usize).min(BUCKETS - 1)
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
