//! Detection evaluation (`ueba eval`): how well alerts match labelled
//! insider scenarios, and how that compares with the rules a SOC writes.
//!
//! The events are scored with the built-in detectors (or alerts already
//! produced are read instead) and compared with `labels.json` as written by
//! `ueba gen`:
//!
//! * **per scenario**: detected or not (any alert on the user at or after the
//!   scenario's start; for a benign look-alike, whether it was alerted), the
//!   time from its start to that first alert, and the user's rank among all
//!   users by peak risk;
//! * **false alarms**: alerts per 1,000 user-days on users with no malicious
//!   scenario;
//! * **ranking quality over user-days**: ROC-AUC, PR-AUC and recall at 1 % and
//!   5 % false-positive rate, each user-day scored by its peak risk;
//! * **rules**: six rules SOCs write today ([`rules`]: three static, three
//!   that learn each user's habits) flag user-days on the same events; each
//!   is set against ueba at the same recall, so precision and alert volume
//!   compare like for like.
//!
//! **User-days.** A user-day is a user and a UTC calendar day on which the
//! user has at least one event; days without events are not counted. It is
//! *positive* when the user has a malicious scenario whose `start` falls on
//! that UTC day. The user's later days are an attack under way (a ramp, a
//! surge, the days before leaving) and are left out of the ranking, neither
//! positive nor negative, so a detector is neither rewarded nor punished for
//! keeping an attacker's risk high; every other user-day is negative. UTC
//! rather than local days keeps one calendar for the whole organisation. A user-day's score is the highest risk the engine
//! computed on that day, i.e. right after each of that day's findings
//! (with `--alerts`, the highest alert score that day); a day without
//! findings scores 0, so risk left over from an earlier day does not count as
//! a new detection unless that day's own activity adds to it.
//!
//! **Ranks** are competition ranks: one plus the number of users with a
//! strictly higher peak risk, among every user with an event or an alert
//! (users without findings have peak 0).

mod alerts;
pub mod metrics;
pub mod report;
pub mod rules;
pub mod sweep;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::generator::GenError;
use ueba_engine::config::Config;
use ueba_engine::event::{AccessEvent, ParseError, format_time, parse_timestamp_text};
use ueba_engine::identity::{Identities, IdentityError, offset_minutes};
use ueba_engine::pipeline::report::for_terminal as shown;
use ueba_engine::pipeline::{ScoreError, Scorer};
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::sandbox::Runtime;
use ueba_engine::sandbox::plugins::LoadError;
use ueba_formats::input::{Chunk, spawn_reader_with};
use ueba_formats::sources::{FormatError, FormatsConfig, InputFormat, parser_for};

use alerts::read_alerts;
use metrics::OperatingPoint;
use rules::{Habits, RULES, Rule, RuleSet};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Why an evaluation could not be made. Every message names the file and,
/// where there is one, the line or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The labels file is malformed.
    #[error("{path}: {message}")]
    Labels {
        /// The labels file.
        path: PathBuf,
        /// What is wrong, naming the line or the scenario and field.
        message: String,
    },
    /// An alerts file line is malformed.
    #[error("{path}: line {line}: {message}")]
    Alerts {
        /// The alerts file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong, naming the field.
        message: String,
    },
    /// An events file line is malformed.
    #[error("{path}: {source}")]
    Events {
        /// The events file.
        path: PathBuf,
        /// The line and field at fault.
        source: ParseError,
    },
    /// The identity file is malformed.
    #[error(transparent)]
    Identities(#[from] IdentityError),
    /// The detectors could not be loaded.
    #[error("loading detectors: {0}")]
    Plugins(#[from] LoadError),
    /// Scoring failed.
    #[error("scoring: {0}")]
    Score(#[from] ScoreError),
    /// The sweep's generator refused its parameters.
    #[error("generating sweep data: {0}")]
    Generate(#[from] GenError),
    /// A plot could not be drawn.
    #[error("drawing {what}: {message}")]
    Plot {
        /// Which plot.
        what: String,
        /// The plotting library's error.
        message: String,
    },
    /// The events' format cannot be read as configured (a bad
    /// `[formats]` setting).
    #[error("{path}: {source}")]
    Format {
        /// The events file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
    /// The options make no sense together.
    #[error("{0}")]
    Usage(String),
}

/// The files an evaluation reads.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// Events, in `format` (any `ueba score --format`).
    pub events: &'a Path,
    /// The events' format; `Auto` decides from the first lines.
    pub format: InputFormat,
    /// How formats other than native JSON lines are read (`[formats]`).
    pub formats: &'a FormatsConfig,
    /// Identity CSV (time zones for the off-hours rule, peer groups for the
    /// report); optional.
    pub identities: Option<&'a Path>,
    /// `labels.json` as written by `ueba gen`.
    pub labels: &'a Path,
}

/// Where the alerts and risk come from.
pub enum Source<'a> {
    /// Score the events with the built-in detectors under `config`.
    Score {
        /// The wasm engine.
        runtime: &'a Runtime,
        /// Engine, risk and detector settings.
        config: &'a Config,
        /// Shards users are split across (`ueba score --shards`).
        shards: usize,
    },
    /// Read alerts already produced by `ueba score` (JSON lines); risk per
    /// user-day is then the highest alert score of the day.
    Alerts(&'a Path),
}

/// The outcome for one labelled scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioResult {
    /// Scenario kind, e.g. `trend-micro`.
    pub name: String,
    /// The user acting it out.
    pub user: String,
    /// Whether it is insider behaviour (false: a benign look-alike).
    pub malicious: bool,
    /// Its start, RFC 3339; `None` for a benign behaviour that runs
    /// through the whole period.
    pub start: Option<String>,
    /// What it is, from the labels file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether any alert on the user came at or after `start` (for a benign
    /// scenario: whether it was alerted, a false alarm; without a start,
    /// any alert on the user counts).
    pub detected: bool,
    /// Time of that first alert, RFC 3339.
    pub first_alert: Option<String>,
    /// Seconds from `start` to the first alert.
    pub time_to_detect_secs: Option<f64>,
    /// Alerts on the user at or after `start`.
    pub alerts: usize,
    /// The user's peak risk over the whole run.
    pub peak_risk: f64,
    /// The user's rank by peak risk (1 = highest); `None` if the user has
    /// no events.
    pub rank: Option<usize>,
}

/// The scenarios of one kind (name and malicious or not), when a labels
/// file holds many of a kind, as third-party data sets with dozens of
/// insiders do.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioFamily {
    /// Scenario kind.
    pub name: String,
    /// Whether it is insider behaviour.
    pub malicious: bool,
    /// Scenarios of the kind.
    pub scenarios: usize,
    /// Of them, detected (malicious) or alerted (benign).
    pub detected: usize,
    /// The median of their users' peak risk.
    pub median_peak_risk: f64,
}

/// How every table and page (and the demo) names a scenario's kind.
pub fn kind_word(malicious: bool) -> &'static str {
    if malicious { "malicious" } else { "benign" }
}

/// The scenarios grouped by kind, in order of first appearance.
fn families(scenarios: &[ScenarioResult]) -> Vec<ScenarioFamily> {
    let mut out: Vec<(ScenarioFamily, Vec<f64>)> = Vec::new();
    // Each family's place in `out`, so a labels file of many kinds is
    // grouped in one pass.
    let mut index: std::collections::HashMap<(&str, bool), usize> =
        std::collections::HashMap::new();
    for s in scenarios {
        let at = match index.get(&(s.name.as_str(), s.malicious)) {
            Some(&i) => i,
            None => {
                index.insert((s.name.as_str(), s.malicious), out.len());
                out.push((
                    ScenarioFamily {
                        name: s.name.clone(),
                        malicious: s.malicious,
                        scenarios: 0,
                        detected: 0,
                        median_peak_risk: 0.0,
                    },
                    Vec::new(),
                ));
                out.len() - 1
            }
        };
        let (f, peaks) = &mut out[at];
        f.scenarios += 1;
        f.detected += usize::from(s.detected);
        peaks.push(s.peak_risk);
    }
    out.into_iter()
        .map(|(mut f, peaks)| {
            f.median_peak_risk = crate::bench::Spread::of(&peaks).median;
            f
        })
        .collect()
}

/// A rule against ueba at the same recall.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleComparison {
    /// The rule's short name.
    pub rule: &'static str,
    /// What it flags, with its parameters.
    pub description: String,
    /// The rule's user-days flagged, recall and precision.
    pub rule_result: OperatingPoint,
    /// ueba with its risk cut-off set to the highest value whose recall is
    /// at least the rule's.
    pub ueba_at_same_recall: OperatingPoint,
}

/// Everything `ueba eval` measured. Serialises to the `--json` output;
/// [`Evaluation::detail`] holds what the HTML report draws and is not
/// serialised.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// `scored` (events scored by the built-in detectors) or `alerts` (alerts read from a file).
    pub source: &'static str,
    /// Events read.
    pub events: u64,
    /// Users with events or alerts.
    pub users: usize,
    /// User-days with events.
    pub user_days: usize,
    /// User-days on which a malicious scenario starts.
    pub positive_user_days: usize,
    /// Later user-days of a malicious user (an attack under way), left out
    /// of the ranking metrics.
    pub ongoing_user_days: usize,
    /// The alert threshold of the risk scale.
    pub threshold: f64,
    /// How the alert budget stood at the end of scoring (episodes opened
    /// and allowed, and the ceiling when the threshold was held there);
    /// absent when alerts were read from a file or the budget never set the
    /// threshold.
    pub alert_budget: Option<ueba_engine::risk::budget::Standing>,
    /// Alerts in all.
    pub alerts: usize,
    /// Every labelled scenario, malicious first, as in the labels file.
    pub scenarios: Vec<ScenarioResult>,
    /// The scenarios by kind: how many of each were detected.
    pub families: Vec<ScenarioFamily>,
    /// Alerts on users with no malicious scenario.
    pub benign_alerts: usize,
    /// User-days of users with no malicious scenario.
    pub benign_user_days: usize,
    /// `benign_alerts` per 1,000 of `benign_user_days`.
    pub benign_alerts_per_1000_user_days: Option<f64>,
    /// ROC-AUC over user-days scored by peak risk.
    pub roc_auc: Option<f64>,
    /// PR-AUC (average precision) over user-days.
    pub pr_auc: Option<f64>,
    /// Highest recall over user-days with at most 1 % of negatives flagged.
    pub recall_at_1pct_fpr: Option<f64>,
    /// Highest recall over user-days with at most 5 % of negatives flagged.
    pub recall_at_5pct_fpr: Option<f64>,
    /// ueba flagging user-days whose peak risk reaches the alert threshold.
    pub ueba_at_threshold: OperatingPoint,
    /// The rules, each against ueba at the same recall.
    pub rules: Vec<RuleComparison>,
    /// Resources by peak risk, highest first (when scored).
    pub resources: Vec<EntityRow>,
    /// Sources by peak risk, highest first (when scored).
    pub sources: Vec<EntityRow>,
    /// What the analyst's configuration did (when scored): findings each
    /// `[[exceptions]]` entry kept from risk, by index.
    pub exception_matches: Vec<u64>,
    /// Events the engine refused as time outliers (when scored): dated far
    /// from the rest of the log with nothing to confirm them
    /// ([`ueba_engine::pipeline::clock`]). They are in `events` and in the
    /// rules' user-days, but were never scored.
    pub time_outliers: u64,
    /// What the scoring run said of its input (when scored): events that
    /// came out of time order, users missing from the identity file
    /// ([`ueba_engine::pipeline::Stats::late_note`],
    /// [`ueba_engine::pipeline::Stats::unidentified_note`]). Figures from
    /// such an input say more about the input than the engine.
    pub input_notes: Vec<String>,
    /// What the HTML report draws.
    #[serde(skip)]
    pub detail: Detail,
}

/// A resource or source and the risk the findings about it add up to
/// (`ueba_engine::risk::entities`).
#[derive(Clone, Debug, Serialize)]
pub struct EntityRow {
    /// As the log names it.
    pub name: String,
    /// Highest risk it reached.
    pub peak_risk: f64,
    /// Users whose findings concerned it.
    pub users: u32,
    /// Findings about it that added risk.
    pub findings: u64,
    /// The users kept for it, the one behind the peak first.
    pub top_users: Vec<String>,
}

impl EntityRow {
    fn of(e: &ueba_engine::pipeline::RankedEntity) -> Self {
        EntityRow {
            name: e.name.clone(),
            peak_risk: round(f64::from(e.standing.peak), 1),
            users: e.standing.users,
            findings: e.standing.findings,
            top_users: e.top_users.clone(),
        }
    }
}

/// Resources and sources `ueba eval` lists, each kind.
pub const ENTITIES_LISTED: usize = 10;

/// Per-user timelines and per-detector findings, for the HTML report.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    /// User names; the indices below refer to this.
    pub users: Vec<String>,
    /// Peer group per user, when known.
    pub peer_groups: Vec<Option<String>>,
    /// Peak risk per user.
    pub peaks: Vec<f64>,
    /// Risk after each finding (or each alert, with `--alerts`): (user, time ms, risk).
    pub risk: Vec<(u32, i64, f64)>,
    /// Alerts: (user, time ms, score).
    pub alerts: Vec<(u32, i64, f64)>,
    /// Detector names.
    pub detectors: Vec<String>,
    /// Findings: (detector, time ms, score).
    pub findings: Vec<(usize, i64, f64)>,
    /// Risk half-life in hours, for drawing decay between findings.
    pub half_life_hours: f64,
    /// First and last event time, ms.
    pub span_ms: (i64, i64),
}

/// What one user-day saw.
#[derive(Clone, Copy, Debug, Default)]
struct DayCell {
    rules: [bool; RULES],
    risk: f64,
}

/// Users and user-days seen in the events.
#[derive(Default)]
struct Tally {
    index: FxHashMap<String, u32>,
    names: Vec<String>,
    peers: Vec<Option<String>>,
    zones: Vec<Option<TimeZone>>,
    days: FxHashMap<(u32, i64), DayCell>,
    habits: Habits,
    events: u64,
    span_ms: Option<(i64, i64)>,
}

impl Tally {
    fn user(&mut self, name: &str, identities: &Identities) -> u32 {
        if let Some(&u) = self.index.get(name) {
            return u;
        }
        let u = self.names.len() as u32;
        let identity = identities.get(name);
        self.index.insert(name.to_string(), u);
        self.names.push(name.to_string());
        self.peers.push(identity.and_then(|i| i.peer_group.clone()));
        self.zones.push(identity.and_then(|i| i.timezone.clone()));
        u
    }

    fn add_event(&mut self, ev: &AccessEvent, identities: &Identities, rules: &RuleSet) {
        let u = self.user(&ev.user, identities);
        if self.peers[u as usize].is_none() {
            self.peers[u as usize] = ev.peer_group.as_deref().map(str::to_string);
        }
        let offset = self.zones[u as usize]
            .as_ref()
            .map_or(0, |tz| i64::from(offset_minutes(tz, ev.time_ms)) * 60_000);
        let local_hour = ((ev.time_ms + offset).rem_euclid(DAY_MS) / HOUR_MS) as u8;
        let local_day = (ev.time_ms + offset).div_euclid(DAY_MS);
        let learned = self.habits.check(u, ev, local_hour, local_day);
        let flags = rules.check(ev, local_hour).into_iter().chain(learned);
        let cell = self
            .days
            .entry((u, ev.time_ms.div_euclid(DAY_MS)))
            .or_default();
        for (c, f) in cell.rules.iter_mut().zip(flags) {
            *c |= f;
        }
        self.events += 1;
        self.span_ms = Some(match self.span_ms {
            None => (ev.time_ms, ev.time_ms),
            Some((a, b)) => (a.min(ev.time_ms), b.max(ev.time_ms)),
        });
    }
}

/// One labelled scenario as read from a labels file: the fields evaluation
/// needs of what `ueba gen` writes (see [`crate::generator::Scenario`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Label {
    /// Scenario kind.
    pub name: String,
    /// The user acting it out.
    pub user: String,
    /// Insider behaviour (true) or a benign look-alike (false).
    pub malicious: bool,
    /// Time of its first event, RFC 3339. Required of a malicious scenario;
    /// a benign one may have none (behaviour that runs through the period).
    #[serde(default)]
    pub start: Option<String>,
    /// Human explanation, when given.
    #[serde(default)]
    pub description: Option<String>,
}

/// A labels file: `{"scenarios":[...]}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LabelFile {
    /// The scenarios.
    pub scenarios: Vec<Label>,
}

/// Read a labels file, checking every scenario's fields.
pub fn load_labels(path: &Path) -> Result<LabelFile, EvalError> {
    let bytes = std::fs::read(path).map_err(|source| EvalError::Io {
        path: path.into(),
        source,
    })?;
    let bad = |message: String| EvalError::Labels {
        path: path.into(),
        message,
    };
    let text = ueba_engine::event::utf8_text(bytes).map_err(bad)?;
    // A byte-order mark from a Windows editor is no part of the JSON.
    let labels: LabelFile = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        bad(format!(
            "{e} (expected {{\"scenarios\":[{{\"name\",\"user\",\"malicious\",\"start\"}}]}} as written by `ueba gen`; \"start\" may be left out of a benign scenario)"
        ))
    })?;
    for (i, s) in labels.scenarios.iter().enumerate() {
        let at = |field: &str, m: String| {
            bad(format!("scenarios[{i}] ({}): field `{field}`: {m}", s.name))
        };
        if s.user.is_empty() {
            return Err(at("user", "must not be empty".into()));
        }
        match &s.start {
            Some(start) => {
                parse_timestamp_text(start).map_err(|m| at("start", m))?;
            }
            None if s.malicious => {
                return Err(at(
                    "start",
                    "missing; a malicious scenario needs its start (only a benign one may leave \
                     it out)"
                        .into(),
                ));
            }
            None => {}
        }
    }
    Ok(labels)
}

/// Read every event of the events file into `tally`, handing each to `each` too.
fn read_events(
    inputs: &Inputs,
    identities: &Identities,
    rules: &RuleSet,
    tally: &mut Tally,
    mut each: impl FnMut(&AccessEvent) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    let path = inputs.events;
    let io = |source| EvalError::Io {
        path: path.into(),
        source,
    };
    let parser = parser_for(inputs.format, inputs.formats).map_err(|source| EvalError::Format {
        path: path.into(),
        source,
    })?;
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = Box::new(std::io::BufReader::with_capacity(1 << 16, file));
    let (rx, _, _) = spawn_reader_with(reader, parser);
    for chunk in rx {
        match chunk {
            Chunk::Lines(lines, _) => {
                for parsed in lines {
                    let ev = parsed.map_err(|source| EvalError::Events {
                        path: path.into(),
                        source,
                    })?;
                    tally.add_event(&ev, identities, rules);
                    each(&ev)?;
                }
            }
            Chunk::Failed(e) => return Err(io(e)),
        }
    }
    Ok(())
}

/// Evaluate alerts against labels: score `inputs.events` (or read the
/// alerts of [`Source::Alerts`]), and compare with `inputs.labels` and with
/// `rules` on the same events.
pub fn evaluate(
    inputs: &Inputs<'_>,
    source: Source<'_>,
    rules: &RuleSet,
) -> Result<Evaluation, EvalError> {
    let labels = load_labels(inputs.labels)?;
    let identities = match inputs.identities {
        Some(p) => Identities::load(p)?,
        None => Identities::default(),
    };
    let mut tally = Tally::default();
    // (user, time, risk), (user, time, score), detectors, (detector, time, score)
    let (risk, alerts, detectors, findings, threshold, half_life, source_name, alert_budget);
    let (mut resources, mut sources, mut exception_matches) = (Vec::new(), Vec::new(), Vec::new());
    let mut time_outliers = 0;
    let mut input_notes = Vec::new();
    match source {
        Source::Score {
            runtime,
            config,
            shards,
        } => {
            let plugins = ueba_engine::sandbox::plugins::load(runtime, config, None)?;
            let mut scorer = Scorer::new(
                config.clone(),
                identities.clone(),
                plugins,
                Vec::<Alert>::new(),
            )
            .with_shards(shards)?;
            scorer.record_trace(true);
            read_events(inputs, &identities, rules, &mut tally, |ev| {
                scorer.push(ev).map_err(EvalError::from)
            })?;
            let (report, raised) = scorer.finish()?;
            let rows = |list: &[ueba_engine::pipeline::RankedEntity]| {
                list.iter()
                    .take(ENTITIES_LISTED)
                    .map(EntityRow::of)
                    .collect()
            };
            resources = rows(&report.resources);
            sources = rows(&report.sources);
            exception_matches = report.stats.exceptions.clone();
            time_outliers = report.stats.time_outliers;
            input_notes = report.stats.input_notes();
            risk = report
                .trace
                .iter()
                .map(|p| {
                    (
                        tally.user(&p.user, &identities),
                        p.time_ms,
                        f64::from(p.risk),
                    )
                })
                .collect::<Vec<_>>();
            findings = report
                .trace
                .iter()
                .map(|p| {
                    let d = report
                        .detectors
                        .iter()
                        .position(|d| *d == p.detector)
                        .unwrap_or(0);
                    (d, p.time_ms, f64::from(p.finding_score))
                })
                .collect();
            let mut a = Vec::with_capacity(raised.len());
            for al in &raised {
                let t = parse_timestamp_text(&al.time)
                    .map_err(|m| EvalError::Usage(format!("alert time {m}")))?;
                a.push((tally.user(&al.user, &identities), t, al.score));
            }
            alerts = a;
            detectors = report.detectors.clone();
            // The threshold in force at the end: with an alert budget it
            // is the organisation's own, not the configured start.
            threshold = report.stats.threshold;
            alert_budget = report.stats.budget;
            half_life = config.risk.half_life_hours;
            source_name = "scored";
        }
        Source::Alerts(path) => {
            let read = read_alerts(path)?;
            read_events(inputs, &identities, rules, &mut tally, |_| Ok(()))?;
            alerts = read
                .alerts
                .iter()
                .map(|(u, t, s)| (tally.user(u, &identities), *t, *s))
                .collect::<Vec<_>>();
            risk = alerts.clone();
            detectors = read.detectors;
            findings = read.findings;
            threshold = read
                .threshold
                .unwrap_or(ueba_engine::config::RiskConfig::default().threshold);
            half_life = ueba_engine::config::RiskConfig::default().half_life_hours;
            alert_budget = None;
            source_name = "alerts";
        }
    }
    for &(u, t, r) in &risk {
        if let Some(cell) = tally.days.get_mut(&(u, t.div_euclid(DAY_MS))) {
            cell.risk = cell.risk.max(r);
        }
    }
    let mut peaks = vec![0.0f64; tally.names.len()];
    for &(u, _, r) in &risk {
        peaks[u as usize] = peaks[u as usize].max(r);
    }
    let mut sorted_alerts = alerts.clone();
    sorted_alerts.sort_by_key(|a| (a.1, a.0));

    // Positive user-days: a malicious scenario starts on them.
    let mut malicious_users: Vec<u32> = Vec::new();
    let mut positive_days: Vec<(u32, i64)> = Vec::new();
    for s in labels.scenarios.iter().filter(|s| s.malicious) {
        if let Some(&u) = tally.index.get(&s.user) {
            malicious_users.push(u);
            let start = s
                .start
                .as_deref()
                .map_or(Ok(0), parse_timestamp_text)
                .unwrap_or(0);
            positive_days.push((u, start.div_euclid(DAY_MS)));
        }
    }
    let scenarios: Vec<ScenarioResult> = labels
        .scenarios
        .iter()
        .map(|s| {
            // Without a start (benign, throughout the period) every alert counts.
            let start = s
                .start
                .as_deref()
                .map(|t| parse_timestamp_text(t).unwrap_or(0));
            let from = start.unwrap_or(i64::MIN);
            let u = tally.index.get(&s.user).copied();
            let after: Vec<&(u32, i64, f64)> = sorted_alerts
                .iter()
                .filter(|a| Some(a.0) == u && a.1 >= from)
                .collect();
            let first = after.first().map(|a| a.1);
            let peak = u.map_or(0.0, |u| peaks[u as usize]);
            ScenarioResult {
                name: s.name.clone(),
                user: s.user.clone(),
                malicious: s.malicious,
                start: s.start.clone(),
                description: s.description.clone(),
                detected: first.is_some(),
                first_alert: first.map(format_time),
                time_to_detect_secs: first
                    .zip(start)
                    .map(|(t, start)| (t - start) as f64 / 1000.0),
                alerts: after.len(),
                peak_risk: round(peak, 1),
                rank: u.map(|_| 1 + peaks.iter().filter(|&&p| p > peak).count()),
            }
        })
        .collect();

    // User-days, in a fixed order so ties never depend on hashing.
    let days: BTreeMap<(u32, i64), DayCell> = tally.days.iter().map(|(k, v)| (*k, *v)).collect();
    // Ranked: every user-day but those of an attack under way (a malicious
    // user's days after a scenario's start day), which are neither.
    let ongoing = |&(u, d): &(u32, i64)| {
        !positive_days.contains(&(u, d)) && positive_days.iter().any(|&(pu, pd)| pu == u && d > pd)
    };
    let ranked: Vec<(&(u32, i64), &DayCell)> = days.iter().filter(|(k, _)| !ongoing(k)).collect();
    let scored: Vec<(f64, bool)> = ranked
        .iter()
        .map(|(k, c)| (c.risk, positive_days.contains(k)))
        .collect();
    let positives = scored.iter().filter(|s| s.1).count();
    let benign_user_days = days
        .keys()
        .filter(|k| !malicious_users.contains(&k.0))
        .count();
    let benign_alerts = alerts
        .iter()
        .filter(|a| !malicious_users.contains(&a.0))
        .count();
    let rules_cmp = Rule::ALL
        .iter()
        .enumerate()
        .map(|(i, &rule)| {
            let flagged: Vec<bool> = ranked.iter().map(|(_, c)| c.rules[i]).collect();
            let tp = flagged
                .iter()
                .zip(&scored)
                .filter(|(f, s)| **f && s.1)
                .count();
            let n = flagged.iter().filter(|f| **f).count();
            let rule_result = OperatingPoint::new(None, n, tp, positives);
            let recall = rule_result.recall.unwrap_or(0.0);
            RuleComparison {
                rule: rule.name(),
                description: rules.describe(rule),
                ueba_at_same_recall: metrics::at_recall(&scored, recall),
                rule_result,
            }
        })
        .collect();
    let (first_ms, last_ms) = tally.span_ms.unwrap_or((0, 0));
    Ok(Evaluation {
        source: source_name,
        events: tally.events,
        users: tally.names.len(),
        user_days: days.len(),
        positive_user_days: positives,
        ongoing_user_days: days.len() - ranked.len(),
        threshold,
        alert_budget,
        alerts: alerts.len(),
        families: families(&scenarios),
        scenarios,
        benign_alerts,
        benign_user_days,
        benign_alerts_per_1000_user_days: (benign_user_days > 0)
            .then(|| benign_alerts as f64 * 1000.0 / benign_user_days as f64),
        roc_auc: metrics::roc_auc(&scored),
        pr_auc: metrics::average_precision(&scored),
        recall_at_1pct_fpr: metrics::recall_at_fpr(&scored, 0.01),
        recall_at_5pct_fpr: metrics::recall_at_fpr(&scored, 0.05),
        ueba_at_threshold: metrics::at_cutoff(&scored, threshold),
        rules: rules_cmp,
        resources,
        sources,
        exception_matches,
        time_outliers,
        input_notes,
        detail: Detail {
            users: tally.names,
            peer_groups: tally.peers,
            peaks,
            risk,
            alerts,
            detectors,
            findings,
            half_life_hours: half_life,
            span_ms: (first_ms, last_ms),
        },
    })
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// `3h 05m`, `12m 30s`, `45s`: a duration for tables.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as i64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

impl Evaluation {
    /// The stdout table: scenarios, user-day metrics, false alarms and the
    /// rules comparison.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Scenarios ({} events, {} users, alerts {} from {})",
            self.events,
            self.users,
            self.alerts,
            if self.source == "scored" {
                "the built-in detectors"
            } else {
                "the alerts file"
            }
        );
        for note in &self.input_notes {
            let _ = writeln!(out, "  {note}");
        }
        if self.time_outliers > 0 {
            let _ = writeln!(
                out,
                "  {} events were refused as time outliers (dated further than input.max_time_jump_days from the rest of the log) and never scored",
                self.time_outliers
            );
        }
        let _ = writeln!(
            out,
            "  {:<22} {:<14} {:<9} {:<9} {:>13} {:>9} {:>6}",
            "scenario", "user", "kind", "alerted", "time to alert", "rank", "peak"
        );
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "  {:<22} {:<14} {:<9} {:<9} {:>13} {:>9} {:>6.1}",
                shown(&s.name, 40),
                shown(&s.user, 40),
                kind_word(s.malicious),
                match (s.detected, s.malicious) {
                    (true, true) => "DETECTED",
                    (false, true) => "MISSED",
                    (true, false) => "alerted",
                    (false, false) => "quiet",
                },
                s.time_to_detect_secs
                    .map_or_else(|| "-".into(), human_duration),
                s.rank
                    .map_or_else(|| "-".into(), |r| format!("{r}/{}", self.users)),
                s.peak_risk
            );
        }
        if self.families.len() < self.scenarios.len() {
            let _ = writeln!(out, "\nBy kind");
            let _ = writeln!(
                out,
                "  {:<22} {:<9} {:>9} {:>12}",
                "scenario", "kind", "alerted", "median peak"
            );
            for f in &self.families {
                let _ = writeln!(
                    out,
                    "  {:<22} {:<9} {:>9} {:>12.1}",
                    shown(&f.name, 40),
                    kind_word(f.malicious),
                    format!("{}/{}", f.detected, f.scenarios),
                    f.median_peak_risk
                );
            }
        }
        let _ = writeln!(
            out,
            "\nUser-days (user × UTC day with events): {}, positive (a malicious scenario starts that day): {}, left out of the ranking (a malicious user's later days): {}",
            self.user_days, self.positive_user_days, self.ongoing_user_days
        );
        let _ = writeln!(
            out,
            "  ROC-AUC {}   PR-AUC {}   recall at 1% FPR {}   recall at 5% FPR {}",
            opt(self.roc_auc, 3),
            opt(self.pr_auc, 3),
            opt(self.recall_at_1pct_fpr, 2),
            opt(self.recall_at_5pct_fpr, 2)
        );
        let _ = writeln!(
            out,
            "False alarms: {} alerts on users with no malicious scenario over {} user-days = {} per 1,000 user-days",
            self.benign_alerts,
            self.benign_user_days,
            opt(self.benign_alerts_per_1000_user_days, 2)
        );
        if let Some(b) = self.alert_budget
            && let Some(ceiling) = b.held_at_ceiling()
        {
            // Who spent it says what to do: attacks are what a budget is
            // for, a log whose ordinary users alert is a shape scored too
            // high for the ceiling.
            let on_malicious = self.alerts.saturating_sub(self.benign_alerts);
            let whose = if self.benign_alerts > on_malicious {
                format!(
                    "{} of the run's {} alerts were on users with no malicious scenario, so this log's ordinary users score above the ceiling; raise risk.threshold_ceiling and the budget follows them up",
                    self.benign_alerts, self.alerts
                )
            } else {
                format!(
                    "the budget counts the malicious scenarios' alerts too ({on_malicious} of the run's {} alerts were on users with one)",
                    self.alerts
                )
            };
            let _ = writeln!(
                out,
                "Alert budget: {b}, so the threshold was held at its ceiling, {ceiling:.1}: {whose}"
            );
        }
        if let Some(b) = self.alert_budget
            && let Some(note) = b.lifted_note()
        {
            let _ = writeln!(out, "Alert budget: {b}; {note}");
        }
        let _ = writeln!(
            out,
            "\nRules vs ueba on the same user-days (flagged = user-days a SOC would review)"
        );
        let _ = writeln!(
            out,
            "  {:<16} {:>7} {:>9} {:>8}   {:>16} {:>7} {:>9} {:>8}",
            "rule",
            "recall",
            "precision",
            "flagged",
            "ueba cut-off",
            "recall",
            "precision",
            "flagged"
        );
        for r in &self.rules {
            let u = &r.ueba_at_same_recall;
            let _ = writeln!(
                out,
                "  {:<16} {:>7} {:>9} {:>8}   {:>16} {:>7} {:>9} {:>8}",
                r.rule,
                opt(r.rule_result.recall, 2),
                opt(r.rule_result.precision, 3),
                r.rule_result.flagged,
                u.cutoff
                    .map_or_else(|| "-".into(), |c| format!("risk ≥ {c:.1}")),
                opt(u.recall, 2),
                opt(u.precision, 3),
                u.flagged
            );
        }
        let t = &self.ueba_at_threshold;
        let _ = writeln!(
            out,
            "  {:<16} {:>7} {:>9} {:>8}   (ueba at its alert threshold, risk ≥ {})",
            "ueba alerts",
            opt(t.recall, 2),
            opt(t.precision, 3),
            t.flagged,
            self.threshold
        );
        for (title, list) in [("resources", &self.resources), ("sources", &self.sources)] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\nTop {title} by peak risk (findings about them, every user)"
            );
            for (i, e) in list.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {:>2}. {:<32} {:>5.1}  {} users, {} findings: {}",
                    i + 1,
                    shown(&e.name, 32),
                    e.peak_risk,
                    e.users,
                    e.findings,
                    shown(&e.top_users.join(", "), 60)
                );
            }
        }
        if self.exception_matches.iter().any(|n| *n > 0) {
            let _ = writeln!(
                out,
                "\nFindings kept from risk by exceptions: {}",
                ueba_engine::pipeline::report::exception_counts(&self.exception_matches)
            );
        }
        out
    }
}

/// The `--json` document: the evaluation's fields at the top level and the
/// sweep, when run, under `sweep`.
#[derive(Serialize)]
pub struct Output<'a> {
    /// The evaluation of the given events, if any.
    #[serde(flatten)]
    pub evaluation: Option<&'a Evaluation>,
    /// The intensity sweep, if run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<&'a sweep::SweepResult>,
}

#[cfg(test)]
mod tests;
