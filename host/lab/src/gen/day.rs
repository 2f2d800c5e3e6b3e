//! One user's day: whether and when they work, and the events that follow.
//!
//! A user-day draws from its own RNG, seeded from (seed, user, day), so it can
//! be regenerated at will and always comes out the same. That is what lets the
//! writer window the output in time without keeping whole days in memory.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{
    self, ANALYZE, COMMENTS, COPY, DELETE, DEPLOYMENTS, ESCALATIONS, FEATURE_FLAGS, Group, INSERT,
    INVOICES, MAINTENANCE_TABLES, PAYMENTS, PG_ACTIVITY, PG_LOCKS, SELECT, TABLES, TICKETS, UPDATE,
    VACUUM,
};
use super::multiday;
use super::org::{self, DAY_MS, HOUR_MS, Habit, MIN_MS, Org, lognormal};

/// Tag of events that belong to nothing in particular.
pub(super) const TAG_NONE: u8 = 0;
/// Tag of scenario `i`'s events is `TAG_SCENARIO + i`.
pub(super) const TAG_SCENARIO: u8 = 1;
/// The Sunday night maintenance job.
pub(super) const TAG_MAINTENANCE: u8 = 8;
/// A read of an analytics table by the big-reads analyst.
pub(super) const TAG_ANALYST_READ: u8 = 9;
/// As above, and at least [`BIG_READ_ROWS`] rows.
pub(super) const TAG_ANALYST_BIG: u8 = 10;
/// The boiling frog's extra reads.
pub(super) const TAG_RAMP: u8 = 11;
/// The service account's queries.
pub(super) const TAG_SERVICE: u8 = 12;
/// The new hire's events.
pub(super) const TAG_NEW_HIRE: u8 = 13;
pub(super) const TAG_COUNT: usize = 14;
/// What counts as a "big read" for the analyst look-alike.
pub(super) const BIG_READ_ROWS: u32 = 50_000;

/// One event in compact form (the writer turns it into a JSON line). Field
/// order matters: the derived ordering sorts by time, then user, and events
/// equal in every field print identically, so sorting is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Ev {
    pub ts: i64,
    pub user: u32,
    pub table: u8,
    pub action: u8,
    pub rows: u32,
    pub bytes: u64,
    pub failed: bool,
    pub vpn: bool,
    pub tag: u8,
}

struct Work {
    /// Local ms intervals before and after lunch (overtime included in the second).
    morning: (i64, i64),
    afternoon: (i64, i64),
    queries: u32,
}

struct DayPlan {
    work: Option<Work>,
    maintenance: Option<i64>,
    scenario: Option<u8>,
    vpn: bool,
    /// The service account's round-the-clock runs.
    service: bool,
}

/// The RNG of one stream of one user-day. Stream 0 draws the day's plan,
/// stream 1 the maintenance job, stream 2 the ramp's extra reads, stream
/// `SLOT_STREAM + h` the queries of local hour `h` and `SERVICE_STREAM + h`
/// the service account's, so any hour can be generated without the others.
pub(super) fn user_day_rng(seed: u64, user: u32, day: u32, stream: u64) -> ChaCha8Rng {
    let ud = org::mix(org::mix(seed, u64::from(user) + 1), u64::from(day) + 0x5eed);
    ChaCha8Rng::seed_from_u64(org::mix(ud, stream))
}

const SLOT_STREAM: u64 = 16;
const SERVICE_STREAM: u64 = 100;

/// Whether user `u` works on day `d` by their schedule: a working weekday,
/// not on leave, joined, and a person rather than the service account.
pub(super) fn works(org: &Org, u: u32, d: u32) -> bool {
    let user = &org.users[u as usize];
    org.service_account != Some(u)
        && user.works_weekday(org.clock.weekdays[d as usize])
        && !user.on_leave(d)
        && multiday::joined(org, u, d)
}

/// ±30 minutes of day-to-day jitter, concentrated near zero.
pub(super) fn jitter(rng: &mut ChaCha8Rng) -> i64 {
    let z: f64 = rng.sample(rand_distr::StandardNormal);
    ((z * 12.0).clamp(-30.0, 30.0) * MIN_MS as f64) as i64
}

fn plan(org: &Org, u: u32, d: u32, rng: &mut ChaCha8Rng) -> DayPlan {
    let user = &org.users[u as usize];
    let wd = org.clock.weekdays[d as usize];
    let vpn = user.vpn != 0 && rng.random::<f32>() < user.vpn_days;
    let work = works(org, u, d).then(|| {
        let nominal = i64::from(user.start_min) * MIN_MS;
        let len = i64::from(user.len_min) * MIN_MS;
        let mut start = nominal + jitter(rng);
        let mut end = nominal + len + jitter(rng);
        let r: f64 = rng.random();
        if r < 0.04 {
            start += rng.random_range(30..=90) * MIN_MS;
        } else if r < 0.08 {
            end -= rng.random_range(30..=120) * MIN_MS;
        } else if r < 0.13 {
            end += rng.random_range(60..=120) * MIN_MS;
        }
        let lunch_len = rng.random_range(30..=60) * MIN_MS;
        let lunch = (nominal + len / 2 - 30 * MIN_MS + rng.random_range(-45..=45) * MIN_MS).clamp(
            start + HOUR_MS,
            (end - HOUR_MS - lunch_len).max(start + HOUR_MS),
        );
        let lunch_end = (lunch + lunch_len).min(end);
        let worked = (lunch - start) + (end - lunch_end);
        let nominal_worked = len - 45 * MIN_MS;
        let q = f64::from(user.queries_per_day) * lognormal(rng, 0.25) * worked as f64
            / nominal_worked as f64;
        Work {
            morning: (start, lunch),
            afternoon: (lunch_end, end),
            queries: q.round().max(1.0) as u32,
        }
    });
    let maintenance = (org.maintenance_dba == Some(u) && wd == 6)
        .then(|| HOUR_MS + rng.random_range(0..10 * MIN_MS));
    let scenario = user
        .scenario
        .filter(|&i| org.scenarios[usize::from(i)].day == d);
    DayPlan {
        work,
        maintenance,
        scenario,
        vpn,
        service: org.service_account == Some(u),
    }
}

/// UTC bounds (inclusive, with a margin) of everything user `u` does on local
/// day `d`, or `None` when they do nothing that day. Cheap: draws the plan only.
pub(super) fn bounds(org: &Org, u: u32, d: u32) -> Option<(i64, i64)> {
    let mut rng = user_day_rng(org.seed, u, d, 0);
    let p = plan(org, u, d, &mut rng);
    let mut local: Vec<(i64, i64)> = Vec::with_capacity(3);
    if let Some(w) = &p.work {
        local.push((w.morning.0, w.afternoon.1));
    }
    if let Some(m) = p.maintenance {
        local.push((m, m + 3 * HOUR_MS));
    }
    if p.service {
        local.push((0, DAY_MS));
    }
    if let Some(i) = p.scenario {
        let evs = &org.scenarios[usize::from(i)].events;
        let lo = evs.iter().map(|e| e.ms).min().unwrap_or(0);
        let hi = evs.iter().map(|e| e.ms).max().unwrap_or(0);
        local.push((lo, hi));
    }
    let tz = org.users[u as usize].tz;
    local
        .iter()
        .map(|&(a, b)| {
            (
                org.clock.utc(tz, d, a) - HOUR_MS,
                org.clock.utc(tz, d, b) + HOUR_MS,
            )
        })
        .reduce(|x, y| (x.0.min(y.0), x.1.max(y.1)))
}

fn pick_habit<'a>(habits: &'a [Habit], rng: &mut ChaCha8Rng) -> &'a Habit {
    let r: f32 = rng.random();
    habits
        .iter()
        .find(|h| r < h.cum)
        .unwrap_or(&habits[habits.len() - 1])
}

/// Rows one query of this habit returns: log-normal around the user's median.
pub(super) fn sample_rows(h: &Habit, rng: &mut impl Rng) -> u32 {
    let v = f64::from(h.median) * lognormal(rng, f64::from(h.sigma));
    (v.round() as u32).clamp(1, h.max)
}

/// Bytes on the wire for `rows` rows of `table`: the row width with some noise.
pub(super) fn bytes_for(table: u8, rows: u32, rng: &mut impl Rng) -> u64 {
    let w = f64::from(TABLES[usize::from(table)].width) * lognormal(rng, 0.15);
    (f64::from(rows) * w).round() as u64
}

fn action_for(group: Group, table: u8, rng: &mut ChaCha8Rng) -> u8 {
    let r: f64 = rng.random();
    match (group, table) {
        (Group::Tier1 | Group::Tier2, TICKETS) => {
            if r < 0.14 {
                UPDATE
            } else if r < 0.17 {
                INSERT
            } else if group == Group::Tier2 && r < 0.172 {
                DELETE
            } else {
                SELECT
            }
        }
        (Group::Tier1 | Group::Tier2, COMMENTS) if r < 0.25 => INSERT,
        (Group::Tier2, ESCALATIONS) if r < 0.15 => UPDATE,
        (Group::Tier2, ESCALATIONS) if r < 0.2 => INSERT,
        (Group::Billing, INVOICES) if r < 0.1 => UPDATE,
        (Group::Billing, PAYMENTS) if r < 0.05 => INSERT,
        (Group::Engineering, FEATURE_FLAGS) if r < 0.12 => UPDATE,
        (Group::Engineering, DEPLOYMENTS) if r < 0.08 => INSERT,
        (Group::Dba, PG_ACTIVITY | PG_LOCKS) => SELECT,
        (Group::Dba, _) if r < 0.06 => ANALYZE,
        (Group::Dba, _) if r < 0.10 => VACUUM,
        (Group::Dba, _) if r < 0.13 => COPY,
        _ => SELECT,
    }
}

/// Appends the events of user `u` on local day `d` that fall in the UTC
/// window `[ws, we)` to `out` (unsorted). Queries are drawn per local hour
/// from that hour's own RNG, so a window costs only the hours it overlaps.
pub(super) fn generate(org: &Org, u: u32, d: u32, ws: i64, we: i64, out: &mut Vec<Ev>) {
    let mut rng = user_day_rng(org.seed, u, d, 0);
    let p = plan(org, u, d, &mut rng);
    let user = &org.users[u as usize];
    let tz = user.tz;
    let mut emit = |e: Ev| {
        if e.ts >= ws && e.ts < we {
            out.push(e);
        }
    };
    if let Some(w) = &p.work {
        let habits = org.habits(u);
        let big_analyst = org.big_analyst == Some(u);
        let new_hire = org.new_hire.is_some_and(|(n, _)| n == u);
        let total = (w.morning.1 - w.morning.0) + (w.afternoon.1 - w.afternoon.0);
        let first_hour = w.morning.0.div_euclid(HOUR_MS);
        let last_hour = (w.afternoon.1 - 1).div_euclid(HOUR_MS);
        for hour in first_hour..=last_hour {
            let slot = (hour * HOUR_MS, (hour + 1) * HOUR_MS);
            let slot_utc = org.clock.utc(tz, d, slot.0);
            if total <= 0 || slot_utc >= we || slot_utc + HOUR_MS <= ws {
                continue;
            }
            let parts = [w.morning, w.afternoon].map(|(a, b)| (a.max(slot.0), b.min(slot.1)));
            let len_a = (parts[0].1 - parts[0].0).max(0);
            let inside = len_a + (parts[1].1 - parts[1].0).max(0);
            if inside == 0 {
                continue;
            }
            let mut rng = user_day_rng(org.seed, u, d, SLOT_STREAM + hour as u64);
            // This hour's share of the day's queries, rounded stochastically.
            let expected = f64::from(w.queries) * inside as f64 / total as f64;
            let queries = (expected + rng.random::<f64>()).floor() as u32;
            let mut n = 0;
            while n < queries {
                let x = rng.random_range(0..inside);
                let (mut t, end) = if x < len_a {
                    (parts[0].0 + x, parts[0].1)
                } else {
                    (parts[1].0 + x - len_a, parts[1].1)
                };
                // Queries come in bursts: a ticket opened, its comments, the customer.
                let burst = 1 + (-rng.random::<f64>().max(1e-9).ln() * 1.5) as u32;
                for _ in 0..burst {
                    if n >= queries || t >= end {
                        break;
                    }
                    let h = pick_habit(habits, &mut rng);
                    let action = action_for(user.group, h.table, &mut rng);
                    let size = TABLES[usize::from(h.table)].size;
                    let rows = match action {
                        SELECT => sample_rows(h, &mut rng),
                        UPDATE | INSERT | DELETE => 1 + u32::from(rng.random_bool(0.2)),
                        // Like the audit logs ueba reads: rows returned, and
                        // VACUUM and ANALYZE return none.
                        VACUUM | ANALYZE => 0,
                        _ => sample_rows(h, &mut rng).min(size),
                    };
                    let failed = rng.random::<f32>() < user.fail_rate;
                    let bytes = bytes_for(h.table, rows, &mut rng);
                    let tag = if big_analyst && catalog::is_analytics_table(h.table) {
                        if rows >= BIG_READ_ROWS && !failed {
                            TAG_ANALYST_BIG
                        } else {
                            TAG_ANALYST_READ
                        }
                    } else if new_hire {
                        TAG_NEW_HIRE
                    } else {
                        TAG_NONE
                    };
                    emit(Ev {
                        ts: org.clock.utc(tz, d, t),
                        user: u,
                        table: h.table,
                        action,
                        rows: if failed { 0 } else { rows },
                        bytes: if failed { 0 } else { bytes },
                        failed,
                        vpn: p.vpn,
                        tag,
                    });
                    n += 1;
                    t += 200 + (-rng.random::<f64>().max(1e-9).ln() * 8_000.0) as i64;
                }
            }
        }
    }
    if let (Some(w), Some(ramp)) = (&p.work, org.ramp.filter(|r| r.user == u)) {
        let mut rng = user_day_rng(org.seed, u, d, 2);
        multiday::ramp_events(org, &ramp, d, [w.morning, w.afternoon], &mut rng, &mut emit);
    }
    if p.service {
        for hour in 0..24 {
            let slot_utc = org.clock.utc(tz, d, hour * HOUR_MS);
            if slot_utc >= we || slot_utc + HOUR_MS <= ws {
                continue;
            }
            let mut rng = user_day_rng(org.seed, u, d, SERVICE_STREAM + hour as u64);
            multiday::service_events(org, u, d, hour, &mut rng, &mut emit);
        }
    }
    if let Some(start) = p.maintenance {
        let mut rng = user_day_rng(org.seed, u, d, 1);
        // The same script every week: count, vacuum and analyze table by table.
        let growth = 1.0 + 0.002 * f64::from(d / 7);
        let mut t = start;
        for &table in &MAINTENANCE_TABLES {
            let size = f64::from(TABLES[usize::from(table)].size) * growth;
            // The log records rows returned: count(*) returns one row,
            // VACUUM and ANALYZE none, however big the table they scan.
            for (action, rows, secs) in [
                (SELECT, 1, 2.0 + size / 400_000.0),
                (VACUUM, 0, 5.0 + size / 25_000.0),
                (ANALYZE, 0, 1.0 + size / 2_000_000.0),
            ] {
                let bytes = bytes_for(table, rows, &mut rng);
                emit(Ev {
                    ts: org.clock.utc(tz, d, t),
                    user: u,
                    table,
                    action,
                    rows,
                    bytes,
                    failed: false,
                    vpn: false,
                    tag: TAG_MAINTENANCE,
                });
                t += (secs * 1000.0 * lognormal(&mut rng, 0.1)) as i64;
            }
        }
    }
    if let Some(i) = p.scenario {
        let s = &org.scenarios[usize::from(i)];
        let vpn = if s.night { user.vpn != 0 } else { p.vpn };
        for e in &s.events {
            let bytes = bytes_for(e.table, e.rows, &mut rng);
            emit(Ev {
                ts: org.clock.utc(tz, d, e.ms),
                user: u,
                table: e.table,
                action: e.action,
                rows: e.rows,
                bytes,
                failed: false,
                vpn,
                tag: TAG_SCENARIO + i,
            });
        }
    }
}

#[cfg(test)]
pub(super) fn local_shift(org: &Org, u: u32) -> (i64, i64) {
    let user = &org.users[u as usize];
    let s = i64::from(user.start_min) * MIN_MS;
    (s, s + i64::from(user.len_min) * MIN_MS)
}
