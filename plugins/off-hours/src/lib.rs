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
//! kind had any activity in the hour (*presence*), and how many events those
//! hours held. Hourly counts of real people are bursty (3 queries one day,
//! 37 the next, in the same hour), so the detector does not judge counts in
//! hours the user works at all; it asks two questions.
//!
//! **Is the hour off for the user?** The presence share `q` of an hour is the
//! share of the user's days of that kind with activity in it:
//! `q = a · s`, where
//!
//! * `s` is the share of active days of that kind with activity in the hour,
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
//!   take over as they accumulate;
//! * `q` is floored at `floor_share`, so a never-seen hour is rare but not
//!   impossible: one event there scores about `score_from_p(floor_share)`.
//!
//! Only hours with `q < off_share` are scored at all; activity in any hour
//! the user (or, for a newcomer, their group) works at least that often is
//! never a finding, however busy.
//!
//! **How much happened?** Consecutive off hours with activity (a gap of at
//! most one empty hour, across midnight too) form a *session*, scored as
//! one, so a 2½-hour night session accumulates evidence across its hours:
//! `p = q_min · P(X ≥ K)`, where `q_min` is the presence share of the
//! session's rarest hour (being up at 01:00 and at 02:00 is one decision,
//! not two independent ones), `K` the session's events over its `n` active
//! hours, and `X − n ~ NegativeBinomial(size n·dispersion, mean Σ (m_h − 1))`
//! an overdispersed count model. `m_h` is the user's mean events per
//! present hour around hour `h` (kernel-weighted over the same neighbours,
//! weekdays and weekends pooled, with `unused_hour_mean` worth one present
//! hour; the peer group's until the user has `learning_days` active days). Next to a shift `m_h` is the user's usual hourly count, so
//! overtime at the normal pace stays mild; in the middle of the night it is
//! the small `unused_hour_mean`, so every further event there is strong
//! evidence. A single event at 03:00 from a 9–5 worker scores about 20, a
//! few events 30–40, a sustained night session (30 events over an hour or
//! two) far above 65; an hour or two of overtime after the shift stays
//! below 40.
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
//! # Memory
//!
//! About 650 bytes per user (profile 2 × 24 event counts and presence days,
//! the pending day, the current session) and 600 bytes per peer group and
//! once for the organisation. Ids at or above 2²⁰ are kept in a B-tree, so a
//! huge id never allocates a huge vector.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, NegativeBinomial};
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, HOUR_MS, Info, Symbols, config,
    score_from_p,
};

use ueba_sdk::table::Table;

/// A session reports again only when its score rises by this much.
pub const RESCORE_STEP: f32 = 10.0;
/// Smoothing weights for distance 0, 1 and 2 hours (they sum to 1).
const KERNEL: [f64; 3] = [0.5, 0.2, 0.05];
/// Active days of a pooled profile needed before it is used as a prior.
const POOL_MIN_DAYS: u64 = 5;
/// How many present hours `unused_hour_mean` is worth in the mean count.
const MEAN_PRIOR_HOURS: f64 = 1.0;
/// Most empty hours inside one session.
const SESSION_GAP_HOURS: i64 = 1;

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
    /// Hours with a presence share below this are off hours (scored).
    pub off_share: f64,
    /// The smallest presence share of any hour.
    pub floor_share: f64,
    /// Negative binomial size of the count in a present hour (smaller is
    /// more overdispersed, i.e. more lenient about bursts).
    pub dispersion: f64,
    /// Mean events in a present hour the user has never worked near.
    pub unused_hour_mean: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            prior_days: 5.0,
            off_share: 0.2,
            floor_share: 0.005,
            dispersion: 1.0,
            unused_hour_mean: 1.6,
        }
    }
}

/// The off-hours detector: per-user time-of-week presence profiles with
/// neighbour smoothing and peer-group shrinkage, scoring night sessions
/// with an overdispersed count model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OffHours {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    groups: Table<Profile>,
    org: Profile,
}

/// Per kind of day (index 0 weekday, 1 weekend): events per hour, days with
/// activity in each hour, and active days. For a user, days are the user's
/// active days; for a pool, member-days.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Profile {
    counts: [[u64; 24]; 2],
    present: [[u32; 24]; 2],
    days: [u64; 2],
}

impl Profile {
    fn add_day(&mut self, kind: usize, hours: &[u16; 24]) {
        self.days[kind] = self.days[kind].saturating_add(1);
        for ((c, p), &n) in self.counts[kind]
            .iter_mut()
            .zip(self.present[kind].iter_mut())
            .zip(hours)
        {
            *c = c.saturating_add(u64::from(n));
            if n > 0 {
                *p = p.saturating_add(1);
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

    /// Smoothed share of active days of `kind` with activity at `hour`.
    fn presence_share(&self, kind: usize, hour: usize) -> f64 {
        let days = self.days[kind];
        if days == 0 {
            return 0.0;
        }
        let raw = |h: usize| f64::from(self.present[kind][h]) / days as f64;
        Self::smooth(hour, raw).max(raw(hour)).min(1.0)
    }

    /// Smoothed share of all active days (both kinds) with activity at `hour`.
    fn pooled_presence_share(&self, hour: usize) -> f64 {
        let days = self.total_days();
        if days == 0 {
            return 0.0;
        }
        let raw = |h: usize| {
            f64::from(self.present[WEEKDAY][h].saturating_add(self.present[WEEKEND][h]))
                / days as f64
        };
        Self::smooth(hour, raw).max(raw(hour)).min(1.0)
    }

    /// Kernel-weighted sums of (events, present hours) around `hour`; their
    /// ratio is the mean count of a present hour there.
    fn when_present(&self, kind: usize, hour: usize) -> (f64, f64) {
        let days = self.days[kind];
        if days == 0 {
            return (0.0, 0.0);
        }
        let events = Self::smooth(hour, |h| self.counts[kind][h] as f64);
        let present = Self::smooth(hour, |h| f64::from(self.present[kind][h]));
        (events, present)
    }
}

/// The off hours of one local night (or day) the user is active in.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Session {
    /// Local hour number (local ms / 1 h) of the latest hour.
    hour: i64,
    /// Hours with activity so far.
    hours: u32,
    /// Events so far, and in the latest hour.
    events: u32,
    hour_events: u32,
    /// Lowest presence share of the closed hours (1 when none).
    closed_q: f64,
    /// Expected events beyond one per hour, summed over the closed hours.
    closed_extra: f64,
    /// Presence share and expected extra events of the latest hour.
    last_q: f64,
    last_extra: f64,
    reported: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    day: i64,
    pending: [u16; 24],
    /// Hours with activity on the day closed last, for late events.
    closed_hours: u32,
    profile: Profile,
    session: Option<Session>,
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            day: NO_DAY,
            pending: [0; 24],
            closed_hours: 0,
            profile: Profile::default(),
            session: None,
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
    /// Presence share before the floor.
    share: f64,
    /// Presence share used for scoring (floored).
    q: f64,
    /// Mean events in the hour when present.
    mean: f64,
}

impl OffHours {
    fn learning(&mut self, time_ms: i64) -> bool {
        let first = *self.first_ms.get_or_insert(time_ms);
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    fn close_day(user: &mut User, group: Option<&mut Profile>, org: &mut Profile) {
        user.closed_hours = 0;
        if user.day != NO_DAY && user.pending.iter().any(|&n| n > 0) {
            let kind = kind_of(user.day);
            user.profile.add_day(kind, &user.pending);
            org.add_day(kind, &user.pending);
            if let Some(g) = group {
                g.add_day(kind, &user.pending);
            }
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

    /// Presence share of (user, kind, hour) before the floor: whether the
    /// hour is off for the user at all. Most events fall in working hours
    /// and need nothing more, so the mean count is left to [`Self::expect`].
    fn share(&self, user: &User, kind: usize, hour: usize) -> f64 {
        let prior = self.prior(user);
        let own = &user.profile;
        let weight = |d: f64| {
            let w = d / (d + self.config.prior_days);
            if w.is_finite() { w } else { 1.0 }
        };
        let w = weight(own.days[kind] as f64);
        let wt = weight(own.total_days() as f64);
        let base =
            wt * own.pooled_presence_share(hour) + (1.0 - wt) * prior.presence_share(kind, hour);
        let s = w * own.presence_share(kind, hour) + (1.0 - w) * base;
        let a = wt * own.active_share(kind) + (1.0 - wt) * prior.active_share(kind);
        let share = a * s;
        if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// What the model expects of an off hour, given its `share`.
    fn expect(&self, user: &User, hour: usize, share: f64) -> Expectation {
        let own = &user.profile;
        let m0 = self.config.unused_hour_mean.max(1.0);
        let trusted = own.total_days() >= u64::from(self.config.learning_days);
        let pooled = |p: &Profile| {
            let (e0, p0) = p.when_present(WEEKDAY, hour);
            let (e1, p1) = p.when_present(WEEKEND, hour);
            (e0 + e1, p0 + p1)
        };
        // The pace of a present hour is the user's own once they have
        // enough days; before that their peers'.
        let (events, present) = if trusted {
            pooled(own)
        } else {
            pooled(self.prior(user))
        };
        let mean = (events + MEAN_PRIOR_HOURS * m0) / (present + MEAN_PRIOR_HOURS);
        Expectation {
            share,
            q: share.max(self.config.floor_share),
            mean: if mean.is_finite() { mean.max(1.0) } else { m0 },
        }
    }

    /// `q_min · P(X ≥ events)` for a session of `hours` present hours whose
    /// expected events beyond one per hour sum to `extra`.
    fn session_p(&self, q_min: f64, hours: u32, events: u32, extra: f64) -> f64 {
        let r = self.config.dispersion * f64::from(hours.max(1));
        let mu = extra.max(1e-6);
        let tail = if events <= hours {
            1.0
        } else {
            NegativeBinomial::new(r, r / (r + mu))
                .ok()
                .map(|d| d.sf(u64::from(events - hours - 1)))
                .filter(|p| p.is_finite())
                .unwrap_or(1.0)
        };
        (q_min * tail).clamp(0.0, 1.0)
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
        user.pending[hour] = user.pending[hour].saturating_add(1);
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
        let x = self.expect(user, hour, share);
        let mut session = user.session.clone();
        let s = match session.as_mut() {
            Some(s) if abs_hour == s.hour => {
                s.hour_events = s.hour_events.saturating_add(1);
                s
            }
            Some(s) if abs_hour < s.hour => return,
            Some(s) if abs_hour - s.hour <= SESSION_GAP_HOURS + 1 => {
                s.closed_q = s.closed_q.min(s.last_q);
                s.closed_extra += s.last_extra;
                s.hour = abs_hour;
                s.hours = s.hours.saturating_add(1);
                s.hour_events = 1;
                s
            }
            _ => session.insert(Session {
                hour: abs_hour,
                hours: 1,
                hour_events: 1,
                closed_q: 1.0,
                ..Session::default()
            }),
        };
        s.events = s.events.saturating_add(1);
        s.last_q = x.q;
        s.last_extra = x.mean - 1.0;
        let q_min = s.closed_q.min(x.q);
        let p = self.session_p(q_min, s.hours, s.events, s.closed_extra + s.last_extra);
        let score = score_from_p(p);
        let fresh = s.reported == 0 || score >= f32::from(s.reported) + RESCORE_STEP;
        let report = score >= self.config.min_score && fresh;
        if report {
            s.reported = score.floor().clamp(1.0, 100.0) as u8;
        }
        let (hours, events, hour_events) = (s.hours, s.events, s.hour_events);
        let own_days = user.profile.total_days();
        if let Some(u) = self.users.get_mut(e.user) {
            u.session = session;
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
        let what = if hours > 1 {
            format!("{events} {noun} over {hours} off hours, {hour_events} at {hour:02}:00 local")
        } else {
            format!("{events} {noun} at {hour:02}:00 local")
        };
        out.push(
            Finding::new(
                e.seq,
                score,
                format!(
                    "{what} on {when} (latest on {}); active at this hour on {:.1}% of such days, ~{:.1} events when active",
                    symbols.resource(e.resource),
                    100.0 * x.share,
                    x.mean
                ),
            )
            .with("resource", symbols.resource(e.resource))
            .with("local_hour", u32::from(e.local_hour()))
            .with("weekend", i64::from(kind == WEEKEND))
                        .with("events_this_hour", hour_events)
            .with("session_presence_share", q_min)
            .with("session_events", events)
            .with("session_hours", hours)
            .with("presence_share", x.share)
            .with("mean_when_present", x.mean)
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
                    name: "off_share",
                    default: "0.2",
                    description: "an hour is off (and scored) when the user is active in it on less than this share of days of its kind (weekday or weekend)",
                },
                ConfigKey {
                    name: "floor_share",
                    default: "0.005",
                    description: "smallest presence share of any hour; one event in a never-used hour scores about 10*-log10(floor_share)",
                },
                ConfigKey {
                    name: "dispersion",
                    default: "1.0",
                    description: "negative binomial size of the event count in a present hour; smaller is more tolerant of bursts",
                },
                ConfigKey {
                    name: "unused_hour_mean",
                    default: "1.6",
                    description: "mean events in an hour the user has never worked near, when they are active in it at all; larger is more tolerant of night sessions",
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
            "floor_share" => {
                self.config.floor_share = config::parse_in_range(key, value, 1e-9, 1.0)?
            }
            "dispersion" => {
                self.config.dispersion = config::parse_in_range(key, value, 0.01, 1000.0)?
            }
            "unused_hour_mean" => {
                self.config.unused_hour_mean = config::parse_in_range(key, value, 1.0, 1000.0)?
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
}

ueba_sdk::export_detector!(OffHours);

#[cfg(test)]
mod tests;
