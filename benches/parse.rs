//! Host-side cost per event, without detectors: the part of `end-to-end` in
//! `ueba bench` that is not the sandbox.
//!
//! - `parse`: [`ueba_formats::sources::native::parse_line`] on every line of the synthesised
//!   workload (RFC 3339 timestamps, eight fields, no escapes, as `ueba gen`
//!   and most exporters write them);
//! - `parse+encode`: the same lines parsed, then interned, enriched from the
//!   identity table and encoded as contract events by a fresh
//!   [`ueba_engine::pipeline::Encoder`], as the scorer does before batching.
//!
//! 20,000 events from 200 users; a few seconds in all. Run with
//! `cargo bench --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ueba_engine::pipeline::Encoder;
use ueba_formats::sources::native::parse_line;
use ueba_lab::bench::workload::{Spec, Workload};

fn bench(c: &mut Criterion) {
    let workload = Workload::synthesise(Spec {
        users: 200,
        events: 20_000,
        days: 14,
        seed: 7,
    })
    .expect("workload");
    let jsonl = workload.jsonl();
    let lines: Vec<&str> = jsonl.lines().collect();

    let mut g = c.benchmark_group("host");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for (i, line) in (1u64..).zip(&lines) {
                black_box(parse_line(line, i).expect("valid line"));
            }
        })
    });
    g.bench_function("parse+encode", |b| {
        b.iter(|| {
            let mut encoder = Encoder::new(workload.identities().clone());
            for (i, line) in (1u64..).zip(&lines) {
                let event = parse_line(line, i).expect("valid line");
                black_box(encoder.encode(&event, i).expect("few names"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
