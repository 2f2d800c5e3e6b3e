//! Scoring throughput on one core: the cases of `ueba bench`, for development.
//!
//! The workloads, the cases and what each one times come from the library
//! (`ueba_lab::bench`), so these figures and `ueba bench`'s measure the same
//! thing. The main workload is a synthesised 200-user organisation over 14
//! days; its first half (the learning period) is replayed untimed and the
//! remaining ~94,000 events are timed.
//!
//! - `native/{1,3,10}p`: the detectors compiled natively, in-process, batches
//!   of 1,024: the limit the sandbox is measured against;
//! - `wasm-batch/{1,3,10}p/b{64,1024,8192}`: the wasm plugins through the
//!   sandbox with interned ids (what `ueba score` does, at 1,024);
//! - `wasm-per-event/{1,3,10}p`: the same plugins, one call per event (the
//!   last 10% of the events are timed);
//! - `end-to-end/{1,3}p`: JSON lines → parse → intern → reorder → batch →
//!   plugins → aggregate on one thread (the scorer loads each built-in once,
//!   so no 10-plugin case);
//! - `cli/score-file/3p`: the `ueba score` command itself on a JSON-lines
//!   file of the main workload (the release binary, three built-ins,
//!   alerts written to a file, held to one core with `taskset -c 0` where
//!   that exists): each sample runs the learning period's lines alone and
//!   then the whole file, and counts the difference, so it times the same
//!   ~94,000 events as the end-to-end case with the reader thread, the
//!   alert writer and the summary included;
//! - `sweep/{native,wasm-batch,end-to-end}/3p/{N}u`: the entity sweep, three
//!   plugins on an organisation of N users (as many events as users). Only
//!   1,000 users by default, because a million-user sample takes minutes;
//!   `UEBA_BENCH_ENTITIES=1000,100000,1000000` runs `ueba bench`'s whole
//!   sweep.
//!
//! 10 plugins are the built-ins in order, repeated. Each sample is one run on
//! fresh detectors (criterion's `iter_custom` with the time the library
//! measured), 10 samples per case, so `cargo bench --bench score` takes a
//! few minutes. Run one group with e.g. `cargo bench --bench score -- native`.
//! Figures are in BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use criterion::{criterion_group, criterion_main};
use ueba_engine::sandbox::Runtime;
use ueba_lab::bench::cases::Components;
use ueba_lab::bench::workload::Spec;
use ueba_lab::bench::{Case, Options, Prepared, main_cases, sweep_cases, sweep_spec};

fn bench(c: &mut Criterion) {
    let options = Options::standard();
    let runtime = Runtime::new(None).expect("engine");
    let components = Components::builtin(&runtime).expect("built-in plugins");

    let mut g = group(c, "score");
    let main = Prepared::new(Spec {
        users: options.users,
        events: options.events,
        days: options.days,
        seed: options.seed,
    })
    .expect("workload");
    for case in main_cases(&options, components.len()) {
        let label = match case.mode {
            ueba_lab::bench::Mode::WasmBatch => case.label(),
            _ => format!("{}/{}p", case.mode.name(), case.plugins),
        };
        time(
            &mut g,
            &label,
            &main,
            &runtime,
            &components,
            &case,
            &options,
        );
    }
    g.finish();
    cli(c, &main);
    drop(main);

    let mut g = group(c, "sweep");
    for users in entities() {
        let prepared = Prepared::new(sweep_spec(&options, users)).expect("sweep workload");
        for case in sweep_cases(&options) {
            let label = format!("{}/{}p/{users}u", case.mode.name(), case.plugins);
            time(
                &mut g,
                &label,
                &prepared,
                &runtime,
                &components,
                &case,
                &options,
            );
        }
    }
    g.finish();
}

/// `ueba score FILE -i identities.csv` as an operator runs it, timed as
/// the module doc says.
fn cli(c: &mut Criterion, main: &Prepared) {
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = main
        .write_score_inputs(dir.path())
        .expect("writing the workload's files");
    let config = dir.path().join("three-detectors.toml");
    std::fs::write(&config, "[detectors.new-source]\nenabled = false\n").expect("config");
    let alerts = dir.path().join("alerts.jsonl");
    let cache = dir.path().join("cache");
    let one_core = Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !one_core {
        eprintln!("cli/score-file: no `taskset`, so the command may use both cores");
    }
    let run = |events: &Path| -> Duration {
        let ueba = env!("CARGO_BIN_EXE_ueba");
        let mut cmd = if one_core {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "0", ueba]);
            cmd
        } else {
            Command::new(ueba)
        };
        cmd.arg("score")
            .arg(events)
            .arg("--identities")
            .arg(&inputs.identities)
            .arg("--config")
            .arg(&config)
            .arg("--output")
            .arg(&alerts)
            .env("UEBA_CACHE_DIR", &cache);
        let started = Instant::now();
        let out = cmd.output().expect("running ueba score");
        let elapsed = started.elapsed();
        assert!(
            out.status.success(),
            "ueba score {} failed: {}",
            events.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    };
    // The first run compiles the plugins into the cache, as a first start does.
    run(&inputs.learning);
    let mut g = group(c, "cli");
    g.throughput(Throughput::Elements(inputs.timed));
    g.bench_function("score-file/3p", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run(&inputs.all).saturating_sub(run(&inputs.learning)))
                .sum()
        })
    });
    g.finish();
}

/// A group of 10 flat samples: every sample is a whole run.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g
}

/// Time `case` on `prepared`, reporting events per second.
fn time(
    g: &mut BenchmarkGroup<'_, WallTime>,
    label: &str,
    prepared: &Prepared,
    runtime: &Runtime,
    components: &Components,
    case: &Case,
    options: &Options,
) {
    let run = || {
        prepared
            .measure(runtime, components, case, options)
            .expect("run")
    };
    g.throughput(Throughput::Elements(run().events));
    g.bench_function(label, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run().elapsed).sum())
    });
}

/// User counts of the sweep: `UEBA_BENCH_ENTITIES` (comma-separated) or
/// 1,000.
fn entities() -> Vec<u32> {
    match std::env::var("UEBA_BENCH_ENTITIES") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim().replace('_', "").parse().unwrap_or_else(|_| {
                    eprintln!("UEBA_BENCH_ENTITIES: `{n}` is not a user count");
                    std::process::exit(2)
                })
            })
            .collect(),
        Err(_) => vec![1_000],
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
