//! A deterministic, cheap synthesiser of access events for benchmarks.
//!
//! The generator in [`crate::generator`] models a real organisation (shifts,
//! leave, insiders) and is the right input for judging detection, but it is
//! too slow and too memory-hungry to make a million users. Throughput needs
//! something else: events whose *shape* matches what the detectors see in
//! production (users in peer groups and timezones, a working-hours rhythm,
//! a few favourite tables per user, small reads with the occasional bulk
//! one) at any number of users, in memory, in seconds.
//!
//! The model, per workload of `users` users over `days` days from Monday
//! 2026-01-05 (UTC):
//!
//! - 12 peer groups in 8 timezones; user `u` is in group `u % 12`.
//! - 300 tables: 12 schemas × 25 names. A group works mostly in its own
//!   schema; each user favours a few tables of it (skewed draw), 3% of reads
//!   touch a neighbouring schema and 0.5% any table (first accesses for
//!   `novel-table`).
//! - Each user gets a share of the events proportional to a log-normal
//!   activity weight (σ = 0.6), at least one, so after the whole workload
//!   every user has been seen.
//! - Days are weekdays, with a weekend day kept one time in ten; the local
//!   hour is normal around 13:00 (σ = 2.5 h, clipped to 07–19), and 3% of
//!   events fall at a uniformly random hour (off-hours).
//! - Actions: `select` 86%, `update` 6%, `insert` 4%, `delete` 2%, `copy`
//!   1%, `vacuum` 1%. Rows read are log-normal (median ~3, σ = 1.3 on the
//!   log scale); after the first week 1 event in 10,000 is a bulk read of
//!   20,000–80,000 rows. 1% of events fail.
//! - Sources: the user's own address, or one of seven VPN gateways (5%).
//!
//! Events are sorted by time, so the scorer's reorder buffer releases them
//! as they come, as with a well-behaved log.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use ueba_engine::event::{AccessEvent, Outcome, format_time};
use ueba_engine::identity::{Identities, IdentityError};
use ueba_engine::pipeline::Encoder;
use ueba_engine::sandbox::wit;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// 2026-01-05T00:00:00Z, a Monday.
const START_MS: i64 = 1_767_571_200_000;
/// Learning period of the built-in detectors (their `learning_days` default):
/// events before it are replayed untimed, so timings are of detectors that score.
pub const LEARNING_DAYS: u32 = 7;

const GROUPS: [(&str, &str, i64); 12] = [
    ("support-t1", "Asia/Manila", 480),
    ("support-t2", "Europe/Dublin", 0),
    ("billing", "America/Chicago", -360),
    ("engineering", "Europe/Berlin", 60),
    ("analytics", "America/New_York", -300),
    ("dba", "Europe/London", 0),
    ("sales", "America/Los_Angeles", -480),
    ("finance", "America/New_York", -300),
    ("hr", "Europe/London", 0),
    ("marketing", "Asia/Kolkata", 330),
    ("legal", "America/Chicago", -360),
    ("ops", "Asia/Manila", 480),
];
const SCHEMAS: [&str; 12] = [
    "support",
    "billing",
    "crm",
    "eng",
    "analytics",
    "dba",
    "sales",
    "finance",
    "hr",
    "marketing",
    "legal",
    "ops",
];
const NAMES: [&str; 25] = [
    "accounts",
    "orders",
    "events",
    "customers",
    "contacts",
    "invoices",
    "payments",
    "logs",
    "sessions",
    "tickets",
    "notes",
    "users",
    "devices",
    "audit",
    "metrics",
    "products",
    "shipments",
    "refunds",
    "leads",
    "campaigns",
    "employees",
    "salaries",
    "contracts",
    "tasks",
    "assets",
];
const TABLES: usize = SCHEMAS.len() * NAMES.len();
const ACTIONS: [&str; 6] = ["select", "update", "insert", "delete", "copy", "vacuum"];

/// What to synthesise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Distinct users (entities); every one appears at least once.
    pub users: u32,
    /// Events to make (about: each user's share is rounded, and at least one).
    pub events: u64,
    /// Days the events span; the first [`LEARNING_DAYS`] are warm-up.
    pub days: u32,
    /// Random seed; the same spec gives the same events.
    pub seed: u64,
}

/// One synthesised event, compact (24 bytes), so that millions fit in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Synth {
    time_ms: i64,
    user: u32,
    rows: u32,
    table: u16,
    action: u8,
    failed: bool,
    vpn: bool,
}

/// Why a workload could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The spec is unusable.
    #[error("workload: {0}")]
    Spec(String),
    /// The synthetic identity table did not load (a bug in the synthesiser).
    #[error("workload identities: {0}")]
    Identities(#[from] IdentityError),
}

/// A synthesised workload: events in time order, and the identity table
/// (peer group and timezone per user) that the scorer enriches them from.
pub struct Workload {
    spec: Spec,
    events: Vec<Synth>,
    identities: Identities,
    identities_csv: String,
    warm: usize,
}

impl Workload {
    /// Synthesise the events of `spec`. Deterministic in the spec.
    pub fn synthesise(spec: Spec) -> Result<Self, WorkloadError> {
        if spec.users == 0 {
            return Err(WorkloadError::Spec("needs at least one user".into()));
        }
        if spec.days <= LEARNING_DAYS {
            return Err(WorkloadError::Spec(format!(
                "needs more than {LEARNING_DAYS} days, so that detectors are past learning"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let weights: Vec<f64> = (0..spec.users)
            .map(|_| (0.6 * rng.sample::<f64, _>(StandardNormal)).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut events = Vec::with_capacity(usize::try_from(spec.events).unwrap_or(0));
        for (u, w) in (0u32..).zip(&weights) {
            let share = (spec.events as f64 * w / total).round().max(1.0) as u64;
            for _ in 0..share {
                events.push(synth_one(&mut rng, u, spec.days));
            }
        }
        events.sort_unstable();
        let learned = START_MS + i64::from(LEARNING_DAYS) * DAY_MS;
        let warm = events.partition_point(|e| e.time_ms < learned);
        let mut csv = String::from("user,peer_group,timezone\n");
        for u in 0..spec.users {
            let (group, tz, _) = GROUPS[u as usize % GROUPS.len()];
            csv.push_str(&format!("{},{group},{tz}\n", user_name(u)));
        }
        let identities = Identities::from_reader(csv.as_bytes(), Path::new("(synthetic)"))?;
        Ok(Workload {
            spec,
            events,
            identities,
            identities_csv: csv,
            warm,
        })
    }

    /// The spec it was made from.
    pub fn spec(&self) -> Spec {
        self.spec
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds no events (never, for a valid spec).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Index of the first event after the detectors' learning period: runs
    /// replay events before it untimed and time the rest.
    pub fn warm(&self) -> usize {
        self.warm
    }

    /// The users' peer groups and timezones.
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// The same identities as the CSV file `ueba score --identities` reads.
    pub fn identities_csv(&self) -> &str {
        &self.identities_csv
    }

    /// Event `i` as the host's parsed form.
    pub fn access_event(&self, i: usize) -> Option<AccessEvent> {
        self.events.get(i).map(access_event)
    }

    /// All events as JSON lines, the input of `ueba score`.
    pub fn jsonl(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 180);
        for e in &self.events {
            push_json(&mut out, e);
        }
        out
    }

    /// Encode every event as the host does (enrich, intern, local offset),
    /// ready to be cut into batches of any size.
    pub fn encode(&self) -> Encoded {
        let mut encoder = Encoder::new(self.identities.clone());
        let mut events = wit::Events::with_capacity(self.events.len());
        let mut marks = Vec::with_capacity(self.events.len());
        for (seq, e) in (0u64..).zip(&self.events) {
            let encoded = encoder
                .encode(&access_event(e), seq)
                .expect("a synthesised workload has far fewer names than the contract has ids");
            events.push(&encoded);
            marks.push(encoder.interner().log_len());
        }
        Encoded {
            symbols: encoder.symbols_since(0),
            events,
            marks,
            warm: self.warm,
        }
    }
}

/// A workload encoded for the detector contract: events with interned ids,
/// every symbol in the order it was first used, and for each event how many
/// symbols exist once it is encoded, so a batch `a..b` carries
/// `symbols[sent..marks[b - 1]]`, exactly what the scorer would send.
pub struct Encoded {
    /// Contract events, in order; `seq` is the index.
    pub events: wit::Events,
    /// Every symbol, in first-use order.
    pub symbols: Vec<wit::Symbol>,
    /// `marks[i]`: symbols known after encoding event `i`.
    pub marks: Vec<usize>,
    /// Index of the first event past the learning period.
    pub warm: usize,
}

impl Encoded {
    /// Symbols a detector that has seen `sent` of them needs before the
    /// events up to index `end` (exclusive).
    pub fn symbols_for(&self, sent: usize, end: usize) -> &[wit::Symbol] {
        let upto = end
            .checked_sub(1)
            .and_then(|i| self.marks.get(i))
            .copied()
            .unwrap_or(0);
        self.symbols.get(sent..upto.max(sent)).unwrap_or(&[])
    }
}

/// The user name of id `u`.
fn user_name(u: u32) -> String {
    format!("u{u:07}")
}

fn table_name(t: u16) -> String {
    let t = usize::from(t) % TABLES;
    format!("{}.{}", SCHEMAS[t / NAMES.len()], NAMES[t % NAMES.len()])
}

fn table_width(t: u16) -> u64 {
    200 + u64::from(t) * 37 % 1300
}

fn source(e: &Synth) -> String {
    if e.vpn {
        format!("vpn-gw-{}", e.user % 7)
    } else {
        let g = e.user as usize % GROUPS.len();
        format!("10.{g}.{}.{}", (e.user >> 8) & 255, e.user & 255)
    }
}

fn access_event(e: &Synth) -> AccessEvent {
    AccessEvent {
        time_ms: e.time_ms,
        user: user_name(e.user).into(),
        action: ACTIONS[usize::from(e.action)].into(),
        resource: table_name(e.table).into(),
        rows: u64::from(e.rows),
        bytes: Some(u64::from(e.rows) * table_width(e.table)),
        source: Some(source(e).into()),
        peer_group: None,
        outcome: if e.failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
    }
}

fn push_json(out: &mut String, e: &Synth) {
    use std::fmt::Write as _;
    // Names and addresses are plain ASCII, so no JSON escaping is needed.
    let _ = writeln!(
        out,
        r#"{{"timestamp":"{}","user":"{}","action":"{}","resource":"{}","rows":{},"bytes":{},"source":"{}","outcome":"{}"}}"#,
        format_time(e.time_ms),
        user_name(e.user),
        ACTIONS[usize::from(e.action)],
        table_name(e.table),
        e.rows,
        u64::from(e.rows) * table_width(e.table),
        source(e),
        if e.failed { "failure" } else { "success" },
    );
}

fn synth_one(rng: &mut ChaCha8Rng, u: u32, days: u32) -> Synth {
    let group = u as usize % GROUPS.len();
    let offset_min = GROUPS[group].2;
    let mut day = rng.random_range(0..days);
    if day % 7 >= 5 && rng.random::<f64>() >= 0.1 {
        // Weekend days are kept one time in ten; otherwise move to Friday.
        day -= day % 7 - 4;
    }
    let hour_ms = if rng.random::<f64>() < 0.03 {
        rng.random_range(0..DAY_MS)
    } else {
        let h = (13.0 + 2.5 * rng.sample::<f64, _>(StandardNormal)).clamp(7.0, 19.0);
        (h * 3_600_000.0) as i64 + rng.random_range(0..60_000)
    };
    let time_ms = START_MS + i64::from(day) * DAY_MS + hour_ms - offset_min * 60_000;
    let r = rng.random::<f64>();
    let table = if r < 0.005 {
        rng.random_range(0..TABLES)
    } else {
        let schema = if r < 0.035 { group + 1 } else { group } % SCHEMAS.len();
        // A user's favourites: a skewed draw over the schema, rotated per user.
        let k = (NAMES.len() as f64 * rng.random::<f64>().powi(3)) as usize;
        schema * NAMES.len() + (k + u as usize) % NAMES.len()
    };
    let a = rng.random::<f64>();
    let action = match a {
        x if x < 0.86 => 0,
        x if x < 0.92 => 1,
        x if x < 0.96 => 2,
        x if x < 0.98 => 3,
        x if x < 0.99 => 4,
        _ => 5,
    };
    let bulk = day >= LEARNING_DAYS && rng.random::<f64>() < 1e-4;
    let rows = if bulk {
        rng.random_range(20_000..80_000)
    } else if action == 0 || action == 4 {
        (1.0 + 1.3 * rng.sample::<f64, _>(StandardNormal))
            .exp()
            .round()
            .clamp(1.0, 1e6) as u32
    } else {
        rng.random_range(1..4)
    };
    Synth {
        time_ms,
        user: u,
        rows,
        table: u16::try_from(table).unwrap_or(0),
        action,
        failed: rng.random::<f64>() < 0.01,
        vpn: rng.random::<f64>() < 0.05,
    }
}

#[cfg(test)]
#[path = "workload_tests.rs"]
mod tests;
