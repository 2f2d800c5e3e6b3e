//! `GET /metrics` in the Prometheus text exposition format (0.0.4).
//!
//! Scoring counts come from the worker's [`Snapshot`]; request counts are
//! kept here by the handlers. Every refused request and every record that
//! was not scored is counted somewhere below, so nothing is dropped without
//! a trace.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::queue::Snapshot;
use ueba_engine::pipeline::Histogram;

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why a request was refused, for `ueba_requests_rejected_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// 429 (HEC: 503 "Server is busy"): the queue had no room.
    QueueFull,
    /// 401/403: missing, malformed or wrong token.
    Unauthorized,
    /// 413: body, line or event count over a limit.
    TooLarge,
    /// 400: not parseable at all (no data, bad JSON, unknown format).
    BadRequest,
    /// 503: the scorer has stopped or the service is shutting down.
    Unavailable,
    /// 429 (HEC: 503 "Server is busy"): the bodies being read already fill
    /// `serve.body_budget_bytes`.
    BodyBudget,
    /// 408: the request was not read and queued within
    /// `serve.request_timeout_ms`.
    Timeout,
}

impl Rejection {
    const ALL: [Rejection; 7] = [
        Rejection::QueueFull,
        Rejection::Unauthorized,
        Rejection::TooLarge,
        Rejection::BadRequest,
        Rejection::Unavailable,
        Rejection::BodyBudget,
        Rejection::Timeout,
    ];

    /// Whether the client should retry the same request later: the answer
    /// then carries `Retry-After`, and HEC clients get Splunk's 503.
    pub fn retry_later(self) -> bool {
        matches!(self, Rejection::QueueFull | Rejection::BodyBudget)
    }

    fn label(self) -> &'static str {
        match self {
            Rejection::QueueFull => "queue_full",
            Rejection::Unauthorized => "unauthorized",
            Rejection::TooLarge => "too_large",
            Rejection::BadRequest => "bad_request",
            Rejection::Unavailable => "unavailable",
            Rejection::BodyBudget => "body_budget",
            Rejection::Timeout => "timeout",
        }
    }
}

/// Why the service closed a connection itself, for
/// `ueba_http_connections_closed_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// No complete request headers within `serve.header_read_timeout_ms`.
    HeaderTimeout,
    /// No byte either way for `serve.idle_timeout_ms`.
    IdleTimeout,
    /// Still open when `serve.shutdown_timeout_ms` ran out at shutdown.
    Shutdown,
}

impl Closed {
    const ALL: [Closed; 3] = [Closed::HeaderTimeout, Closed::IdleTimeout, Closed::Shutdown];

    fn label(self) -> &'static str {
        match self {
            Closed::HeaderTimeout => "header_timeout",
            Closed::IdleTimeout => "idle_timeout",
            Closed::Shutdown => "shutdown",
        }
    }
}

/// Counters kept by the HTTP side.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    rejected: [AtomicU64; 7],
    accepted: AtomicU64,
    skipped: AtomicU64,
    connections: AtomicU64,
    open: AtomicU64,
    accept_errors: AtomicU64,
    closed: [AtomicU64; 3],
}

impl Counters {
    /// Count a request to an ingest endpoint.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a refused request.
    pub fn reject(&self, why: Rejection) {
        let i = Rejection::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// How many requests were refused for `why`.
    pub fn rejected(&self, why: Rejection) -> u64 {
        let i = Rejection::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].load(Ordering::Relaxed)
    }

    /// Count events queued and records skipped as not data access.
    pub fn accepted(&self, events: u64, skipped: u64) {
        self.accepted.fetch_add(events, Ordering::Relaxed);
        self.skipped.fetch_add(skipped, Ordering::Relaxed);
    }

    /// Records skipped as not data access so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Count a connection accepted (and now open).
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a connection gone, however it ended.
    pub fn connection_closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Count a connection the service closed itself, and why.
    pub fn close(&self, why: Closed) {
        let i = Closed::ALL.iter().position(|c| *c == why).unwrap_or(0);
        self.closed[i].fetch_add(1, Ordering::Relaxed);
    }

    /// How many connections the service closed for `why`.
    pub fn closed(&self, why: Closed) -> u64 {
        let i = Closed::ALL.iter().position(|c| *c == why).unwrap_or(0);
        self.closed[i].load(Ordering::Relaxed)
    }

    /// Count a failed accept (out of descriptors, say).
    pub fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Failed accepts so far.
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }
}

/// Queue state at the moment of the scrape.
#[derive(Clone, Copy, Debug)]
pub struct QueueState {
    /// Events queued or being scored.
    pub depth: usize,
    /// `serve.queue_events`.
    pub capacity: usize,
    /// Whether the scoring worker is running.
    pub worker_up: bool,
}

/// Connection and body limits at the moment of the scrape.
#[derive(Clone, Copy, Debug)]
pub struct HttpState {
    /// `serve.max_connections`.
    pub max_connections: usize,
    /// Bytes of request bodies held now.
    pub body_bytes: usize,
    /// `serve.body_budget_bytes`.
    pub body_budget: usize,
}

/// Render all metrics.
pub fn render(snap: &Snapshot, counters: &Counters, queue: QueueState, http: HttpState) -> String {
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let one = |v: u64| vec![(String::new(), v as f64)];
    let per_detector = |f: &dyn Fn(&super::queue::DetectorState) -> f64| {
        snap.detectors
            .iter()
            .map(|d| (format!("{{detector=\"{}\"}}", escape(&d.name)), f(d)))
            .collect::<Vec<_>>()
    };
    metric(
        "ueba_http_requests_total",
        "counter",
        "Requests to the event endpoints.",
        &one(counters.requests.load(Ordering::Relaxed)),
    );
    metric(
        "ueba_requests_rejected_total",
        "counter",
        "Requests refused, by reason (queue_full 429/503, unauthorized 401/403, too_large 413, bad_request 400, unavailable 503, body_budget 429/503, timeout 408).",
        &Rejection::ALL
            .iter()
            .map(|r| {
                (
                    format!("{{reason=\"{}\"}}", r.label()),
                    counters.rejected(*r) as f64,
                )
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "ueba_http_connections_total",
        "counter",
        "Connections accepted.",
        &one(counters.connections.load(Ordering::Relaxed)),
    );
    metric(
        "ueba_http_connections",
        "gauge",
        "Connections open.",
        &one(counters.open_connections()),
    );
    metric(
        "ueba_http_connections_max",
        "gauge",
        "Most connections open at once (serve.max_connections); past it the service stops accepting until one closes.",
        &one(http.max_connections as u64),
    );
    metric(
        "ueba_http_connections_closed_total",
        "counter",
        "Connections the service closed itself, by reason (header_timeout, idle_timeout, shutdown).",
        &Closed::ALL
            .iter()
            .map(|c| {
                (
                    format!("{{reason=\"{}\"}}", c.label()),
                    counters.closed(*c) as f64,
                )
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "ueba_http_accept_errors_total",
        "counter",
        "Failed accepts (e.g. out of file descriptors); the service backs off and goes on.",
        &one(counters.accept_errors()),
    );
    metric(
        "ueba_body_bytes_in_flight",
        "gauge",
        "Bytes of request bodies being read or parsed.",
        &one(http.body_bytes as u64),
    );
    metric(
        "ueba_body_bytes_budget",
        "gauge",
        "Most bytes of request bodies held at once (serve.body_budget_bytes).",
        &one(http.body_budget as u64),
    );
    metric(
        "ueba_events_accepted_total",
        "counter",
        "Events accepted into the scoring queue.",
        &one(counters.accepted.load(Ordering::Relaxed)),
    );
    metric(
        "ueba_events_total",
        "counter",
        "Events scored.",
        &one(snap.events),
    );
    metric(
        "ueba_invalid_lines_total",
        "counter",
        "Records that were not valid events (counted, reported to the client, not scored).",
        &one(snap.invalid),
    );
    metric(
        "ueba_records_skipped_total",
        "counter",
        "Well-formed records that are not data access (connects, other log lines).",
        &one(counters.skipped()),
    );
    metric(
        "ueba_late_events_total",
        "counter",
        "Events later than input.max_lateness_secs allows (still scored).",
        &one(snap.late),
    );
    metric(
        "ueba_batches_total",
        "counter",
        "Batches sent to the detectors.",
        &one(snap.batches),
    );
    metric(
        "ueba_findings_total",
        "counter",
        "Findings per detector.",
        &per_detector(&|d| d.findings as f64),
    );
    metric(
        "ueba_stray_findings_total",
        "counter",
        "Findings dropped because they named no event of their batch.",
        &one(snap.stray_findings),
    );
    metric(
        "ueba_alerts_total",
        "counter",
        "Alerts written to the sink.",
        &one(snap.alerts),
    );
    metric(
        "ueba_alert_threshold",
        "gauge",
        "The alert threshold in force: risk.threshold, or where the alert budget has moved it.",
        &[(String::new(), snap.threshold)],
    );
    metric(
        "ueba_plugin_output_rejected_total",
        "counter",
        "Plugin output the gate dropped or cut, by detector and reason (non_finite_score, clamped_score, stray_event, non_finite_evidence, evidence_over_count, text_cut, over_batch_budget).",
        &snap
            .gate
            .iter()
            .flat_map(|(name, counts)| {
                counts.labelled().into_iter().map(move |(reason, n)| {
                    (
                        format!("{{detector=\"{}\",reason=\"{reason}\"}}", escape(name)),
                        n as f64,
                    )
                })
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "ueba_exception_matches_total",
        "counter",
        "Findings kept from risk by each [[exceptions]] entry, by its index.",
        &snap
            .exceptions
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{{exception=\"{i}\"}}"), *n as f64))
            .collect::<Vec<_>>(),
    );
    metric(
        "ueba_plugin_failures_total",
        "counter",
        "Batches a detector failed (trap or limit); each is retried on a fresh instance.",
        &per_detector(&|d| d.failures as f64),
    );
    metric(
        "ueba_plugin_recoveries_total",
        "counter",
        "Failed batches that succeeded on the retry.",
        &per_detector(&|d| d.recoveries as f64),
    );
    metric(
        "ueba_plugin_quarantined",
        "gauge",
        "1 when the detector is quarantined and gets no more events.",
        &per_detector(&|d| if d.quarantined.is_some() { 1.0 } else { 0.0 }),
    );
    metric(
        "ueba_plugin_reloads_total",
        "counter",
        "Plugin changes in --plugins DIR while serving, by health event: loaded, reloaded (state carried over), state_reset (learning afresh), removed, load_failed (the running version kept).",
        &snap
            .reloads
            .iter()
            .map(|(event, n)| (format!("{{event=\"{}\"}}", event.as_str()), *n as f64))
            .collect::<Vec<_>>(),
    );
    metric(
        "ueba_events_missed_by_failed_total",
        "counter",
        "Events a failed or quarantined detector did not score.",
        &one(snap.events_missed_by_failed),
    );
    metric(
        "ueba_queue_depth_events",
        "gauge",
        "Events queued or being scored.",
        &one(queue.depth as u64),
    );
    metric(
        "ueba_queue_capacity_events",
        "gauge",
        "Most events the queue holds (serve.queue_events).",
        &one(queue.capacity as u64),
    );
    metric(
        "ueba_worker_up",
        "gauge",
        "1 while the scoring worker runs.",
        &one(u64::from(queue.worker_up)),
    );
    let _ = writeln!(
        out,
        "# HELP ueba_batch_latency_seconds Wall time of one detector's observe call per batch, recovery and retry included.\n# TYPE ueba_batch_latency_seconds histogram"
    );
    for d in &snap.detectors {
        histogram(&mut out, &escape(&d.name), &d.latency);
    }
    out
}

fn histogram(out: &mut String, detector: &str, h: &Histogram) {
    let name = "ueba_batch_latency_seconds";
    let mut cumulative = 0u64;
    for (i, bound) in Histogram::BOUNDS.iter().enumerate() {
        cumulative += h.counts.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{name}_bucket{{detector=\"{detector}\",le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = h.count();
    let _ = writeln!(
        out,
        "{name}_bucket{{detector=\"{detector}\",le=\"+Inf\"}} {count}\n{name}_sum{{detector=\"{detector}\"}} {}\n{name}_count{{detector=\"{detector}\"}} {count}",
        h.sum_secs
    );
}

/// Escape a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
