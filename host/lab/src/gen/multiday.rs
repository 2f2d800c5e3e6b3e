//! Database-shape scenarios that span many days rather than one: the
//! "boiling frog" whose reads of a customer table grow a little every day,
//! a service account that queries at the same rate around the clock, and a
//! person who joins halfway through the period.
//!
//! Each is hard for a different reason: the ramp teaches a fast baseline as
//! it goes, the service account is "off hours" by nature, and the new hire
//! has no history to compare with. The first is malicious, the other two are
//! benign look-alikes and, like the other look-alikes, always present.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::catalog::{COMMENTS, CUSTOMERS, Group, SELECT, TICKETS};
use super::day::{Ev, TAG_NEW_HIRE, TAG_RAMP, TAG_SERVICE, bytes_for, sample_rows};
use super::org::{HOUR_MS, Habit, MIN_MS, Org};
use super::{Scenario, TagStats, rfc3339};

/// Growth of the ramp's reads per calendar day.
pub(super) const RAMP_GROWTH: f64 = 1.12;
/// Longest ramp: 34 days of 12 % growth is 1.12^34 ≈ 47×.
pub(super) const RAMP_DAYS: u32 = 34;
/// Login of the service account.
pub(super) const SERVICE_LOGIN: &str = "svcsync";
/// The service account's fixed address (an application server).
const SERVICE_ADDR: u32 = (10 << 24) | (10 << 16) | 5;
/// Minutes between the service account's sync runs.
const SERVICE_PERIOD_MIN: i64 = 5;

/// The boiling-frog plan: from `start`, every working day's extra reads of
/// support.customers make the day `RAMP_GROWTH^k` times the user's normal
/// rows, k = 1 on the first day, for `days` calendar days.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ramp {
    pub user: u32,
    pub start: u32,
    pub days: u32,
    /// Expected rows of a normal working day.
    pub normal: f64,
    /// The user's own support.customers habit: the extra reads look like it.
    pub habit: Habit,
}

impl Ramp {
    /// The day's factor over a normal day, if the ramp runs on day `d`.
    pub(super) fn factor(&self, d: u32) -> Option<f64> {
        let k = d.checked_sub(self.start)? + 1;
        (k <= self.days).then(|| RAMP_GROWTH.powi(k as i32))
    }

    /// Extra reads on day `d`: the rows the factor adds, at the habit's mean size.
    pub(super) fn extra_reads(&self, d: u32) -> u32 {
        self.factor(d).map_or(0, |f| {
            ((f - 1.0) * self.normal / self.habit.mean_rows()).round() as u32
        })
    }
}

/// Picks the ramp's agent (a day-shift support agent not in another
/// scenario) and its days: the last `RAMP_DAYS` of the period, never before
/// day 11, so detectors have a baseline first.
pub(super) fn plan_ramp(org: &mut Org, rng: &mut ChaCha8Rng) {
    let mut taken: Vec<u32> = org.scenarios.iter().map(|s| s.user).collect();
    let Ok(u) = super::scenario::pick_user(
        org,
        rng,
        &mut taken,
        &[Group::Tier1, Group::Tier2],
        |_, _| 1.0,
    ) else {
        return;
    };
    let Some(habit) = org.habits(u).iter().find(|h| h.table == CUSTOMERS).copied() else {
        return;
    };
    let start = org.days.saturating_sub(RAMP_DAYS).max(11);
    if start >= org.days {
        return;
    }
    // The agent works through the ramp; leave would hide it.
    org.users[u as usize].leave = [(0, 0); 2];
    org.ramp = Some(Ramp {
        user: u,
        start,
        days: org.days - start,
        normal: org.expected_daily_rows(u).max(1.0),
        habit,
    });
}

/// Makes one engineering account (when there are at least two) the service
/// account, and has one day-shift support agent outside the scenarios join
/// halfway through the period.
pub(super) fn plan_look_alikes(org: &mut Org, rng: &mut ChaCha8Rng) {
    let engineers: Vec<u32> = org.members(Group::Engineering).collect();
    if engineers.len() >= 2 {
        let u = engineers[rng.random_range(0..engineers.len())];
        let user = &mut org.users[u as usize];
        user.group = Group::Service;
        user.workstation = SERVICE_ADDR;
        user.vpn = 0;
        user.leave = [(0, 0); 2];
        org.rename(u, SERVICE_LOGIN);
        org.service_account = Some(u);
    }
    let ramp = org.ramp.map(|r| r.user);
    let agents: Vec<u32> = (0..org.users.len() as u32)
        .filter(|&u| {
            let user = &org.users[u as usize];
            user.group.is_support() && user.scenario.is_none() && Some(u) != ramp
        })
        .collect();
    if org.days >= 4 && !agents.is_empty() {
        let u = agents[rng.random_range(0..agents.len())];
        org.new_hire = Some((u, org.days / 2));
    }
}

/// Whether user `u` has joined by day `d`.
pub(super) fn joined(org: &Org, u: u32, d: u32) -> bool {
    org.new_hire.is_none_or(|(n, first)| n != u || d >= first)
}

/// Appends the ramp's extra reads of day `d` in the user's working
/// intervals `parts` (local ms), through `emit`.
pub(super) fn ramp_events(
    org: &Org,
    ramp: &Ramp,
    d: u32,
    parts: [(i64, i64); 2],
    rng: &mut ChaCha8Rng,
    emit: &mut impl FnMut(Ev),
) {
    let n = ramp.extra_reads(d);
    let lens = parts.map(|(a, b)| (b - a).max(0));
    let total = lens[0] + lens[1];
    if n == 0 || total == 0 {
        return;
    }
    let tz = org.users[ramp.user as usize].tz;
    for _ in 0..n {
        let x = rng.random_range(0..total);
        let t = if x < lens[0] {
            parts[0].0 + x
        } else {
            parts[1].0 + x - lens[0]
        };
        let rows = sample_rows(&ramp.habit, rng);
        emit(Ev {
            ts: org.clock.utc(tz, d, t),
            user: ramp.user,
            table: CUSTOMERS,
            action: SELECT,
            rows,
            bytes: bytes_for(CUSTOMERS, rows, rng),
            failed: false,
            vpn: false,
            tag: TAG_RAMP,
        });
    }
}

/// Appends the service account's sync runs in local hour `hour` of day `d`:
/// every five minutes, a read of the tickets and of the comments changed
/// since the last run.
pub(super) fn service_events(
    org: &Org,
    u: u32,
    d: u32,
    hour: i64,
    rng: &mut ChaCha8Rng,
    emit: &mut impl FnMut(Ev),
) {
    let tz = org.users[u as usize].tz;
    for run in 0..60 / SERVICE_PERIOD_MIN {
        let t = hour * HOUR_MS + run * SERVICE_PERIOD_MIN * MIN_MS + rng.random_range(0..2_000);
        for (i, (table, lo, hi)) in [(TICKETS, 20, 80), (COMMENTS, 40, 150)]
            .into_iter()
            .enumerate()
        {
            let rows = rng.random_range(lo..=hi);
            emit(Ev {
                ts: org.clock.utc(tz, d, t + i as i64 * 400),
                user: u,
                table,
                action: SELECT,
                rows,
                bytes: bytes_for(table, rows, rng),
                failed: false,
                vpn: false,
                tag: TAG_SERVICE,
            });
        }
    }
}

/// The ramp's label, from what was actually written.
pub(super) fn ramp_label(org: &Org, stats: &[TagStats]) -> Option<Scenario> {
    let (Some(r), Some(first)) = (&org.ramp, stats[usize::from(TAG_RAMP)].first) else {
        return None;
    };
    let u = r.user;
    let last = (r.start..r.start + r.days)
        .rev()
        .find(|&d| r.extra_reads(d) > 0 && super::day::works(org, u, d))
        .unwrap_or(r.start);
    Some(Scenario {
        name: "boiling-frog".into(),
        user: org.login(u).into(),
        malicious: true,
        start: Some(rfc3339(first)),
        description: format!(
            "{} agent {} reads support.customers more every day from {}: {}% more rows a \
                 day (compounded over calendar days) at their usual hours and read sizes, for \
                 {} days; on {} the day is {:.1}× their normal ~{:.0} rows ({} extra reads in all)",
            org.users[u as usize].group.name(),
            org.login(u),
            org.clock.dates[r.start as usize],
            ((RAMP_GROWTH - 1.0) * 100.0).round(),
            r.days,
            org.clock.dates[last as usize],
            r.factor(last).unwrap_or(1.0),
            r.normal,
            stats[usize::from(TAG_RAMP)].count,
        ),
    })
}

/// The labels of the service account and the new hire (benign), from what
/// was actually written.
pub(super) fn look_alike_labels(org: &Org, stats: &[TagStats]) -> Vec<Scenario> {
    let mut benign = Vec::new();
    if let Some(u) = org.service_account {
        let s = &stats[usize::from(TAG_SERVICE)];
        if s.count > 0 {
            benign.push(Scenario {
                name: "service-account".into(),
                user: org.login(u).into(),
                malicious: false,
                start: None,
                description: format!(
                    "service account {} (peer group {}) syncs support.tickets and \
                     support.ticket_comments every {} minutes around the clock, every day, from \
                     one server: machine-driven, the same rate at every hour ({} queries in all)",
                    org.login(u),
                    Group::Service.name(),
                    SERVICE_PERIOD_MIN,
                    s.count,
                ),
            });
        }
    }
    if let (Some((u, day)), Some(first)) = (org.new_hire, stats[usize::from(TAG_NEW_HIRE)].first) {
        benign.push(Scenario {
            name: "new-hire".into(),
            user: org.login(u).into(),
            malicious: false,
            start: Some(rfc3339(first)),
            description: format!(
                "{} agent {} joins on {}: no events before, then an ordinary agent's work with \
                 no history of their own",
                org.users[u as usize].group.name(),
                org.login(u),
                org.clock.dates[day as usize],
            ),
        });
    }
    benign
}
