//! The organisation model: tables, peer groups, users with their own habits,
//! and the clock that turns local shift times into UTC.
//!
//! Everything here is drawn once, up front, from one seeded RNG, so a seed
//! always yields the same people with the same habits.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::catalog::{GROUPS, Group, SITE_OCTET, TABLES, habit_specs, is_analytics_table};
use super::multiday::{self, Ramp};
use super::names::{Logins, login_base};
use super::scenario::{self, ScenarioPlan};
use super::{GenConfig, GenError, Intensity};

pub(super) const MIN_MS: i64 = 60_000;
pub(super) const HOUR_MS: i64 = 3_600_000;
pub(super) const DAY_MS: i64 = 86_400_000;

/// One table a user reads, with their personal rate and row sizes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Habit {
    pub table: u8,
    /// Cumulative selection probability (the last habit of a user ends at 1).
    pub cum: f32,
    pub median: f32,
    pub sigma: f32,
    pub max: u32,
}

impl Habit {
    /// Mean rows per query of this habit (log-normal mean, capped).
    pub(super) fn mean_rows(&self) -> f64 {
        let s = f64::from(self.sigma);
        (f64::from(self.median) * (s * s / 2.0).exp()).min(f64::from(self.max))
    }
}

/// When a user works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shift {
    Day,
    Late,
    Night,
}

/// Everything drawn once per user.
#[derive(Clone, Debug)]
pub(super) struct User {
    pub group: Group,
    pub tz: u8,
    pub shift: Shift,
    /// Nominal shift start, minutes after local midnight.
    pub start_min: u32,
    /// Nominal shift length in minutes (lunch included).
    pub len_min: u32,
    /// Works Saturdays and Sundays, off two consecutive weekdays instead.
    pub weekend_rota: bool,
    /// First weekday off for rota workers (0 = Monday).
    pub rota_off: u8,
    /// Leave blocks: (first day index, length in days); length 0 = none.
    pub leave: [(u32, u32); 2],
    pub workstation: u32,
    /// VPN address, 0 when the user has none.
    pub vpn: u32,
    /// Share of working days spent on the VPN.
    pub vpn_days: f32,
    pub queries_per_day: f32,
    pub fail_rate: f32,
    habits_at: u32,
    habits_len: u8,
    /// Index into `Org::scenarios`, if this user acts out a malicious scenario.
    pub scenario: Option<u8>,
}

impl User {
    /// Whether the user's normal schedule has them working on this weekday
    /// (0 = Monday), ignoring leave.
    pub(super) fn works_weekday(&self, wd: u8) -> bool {
        works_weekday(self.weekend_rota, self.rota_off, wd)
    }

    pub(super) fn on_leave(&self, day: u32) -> bool {
        on_leave(&self.leave, day)
    }
}

/// Whether someone works on weekday `wd` (0 = Monday): Monday to Friday,
/// or on a weekend rota every day but two consecutive weekdays from `rota_off`.
pub(super) fn works_weekday(weekend_rota: bool, rota_off: u8, wd: u8) -> bool {
    if weekend_rota {
        wd >= 5 || (wd != rota_off && wd != rota_off + 1)
    } else {
        wd < 5
    }
}

/// Whether `day` falls in one of the leave blocks (first day, length).
pub(super) fn on_leave(leave: &[(u32, u32); 2], day: u32) -> bool {
    leave.iter().any(|&(s, l)| l > 0 && day >= s && day < s + l)
}

/// Up to two blocks of leave (first day, length in days; length 0 = none):
/// none for 40 % of people, one for 40 %, two for 20 %, each 1–5 days.
pub(super) fn draw_leave(rng: &mut impl Rng, days: u32) -> [(u32, u32); 2] {
    let mut leave = [(0, 0); 2];
    let blocks = pick_weighted(&[(0usize, 0.4), (1, 0.4), (2, 0.2)], rng);
    for slot in leave.iter_mut().take(blocks) {
        let len = 1 + pick_weighted(&[(0u32, 3.0), (1, 3.0), (2, 2.0), (3, 1.0), (4, 2.0)], rng);
        // Placed over at least a month, so a short period is not all leave.
        *slot = (rng.random_range(0..days.max(30)), len);
    }
    leave
}

/// Turns (time zone, local day, milliseconds after local midnight) into UTC
/// milliseconds, with DST handled by the bundled tzdb. Offsets are looked up
/// once per zone and local hour and then reused for every event.
pub(super) struct Clock {
    /// UTC milliseconds of the civil (zone-less) midnight that starts day 0.
    civil0: i64,
    hours: usize,
    /// Offset in milliseconds per zone and hour since day 0's civil midnight.
    offsets: Vec<i64>,
    /// Weekday per day index, 0 = Monday.
    pub weekdays: Vec<u8>,
    pub dates: Vec<Date>,
}

impl Clock {
    /// A clock for `days` days from `start` with one IANA zone per site.
    pub(super) fn new(start: Date, days: u32, zones: &[String]) -> Result<Clock, GenError> {
        let bad = |e: jiff::Error| GenError::InvalidConfig(format!("start date {start}: {e}"));
        let mut dates = Vec::with_capacity(days as usize + 2);
        for d in 0..days + 2 {
            dates.push(
                start
                    .checked_add(jiff::Span::new().days(i64::from(d)))
                    .map_err(bad)?,
            );
        }
        let midnight = |d: Date| -> DateTime { d.to_datetime(jiff::civil::Time::midnight()) };
        let civil0 = TimeZone::UTC
            .to_timestamp(midnight(start))
            .map_err(bad)?
            .as_millisecond();
        let hours = dates.len() * 24;
        let mut offsets = Vec::with_capacity(zones.len() * hours);
        for name in zones {
            let tz = TimeZone::get(name).map_err(|e| GenError::TimeZone {
                name: name.to_string(),
                message: e.to_string(),
            })?;
            for (d, date) in dates.iter().enumerate() {
                for h in 0..24i8 {
                    let dt = date.at(h, 0, 0, 0);
                    let ts = tz.to_timestamp(dt).map_err(bad)?.as_millisecond();
                    let civil = civil0 + (d as i64 * 24 + i64::from(h)) * HOUR_MS;
                    offsets.push(civil - ts);
                }
            }
        }
        let weekdays = dates
            .iter()
            .map(|d| d.weekday().to_monday_zero_offset() as u8)
            .collect();
        Ok(Clock {
            civil0,
            hours,
            offsets,
            weekdays,
            dates,
        })
    }

    /// UTC milliseconds of `local_ms` after local midnight of `day` in zone `tz`.
    pub(super) fn utc(&self, tz: u8, day: u32, local_ms: i64) -> i64 {
        let civil = i64::from(day) * DAY_MS + local_ms;
        let hour = civil.div_euclid(HOUR_MS).clamp(0, self.hours as i64 - 1) as usize;
        self.civil0 + civil - self.offsets[usize::from(tz) * self.hours + hour]
    }

    /// Milliseconds after local midnight as wall-clock `HH:MM`, for descriptions.
    pub(super) fn hhmm(local_ms: i64) -> String {
        let m = local_ms.rem_euclid(DAY_MS) / MIN_MS;
        format!("{:02}:{:02}", m / 60, m % 60)
    }
}

/// The generated organisation.
pub(super) struct Org {
    pub users: Vec<User>,
    logins: Logins,
    habits: Vec<Habit>,
    pub clock: Clock,
    /// IANA time zone of each site (index = `User::tz`): the site's own,
    /// unless `GenConfig::site_timezones` says otherwise.
    pub zones: Vec<String>,
    pub days: u32,
    pub seed: u64,
    pub scenarios: Vec<ScenarioPlan>,
    /// The DBA whose account runs the Sunday night maintenance.
    pub maintenance_dba: Option<u32>,
    /// The analyst with the biggest normal reads.
    pub big_analyst: Option<u32>,
    /// The support agent whose reads of support.customers grow day by day.
    pub ramp: Option<Ramp>,
    /// The machine account that queries around the clock.
    pub service_account: Option<u32>,
    /// A person who joins mid-period: (user, first day).
    pub new_hire: Option<(u32, u32)>,
}

impl Org {
    /// IANA time zone of user `u`.
    pub(super) fn zone(&self, u: u32) -> &str {
        &self.zones[usize::from(self.users[u as usize].tz)]
    }

    pub(super) fn login(&self, u: u32) -> &str {
        self.logins.get(u)
    }

    /// Gives user `u` a login that is not a person's (see [`Logins::rename`]).
    pub(super) fn rename(&mut self, u: u32, name: &str) {
        self.logins.rename(u, name);
    }

    pub(super) fn habits(&self, u: u32) -> &[Habit] {
        let user = &self.users[u as usize];
        let at = user.habits_at as usize;
        &self.habits[at..at + usize::from(user.habits_len)]
    }

    /// Expected rows a user reads on a normal working day.
    pub(super) fn expected_daily_rows(&self, u: u32) -> f64 {
        let habits = self.habits(u);
        let mut prev = 0.0;
        let mut per_query = 0.0;
        for h in habits {
            let p = f64::from(h.cum) - prev;
            prev = f64::from(h.cum);
            per_query += p * h.mean_rows();
        }
        per_query * f64::from(self.users[u as usize].queries_per_day)
    }

    #[cfg(test)]
    pub(super) fn build(cfg: &GenConfig) -> Result<Org, GenError> {
        Org::build_with(cfg, None)
    }

    /// The organisation of `cfg`, its scenarios at `intensity` when given.
    pub(super) fn build_with(
        cfg: &GenConfig,
        intensity: Option<&Intensity>,
    ) -> Result<Org, GenError> {
        let zones = super::site_zones(cfg)?;
        let clock = Clock::new(cfg.start, cfg.days, &zones)?;
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x6f72_6761_6e69_7361));
        let counts = group_counts(cfg.users);
        let mut groups: Vec<Group> = Vec::with_capacity(cfg.users);
        for (g, &c) in GROUPS.iter().zip(counts.iter()) {
            groups.extend(std::iter::repeat_n(*g, c));
        }
        groups.shuffle(&mut rng);

        let mut org = Org {
            users: Vec::with_capacity(cfg.users),
            logins: Logins::default(),
            habits: Vec::new(),
            clock,
            zones,
            days: cfg.days,
            seed: cfg.seed,
            scenarios: Vec::new(),
            maintenance_dba: None,
            big_analyst: None,
            ramp: None,
            service_account: None,
            new_hire: None,
        };
        for group in groups {
            let user = org.draw_user(group, &mut rng, cfg.days);
            org.logins.push(login_base(user.tz, &mut rng));
            org.users.push(user);
        }

        let dbas: Vec<u32> = org.members(Group::Dba).collect();
        if !dbas.is_empty() {
            org.maintenance_dba = Some(dbas[rng.random_range(0..dbas.len())]);
        }
        org.big_analyst = org.members(Group::Analytics).max_by(|&a, &b| {
            let big = |u: u32| {
                org.habits(u)
                    .iter()
                    .filter(|h| is_analytics_table(h.table))
                    .map(|h| f64::from(h.median))
                    .fold(0.0, f64::max)
            };
            big(a).total_cmp(&big(b))
        });
        // The multi-day scenarios draw from their own RNG, so they fall on
        // the same people whatever the intensity of the others.
        let mut multi = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x6d75_6c74_6964_6179));
        if cfg.scenarios {
            scenario::plan_all(&mut org, &mut rng, intensity)?;
            multiday::plan_ramp(&mut org, &mut multi);
        }
        multiday::plan_look_alikes(&mut org, &mut multi);
        Ok(org)
    }

    pub(super) fn members(&self, g: Group) -> impl Iterator<Item = u32> + '_ {
        self.users
            .iter()
            .enumerate()
            .filter(move |(_, u)| u.group == g)
            .map(|(i, _)| i as u32)
    }

    fn draw_user(&mut self, group: Group, rng: &mut ChaCha8Rng, days: u32) -> User {
        let tz = pick_weighted(group.sites(), rng);
        let shift = if group == Group::Tier1 && rng.random_bool(0.07) {
            Shift::Night
        } else if group.is_support() && rng.random_bool(0.15) {
            Shift::Late
        } else {
            Shift::Day
        };
        let start_min = match shift {
            Shift::Night => 21 * 60 + 30 + 30 * rng.random_range(0..3u32),
            Shift::Late => 14 * 60 + 30 * rng.random_range(0..3u32),
            Shift::Day if group == Group::Engineering => 8 * 60 + 30 * rng.random_range(0..5u32),
            Shift::Day => {
                let slots: [(u32, f64); 7] = [
                    (0, 1.0),
                    (1, 2.0),
                    (2, 4.0),
                    (3, 4.0),
                    (4, 3.0),
                    (5, 2.0),
                    (6, 1.0),
                ];
                7 * 60 + 30 * pick_weighted(&slots, rng)
            }
        };
        let len_min = 480 + 30 * rng.random_range(0..3u32);
        let weekend_rota = group.is_support() && rng.random_bool(0.15);
        let rota_off = rng.random_range(0..4u8);
        let leave = draw_leave(rng, days);
        let group_idx = GROUPS.iter().position(|&g| g == group).unwrap_or(0) as u32;
        let workstation = (10 << 24)
            | (SITE_OCTET[usize::from(tz)] << 16)
            | ((group_idx * 10 + rng.random_range(1..9u32)) << 8)
            | rng.random_range(10..250u32);
        let (vpn, vpn_days) = if rng.random_bool(group.vpn_rate()) {
            let ip = (10 << 24)
                | (99 << 16)
                | (rng.random_range(0..32u32) << 8)
                | rng.random_range(2..254u32);
            let share = if group == Group::Engineering {
                0.3
            } else {
                0.15
            };
            (ip, (share * lognormal(rng, 0.5)).min(0.9) as f32)
        } else {
            (0, 0.0)
        };
        let (median, lo, hi) = group.queries();
        let queries_per_day = (median * lognormal(rng, 0.35)).clamp(lo, hi) as f32;
        let fail_rate = (0.004 * lognormal(rng, 0.6)).min(0.03) as f32;

        let habits_at = self.habits.len() as u32;
        let spread = if group == Group::Analytics { 0.5 } else { 0.3 };
        let mut total = 0.0;
        for spec in habit_specs(group) {
            if spec.presence < 1.0 && !rng.random_bool(spec.presence) {
                continue;
            }
            let weight = spec.weight * lognormal(rng, 0.5);
            total += weight;
            let size = TABLES[usize::from(spec.table)].size;
            let max = if spec.max == 0 {
                size
            } else {
                spec.max.min(size)
            };
            self.habits.push(Habit {
                table: spec.table,
                cum: total as f32,
                median: (spec.median * lognormal(rng, spread)).min(f64::from(max)) as f32,
                sigma: spec.sigma as f32,
                max,
            });
        }
        let mine = &mut self.habits[habits_at as usize..];
        for h in mine.iter_mut() {
            h.cum = (f64::from(h.cum) / total) as f32;
        }
        if let Some(last) = mine.last_mut() {
            last.cum = 1.0;
        }
        let habits_len = (self.habits.len() - habits_at as usize) as u8;
        User {
            group,
            tz,
            shift,
            start_min,
            len_min,
            weekend_rota,
            rota_off,
            leave,
            workstation,
            vpn,
            vpn_days,
            queries_per_day,
            fail_rate,
            habits_at,
            habits_len,
            scenario: None,
        }
    }
}

/// Splits `n` users over the peer groups by their shares (largest remainder),
/// giving every group at least one member from 12 users on and the DBAs at
/// least two from 40 on, so small demos still have every role.
pub(super) fn group_counts(n: usize) -> [usize; 6] {
    let shares = GROUPS.map(|g| g.share());
    let counts = split_by_shares(n, &shares, |g, n| if g == 5 && n >= 40 { 2 } else { 0 });
    let mut out = [0usize; 6];
    out.copy_from_slice(&counts);
    out
}

/// Splits `n` people over groups by their `shares` (largest remainder),
/// giving every group at least one member from 12 people on and group `g`
/// at least `at_least(g, n)`; when the minimums overshoot, the biggest
/// groups give members back.
pub(super) fn split_by_shares(
    n: usize,
    shares: &[f64],
    at_least: impl Fn(usize, usize) -> usize,
) -> Vec<usize> {
    let groups = shares.len();
    let total: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / total * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    for (g, c) in counts.iter_mut().enumerate() {
        if n >= 12 {
            *c = (*c).max(1);
        }
        *c = (*c).max(at_least(g, n));
    }
    let mut order: Vec<usize> = (0..groups).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut assigned: usize = counts.iter().sum();
    let mut i = 0;
    while assigned < n {
        counts[order[i % groups]] += 1;
        assigned += 1;
        i += 1;
    }
    while assigned > n {
        // Minimums overshot: take back from the biggest group.
        let big = (0..groups).max_by_key(|&g| counts[g]).unwrap_or(0);
        counts[big] -= 1;
        assigned -= 1;
    }
    counts
}

/// SplitMix64 finaliser: decorrelates derived seeds.
pub(super) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// exp(sigma · N(0,1)): a log-normal factor with median 1.
pub(super) fn lognormal(rng: &mut impl Rng, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    (sigma * z).exp()
}

pub(super) fn pick_weighted<T: Copy>(items: &[(T, f64)], rng: &mut impl Rng) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.random::<f64>() * total;
    for &(item, w) in items {
        if r < w {
            return item;
        }
        r -= w;
    }
    items[items.len() - 1].0
}
