//! `GET /metrics` in the OpenMetrics text format (1.0.0), encoded by
//! `prometheus-client`.
//!
//! The encoder, not this module, writes the exposition: label escaping,
//! the `_total` suffix of counters, a histogram's `_bucket`, `_sum` and
//! `_count` series and the closing `# EOF` that tells Prometheus the page
//! is complete (a scrape cut short is refused rather than stored in part).
//!
//! The metrics come from two places. Request and connection counts are
//! bumped by the handlers as they happen, so they are live
//! `prometheus-client` metrics in [`Counters`], registered once. Scoring
//! counts come from the worker's [`Snapshot`], already added up (the
//! latency histograms included), so they are encoded as they stand at
//! scrape time by a collector rather than copied into a second set of
//! metrics. Every refused request and every record that was not scored is
//! counted somewhere below, so nothing is dropped without a trace.
//!
//! The sample names are those of the Prometheus text this page used to
//! serve, so dashboards and alerts keep working. One needs care: the
//! accepted-connections count `ueba_http_connections_total` and the
//! open-connections gauge `ueba_http_connections` would both be the family
//! `ueba_http_connections` if the count were a counter, which OpenMetrics
//! forbids (and strict parsers refuse); the count is therefore a family of
//! type `unknown` under its full name.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
    MetricEncoder, NoLabelSet, text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};

use super::queue::Snapshot;
use ueba_engine::pipeline::Histogram;

/// The content type of the OpenMetrics text format, which Prometheus
/// accepts (and asks for first) when scraping.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why a request was refused, for `ueba_requests_rejected_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl EncodeLabelValue for Rejection {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        fmt::Write::write_str(encoder, self.label())
    }
}

/// Why the service closed a connection itself, for
/// `ueba_http_connections_closed_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl EncodeLabelValue for Closed {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        fmt::Write::write_str(encoder, self.label())
    }
}

/// The label set of `ueba_requests_rejected_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    reason: Rejection,
}

/// The label set of `ueba_http_connections_closed_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    reason: Closed,
}

/// A count exposed as an OpenMetrics `unknown` family under its full name,
/// `_total` included, for the one count whose counter family would take
/// the name of a gauge (see the module documentation).
#[derive(Clone, Debug, Default)]
struct UnknownCount(Counter);

impl EncodeMetric for UnknownCount {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        // A gauge's sample is written as the family name and value alone,
        // which is what an `unknown` sample is.
        encoder.encode_gauge(&self.0.get())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Unknown
    }
}

/// Counters kept by the HTTP side, as `prometheus-client` metrics in a
/// registry of their own, so that a scrape reads them where the handlers
/// bump them.
#[derive(Debug)]
pub struct Counters {
    registry: Registry,
    requests: Counter,
    rejected: Family<RejectedLabels, Counter>,
    accepted: Counter,
    skipped: Counter,
    connections: UnknownCount,
    open: Gauge,
    accept_errors: Counter,
    closed: Family<ClosedLabels, Counter>,
}

impl Default for Counters {
    fn default() -> Self {
        let requests = Counter::default();
        let rejected = Family::<RejectedLabels, Counter>::default();
        let accepted = Counter::default();
        let skipped = Counter::default();
        let connections = UnknownCount::default();
        let open = Gauge::default();
        let accept_errors = Counter::default();
        let closed = Family::<ClosedLabels, Counter>::default();
        // Every reason is shown from the start, at 0, so that a rate over
        // it exists before the first refusal.
        for reason in Rejection::ALL {
            drop(rejected.get_or_create(&RejectedLabels { reason }));
        }
        for reason in Closed::ALL {
            drop(closed.get_or_create(&ClosedLabels { reason }));
        }
        // Names without `_total` and help without the final full stop: the
        // encoder adds both.
        let mut registry = Registry::default();
        registry.register(
            "ueba_http_requests",
            "Requests to the event endpoints",
            requests.clone(),
        );
        registry.register(
            "ueba_requests_rejected",
            "Requests refused, by reason (queue_full 429/503, unauthorized 401/403, too_large 413, bad_request 400/422, unavailable 503/500, body_budget 429/503, timeout 408)",
            rejected.clone(),
        );
        registry.register(
            "ueba_http_connections_total",
            "Connections accepted (a count; type unknown only because a counter family would share the name of the gauge ueba_http_connections)",
            connections.clone(),
        );
        registry.register("ueba_http_connections", "Connections open", open.clone());
        registry.register(
            "ueba_http_connections_closed",
            "Connections the service closed itself, by reason (header_timeout, idle_timeout, shutdown)",
            closed.clone(),
        );
        registry.register(
            "ueba_http_accept_errors",
            "Failed accepts (e.g. out of file descriptors); the service backs off and goes on",
            accept_errors.clone(),
        );
        registry.register(
            "ueba_events_accepted",
            "Events accepted into the scoring queue",
            accepted.clone(),
        );
        registry.register(
            "ueba_records_skipped",
            "Well-formed records that are not data access (connects, other log lines)",
            skipped.clone(),
        );
        Counters {
            registry,
            requests,
            rejected,
            accepted,
            skipped,
            connections,
            open,
            accept_errors,
            closed,
        }
    }
}

impl Counters {
    /// Count a request to an ingest endpoint.
    pub fn request(&self) {
        self.requests.inc();
    }

    /// Count a refused request.
    pub fn reject(&self, why: Rejection) {
        self.rejected
            .get_or_create(&RejectedLabels { reason: why })
            .inc();
    }

    /// How many requests were refused for `why`.
    pub fn rejected(&self, why: Rejection) -> u64 {
        self.rejected
            .get_or_create(&RejectedLabels { reason: why })
            .get()
    }

    /// Count events queued and records skipped as not data access.
    pub fn accepted(&self, events: u64, skipped: u64) {
        self.accepted.inc_by(events);
        self.skipped.inc_by(skipped);
    }

    /// Records skipped as not data access so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.get()
    }

    /// Count a connection accepted (and now open).
    pub fn connection_opened(&self) {
        self.connections.0.inc();
        self.open.inc();
    }

    /// Count a connection gone, however it ended.
    pub fn connection_closed(&self) {
        self.open.dec();
    }

    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        u64::try_from(self.open.get()).unwrap_or(0)
    }

    /// Count a connection the service closed itself, and why.
    pub fn close(&self, why: Closed) {
        self.closed
            .get_or_create(&ClosedLabels { reason: why })
            .inc();
    }

    /// How many connections the service closed for `why`.
    pub fn closed(&self, why: Closed) -> u64 {
        self.closed
            .get_or_create(&ClosedLabels { reason: why })
            .get()
    }

    /// Count a failed accept (out of descriptors, say).
    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    /// Failed accepts so far.
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.get()
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

/// Render all metrics as one OpenMetrics exposition, ending in `# EOF`.
///
/// Encoding into a `String` cannot fail, and the collector only writes;
/// were it to fail all the same, the page would lack `# EOF` and
/// Prometheus would refuse the scrape rather than store part of it.
pub fn render(snap: &Snapshot, counters: &Counters, queue: QueueState, http: HttpState) -> String {
    let mut scrape = Registry::default();
    scrape.register_collector(Box::new(ScrapeTime {
        snap: snap.clone(),
        queue,
        http,
    }));
    let mut out = String::with_capacity(16 * 1024);
    let _complete = text::encode_registry(&mut out, &counters.registry)
        .and_then(|()| text::encode_registry(&mut out, &scrape))
        .and_then(|()| text::encode_eof(&mut out));
    out
}

/// What a scrape reads from the worker and the limits, encoded as constant
/// metrics: the worker has already added these up.
#[derive(Debug)]
struct ScrapeTime {
    snap: Snapshot,
    queue: QueueState,
    http: HttpState,
}

impl Collector for ScrapeTime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let (snap, queue, http) = (&self.snap, self.queue, self.http);
        let e = &mut encoder;
        one(
            e,
            "ueba_http_connections_max",
            "Most connections open at once (serve.max_connections); past it the service stops accepting until one closes.",
            &gauge(http.max_connections),
        )?;
        one(
            e,
            "ueba_body_bytes_in_flight",
            "Bytes of request bodies being read or parsed.",
            &gauge(http.body_bytes),
        )?;
        one(
            e,
            "ueba_body_bytes_budget",
            "Most bytes of request bodies held at once (serve.body_budget_bytes).",
            &gauge(http.body_budget),
        )?;
        one(e, "ueba_events", "Events scored.", &counter(snap.events))?;
        one(
            e,
            "ueba_invalid_lines",
            "Records that were not valid events (counted, reported to the client, not scored).",
            &counter(snap.invalid),
        )?;
        one(
            e,
            "ueba_refused_events",
            "Events a forwarding service (serve --nats) could not store, refused with 503 for their clients to send again.",
            &counter(snap.refused),
        )?;
        one(
            e,
            "ueba_late_events",
            "Events later than input.max_lateness_secs allows (still scored).",
            &counter(snap.late),
        )?;
        one(
            e,
            "ueba_events_time_outliers",
            "Events refused because their time stood further than input.max_time_jump_days from the rest of the log with no other event near it (never scored).",
            &counter(snap.time_outliers),
        )?;
        one(
            e,
            "ueba_events_time_waiting",
            "Events dated further than input.max_time_jump_days from the log's time, waiting for another event to confirm it.",
            &gauge(snap.time_waiting),
        )?;
        family(
            e,
            "ueba_names_over_budget",
            "Names (per kind: users, resources, actions, sources, peer_groups) scored as \"(names over input.max_name_mib)\" because the names held had reached input.max_name_mib, one per occurrence.",
            MetricType::Counter,
            ueba_engine::pipeline::intern::SymbolKind::ALL
                .iter()
                .zip(snap.names_over_budget)
                .map(|(k, n)| ([("kind", k.plural())], counter(n))),
        )?;
        one(
            e,
            "ueba_batches",
            "Batches sent to the detectors.",
            &counter(snap.batches),
        )?;
        family(
            e,
            "ueba_findings",
            "Findings per detector.",
            MetricType::Counter,
            snap.detectors
                .iter()
                .map(|d| ([("detector", d.name.as_str())], counter(d.findings))),
        )?;
        family(
            e,
            "ueba_findings_read_lower",
            "Findings per detector that the detector's tail on this log read lower (risk.alert_budget_per_1k_user_days; README \"Each detector is read against this log's ordinary days\"), this run.",
            MetricType::Counter,
            snap.detectors
                .iter()
                .map(|d| ([("detector", d.name.as_str())], counter(d.read_lower))),
        )?;
        one(
            e,
            "ueba_stray_findings",
            "Findings dropped because they named no event of their batch.",
            &counter(snap.stray_findings),
        )?;
        one(
            e,
            "ueba_alerts",
            "Alerts written to the sink.",
            &counter(snap.alerts),
        )?;
        one(
            e,
            "ueba_verdicts_applied",
            "Analysts' verdicts applied (POST /v1/feedback and the verdicts file), each at its event time.",
            &counter(snap.verdicts_applied),
        )?;
        one(
            e,
            "ueba_findings_forgiven",
            "Findings kept from risk by benign verdicts (the same behaviour of the same user within risk.benign_days).",
            &counter(snap.forgiven),
        )?;
        one(
            e,
            "ueba_incidents_open",
            "Incidents open now (GET /v1/incidents lists them).",
            &gauge(snap.open_incidents),
        )?;
        one(
            e,
            "ueba_alert_threshold",
            "The alert threshold in force: risk.threshold, or where the alert budget has moved it.",
            &ConstGauge::new(snap.threshold),
        )?;
        one(
            e,
            "ueba_alert_budget_episodes",
            "Alert episodes opened over the alert budget's window (0 while it learns, or with no budget). Above ueba_alert_budget_allowed with the threshold at risk.threshold_ceiling: the budget is overspent there (attacks or false alerts; it cannot tell).",
            &ConstGauge::new(snap.budget.map_or(0, |b| b.opened)),
        )?;
        one(
            e,
            "ueba_alert_budget_ceiling_lifted",
            "Where the alert budget has lifted risk.threshold_ceiling, because the log's ordinary user-days crowd below it (0 when it is not lifted).",
            &ConstGauge::new(snap.budget.and_then(|b| b.lifted).map_or(0.0, f64::from)),
        )?;
        one(
            e,
            "ueba_alert_budget_allowed",
            "Alert episodes the alert budget allows over its window (0 while it learns, or with no budget).",
            &ConstGauge::new(snap.budget.map_or(0, |b| b.allowed)),
        )?;
        family(
            e,
            "ueba_plugin_output_rejected",
            "Plugin output the gate dropped or cut, by detector and reason (non_finite_score, clamped_score, stray_event, non_finite_evidence, evidence_over_count, text_cut, over_batch_budget, duplicate).",
            MetricType::Counter,
            snap.gate.iter().flat_map(|(name, counts)| {
                counts.labelled().into_iter().map(move |(reason, n)| {
                    (
                        [("detector", name.as_str()), ("reason", reason)],
                        counter(n),
                    )
                })
            }),
        )?;
        let indices: Vec<String> = (0..snap.exceptions.len()).map(|i| i.to_string()).collect();
        family(
            e,
            "ueba_exception_matches",
            "Findings kept from risk by each [[exceptions]] entry, by its index.",
            MetricType::Counter,
            indices
                .iter()
                .zip(&snap.exceptions)
                .map(|(i, n)| ([("exception", i.as_str())], counter(*n))),
        )?;
        family(
            e,
            "ueba_plugin_failures",
            "Batches a detector failed (trap or limit); each is retried on a fresh instance.",
            MetricType::Counter,
            snap.detectors
                .iter()
                .map(|d| ([("detector", d.name.as_str())], counter(d.failures))),
        )?;
        family(
            e,
            "ueba_plugin_recoveries",
            "Failed batches that succeeded on the retry.",
            MetricType::Counter,
            snap.detectors
                .iter()
                .map(|d| ([("detector", d.name.as_str())], counter(d.recoveries))),
        )?;
        family(
            e,
            "ueba_plugin_quarantined",
            "1 when the detector is quarantined and gets no more events.",
            MetricType::Gauge,
            snap.detectors.iter().map(|d| {
                (
                    [("detector", d.name.as_str())],
                    gauge(usize::from(d.quarantined.is_some())),
                )
            }),
        )?;
        family(
            e,
            "ueba_plugin_reloads",
            "Plugin changes in --plugins DIR while serving, by health event: loaded, reloaded (state carried over), state_reset (learning afresh), removed, load_failed (the running version kept).",
            MetricType::Counter,
            snap.reloads
                .iter()
                .map(|(event, n)| ([("event", event.as_str())], counter(*n))),
        )?;
        one(
            e,
            "ueba_events_missed_by_failed",
            "Events a failed or quarantined detector did not score.",
            &counter(snap.events_missed_by_failed),
        )?;
        one(
            e,
            "ueba_queue_depth_events",
            "Events queued or being scored.",
            &gauge(queue.depth),
        )?;
        one(
            e,
            "ueba_queue_capacity_events",
            "Most events the queue holds (serve.queue_events).",
            &gauge(queue.capacity),
        )?;
        one(
            e,
            "ueba_worker_up",
            "1 while the scoring worker runs.",
            &gauge(usize::from(queue.worker_up)),
        )?;
        // `ueba_batch_latency` with the unit seconds is the family
        // `ueba_batch_latency_seconds`, with a `# UNIT` line saying so.
        let mut latency = e.encode_descriptor(
            "ueba_batch_latency",
            "Wall time of one detector's observe call per batch, recovery and retry included.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for d in &snap.detectors {
            let labels = [("detector", d.name.as_str())];
            latency
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    d.latency.sum_secs,
                    d.latency.count(),
                    &buckets(&d.latency),
                    None,
                )?;
        }
        Ok(())
    }
}

fn counter(n: u64) -> ConstCounter {
    ConstCounter::new(n)
}

fn gauge(n: usize) -> ConstGauge<u64> {
    ConstGauge::new(n as u64)
}

/// One metric without labels.
fn one(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: &impl EncodeMetric,
) -> fmt::Result {
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One metric family: a descriptor, then a sample per label set.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    series: impl IntoIterator<Item = (L, M)>,
) -> fmt::Result {
    let mut encoder = e.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in series {
        metric.encode(encoder.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A latency histogram's buckets as the encoder takes them: each bound
/// with the observations in that bucket alone (the encoder makes them
/// cumulative), the last bound infinite.
fn buckets(h: &Histogram) -> Vec<(f64, u64)> {
    Histogram::BOUNDS
        .iter()
        .copied()
        .chain([f64::INFINITY])
        .enumerate()
        .map(|(i, bound)| (bound, h.counts.get(i).copied().unwrap_or(0)))
        .collect()
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
