//! `ueba plugin test`: one plugin over an events file, through the sandbox
//! with the production limits, its findings in the stable [`Record`] form.
//!
//! Events are encoded exactly as the scorer encodes them (identity file,
//! interning, local-time offsets, symbols sent once per instance) and sent
//! in the scorer's blocks (`input.batch_size` events or
//! `input.block_minutes` of event time, whichever ends first), in
//! event-time order with ties in file order: what `ueba score` delivers
//! when events arrive within `input.max_lateness_secs` of each other.
//! Unlike `ueba score`, a failing call is not retried: a test should see
//! the failure.

use std::io::BufRead;
use std::path::Path;

use super::golden::{Evidence, Record};
use super::{AuthoringError, io};
use ueba_engine::config::Config;
use ueba_engine::event::{AccessEvent, format_time};
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::Encoder;
use ueba_engine::pipeline::block::block_lengths;
use ueba_engine::pipeline::intern::SymbolKind;
use ueba_engine::sandbox::gate::{self, GateCounts, OutputLimits};
use ueba_engine::sandbox::plugins::{Pace, SlowGuard};
use ueba_engine::sandbox::{Limits, PluginInfo, Runtime, wit};
use ueba_formats::sources::{InputFormat, parser_for};

/// Read every event of `path` in `format`; the first bad line is an error
/// naming the file, line and field.
pub fn read_events(
    path: &Path,
    format: InputFormat,
    cfg: &Config,
) -> Result<Vec<AccessEvent>, AuthoringError> {
    let events_err = |message: String| AuthoringError::Events {
        path: path.to_path_buf(),
        message,
    };
    let mut parser = parser_for(format, &cfg.formats).map_err(|e| events_err(e.to_string()))?;
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut parsed = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io(path))?;
        parser
            .feed(&line, i as u64 + 1, &mut parsed)
            .map_err(|e| events_err(e.to_string()))?;
    }
    parser
        .finish(&mut parsed)
        .map_err(|e| events_err(e.to_string()))?;
    parsed
        .into_iter()
        .map(|p| p.map_err(|e| events_err(e.to_string())))
        .collect()
}

/// What one plugin found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What it said about itself.
    pub info: PluginInfo,
    /// Its findings, in event order (a detector's own order within an event).
    pub findings: Vec<Record>,
    /// Events sent.
    pub events: usize,
    /// Batches sent.
    pub batches: usize,
    /// Time spent in the plugin's `observe`, all batches.
    pub observing: std::time::Duration,
    /// Batches slower than the pace `ueba score` holds the plugin to
    /// (`max_us_per_event`), and the longest run of them in a row.
    pub slow_batches: usize,
    pub slow_run: u32,
}

/// Run the component `bytes` (named `label`) over `events` with `cfg`'s
/// sandbox limits, batch size and `[detectors.NAME]` settings for it.
pub fn run(
    runtime: &Runtime,
    label: &str,
    bytes: &[u8],
    cfg: &Config,
    identities: Identities,
    mut events: Vec<AccessEvent>,
) -> Result<Outcome, AuthoringError> {
    let component = runtime.compile(label, bytes)?;
    let probe = runtime.instantiate(label, &component, Limits::for_detector(&cfg.sandbox, None))?;
    let info = probe.info().clone();
    let dc = cfg.detector(&info.name, &info.config);
    let dc = dc.as_ref();
    let limits = Limits::for_detector(&cfg.sandbox, dc);
    let mut plugin = if limits == probe.limits() {
        probe
    } else {
        runtime.instantiate(label, &component, limits)?
    };
    plugin.configure(&dc.map(|d| d.plugin_pairs()).unwrap_or_default())?;

    events.sort_by_key(|e| e.time_ms);
    let mut encoder = Encoder::new(identities);
    let mut sent = 0usize;
    let mut findings = Vec::new();
    let mut batches = 0usize;
    let times: Vec<i64> = events.iter().map(|e| e.time_ms).collect();
    let lengths = block_lengths(
        &times,
        cfg.input.batch_size.max(1) as u64,
        cfg.input.block_span_ms(),
    );
    let mut first = 0u64;
    let mut rest = events.as_slice();
    let mut pace = SlowGuard::for_detector(&cfg.sandbox, dc);
    let (mut observing, mut slow_batches, mut slow_run) = (std::time::Duration::ZERO, 0usize, 0u32);
    for len in lengths {
        let (chunk, after) = rest.split_at(len);
        rest = after;
        let evs: wit::Events = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| encoder.encode(e, first + i as u64))
            .collect::<Result<_, _>>()
            .map_err(|e| AuthoringError::Tool {
                what: "reading the sample events".into(),
                message: e.to_string(),
            })?;
        let batch = wit::Batch {
            symbols: encoder.symbols_since(sent),
            events: evs,
        };
        sent = encoder.interner().log_len();
        batches += 1;
        let last = first + chunk.len() as u64 - 1;
        let began = std::time::Instant::now();
        let mut found = plugin.observe(&batch)?;
        let took = began.elapsed();
        observing += took;
        let too_slow = matches!(pace.batch(took, chunk.len()), Pace::TooSlow(_));
        if pace.streak() > 0 {
            slow_batches += 1;
            slow_run = slow_run.max(pace.streak());
        }
        if too_slow {
            return Err(AuthoringError::TooSlow {
                plugin: info.name.clone(),
                batches: pace.streak(),
                us_per_event: pace.us_per_event(),
                first,
                last,
            });
        }
        if let Some(f) = found.iter().find(|f| f.event < first || f.event > last) {
            return Err(AuthoringError::StrayFinding {
                plugin: info.name.clone(),
                event: f.event,
                first,
                last,
            });
        }
        // What the scorer's gate would change is an error here, so an
        // author sees it before an operator's summary does.
        let mut counts = GateCounts::default();
        let len = chunk.len() as u64;
        found = gate::admit(
            found,
            |seq| seq >= first && seq - first < len,
            &OutputLimits::default(),
            &mut counts,
        );
        if !counts.is_clean() {
            return Err(AuthoringError::RejectedOutput {
                plugin: info.name.clone(),
                first,
                last,
                counts,
            });
        }
        // Stable: a detector's own order is kept among one event's findings.
        found.sort_by_key(|f| f.event);
        for f in found {
            let Some(ev) = f
                .event
                .checked_sub(first)
                .and_then(|i| batch.events.get(i as usize))
            else {
                continue;
            };
            let text = |kind, id| encoder.interner().text(kind, id).to_string();
            findings.push(Record {
                event: f.event,
                time: format_time(ev.time_ms),
                user: text(SymbolKind::User, ev.user),
                action: text(SymbolKind::Action, ev.action),
                resource: text(SymbolKind::Resource, ev.resource),
                score: (f64::from(f.score) * 10.0).round() / 10.0,
                reason: f.reason,
                evidence: Evidence(
                    f.evidence
                        .into_iter()
                        .map(|e| (e.key, gate::evidence_json(e.value)))
                        .collect(),
                ),
            });
        }
        first += chunk.len() as u64;
    }
    Ok(Outcome {
        info,
        findings,
        events: events.len(),
        batches,
        observing,
        slow_batches,
        slow_run,
    })
}
