//! The workstation shape's scenarios: who, which days, which events, and
//! their labels. Modelled on the public descriptions of the CERT insider
//! threat data set r4.2's three scenarios, with benign look-alikes for each.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::day::{
    LOGOFF, LOGON, MAX_PLANS, SURGE_PER_DAY, TAG_SCENARIO, USB_CONNECT, USB_DISCONNECT,
};
use super::{ROLLOUT_MACHINES, Role, Shift, WsOrg};
use crate::generator::org::{Clock, HOUR_MS, MIN_MS};
use crate::generator::{GenError, Scenario, TagStats, rfc3339};

/// One planned event, in milliseconds after local midnight of `day`.
pub(super) struct PlanEv {
    pub day: u32,
    pub ms: i64,
    pub action: u8,
    pub machine: u32,
}

/// A scenario as planned: explicit events, and changes to the person's
/// ordinary days (a surge of removable drives, or every day tagged from a
/// day on).
pub(super) struct ScenarioPlan {
    pub name: &'static str,
    pub user: u32,
    pub malicious: bool,
    pub events: Vec<PlanEv>,
    /// From this day the person's working days have a surge of drives.
    pub surge_from: Option<u32>,
    /// From this day all of the person's ordinary events belong to the scenario.
    pub tag_from: Option<u32>,
    /// False for behaviour that runs through the whole period: no start.
    pub has_start: bool,
    pub description: String,
}

impl ScenarioPlan {
    /// A plan with no events and no change to ordinary days yet, with a start.
    fn new(name: &'static str, user: u32, malicious: bool, description: String) -> ScenarioPlan {
        ScenarioPlan {
            name,
            user,
            malicious,
            events: Vec::new(),
            surge_from: None,
            tag_from: None,
            has_start: true,
            description,
        }
    }
}

/// Plans the malicious scenarios (when `malicious`) and the benign
/// look-alikes (always: they are normal behaviour). A malicious scenario
/// without a suitable person is an error; a look-alike is left out.
pub(super) fn plan_all(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    malicious: bool,
) -> Result<(), GenError> {
    if org.days < 3 {
        return Ok(());
    }
    // The last third, never before day 11, so detectors have a baseline.
    let first = (org.days - org.days / 3).max(11).min(org.days - 2);
    let mut taken: Vec<u32> = Vec::new();
    type Planner = fn(&mut WsOrg, &mut ChaCha8Rng, &mut Vec<u32>, u32) -> Option<ScenarioPlan>;
    let malicious_plans: [(&str, Planner); 3] = [
        ("after-hours-usb", after_hours_usb),
        ("usb-surge", usb_surge),
        ("admin-supervisor-usb", admin_supervisor_usb),
    ];
    if malicious {
        for (name, plan) in malicious_plans {
            let p = plan(org, rng, &mut taken, first).ok_or_else(|| {
                GenError::InvalidConfig(format!(
                    "workstation scenario {name}: nobody suitable; use more users (at least 12) \
                     or turn scenarios off"
                ))
            })?;
            org.plans.push(p);
        }
    }
    let benign: [Planner; 3] = [night_shift_move, machine_rollout, heavy_usb_user];
    for plan in benign {
        if let Some(p) = plan(org, rng, &mut taken, first) {
            org.plans.push(p);
        }
    }
    debug_assert!(org.plans.len() <= MAX_PLANS);
    Ok(())
}

/// A random person not yet taken for whom `fits` holds.
fn pick(
    org: &WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    fits: impl Fn(&super::Person) -> bool,
) -> Option<u32> {
    let pool: Vec<u32> = (0..org.people.len() as u32)
        .filter(|u| !taken.contains(u) && fits(&org.people[*u as usize]))
        .collect();
    let u = *pool.get(rng.random_range(0..pool.len().max(1)))?;
    taken.push(u);
    Some(u)
}

/// A random day in `from..to` on which `u` works by weekday (leave aside),
/// or `from` when there is none.
fn working_day(org: &WsOrg, rng: &mut ChaCha8Rng, u: u32, from: u32, to: u32) -> u32 {
    let p = &org.people[u as usize];
    let days: Vec<u32> = (from..to)
        .filter(|&d| {
            crate::generator::org::works_weekday(
                p.weekend_rota,
                p.rota_off,
                org.clock.weekdays[d as usize],
            )
        })
        .collect();
    days.get(rng.random_range(0..days.len().max(1)))
        .copied()
        .unwrap_or(from)
}

/// Cancels `u`'s leave that overlaps days `from..=to`.
fn no_leave(org: &mut WsOrg, u: u32, from: u32, to: u32) {
    for block in org.people[u as usize].leave.iter_mut() {
        if block.1 > 0 && block.0 <= to && block.0 + block.1 > from {
            block.1 = 0;
        }
    }
}

fn shift_end(org: &WsOrg, u: u32) -> i64 {
    let p = &org.people[u as usize];
    i64::from(p.start_min + p.len_min) * MIN_MS
}

fn date(org: &WsOrg, d: u32) -> jiff::civil::Date {
    org.clock.dates[d as usize]
}

/// When someone leaves, for descriptions: after their last day, or (when
/// that is the period's last) at its end.
fn leaving(org: &WsOrg, last_day: Option<u32>) -> String {
    match last_day {
        Some(l) => format!(" after {}", date(org, l)),
        None => " at the end of the period".into(),
    }
}

/// Day-shift office workers: regular hours at their own desk.
fn office_worker(p: &super::Person) -> bool {
    p.shift == Shift::Day
        && !p.hot_desk
        && matches!(
            p.role,
            Role::Engineering | Role::Sales | Role::Finance | Role::Management | Role::Support
        )
}

/// CERT r4.2 scenario 1: someone who never worked after hours or used a
/// removable drive logs on after hours on a few days, uses a drive each
/// time, and leaves the organisation.
fn after_hours_usb(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    first: u32,
) -> Option<ScenarioPlan> {
    let u = pick(org, rng, taken, |p| office_worker(p) && p.usb_days == 0.0)?;
    let last_possible = org.days.saturating_sub(2).max(first + 1);
    let a = working_day(org, rng, u, first, last_possible);
    let mut session_days = vec![a];
    let until = (a + 8).min(last_possible + 1);
    for d in a + 1..until {
        if session_days.len() < 4 && rng.random_bool(0.45) {
            session_days.push(d);
        }
    }
    let last = *session_days.last()?;
    no_leave(org, u, a, last);
    let p = &mut org.people[u as usize];
    p.usb_days = 0.0;
    if last + 1 < org.days {
        p.last_day = Some(last);
    }
    let machine = p.machine;
    let end = shift_end(org, u);
    let mut events = Vec::new();
    let mut connects = 0;
    let mut from_to = (i64::MAX, 0);
    for &day in &session_days {
        let mut t = end + rng.random_range(3 * HOUR_MS..5 * HOUR_MS);
        from_to.0 = from_to.0.min(t);
        events.push(PlanEv {
            day,
            ms: t,
            action: LOGON,
            machine,
        });
        for _ in 0..rng.random_range(1..=2) {
            t += rng.random_range(2..=10) * MIN_MS;
            events.push(PlanEv {
                day,
                ms: t,
                action: USB_CONNECT,
                machine,
            });
            t += rng.random_range(5..=40) * MIN_MS;
            events.push(PlanEv {
                day,
                ms: t,
                action: USB_DISCONNECT,
                machine,
            });
            connects += 1;
        }
        t += rng.random_range(2..=15) * MIN_MS;
        events.push(PlanEv {
            day,
            ms: t,
            action: LOGOFF,
            machine,
        });
        from_to.1 = from_to.1.max(t);
    }
    let p = &org.people[u as usize];
    let description = format!(
        "{} {} (day shift {}–{}, never logged on after hours or used a removable drive) logs on \
         at night on {} day{} from {} to {} (between {} and {} {}), connecting a removable drive \
         {} time{}, and leaves the organisation{}",
        p.role.name(),
        org.login(u),
        Clock::hhmm(i64::from(p.start_min) * MIN_MS),
        Clock::hhmm(end),
        session_days.len(),
        if session_days.len() == 1 { "" } else { "s" },
        date(org, a),
        date(org, last),
        Clock::hhmm(from_to.0),
        Clock::hhmm(from_to.1),
        org.zone(u),
        connects,
        if connects == 1 { "" } else { "s" },
        leaving(org, p.last_day),
    );
    Some(ScenarioPlan {
        events,
        ..ScenarioPlan::new("after-hours-usb", u, true, description)
    })
}

/// CERT r4.2 scenario 2: someone who uses removable drives a few times a
/// day starts using them twenty and more times a day, weeks before leaving.
fn usb_surge(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    first: u32,
) -> Option<ScenarioPlan> {
    let u = pick(org, rng, taken, |p| {
        office_worker(p) && p.role != Role::Support
    })?;
    let a = working_day(org, rng, u, first, (first + 3).min(org.days - 2));
    let last = org.days.saturating_sub(2).max(a + 1).min(org.days - 1);
    no_leave(org, u, a, last);
    let p = &mut org.people[u as usize];
    p.usb_days = 1.0;
    p.usb_per_day = rng.random_range(4.0..6.0);
    if last + 1 < org.days {
        p.last_day = Some(last);
    }
    let p = &org.people[u as usize];
    let description = format!(
        "{} {} connects a removable drive about {:.1} times each working day, then from {} \
         {}–{} times a day at their usual hours, and leaves the organisation{}",
        p.role.name(),
        org.login(u),
        p.usb_per_day,
        date(org, a),
        SURGE_PER_DAY.0,
        SURGE_PER_DAY.1,
        leaving(org, p.last_day),
    );
    Some(ScenarioPlan {
        surge_from: Some(a),
        ..ScenarioPlan::new("usb-surge", u, true, description)
    })
}

/// CERT r4.2 scenario 3: a system administrator logs on to their
/// supervisor's machine after hours, uses a removable drive there, and
/// leaves the organisation.
fn admin_supervisor_usb(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    first: u32,
) -> Option<ScenarioPlan> {
    let u = pick(org, rng, taken, |p| {
        p.role == Role::ItAdmin && p.shift == Shift::Day && p.supervisor.is_some()
    })?;
    let boss = org.people[u as usize].supervisor?;
    let a = working_day(
        org,
        rng,
        u,
        first,
        org.days.saturating_sub(1).max(first + 1),
    );
    no_leave(org, u, a, a);
    let machine = org.people[boss as usize].machine;
    let mut t = shift_end(org, boss) + rng.random_range(HOUR_MS..2 * HOUR_MS);
    let start = t;
    let mut events = vec![PlanEv {
        day: a,
        ms: t,
        action: LOGON,
        machine,
    }];
    t += rng.random_range(1..=4) * MIN_MS;
    events.push(PlanEv {
        day: a,
        ms: t,
        action: USB_CONNECT,
        machine,
    });
    t += rng.random_range(3..=10) * MIN_MS;
    events.push(PlanEv {
        day: a,
        ms: t,
        action: USB_DISCONNECT,
        machine,
    });
    t += rng.random_range(1..=5) * MIN_MS;
    events.push(PlanEv {
        day: a,
        ms: t,
        action: LOGOFF,
        machine,
    });
    if a + 1 < org.days {
        org.people[u as usize].last_day = Some(a);
    }
    let description = format!(
        "IT admin {} logs on to their supervisor {}'s machine {} at {} {} on {}, after the \
         supervisor's day, connects a removable drive there for a few minutes, and leaves the \
         organisation{}",
        org.login(u),
        org.login(boss),
        org.machines.name(machine),
        Clock::hhmm(start),
        org.zone(u),
        date(org, a),
        if a + 1 < org.days {
            " the same day"
        } else {
            " at the end of the period"
        },
    );
    Some(ScenarioPlan {
        events,
        ..ScenarioPlan::new("admin-supervisor-usb", u, true, description)
    })
}

/// Look-alike of scenario 1: a support or operations person moves to the
/// night shift on a planned date (a day off between) and works nights from then on.
fn night_shift_move(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    first: u32,
) -> Option<ScenarioPlan> {
    let u = pick(org, rng, taken, |p| {
        matches!(p.role, Role::Support | Role::Operations) && p.shift != Shift::Night
    })?;
    let n = working_day(
        org,
        rng,
        u,
        first,
        org.days.saturating_sub(2).max(first + 1),
    );
    no_leave(org, u, n.saturating_sub(1), org.days);
    org.people[u as usize].nights_from = Some(n);
    let p = &org.people[u as usize];
    let description = format!(
        "{} {} moves from their {} shift from {} to nights from {} ({} local, a planned rota \
         change with a day off before): every working day from then on is at night",
        p.role.name(),
        org.login(u),
        if p.shift == Shift::Late {
            "late"
        } else {
            "day"
        },
        Clock::hhmm(i64::from(p.start_min) * MIN_MS),
        date(org, n),
        org.zone(u),
    );
    Some(ScenarioPlan {
        tag_from: Some(n),
        ..ScenarioPlan::new("night-shift-move", u, false, description)
    })
}

/// Look-alike of scenario 3: an IT admin's machine-rollout day, logging on
/// to dozens of machines nobody has used before, imaging some from a drive.
fn machine_rollout(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    first: u32,
) -> Option<ScenarioPlan> {
    let u = pick(org, rng, taken, |p| {
        p.role == Role::ItAdmin && p.shift == Shift::Day
    })?;
    let r = working_day(org, rng, u, first, org.days);
    no_leave(org, u, r, r);
    let n = rng.random_range(25..=ROLLOUT_MACHINES);
    let p = &org.people[u as usize];
    let mut t = i64::from(p.start_min) * MIN_MS + HOUR_MS;
    let from = t;
    let mut events = Vec::new();
    let mut imaged = 0;
    for i in 0..n {
        let machine = org.rollout_base + i;
        events.push(PlanEv {
            day: r,
            ms: t,
            action: LOGON,
            machine,
        });
        if rng.random_bool(1.0 / 3.0) {
            events.push(PlanEv {
                day: r,
                ms: t + MIN_MS,
                action: USB_CONNECT,
                machine,
            });
            let off = t + rng.random_range(3..=6) * MIN_MS;
            events.push(PlanEv {
                day: r,
                ms: off,
                action: USB_DISCONNECT,
                machine,
            });
            imaged += 1;
        }
        let off = t + rng.random_range(7..=10) * MIN_MS;
        events.push(PlanEv {
            day: r,
            ms: off,
            action: LOGOFF,
            machine,
        });
        t = off + rng.random_range(1..=5) * MIN_MS;
    }
    let description = format!(
        "IT admin {} rolls out new machines on {}: logs on to {} machines never used before \
         between {} and {} {}, imaging {} of them from a removable drive",
        org.login(u),
        date(org, r),
        n,
        Clock::hhmm(from),
        Clock::hhmm(t),
        org.zone(u),
        imaged,
    );
    Some(ScenarioPlan {
        events,
        ..ScenarioPlan::new("machine-rollout", u, false, description)
    })
}

/// Look-alike of scenario 2: someone whose job has them use removable drives
/// 18–25 times every working day, from the first day on (no start).
fn heavy_usb_user(
    org: &mut WsOrg,
    rng: &mut ChaCha8Rng,
    taken: &mut Vec<u32>,
    _first: u32,
) -> Option<ScenarioPlan> {
    let u = pick(org, rng, taken, |p| {
        p.shift == Shift::Day && matches!(p.role, Role::Engineering | Role::Sales)
    })?;
    let p = &mut org.people[u as usize];
    p.usb_days = 1.0;
    p.usb_per_day = rng.random_range(18.0..25.0);
    let p = &org.people[u as usize];
    let description = format!(
        "{} {} connects removable drives about {:.0} times every working day, from the first \
         day on: heavy but their normal",
        p.role.name(),
        org.login(u),
        p.usb_per_day,
    );
    Some(ScenarioPlan {
        has_start: false,
        ..ScenarioPlan::new("heavy-usb-user", u, false, description)
    })
}

/// The labels: each plan with the time of its first event as written
/// (plans that have a start but wrote nothing are left out).
pub(super) fn labels(org: &WsOrg, stats: &[TagStats]) -> Vec<Scenario> {
    org.plans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let first = stats[usize::from(TAG_SCENARIO) + i].first;
            let start = match (s.has_start, first) {
                (true, None) => return None,
                (true, Some(t)) => Some(rfc3339(t)),
                (false, _) => None,
            };
            Some(Scenario {
                name: s.name.into(),
                user: org.login(s.user).into(),
                malicious: s.malicious,
                start,
                description: s.description.clone(),
            })
        })
        .collect()
}
