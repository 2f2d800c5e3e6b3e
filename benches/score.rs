//! Scoring throughput on one core: the cases of `ueba bench`, for development.
//!
//! The workload, the cases and what each one times come from the library
//! (`ueba::bench`), so these figures and `ueba bench`'s measure the same
//! thing: a synthesised 200-user organisation over 21 days, the learning
//! week replayed untimed, the remaining ~190,000 events timed.
//!
//! - `native/{1,3,10}p`: the detectors compiled natively, in-process, batches
//!   of 1,024: the limit the sandbox is measured against;
//! - `wasm-batch/{1,3,10}p/b{64,1024,8192}`: the wasm plugins through the
//!   sandbox with interned ids (what `ueba score` does, at 1,024);
//! - `wasm-per-event/{1,3,10}p`: the same plugins, one call per event (the
//!   last 10% of the events are timed);
//! - `end-to-end/{1,3}p`: JSON lines → parse → intern → reorder → batch →
//!   plugins → aggregate on one thread (the scorer loads each built-in once,
//!   so no 10-plugin case).
//!
//! 10 plugins are copies of the three built-ins. Each sample is one run on
//! fresh detectors (criterion's `iter_custom` with the time the library
//! measured), 10 samples per case, so `cargo bench --bench score` takes a
//! few minutes. Run one group with e.g. `cargo bench --bench score -- native`.
//! Figures are in BENCHMARKS.md.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ueba::bench::cases::Components;
use ueba::bench::workload::Spec;
use ueba::bench::{Options, Prepared, main_cases};
use ueba::runtime::Runtime;

fn bench(c: &mut Criterion) {
    let options = Options::standard();
    let prepared = Prepared::new(Spec {
        users: options.users,
        events: options.events,
        days: options.days,
        seed: options.seed,
    })
    .expect("workload");
    let runtime = Runtime::new(None).expect("engine");
    let components = Components::builtin(&runtime).expect("built-in plugins");
    let mut g = c.benchmark_group("score");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for case in main_cases(&options, components.len()) {
        let first = prepared
            .measure(&runtime, &components, &case, options.per_event_events)
            .expect("run");
        g.throughput(Throughput::Elements(first.events));
        g.bench_function(short_label(&case), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        prepared
                            .measure(&runtime, &components, &case, options.per_event_events)
                            .expect("run")
                            .elapsed
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

/// `native/3p`, `wasm-batch/3p/b1024`, `wasm-per-event/3p`, `end-to-end/3p`.
fn short_label(case: &ueba::bench::Case) -> String {
    match case.mode {
        ueba::bench::Mode::WasmBatch => case.label(),
        _ => format!("{}/{}p", case.mode.name(), case.plugins),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
