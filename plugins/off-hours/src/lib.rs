//! `off-hours`: flags activity at hours of the week a user does not work.
//!
//! The motivating insider read a customer database at night. Night work is
//! not suspicious in itself (DBAs run maintenance, some teams work nights),
//! so the question is always "is this hour unusual *for this person*?".
//!
//! # Model
//!
//! Each user has a time-of-week profile in their own local time: for each of
//! the 24 hours × {weekday, weekend}, the mean number of events in that hour
//! per active day of that kind (a Poisson rate `r`), plus the share `a` of
//! days of that kind the user is active at all, taking weekdays as 5/7 and
//! weekends as 2/7 of the calendar: `a = min(1, (days_k + ½) / (expected_k + 1))`
//! where `expected_k` is how many days of kind `k` the user would have been
//! active had they worked it as often as the other kind. A weekday-only
//! worker therefore has a small weekend share, and a weekend shift worker a
//! small weekday share, without ever counting inactive days as zero-event
//! observations.
//!
//! The count of events so far in the current (user, local day, local hour)
//! bucket is scored with a zero-inflated Poisson tail:
//! `p = a · P(Poisson(λ) ≥ k)`, where `λ` is the hour's rate after
//!
//! * smoothing over neighbouring hours (circular, weights 0.05/0.2/0.5/0.2/0.05)
//!   — never below the hour's own rate — so overtime an hour or two past a
//!   shift is only mildly surprising, while the middle of the night stays
//!   rare;
//! * shrinkage towards the peer group's profile (all members' days pooled;
//!   the organisation's when the user has no group or the group is new),
//!   with the prior worth `prior_days` active days of that kind; while the
//!   user has fewer than `learning_days` active days the prior is used
//!   alone;
//! * a floor, `floor_rate`, so a never-seen hour is rare but not impossible
//!   (one event there scores about `score_from_p(floor_rate)`).
//!
//! # Findings
//!
//! None during the global learning period (`learning_days` of event time
//! from the first event seen), nor below `min_score`. A bucket reports again
//! only when its score rises by [`RESCORE_STEP`], and never below the
//! highest score already reported for the user that day.
//!
//! # Time
//!
//! A user's events of one local day are counted in a pending day that joins
//! the profile when the next day starts, so a session never raises its own
//! baseline. Events of an earlier hour of the current day (late by a few
//! minutes) are counted in their own hour. Events of the previous day join
//! the profile unscored; events further in the past start a new day, so a
//! far-future timestamp cannot freeze a user.
//!
//! # Memory
//!
//! About 320 bytes per user (profile 2 × 24 counts, the pending day, per-hour
//! report marks) and 400 bytes per peer group and once for the
//! organisation. Ids at or above 2²⁰ are kept in a B-tree, so a huge id
//! never allocates a huge vector.
#![deny(missing_docs)]

mod table;

use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, Poisson};
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, Info, Symbols, config, score_from_p,
};

use table::Table;

/// A bucket reports again only when its score rises by this much.
pub const RESCORE_STEP: f32 = 10.0;
/// Smoothing weights for distance 0, 1 and 2 hours (they sum to 1).
const KERNEL: [f64; 3] = [0.5, 0.2, 0.05];
/// Active days of a pooled profile needed before it is used as a prior.
const POOL_MIN_DAYS: u64 = 5;
const NO_DAY: i64 = i64::MIN;
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
    /// The smallest hourly rate (events per active day).
    pub floor_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            prior_days: 5.0,
            floor_rate: 0.005,
        }
    }
}

/// The off-hours detector: per-user time-of-week Poisson profiles with
/// neighbour smoothing and peer-group shrinkage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OffHours {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    groups: Table<Profile>,
    org: Profile,
}

/// Event counts per hour and active days, per kind of day
/// (index 0 weekday, 1 weekend). For a user, days are the user's active
/// days; for a pool, member-days.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Profile {
    counts: [[u64; 24]; 2],
    days: [u64; 2],
}

impl Profile {
    fn add_day(&mut self, kind: usize, hours: &[u16; 24]) {
        self.days[kind] = self.days[kind].saturating_add(1);
        self.add_counts(kind, hours);
    }

    fn add_counts(&mut self, kind: usize, hours: &[u16; 24]) {
        for (c, &n) in self.counts[kind].iter_mut().zip(hours) {
            *c = c.saturating_add(u64::from(n));
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

    /// Smoothed events per active day of `kind` at `hour`.
    fn rate(&self, kind: usize, hour: usize) -> f64 {
        let days = self.days[kind];
        if days == 0 {
            return 0.0;
        }
        let raw = |h: usize| self.counts[kind][h % 24] as f64 / days as f64;
        let smooth = KERNEL[0] * raw(hour)
            + KERNEL[1] * (raw(hour + 23) + raw(hour + 1))
            + KERNEL[2] * (raw(hour + 22) + raw(hour + 2));
        smooth.max(raw(hour))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    day: i64,
    pending: [u16; 24],
    reported: [u8; 24],
    today_max_reported: u8,
    profile: Profile,
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            day: NO_DAY,
            pending: [0; 24],
            reported: [0; 24],
            today_max_reported: 0,
            profile: Profile::default(),
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

/// What the model expects of one (user, kind, hour).
struct Expectation {
    rate: f64,
    share: f64,
}

impl OffHours {
    fn learning(&mut self, time_ms: i64) -> bool {
        let first = *self.first_ms.get_or_insert(time_ms);
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    fn close_day(user: &mut User, group: Option<&mut Profile>, org: &mut Profile) {
        if user.day != NO_DAY && user.pending.iter().any(|&n| n > 0) {
            let kind = kind_of(user.day);
            user.profile.add_day(kind, &user.pending);
            org.add_day(kind, &user.pending);
            if let Some(g) = group {
                g.add_day(kind, &user.pending);
            }
        }
        user.pending = [0; 24];
        user.reported = [0; 24];
        user.today_max_reported = 0;
    }

    fn expect(&self, user: &User, kind: usize, hour: usize) -> Expectation {
        let prior = user
            .group
            .and_then(|g| self.groups.get(g))
            .filter(|p| p.total_days() >= POOL_MIN_DAYS)
            .unwrap_or(&self.org);
        let own = &user.profile;
        let trusted = own.total_days() >= u64::from(self.config.learning_days);
        let (rate, share) = if !trusted {
            (prior.rate(kind, hour), prior.active_share(kind))
        } else {
            let d = own.days[kind] as f64;
            let w = d / (d + self.config.prior_days);
            let w = if w.is_finite() { w } else { 1.0 };
            let dt = own.total_days() as f64;
            let wt = dt / (dt + self.config.prior_days);
            let wt = if wt.is_finite() { wt } else { 1.0 };
            (
                w * own.rate(kind, hour) + (1.0 - w) * prior.rate(kind, hour),
                wt * own.active_share(kind) + (1.0 - wt) * prior.active_share(kind),
            )
        };
        Expectation {
            rate: rate.max(self.config.floor_rate),
            share: share.clamp(0.0, 1.0),
        }
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
            // Late from the previous day: it joins the profile unscored.
            let mut one = [0u16; 24];
            one[hour] = 1;
            let kind = kind_of(day);
            user.profile.add_counts(kind, &one);
            return;
        }
        if user.day != day {
            let group = user
                .group
                .map(|g| self.groups.get_or_insert_with(g, Profile::default));
            Self::close_day(user, group, &mut self.org);
            user.day = day;
        }
        user.pending[hour] = user.pending[hour].saturating_add(1);
        if learning {
            return;
        }
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let kind = kind_of(day);
        let k = user.pending[hour];
        let x = self.expect(user, kind, hour);
        let tail = Poisson::new(x.rate)
            .ok()
            .map(|d| d.sf(u64::from(k).saturating_sub(1)))
            .filter(|p| p.is_finite())
            .unwrap_or(1.0);
        let p = (x.share * tail).clamp(0.0, 1.0);
        let score = score_from_p(p);
        let reported = user.reported[hour];
        let fresh = (reported == 0 || score >= f32::from(reported) + RESCORE_STEP)
            && score >= f32::from(user.today_max_reported);
        if score < self.config.min_score || !fresh {
            return;
        }
        let own_days = user.profile.total_days();
        let mark = score.floor().clamp(1.0, 100.0) as u8;
        let user = self.users.get_or_insert_with(e.user, User::default);
        user.reported[hour] = mark;
        user.today_max_reported = user.today_max_reported.max(mark);
        let when = if kind == WEEKEND {
            "a weekend day"
        } else {
            "a weekday"
        };
        out.push(
            Finding::new(
                e.seq,
                score,
                format!(
                    "{k} events at {hour:02}:00 local on {when} (latest on {}); usual is {:.3} an active day at this hour",
                    symbols.resource(e.resource),
                    x.rate
                ),
            )
            .with("resource", symbols.resource(e.resource))
            .with("local_hour", u32::from(e.local_hour()))
            .with("weekend", i64::from(kind == WEEKEND))
            .with("events_this_hour", u32::from(k))
            .with("expected_rate", x.rate)
            .with("active_day_share", x.share)
            .with("user_active_days", own_days)
            .with("p", p),
        );
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
                    description: "how many of a user's own active days the peer-group profile is worth",
                },
                ConfigKey {
                    name: "floor_rate",
                    default: "0.005",
                    description: "smallest expected events per active day in any hour; one event in a never-used hour scores about 10*-log10(floor_rate)",
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
            "floor_rate" => self.config.floor_rate = config::parse_in_range(key, value, 1e-9, 1.0)?,
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }
}

ueba_sdk::export_detector!(OffHours);

#[cfg(test)]
mod tests;
