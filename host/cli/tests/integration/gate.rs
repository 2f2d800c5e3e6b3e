//! Whatever a plugin returns or says about itself passes the host's gate:
//! non-finite and out-of-range scores, floods of evidence, terminal escapes
//! and findings for events outside the batch never reach risk, alerts, the
//! terminal or a generated config; a looping snapshot is quarantined; and a
//! plugin that refuses its saved state, or is gone, never locks the other
//! detectors' state away.

use ueba_engine::config::Config;
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::{Report, Scorer};
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::sandbox::gate::is_unsafe_char;
use ueba_engine::sandbox::plugins::{HealthEvent, HealthKind};

use crate::hostile::{
    assert_builtins_saw_everything, fixture_dir, hostile_index, run_config, run_with_alerts,
};
use crate::util::{event, runtime, ueba};

fn gate_of<'r>(r: &'r Report, name: &str) -> &'r ueba_engine::sandbox::gate::GateCounts {
    &r.stats
        .gate
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no gate counts for {name}: {:?}", r.stats.gate))
        .1
}

fn rejected_events(r: &Report) -> Vec<&HealthEvent> {
    r.stats
        .health
        .iter()
        .filter(|h| h.event == HealthKind::OutputRejected)
        .collect()
}

fn all_alert_text(alerts: &[Alert]) -> String {
    alerts
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn non_finite_and_out_of_range_scores_never_reach_risk() {
    let (r, alerts) = run_with_alerts("bad-scores", "", Some(10));
    let g = gate_of(&r, "hostile");
    assert_eq!(g.non_finite_score, 3, "{g:?}");
    assert_eq!(g.clamped_score, 2, "{g:?}");
    assert_eq!(g.non_finite_evidence, 2, "{g:?}");
    // 39 ordinary findings, the two clamped ones and the real one.
    assert_eq!(r.stats.findings[hostile_index(&r)], 42);
    let rejected = rejected_events(&r);
    assert_eq!(rejected.len(), 1, "{:?}", r.stats.health);
    assert_eq!(rejected[0].plugin, "hostile");
    assert_eq!(rejected[0].batch, 11);
    assert!(
        rejected[0]
            .message
            .contains("3 findings dropped for a non-finite score")
    );
    for a in &alerts {
        assert!(
            a.score.is_finite() && (0.0..=100.0).contains(&a.score),
            "{a:?}"
        );
        for f in &a.findings {
            assert!((0.0..=100.0).contains(&f.score), "{f:?}");
            assert!(
                f.evidence
                    .values()
                    .all(|v| !v.is_string() || f.detector != "hostile")
            );
        }
    }
    for u in &r.users {
        assert!(u.standing.peak.is_finite() && u.standing.peak <= 100.0);
    }
    assert!(
        r.render(5)
            .contains("output of hostile rejected: 3 findings dropped")
    );
    assert_builtins_saw_everything_but_gate(&r);
}

/// [`assert_builtins_saw_everything`], allowing the gate's own health events.
fn assert_builtins_saw_everything_but_gate(r: &Report) {
    let mut r = r.clone();
    r.stats
        .health
        .retain(|h| h.event != HealthKind::OutputRejected);
    assert_builtins_saw_everything(&r);
}

#[test]
fn a_flood_of_evidence_and_huge_reasons_is_cut_to_the_budgets() {
    let (r, alerts) = run_with_alerts(
        "evidence-flood",
        "memory_mib = 512\nbatch_timeout_ms = 30000\n",
        Some(10),
    );
    let g = gate_of(&r, "hostile");
    assert_eq!(g.evidence_over_count, 100_000 - 32, "{g:?}");
    // The 10 MB reason and the 1 MB reason of each of the batch's 16 events.
    assert_eq!(g.text_cut, 17, "{g:?}");
    for a in &alerts {
        for f in &a.findings {
            assert!(f.reason.len() <= 1024, "reason of {} bytes", f.reason.len());
            assert!(f.evidence.len() <= 32);
        }
    }
    assert!(all_alert_text(&alerts).len() < 1 << 20);
    assert_builtins_saw_everything_but_gate(&r);
}

#[test]
fn control_characters_are_escaped_everywhere_they_are_shown() {
    let (r, alerts) = run_with_alerts("control-chars", "", Some(10));
    let hostile: Vec<_> = alerts
        .iter()
        .flat_map(|a| &a.findings)
        .filter(|f| f.detector == "hostile" && f.score == 80.0)
        .collect();
    assert!(!hostile.is_empty(), "the finding of 80 alerts");
    for f in &hostile {
        assert!(!f.reason.chars().any(is_unsafe_char), "{:?}", f.reason);
        assert!(f.reason.contains("\\u{1b}[2J"), "{:?}", f.reason);
        for (k, v) in &f.evidence {
            assert!(!k.chars().any(is_unsafe_char), "{k:?}");
            assert!(!v.to_string().chars().any(is_unsafe_char), "{v:?}");
        }
    }
    let rendered = r.render(5);
    assert!(
        !rendered.chars().any(|c| is_unsafe_char(c) && c != '\n'),
        "{rendered:?}"
    );
    for a in &alerts {
        let cef = ueba_formats::sinks::cef::line(a);
        assert!(!cef.chars().any(is_unsafe_char), "{cef:?}");
        // The header keeps its fields: no plugin `|` splits it, so the
        // seventh unescaped `|` still ends the numeric severity.
        let fields = cef_header(&cef);
        assert_eq!(&fields[..3], ["CEF:0", "ueba", "ueba"], "{cef}");
        assert!(
            fields[6].parse::<u8>().is_ok(),
            "severity field: {fields:?}"
        );
    }
}

/// The seven header fields of a CEF line, split at unescaped `|`.
fn cef_header(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                fields.last_mut().unwrap().push(c);
                fields.last_mut().unwrap().extend(chars.next());
            }
            '|' if fields.len() == 7 => break,
            '|' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[test]
fn findings_for_events_outside_the_batch_are_reported_and_not_counted() {
    let (r, _) = run_with_alerts("stray", "", Some(10));
    let g = gate_of(&r, "hostile");
    assert_eq!(g.stray, 3, "{g:?}");
    assert_eq!(r.stats.stray_findings, 3);
    assert_eq!(
        r.stats.findings[hostile_index(&r)],
        39,
        "strays are not findings"
    );
    let rejected = rejected_events(&r);
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]
            .message
            .contains("3 findings dropped for naming an event")
    );
}

#[test]
fn a_looping_snapshot_counts_toward_quarantine() {
    let (r, _) = run_config(
        "[input]\nbatch_size = 16\nblock_minutes = 0\n[sandbox]\nsnapshot_interval_batches = 4\nbatch_timeout_ms = 300\n\
         snapshot_timeout_ms = 300\nmax_failures = 2\n[detectors.hostile]\nmode = \"snapshot-loop\"\n",
        Some(1),
    );
    let events: Vec<_> = r.stats.health.iter().map(|h| h.event).collect();
    assert!(events.contains(&HealthKind::SnapshotRefused), "{events:?}");
    assert!(events.contains(&HealthKind::Quarantined), "{events:?}");
    let refused = r
        .stats
        .health
        .iter()
        .filter(|h| h.event == HealthKind::SnapshotRefused)
        .count();
    assert!(refused <= 2, "quarantined after max_failures: {events:?}");
    assert_eq!(r.stats.events, 640, "the built-ins scored everything");
}

#[test]
fn a_snapshot_budget_below_the_batch_budget_is_an_error() {
    let err = Config::parse(
        "[sandbox]\nbatch_timeout_ms = 5000\nsnapshot_timeout_ms = 1000\n",
        std::path::Path::new("u.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("sandbox.snapshot_timeout_ms"), "{err}");
}

/// Score `n` events for users u0..u3 from `start`.
fn feed(scorer: &mut Scorer<Vec<Alert>>, start: i64, n: i64, trigger_at: Option<i64>) {
    let t0 = 1_767_600_000_000i64;
    for i in start..start + n {
        let rows = if Some(i) == trigger_at {
            666
        } else {
            3 + (i % 5) as u64
        };
        scorer
            .push(&event(
                t0 + i * 600_000,
                &format!("u{}", i % 4),
                "support.tickets",
                rows,
            ))
            .unwrap();
    }
}

fn scorer_with(mode: Option<&str>) -> Scorer<Vec<Alert>> {
    let (cfg, dir) = match mode {
        Some(mode) => (
            format!(
                "[input]\nbatch_size = 16\nblock_minutes = 0\n[detectors.hostile]\nmode = \"{mode}\"\n"
            ),
            Some(fixture_dir()),
        ),
        None => (
            "[input]\nbatch_size = 16\nblock_minutes = 0\n".to_string(),
            None,
        ),
    };
    let cfg = Config::parse(&cfg, std::path::Path::new("r.toml")).unwrap();
    let plugins = ueba_engine::sandbox::plugins::load(&runtime(), &cfg, dir.as_deref()).unwrap();
    Scorer::new(cfg, Identities::default(), plugins, Vec::new())
        .with_health(Box::new(Vec::<HealthEvent>::new()))
}

#[test]
fn a_plugin_that_refuses_its_saved_state_starts_afresh_and_the_rest_resume() {
    for mode in ["restore-trap", "restore-error"] {
        let mut first = scorer_with(Some(mode));
        feed(&mut first, 0, 320, Some(40));
        first.flush().unwrap();
        let state = first.save_state().expect("saved");
        let risk_before: Vec<(String, f32)> = first
            .finish_without_flush()
            .0
            .users
            .iter()
            .map(|u| (u.name.clone(), u.standing.peak))
            .collect();
        let mut second = scorer_with(Some(mode));
        second
            .restore_state(state)
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let failed: Vec<_> = second
            .stats()
            .health
            .iter()
            .filter(|h| h.event == HealthKind::RestoreFailed)
            .collect();
        assert_eq!(failed.len(), 1, "{mode}: {:?}", second.stats().health);
        assert_eq!(failed[0].plugin, "hostile");
        assert!(failed[0].message.contains("starts with no learned state"));
        feed(&mut second, 320, 64, None);
        let (r, _) = second.finish().unwrap();
        assert_eq!(
            r.stats.events, 384,
            "{mode}: the events before resume count"
        );
        for (name, before) in &risk_before {
            let after = r.users.iter().find(|u| &u.name == name).unwrap();
            assert!(
                after.standing.peak >= *before,
                "{mode}: {name}'s risk state resumed: peak {before} then {}",
                after.standing.peak
            );
        }
        assert!(
            !r.stats
                .health
                .iter()
                .any(|h| h.event == HealthKind::Quarantined)
        );
    }
}

#[test]
fn a_removed_plugin_s_state_is_dropped_with_a_warning() {
    let mut first = scorer_with(Some("none"));
    feed(&mut first, 0, 160, None);
    first.flush().unwrap();
    let state = first.save_state().expect("saved");
    let mut second = scorer_with(None);
    second
        .restore_state(state)
        .expect("resumes without the plugin");
    let dropped: Vec<_> = second
        .stats()
        .health
        .iter()
        .filter(|h| h.event == HealthKind::StateDropped)
        .collect();
    assert_eq!(dropped.len(), 1, "{:?}", second.stats().health);
    assert_eq!(dropped[0].plugin, "hostile");
    feed(&mut second, 160, 32, None);
    let (r, _) = second.finish().unwrap();
    assert_eq!(r.stats.events, 192);
    assert!(!r.detectors.iter().any(|d| d == "hostile"));
}

#[test]
fn replacing_a_builtin_is_said_and_config_output_always_parses() {
    let dir = tempfile::tempdir().unwrap();
    let (_, volume) = ueba_engine::sandbox::plugins::BUILTIN_PLUGINS[0];
    std::fs::write(dir.path().join("my-volume.wasm"), volume).unwrap();
    std::fs::copy(
        fixture_dir().join("hostile.wasm"),
        dir.path().join("hostile.wasm"),
    )
    .unwrap();
    let out = ueba(&["config", "--plugins", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"event\":\"replaced_builtin\"") && stderr.contains("my-volume.wasm"),
        "{stderr}"
    );
    let toml = String::from_utf8(out.stdout).unwrap();
    let cfg = Config::parse(&toml, std::path::Path::new("generated.toml")).expect("parses");
    assert_eq!(cfg.sandbox, Config::default().sandbox);
    assert!(cfg.detectors.contains_key("hostile"));
}
