//! Throughput benchmarks: how many events per second one core scores, and
//! what each entity costs in memory, natively, through the sandbox and end
//! to end.
//!
//! Every configuration runs in one process, on one thread, on the same
//! synthesised events ([`workload`]), with the repetitions of all
//! configurations interleaved (repetition 1 of every case, then repetition
//! 2, ...), so that a noisy neighbour slows all of them alike and the
//! ratios stay fair. Each run replays the detectors' learning period
//! untimed and times the rest, so the figures are of detectors that score.
//!
//! The cases ([`cases`]):
//!
//! - **native**: the detectors compiled natively and called in-process, in
//!   batches of 1,024: the limit;
//! - **wasm-batch**: the wasm plugins, batches of 64, 1,024 or 8,192 events
//!   with interned ids (what `ueba score` does, 1,024 by default);
//! - **wasm-per-event**: the same plugins and contract, one event per call,
//!   the design many plugin hosts use; after the learning period is fed in
//!   batches, the last events are timed one call each;
//! - **end-to-end**: JSON lines through parse, intern, reorder, batch,
//!   plugins and aggregation with the [`Scorer`](ueba_engine::pipeline::Scorer),
//!   which loads each built-in once, so with 1 or 3 plugins only.
//!
//! with 1, 3 or 10 plugins (copies of the built-ins, see
//! [`cases::Components::lineup`]), and an entity sweep (by default 1
//! thousand, 100 thousand and 1 million users) that also measures memory
//! per entity once every entity has been seen: the plugins' linear memory
//! growth, and the process's resident memory growth.

pub mod cases;
pub mod workload;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use ueba_engine::event::ParseError;
use ueba_engine::pipeline::ScoreError;
use ueba_engine::sandbox::plugins::LoadError;
use ueba_engine::sandbox::{PluginError, Runtime};

use cases::{Components, NativeSet, WasmSet, end_to_end, rss_bytes, sdk_events};
use workload::{Encoded, Spec, Workload, WorkloadError};

/// Batch size of the native, end-to-end and entity-sweep cases: the
/// scorer's default (`input.batch_size`).
pub const DEFAULT_BATCH: usize = 1024;
/// Events per user per day in the main workload: the median of generated
/// organisations (`ueba gen`), so that baselines fill as in production.
pub const EVENTS_PER_USER_DAY: u64 = 67;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options cannot make a benchmark.
    #[error("bench: {0}")]
    Options(String),
    /// The workload could not be synthesised.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// A plugin failed to compile or instantiate.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The scorer's detectors could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A plugin failed during a run.
    #[error("detector `{plugin}` failed during the benchmark: {message}")]
    Detector {
        /// Detector name.
        plugin: String,
        /// The trap or error.
        message: String,
    },
    /// A synthesised line did not parse (a bug in the synthesiser).
    #[error("synthesised events: {0}")]
    Parse(#[from] ParseError),
    /// The scorer failed.
    #[error(transparent)]
    Score(#[from] ScoreError),
}

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Options {
    /// Users in the main workload.
    pub users: u32,
    /// Events in the main workload, learning period included.
    pub events: u64,
    /// Days the workloads span (the first 7 are learning, untimed).
    pub days: u32,
    /// Plugin counts to run (copies of the built-ins).
    pub plugins: Vec<usize>,
    /// Batch sizes of the wasm-batch case, run with 3 plugins (or the first
    /// plugin count when 3 is not among them); other plugin counts run
    /// [`DEFAULT_BATCH`] only.
    pub batches: Vec<usize>,
    /// Events timed one call each in the wasm-per-event case.
    pub per_event_events: u64,
    /// User counts of the entity sweep; each sweep workload has
    /// `max(users, events / 2)` events.
    pub entities: Vec<u32>,
    /// Plugins in the entity sweep.
    pub sweep_plugins: usize,
    /// Repetitions of every case of the main workload; medians and min–max
    /// are over them.
    pub reps: usize,
    /// Repetitions of the entity sweep (a million users take a while).
    pub sweep_reps: usize,
    /// Seed of the synthesiser.
    pub seed: u64,
}

impl Options {
    /// The default: a 200-user organisation over 14 days (~188,000 events,
    /// ~94,000 timed after the learning week), 1/3/10 plugins, batches of
    /// 64/1,024/8,192, 3 repetitions, and one pass of a sweep over 1
    /// thousand, 100 thousand and 1 million users; about two minutes on two
    /// cores in a release build.
    pub fn standard() -> Self {
        let users = 200;
        let days = 14;
        let events = u64::from(users) * EVENTS_PER_USER_DAY * u64::from(days);
        Options {
            users,
            events,
            days,
            plugins: vec![1, 3, 10],
            batches: vec![64, 1024, 8192],
            per_event_events: events / 10,
            entities: vec![1_000, 100_000, 1_000_000],
            sweep_plugins: 3,
            reps: 3,
            sweep_reps: 1,
            seed: 42,
        }
    }

    /// A tenth of the events, one repetition and a sweep up to 10 thousand
    /// users: a smoke test of every case in seconds (on sparse users, so
    /// not figures to quote).
    pub fn quick() -> Self {
        let standard = Self::standard();
        Options {
            events: standard.events / 10,
            per_event_events: standard.per_event_events / 10,
            entities: vec![1_000, 10_000],
            reps: 1,
            ..standard
        }
    }

    /// Set the main workload's event count, and the per-event count with it.
    pub fn with_events(mut self, events: u64) -> Self {
        self.events = events;
        self.per_event_events = (events / 10).max(1);
        self
    }

    fn check(&self) -> Result<(), BenchError> {
        let bad = |m: &str| Err(BenchError::Options(m.to_string()));
        if self.users == 0 || self.events == 0 {
            return bad("needs at least one user and one event");
        }
        if self.plugins.is_empty() || self.plugins.contains(&0) || self.sweep_plugins == 0 {
            return bad("plugin counts must be at least 1");
        }
        if self.batches.is_empty() || self.batches.contains(&0) {
            return bad("batch sizes must be at least 1");
        }
        if self.entities.contains(&0) {
            return bad("entity counts must be at least 1");
        }
        if self.reps == 0 || self.sweep_reps == 0 {
            return bad("needs at least one repetition");
        }
        Ok(())
    }
}

/// Which path a case measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Detectors compiled natively, called in-process.
    Native,
    /// Wasm plugins, one call per batch.
    WasmBatch,
    /// Wasm plugins, one call per event.
    WasmPerEvent,
    /// JSON lines through the whole scorer.
    EndToEnd,
}

impl Mode {
    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Native => "native",
            Mode::WasmBatch => "wasm-batch",
            Mode::WasmPerEvent => "wasm-per-event",
            Mode::EndToEnd => "end-to-end",
        }
    }
}

/// A median and the range around it, over repetitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(samples: &[f64]) -> Spread {
        let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        let median = match s.len() {
            0 => 0.0,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        };
        Spread {
            median,
            min: s.first().copied().unwrap_or(0.0),
            max: s.last().copied().unwrap_or(0.0),
        }
    }
}

/// Memory a case's state took once every entity of its workload was seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Memory {
    /// Users in the workload.
    pub entities: u32,
    /// Each plugin instance's linear memory at the end, bytes (wasm cases).
    pub plugin_bytes: Vec<u64>,
    /// Linear memory grown since instantiation, all plugins, per entity
    /// (wasm cases).
    pub plugin_growth_per_entity: Option<f64>,
    /// Growth of the process's resident memory over the run, per entity;
    /// the largest over repetitions, since a run can reuse memory an
    /// earlier one freed (so this is a lower bound).
    pub rss_growth_per_entity: Option<f64>,
    /// Each detector's linear memory at the end divided by the entities
    /// (wasm cases): its memory per user, once users dominate.
    pub per_detector_per_entity: Vec<(String, f64)>,
}

/// One configuration's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseResult {
    /// `mode/plugins/batch/users`, e.g. `wasm-batch/3p/b1024/u200`.
    pub name: String,
    /// What was measured.
    pub mode: Mode,
    /// Plugins (or native detectors) fed each event.
    pub plugins: usize,
    /// Events per call (1 in the per-event case).
    pub batch: usize,
    /// Users in the workload.
    pub users: u32,
    /// Events timed per repetition.
    pub events: u64,
    /// Repetitions.
    pub reps: usize,
    /// Nanoseconds per event (all plugins together).
    pub ns_per_event: Spread,
    /// Events per second (all plugins together).
    pub events_per_sec: Spread,
    /// Findings in the timed part of the last repetition: the same work
    /// whatever the mode, so native and wasm counts must agree.
    pub findings: u64,
    /// Memory per entity.
    pub memory: Memory,
}

/// A workload the cases ran on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadInfo {
    /// Users.
    pub users: u32,
    /// Events, learning period included.
    pub events: u64,
    /// Events after the learning period (timed).
    pub timed: u64,
    /// Days spanned.
    pub days: u32,
    /// Distinct strings interned.
    pub symbols: u64,
}

/// Everything a benchmark run measured, as printed and as written by `--json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// `ueba` version.
    pub version: String,
    /// `release` or `debug`: a debug build is 20 times slower and its
    /// figures mean nothing.
    pub profile: String,
    /// CPUs available to the process (the cases use one).
    pub cpus: usize,
    /// 1, 5 and 15 minute load averages before and after, from
    /// `/proc/loadavg`: a loaded machine makes every figure slower.
    pub load_before: Option<[f64; 3]>,
    /// Load averages after the run.
    pub load_after: Option<[f64; 3]>,
    /// Wall time of the whole benchmark, seconds.
    pub seconds: f64,
    /// The options it ran with.
    pub options: Options,
    /// The workloads.
    pub workloads: Vec<WorkloadInfo>,
    /// One entry per configuration.
    pub results: Vec<CaseResult>,
}

/// Where a benchmark is, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Steps done.
    pub done: u64,
    /// Steps in all.
    pub total: u64,
    /// What runs now.
    pub label: String,
}

/// One configuration: a mode, a number of plugins and a batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// What is measured.
    pub mode: Mode,
    /// Plugins (copies of the built-ins) fed each event.
    pub plugins: usize,
    /// Events per call; ignored by the per-event mode (always 1).
    pub batch: usize,
}

impl Case {
    /// `mode/plugins/batch`, e.g. `wasm-batch/3p/b1024`.
    pub fn label(&self) -> String {
        format!("{}/{}p/b{}", self.mode.name(), self.plugins, self.batch)
    }
}

/// What one run of a case measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Wall time of the timed events.
    pub elapsed: std::time::Duration,
    /// Events timed.
    pub events: u64,
    /// Findings in the timed events.
    pub findings: u64,
    /// Growth of resident memory over the run, bytes, where measurable.
    pub rss_growth: Option<u64>,
    /// Each wasm instance's linear memory at the end, bytes (wasm modes).
    pub plugin_bytes: Vec<u64>,
    /// Linear memory grown since instantiation, all instances (wasm modes).
    pub plugin_growth: Option<u64>,
    /// Each instance's detector and linear memory at the end (wasm modes).
    pub plugin_memory: Vec<(String, u64)>,
}

#[derive(Default)]
struct Samples {
    ns: Vec<f64>,
    findings: u64,
    events: u64,
    plugin_bytes: Vec<u64>,
    plugin_memory: Vec<(String, u64)>,
    plugin_growth: Option<u64>,
    rss_growth: Option<u64>,
}

/// Run every case of `options` on `runtime`'s engine, reporting progress.
pub fn run(
    runtime: &Runtime,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, BenchError> {
    options.check()?;
    let started = Instant::now();
    let load_before = load_average();
    let components = Components::builtin(runtime)?;
    let main_cases = main_cases(options, components.len());
    let sweep_cases = sweep_cases(options);
    let total = (main_cases.len() * options.reps
        + options.entities.len() * sweep_cases.len() * options.sweep_reps) as u64;
    let mut step = Stepper {
        done: 0,
        total,
        progress,
    };
    let mut workloads = Vec::new();
    let mut results = Vec::new();

    let spec = Spec {
        users: options.users,
        events: options.events,
        days: options.days,
        seed: options.seed,
    };
    step.show(&format!("synthesising {} users", spec.users));
    let prepared = Prepared::new(spec)?;
    workloads.push(prepared.info());
    results.extend(prepared.run_all(
        runtime,
        &components,
        &main_cases,
        options,
        options.reps,
        &mut step,
    )?);
    drop(prepared);

    for &users in &options.entities {
        let spec = sweep_spec(options, users);
        step.show(&format!("synthesising {users} users"));
        let prepared = Prepared::new(spec)?;
        workloads.push(prepared.info());
        results.extend(prepared.run_all(
            runtime,
            &components,
            &sweep_cases,
            options,
            options.sweep_reps,
            &mut step,
        )?);
    }
    Ok(Report {
        version: env!("CARGO_PKG_VERSION").to_string(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before,
        load_after: load_average(),
        seconds: started.elapsed().as_secs_f64(),
        options: options.clone(),
        workloads,
        results,
    })
}

/// The main matrix: for each plugin count, native, wasm-batch (at every
/// batch size with 3 plugins, at [`DEFAULT_BATCH`] otherwise; see
/// [`Options::batches`]), wasm-per-event, and end-to-end where the scorer
/// can load that many (`builtins` at most).
pub fn main_cases(o: &Options, builtins: usize) -> Vec<Case> {
    let batch_plugins = if o.plugins.contains(&3) {
        3
    } else {
        o.plugins.first().copied().unwrap_or(3)
    };
    let mut cases = Vec::new();
    for &plugins in &o.plugins {
        cases.push(Case {
            mode: Mode::Native,
            plugins,
            batch: DEFAULT_BATCH,
        });
        let batches = if plugins == batch_plugins {
            o.batches.clone()
        } else {
            vec![DEFAULT_BATCH]
        };
        for batch in batches {
            cases.push(Case {
                mode: Mode::WasmBatch,
                plugins,
                batch,
            });
        }
        cases.push(Case {
            mode: Mode::WasmPerEvent,
            plugins,
            batch: 1,
        });
        // The scorer loads each detector once by name: no copies end to end.
        if plugins <= builtins {
            cases.push(Case {
                mode: Mode::EndToEnd,
                plugins,
                batch: DEFAULT_BATCH,
            });
        }
    }
    cases
}

/// The workload of the entity sweep at `users` users: as many events as
/// users (half the main workload's when that is more), over the same days,
/// so memory per entity is measured with every user seen.
pub fn sweep_spec(o: &Options, users: u32) -> Spec {
    Spec {
        users,
        events: u64::from(users).max(o.events / 2),
        days: o.days,
        seed: o.seed,
    }
}

/// The entity sweep's cases: native, wasm-batch and end-to-end with
/// `sweep_plugins` plugins in batches of [`DEFAULT_BATCH`].
pub fn sweep_cases(o: &Options) -> Vec<Case> {
    [Mode::Native, Mode::WasmBatch, Mode::EndToEnd]
        .into_iter()
        .map(|mode| Case {
            mode,
            plugins: o.sweep_plugins,
            batch: DEFAULT_BATCH,
        })
        .collect()
}

struct Stepper<'a> {
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(Progress),
}

impl Stepper<'_> {
    fn show(&mut self, label: &str) {
        (self.progress)(Progress {
            done: self.done,
            total: self.total,
            label: label.to_string(),
        });
    }

    fn advance(&mut self) {
        self.done += 1;
    }
}

/// `ueba score`'s input files for a workload, from
/// [`Prepared::write_score_inputs`].
#[derive(Clone, Debug)]
pub struct ScoreInputs {
    /// The learning period's events alone.
    pub learning: PathBuf,
    /// Every event: the learning period's, then the timed ones.
    pub all: PathBuf,
    /// The users' peer groups and timezones (`--identities`).
    pub identities: PathBuf,
    /// Events in `all` after the learning period.
    pub timed: u64,
}

/// A workload with everything each mode needs built ahead of time: the
/// encoded batches, their SDK form for the native detectors, and the JSON
/// lines for the end-to-end runs. Building it is not timed.
pub struct Prepared {
    workload: Workload,
    encoded: Encoded,
    sdk: Vec<ueba_sdk::Event>,
    jsonl: String,
}

impl Prepared {
    /// Synthesise the workload of `spec` and prepare every mode's input.
    pub fn new(spec: Spec) -> Result<Self, BenchError> {
        let workload = Workload::synthesise(spec)?;
        let encoded = workload.encode();
        let sdk = sdk_events(&encoded.events);
        let jsonl = workload.jsonl();
        Ok(Prepared {
            workload,
            encoded,
            sdk,
            jsonl,
        })
    }

    /// What the workload holds.
    pub fn info(&self) -> WorkloadInfo {
        let spec = self.workload.spec();
        WorkloadInfo {
            users: spec.users,
            events: self.workload.len() as u64,
            timed: (self.workload.len() - self.workload.warm()) as u64,
            days: spec.days,
            symbols: self.encoded.symbols.len() as u64,
        }
    }

    fn run_all(
        &self,
        runtime: &Runtime,
        components: &Components,
        cases: &[Case],
        options: &Options,
        reps: usize,
        step: &mut Stepper<'_>,
    ) -> Result<Vec<CaseResult>, BenchError> {
        let users = self.workload.spec().users;
        let mut samples: Vec<Samples> = cases.iter().map(|_| Samples::default()).collect();
        for rep in 0..reps {
            for (case, s) in cases.iter().zip(&mut samples) {
                step.show(&format!(
                    "{} (rep {}/{})",
                    case_name(case, users),
                    rep + 1,
                    reps
                ));
                self.run_case(runtime, components, case, options, s)?;
                step.advance();
            }
        }
        Ok(cases
            .iter()
            .zip(samples)
            .map(|(case, s)| {
                let per_sec: Vec<f64> = s.ns.iter().map(|ns| 1e9 / ns.max(1e-9)).collect();
                let per_entity = |b: Option<u64>| b.map(|b| b as f64 / f64::from(users));
                CaseResult {
                    name: case_name(case, users),
                    mode: case.mode,
                    plugins: case.plugins,
                    batch: case.batch,
                    users,
                    events: s.events,
                    reps: s.ns.len(),
                    ns_per_event: Spread::of(&s.ns),
                    events_per_sec: Spread::of(&per_sec),
                    findings: s.findings,
                    memory: Memory {
                        entities: users,
                        plugin_bytes: s.plugin_bytes,
                        plugin_growth_per_entity: per_entity(s.plugin_growth),
                        rss_growth_per_entity: per_entity(s.rss_growth),
                        per_detector_per_entity: s
                            .plugin_memory
                            .iter()
                            .map(|(n, b)| (n.clone(), *b as f64 / f64::from(users.max(1))))
                            .collect(),
                    },
                }
            })
            .collect())
    }

    fn run_case(
        &self,
        runtime: &Runtime,
        components: &Components,
        case: &Case,
        options: &Options,
        s: &mut Samples,
    ) -> Result<(), BenchError> {
        let m = self.measure(runtime, components, case, options.per_event_events)?;
        s.ns.push(m.elapsed.as_nanos() as f64 / m.events.max(1) as f64);
        s.events = m.events;
        s.findings = m.findings;
        // Memory reused from an earlier run hides growth, so keep the largest.
        s.rss_growth = s.rss_growth.max(m.rss_growth);
        if !m.plugin_bytes.is_empty() {
            s.plugin_bytes = m.plugin_bytes;
        }
        if !m.plugin_memory.is_empty() {
            s.plugin_memory = m.plugin_memory;
        }
        s.plugin_growth = s.plugin_growth.max(m.plugin_growth);
        Ok(())
    }

    /// Write the workload as `ueba score`'s input files into `dir`, for
    /// timing the command itself on a JSON-lines file: the learning
    /// period's lines alone, every line, and the identity CSV. Running
    /// `ueba score` on both files and subtracting the first run's time
    /// from the second's leaves the time of the events after learning,
    /// without the process's start and the untimed learning week, so the
    /// figure compares with the end-to-end case.
    pub fn write_score_inputs(&self, dir: &Path) -> std::io::Result<ScoreInputs> {
        let w = &self.workload;
        let inputs = ScoreInputs {
            learning: dir.join("learning.jsonl"),
            all: dir.join("events.jsonl"),
            identities: dir.join("identities.csv"),
            timed: (w.len() - w.warm()) as u64,
        };
        // The learning period's lines are the first `warm` lines of the whole.
        let learning: usize = self
            .jsonl
            .split_inclusive('\n')
            .take(w.warm())
            .map(str::len)
            .sum();
        std::fs::write(&inputs.learning, &self.jsonl[..learning])?;
        std::fs::write(&inputs.all, &self.jsonl)?;
        std::fs::write(&inputs.identities, w.identities_csv())?;
        Ok(inputs)
    }

    /// Run `case` once on fresh detectors: replay the learning period
    /// untimed, then time the rest (in the per-event mode, only the last
    /// `per_event_events` events, one call each, the others in batches).
    pub fn measure(
        &self,
        runtime: &Runtime,
        components: &Components,
        case: &Case,
        per_event_events: u64,
    ) -> Result<Measurement, BenchError> {
        let enc = &self.encoded;
        let n = enc.events.len();
        let warm = enc.warm.min(n);
        let rss_before = rss_bytes();
        let growth = || {
            rss_before
                .zip(rss_bytes())
                .map(|(b, a)| a.saturating_sub(b))
        };
        Ok(match case.mode {
            Mode::Native => {
                let lineup = components.lineup(case.plugins);
                let mut set = NativeSet::new(&lineup)?;
                set.run(enc, &self.sdk, 0..warm, DEFAULT_BATCH);
                let t = Instant::now();
                let findings = set.run(enc, &self.sdk, warm..n, case.batch);
                let elapsed = t.elapsed();
                Measurement {
                    elapsed,
                    events: (n - warm) as u64,
                    findings,
                    rss_growth: growth(),
                    plugin_bytes: Vec::new(),
                    plugin_growth: None,
                    plugin_memory: Vec::new(),
                }
            }
            Mode::WasmBatch | Mode::WasmPerEvent => {
                let mut set = WasmSet::new(components, case.plugins)?;
                let (timed_from, batch) = if case.mode == Mode::WasmPerEvent {
                    let per_event = usize::try_from(per_event_events).unwrap_or(n);
                    (n.saturating_sub(per_event.max(1)).max(warm), 1)
                } else {
                    (warm, case.batch)
                };
                set.run(enc, 0..timed_from, DEFAULT_BATCH)?;
                let t = Instant::now();
                let findings = set.run(enc, timed_from..n, batch)?;
                let elapsed = t.elapsed();
                Measurement {
                    elapsed,
                    events: (n - timed_from) as u64,
                    findings,
                    rss_growth: growth(),
                    plugin_bytes: set.memory_bytes(),
                    plugin_growth: Some(set.memory_growth()),
                    plugin_memory: set.memory_by_plugin(),
                }
            }
            Mode::EndToEnd => {
                let r = end_to_end(
                    runtime,
                    components,
                    case.plugins,
                    self.workload.identities(),
                    &self.jsonl,
                    warm,
                )?;
                Measurement {
                    elapsed: r.elapsed,
                    events: r.events,
                    findings: r.findings,
                    rss_growth: r.rss_growth,
                    plugin_bytes: Vec::new(),
                    plugin_growth: None,
                    plugin_memory: Vec::new(),
                }
            }
        })
    }
}

fn case_name(case: &Case, users: u32) -> String {
    format!("{}/u{users}", case.label())
}

fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

impl Report {
    /// The results as a table for a terminal, then the ratios that answer
    /// "what does the sandbox cost" and "what does batching buy".
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let load = |l: Option<[f64; 3]>| {
            l.map(|[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"))
                .unwrap_or_else(|| "unknown".into())
        };
        let _ = writeln!(
            out,
            "ueba {} ({} build), one thread of {} CPUs; load before {}, after {}; {:.0} s",
            self.version,
            self.profile,
            self.cpus,
            load(self.load_before),
            load(self.load_after),
            self.seconds
        );
        for w in &self.workloads {
            let _ = writeln!(
                out,
                "workload: {} users, {} days, {} events ({} after learning), {} symbols",
                group(w.users as f64),
                w.days,
                group(w.events as f64),
                group(w.timed as f64),
                group(w.symbols as f64)
            );
        }
        let _ = writeln!(
            out,
            "\n{:<15} {:>7} {:>5} {:>9} {:>9} {:>24} {:>12} {:>8} {:>12}",
            "mode",
            "plugins",
            "batch",
            "users",
            "events",
            "ns/event (min-max)",
            "events/s",
            "findings",
            "B/entity"
        );
        for r in &self.results {
            let spread = format!(
                "{:.0} ({:.0}-{:.0})",
                r.ns_per_event.median, r.ns_per_event.min, r.ns_per_event.max
            );
            let memory = r
                .memory
                .plugin_growth_per_entity
                .map(|b| format!("{b:.0} wasm"))
                .or_else(|| {
                    r.memory
                        .rss_growth_per_entity
                        .map(|b| format!("{b:.0} rss"))
                })
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<15} {:>7} {:>5} {:>9} {:>9} {:>24} {:>12} {:>8} {:>12}",
                r.mode.name(),
                r.plugins,
                r.batch,
                group(f64::from(r.users)),
                group(r.events as f64),
                spread,
                group(r.events_per_sec.median),
                r.findings,
                memory
            );
        }
        if let Some(r) = self
            .results
            .iter()
            .filter(|r| !r.memory.per_detector_per_entity.is_empty())
            .max_by_key(|r| (r.users, r.plugins))
        {
            let per: Vec<String> = r
                .memory
                .per_detector_per_entity
                .iter()
                .map(|(n, b)| format!("{n} {b:.0}"))
                .collect();
            let _ = writeln!(
                out,
                "\nlinear memory per user by detector at {} users (bytes): {}",
                group(f64::from(r.users)),
                per.join(", ")
            );
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            let _ = writeln!(out, "\nratios of median ns/event:");
            for (label, value) in ratios {
                let _ = writeln!(out, "  {label:<60} {value:>6.2}");
            }
        }
        out
    }

    /// Ratios of medians between modes at the same plugin count and users:
    /// wasm over native (the sandbox's cost), per-event over batched (what
    /// batching buys) and end-to-end over wasm (what parsing, interning and
    /// aggregation add).
    pub fn ratios(&self) -> Vec<(String, f64)> {
        let find = |mode: Mode, plugins: usize, batch: usize, users: u32| {
            self.results
                .iter()
                .find(|r| {
                    r.mode == mode && r.plugins == plugins && r.batch == batch && r.users == users
                })
                .map(|r| r.ns_per_event.median)
        };
        let mut out = Vec::new();
        for r in self
            .results
            .iter()
            .filter(|r| r.mode == Mode::WasmBatch && r.batch == DEFAULT_BATCH)
        {
            let (p, u) = (r.plugins, r.users);
            let wasm = r.ns_per_event.median;
            let mut push = |label: String, other: Option<f64>, over: bool| {
                if let Some(x) = other.filter(|x| *x > 0.0) {
                    out.push((label, if over { wasm / x } else { x / wasm }));
                }
            };
            push(
                format!(
                    "wasm-batch/native, {p} plugins, {} users",
                    group(f64::from(u))
                ),
                find(Mode::Native, p, DEFAULT_BATCH, u),
                true,
            );
            push(
                format!(
                    "wasm-per-event/wasm-batch, {p} plugins, {} users",
                    group(f64::from(u))
                ),
                find(Mode::WasmPerEvent, p, 1, u),
                false,
            );
            push(
                format!(
                    "end-to-end/wasm-batch, {p} plugins, {} users",
                    group(f64::from(u))
                ),
                find(Mode::EndToEnd, p, DEFAULT_BATCH, u),
                false,
            );
        }
        out
    }
}

/// A number with thousands separators, e.g. `1,234,567`, for tables and
/// messages people read.
pub fn group(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
