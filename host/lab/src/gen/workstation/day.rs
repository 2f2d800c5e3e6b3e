//! One person's workstation day: logon at the start of the shift, a break
//! or two (logoff, logon), logoff at the end (sometimes forgotten),
//! removable drives for those who use them, and for IT admins logons to
//! other machines, some of them new every day. Each user-day draws from its
//! own RNG, as in the database shape, so a day can be regenerated at will.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::{Role, WsOrg};
use crate::generator::day::{jitter, user_day_rng};
use crate::generator::org::{self, HOUR_MS, MIN_MS, pick_weighted};

pub(super) const LOGON: u8 = 0;
pub(super) const LOGOFF: u8 = 1;
pub(super) const USB_CONNECT: u8 = 2;
pub(super) const USB_DISCONNECT: u8 = 3;
/// Event actions, indexed by the constants above.
pub(super) const ACTIONS: [&str; 4] = ["logon", "logoff", "usb-connect", "usb-disconnect"];

/// Tag of events that belong to no scenario.
pub(super) const TAG_NONE: u8 = 0;
/// Tag of scenario plan `i`'s events is `TAG_SCENARIO + i`.
pub(super) const TAG_SCENARIO: u8 = 1;
/// At most this many scenario plans.
pub(super) const MAX_PLANS: usize = 8;
pub(super) const TAG_COUNT: usize = TAG_SCENARIO as usize + MAX_PLANS;

/// Removable-drive connects a day during a surge.
pub(super) const SURGE_PER_DAY: (u32, u32) = (20, 30);

/// One event in compact form; the derived order sorts by time, then user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct WsEv {
    pub ts: i64,
    pub user: u32,
    pub action: u8,
    /// The machine the event happens on (for a drive: the machine it is
    /// plugged into).
    pub machine: u32,
    pub tag: u8,
}

/// Appends everything person `u` does on local day `d` to `out` (unsorted).
pub(super) fn generate(org: &WsOrg, u: u32, d: u32, out: &mut Vec<WsEv>) {
    let p = &org.people[u as usize];
    let tz = p.tz;
    let mut emit = |ms: i64, action: u8, machine: u32, tag: u8| {
        out.push(WsEv {
            ts: org.clock.utc(tz, d, ms),
            user: u,
            action,
            machine,
            tag,
        });
    };
    let plans = || {
        org.plans
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.user == u)
            .map(|(i, s)| (TAG_SCENARIO + i as u8, s))
    };
    if p.works(&org.clock, d) {
        let mut rng = user_day_rng(org.seed, u, d, 0);
        let tag = plans()
            .find(|(_, s)| s.tag_from.is_some_and(|f| d >= f))
            .map_or(TAG_NONE, |(t, _)| t);
        let surge = plans()
            .find(|(_, s)| s.surge_from.is_some_and(|f| d >= f))
            .map(|(t, _)| t);
        normal_day(org, u, d, &mut rng, tag, surge, &mut emit);
    }
    for (tag, s) in plans() {
        for e in s.events.iter().filter(|e| e.day == d) {
            emit(e.ms, e.action, e.machine, tag);
        }
    }
}

/// A regular working day. `tag` marks all of it (a look-alike that changes
/// the whole day); `surge` replaces the day's removable-drive use with a
/// surge tagged so.
fn normal_day(
    org: &WsOrg,
    u: u32,
    d: u32,
    rng: &mut ChaCha8Rng,
    tag: u8,
    surge: Option<u8>,
    emit: &mut impl FnMut(i64, u8, u32, u8),
) {
    let p = &org.people[u as usize];
    let nominal = if p.on_nights(d) && p.shift != super::Shift::Night {
        22 * HOUR_MS
    } else {
        i64::from(p.start_min) * MIN_MS
    };
    let start = nominal + jitter(rng);
    let end = nominal + i64::from(p.len_min) * MIN_MS + jitter(rng);
    let shared = &org.shared[usize::from(p.tz)];
    let machine = if p.hot_desk && !shared.is_empty() && rng.random_bool(0.5) {
        shared[rng.random_range(0..shared.len())]
    } else {
        p.machine
    };

    // Breaks: the screen locks (logoff) and unlocks (logon).
    emit(start, LOGON, machine, tag);
    let breaks = pick_weighted(&[(0u32, 0.35), (1, 0.4), (2, 0.25)], rng);
    let mut free_from = start + HOUR_MS;
    for i in 0..breaks {
        let latest = end - HOUR_MS - (breaks - 1 - i) as i64 * 2 * HOUR_MS;
        if latest <= free_from {
            break;
        }
        let off = rng.random_range(free_from..latest);
        let on = off + rng.random_range(10..=60) * MIN_MS;
        emit(off, LOGOFF, machine, tag);
        emit(on, LOGON, machine, tag);
        free_from = on + 30 * MIN_MS;
    }
    // Some people leave without logging off.
    if !rng.random_bool(0.06) {
        emit(end, LOGOFF, machine, tag);
    }

    let (drives, drive_tag) = match surge {
        Some(t) => (rng.random_range(SURGE_PER_DAY.0..=SURGE_PER_DAY.1), t),
        None if p.usb_days > 0.0 && rng.random::<f32>() < p.usb_days => {
            let n = Poisson::new(f64::from(p.usb_per_day)).map_or(1.0, |dist| dist.sample(rng));
            ((n as u32).max(1), tag)
        }
        None => (0, tag),
    };
    for _ in 0..drives {
        let on = rng.random_range(start..(end - 5 * MIN_MS).max(start + 1));
        let off = (on + rng.random_range(1..=45) * MIN_MS).min(end.max(on + MIN_MS));
        emit(on, USB_CONNECT, machine, drive_tag);
        emit(off, USB_DISCONNECT, machine, drive_tag);
    }

    if p.role == Role::ItAdmin {
        admin_visits(org, u, start, end, rng, tag, emit);
    }
}

/// Machines an admin looks after often: a fixed dozen per admin.
const USUAL_MACHINES: u64 = 12;

/// An IT admin's logons to other people's machines: half to machines they
/// look after often, half to any machine in the company (new ones daily).
fn admin_visits(
    org: &WsOrg,
    u: u32,
    start: i64,
    end: i64,
    rng: &mut ChaCha8Rng,
    tag: u8,
    emit: &mut impl FnMut(i64, u8, u32, u8),
) {
    let people = org.people.len() as u64;
    let lo = start + 15 * MIN_MS;
    let hi = end - 45 * MIN_MS;
    if hi <= lo {
        return;
    }
    for _ in 0..rng.random_range(1..=4) {
        let machine = if rng.random_bool(0.5) {
            let j = rng.random_range(0..USUAL_MACHINES);
            (org::mix(org.seed, u64::from(u) * USUAL_MACHINES + j) % people) as u32
        } else {
            rng.random_range(0..people as u32)
        };
        if machine == u {
            continue;
        }
        let t = rng.random_range(lo..hi);
        emit(t, LOGON, machine, tag);
        emit(t + rng.random_range(5..=40) * MIN_MS, LOGOFF, machine, tag);
    }
}
