//! A benchmark report for people: the terminal table, the ratios between
//! modes, and the thousands separators both use.
//!
//! Presentation only: nothing here measures, so the table and the `--json`
//! output always come from the same [`Report`], and the measuring code in
//! the parent and in `prepared` stays free of formatting.

use super::{DEFAULT_BATCH, Mode, Report};

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
            "\n{:<18} {:>7} {:>5} {:>9} {:>9} {:>24} {:>12} {:>8} {:>12}",
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
                "{:<18} {:>7} {:>5} {:>9} {:>9} {:>24} {:>12} {:>8} {:>12}",
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
            if let (Some(sharded), Some(one)) = (
                find(Mode::Sharded, p, DEFAULT_BATCH, u),
                find(Mode::EndToEnd, p, DEFAULT_BATCH, u).filter(|x| *x > 0.0),
            ) {
                out.push((
                    format!(
                        "end-to-end {} shards/1 shard, {p} plugins, {} users",
                        self.options.shards,
                        group(f64::from(u))
                    ),
                    sharded / one,
                ));
            }
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
