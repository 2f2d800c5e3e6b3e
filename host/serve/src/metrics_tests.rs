use super::*;
use crate::queue::DetectorState;
use ueba_engine::sandbox::plugins::HealthKind;

#[test]
fn histograms_are_cumulative_and_labels_escaped() {
    let mut latency = Histogram::default();
    latency.observe(0.00005);
    latency.observe(0.003);
    latency.observe(9.0);
    let snap = Snapshot {
        events: 12,
        detectors: vec![DetectorState {
            name: "we\"ird".into(),
            findings: 4,
            latency,
            quarantined: Some("failed 3 batches".into()),
            ..DetectorState::default()
        }],
        reloads: vec![(HealthKind::Reloaded, 2), (HealthKind::LoadFailed, 1)],
        gate: vec![(
            "hostile".into(),
            ueba_engine::sandbox::gate::GateCounts {
                non_finite_score: 3,
                ..Default::default()
            },
        )],
        exceptions: vec![0, 7],
        threshold: 47.5,
        ..Snapshot::default()
    };
    let counters = Counters::default();
    counters.reject(Rejection::QueueFull);
    let text = render(
        &snap,
        &counters,
        QueueState {
            depth: 3,
            capacity: 10,
            worker_up: true,
        },
        HttpState {
            max_connections: 512,
            body_bytes: 100,
            body_budget: 1000,
        },
    );
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    has("ueba_events_total 12");
    has("ueba_findings_total{detector=\"we\\\"ird\"} 4");
    has("ueba_plugin_quarantined{detector=\"we\\\"ird\"} 1");
    has("ueba_requests_rejected_total{reason=\"queue_full\"} 1");
    has("ueba_requests_rejected_total{reason=\"too_large\"} 0");
    has("ueba_queue_depth_events 3");
    has("ueba_body_bytes_in_flight 100");
    has("ueba_http_connections_max 512");
    has("ueba_http_connections_closed_total{reason=\"header_timeout\"} 0");
    has("ueba_requests_rejected_total{reason=\"body_budget\"} 0");
    has("ueba_plugin_reloads_total{event=\"reloaded\"} 2");
    has("ueba_alert_threshold 47.5");
    has("ueba_plugin_output_rejected_total{detector=\"hostile\",reason=\"non_finite_score\"} 3");
    has("ueba_plugin_output_rejected_total{detector=\"hostile\",reason=\"text_cut\"} 0");
    has("ueba_exception_matches_total{exception=\"1\"} 7");
    has("ueba_plugin_reloads_total{event=\"load_failed\"} 1");
    has("ueba_batch_latency_seconds_bucket{detector=\"we\\\"ird\",le=\"0.0001\"} 1");
    has("ueba_batch_latency_seconds_bucket{detector=\"we\\\"ird\",le=\"0.005\"} 2");
    has("ueba_batch_latency_seconds_bucket{detector=\"we\\\"ird\",le=\"5\"} 2");
    has("ueba_batch_latency_seconds_bucket{detector=\"we\\\"ird\",le=\"+Inf\"} 3");
    has("ueba_batch_latency_seconds_count{detector=\"we\\\"ird\"} 3");
    // Every sample line belongs to a declared metric.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let name = l.split(['{', ' ']).next().unwrap();
        let base = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            text.contains(&format!("# TYPE {name} "))
                || text.contains(&format!("# TYPE {base} histogram")),
            "{l}"
        );
    }
}
