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
//!
//! This module holds the options, the case matrix and the result types and
//! orders the runs; `prepared` builds each workload's inputs and times the
//! cases on them, and `render` turns a [`Report`] into the table people read.

pub mod cases;
mod prepared;
mod render;
pub mod workload;

// Re-exported so `ueba bench` and the criterion benches keep using
// `bench::Prepared` and `bench::group`; the two modules are an internal seam.
pub use prepared::{Prepared, ScoreInputs};
pub use render::group;

use std::time::Instant;

use serde::Serialize;

use ueba_engine::event::ParseError;
use ueba_engine::pipeline::ScoreError;
use ueba_engine::sandbox::plugins::LoadError;
use ueba_engine::sandbox::{PluginError, Runtime};

use cases::Components;
use workload::{Spec, WorkloadError};

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
    /// Shards of the sharded end-to-end case (`ueba score --shards`); 1
    /// leaves the case out.
    pub shards: usize,
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
            shards: 2,
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
    /// JSON lines through the whole scorer, users split across
    /// [`Options::shards`] shards on threads of their own.
    Sharded,
}

impl Mode {
    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Native => "native",
            Mode::WasmBatch => "wasm-batch",
            Mode::WasmPerEvent => "wasm-per-event",
            Mode::EndToEnd => "end-to-end",
            Mode::Sharded => "end-to-end-sharded",
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
    /// The median, smallest and largest of the finite `samples` (0 for
    /// none); the median of an even count is the mean of the middle two.
    pub(crate) fn of(samples: &[f64]) -> Spread {
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
            if o.shards > 1 {
                cases.push(Case {
                    mode: Mode::Sharded,
                    plugins,
                    batch: DEFAULT_BATCH,
                });
            }
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

fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

#[cfg(test)]
mod tests;
