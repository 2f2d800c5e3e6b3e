//! `off-hours`: flags activity at hours of the week a user does not work.
//!
//! The motivating insider read a customer database at night. Night work is
//! not suspicious in itself (DBAs run maintenance, some teams work nights),
//! so the question is always "is this hour unusual *for this person*?".
//!
//! # Model
//!
//! Each user has a time-of-week profile in their own local time, for each of
//! the 24 hours × {weekday, weekend}: how many of their active days of that
//! kind had any activity in the hour, how many had the user *present* in
//! it (activity in it, or in hours on both sides of it at most 12 hours
//! apart: a sparse log's logon at 08:40 and logoff at 17:10 mean the user
//! was at work at 12:00 though nothing was logged then), and how many
//! events those hours held. It asks two questions.
//!
//! **Is the hour off for the user?** The presence share `q` of an hour is the
//! share of the user's days of that kind they were present in it:
//! `q = a · s`, where
//!
//! * `s` is the share of active days of that kind present in the hour,
//!   smoothed over neighbouring hours (circular, weights 0.05/0.2/0.5/0.2/0.05,
//!   never below the hour's own share), so an hour next to the shift is only
//!   mildly unusual while the middle of the night stays rare;
//! * `a` is the share of days of that kind the user is active at all, taking
//!   weekdays as 5/7 and weekends as 2/7 of the calendar:
//!   `a = min(1, (days_k + ½) / (expected_k + 1))`, where `expected_k` is how
//!   many days of kind `k` the user would have been active had they worked it
//!   as often as the other kind, so a weekday-only worker's weekend is rare
//!   without ever counting inactive days as observations;
//! * `s` is shrunk towards the user's own share over all their active days
//!   (weekdays and weekends pooled: a night worker's Saturday looks like
//!   their other nights), and that in turn, like `a`, towards the peer
//!   group's profile (all members' days pooled; the organisation's when the
//!   user has no group or the group is new), each prior worth `prior_days`
//!   active days, so a newcomer is judged by their peers and their own days
//!   take over as they accumulate.
//!
//! Only hours with `q < off_share` are scored at all; activity in any hour
//! the user (or, for a newcomer, their group) works at least that often is
//! never a finding, however busy.
//!
//! **How much of a usual day went there?** Off-hours events form a
//! *session* while they follow each other within the spacing of the user's
//! usual day (24 hours over their events a day, at least 2 hours) and at
//! most `session_gap_hours`, and no event in a working hour comes between:
//! a sparse user's logon at 00:06, removable media at 01:30 and logoff at
//! 05:00 are one session, a busy user's evening query and their 02:00
//! session are two. A session is scored as one growing finding. Its evidence is the share of the user's day it
//! holds, so it follows the user's own rate and history:
//!
//! * `θ` is the posterior share of a usual active day's events that fall in
//!   the session's hours of the day: the user's own share on days of this
//!   kind (neighbour-smoothed as above), shrunk towards their share on days
//!   of the other kind, shrunk in turn towards the prior profile's share,
//!   each prior worth `prior_days` days. The prior's share carries half a
//!   pool-day of Jeffreys pseudo-count per hour: an hour nobody works is
//!   rare in proportion to how many days say so, never impossible. Shares,
//!   not counts, are shrunk, so the prior expects of a user with 300 events
//!   a day 150 times the stray night events it expects of one with two;
//! * the day's share varies between days as `Beta(θ·ν, (1−θ)·ν)` with
//!   `ν = active days + prior_days`: the evidence rests on days, the unit
//!   of independent behaviour, not on events, which come in bursts;
//! * `n` is the events of a usual active day of this kind (own rate shrunk
//!   towards the prior's the same way), or today's events so far if more;
//! * `p_usual = a_min · P(X ≥ K)`, `X ~ BetaBinomial(n, θ·ν, (1−θ)·ν)`,
//!   `K` the session's events and `a_min` the smallest `a` over its days.
//!
//! Some users' days come in two shapes: a support agent who now and then
//! works a whole Saturday night does a full day's work in those hours, far
//! from the share a usual day puts there. So the session's chance is a
//! mixture, `p = p_usual + q_min · p_present`: `q_min` is the smallest
//! presence share `q` of the session's hours (how often the user is there
//! at all), and `p_present` the chance of `K` events over its `h` present
//! hours at the user's pace there, `h + NegativeBinomial(size
//! h · dispersion, mean Σ (m − 1))`, where `m` is the user's mean events per
//! hour with activity around each hour (hours merely between two active
//! ones, which hold no events, would make every pace look idle) (kernel-weighted as above, both kinds of
//! day pooled, with `unused_hour_mean` worth one present hour; the peer
//! group's until the user has `learning_days` active days), or, around
//! hours they have had activity at, their mean over all hours with
//! activity when that is higher: how busy a present hour is depends on the
//! work more than on the clock, and someone whose file work comes in
//! bursts of twenty at any hour is not idle at 18:00 because their few
//! 18:00s were quiet. At hours they have never been at work around,
//! nothing says they would work there at their own pace: `m` is
//! `unused_hour_mean`, unless the hour is one their peer group works (its
//! pool present there on at least `off_share` of its days, so the hour is
//! not off for the group), where it is the group's (the pool's mean events
//! per present hour there, with `unused_hour_mean` worth one present
//! hour): how busy such an hour is when someone is there. An hour off for
//! the group keeps `unused_hour_mean` however few of its members were ever
//! there: a night worker or two among a day team says little of how the
//! rest would work at night. A finding says how many of its hours were
//! judged at the group's pace (`peer_paced_hours`, and its reason), so an
//! analyst sees whose habits judged the session. A day worker is never
//! present at night, and neither are their peers, so only `p_usual` speaks
//! for them; someone who works nights on a sixth of their Saturdays is
//! judged by those nights; and an emergency physician whose first morning
//! shift comes after a week of evenings is judged, beside their own week,
//! by how often and how busily their peers work mornings: the
//! whole day moved is what such a shift looks like, not 43 events at the
//! pace of an hour nobody works (measured on generated hospital record
//! logs, 745 staff over 40 days: false alerts 53 to 34 and 66 to 43, the
//! same insiders alerted but for one whose alert had come from her own
//! move to afternoon shifts a day before her scenario began).
//!
//! One event in an hour never seen in ten active days thus scores about 26
//! for a user with three events a day and about 11 for one with 300, and
//! the three-event night session above scores about 47; a day worker's 30 events at
//! 02:00 are far above 65, while overtime next to the shift at the usual
//! pace stays below 40.
//!
//! # Nights that repeat
//!
//! One night out of the ordinary says little, since anyone stays late now
//! and then; a second and a third in the same week say much more. Each
//! user keeps the tail `p` of their strongest session of each local day
//! that reached `min_score` (`τ = 10^(−min_score/10)`), over the last
//! `repeat_days` days, while that day is held out of learning. A session
//! whose own tail is at most `τ` is judged with the earlier days' by the
//! truncated product method (Zaykin et al., 2002): `W` is the product of
//! the tails at most `τ` among the `L = repeat_days` days of the window,
//! and
//!
//! `P(W ≤ w) = Σ_{k=1}^{L} C(L, k) (1 − τ)^{L−k} · T_k`, with
//! `T_k = w · Σ_{s<k} (k ln τ − ln w)^s / s!` when `w ≤ τ^k`, else `τ^k`.
//!
//! It counts every day of the window as a chance of a stray night, so a
//! night alone comes out at about `L · p` and only nights that repeat come
//! out below their own tails; the session reports the combined tail when
//! it is the smaller. Two nights of 30 within a week give about 38, three
//! about 58; a night of 35 after one of 33 gives about 43.
//!
//! Only days the host held out of learning count as earlier nights. The
//! host holds a user whose risk a night raised (with other evidence, or
//! alone), so the nights after it are judged against the profile before
//! it and add up. A night that joined the profile, because nothing made
//! the host hold the user, is the user's new normal: a planned move to
//! night shifts is learned night by night and its nights never add up,
//! which they would if days were taken as independent evidence, since a
//! new routine repeats exactly as an intrusion's nights do. Its entry is
//! dropped when the day closes unheld, and so are the entries of the held
//! days folded in then (see below).
//!
//! # Peers whose days go off their own hours
//!
//! The profiles model each user's clock, and in some groups the model
//! says less than its tails claim: an emergency physician's rotating
//! shifts, a psychiatric nurse's on-call nights, support that follows the
//! sun. A member's 7 a.m. session after a week of nights is then far off
//! their own profile, and yet their peers have days like it every week.
//! So every closed active day after the learning period (learned or held)
//! is counted for the user, their peer group and the organisation, and
//! with it how far its strongest off-hours session went before this
//! correction: whether it reached each of the scores 20, 30, …, 100. A
//! session whose own score reaches a level is then joined with the chance
//! that a peer's day reaches it, beyond the rest of the organisation's:
//!
//! * `r_o`, the share of the days of everyone outside the group reaching
//!   the level (half a day of prior); `r_g`, the peers' share, shrunk
//!   towards `r_o` (worth 100 member-days) and taken at its lower 95%
//!   bound, so a few days of one member do not make a group's nights
//!   routine;
//! * `p = p_own + r − p_own · r` with `r = max(0, r_g − r_o)`.
//!
//! The peers' share leaves the user's own days out, so no one's own nights
//! make their nights routine, and an alerted insider's nights weigh in
//! their peers' share as one member's days among all of theirs. A group like
//! the rest of the organisation gets nothing (`r = 0`), and a log shape
//! whose every group works all hours is the alert budget's to weigh. The
//! finding says when it applies and what the session scored alone
//! (`raw_score`, `peer_routine`). Measured on generated hospital record
//! logs (two of 40 days, ~745 staff), false alerts fell by 15–25% with the
//! same insiders detected; the database, workstation and CERT-like logs
//! measured, whose groups keep their hours, were unchanged.
//!
//! # The team's day
//!
//! A team works late together now and then: a month-end close, a
//! release, an incident. Each member's evening is far off their own
//! profile, and their peers' long-run share of such days (above) is small,
//! since it happens a few days a month. What says it is the team's is
//! today: how many of the user's peers are at work in the session's hours
//! now. Per peer group the detector counts, for each of the latest two
//! local days (each member's own), the members active that day and those
//! with events in each hour (`Teams`). For the session's busiest hour for
//! the team, `k` of the `n` other members at work today (the most active
//! today or on the team's day before, since early in a day only those who
//! work at its hour have begun it) have events in it,
//! where usually a share `u` of the group's days have (the pooled profile,
//! hours with events); the share today is taken at its lower 95% bound,
//! `m − 1.645·√(m(1 − m)/(n + 1))` with `m = (k + ½)/(n + 1)`, and what it
//! exceeds `u` by is joined with the session's tail as the routine is:
//! `p = p_own + t − p_own · t`. A colleague or two staying late says
//! little (the bound is near zero); six of nine say the evening is the
//! team's. A user working late alone is judged as before, and so is one
//! whose team is at work at that hour every day (no excess). The finding
//! says it (`peers_active_today`, `peers_present_at_hour`,
//! `peers_usual_share_at_hour`, `team_day`). With several shards the other
//! shards' members count as of the last exchange (each hour of event
//! time), so a team's first evening hour may be read without them. On the
//! ERP-style logs of a separate generator (400 users, five weeks, a
//! month-end close) it took false alerts from 28, 40 and 7 to 24, 38 and
//! 6, the same insiders detected; the generated database and workstation
//! logs and the sweep were unchanged.
//!
//! # Findings
//!
//! None during the global learning period (`learning_days` of event time
//! from the first event seen), nor below `min_score`. A session reports
//! again only when its score rises by [`RESCORE_STEP`] over what it last
//! reported, so a long session yields a handful of findings.
//!
//! # Time
//!
//! A user's events of one local day are counted in a pending day that joins
//! the profile when the next day starts, so a session never raises its own
//! baseline. Events of an earlier hour than the session's latest (late by a
//! few minutes) are counted in their own hour but not scored. Events of the
//! previous day join the profile unscored; events further in the past start
//! a new day, so a far-future timestamp cannot freeze a user.
//!
//! # Events held out of learning
//!
//! An event with `learn` false (the host holds the user out of learning,
//! e.g. while their alert episode is open) is scored as any other, against
//! the profile as it stands, and its session grows and reports as usual;
//! it counts in the pending day too, since today's events so far are what
//! a session is drawn from. But a pending day holding such an event never
//! joins the profile: not the user's, their peer group's nor the
//! organisation's, and none of its events do, not even those before the
//! first held one. A day is learned whole or not at all: the events that
//! raised the alert came before the host held the user, and a day cut to
//! its learned part would be an active day without its usual hours, which
//! lowers their presence share until the user's own working hours look
//! off. Late events of such a day, and held late events of any day, are
//! not counted either. So a nightly session scores the same every night
//! the user is held, instead of teaching the profile that nights are
//! normal.
//!
//! A held day is not lost, though: it is kept aside (its 24 hourly
//! counts, at most `HELD_DAYS_KEPT` (14) days, the oldest going first), and
//! the kept days join the profiles, the user's, their group's and the
//! organisation's, when a day of the user closes that is not held. The
//! host holds a user until their episode ends (their risk calms, or
//! `risk.hold_days` pass, or an analyst judges it benign) and for good once
//! it is judged malicious, so a learned day after held ones means the
//! episode that held them ended without that verdict. The nights behind an
//! episode are then learned as if the host had never held them: a routine
//! that alerted (an administrator's night rounds) becomes normal after its
//! episode, as an unalerted one does night by night, instead of alerting
//! again at every round. The peer group a held event names is still taken (it comes
//! from the identity file, not from behaviour), and the global learning
//! period's clock starts at the first event seen, held or not.
//!
//! # Sharing with other shards
//!
//! With the users spread over several instances (`--shards`), each pools
//! only its own users' days, so the peer-group and organisation profiles
//! a user is shrunk towards would count a fraction of the members. The
//! instances therefore exchange them ([`Detector::population`],
//! [`Detector::absorb`]). An instance shares the pooled profiles of its own
//! users' days: the organisation's and each peer group's that has any
//! (keyed by the host's peer-group id), every field as it is kept (events,
//! days with activity and days present per hour and kind of day, days per
//! kind, days closed and how many reached each level of the peers'
//! routine). They are plain sums of member-days, so merging is adding: each
//! pooled profile holds its own users' days plus the sum of the other
//! instances' latest shares, and that sum is kept beside it (in the
//! snapshot) so that the next exchange takes it out before adding the new
//! one, and a share always leaves it out. Everything a profile is used for
//! (the presence and event shares of the prior, its rate and pace, whether
//! a group has `POOL_MIN_DAYS` days to stand for its members, how routine
//! its far off-hours days are) then reads
//! every shard's members. The other shards' days are as of the last
//! exchange; a user's own profile, sessions and days are never shared, as a
//! user lives in one shard. A share is 150 to 400 bytes per peer group
//! with days (156 varint counts, one byte for an hour nobody works; at
//! most about 1.1 KiB), and the same once for the organisation.
//!
//! # Memory
//!
//! About 940 bytes per user (profile 2 × 24 event counts, days with
//! activity and days present, days closed and how far off they went,
//! the pending day's 24 hourly counts, whether it and the day closed last
//! are held out of learning, the current session: its first and latest
//! hour, hours-of-day mask, events and smallest active share; 24 bytes,
//! 8 more per day with an off-hours finding in the last `repeat_days`,
//! and 52 per held day kept aside, at most 14)
//! and
//! 880 bytes per peer group and once for the organisation, twice that
//! when sharded (the other shards' sum is kept apart too), and 216 per
//! peer group for its members at work on its latest two days (twice
//! that when sharded). A profile
//! from a snapshot taken before days present were kept counts its days
//! with activity as present until new days accumulate. Ids at or above 2²⁰ are kept in a B-tree, so a
//! huge id never allocates a huge vector.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, NegativeBinomial};
use statrs::function::gamma::ln_gamma;
use ueba_sdk::calibrate::p_from_score;
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, HOUR_MS, Info, Symbols, config,
    population, score_from_p,
};

use ueba_sdk::table::Table;

mod upgrade;

/// A session reports again only when its score rises by this much.
pub const RESCORE_STEP: f32 = 10.0;
/// Smoothing weights for distance 0, 1 and 2 hours (they sum to 1).
const KERNEL: [f64; 3] = [0.5, 0.2, 0.05];
/// Active days of a pooled profile needed before it is used as a prior.
const POOL_MIN_DAYS: u64 = 5;
/// How many present hours `unused_hour_mean` is worth in the mean count.
const MEAN_PRIOR_HOURS: f64 = 1.0;
/// Most events a day is taken to hold when scoring a session; bounds the
/// cost of the tail sum for machine-like users.
const MAX_TRIALS: u64 = 10_000;
/// Most hours between two active hours of one local day for the hours
/// between to count as present (a working day's logon and logoff).
const FILL_GAP_HOURS: usize = 12;
/// Member-days the organisation's share of far off-hours days is worth
/// against a peer group's own ([`OffHours::routine`]).
const ROUTINE_PRIOR_DAYS: f64 = 100.0;
/// Scores (before the peers' routine is joined in) at which
/// [`Profile::reached`] counts days.
const LEVELS: [f32; 9] = [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
/// [`User::peak`] of a day not scored (the learning period).
const NOT_SCORED: f32 = -1.0;
/// Largest posterior share of a day's events in a session's hours.
const MAX_THETA: f64 = 0.999;

const NO_DAY: i64 = i64::MIN;
/// Held days a user keeps aside until they are learned again: twice the
/// host's default longest hold (`risk.hold_days`, 7), so that an episode
/// renewed once is folded in whole; past it the oldest goes unlearned.
const HELD_DAYS_KEPT: usize = 14;
const WEEKDAY: usize = 0;
const WEEKEND: usize = 1;

/// The operator's settings; part of the snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Global warm-up, and per-user active days before the user's own
    /// profile is trusted.
    pub learning_days: u32,
    /// Findings scoring below this are dropped as noise.
    pub min_score: f32,
    /// How many active days of their own the peer profile is worth.
    pub prior_days: f64,
    /// Hours with a presence share below this are off hours (scored).
    pub off_share: f64,
    /// Most hours between two off-hours events of one session.
    pub session_gap_hours: u32,
    /// Negative binomial size of the count in a present hour (smaller is
    /// more overdispersed, i.e. more lenient about bursts).
    pub dispersion: f64,
    /// Mean events in a present hour the user has never worked near.
    pub unused_hour_mean: f64,
    /// Days over which off-hours findings on different days combine
    /// (0: each session alone).
    pub repeat_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            prior_days: 5.0,
            off_share: 0.2,
            session_gap_hours: 6,
            dispersion: 1.0,
            unused_hour_mean: 1.6,
            repeat_days: 7,
        }
    }
}

/// The off-hours detector: per-user time-of-week profiles with neighbour
/// smoothing and peer-group shrinkage, scoring each off-hours session by a
/// Beta–binomial posterior of the share of the user's day it holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OffHours {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    /// Pooled profiles of each peer group and of the organisation: their
    /// own users' days, plus [`Absorbed`], the other instances'.
    groups: Table<Profile>,
    org: Profile,
    /// The sum of the other instances' latest shares, which `groups` and
    /// `org` include; what [`Detector::absorb`] takes out again.
    absorbed: Absorbed,
    /// Who of each peer group is at work at each hour of their latest
    /// local days ("The team's day").
    teams: Teams,
}

/// Per peer group, its members present at each local hour of the latest
/// two local days: this instance's, and the other instances' as of their
/// latest shares ("The team's day").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Teams {
    own: BTreeMap<u32, TeamDays>,
    others: BTreeMap<u32, TeamDays>,
}

/// A peer group's latest two local days ([`Teams`]), in no order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct TeamDays([TeamDay; 2]);

/// Members of a peer group active on one local day (their own local day),
/// and present at each of its hours.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct TeamDay {
    day: i64,
    active: u32,
    present: [u32; 24],
}

impl Default for TeamDay {
    fn default() -> Self {
        TeamDay {
            day: NO_DAY,
            active: 0,
            present: [0; 24],
        }
    }
}

impl TeamDays {
    /// The day `day`: kept, or taking the place of a kept day ahead of
    /// it (a member's clock running ahead of the rest cannot be the day
    /// before), else of the older; `None` for one older than both (late).
    fn day_mut(&mut self, day: i64) -> Option<&mut TeamDay> {
        if let Some(i) = self.0.iter().position(|d| d.day == day) {
            return Some(&mut self.0[i]);
        }
        let [a, b] = [self.0[0].day, self.0[1].day];
        let i = match (a, b) {
            (NO_DAY, _) => 0,
            (_, NO_DAY) => 1,
            _ if day < a.min(b) => return None,
            _ if a > day => 0,
            _ if b > day => 1,
            _ if a <= b => 0,
            _ => 1,
        };
        self.0[i] = TeamDay {
            day,
            ..TeamDay::default()
        };
        Some(&mut self.0[i])
    }

    /// Add `other`'s members, day by day where the days match (the other
    /// instance's days in order, so the later of its two is not taken for
    /// a clock ahead of the earlier).
    fn add(&mut self, other: &TeamDays) {
        let mut days: Vec<&TeamDay> = other.0.iter().filter(|d| d.day != NO_DAY).collect();
        days.sort_by_key(|d| d.day);
        for d in days {
            if let Some(mine) = self.day_mut(d.day) {
                mine.active = mine.active.saturating_add(d.active);
                for (m, o) in mine.present.iter_mut().zip(&d.present) {
                    *m = m.saturating_add(*o);
                }
            }
        }
    }

    /// (members at work, of them present at `hour` of `day`). Members at
    /// work are the most active on `day` or the team's day before it:
    /// early in a day only those who work at its hour have begun it, and
    /// a night shift at 02:00 would be the whole team.
    fn at(&self, day: i64, hour: usize) -> (u32, u32) {
        let before = self
            .0
            .iter()
            .filter(|t| t.day != NO_DAY && t.day < day)
            .map(|t| t.active)
            .max()
            .unwrap_or(0);
        self.0
            .iter()
            .find(|t| t.day == day)
            .map_or((0, 0), |t| (t.active.max(before), t.present[hour]))
    }
}

impl Teams {
    /// A member of `group` at work at `hour` of local day `day` for the
    /// first time that hour (`first_today`: and that day).
    fn mark(&mut self, group: u32, day: i64, hour: usize, first_today: bool) {
        if let Some(d) = self.own.entry(group).or_default().day_mut(day) {
            d.active = d.active.saturating_add(u32::from(first_today));
            d.present[hour] = d.present[hour].saturating_add(1);
        }
    }

    /// (members of `group` active on `day`, of them present at `hour`),
    /// every instance's.
    fn at(&self, group: u32, day: i64, hour: usize) -> (u32, u32) {
        let (a, p) = self.own.get(&group).map_or((0, 0), |t| t.at(day, hour));
        let (oa, op) = self.others.get(&group).map_or((0, 0), |t| t.at(day, hour));
        (a.saturating_add(oa), p.saturating_add(op))
    }
}

/// How far the user's peers are at work at a session's hour today beyond
/// their usual ([`OffHours::team_day`]).
#[derive(Clone, Copy, Debug)]
struct TeamReading {
    /// Other members active today, and of them present at the hour.
    active: u32,
    present: u32,
    /// Share of the group's days present at the hour, usually.
    usual: f64,
    /// The chance joined with the session's: the lower 95% bound of the
    /// share present today, less `usual`; 0 when not above it.
    excess: f64,
}

/// One instance's population share: the pooled profiles of its own users'
/// days, the organisation's and each peer group's that has any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Share {
    org: Profile,
    groups: Vec<(u32, Profile)>,
    /// This instance's members at work on each group's latest days.
    teams: Vec<(u32, TeamDays)>,
}

/// A share as 0.4 wrote it, without `teams`: a checkpoint taken before an
/// upgrade holds the last shares of the version before, and the host
/// hands them over again on resume.
#[derive(Deserialize)]
struct ShareV04 {
    org: Profile,
    groups: Vec<(u32, Profile)>,
}

impl From<ShareV04> for Share {
    fn from(s: ShareV04) -> Share {
        Share {
            org: s.org,
            groups: s.groups,
            teams: Vec::new(),
        }
    }
}

/// The other instances' shares, summed, as last absorbed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Absorbed {
    org: Profile,
    groups: BTreeMap<u32, Profile>,
}

/// Per kind of day (index 0 weekday, 1 weekend): events per hour, days with
/// activity in each hour, and active days. For a user, days are the user's
/// active days; for a pool, member-days.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Profile {
    counts: [[u64; 24]; 2],
    present: [[u32; 24]; 2],
    days: [u64; 2],
    /// Days present in each hour, counting the hours between two active
    /// hours of a day (see [`present_hours`]): what decides which hours are
    /// off. `present`, hours with events, gives the pace of a present hour.
    #[serde(default)]
    filled: [[u32; 24]; 2],
    /// Active days closed since the learning period, learned or held:
    /// what `reached` counts a share of.
    closed: u64,
    /// Of the `closed` days, those whose strongest off-hours session
    /// scored at least each of [`LEVELS`] before the peers' routine is
    /// joined in: how often
    /// this entity's days go that far outside their owners' own profiles
    /// ([`OffHours::routine`]).
    reached: [u64; LEVELS.len()],
}

impl Profile {
    /// Add `other`'s member-days to these (another instance's pool).
    fn add(&mut self, other: &Profile) {
        self.combine(other, u64::saturating_add, u32::saturating_add);
    }

    /// Take `other`'s member-days out again (what [`Profile::add`] added).
    fn sub(&mut self, other: &Profile) {
        self.combine(other, u64::saturating_sub, u32::saturating_sub);
    }

    fn combine(&mut self, other: &Profile, wide: fn(u64, u64) -> u64, narrow: fn(u32, u32) -> u32) {
        self.closed = wide(self.closed, other.closed);
        for (r, o) in self.reached.iter_mut().zip(other.reached) {
            *r = wide(*r, o);
        }
        for k in [WEEKDAY, WEEKEND] {
            self.days[k] = wide(self.days[k], other.days[k]);
            for h in 0..24 {
                self.counts[k][h] = wide(self.counts[k][h], other.counts[k][h]);
                self.present[k][h] = narrow(self.present[k][h], other.present[k][h]);
                self.filled[k][h] = narrow(self.filled[k][h], other.filled[k][h]);
            }
        }
    }

    /// Count a closed active day whose strongest off-hours session scored
    /// `peak` before the peers' routine is joined in.
    fn tally(&mut self, peak: f32) {
        self.closed = self.closed.saturating_add(1);
        for (r, &level) in self.reached.iter_mut().zip(&LEVELS) {
            if peak >= level {
                *r = r.saturating_add(1);
            }
        }
    }

    /// Drop the count of closed days and how far off they went.
    #[cfg(test)]
    fn forget_how_far_off(&mut self) {
        self.closed = 0;
        self.reached = [0; LEVELS.len()];
    }

    fn add_day(&mut self, kind: usize, hours: &[u16; 24]) {
        self.days[kind] = self.days[kind].saturating_add(1);
        let filled = present_hours(hours);
        for (h, ((c, p), f)) in self.counts[kind]
            .iter_mut()
            .zip(self.present[kind].iter_mut())
            .zip(self.filled[kind].iter_mut())
            .enumerate()
        {
            let n = hours[h];
            *c = c.saturating_add(u64::from(n));
            if n > 0 {
                *p = p.saturating_add(1);
            }
            if filled & (1 << h) != 0 {
                *f = f.saturating_add(1);
            }
        }
    }

    fn total_days(&self) -> u64 {
        self.days[WEEKDAY].saturating_add(self.days[WEEKEND])
    }

    /// Share of days of `kind` this entity is active on.
    fn active_share(&self, kind: usize) -> f64 {
        let own = self.days[kind] as f64;
        let other = self.days[1 - kind] as f64;
        let ratio = if kind == WEEKEND {
            2.0 / 5.0
        } else {
            5.0 / 2.0
        };
        ((own + 0.5) / (other * ratio + 1.0)).min(1.0)
    }

    /// Kernel-weighted sum of `f(hour)` over the neighbourhood of `hour`.
    fn smooth(hour: usize, f: impl Fn(usize) -> f64) -> f64 {
        KERNEL[0] * f(hour)
            + KERNEL[1] * (f((hour + 23) % 24) + f((hour + 1) % 24))
            + KERNEL[2] * (f((hour + 22) % 24) + f((hour + 2) % 24))
    }

    /// Active days of `kind`, or of both kinds for `None`.
    fn days_of(&self, kind: Option<usize>) -> u64 {
        kind.map_or_else(|| self.total_days(), |k| self.days[k])
    }

    /// Events in `hour` on days of `kind`, or of both kinds for `None`.
    fn count(&self, kind: Option<usize>, hour: usize) -> f64 {
        match kind {
            Some(k) => self.counts[k][hour] as f64,
            None => self.counts[WEEKDAY][hour].saturating_add(self.counts[WEEKEND][hour]) as f64,
        }
    }

    /// Events on days of `kind`, or of both kinds for `None`.
    fn events_of(&self, kind: Option<usize>) -> u64 {
        (0..24)
            .map(|h| self.count(kind, h) as u64)
            .fold(0u64, u64::saturating_add)
    }

    /// Kernel-weighted events around `hour` on days of `kind` (`None`: both).
    fn smoothed(&self, kind: Option<usize>, hour: usize) -> f64 {
        Self::smooth(hour, |h| self.count(kind, h))
    }

    /// Smoothed share of the events of days of `kind` (`None`: both) that
    /// fall in `hour`, given their total (from [`Profile::events_of`]); 0
    /// with no such events.
    fn event_share(&self, kind: Option<usize>, hour: usize, total: u64) -> f64 {
        if total == 0 {
            return 0.0;
        }
        self.smoothed(kind, hour) / total as f64
    }

    /// Days of `kind` present at `hour`, between events included; a
    /// profile from before `filled` was kept has only its event hours.
    fn at_work(&self, kind: usize, hour: usize) -> u32 {
        self.filled[kind][hour].max(self.present[kind][hour])
    }

    /// Smoothed share of active days of `kind` present at `hour`.
    fn presence_share(&self, kind: usize, hour: usize) -> f64 {
        let days = self.days[kind];
        if days == 0 {
            return 0.0;
        }
        let raw = |h: usize| f64::from(self.at_work(kind, h)) / days as f64;
        Self::smooth(hour, raw).max(raw(hour)).min(1.0)
    }

    /// Mean events of a present hour around `hour`, both kinds of day
    /// pooled, with `m0` worth [`MEAN_PRIOR_HOURS`] present hours; `None`
    /// when nobody was present around it.
    fn pace_at(&self, hour: usize, m0: f64) -> Option<f64> {
        let (e0, p0) = self.when_present(WEEKDAY, hour);
        let (e1, p1) = self.when_present(WEEKEND, hour);
        (p0 + p1 > 0.0).then(|| (e0 + e1 + MEAN_PRIOR_HOURS * m0) / (p0 + p1 + MEAN_PRIOR_HOURS))
    }

    /// Kernel-weighted sums of (events, present hours) around `hour` on
    /// days of `kind`; their ratio is the mean count of a present hour there.
    fn when_present(&self, kind: usize, hour: usize) -> (f64, f64) {
        if self.days[kind] == 0 {
            return (0.0, 0.0);
        }
        let events = Self::smooth(hour, |h| self.counts[kind][h] as f64);
        let present = Self::smooth(hour, |h| f64::from(self.present[kind][h]));
        (events, present)
    }

    /// Mean events per hour with activity, over every hour and both kinds of
    /// day: the pace of the user's work wherever it falls; 0 with none.
    fn overall_pace(&self) -> f64 {
        let events = self.events_of(None) as f64;
        let hours: f64 = (0..24)
            .map(|h| f64::from(self.present[WEEKDAY][h]) + f64::from(self.present[WEEKEND][h]))
            .sum();
        if hours > 0.0 { events / hours } else { 0.0 }
    }

    /// Smoothed share of all active days (both kinds) with activity at `hour`.
    fn pooled_presence_share(&self, hour: usize) -> f64 {
        let days = self.total_days();
        if days == 0 {
            return 0.0;
        }
        let raw = |h: usize| {
            f64::from(
                self.at_work(WEEKDAY, h)
                    .saturating_add(self.at_work(WEEKEND, h)),
            ) / days as f64
        };
        Self::smooth(hour, raw).max(raw(hour)).min(1.0)
    }
}

/// The hours of a day (bit `h` for hour `h`) the user was present in:
/// those with events, and those between two of them at most
/// [`FILL_GAP_HOURS`] apart. A sparse log's logon at 08:40 and logoff at
/// 17:10 mean the user was there all day, so the hours between are not
/// hours they never work; a night worker's early-morning and late-evening
/// events of one local day are further apart and stay two stretches.
fn present_hours(hours: &[u16; 24]) -> u32 {
    let mut mask = 0u32;
    let mut last: Option<usize> = None;
    for (h, &n) in hours.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if let Some(l) = last
            && h - l <= FILL_GAP_HOURS
        {
            for k in l + 1..h {
                mask |= 1 << k;
            }
        }
        mask |= 1 << h;
        last = Some(h);
    }
    mask
}

/// The off hours of one local night (or day) the user is active in.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Session {
    /// Local hour numbers (local ms / 1 h) of the first and latest hours.
    start: i64,
    hour: i64,
    /// Local hours of the day with activity so far (bit `h` for hour `h`).
    mask: u32,
    /// Events so far, and in the latest hour.
    events: u32,
    hour_events: u32,
    /// Smallest share of days of their kind the user is active on, over
    /// the session's days.
    active: f64,
    /// Smallest presence share of the session's hours.
    presence: f64,
    reported: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    day: i64,
    pending: [u16; 24],
    /// Hours with activity on the day closed last, for late events.
    closed_hours: u32,
    /// Whether the pending day holds an event with `learn` false, so that
    /// it does not join the profile when it closes.
    held: bool,
    /// Whether the day closed last was held, so that its late events do
    /// not join the profile either.
    closed_held: bool,
    /// The strongest off-hours session of the pending day, its score
    /// before the peers' routine is joined in ([`Profile::reached`]);
    /// negative for a day of
    /// the learning period, which is not counted.
    peak: f32,
    profile: Profile,
    session: Option<Session>,
    /// The tail of the strongest off-hours session of each recent local
    /// day that reached `min_score`, oldest first, at most `repeat_days`;
    /// a day's entry goes when it closes without being held.
    nights: Vec<Night>,
    /// Days held out of learning, oldest first, at most [`HELD_DAYS_KEPT`]:
    /// they join the profiles when the user is learned again.
    held_days: Vec<HeldDay>,
}

/// A local day the host held out of learning, kept until the user's hold
/// ends ([`OffHours::close_day`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct HeldDay {
    day: i32,
    hours: [u16; 24],
}

/// A local day's strongest off-hours session, for [`combined_tail`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Night {
    /// The local day the session's finding fell on (a session across
    /// midnight leaves one for each of its days).
    day: i32,
    /// The session's own tail (not combined with other days).
    p: f32,
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            day: NO_DAY,
            pending: [0; 24],
            closed_hours: 0,
            held: false,
            closed_held: false,
            peak: NOT_SCORED,
            profile: Profile::default(),
            session: None,
            nights: Vec::new(),
            held_days: Vec::new(),
        }
    }
}

fn kind_of(day: i64) -> usize {
    // 1970-01-01 was a Thursday; weekday 5 and 6 are Saturday and Sunday.
    if (day + 3).rem_euclid(7) >= 5 {
        WEEKEND
    } else {
        WEEKDAY
    }
}

/// P(X ≥ k) for X ~ BetaBinomial(n, a, b): the chance of at least `k` of
/// `n` events when their share is Beta(a, b). The smaller side of the sum
/// is added up term by term, and the upper tail directly when the answer
/// is too small for `1 − lower` to hold it.
fn beta_binomial_sf(n: u64, k: u64, a: f64, b: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
        return 1.0;
    }
    let nf = n as f64;
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let pmf = |x: u64| {
        let x = x as f64;
        (ln_gamma(nf + 1.0) - ln_gamma(x + 1.0) - ln_gamma(nf - x + 1.0)
            + ln_beta(x + a, nf - x + b)
            - ln_beta(a, b))
        .exp()
    };
    // pmf(x + 1) from pmf(x).
    let next = |x: u64, t: f64| {
        let x = x as f64;
        t * (nf - x) * (x + a) / ((x + 1.0) * (nf - x - 1.0 + b))
    };
    if k <= n - k {
        let (mut t, mut lower) = (pmf(0), 0.0);
        for x in 0..k {
            lower += t;
            t = next(x, t);
        }
        let p = 1.0 - lower;
        if p > 1e-9 {
            return p.clamp(0.0, 1.0);
        }
    }
    let (mut t, mut upper) = (pmf(k), 0.0);
    for x in k..=n {
        upper += t;
        if x < n {
            t = next(x, t);
        }
    }
    if upper.is_finite() {
        upper.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The chance that `days` independent daily tails, each uniform when the
/// user behaves as usual, give a product of those at or below `tau` no
/// larger than `w`: the truncated product method (Zaykin et al., 2002),
///
/// `P(W ≤ w) = Σ_{k=1}^{L} C(L, k) (1 − τ)^{L−k} · T_k`, where
/// `T_k = w · Σ_{s<k} (k ln τ − ln w)^s / s!` when `w ≤ τ^k`, else `τ^k`.
///
/// It counts every day of the window as a chance for a stray night, so a
/// single day's tail `p` alone comes out near `L · p`: only nights that
/// repeat make it smaller than each of them.
fn combined_tail(w: f64, days: u32, tau: f64) -> f64 {
    if w.is_nan() || days == 0 {
        return 1.0;
    }
    if w <= 0.0 {
        return 0.0;
    }
    let (ln_w, ln_tau) = (w.ln(), tau.ln());
    let l = f64::from(days);
    let mut total = 0.0;
    // C(L, k), built up term by term.
    let mut choose = 1.0;
    for k in 1..=days {
        let kf = f64::from(k);
        choose *= (l - kf + 1.0) / kf;
        let below = if kf * ln_tau <= ln_w {
            (kf * ln_tau).exp()
        } else {
            let x = kf * ln_tau - ln_w;
            let (mut term, mut sum) = (1.0, 1.0);
            for s in 1..k {
                term *= x / f64::from(s);
                sum += term;
            }
            w * sum
        };
        total += choose * (1.0 - tau).powi((days - k) as i32) * below;
    }
    total.clamp(0.0, 1.0)
}

/// How far the lower 95% bound of a share `mean` resting on `n` days
/// (the normal approximation, `mean − 1.645·√(mean(1 − mean)/(n + 1))`)
/// lies above `base`, within 0 to 1: what a group's share counts for only
/// beyond what chance in few days and the rest of the organisation (or
/// the group's usual) explain.
fn excess_at_lower_bound(mean: f64, n: f64, base: f64) -> f64 {
    let low = mean - 1.645 * (mean * (1.0 - mean) / (n + 1.0)).sqrt();
    let excess = low - base;
    if excess.is_finite() {
        excess.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Keep `p` as the tail of local day `day`'s strongest session (the
/// smaller of it and what the day had), and only the days within `window`
/// of it.
fn remember_night(nights: &mut Vec<Night>, day: i32, p: f64, window: u32) {
    let p = p as f32;
    match nights.iter_mut().find(|n| n.day == day) {
        Some(n) => n.p = n.p.min(p),
        None => nights.push(Night { day, p }),
    }
    nights.retain(|n| n.day <= day && i64::from(day) - i64::from(n.day) < i64::from(window));
}

/// What the model expects of a session's hours for one user.
struct Expectation {
    /// Presence share of the latest hour (the share of the user's days of
    /// its kind with activity in it), which decided that it is off.
    share: f64,
    /// Posterior share of the user's events that fall in the session's
    /// hours on a usual active day.
    theta: f64,
    /// Days the posterior share rests on: the user's active days plus
    /// `prior_days`.
    support: f64,
    /// Events on a usual active day (own, shrunk towards the pool's).
    rate: f64,
    /// The day's events the session is drawn from.
    trials: u64,
    /// Share of days of this kind the user is active at all.
    active: f64,
    /// Smallest presence share of the session's hours.
    presence: f64,
    /// Expected events beyond one per present hour of the session, at the
    /// user's pace when present in those hours (their peers' at hours the
    /// user has never worked around).
    extra: f64,
    /// The session's hours whose pace is the peer group's: hours the user
    /// has never worked around and the group works. Named in the finding,
    /// so an analyst sees whose habits judged the session.
    peer_paced: u32,
}

impl OffHours {
    fn learning(&mut self, time_ms: i64) -> bool {
        let first = *self.first_ms.get_or_insert(time_ms);
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    /// Close the user's pending day. A held day is kept aside; a day that
    /// is not joins the user's profile and those of their peer group and
    /// the organisation, and the kept held days join them first: the host
    /// learns the user again, so the episode that held them has ended
    /// without a verdict that it was malicious.
    fn close_day(user: &mut User, mut group: Option<&mut Profile>, org: &mut Profile) {
        user.closed_hours = 0;
        user.closed_held = std::mem::take(&mut user.held);
        let peak = std::mem::replace(&mut user.peak, NOT_SCORED);
        let day = i32::try_from(user.day).unwrap_or(i32::MIN);
        let active = user.day != NO_DAY && user.pending.iter().any(|&n| n > 0);
        if active && peak >= 0.0 {
            user.profile.tally(peak);
            org.tally(peak);
            if let Some(g) = group.as_deref_mut() {
                g.tally(peak);
            }
        }
        if user.closed_held {
            if active {
                if user.held_days.len() >= HELD_DAYS_KEPT {
                    user.held_days.remove(0);
                }
                user.held_days.push(HeldDay {
                    day,
                    hours: user.pending,
                });
            }
            user.pending = [0; 24];
            return;
        }
        // Days learned as normal are no longer evidence for later ones.
        let folded = std::mem::take(&mut user.held_days);
        user.nights
            .retain(|n| n.day != day && folded.iter().all(|h| h.day != n.day));
        let mut learn = |hours: &[u16; 24], kind: usize| {
            user.profile.add_day(kind, hours);
            org.add_day(kind, hours);
            if let Some(g) = group.as_deref_mut() {
                g.add_day(kind, hours);
            }
        };
        for h in &folded {
            learn(&h.hours, kind_of(i64::from(h.day)));
        }
        if active {
            learn(&user.pending, kind_of(user.day));
            for (h, &n) in user.pending.iter().enumerate() {
                if n > 0 {
                    user.closed_hours |= 1 << h;
                }
            }
        }
        user.pending = [0; 24];
    }

    /// The profile a user is shrunk towards: their peer group's once it has
    /// enough days, else the organisation's.
    fn prior(&self, user: &User) -> &Profile {
        user.group
            .and_then(|g| self.groups.get(g))
            .filter(|p| p.total_days() >= POOL_MIN_DAYS)
            .unwrap_or(&self.org)
    }

    /// How much `d` own days weigh against `prior_days`.
    fn weight(&self, d: f64) -> f64 {
        let w = d / (d + self.config.prior_days);
        if w.is_finite() { w } else { 1.0 }
    }

    /// How much more often than the rest of the organisation's days the
    /// days of the user's peers hold an off-hours session scoring `raw` or
    /// more before this correction: a chance the session's own tail is
    /// joined with.
    ///
    /// The profiles are a model of each user's clock, and a group whose
    /// members' days routinely fall far outside their own profiles
    /// (rotating shifts, on-call rounds, follow-the-sun support) is one
    /// where that model says less than its tails claim: there, a day as far
    /// off as this one is something a member does every so often, and it
    /// is only as surprising as that. Measured at the highest of [`LEVELS`]
    /// the session reaches: `r_g` the share of the peers' closed days
    /// reaching it, shrunk towards the share `r_o` of the days of everyone
    /// outside the group (worth [`ROUTINE_PRIOR_DAYS`] member-days) and
    /// taken at its lower 95% bound, so a few days of one member do not
    /// make it routine; the routine chance is `r_g − r_o` when positive.
    /// An organisation whose every group does it is the alert budget's to
    /// weigh; a group like the rest gets nothing. The peers' share leaves
    /// the user's own days out, so no one's own nights make their nights
    /// routine.
    fn routine(&self, user: &User, raw: f32) -> f64 {
        let Some(level) = LEVELS.iter().rposition(|&l| raw >= l) else {
            return 0.0;
        };
        let Some(group) = user.group.and_then(|g| self.groups.get(g)) else {
            return 0.0;
        };
        let own = &user.profile;
        let without = |p: &Profile, q: &Profile| {
            (
                p.reached[level].saturating_sub(q.reached[level]) as f64,
                p.closed.saturating_sub(q.closed) as f64,
            )
        };
        let (k_rest, n_rest) = without(&self.org, group);
        let rest = (k_rest + 0.5) / (n_rest + 1.0);
        let (k, n) = without(group, own);
        let support = n + ROUTINE_PRIOR_DAYS;
        let mean = (k + ROUTINE_PRIOR_DAYS * rest) / support;
        excess_at_lower_bound(mean, support, rest)
    }

    /// How far beyond their usual the user's peers are at work in the
    /// session's hours (`mask`, bit `h` for local hour `h`) of the user's
    /// local day `day` ("The team's day"): `None` without a peer group
    /// whose profile stands for its members. Per hour, the members with
    /// events in it today and the share of the group's days with events
    /// in it; the busiest hour of the session stands for it.
    fn team_day(&self, user: &User, day: i64, mask: u32, kind: usize) -> Option<TeamReading> {
        let g = user.group?;
        let profile = self
            .groups
            .get(g)
            .filter(|p| p.total_days() >= POOL_MIN_DAYS)?;
        let days = profile.days[kind];
        let (mut active, mut present, mut usual) = (0, 0, 0.0f64);
        for h in (0..24).filter(|h| mask & (1 << h) != 0) {
            let (a, p) = self.teams.at(g, day, h);
            active = active.max(a);
            present = present.max(p);
            if days > 0 {
                usual = usual.max(f64::from(profile.present[kind][h]) / days as f64);
            }
        }
        // The user is among the members counted, in the session's hours too.
        let (active, present) = (active.saturating_sub(1), present.saturating_sub(1));
        let (k, n) = (f64::from(present), f64::from(active));
        Some(TeamReading {
            active,
            present,
            usual,
            excess: excess_at_lower_bound((k + 0.5) / (n + 1.0), n, usual),
        })
    }

    /// Presence share of (user, kind, hour): whether the hour is off for
    /// the user at all. Most events fall in working hours and need nothing
    /// more, so the session's evidence is left to [`Self::expect`].
    fn share(&self, user: &User, kind: usize, hour: usize) -> f64 {
        let prior = self.prior(user);
        let own = &user.profile;
        let w = self.weight(own.days[kind] as f64);
        let wt = self.weight(own.total_days() as f64);
        let base =
            wt * own.pooled_presence_share(hour) + (1.0 - wt) * prior.presence_share(kind, hour);
        let s = w * own.presence_share(kind, hour) + (1.0 - w) * base;
        let share = self.active(user, kind) * s;
        if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// Share of days of `kind` the user is active at all, shrunk towards
    /// the prior's.
    fn active(&self, user: &User, kind: usize) -> f64 {
        let own = &user.profile;
        let wt = self.weight(own.total_days() as f64);
        wt * own.active_share(kind) + (1.0 - wt) * self.prior(user).active_share(kind)
    }

    /// The posterior share of the user's events in the hours of `mask`
    /// (bit `h` for local hour `h`), and the day it is drawn from.
    ///
    /// The user's own share of events in each hour (neighbour-smoothed, both
    /// kinds of day pooled) over `d` active days is shrunk towards the
    /// prior profile's, worth `prior_days` days. The prior's share carries
    /// half a pool-day of Jeffreys pseudo-count per hour, so an hour nobody
    /// works is rare in proportion to how many days say so, never
    /// impossible. Shares, not counts, are shrunk: the prior expects of a
    /// user with 300 events a day 150 times the stray night events it
    /// expects of one with two.
    fn expect(&self, user: &User, mask: u32, share: f64, kind: usize) -> Expectation {
        let own = &user.profile;
        let prior = self.prior(user);
        let w = self.config.prior_days;
        let other = 1 - kind;
        let (d, dk, dother) = (
            own.total_days() as f64,
            own.days[kind] as f64,
            own.days[other] as f64,
        );
        // The user's days of this kind, shrunk towards their days of the
        // other kind, shrunk in turn towards the prior: each layer of data
        // counts once.
        let (wk, wo) = (self.weight(dk), self.weight(dother));
        // The prior's days of this kind, or all its days when it has none.
        let prior_kind = (prior.days[kind] > 0).then_some(kind);
        let prior_days = prior.days_of(prior_kind) as f64;
        let prior_total = prior.events_of(prior_kind) as f64;
        let prior_rate = if prior_days > 0.0 && prior_total > 0.0 {
            prior_total / prior_days
        } else {
            1.0
        };
        let totals = [own.events_of(Some(WEEKDAY)), own.events_of(Some(WEEKEND))];
        let own_rate = |k: usize| {
            let days = own.days[k] as f64;
            if days > 0.0 {
                totals[k] as f64 / days
            } else {
                0.0
            }
        };
        let base_rate = wo * own_rate(other) + (1.0 - wo) * prior_rate;
        let rate = wk * own_rate(kind) + (1.0 - wk) * base_rate;
        let mut theta = 0.0;
        for h in (0..24).filter(|h| mask & (1 << h) != 0) {
            let prior_share = if prior_total > 0.0 {
                (prior.smoothed(prior_kind, h) / prior_rate + 0.5) / (prior_days + 12.0)
            } else {
                1.0 / 24.0
            };
            let base =
                wo * own.event_share(Some(other), h, totals[other]) + (1.0 - wo) * prior_share;
            theta += wk * own.event_share(Some(kind), h, totals[kind]) + (1.0 - wk) * base;
        }
        // The pace of a present hour is the user's own once they have
        // enough days; before that their peers'.
        let m0 = self.config.unused_hour_mean.max(1.0);
        let pace = if own.total_days() >= u64::from(self.config.learning_days) {
            own
        } else {
            prior
        };
        // How busy a present hour is depends on the work more than on the
        // clock: someone whose file work comes in bursts of twenty at any
        // hour is not idle at 18:00 because their few 18:00s were quiet. At
        // hours they have never been at work around, nothing says they
        // would work there at their pace; but at an hour their peers work
        // (not off for the group), the peers' pace there says how busy
        // such an hour is.
        let overall = pace.overall_pace();
        let mut extra = 0.0;
        let mut peer_paced = 0;
        for h in (0..24).filter(|h| mask & (1 << h) != 0) {
            let mean = match pace.pace_at(h, m0) {
                Some(local) => local.max(overall),
                None if prior.presence_share(kind, h) >= self.config.off_share => {
                    peer_paced += 1;
                    prior.pace_at(h, m0).unwrap_or(m0)
                }
                None => m0,
            };
            extra += if mean.is_finite() { mean.max(1.0) } else { m0 } - 1.0;
        }
        let today: u64 = user.pending.iter().map(|&n| u64::from(n)).sum();
        let usual = if rate.is_finite() {
            rate.round().clamp(1.0, MAX_TRIALS as f64) as u64
        } else {
            1
        };
        Expectation {
            share,
            theta: if theta.is_finite() {
                theta.clamp(0.0, MAX_THETA)
            } else {
                MAX_THETA
            },
            support: d + w,
            rate: if rate.is_finite() { rate } else { 1.0 },
            trials: usual.max(today).min(MAX_TRIALS),
            active: self.active(user, kind).clamp(0.0, 1.0),
            presence: share,
            extra,
            peer_paced,
        }
    }

    /// The chance of the session under the user's habits, a mixture of
    /// their two kinds of day:
    ///
    /// * a usual day: `active · P(X ≥ events)`,
    ///   `X ~ BetaBinomial(trials, θ·ν, (1−θ)·ν)`, the chance that a usual
    ///   active day puts this many of its events in the session's hours,
    ///   when the share of a day's events there varies from day to day as a
    ///   Beta with mean `θ` resting on `ν` days;
    /// * a day they are present in these hours (as often as the smallest
    ///   presence share of the session's hours says): the chance of this
    ///   many events over its present hours at their pace there, an
    ///   overdispersed count `hours + NegativeBinomial(size hours ·
    ///   dispersion, mean extra)`.
    ///
    /// A user who sometimes works whole nights is judged by their nights; a
    /// day worker, who has none, by the share of a usual day.
    ///
    /// Only whether `p` reaches `p_need` matters unless it does, so the
    /// second part is left out when the first alone is above it.
    fn session_p(&self, x: &Expectation, events: u32, hours: u32, p_need: f64) -> f64 {
        let nu = x.support;
        let usual = if nu.is_nan() || nu <= 0.0 {
            1.0
        } else {
            let a = (x.theta * nu).max(1e-12);
            let b = ((1.0 - x.theta) * nu).max(1e-12);
            let n = x.trials.max(u64::from(events));
            x.active * beta_binomial_sf(n, u64::from(events), a, b)
        };
        if usual > p_need {
            return usual.clamp(0.0, 1.0);
        }
        let present = if events <= hours {
            1.0
        } else {
            let r = self.config.dispersion * f64::from(hours.max(1));
            let mu = x.extra.max(1e-6);
            NegativeBinomial::new(r, r / (r + mu))
                .ok()
                .map(|d| d.sf(u64::from(events - hours - 1)))
                .filter(|p| p.is_finite())
                .unwrap_or(1.0)
        };
        (usual + x.presence * present).clamp(0.0, 1.0)
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms);
        let user = self.users.get_or_insert_with(e.user, User::default);
        if e.peer_group.is_some() {
            user.group = e.peer_group;
        }
        let day = e.local_day();
        let hour = usize::from(e.local_hour()).min(23);
        if user.day != NO_DAY && day < user.day && user.day - day <= 1 {
            // Late from the previous day: it joins the profile unscored,
            // unless it or that day is held out of learning.
            if !e.learn || user.closed_held {
                return;
            }
            let kind = kind_of(day);
            let c = &mut user.profile.counts[kind][hour];
            *c = c.saturating_add(1);
            if user.closed_hours & (1 << hour) == 0 {
                user.closed_hours |= 1 << hour;
                let p = &mut user.profile.present[kind][hour];
                *p = p.saturating_add(1);
            }
            return;
        }
        if user.day != day {
            let group = user
                .group
                .map(|g| self.groups.get_or_insert_with(g, Profile::default));
            Self::close_day(user, group, &mut self.org);
            user.day = day;
        }
        if !e.learn {
            user.held = true;
        }
        if let Some(g) = user.group
            && user.pending[hour] == 0
        {
            let first_today = user.pending.iter().all(|&n| n == 0);
            self.teams.mark(g, day, hour, first_today);
        }
        user.pending[hour] = user.pending[hour].saturating_add(1);
        if !learning {
            user.peak = user.peak.max(0.0);
        }
        if learning {
            user.session = None;
            return;
        }
        let abs_hour = e.local_ms().div_euclid(HOUR_MS);
        let kind = kind_of(day);
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let share = self.share(user, kind, hour);
        if share >= self.config.off_share {
            // A working hour for this user: it ends any off-hours session.
            if let Some(u) = self.users.get_mut(e.user) {
                u.session = None;
            }
            return;
        }
        // A session waits for the user's next event about as long as their
        // usual day spaces events out (24 h over their events a day, at
        // least 2 h), and never longer than `session_gap_hours`: a clerk's
        // logon at 00:06 and logoff at 05:00 are one session, a busy user's
        // evening query and their 02:00 session are two.
        let days = user.profile.total_days();
        let spacing = if days > 0 {
            24.0 * days as f64 / user.profile.events_of(None).max(1) as f64
        } else {
            f64::INFINITY
        };
        let gap = i64::from(self.config.session_gap_hours).min(spacing.ceil().max(2.0) as i64);
        let mut session = user.session.clone();
        let s = match session.as_mut() {
            Some(s) if abs_hour == s.hour => {
                s.hour_events = s.hour_events.saturating_add(1);
                s
            }
            Some(s) if abs_hour < s.hour => return,
            Some(s) if abs_hour - s.hour <= gap => {
                s.hour = abs_hour;
                s.hour_events = 1;
                s
            }
            _ => session.insert(Session {
                start: abs_hour,
                hour: abs_hour,
                hour_events: 1,
                ..Session::default()
            }),
        };
        s.events = s.events.saturating_add(1);
        s.mask |= 1 << hour;
        let x = self.expect(user, s.mask, share, kind);
        // The session's rarest kind of day counts: a night running into a
        // Saturday is as rare as the Saturday.
        let first = s.events == 1;
        let x = Expectation {
            active: if first {
                x.active
            } else {
                x.active.min(s.active)
            },
            presence: if first {
                x.presence
            } else {
                x.presence.min(s.presence)
            },
            ..x
        };
        s.active = x.active;
        s.presence = x.presence;
        let need = if s.reported == 0 {
            self.config.min_score
        } else {
            self.config
                .min_score
                .max(f32::from(s.reported) + RESCORE_STEP)
        };
        // Earlier days' off-hours findings within `repeat_days`: a second
        // night in a week is far rarer than one ([`combined_tail`]).
        let tau = p_from_score(self.config.min_score);
        let night = i32::try_from(s.start.div_euclid(24)).unwrap_or(i32::MAX);
        let window = self.config.repeat_days;
        let earlier: Vec<f64> = user
            .nights
            .iter()
            .filter(|n| n.day < night && i64::from(night) - i64::from(n.day) < i64::from(window))
            .map(|n| f64::from(n.p))
            .collect();
        // With earlier nights the session's own tail is needed in full, not
        // only whether it reaches `need`; a tail kept for later nights is
        // needed exactly whenever it is at most `tau`.
        let p_need = if !earlier.is_empty() {
            1.0
        } else if window > 0 {
            tau
        } else {
            p_from_score(need)
        };
        // The tail is joined with how often the user's peers' days go as
        // far off their own profiles ([`Self::routine`]); the raw tail is
        // what counts the day among those that did, so it is needed
        // exactly down to `tau`. Joining only raises a tail, so one above
        // `p_need` stays above it.
        let raw_p = self.session_p(&x, s.events, s.mask.count_ones(), p_need.max(tau));
        let raw = score_from_p(raw_p);
        let routine = self.routine(user, raw);
        let own_p = raw_p + routine * (1.0 - raw_p);
        let team = self.team_day(user, day, s.mask, kind);
        let own_p = team.map_or(own_p, |t| own_p + t.excess * (1.0 - own_p));
        let combined = (!earlier.is_empty() && own_p <= tau)
            .then(|| combined_tail(own_p * earlier.iter().product::<f64>(), window, tau))
            .filter(|&c| c < own_p);
        let p = combined.unwrap_or(own_p);
        let score = score_from_p(p);
        let fresh = s.reported == 0 || score >= f32::from(s.reported) + RESCORE_STEP;
        let report = score >= self.config.min_score && fresh;
        if report {
            s.reported = score.floor().clamp(1.0, 100.0) as u8;
        }
        let (hours, events, hour_events) = (s.mask.count_ones(), s.events, s.hour_events);
        let (start, span) = (s.start.rem_euclid(24), abs_hour - s.start + 1);
        let own_days = user.profile.total_days();
        if let Some(u) = self.users.get_mut(e.user) {
            u.session = session;
            u.peak = u.peak.max(raw);
            if own_p <= tau && window > 0 {
                let today = i32::try_from(day).unwrap_or(i32::MAX);
                remember_night(&mut u.nights, today, own_p, window);
            }
        }
        if !report {
            return;
        }
        let when = if kind == WEEKEND {
            "a weekend day"
        } else {
            "a weekday"
        };
        let noun = if events == 1 { "event" } else { "events" };
        let what = if span > 1 {
            format!(
                "{events} {noun} in {hours} off hours since {start:02}:00, {hour_events} at {hour:02}:00 local"
            )
        } else {
            format!("{events} {noun} at {hour:02}:00 local")
        };
        let expected = x.theta * x.trials as f64;
        let repeat = match combined {
            Some(_) => {
                let days = earlier.len();
                let strongest = earlier.iter().copied().fold(1.0, f64::min);
                format!(
                    "; off hours also on {days} other day{} of the last {window} (strongest {:.0}), which this night joins at {:.0} on its own",
                    if days == 1 { "" } else { "s" },
                    score_from_p(strongest),
                    score_from_p(own_p),
                )
            }
            None => String::new(),
        };
        let calibrated = if routine > 0.0 {
            format!(
                "; {:.1}% more of the peers' days than of the rest of the organisation's go this far off their own hours, which weighs in against the session's {:.0} alone",
                100.0 * routine,
                raw,
            )
        } else {
            String::new()
        };
        let team_note = match team {
            Some(t) if t.excess > 0.0 => format!(
                "; {} of the {} peers at work today are at work in these hours too, where on a usual day {:.1}% of them are, which weighs in",
                t.present,
                t.active,
                100.0 * t.usual,
            ),
            _ => String::new(),
        };
        let paced = match x.peer_paced {
            0 => String::new(),
            1 => "; an hour the user never worked is judged at the pace their peers work it".into(),
            n => format!(
                "; {n} hours the user never worked are judged at the pace their peers work them"
            ),
        };
        let finding = Finding::new(
                e.seq,
                score,
                format!(
                    "{what} on {when} (latest on {}); a usual day of ~{:.0} events puts ~{expected:.3} in these hours ({own_days} active days seen), active at this hour on {:.1}% of such days{paced}{repeat}{calibrated}{team_note}",
                    symbols.resource(e.resource),
                    x.rate,
                    100.0 * x.share,
                ),
            )
            .with("resource", symbols.resource(e.resource))
            .with("local_hour", u32::from(e.local_hour()))
            .with("weekend", i64::from(kind == WEEKEND))
            .with("events_this_hour", hour_events)
            .with("session_events", events)
            .with("session_hours", hours)
            .with("session_span_hours", span)
            .with("session_share", x.theta)
            .with("expected_session_events", expected)
            .with("user_events_per_day", x.rate)
            .with("presence_share", x.share)
            .with("session_presence_share", x.presence)
            .with("expected_extra_when_present", x.extra)
            .with("active_share", x.active)
            .with("user_active_days", own_days)
            .with("session_p", own_p)
            .with("raw_score", f64::from(raw))
            .with("peer_routine", routine)
            .with("other_off_days", if combined.is_some() { earlier.len() } else { 0 })
            .with("p", p);
        let finding = match team {
            Some(t) if t.excess > 0.0 => finding
                .with("peers_active_today", t.active)
                .with("peers_present_at_hour", t.present)
                .with("peers_usual_share_at_hour", t.usual)
                .with("team_day", t.excess),
            _ => finding,
        };
        out.push(if x.peer_paced > 0 {
            finding.with("peer_paced_hours", x.peer_paced)
        } else {
            finding
        });
    }
}

impl Detector for OffHours {
    fn info() -> Info {
        Info {
            name: "off-hours",
            version: env!("CARGO_PKG_VERSION"),
            description: "activity at hours of the week (local time) a user, or their peer group, rarely works",
            config: vec![
                ConfigKey {
                    name: "learning_days",
                    default: "7",
                    description: "days of event time, from the first event seen, with no findings; also the active days a user needs before their own profile is used instead of their peer group's",
                },
                ConfigKey {
                    name: "min_score",
                    default: "20.0",
                    description: "findings scoring below this (0-100) are dropped as noise",
                },
                ConfigKey {
                    name: "prior_days",
                    default: "5.0",
                    description: "how many of a user's own active days the peer-group profile is worth, in the presence shares that decide which hours are off and in the share of a day's events expected in them",
                },
                ConfigKey {
                    name: "off_share",
                    default: "0.2",
                    description: "an hour is off (and scored) when the user is active in it on less than this share of days of its kind (weekday or weekend)",
                },
                ConfigKey {
                    name: "session_gap_hours",
                    default: "6",
                    description: "most hours between two off-hours events of one session (below that the user's own spacing, 24 h over their events a day, at least 2 h, decides); a session also ends at any event in a working hour",
                },
                ConfigKey {
                    name: "dispersion",
                    default: "1.0",
                    description: "negative binomial size of the event count in a present hour, for users who are sometimes present in the session's hours; smaller is more tolerant of bursts",
                },
                ConfigKey {
                    name: "unused_hour_mean",
                    default: "1.6",
                    description: "mean events in an hour the user has never worked near, when they are active in it at all; larger is more tolerant of night sessions",
                },
                ConfigKey {
                    name: "repeat_days",
                    default: "7",
                    description: "days over which off-hours findings on days held out of learning combine (truncated product of the days' tails at min_score): a second or third held night within them scores more than each alone, while a night learned as normal adds nothing; 0 scores each session alone; at most 28",
                },
            ],
        }
    }

    fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "learning_days" => self.config.learning_days = config::parse(key, value)?,
            "min_score" => {
                self.config.min_score = config::parse_in_range(key, value, 0.0, 100.0)? as f32
            }
            "prior_days" => {
                self.config.prior_days = config::parse_in_range(key, value, 0.0, 1000.0)?
            }
            "off_share" => self.config.off_share = config::parse_in_range(key, value, 0.0, 1.0)?,
            "session_gap_hours" => {
                self.config.session_gap_hours = config::parse_at_most(key, value, 168, "a week")?
            }
            "dispersion" => {
                self.config.dispersion = config::parse_in_range(key, value, 0.01, 1000.0)?
            }
            "unused_hour_mean" => {
                self.config.unused_hour_mean = config::parse_in_range(key, value, 1.0, 1000.0)?
            }
            "repeat_days" => {
                self.config.repeat_days = config::parse_at_most(key, value, 28, "four weeks")?
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }

    /// 0.1.0 snapshots carry over (`upgrade`'s module docs).
    fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Self)> {
        upgrade::upgrade(version, state)
    }

    /// The pooled profiles of this instance's own users' days: the
    /// organisation's and each peer group's, less what was absorbed.
    fn population(&self) -> Vec<u8> {
        let own = |live: &Profile, absorbed: Option<&Profile>| {
            let mut p = live.clone();
            if let Some(a) = absorbed {
                p.sub(a);
            }
            p
        };
        let share = Share {
            org: own(&self.org, Some(&self.absorbed.org)),
            groups: self
                .groups
                .iter()
                .filter_map(|(g, p)| {
                    let p = own(p, self.absorbed.groups.get(&g));
                    (p != Profile::default()).then_some((g, p))
                })
                .collect(),
            teams: self.teams.own.iter().map(|(g, t)| (*g, *t)).collect(),
        };
        population::encode(&share)
    }

    /// Replace the other instances' part of the pooled profiles by the sum
    /// of `others`.
    fn absorb(&mut self, others: &[&[u8]]) -> Result<(), String> {
        let mut sum = Absorbed::default();
        let mut teams: BTreeMap<u32, TeamDays> = BTreeMap::new();
        let shares: Vec<Share> = others
            .iter()
            .map(|bytes| population::decode_or::<Share, ShareV04>(bytes))
            .collect::<Result<_, _>>()?;
        for share in shares {
            sum.org.add(&share.org);
            for (g, p) in &share.groups {
                sum.groups.entry(*g).or_default().add(p);
            }
            for (g, t) in &share.teams {
                teams.entry(*g).or_default().add(t);
            }
        }
        self.teams.others = teams;
        let old = std::mem::take(&mut self.absorbed);
        self.org.sub(&old.org);
        self.org.add(&sum.org);
        for (&g, p) in &old.groups {
            if let Some(live) = self.groups.get_mut(g) {
                live.sub(p);
            }
        }
        for (&g, p) in &sum.groups {
            self.groups.get_or_insert_with(g, Profile::default).add(p);
        }
        self.absorbed = sum;
        Ok(())
    }
}

ueba_sdk::export_detector!(OffHours);

#[cfg(test)]
mod tests;
