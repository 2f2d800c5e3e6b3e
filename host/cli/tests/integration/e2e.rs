//! Detection quality end to end: `ueba gen` organisations of 200 users over
//! 30 days, scored with the built-in detectors and default config.

use std::collections::BTreeSet;

use ueba_engine::config::Config;
use ueba_engine::identity::Identities;
use ueba_lab::generator::{GenConfig, generate};

use crate::util::{read_events, score_events};

struct Run {
    report: ueba_engine::pipeline::Report,
    alerts: Vec<ueba_engine::risk::aggregate::Alert>,
    scenarios: Vec<ueba_lab::generator::Scenario>,
    user_days: usize,
}

fn run(seed: u64, scenarios: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig {
        users: 200,
        days: 30,
        seed,
        scenarios,
        ..GenConfig::default()
    };
    let summary = generate(&cfg, dir.path(), &mut |_, _| {}).unwrap();
    let ids = Identities::load(&summary.identities_path).unwrap();
    let events = read_events(&summary.events_path);
    let (report, alerts) = score_events(Config::default(), ids, &events);
    Run {
        report,
        alerts,
        scenarios: summary.scenarios,
        user_days: 200 * 30,
    }
}

/// The scenarios the built-in detectors are held to here. The generator's
/// newer ones (boiling-frog, service-account, new-hire) are measured by
/// `ueba eval`, not yet required.
const HELD: [&str; 6] = [
    "trend-micro",
    "off-hours",
    "novel-table",
    "slow-exfiltration",
    "dba-night-maintenance",
    "analyst-big-reads",
];

fn check_labelled_org(seed: u64) {
    let r = run(seed, true);
    let tm = r
        .scenarios
        .iter()
        .find(|s| s.name == "trend-micro")
        .expect("trend-micro scenario");
    let top = &r.report.users[0];
    assert_eq!(
        top.name, tm.user,
        "seed {seed}: the Trend Micro insider must rank first; top was {} ({:?})",
        top.name, top.standing.top_reason
    );
    let tm_detectors: BTreeSet<&str> = r
        .alerts
        .iter()
        .filter(|a| a.user == tm.user)
        .flat_map(|a| a.findings.iter().map(|f| f.detector.as_str()))
        .collect();
    // The three detectors the scenario is built to trip; others (new-source,
    // when the insider connects from somewhere new) may add to them.
    assert!(
        tm_detectors.is_superset(&BTreeSet::from(["novel-table", "off-hours", "volume"])),
        "seed {seed}: the insider's alerts carry all three detectors' findings: {tm_detectors:?}"
    );
    let held = |s: &&ueba_lab::generator::Scenario| HELD.contains(&s.name.as_str());
    for s in r.scenarios.iter().filter(held).filter(|s| s.malicious) {
        assert!(
            r.alerts.iter().any(|a| a.user == s.user),
            "seed {seed}: scenario {} ({}) was not alerted",
            s.name,
            s.user
        );
    }
    for s in r.scenarios.iter().filter(held).filter(|s| !s.malicious) {
        assert!(
            !r.alerts.iter().any(|a| a.user == s.user),
            "seed {seed}: benign look-alike {} ({}) was alerted",
            s.name,
            s.user
        );
    }
}

#[test]
fn labelled_org_seed_42() {
    check_labelled_org(42);
}

#[test]
fn labelled_org_seed_7() {
    check_labelled_org(7);
}

#[test]
fn clean_org_is_quiet() {
    let r = run(42, false);
    assert!(r.scenarios.iter().all(|s| !s.malicious));
    let per_1000 = r.alerts.len() as f64 * 1000.0 / r.user_days as f64;
    assert!(
        per_1000 <= 1.0,
        "{} alerts on a clean organisation ({per_1000:.2} per 1,000 user-days): {:?}",
        r.alerts.len(),
        r.alerts
            .iter()
            .map(|a| (&a.user, a.score, &a.findings[0].reason))
            .collect::<Vec<_>>()
    );
    assert_eq!(r.report.stats.invalid, 0);
}
