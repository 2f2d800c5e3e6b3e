//! Synthetic support organisations with labelled insider scenarios (`ueba gen`).
//!
//! The engine needs data with known answers: for the demo, for end-to-end
//! tests and for measuring detection quality. This module invents a customer
//! support company (agents in Manila, Dublin and Chicago, billing in New York,
//! engineers, analysts and DBAs), gives every person their own shift, leave,
//! tables and query volumes, and then, if asked, has a few of them misbehave
//! the way the 2019 Trend Micro insider did. Benign look-alikes (the DBAs'
//! Sunday night maintenance, an analyst's huge but normal reads) are part of
//! normal behaviour and always present, so an engine can be checked for false
//! alarms too.
//!
//! That is the default **database** shape. The **workstation** shape
//! ([`Shape::Workstation`], module `workstation`) is a sparse log of another
//! kind: logons and logoffs per machine and removable-media use, a few events
//! per person a day, with insider scenarios modelled on the public
//! descriptions of the CERT insider threat data set (r4.2). Both shapes share
//! the people (sites, time zones, logins, leave), the clock and the writer.
//!
//! Output is three files: `events.jsonl` (time-sorted access events),
//! `identities.csv` (peer group, time zone and, for workstations, manager
//! per user) and `labels.json`
//! (which users act out which scenario, from when). A seed fully determines
//! all three. Events are produced in time windows from per-user-day RNGs, so
//! memory stays bounded by one window of events however long the period.

mod catalog;
mod day;
mod intensity;
mod multiday;
mod names;
mod org;
mod scenario;
#[cfg(test)]
mod tests;
mod workstation;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use catalog::{ACTIONS, MAINTENANCE_TABLES, SITE_NAMES, TABLES, TZ_NAMES};
use day::{Ev, TAG_ANALYST_BIG, TAG_ANALYST_READ, TAG_COUNT, TAG_MAINTENANCE, TAG_SCENARIO};
use multiday::{look_alike_labels, ramp_label};
use org::{DAY_MS, HOUR_MS, Org};

pub use intensity::{Intensity, NovelTables};

/// Largest organisation accepted: user ids are 32-bit and each user costs a
/// few hundred bytes of profile, so beyond this memory, not time, runs out.
const MAX_USERS: usize = 10_000_000;
/// Longest period accepted (ten years); longer is surely a typo.
const MAX_DAYS: u32 = 3_660;
/// Events held in memory at once, roughly; the time window shrinks to match.
const WINDOW_EVENT_BUDGET: f64 = 4_000_000.0;

/// The kind of log an organisation is generated as. Detectors must hold on
/// any shape, so evaluation needs more than one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// Database access events: tens to hundreds of queries per person a
    /// day, with rows read (the support company of the module docs).
    #[default]
    Database,
    /// Workstation events: logon and logoff per machine and removable-media
    /// connects and disconnects, about 2–12 per person a day.
    Workstation,
}

impl Shape {
    /// Every shape, the default first.
    pub const ALL: [Shape; 2] = [Shape::Database, Shape::Workstation];

    /// The name on the command line and in reports: `database` or `workstation`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Database => "database",
            Shape::Workstation => "workstation",
        }
    }

    /// The shape called `name`; an unknown name is an error listing the shapes.
    pub fn parse(name: &str) -> Result<Shape, GenError> {
        Shape::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                GenError::InvalidConfig(format!(
                    "unknown shape `{name}`; shapes are {}",
                    Shape::ALL.map(Shape::name).join(", ")
                ))
            })
    }
}

/// Parameters of a generated organisation.
///
/// The defaults (200 users, 30 days from Monday 2026-01-05, seed 42, scenarios
/// on) give a few hundred thousand events: enough for detectors to learn
/// baselines over the first weeks and then meet the scenarios in the last third.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Number of people in the organisation (at least 12 with scenarios, so
    /// every role exists).
    pub users: usize,
    /// Length of the period in days (at least 14 with scenarios, which happen
    /// only after the first ten days so detectors have a baseline).
    pub days: u32,
    /// Seed of every random choice; the same seed gives byte-identical output.
    pub seed: u64,
    /// First day of the period (local date everywhere).
    pub start: jiff::civil::Date,
    /// Whether to inject the malicious scenarios. The benign look-alikes are
    /// normal behaviour and are always there.
    pub scenarios: bool,
    /// Time zones that replace sites' own: (site, IANA zone name), e.g.
    /// `("manila", "Etc/GMT-3")`. Sites are `manila`, `dublin`, `chicago`,
    /// `new-york`, `berlin`, `los-angeles` and `london`. Everyone at the site
    /// works their shift in that zone's local time and `identities.csv`
    /// names it, so events and identities agree; this lets a live test put a
    /// site's working day (or its night) at the real clock time.
    pub site_timezones: Vec<(String, String)>,
    /// The kind of log: database access (the default) or workstation logons
    /// and removable media.
    pub shape: Shape,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            users: 200,
            days: 30,
            seed: 42,
            start: jiff::civil::date(2026, 1, 5),
            scenarios: true,
            site_timezones: Vec::new(),
            shape: Shape::Database,
        }
    }
}

/// The IANA zone of every site (index = site), with `cfg.site_timezones`
/// applied; unknown sites, sites named twice and zones missing from the tz
/// database are errors.
fn site_zones(cfg: &GenConfig) -> Result<Vec<String>, GenError> {
    let mut zones: Vec<String> = TZ_NAMES.iter().map(|z| z.to_string()).collect();
    let mut seen = [false; SITE_NAMES.len()];
    for (site, zone) in &cfg.site_timezones {
        let Some(i) = SITE_NAMES.iter().position(|s| s == site) else {
            return Err(GenError::InvalidConfig(format!(
                "unknown site `{site}`; sites are {}",
                SITE_NAMES.join(", ")
            )));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(GenError::InvalidConfig(format!(
                "site `{site}` is given a time zone twice"
            )));
        }
        jiff::tz::TimeZone::get(zone).map_err(|e| GenError::TimeZone {
            name: zone.clone(),
            message: e.to_string(),
        })?;
        zones[i].clone_from(zone);
    }
    Ok(zones)
}

/// What was written, so the CLI can report it and callers can find the files.
#[derive(Clone, Debug)]
pub struct GenSummary {
    /// Number of events written to `events_path`.
    pub events: u64,
    /// Number of users (lines in `identities_path`, header excluded).
    pub users: usize,
    /// The labelled scenarios, as in `labels_path`.
    pub scenarios: Vec<Scenario>,
    /// The time-sorted JSON-lines event file.
    pub events_path: PathBuf,
    /// The `user,peer_group,timezone` CSV file (with `manager` for the
    /// workstation shape).
    pub identities_path: PathBuf,
    /// The labels JSON file.
    pub labels_path: PathBuf,
}

/// One labelled behaviour: the ground truth an evaluation compares alerts with.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Scenario kind, e.g. `trend-micro` or `dba-night-maintenance`.
    pub name: String,
    /// Login of the user who acts it out.
    pub user: String,
    /// True for insider behaviour an engine should alert on; false for benign
    /// look-alikes it should not.
    pub malicious: bool,
    /// Time of its first event, RFC 3339 UTC with milliseconds; absent for a
    /// benign behaviour that runs through the whole period (it has no start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// One-line human explanation, with the numbers.
    pub description: String,
}

/// Contents of `labels.json`: `{"scenarios":[...]}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Labels {
    /// Malicious scenarios first, then the benign look-alikes.
    pub scenarios: Vec<Scenario>,
}

/// Why an organisation could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// An output file or directory could not be created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory at fault.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The configuration cannot produce a sensible organisation.
    #[error("invalid generator config: {0}")]
    InvalidConfig(String),
    /// A time zone the generator needs is missing from the tz database.
    #[error("time zone {name}: {message}")]
    TimeZone {
        /// The IANA name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

fn validate(cfg: &GenConfig) -> Result<(), GenError> {
    let bad = |m: String| Err(GenError::InvalidConfig(m));
    if cfg.users == 0 {
        return bad("users must be at least 1".into());
    }
    if cfg.users > MAX_USERS {
        return bad(format!(
            "users must be at most {MAX_USERS}, got {}",
            cfg.users
        ));
    }
    if cfg.days == 0 {
        return bad("days must be at least 1".into());
    }
    if cfg.days > MAX_DAYS {
        return bad(format!("days must be at most {MAX_DAYS}, got {}", cfg.days));
    }
    if cfg.start.year() < 1970 || cfg.start.year() > 9000 {
        return bad(format!(
            "start must be between the years 1970 and 9000 (event times are Unix milliseconds), \
             got {}",
            cfg.start
        ));
    }
    if cfg.scenarios && cfg.days < 14 {
        return bad(format!(
            "scenarios need at least 14 days (ten to learn a baseline, then the attacks), got {}; \
             use more days or turn scenarios off",
            cfg.days
        ));
    }
    if cfg.scenarios && cfg.users < 12 {
        return bad(format!(
            "scenarios need at least 12 users (every peer group must exist), got {}; \
             use more users or turn scenarios off",
            cfg.users
        ));
    }
    Ok(())
}

/// Writes `events.jsonl`, `identities.csv` and `labels.json` into `out_dir`
/// (created if missing) and returns what was written.
///
/// `progress` is called now and then with (days fully written, days in all)
/// so a CLI can draw a progress bar. The same config always gives
/// byte-identical files.
pub fn generate(
    cfg: &GenConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<GenSummary, GenError> {
    generate_with(cfg, None, out_dir, progress)
}

/// [`generate`], with the malicious scenarios at the given [`Intensity`]
/// (`None` is exactly [`generate`]). Used to measure detection rate against
/// attack strength; the intensity is ignored when `cfg.scenarios` is off.
pub fn generate_with(
    cfg: &GenConfig,
    intensity: Option<&Intensity>,
    out_dir: &Path,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<GenSummary, GenError> {
    validate(cfg)?;
    if let Some(i) = intensity {
        if cfg.shape != Shape::Database {
            return Err(GenError::InvalidConfig(format!(
                "attack intensities apply to the database shape only, not `{}`",
                cfg.shape.name()
            )));
        }
        i.validate()?;
    }
    if cfg.shape == Shape::Workstation {
        return workstation::generate(cfg, out_dir, progress);
    }
    let org = Org::build_with(cfg, intensity)?;
    let out = OutFiles::create(out_dir)?;
    write_file(&out.identities, |w| {
        write_identities(
            w,
            false,
            (0..org.users.len() as u32).map(|u| {
                (
                    org.login(u),
                    org.users[u as usize].group.name(),
                    org.zone(u),
                    None,
                )
            }),
        )
    })?;
    let mut stats = [TagStats::default(); TAG_COUNT];
    let mut events = 0;
    write_file(&out.events, |w| {
        events = write_events(&org, w, &mut stats, progress)?;
        Ok(())
    })?;
    out.finish(events, org.users.len(), labels(&org, &stats))
}

/// The three output paths, their directory created.
struct OutFiles {
    events: PathBuf,
    identities: PathBuf,
    labels: PathBuf,
}

impl OutFiles {
    fn create(out_dir: &Path) -> Result<OutFiles, GenError> {
        fs::create_dir_all(out_dir).map_err(|source| GenError::Io {
            path: out_dir.into(),
            source,
        })?;
        Ok(OutFiles {
            events: out_dir.join("events.jsonl"),
            identities: out_dir.join("identities.csv"),
            labels: out_dir.join("labels.json"),
        })
    }

    /// Writes `labels.json` and sums up what was written.
    fn finish(
        self,
        events: u64,
        users: usize,
        scenarios: Vec<Scenario>,
    ) -> Result<GenSummary, GenError> {
        let labels = Labels { scenarios };
        write_file(&self.labels, |w| {
            serde_json::to_writer_pretty(&mut *w, &labels)?;
            w.write_all(b"\n")
        })?;
        Ok(GenSummary {
            events,
            users,
            scenarios: labels.scenarios,
            events_path: self.events,
            identities_path: self.identities,
            labels_path: self.labels,
        })
    }
}

fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), GenError> {
    let io_err = |source| GenError::Io {
        path: path.into(),
        source,
    };
    let file = File::create(path).map_err(io_err)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    body(&mut w).map_err(io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    // Only a regular file can be synced; a named pipe (events streamed
    // straight into `ueba score`) has nothing to sync.
    if file.metadata().map_err(io_err)?.is_file() {
        file.sync_all().map_err(io_err)?;
    }
    Ok(())
}

/// One user's line of `identities.csv`: login, peer group, IANA zone and,
/// in an organisation with a reporting line, their manager's login.
type IdentityLine<'a> = (&'a str, &'a str, &'a str, Option<&'a str>);

/// Writes `identities.csv`, with a `manager` column when `managers` (an
/// organisation whose shape has a reporting line; empty for those at the
/// top).
fn write_identities<'a>(
    w: &mut impl Write,
    managers: bool,
    users: impl Iterator<Item = IdentityLine<'a>>,
) -> io::Result<()> {
    if managers {
        writeln!(w, "user,peer_group,timezone,manager")?;
    } else {
        writeln!(w, "user,peer_group,timezone")?;
    }
    for (login, group, zone, manager) in users {
        if managers {
            writeln!(w, "{login},{group},{zone},{}", manager.unwrap_or(""))?;
        } else {
            writeln!(w, "{login},{group},{zone}")?;
        }
    }
    Ok(())
}

/// First time, count and largest row count seen for one event tag.
#[derive(Clone, Copy, Default)]
struct TagStats {
    first: Option<i64>,
    count: u64,
    max_rows: u32,
}

impl TagStats {
    /// Counts an event written at `ts` with `rows` rows (events come in time order).
    fn add(&mut self, ts: i64, rows: u32) {
        self.first.get_or_insert(ts);
        self.count += 1;
        self.max_rows = self.max_rows.max(rows);
    }
}

/// Per user, the UTC span of their activity on one local day (see [`day::bounds`]).
type DayBounds = Vec<Option<(i64, i64)>>;

/// Generates and writes all events in UTC time windows. For each window it
/// draws the local hours of every user-day that overlap it (each hour has its
/// own seed, so this needs nothing from earlier windows), sorts them and
/// writes them. The window is a whole UTC day for ordinary sizes and shrinks
/// to an hour for very large organisations, so memory is bounded by the
/// events of one window rather than of the whole period.
fn write_events(
    org: &Org,
    w: &mut impl Write,
    stats: &mut [TagStats; TAG_COUNT],
    progress: &mut dyn FnMut(u32, u32),
) -> io::Result<u64> {
    let days = org.days;
    let n = org.users.len() as u32;
    let daily: f64 = org.users.iter().map(|u| f64::from(u.queries_per_day)).sum();
    // Peak hours hold about three times the average hour's share of a day.
    let window_h = [24, 12, 8, 6, 4, 3, 2, 1]
        .into_iter()
        .find(|&h| daily * h as f64 / 24.0 * 3.0 <= WINDOW_EVENT_BUDGET)
        .unwrap_or(1);
    let window = window_h * HOUR_MS;
    // UTC span any user's local day d can touch: from the earliest local
    // midnight (minus margin) to the latest midnight plus 48 h.
    let spans: Vec<(i64, i64)> = (0..days)
        .map(|d| {
            let mids = (0..TZ_NAMES.len() as u8).map(|tz| org.clock.utc(tz, d, 0));
            let lo = mids.clone().min().unwrap_or(0) - 2 * HOUR_MS;
            let hi = mids.max().unwrap_or(0) + 2 * DAY_MS;
            (lo, hi)
        })
        .collect();
    let begin = spans[0].0.div_euclid(window) * window;
    let end = spans.iter().map(|s| s.1).max().unwrap_or(begin);

    let mut bounds: Vec<(u32, DayBounds)> = Vec::new();
    let mut buffer: Vec<Ev> = Vec::new();
    let mut fmt = Formatter::default();
    let mut written = 0u64;
    let mut first_day = 0u32;
    let mut reported = u32::MAX;
    let mut ws = begin;
    progress(0, days);
    while ws < end {
        let we = ws + window;
        while first_day < days && spans[first_day as usize].1 <= ws {
            first_day += 1;
        }
        bounds.retain(|(d, _)| *d >= first_day);
        for d in first_day..days {
            if spans[d as usize].0 >= we {
                break;
            }
            if !bounds.iter().any(|(bd, _)| *bd == d) {
                bounds.push((d, (0..n).map(|u| day::bounds(org, u, d)).collect()));
            }
            let Some((_, day_bounds)) = bounds.iter().find(|(bd, _)| *bd == d) else {
                continue;
            };
            for (u, b) in day_bounds.iter().enumerate() {
                match b {
                    Some((lo, hi)) if *hi >= ws && *lo < we => {}
                    _ => continue,
                }
                day::generate(org, u as u32, d, ws, we, &mut buffer);
            }
        }
        buffer.sort_unstable();
        for e in &buffer {
            fmt.write(org, e, w)?;
            stats[usize::from(e.tag)].add(e.ts, e.rows);
        }
        written += buffer.len() as u64;
        buffer.clear();
        let done = spans.iter().take_while(|s| s.1 <= we).count() as u32;
        if done != reported {
            progress(done, days);
            reported = done;
        }
        ws = we;
    }
    Ok(written)
}

/// Turns compact events into JSON lines. Hand-written rather than serde:
/// every string is from a fixed vocabulary (logins are `[a-z0-9]+`) so none
/// needs escaping, and this is the generator's hot loop.
#[derive(Default)]
struct Formatter {
    day: Option<i64>,
    date: String,
    line: Vec<u8>,
}

impl Formatter {
    fn write(&mut self, org: &Org, e: &Ev, w: &mut impl Write) -> io::Result<()> {
        let user = &org.users[e.user as usize];
        let ip = if e.vpn && user.vpn != 0 {
            user.vpn
        } else {
            user.workstation
        };
        self.begin(e.ts, org.login(e.user));
        let l = &mut self.line;
        l.extend_from_slice(b"\",\"action\":\"");
        l.extend_from_slice(ACTIONS[usize::from(e.action)].as_bytes());
        l.extend_from_slice(b"\",\"resource\":\"");
        l.extend_from_slice(TABLES[usize::from(e.table)].name.as_bytes());
        l.extend_from_slice(b"\",\"rows\":");
        push_int(l, u64::from(e.rows), 1);
        l.extend_from_slice(b",\"bytes\":");
        push_int(l, e.bytes, 1);
        l.extend_from_slice(b",\"source\":\"");
        for (i, octet) in ip.to_be_bytes().into_iter().enumerate() {
            if i > 0 {
                l.push(b'.');
            }
            push_int(l, u64::from(octet), 1);
        }
        l.extend_from_slice(b"\",\"outcome\":\"");
        l.extend_from_slice(if e.failed { b"failure" } else { b"success" });
        l.extend_from_slice(b"\"}\n");
        w.write_all(l)
    }

    /// Starts a new line with its timestamp and user, up to the closing
    /// quote of the user.
    fn begin(&mut self, ms: i64, user: &str) {
        self.line.clear();
        self.line.extend_from_slice(b"{\"timestamp\":\"");
        self.timestamp(ms);
        self.line.extend_from_slice(b"\",\"user\":\"");
        self.line.extend_from_slice(user.as_bytes());
    }

    /// Appends `ms` as RFC 3339 UTC with milliseconds to the line.
    fn timestamp(&mut self, ms: i64) {
        let day = ms.div_euclid(DAY_MS);
        if self.day != Some(day) {
            self.day = Some(day);
            self.date = jiff::Timestamp::from_millisecond(day * DAY_MS)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .unwrap_or_else(|_| "1970-01-01".into());
        }
        let rem = ms.rem_euclid(DAY_MS) as u64;
        let l = &mut self.line;
        l.extend_from_slice(self.date.as_bytes());
        l.push(b'T');
        push_int(l, rem / HOUR_MS as u64, 2);
        l.push(b':');
        push_int(l, rem / 60_000 % 60, 2);
        l.push(b':');
        push_int(l, rem / 1000 % 60, 2);
        l.push(b'.');
        push_int(l, rem % 1000, 3);
        l.push(b'Z');
    }
}

/// Appends `v` in decimal, zero-padded to at least `width` digits.
fn push_int(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while v > 0 || digits.len() - i < width {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[i..]);
}

fn rfc3339(ms: i64) -> String {
    let mut f = Formatter::default();
    f.timestamp(ms);
    String::from_utf8_lossy(&f.line).into_owned()
}

/// Builds the labels: the planned malicious scenarios and the benign
/// look-alikes, each starting at its first event as actually written.
fn labels(org: &Org, stats: &[TagStats; TAG_COUNT]) -> Vec<Scenario> {
    let mut out = Vec::new();
    for (i, s) in org.scenarios.iter().enumerate() {
        if let Some(first) = stats[usize::from(TAG_SCENARIO) + i].first {
            out.push(Scenario {
                name: s.name.into(),
                user: org.login(s.user).into(),
                malicious: true,
                start: Some(rfc3339(first)),
                description: s.description.clone(),
            });
        }
    }
    out.extend(ramp_label(org, stats));
    if let (Some(u), Some(first)) = (
        org.maintenance_dba,
        stats[usize::from(TAG_MAINTENANCE)].first,
    ) {
        let m = &stats[usize::from(TAG_MAINTENANCE)];
        let runs = m.count / (MAINTENANCE_TABLES.len() as u64 * 3);
        out.push(Scenario {
            name: "dba-night-maintenance".into(),
            user: org.login(u).into(),
            malicious: false,
            start: Some(rfc3339(first)),
            description: format!(
                "scheduled maintenance under DBA {}'s account every Sunday from 01:00 {}: \
                 count(*), vacuum and analyze over {} tables, {} run{} in the period",
                org.login(u),
                org.zone(u),
                MAINTENANCE_TABLES.len(),
                runs,
                if runs == 1 { "" } else { "s" },
            ),
        });
    }
    if let Some(u) = org.big_analyst {
        let big = &stats[usize::from(TAG_ANALYST_BIG)];
        let any = &stats[usize::from(TAG_ANALYST_READ)];
        if let Some(first) = big.first.or(any.first) {
            let median = org
                .habits(u)
                .iter()
                .filter(|h| catalog::is_analytics_table(h.table))
                .map(|h| f64::from(h.median))
                .fold(0.0, f64::max);
            out.push(Scenario {
                name: "analyst-big-reads".into(),
                user: org.login(u).into(),
                malicious: false,
                start: Some(rfc3339(first)),
                description: format!(
                    "analyst {} routinely reads analytics tables in bulk: median ~{:.0} rows per \
                     query, {} reads of {}+ rows, largest {} rows; big but normal",
                    org.login(u),
                    median,
                    big.count,
                    day::BIG_READ_ROWS,
                    big.max_rows.max(any.max_rows),
                ),
            });
        }
    }
    out.extend(look_alike_labels(org, stats));
    out
}
