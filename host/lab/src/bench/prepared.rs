//! One workload made ready for every mode, and the runs of the cases on it.
//!
//! Synthesising a workload and building each mode's input (encoded batches,
//! their SDK form, JSON lines) is slow and must stay out of the timings, so
//! [`Prepared`] does it once per workload; every case and repetition then
//! measures against the same inputs, here. The parent module keeps the
//! options, the case matrix and the result types, and only orders the
//! workloads; this one holds the timed code, so it reads on its own.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ueba_engine::sandbox::Runtime;

use super::cases::{Components, NativeSet, WasmSet, end_to_end, rss_bytes, sdk_events};
use super::workload::{Encoded, Spec, Workload};
use super::{
    BenchError, Case, CaseResult, DEFAULT_BATCH, Measurement, Memory, Mode, Options, Spread,
    Stepper, WorkloadInfo,
};

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

    /// Run `cases` `reps` times each, interleaved (repetition 1 of every
    /// case, then repetition 2, ...), and gather each case's results.
    pub(super) fn run_all(
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
        let m = self.measure(runtime, components, case, options)?;
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
        options: &Options,
    ) -> Result<Measurement, BenchError> {
        let per_event_events = options.per_event_events;
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
            Mode::EndToEnd | Mode::Sharded => {
                let r = end_to_end(
                    runtime,
                    components,
                    case.plugins,
                    if case.mode == Mode::Sharded {
                        options.shards
                    } else {
                        1
                    },
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
