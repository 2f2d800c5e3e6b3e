//! The things a benchmark runs: the detectors natively, the wasm plugins in
//! batches or one event per call, and the whole scorer from JSON lines.
//!
//! `ueba bench` and the criterion benchmarks in `benches/` both drive these,
//! so the two always measure the same cases.

use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker};
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};

use crate::bench::BenchError;
use crate::bench::workload::Encoded;
use ueba_engine::config::{Config, DetectorConfig};
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::{AlertSink, Scorer};
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::sandbox::plugins::BUILTIN_PLUGINS;
use ueba_engine::sandbox::{EPOCH_TICK, Runtime, bindings, wit};
use ueba_formats::sources::parse_line;

/// Memory cap per plugin instance in benchmarks: the most a 32-bit linear
/// memory can hold. A million users need more than the default
/// `sandbox.memory_mib` (256); the benchmark measures, it does not enforce.
pub const BENCH_MEMORY_BYTES: usize = 4 << 30;
/// Time budget per call in benchmarks: generous, since the machine may be
/// loaded, but still a deadline, as in production (epochs cost the same).
pub const BENCH_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The built-in detectors compiled once, so that any number of copies can
/// be instantiated from them.
pub struct Components {
    compiled: Vec<(&'static str, Component)>,
}

impl Components {
    /// Compile (or load from the runtime's cache) every built-in plugin.
    pub fn builtin(runtime: &Runtime) -> Result<Self, BenchError> {
        let mut compiled = Vec::with_capacity(BUILTIN_PLUGINS.len());
        for (name, bytes) in BUILTIN_PLUGINS {
            compiled.push((*name, runtime.compile(&format!("builtin:{name}"), bytes)?));
        }
        Ok(Components { compiled })
    }

    /// How many built-in detectors there are.
    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    /// Whether there are none (never, in a normal build).
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// The names of `n` plugins: the built-ins in order, repeated as needed
    /// (10 plugins are volume, off-hours, novel-table, new-source twice, then
    /// volume and off-hours).
    pub fn lineup(&self, n: usize) -> Vec<&'static str> {
        self.compiled
            .iter()
            .map(|(name, _)| *name)
            .cycle()
            .take(if self.compiled.is_empty() { 0 } else { n })
            .collect()
    }

    fn lineup_components(&self, n: usize) -> impl Iterator<Item = &(&'static str, Component)> {
        self.compiled.iter().cycle().take(n)
    }
}

/// Store data of a benchmark instance: the usual limits, plus the linear
/// memory the instance has been granted, which is how the benchmark learns
/// a plugin's memory per entity (the runtime's stores do not expose it).
struct Tracked {
    limits: StoreLimits,
    memory_bytes: usize,
}

impl ResourceLimiter for Tracked {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            // Called with current = 0 when a memory is created, so the sum
            // over calls is the size of every memory the instance has.
            self.memory_bytes += desired.saturating_sub(current);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// One wasm plugin instance as the runtime makes them (same engine, same
/// compiled component, epoch deadline set before every call, memory cap),
/// but with its store's memory growth tracked.
struct Instance {
    name: &'static str,
    store: Store<Tracked>,
    bindings: bindings::DetectorPlugin,
}

impl Instance {
    fn new(name: &'static str, component: &Component) -> Result<Self, BenchError> {
        let engine = component.engine();
        let mut store = Store::new(
            engine,
            Tracked {
                limits: StoreLimitsBuilder::new()
                    .memory_size(BENCH_MEMORY_BYTES)
                    .instances(4)
                    .build(),
                memory_bytes: 0,
            },
        );
        store.limiter(|t| t as &mut dyn ResourceLimiter);
        store.epoch_deadline_trap();
        let linker = Linker::new(engine);
        let bindings = bindings::DetectorPlugin::instantiate(&mut store, component, &linker)
            .map_err(|e| BenchError::Detector {
                plugin: name.to_string(),
                message: format!("instantiation failed: {e:#}"),
            })?;
        Ok(Instance {
            name,
            store,
            bindings,
        })
    }

    fn observe(&mut self, batch: &wit::Batch) -> Result<usize, BenchError> {
        self.store.set_epoch_deadline(deadline_ticks());
        let failed = |message: String| BenchError::Detector {
            plugin: self.name.to_string(),
            message,
        };
        match self
            .bindings
            .ueba_detector0_5_0_detector()
            .call_observe(&mut self.store, batch)
        {
            Ok(Ok(findings)) => Ok(findings.len()),
            Ok(Err(e)) => Err(failed(e.message)),
            Err(e) => Err(failed(format!("{e:#}"))),
        }
    }
}

fn deadline_ticks() -> u64 {
    (BENCH_CALL_TIMEOUT.as_micros() / EPOCH_TICK.as_micros().max(1)) as u64 + 1
}

/// `n` wasm plugin instances fed the same batches in turn, as the scorer
/// feeds its detectors.
pub struct WasmSet {
    instances: Vec<Instance>,
    sent: usize,
    batch: wit::Batch,
    initial_memory: Vec<usize>,
}

impl WasmSet {
    /// Fresh instances of the first `n` plugins of [`Components::lineup`].
    pub fn new(components: &Components, n: usize) -> Result<Self, BenchError> {
        let instances = components
            .lineup_components(n)
            .map(|(name, c)| Instance::new(name, c))
            .collect::<Result<Vec<_>, _>>()?;
        let initial_memory = instances
            .iter()
            .map(|i| i.store.data().memory_bytes)
            .collect();
        Ok(WasmSet {
            instances,
            sent: 0,
            batch: wit::Batch {
                symbols: Vec::new(),
                events: wit::Events::default(),
            },
            initial_memory,
        })
    }

    /// Feed events `range` in batches of `batch_size`, each batch to every
    /// instance, with the symbols the instances have not seen yet; returns
    /// the number of findings.
    pub fn run(
        &mut self,
        enc: &Encoded,
        range: std::ops::Range<usize>,
        batch_size: usize,
    ) -> Result<u64, BenchError> {
        let mut findings = 0u64;
        let end = range.end.min(enc.events.len());
        let mut start = range.start;
        while start < end {
            let stop = (start + batch_size.max(1)).min(end);
            let symbols = enc.symbols_for(self.sent, stop);
            self.sent += symbols.len();
            self.batch.symbols.clear();
            self.batch.symbols.extend_from_slice(symbols);
            self.batch.events.clear();
            self.batch.events.extend_from(&enc.events, start..stop);
            for instance in &mut self.instances {
                findings += instance.observe(&self.batch)? as u64;
            }
            start = stop;
        }
        Ok(findings)
    }

    /// Linear memory of each instance now, bytes, in lineup order.
    pub fn memory_bytes(&self) -> Vec<u64> {
        self.instances
            .iter()
            .map(|i| i.store.data().memory_bytes as u64)
            .collect()
    }

    /// Each instance's detector name and linear memory, bytes, in lineup
    /// order: with many users, the memory each detector keeps per user.
    pub fn memory_by_plugin(&self) -> Vec<(String, u64)> {
        self.instances
            .iter()
            .map(|i| (i.name.to_string(), i.store.data().memory_bytes as u64))
            .collect()
    }

    /// Linear memory grown since instantiation, summed over instances: the
    /// state the plugins keep for what they have seen.
    pub fn memory_growth(&self) -> u64 {
        self.instances
            .iter()
            .zip(&self.initial_memory)
            .map(|(i, first)| i.store.data().memory_bytes.saturating_sub(*first) as u64)
            .sum()
    }
}

/// A built-in detector compiled natively, behind the SDK's runtime exactly
/// as its unit tests drive it (boxed, as a wasm instance's state lives
/// behind a pointer too).
enum NativeDetector {
    Volume(Box<ueba_sdk::Runtime<ueba_volume::Volume>>),
    OffHours(Box<ueba_sdk::Runtime<ueba_off_hours::OffHours>>),
    NovelTable(Box<ueba_sdk::Runtime<ueba_novel_table::NovelTable>>),
    NewSource(Box<ueba_sdk::Runtime<ueba_new_source::NewSource>>),
}

impl NativeDetector {
    fn new(name: &str) -> Result<Self, BenchError> {
        use ueba_sdk::Detector;
        Ok(match name {
            n if n == ueba_volume::Volume::info().name => Self::Volume(Default::default()),
            n if n == ueba_off_hours::OffHours::info().name => Self::OffHours(Default::default()),
            n if n == ueba_novel_table::NovelTable::info().name => {
                Self::NovelTable(Default::default())
            }
            n if n == ueba_new_source::NewSource::info().name => {
                Self::NewSource(Default::default())
            }
            other => {
                return Err(BenchError::Detector {
                    plugin: other.to_string(),
                    message: "no native build of this detector in the benchmark".into(),
                });
            }
        })
    }

    fn symbols(&mut self) -> &mut ueba_sdk::Symbols {
        match self {
            Self::Volume(r) => r.symbols_mut(),
            Self::OffHours(r) => r.symbols_mut(),
            Self::NovelTable(r) => r.symbols_mut(),
            Self::NewSource(r) => r.symbols_mut(),
        }
    }

    fn observe(&mut self, events: &[ueba_sdk::Event]) -> usize {
        match self {
            Self::Volume(r) => r.observe(events).len(),
            Self::OffHours(r) => r.observe(events).len(),
            Self::NovelTable(r) => r.observe(events).len(),
            Self::NewSource(r) => r.observe(events).len(),
        }
    }
}

/// The detectors of a lineup compiled natively and called in-process: no
/// sandbox, no lowering. The limit the wasm plugins are measured against.
pub struct NativeSet {
    detectors: Vec<NativeDetector>,
    sent: usize,
}

impl NativeSet {
    /// Fresh native detectors with the names of `lineup`.
    pub fn new(lineup: &[&str]) -> Result<Self, BenchError> {
        Ok(NativeSet {
            detectors: lineup
                .iter()
                .map(|n| NativeDetector::new(n))
                .collect::<Result<_, _>>()?,
            sent: 0,
        })
    }

    /// Feed events `range` of `events` (the SDK form of `enc.events`) in
    /// batches, as [`WasmSet::run`] does; returns the number of findings.
    pub fn run(
        &mut self,
        enc: &Encoded,
        events: &[ueba_sdk::Event],
        range: std::ops::Range<usize>,
        batch_size: usize,
    ) -> u64 {
        let mut findings = 0u64;
        let end = range.end.min(events.len());
        let mut start = range.start;
        while start < end {
            let stop = (start + batch_size.max(1)).min(end);
            let symbols = enc.symbols_for(self.sent, stop);
            self.sent += symbols.len();
            for d in &mut self.detectors {
                for s in symbols {
                    d.symbols()
                        .insert(ueba_sdk::SymbolKind::from(s.kind), s.id, s.text.as_str());
                }
                findings += d.observe(&events[start..stop]) as u64;
            }
            start = stop;
        }
        findings
    }
}

/// The batch's events as rows, for [`NativeSet::run`]: the SDK's event is
/// the contract's, the same type the host uses.
pub fn sdk_events(events: &wit::Events) -> Vec<ueba_sdk::Event> {
    events.iter().collect()
}

/// Counts alerts and drops them: an end-to-end run measures scoring, not
/// writing.
#[derive(Default)]
pub struct CountAlerts(pub u64);

impl AlertSink for CountAlerts {
    fn emit(&mut self, _alert: &Alert) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

/// What one end-to-end run measured.
#[derive(Clone, Copy, Debug)]
pub struct EndToEnd {
    /// Wall time of the timed lines (parse, intern, score, aggregate).
    pub elapsed: Duration,
    /// Lines timed.
    pub events: u64,
    /// Findings over the whole run (none are made while learning).
    pub findings: u64,
    /// Resident memory the run added, bytes, taken after the last line and
    /// before the scorer is dropped; `None` where `/proc` is unavailable.
    pub rss_growth: Option<u64>,
}

/// Score `jsonl` with the [`Scorer`] on this thread: the first `warm` lines
/// untimed (the learning period), the rest timed, from the text of each line
/// to the aggregate, as `ueba score` does minus its reader thread and alert
/// writing. The detectors are the first `n` built-ins, loaded and supervised
/// by [`ueba_engine::sandbox::plugins::load`] with the default configuration except the
/// memory cap ([`BENCH_MEMORY_BYTES`]); the scorer loads each detector once
/// by name, so `n` is at most the number of built-ins.
pub fn end_to_end(
    runtime: &Runtime,
    components: &Components,
    n: usize,
    shards: usize,
    identities: &Identities,
    jsonl: &str,
    warm: usize,
) -> Result<EndToEnd, BenchError> {
    if n > components.compiled.len() {
        return Err(BenchError::Options(format!(
            "end to end runs at most the {} built-in detectors, not {n}",
            components.compiled.len()
        )));
    }
    let rss_before = rss_bytes();
    let mut config = Config::default();
    config.sandbox.memory_mib = BENCH_MEMORY_BYTES >> 20;
    for (name, _) in components.compiled.iter().skip(n) {
        config.detectors.insert(
            (*name).to_string(),
            DetectorConfig {
                enabled: false,
                ..DetectorConfig::default()
            },
        );
    }
    let plugins = ueba_engine::sandbox::plugins::load(runtime, &config, None)?;
    let mut scorer = Scorer::new(config, identities.clone(), plugins, CountAlerts::default())
        .with_shards(shards)?;
    let mut lines = jsonl.lines().enumerate();
    for (i, line) in lines.by_ref().take(warm) {
        scorer.push(&parse_line(line, i as u64 + 1)?)?;
    }
    let started = Instant::now();
    let mut events = 0u64;
    for (i, line) in lines {
        scorer.push(&parse_line(line, i as u64 + 1)?)?;
        events += 1;
    }
    let rss_after = rss_bytes();
    let (report, _) = scorer.finish()?;
    let elapsed = started.elapsed();
    Ok(EndToEnd {
        elapsed,
        events,
        findings: report.stats.findings.iter().sum(),
        rss_growth: rss_before.zip(rss_after).map(|(b, a)| a.saturating_sub(b)),
    })
}

/// This process's resident set size, bytes, from `/proc/self/statm`
/// (resident pages × page size); `None` where that file does not exist.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size: from `/proc/self/smaps`' first `KernelPageSize`, else 4 KiB
/// (every Linux target ueba builds for uses 4 KiB base pages by default).
fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        std::fs::read_to_string("/proc/self/smaps")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("KernelPageSize:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(4096)
    })
}
