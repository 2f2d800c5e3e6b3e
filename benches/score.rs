//! Scoring throughput on one core, on a generated organisation.
//!
//! - `wasm_batched/3_plugins`: the three built-in plugins through the sandbox,
//!   batches of 1,024 events with interned ids (what `ueba score` does).
//! - `native/3_detectors`: the same detector code compiled natively and
//!   called in-process: the limit the sandbox is measured against.
//! - `end_to_end/jsonl`: JSON lines in memory → parse → intern → reorder →
//!   batch → three plugins → aggregate → alerts, on one thread.
//!
//! Run: `cargo bench --bench score`. Figures are in README.md.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ueba::config::Config;
use ueba::event::AccessEvent;
use ueba::generator::{GenConfig, generate};
use ueba::identity::Identities;
use ueba::plugins::BUILTIN_PLUGINS;
use ueba::runtime::{Limits, Plugin, Runtime, wit};
use ueba::score::{Encoder, Scorer};
use ueba_sdk::{Detector, Runtime as Native, SymbolKind};

const BATCH: usize = 1024;

struct Data {
    jsonl: String,
    events: Vec<AccessEvent>,
    identities: Identities,
    symbols: Vec<wit::Symbol>,
    batches: Vec<Vec<wit::Event>>,
}

fn data() -> Data {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = generate(
        &GenConfig {
            users: 200,
            days: 14,
            ..GenConfig::default()
        },
        dir.path(),
        &mut |_, _| {},
    )
    .expect("generate");
    let jsonl = std::fs::read_to_string(&summary.events_path).expect("events");
    let identities = Identities::load(&summary.identities_path).expect("identities");
    let events: Vec<AccessEvent> = jsonl
        .lines()
        .enumerate()
        .map(|(i, l)| ueba::event::parse_line(l, i as u64 + 1).expect("valid"))
        .collect();
    let mut enc = Encoder::new(identities.clone());
    let encoded: Vec<wit::Event> = events
        .iter()
        .enumerate()
        .map(|(i, e)| enc.encode(e, i as u64))
        .collect();
    Data {
        jsonl,
        symbols: enc.symbols_since(0),
        batches: encoded.chunks(BATCH).map(<[_]>::to_vec).collect(),
        events,
        identities,
    }
}

fn wasm_plugins(rt: &Runtime) -> Vec<Plugin> {
    BUILTIN_PLUGINS
        .iter()
        .map(|(label, bytes)| {
            let c = rt.compile(label, bytes).expect("compile");
            rt.instantiate(label, &c, Limits::default())
                .expect("instantiate")
        })
        .collect()
}

fn to_sdk(e: &wit::Event) -> ueba_sdk::Event {
    ueba_sdk::Event {
        seq: e.seq,
        time_ms: e.time_ms,
        utc_offset_minutes: e.utc_offset_minutes,
        user: e.user,
        peer_group: e.peer_group,
        action: e.action,
        resource: e.resource,
        source: e.source,
        rows: e.rows,
        bytes: e.bytes,
        outcome: match e.outcome {
            wit::Outcome::Success => ueba_sdk::Outcome::Success,
            wit::Outcome::Failure => ueba_sdk::Outcome::Failure,
            wit::Outcome::Unknown => ueba_sdk::Outcome::Unknown,
        },
    }
}

fn native<D: Detector>(symbols: &[wit::Symbol]) -> Native<D> {
    let mut rt = Native::<D>::default();
    for s in symbols {
        let kind = match s.kind {
            wit::SymbolKind::User => SymbolKind::User,
            wit::SymbolKind::Resource => SymbolKind::Resource,
            wit::SymbolKind::Action => SymbolKind::Action,
            wit::SymbolKind::Source => SymbolKind::Source,
            wit::SymbolKind::PeerGroup => SymbolKind::PeerGroup,
        };
        rt.symbols_mut().insert(kind, s.id, s.text.clone());
    }
    rt
}

fn bench(c: &mut Criterion) {
    let d = data();
    let n = d.events.len() as u64;
    let rt = Runtime::new(None).expect("engine");
    let mut g = c.benchmark_group("score");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);

    g.bench_function("wasm_batched/3_plugins", |b| {
        b.iter_batched(
            || wasm_plugins(&rt),
            |mut plugins| {
                for p in &mut plugins {
                    let mut first = true;
                    for events in &d.batches {
                        let batch = wit::Batch {
                            symbols: if first { d.symbols.clone() } else { Vec::new() },
                            events: events.clone(),
                        };
                        first = false;
                        black_box(p.observe(&batch).expect("observe"));
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });

    let sdk_batches: Vec<Vec<ueba_sdk::Event>> = d
        .batches
        .iter()
        .map(|b| b.iter().map(to_sdk).collect())
        .collect();
    g.bench_function("native/3_detectors", |b| {
        b.iter_batched(
            || {
                (
                    native::<ueba_volume::Volume>(&d.symbols),
                    native::<ueba_off_hours::OffHours>(&d.symbols),
                    native::<ueba_novel_table::NovelTable>(&d.symbols),
                )
            },
            |(mut v, mut o, mut t)| {
                for events in &sdk_batches {
                    black_box(v.observe(events));
                }
                for events in &sdk_batches {
                    black_box(o.observe(events));
                }
                for events in &sdk_batches {
                    black_box(t.observe(events));
                }
            },
            BatchSize::PerIteration,
        )
    });

    g.bench_function("end_to_end/jsonl", |b| {
        b.iter_batched(
            || {
                let cfg = Config::default();
                let plugins = ueba::plugins::load(&rt, &cfg, None).expect("plugins");
                Scorer::new(cfg, d.identities.clone(), plugins, Vec::new())
            },
            |mut scorer| {
                for (i, line) in d.jsonl.lines().enumerate() {
                    let ev = ueba::event::parse_line(line, i as u64 + 1).expect("valid");
                    scorer.push(&ev).expect("push");
                }
                black_box(scorer.finish().expect("finish"));
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
