//! The workstation shape (`ueba gen --shape workstation`): a sparse log of
//! logons and logoffs per machine and of removable-media use.
//!
//! Real UEBA deployments see this shape as often as database logs: two to
//! twelve events per person a day, where one odd event matters. The
//! organisation is a company of support agents, engineers, finance, sales,
//! managers, IT administrators and a round-the-clock operations desk, at
//! the sites of the database shape. Everyone has their own machine (hot
//! desks share a few per site), IT admins log on to many machines and to
//! new ones every day, shift and night workers keep their own hours, and
//! people take leave.
//!
//! The insider scenarios follow the public descriptions of the CERT insider
//! threat data set r4.2 (the data is our own): a person who never worked
//! after hours or used removable drives starts doing both and then leaves;
//! a person whose removable-drive use jumps from a few a day to twenty and
//! more, weeks before leaving; a system administrator who logs on to their
//! supervisor's machine and uses a removable drive there. Benign look-alikes:
//! a move to the night shift, an IT admin's machine-rollout day, and a
//! person whose job has them use removable drives all day.
//!
//! Events (JSON lines): `action` is `logon`, `logoff`, `usb-connect` or
//! `usb-disconnect`; `resource` is the machine (`PC-1234`) for logons and
//! `removable-media` for drives; `source` is the machine; `rows` is 1. The
//! peer group is the job role.

mod day;
mod scenario;
#[cfg(test)]
mod tests;

use std::io::{self, Write};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{BERLIN, CHICAGO, DUBLIN, LONDON, LOS_ANGELES, MANILA, NEW_YORK, TZ_NAMES};
use super::names::{Logins, login_base};
/// When a person works: the same shifts as the database shape's users.
pub(super) use super::org::Shift;
use super::org::{self, Clock, draw_leave, lognormal, pick_weighted, split_by_shares};
use super::{
    Formatter, GenConfig, GenError, GenSummary, OutFiles, TagStats, push_int, write_file,
    write_identities,
};

use scenario::ScenarioPlan;

/// Largest workstation organisation: two days of events are held in memory
/// to sort them, about 300 bytes per person.
pub(super) const MAX_USERS: usize = 1_000_000;

/// A job role: the peer group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Support,
    Engineering,
    Finance,
    Sales,
    Management,
    ItAdmin,
    Operations,
}

pub(super) const ROLES: [Role; 7] = [
    Role::Support,
    Role::Engineering,
    Role::Finance,
    Role::Sales,
    Role::Management,
    Role::ItAdmin,
    Role::Operations,
];

impl Role {
    pub(super) fn name(self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::Engineering => "engineering",
            Role::Finance => "finance",
            Role::Sales => "sales",
            Role::Management => "management",
            Role::ItAdmin => "it-admin",
            Role::Operations => "operations",
        }
    }

    fn share(self) -> f64 {
        match self {
            Role::Support => 0.30,
            Role::Engineering => 0.18,
            Role::Finance => 0.10,
            Role::Sales => 0.12,
            Role::Management => 0.12,
            Role::ItAdmin => 0.06,
            Role::Operations => 0.12,
        }
    }

    fn sites(self) -> &'static [(u8, f64)] {
        match self {
            Role::Support => &[(MANILA, 0.45), (DUBLIN, 0.30), (CHICAGO, 0.25)],
            Role::Engineering => &[(BERLIN, 0.6), (LOS_ANGELES, 0.4)],
            Role::Finance => &[(NEW_YORK, 1.0)],
            Role::Sales => &[(NEW_YORK, 0.4), (LONDON, 0.4), (CHICAGO, 0.2)],
            Role::Management => &[(NEW_YORK, 0.3), (DUBLIN, 0.3), (LONDON, 0.2), (MANILA, 0.2)],
            Role::ItAdmin => &[(DUBLIN, 0.5), (MANILA, 0.5)],
            Role::Operations => &[(CHICAGO, 0.5), (MANILA, 0.5)],
        }
    }

    /// Probability that a member uses removable drives at all.
    fn usb_rate(self) -> f64 {
        match self {
            Role::Engineering | Role::Sales => 0.3,
            Role::ItAdmin => 0.7,
            Role::Management | Role::Finance => 0.15,
            Role::Support | Role::Operations => 0.05,
        }
    }
}

/// Everything drawn once per person.
#[derive(Clone, Debug)]
pub(super) struct Person {
    pub role: Role,
    pub tz: u8,
    pub shift: Shift,
    /// Nominal shift start, minutes after local midnight (night shifts run
    /// past midnight into the next calendar day).
    pub start_min: u32,
    pub len_min: u32,
    pub weekend_rota: bool,
    pub rota_off: u8,
    pub leave: [(u32, u32); 2],
    /// Own machine (index into the machine numbering).
    pub machine: u32,
    /// Works at a shared machine of the site on about half their days.
    pub hot_desk: bool,
    /// Share of working days with removable-drive use, and connects on such a day.
    pub usb_days: f32,
    pub usb_per_day: f32,
    /// The manager they report to, if any.
    pub supervisor: Option<u32>,
    /// Last day with any event: they left the organisation after it.
    pub last_day: Option<u32>,
    /// Moves to the night shift from this day (the day before is off).
    pub nights_from: Option<u32>,
}

impl Person {
    /// Whether the person works on day `d` of `clock` by their schedule.
    pub(super) fn works(&self, clock: &Clock, d: u32) -> bool {
        let wd = clock.weekdays[d as usize];
        org::works_weekday(self.weekend_rota, self.rota_off, wd)
            && !org::on_leave(&self.leave, d)
            && self.last_day.is_none_or(|l| d <= l)
            && self.nights_from.is_none_or(|n| d + 1 != n)
    }

    /// Whether day `d` is worked on the night shift.
    pub(super) fn on_nights(&self, d: u32) -> bool {
        self.shift == Shift::Night || self.nights_from.is_some_and(|n| d >= n)
    }
}

/// Machine names: `PC-` and a number from a seeded permutation, so own,
/// shared and newly rolled-out machines all look alike. Own machines are
/// `0..people`, then come the shared ones, then the rollout's.
pub(super) struct Machines {
    modulus: u64,
    offset: u64,
    digits: usize,
}

/// Multiplier of the machine-number permutation: prime, so coprime with
/// every power of ten.
const MACHINE_STRIDE: u64 = 7_919;

impl Machines {
    fn new(count: u32, seed: u64) -> Machines {
        let mut modulus = 10_000u64;
        let mut digits = 4;
        while modulus < 2 * u64::from(count) {
            modulus *= 10;
            digits += 1;
        }
        Machines {
            modulus,
            offset: org::mix(seed, 0x7063) % modulus,
            digits,
        }
    }

    /// Appends machine `m`'s name (`PC-0042`) to `out`.
    pub(super) fn push_name(&self, m: u32, out: &mut Vec<u8>) {
        let n = (u64::from(m) * MACHINE_STRIDE + self.offset) % self.modulus;
        out.extend_from_slice(b"PC-");
        push_int(out, n, self.digits);
    }

    pub(super) fn name(&self, m: u32) -> String {
        let mut v = Vec::new();
        self.push_name(m, &mut v);
        String::from_utf8_lossy(&v).into_owned()
    }
}

/// The generated workstation organisation.
pub(super) struct WsOrg {
    pub people: Vec<Person>,
    logins: Logins,
    pub clock: Clock,
    pub zones: Vec<String>,
    pub days: u32,
    pub seed: u64,
    pub machines: Machines,
    /// Shared machines per site (index = time zone).
    pub shared: Vec<Vec<u32>>,
    /// First machine of the rollout range (never seen before the rollout).
    pub rollout_base: u32,
    plans: Vec<ScenarioPlan>,
}

/// Machines reserved for the rollout day.
pub(super) const ROLLOUT_MACHINES: u32 = 40;

impl WsOrg {
    pub(super) fn login(&self, u: u32) -> &str {
        self.logins.get(u)
    }

    pub(super) fn zone(&self, u: u32) -> &str {
        &self.zones[usize::from(self.people[u as usize].tz)]
    }

    pub(super) fn build(cfg: &GenConfig) -> Result<WsOrg, GenError> {
        if cfg.users > MAX_USERS {
            return Err(GenError::InvalidConfig(format!(
                "the workstation shape takes at most {MAX_USERS} users, got {}",
                cfg.users
            )));
        }
        let zones = super::site_zones(cfg)?;
        let clock = Clock::new(cfg.start, cfg.days, &zones)?;
        let mut rng = ChaCha8Rng::seed_from_u64(org::mix(cfg.seed, 0x776f_726b_7374));
        let shares = ROLES.map(Role::share);
        // Two IT admins from 12 people on: one for the insider, one for the rollout.
        let admin = ROLES.iter().position(|&r| r == Role::ItAdmin).unwrap_or(0);
        let counts = split_by_shares(cfg.users, &shares, |g, n| {
            if g == admin && n >= 12 { 2 } else { 0 }
        });
        let mut roles: Vec<Role> = Vec::with_capacity(cfg.users);
        for (r, &c) in ROLES.iter().zip(&counts) {
            roles.extend(std::iter::repeat_n(*r, c));
        }
        roles.shuffle(&mut rng);
        let mut logins = Logins::default();
        let mut people = Vec::with_capacity(cfg.users);
        for (i, role) in roles.into_iter().enumerate() {
            let p = draw_person(role, i as u32, &mut rng, cfg.days);
            logins.push(login_base(p.tz, &mut rng));
            people.push(p);
        }
        // Hot desks: a shared machine per three hot-deskers at each site.
        let mut shared: Vec<Vec<u32>> = vec![Vec::new(); TZ_NAMES.len()];
        let mut next = people.len() as u32;
        for (tz, machines) in shared.iter_mut().enumerate() {
            let desks = people
                .iter()
                .filter(|p| p.hot_desk && usize::from(p.tz) == tz)
                .count();
            for _ in 0..desks.div_ceil(3) {
                machines.push(next);
                next += 1;
            }
        }
        let rollout_base = next;
        // Everyone but managers reports to a manager, at their own site if one is there.
        let managers: Vec<u32> = (0..people.len() as u32)
            .filter(|&u| people[u as usize].role == Role::Management)
            .collect();
        for u in 0..people.len() {
            if people[u].role == Role::Management || managers.is_empty() {
                continue;
            }
            let local: Vec<u32> = managers
                .iter()
                .copied()
                .filter(|&m| people[m as usize].tz == people[u].tz)
                .collect();
            let pool = if local.is_empty() { &managers } else { &local };
            people[u].supervisor = Some(pool[rng.random_range(0..pool.len())]);
        }
        let mut org = WsOrg {
            people,
            logins,
            clock,
            zones,
            days: cfg.days,
            seed: cfg.seed,
            machines: Machines::new(rollout_base + ROLLOUT_MACHINES, cfg.seed),
            shared,
            rollout_base,
            plans: Vec::new(),
        };
        scenario::plan_all(&mut org, &mut rng, cfg.scenarios)?;
        Ok(org)
    }
}

fn draw_person(role: Role, u: u32, rng: &mut ChaCha8Rng, days: u32) -> Person {
    let tz = pick_weighted(role.sites(), rng);
    let r: f64 = rng.random();
    let shift = match role {
        Role::Operations if r < 0.5 => Shift::Night,
        Role::Operations if r < 0.7 => Shift::Late,
        Role::Support if r < 0.08 => Shift::Night,
        Role::Support if r < 0.23 => Shift::Late,
        _ => Shift::Day,
    };
    let start_min = match shift {
        Shift::Night => 22 * 60 + 30 * rng.random_range(0..3u32),
        Shift::Late => 14 * 60 + 30 * rng.random_range(0..3u32),
        Shift::Day => 7 * 60 + 30 * rng.random_range(0..6u32),
    };
    let len_min = 480 + 30 * rng.random_range(0..3u32);
    let weekend_rota = match role {
        Role::Operations => rng.random_bool(0.6),
        Role::Support => rng.random_bool(0.15),
        _ => false,
    };
    let rota_off = rng.random_range(0..4u8);
    let leave = draw_leave(rng, days);
    let hot_desk = matches!(role, Role::Support | Role::Operations) && rng.random_bool(0.4);
    let (usb_days, usb_per_day) = if rng.random_bool(role.usb_rate()) {
        (
            rng.random_range(0.2..0.9f32),
            (1.5 * lognormal(rng, 0.4)).clamp(1.0, 5.0) as f32,
        )
    } else {
        (0.0, 0.0)
    };
    Person {
        role,
        tz,
        shift,
        start_min,
        len_min,
        weekend_rota,
        rota_off,
        leave,
        machine: u,
        hot_desk,
        usb_days,
        usb_per_day,
        supervisor: None,
        last_day: None,
        nights_from: None,
    }
}

/// Generates the workstation organisation of `cfg` into `out_dir`.
pub(super) fn generate(
    cfg: &GenConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<GenSummary, GenError> {
    let org = WsOrg::build(cfg)?;
    let out = OutFiles::create(out_dir)?;
    write_file(&out.identities, |w| {
        write_identities(
            w,
            true,
            (0..org.people.len() as u32).map(|u| {
                let person = &org.people[u as usize];
                (
                    org.login(u),
                    person.role.name(),
                    org.zone(u),
                    person.supervisor.map(|s| org.login(s)),
                )
            }),
        )
    })?;
    let mut stats = vec![TagStats::default(); day::TAG_COUNT];
    let mut events = 0;
    write_file(&out.events, |w| {
        events = write_events(&org, w, &mut stats, progress)?;
        Ok(())
    })?;
    let labels = scenario::labels(&org, &stats);
    out.finish(events, org.people.len(), labels)
}

/// Generates day by day and writes in time order: everything of local days
/// up to `d` is generated before the events earlier than any site's
/// midnight starting day `d + 1` are sorted and written, so at most about
/// two days of events are in memory.
fn write_events(
    org: &WsOrg,
    w: &mut impl Write,
    stats: &mut [TagStats],
    progress: &mut dyn FnMut(u32, u32),
) -> io::Result<u64> {
    let mut buffer: Vec<day::WsEv> = Vec::new();
    let mut fmt = Formatter::default();
    let mut written = 0u64;
    progress(0, org.days);
    for d in 0..org.days {
        for u in 0..org.people.len() as u32 {
            day::generate(org, u, d, &mut buffer);
        }
        buffer.sort_unstable();
        let cut = if d + 1 < org.days {
            (0..org.zones.len() as u8)
                .map(|tz| org.clock.utc(tz, d + 1, 0))
                .min()
                .unwrap_or(i64::MAX)
        } else {
            i64::MAX
        };
        let n = buffer.partition_point(|e| e.ts < cut);
        for e in &buffer[..n] {
            write_line(org, &mut fmt, e, w)?;
            stats[usize::from(e.tag)].add(e.ts, 1);
        }
        buffer.drain(..n);
        written += n as u64;
        progress(d + 1, org.days);
    }
    debug_assert!(buffer.is_empty() || org.days == 0);
    Ok(written)
}

fn write_line(
    org: &WsOrg,
    fmt: &mut Formatter,
    e: &day::WsEv,
    w: &mut impl Write,
) -> io::Result<()> {
    fmt.begin(e.ts, org.login(e.user));
    let l = &mut fmt.line;
    l.extend_from_slice(b"\",\"action\":\"");
    l.extend_from_slice(day::ACTIONS[usize::from(e.action)].as_bytes());
    l.extend_from_slice(b"\",\"resource\":\"");
    if e.action == day::LOGON || e.action == day::LOGOFF {
        org.machines.push_name(e.machine, l);
    } else {
        l.extend_from_slice(b"removable-media");
    }
    l.extend_from_slice(b"\",\"rows\":1,\"source\":\"");
    org.machines.push_name(e.machine, l);
    l.extend_from_slice(b"\",\"outcome\":\"success\"}\n");
    w.write_all(l)
}
