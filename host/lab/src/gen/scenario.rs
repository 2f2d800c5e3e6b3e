//! The malicious insider scenarios: who acts them out, on which day, and the
//! exact events they add. Planned once, up front, in the user's local time, so
//! the descriptions can state the numbers and the day generator only has to
//! append the events.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::catalog::{
    AUTH_USERS, COMMENTS, CRM_CONTACTS, CUSTOMERS, Group, HR_SALARIES, KB, SELECT, TABLES, TICKETS,
};
use super::day::sample_rows;
use super::org::{Clock, HOUR_MS, MIN_MS, Org, Shift, lognormal, pick_weighted};
use super::{GenError, Intensity, NovelTables};

/// One planned scenario event, in milliseconds after local midnight.
pub(super) struct LocalEv {
    pub ms: i64,
    pub table: u8,
    pub action: u8,
    pub rows: u32,
}

/// A malicious scenario as planned.
pub(super) struct ScenarioPlan {
    pub name: &'static str,
    pub user: u32,
    pub day: u32,
    /// Happens at night (the user then connects as they would from home).
    pub night: bool,
    pub events: Vec<LocalEv>,
    pub description: String,
}

/// Total rows of support.customers the trend-micro agent reads: the 2019 case.
pub(super) const TREND_MICRO_ROWS: u32 = 68_000;

/// Picks the users, days and events of the four malicious scenarios, at
/// `intensity` when given (see [`Intensity`]).
pub(super) fn plan_all(
    org: &mut Org,
    rng: &mut ChaCha8Rng,
    intensity: Option<&Intensity>,
) -> Result<(), GenError> {
    let days = org.days;
    // The last third of the period, never before day 11 so that even a night
    // session in Manila (UTC+8) starts after the first ten UTC days.
    let first = (days - days / 3).max(11);
    if first >= days {
        return Err(GenError::InvalidConfig(format!(
            "scenarios need at least 14 days, got {days}"
        )));
    }
    let mut taken: Vec<u32> = Vec::new();
    let trend = pick_user(org, rng, &mut taken, &[Group::Tier1], |_, _| 1.0)?;
    let night = pick_user(org, rng, &mut taken, &[Group::Tier2], |_, _| 1.0)?;
    let exfil = pick_user(org, rng, &mut taken, &[Group::Billing], |org, u| {
        // Prefer users for whom 30–50 queries of 200–400 rows make 8–12×.
        let e = org.expected_daily_rows(u);
        if (6_000.0 / 11.0..=20_000.0 / 7.0).contains(&e) {
            1.0
        } else {
            0.0
        }
    })?;
    // With an intensity, the novel-table user must have a table their peers
    // read and they never do, so the peer-used variant exists. Both variants
    // pick the same way, so the same user acts out either.
    let novel = pick_user(
        org,
        rng,
        &mut taken,
        &[Group::Tier2, Group::Billing],
        |org, u| {
            if intensity.is_none() || !peer_tables_missing(org, u).is_empty() {
                1.0
            } else {
                0.0
            }
        },
    )?;
    if intensity.is_some_and(|i| i.novel == NovelTables::PeerUsed)
        && peer_tables_missing(org, novel).is_empty()
    {
        return Err(GenError::InvalidConfig(
            "intensity: no tier2 or billing user lacks a table their peer group reads, so the \
             peer-used novel-table scenario cannot be planned; use more users"
                .into(),
        ));
    }

    let plans = [
        (trend, true, "trend-micro"),
        (night, false, "off-hours"),
        (novel, false, "novel-table"),
        (exfil, false, "slow-exfiltration"),
    ];
    for (i, (u, weekday_only, name)) in plans.into_iter().enumerate() {
        let user = &org.users[u as usize];
        let candidates: Vec<u32> = (first..days)
            .filter(|&d| {
                let wd = org.clock.weekdays[d as usize];
                user.works_weekday(wd) && (!weekday_only || wd < 5)
            })
            .collect();
        let day = if candidates.is_empty() {
            rng.random_range(first..days)
        } else {
            candidates[rng.random_range(0..candidates.len())]
        };
        // The user comes to work that day, as on any other.
        for block in org.users[u as usize].leave.iter_mut() {
            if block.1 > 0 && day >= block.0 && day < block.0 + block.1 {
                block.1 = 0;
            }
        }
        let plan = match name {
            "trend-micro" => trend_micro(org, u, day, rng),
            "off-hours" => off_hours(org, u, day, rng, intensity),
            "novel-table" => novel_table(org, u, day, rng, intensity),
            _ => slow_exfiltration(org, u, day, rng, intensity),
        };
        org.scenarios.push(plan);
        org.users[u as usize].scenario = Some(i as u8);
    }
    Ok(())
}

/// Picks a distinct day-shift user from `groups`, weighting by `pref` when any
/// candidate has a positive preference. A group without day-shift members has
/// its first member moved onto a day shift (only happens in tiny orgs).
pub(super) fn pick_user(
    org: &mut Org,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    groups: &[Group],
    pref: impl Fn(&Org, u32) -> f64,
) -> Result<u32, GenError> {
    let pool: Vec<u32> = (0..org.users.len() as u32)
        .filter(|&u| groups.contains(&org.users[u as usize].group) && !taken.contains(&u))
        .collect();
    let Some(&fallback) = pool.first() else {
        let names: Vec<&str> = groups.iter().map(|g| g.name()).collect();
        return Err(GenError::InvalidConfig(format!(
            "scenarios need another {} user; use more users (at least 12) or turn scenarios off",
            names.join(" or ")
        )));
    };
    let day_shift: Vec<u32> = pool
        .iter()
        .copied()
        .filter(|&u| org.users[u as usize].shift == Shift::Day)
        .collect();
    let u = if day_shift.is_empty() {
        let user = &mut org.users[fallback as usize];
        user.shift = Shift::Day;
        user.start_min = 8 * 60;
        fallback
    } else {
        let weighted: Vec<(u32, f64)> = day_shift.iter().map(|&u| (u, pref(org, u))).collect();
        if weighted.iter().any(|&(_, w)| w > 0.0) {
            pick_weighted(&weighted, rng)
        } else {
            // Nobody fits the preference: take the closest to ~1,200 rows a day.
            let score = |u: u32| (org.expected_daily_rows(u) / 1_200.0).ln().abs();
            day_shift
                .iter()
                .copied()
                .min_by(|&a, &b| score(a).total_cmp(&score(b)))
                .unwrap_or(fallback)
        }
    };
    taken.push(u);
    Ok(u)
}

/// Tables other members of `u`'s peer group read by habit and `u` never
/// does, most widely read first (ties by table id).
fn peer_tables_missing(org: &Org, u: u32) -> Vec<u8> {
    let group = org.users[u as usize].group;
    let own: Vec<u8> = org.habits(u).iter().map(|h| h.table).collect();
    let mut readers = [0u32; TABLES.len()];
    for peer in org.members(group).filter(|&p| p != u) {
        for h in org.habits(peer) {
            readers[usize::from(h.table)] += 1;
        }
    }
    let mut missing: Vec<u8> = (0..TABLES.len() as u8)
        .filter(|t| readers[usize::from(*t)] > 0 && !own.contains(t))
        .collect();
    missing.sort_by_key(|&t| (std::cmp::Reverse(readers[usize::from(t)]), t));
    missing
}

fn tz_name(org: &Org, u: u32) -> &str {
    org.zone(u)
}

/// `n` sorted times in `[start, end]`, the first exactly at `start`.
pub(super) fn times(rng: &mut ChaCha8Rng, n: usize, start: i64, end: i64) -> Vec<i64> {
    let mut t: Vec<i64> = (0..n).map(|_| rng.random_range(start..=end)).collect();
    t.sort_unstable();
    if let Some(first) = t.first_mut() {
        *first = start;
    }
    t
}

/// Nominal working hours of a day-shift user, trimmed by `margin` at each end.
fn work_window(org: &Org, u: u32, margin: i64) -> (i64, i64) {
    let user = &org.users[u as usize];
    let s = i64::from(user.start_min) * MIN_MS;
    (s + margin, s + i64::from(user.len_min) * MIN_MS - margin)
}

fn trend_micro(org: &Org, u: u32, day: u32, rng: &mut ChaCha8Rng) -> ScenarioPlan {
    let start = (HOUR_MS + 50 * MIN_MS) + rng.random_range(0..30 * MIN_MS);
    let duration = rng.random_range(35..=45) * MIN_MS;
    let total = rng.random_range(15..=25usize);
    let dumps: Vec<u32> = match rng.random_range(1..=3) {
        1 => vec![TREND_MICRO_ROWS],
        2 => {
            let a = rng.random_range(25..=43) * 1_000;
            vec![a, TREND_MICRO_ROWS - a]
        }
        _ => {
            let a = rng.random_range(15..=28) * 1_000;
            let b = rng.random_range(15..=28) * 1_000;
            vec![a, b, TREND_MICRO_ROWS - a - b]
        }
    };
    let contacts_total = rng.random_range(4_700..=5_200u32);
    let contacts: Vec<u32> = if rng.random_bool(0.5) {
        vec![contacts_total]
    } else {
        let a = (f64::from(contacts_total) * rng.random_range(0.4..0.6)) as u32;
        vec![a, contacts_total - a]
    };
    let mut lookups = total - dumps.len() - contacts.len();
    let mut ops: Vec<(u8, u32)> = Vec::with_capacity(total);
    let lookup = |rng: &mut ChaCha8Rng, ops: &mut Vec<(u8, u32)>, lookups: &mut usize| {
        if *lookups > 0 {
            let table = pick_weighted(&[(TICKETS, 0.5), (COMMENTS, 0.35), (KB, 0.15)], rng);
            let rows = (3.0 * lognormal(rng, 0.7)).round().clamp(1.0, 30.0) as u32;
            ops.push((table, rows));
            *lookups -= 1;
        }
    };
    // A few normal-looking ticket lookups first, then the dumps with lookups between.
    for _ in 0..rng.random_range(3..=5) {
        lookup(rng, &mut ops, &mut lookups);
    }
    for &rows in &dumps {
        ops.push((CUSTOMERS, rows));
        lookup(rng, &mut ops, &mut lookups);
    }
    for &rows in &contacts {
        ops.push((CRM_CONTACTS, rows));
        lookup(rng, &mut ops, &mut lookups);
    }
    while lookups > 0 {
        lookup(rng, &mut ops, &mut lookups);
    }
    let ts = times(rng, ops.len(), start, start + duration);
    let events = ts
        .iter()
        .zip(&ops)
        .map(|(&ms, &(table, rows))| LocalEv {
            ms,
            table,
            action: SELECT,
            rows,
        })
        .collect();
    let user = &org.users[u as usize];
    let parts: Vec<String> = dumps.iter().map(u32::to_string).collect();
    let description = format!(
        "tier1 agent {} (day shift from {}) runs {} queries over {} min from {} {} on {}: \
         reads all of support.customers ({} rows in {}) and crm.contacts ({} rows), a table \
         tier-1 never reads",
        org.login(u),
        Clock::hhmm(i64::from(user.start_min) * MIN_MS),
        ops.len(),
        duration / MIN_MS,
        Clock::hhmm(start),
        tz_name(org, u),
        org.clock.dates[day as usize],
        TREND_MICRO_ROWS,
        if dumps.len() == 1 {
            "one query".to_string()
        } else {
            format!("{} queries: {}", dumps.len(), parts.join(" + "))
        },
        contacts_total,
    );
    ScenarioPlan {
        name: "trend-micro",
        user: u,
        day,
        night: true,
        events,
        description,
    }
}

fn off_hours(
    org: &Org,
    u: u32,
    day: u32,
    rng: &mut ChaCha8Rng,
    intensity: Option<&Intensity>,
) -> ScenarioPlan {
    let late = rng.random_range(0..15 * MIN_MS);
    let early = rng.random_range(0..15 * MIN_MS);
    // By default 01:00–03:30 local; with an intensity the same 2.5 hours
    // starting that many hours after the user's shift ends (past midnight
    // when the shift is long enough: local times beyond 24 h are the next day).
    let (start, end) = match intensity {
        None => (HOUR_MS + late, 3 * HOUR_MS + 30 * MIN_MS - early),
        Some(i) => {
            let from = work_window(org, u, 0).1 + (i.off_hours_shift_hours * HOUR_MS as f64) as i64;
            (from + late, from + 2 * HOUR_MS + 30 * MIN_MS - early)
        }
    };
    let n = rng.random_range(30..=60usize);
    let habits = org.habits(u);
    let events: Vec<LocalEv> = times(rng, n, start, end)
        .into_iter()
        .map(|ms| {
            let r: f32 = rng.random();
            let h = habits
                .iter()
                .find(|h| r < h.cum)
                .unwrap_or(&habits[habits.len() - 1]);
            LocalEv {
                ms,
                table: h.table,
                action: SELECT,
                rows: sample_rows(h, rng),
            }
        })
        .collect();
    let rows: u64 = events.iter().map(|e| u64::from(e.rows)).sum();
    let (s, e) = work_window(org, u, 0);
    let mut description = format!(
        "tier2 agent {} (day shift {}–{}) runs {} queries of their usual tables at their usual \
         sizes ({} rows in all) between {} and {} {} on {}",
        org.login(u),
        Clock::hhmm(s),
        Clock::hhmm(e),
        n,
        rows,
        Clock::hhmm(start),
        Clock::hhmm(events.last().map_or(end, |e| e.ms)),
        tz_name(org, u),
        org.clock.dates[day as usize],
    );
    if let Some(i) = intensity {
        description.push_str(&format!(
            " ({} h after their shift ends)",
            i.off_hours_shift_hours
        ));
    }
    ScenarioPlan {
        name: "off-hours",
        user: u,
        day,
        night: true,
        events,
        description,
    }
}

fn novel_table(
    org: &Org,
    u: u32,
    day: u32,
    rng: &mut ChaCha8Rng,
    intensity: Option<&Intensity>,
) -> ScenarioPlan {
    let (lo, hi) = work_window(org, u, 30 * MIN_MS);
    let salaries = rng.random_range(2..=5usize);
    let auth = rng.random_range(2..=5usize);
    // The peer-used variant reads the (up to two) tables the user's peers
    // read most and the user never does, as many times as the default reads
    // hr.salaries and auth.users.
    let (first, second) = match intensity.map(|i| i.novel) {
        Some(NovelTables::PeerUsed) => {
            let missing = peer_tables_missing(org, u);
            let a = missing.first().copied().unwrap_or(HR_SALARIES);
            (a, missing.get(1).copied().unwrap_or(a))
        }
        _ => (HR_SALARIES, AUTH_USERS),
    };
    let mut tables: Vec<u8> = std::iter::repeat_n(first, salaries)
        .chain(std::iter::repeat_n(second, auth))
        .collect();
    // Interleave the two tables the way someone poking around would.
    for i in (1..tables.len()).rev() {
        tables.swap(i, rng.random_range(0..=i));
    }
    let from = rng.random_range(lo..=hi - HOUR_MS);
    let ts = times(rng, tables.len(), from, hi);
    let events: Vec<LocalEv> = ts
        .iter()
        .zip(&tables)
        .map(|(&ms, &table)| LocalEv {
            ms,
            table,
            action: SELECT,
            rows: rng.random_range(10..=200),
        })
        .collect();
    let sum = |t: u8| -> u32 { events.iter().filter(|e| e.table == t).map(|e| e.rows).sum() };
    if first != HR_SALARIES {
        let count = |t: u8| events.iter().filter(|e| e.table == t).count();
        let read: Vec<String> = [first, second]
            .into_iter()
            .enumerate()
            .filter(|&(i, t)| i == 0 || t != first)
            .map(|(_, t)| {
                format!(
                    "{} ({} queries, {} rows)",
                    TABLES[usize::from(t)].name,
                    count(t),
                    sum(t)
                )
            })
            .collect();
        let description = format!(
            "{} user {} reads {}, which their peer group reads and they never have, between {} \
             and {} {} on {}, amid a normal working day",
            org.users[u as usize].group.name(),
            org.login(u),
            read.join(" and "),
            Clock::hhmm(ts[0]),
            Clock::hhmm(ts[ts.len() - 1]),
            tz_name(org, u),
            org.clock.dates[day as usize],
        );
        return ScenarioPlan {
            name: "novel-table",
            user: u,
            day,
            night: false,
            events,
            description,
        };
    }
    let description = format!(
        "{} user {} reads hr.salaries ({} queries, {} rows), which nobody reads, and auth.users \
         ({} queries, {} rows), which only DBAs read, between {} and {} {} on {}, amid a normal \
         working day",
        org.users[u as usize].group.name(),
        org.login(u),
        salaries,
        sum(HR_SALARIES),
        auth,
        sum(AUTH_USERS),
        Clock::hhmm(ts[0]),
        Clock::hhmm(ts[ts.len() - 1]),
        tz_name(org, u),
        org.clock.dates[day as usize],
    );
    ScenarioPlan {
        name: "novel-table",
        user: u,
        day,
        night: false,
        events,
        description,
    }
}

fn slow_exfiltration(
    org: &Org,
    u: u32,
    day: u32,
    rng: &mut ChaCha8Rng,
    intensity: Option<&Intensity>,
) -> ScenarioPlan {
    let normal = org.expected_daily_rows(u).max(1.0);
    let drawn = rng.random_range(8.0..12.0);
    let target = intensity.map_or(drawn, |i| i.exfil_factor);
    let extra = (target - 1.0) * normal;
    // By default 30–50 reads of 200–400 rows; with an intensity as many
    // ~300-row reads as the extra needs, up to 50, then bigger reads (at
    // most the whole table each).
    let (min_n, min_rows, max_rows) = match intensity {
        None => (30, 200.0, 400.0),
        Some(_) => (1, 1.0, f64::from(TABLES[usize::from(CUSTOMERS)].size)),
    };
    let n = ((extra / 300.0).round() as usize).clamp(min_n, 50);
    let per = (extra / n as f64).clamp(min_rows, max_rows);
    let (lo, hi) = work_window(org, u, 15 * MIN_MS);
    let lo = lo + rng.random_range(0..20 * MIN_MS);
    let events: Vec<LocalEv> = times(rng, n, lo, hi)
        .into_iter()
        .map(|ms| {
            let rows = (per * rng.random_range(0.85..1.15))
                .round()
                .clamp(min_rows, max_rows) as u32;
            LocalEv {
                ms,
                table: CUSTOMERS,
                action: SELECT,
                rows,
            }
        })
        .collect();
    let total: u32 = events.iter().map(|e| e.rows).sum();
    let factor = (normal + f64::from(total)) / normal;
    let sizes = match intensity {
        None => "200–400".to_string(),
        Some(_) => {
            let min = events.iter().map(|e| e.rows).min().unwrap_or(0);
            let max = events.iter().map(|e| e.rows).max().unwrap_or(0);
            format!("{min}–{max}")
        }
    };
    let description = format!(
        "billing user {} runs {} extra support.customers queries of {} rows ({} rows) \
         between {} and {} {} on {}: the day's total is about {:.1}× their normal daily \
         ~{:.0} rows",
        org.login(u),
        n,
        sizes,
        total,
        Clock::hhmm(lo),
        Clock::hhmm(events.last().map_or(hi, |e| e.ms)),
        tz_name(org, u),
        org.clock.dates[day as usize],
        factor,
        normal,
    );
    ScenarioPlan {
        name: "slow-exfiltration",
        user: u,
        day,
        night: false,
        events,
        description,
    }
}
