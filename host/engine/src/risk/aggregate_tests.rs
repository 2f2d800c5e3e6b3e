use super::*;

const H: i64 = 3_600_000;

fn finding(detector: &str, score: f64, event: u64) -> AlertFinding {
    AlertFinding {
        detector: detector.into(),
        score,
        time: String::new(),
        reason: format!("{detector} {score}"),
        evidence: Default::default(),
        resource: "t".into(),
        action: "select".into(),
        source: None,
        event,
        criticality: None,
        tail: None,
    }
}

#[test]
fn kept_findings_keep_every_digit_of_their_floats_across_a_checkpoint() {
    let mut f = finding("volume", 80.0, 1);
    for x in [
        1.428_037_891_702_169_9,
        0.1 + 0.2,
        7.331_654_029_516_078e-49,
    ] {
        f.evidence.insert(format!("{x}"), serde_json::json!(x));
    }
    let kept = Kept {
        score: 80.0,
        time_ms: 0,
        finding: f.clone(),
    };
    let bytes = postcard::to_stdvec(&kept).unwrap();
    let back: Kept = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(
        serde_json::to_string(&back.finding).unwrap(),
        serde_json::to_string(&f).unwrap()
    );
}

fn agg() -> Aggregator {
    Aggregator::new(
        RiskConfig::default(),
        vec![
            ("volume".into(), 1.0),
            ("off-hours".into(), 1.0),
            ("novel-table".into(), 1.0),
        ],
    )
}

#[test]
fn one_strong_finding_alerts_alone() {
    let mut a = agg();
    let alert = a
        .add(0, 0, 0, finding("volume", 90.0, 1), "u", Some("g"))
        .unwrap();
    assert_eq!(alert.score, 90.0);
    assert_eq!(alert.kind, "new");
    assert_eq!(alert.findings[0].detector, "volume");
}

#[test]
fn one_detector_alone_stops_at_the_cap_and_agreement_goes_higher() {
    let mut a = agg();
    let single = a
        .add(0, 0, 0, finding("volume", 100.0, 1), "u", None)
        .unwrap();
    assert_eq!(single.score, 90.0);
    a.add(1, 0, 0, finding("volume", 100.0, 2), "v", None);
    a.add(1, 1, 0, finding("off-hours", 50.0, 3), "v", None);
    let s = a.standings();
    assert_eq!(s[0].user, 1, "two agreeing detectors outrank one");
    assert!((s[0].peak - 95.0).abs() < 0.01, "{}", s[0].peak);
}

fn on(resource: &str, mut f: AlertFinding) -> AlertFinding {
    f.resource = resource.into();
    f
}

#[test]
fn chatty_detector_is_capped() {
    let mut a = agg();
    for i in 0..1000 {
        let f = on(&format!("t{i}"), finding("off-hours", 30.0, i as u64));
        assert!(a.add(0, 1, i, f, "u", None).is_none());
    }
    let peak = a.standings()[0].peak;
    assert!((peak - 45.0).abs() < 0.1, "{peak}");
}

#[test]
fn a_detector_restating_one_resources_hour_counts_it_once() {
    // Volume's hour count, day count, hour rows and day rows of one surge
    // on one table: one behaviour, worth its strongest finding.
    let mut a = agg();
    for (i, score) in [45.0, 40.0, 35.0, 30.0].into_iter().enumerate() {
        let f = on("support.tickets", finding("volume", score, i as u64));
        assert!(a.add(0, 0, i as i64 * 60_000, f, "u", None).is_none());
    }
    let once = a.risk_of(0);
    assert!((once - 45.0).abs() < 0.1, "{once}");
    // The same findings about four tables are four behaviours: repeats.
    for (i, score) in [45.0, 40.0, 35.0, 30.0].into_iter().enumerate() {
        let f = on(&format!("t{i}"), finding("volume", score, i as u64));
        a.add(1, 0, i as i64 * 60_000, f, "v", None);
    }
    let four = a.risk_of(1);
    assert!((four - 60.0).abs() < 0.1, "{four}: 45 plus the repeat cap");
}

#[test]
fn a_restated_behaviour_counts_at_its_strongest_and_goes_on_into_the_next_hour() {
    let mut a = agg();
    a.add(0, 0, 0, on("t", finding("volume", 40.0, 1)), "u", None);
    // A stronger finding about the same table in that hour replaces it:
    // the behaviour counts once, at its strongest, with no repeat bonus.
    a.add(0, 0, 60_000, on("t", finding("volume", 50.0, 2)), "u", None);
    let risen = a.risk_of(0);
    assert!((risen - 50.0).abs() < 0.1, "{risen}");
    // Another table then is another behaviour: 50 + 0.25 × 20.
    a.add(
        0,
        0,
        120_000,
        on("u", finding("volume", 20.0, 5)),
        "u",
        None,
    );
    let other = a.risk_of(0);
    assert!((other - 55.0).abs() < 0.1, "{other}");
    // A night session restated as it grows: the findings of its first hour
    // count as one, its second hour is the behaviour going on (a repeat).
    let session = [(10, 23.0), (30, 33.0), (80, 43.0), (115, 54.0)];
    for (i, (minute, score)) in session.into_iter().enumerate() {
        let f = on(
            "support.tickets",
            finding("off-hours", score, 10 + i as u64),
        );
        a.add(1, 1, minute * 60_000, f, "v", None);
    }
    let decay = |s: f32, from_min: i64| s * 0.5f32.powf((115 - from_min) as f32 / (24.0 * 60.0));
    // Sum: the first hour at its strongest (33, decayed), the second hour's
    // 43 and the rise of 54 over it; the component is 54 plus a quarter of
    // the rest.
    let sum = decay(33.0, 30) + decay(43.0, 80) + (54.0 - decay(43.0, 80));
    let expected = 54.0 + 0.25 * (sum - 54.0);
    let night = a.risk_of(1);
    assert!((night - expected).abs() < 0.1, "{night} vs {expected}");
}

#[test]
fn agreeing_detectors_reinforce_and_top_finding_comes_first() {
    let mut a = agg();
    assert!(
        a.add(0, 0, 0, finding("volume", 30.0, 1), "u", None)
            .is_none()
    );
    assert!(
        a.add(0, 1, 0, finding("off-hours", 25.0, 2), "u", None)
            .is_none()
    );
    let alert = a
        .add(0, 2, 0, finding("novel-table", 45.0, 3), "u", None)
        .unwrap();
    // 1 - 0.7 * 0.75 * 0.55 = 0.71125
    assert!((alert.score - 71.1).abs() < 0.11, "{}", alert.score);
    let order: Vec<_> = alert.findings.iter().map(|f| f.detector.as_str()).collect();
    assert_eq!(order, ["novel-table", "volume", "off-hours"]);
}

#[test]
fn risk_decays_with_half_life_and_rearms() {
    let mut a = agg();
    assert!(
        a.add(0, 0, 0, finding("volume", 70.0, 1), "u", None)
            .is_some()
    );
    // Same level a little later: no repeat alert.
    assert!(
        a.add(0, 0, H, finding("volume", 20.0, 2), "u", None)
            .is_none()
    );
    // Escalation by at least realert_step: alert again.
    let e = a
        .add(0, 2, H, finding("novel-table", 70.0, 3), "u", None)
        .unwrap();
    assert_eq!(e.kind, "escalation");
    // Three days later everything has decayed to an eighth: episode over,
    // a new strong finding is a new alert.
    let n = a
        .add(0, 0, 73 * H, finding("volume", 62.0, 4), "u", None)
        .unwrap();
    assert_eq!(n.kind, "new");
    assert!(n.score < 70.0, "{}", n.score);
}

#[test]
fn a_detector_joining_an_alerted_user_is_reported_once() {
    let mut a = agg();
    assert!(
        a.add(0, 0, 0, finding("volume", 100.0, 1), "u", None)
            .is_some()
    );
    assert!(
        a.add(0, 1, 0, finding("off-hours", 95.0, 2), "u", None)
            .is_some()
    );
    // Risk is already near the top: no escalation is possible, but the
    // novel-table evidence is new to this episode, so it is reported.
    let n = a
        .add(0, 2, 0, finding("novel-table", 40.0, 3), "u", None)
        .unwrap();
    assert_eq!(n.kind, "new-evidence");
    assert!(n.findings.iter().any(|f| f.detector == "novel-table"));
    // More of the same evidence is not reported again.
    assert!(
        a.add(0, 2, 0, finding("novel-table", 45.0, 4), "u", None)
            .is_none()
    );
    // Weak evidence from a new detector does not re-alert.
    let mut b = agg();
    assert!(
        b.add(0, 0, 0, finding("volume", 100.0, 1), "u", None)
            .is_some()
    );
    assert!(
        b.add(0, 2, 0, finding("novel-table", 15.0, 2), "u", None)
            .is_none()
    );
}

#[test]
fn a_detector_an_alert_showed_must_rise_by_the_new_evidence_bar_to_re_alert() {
    const VOLUME: usize = 0;
    const NOVEL: usize = 2;
    // novel-table is at 20 when volume alerts: the alert shows it.
    let mut a = agg();
    assert!(
        a.add(0, NOVEL, 0, finding("novel-table", 20.0, 1), "u", None)
            .is_none()
    );
    let first = a
        .add(0, VOLUME, 0, finding("volume", 100.0, 2), "u", None)
        .unwrap();
    assert!(first.findings.iter().any(|f| f.detector == "novel-table"));
    // Past the bar by a few points is not new evidence: the SIEM saw it.
    let again = a.add(0, NOVEL, 0, finding("novel-table", 30.0, 3), "u", None);
    assert!(again.is_none(), "{again:?}");
    // Risen by the bar over what the alert showed, it is.
    let n = a
        .add(0, NOVEL, 0, finding("novel-table", 60.0, 4), "u", None)
        .unwrap();
    assert_eq!(n.kind, "new-evidence");
}

#[test]
fn risk_of_reads_the_risk_after_the_latest_finding() {
    let mut a = agg();
    assert_eq!(a.risk_of(0), 0.0);
    a.add(0, 0, 0, finding("volume", 40.0, 1), "u", None);
    assert!((a.risk_of(0) - 40.0).abs() < 0.01);
    // A day later the volume component has halved before the new finding.
    let alert = a
        .add(0, 1, 24 * H, finding("off-hours", 60.0, 2), "u", None)
        .unwrap();
    assert!((a.risk_of(0) - 68.0).abs() < 0.01, "{}", a.risk_of(0));
    assert_eq!(alert.score, 68.0);
    assert_eq!(a.risk_of(7), 0.0);
}

fn col(name: &str, keeps: Option<usize>) -> Column {
    Column {
        name: name.into(),
        weight: 1.0,
        keeps,
    }
}

#[test]
fn removing_a_detector_drops_its_risk_and_remaps_the_alerted_ones() {
    let mut a = agg();
    // volume and novel-table are in the alert; off-hours only adds risk.
    assert!(
        a.add(0, 0, 0, finding("volume", 70.0, 1), "u", None)
            .is_some()
    );
    a.add(0, 1, 0, finding("off-hours", 20.0, 2), "u", None);
    assert!(
        a.add(0, 2, 0, finding("novel-table", 40.0, 3), "u", None)
            .is_some()
    );
    let before = a.risk_of(0);
    a.rearrange(&[col("volume", Some(0)), col("novel-table", Some(2))]);
    assert_eq!(a.detector_names(), ["volume", "novel-table"]);
    // 1 - 0.3 * 0.6 = 0.82 without the off-hours 20.
    assert!((a.risk_of(0) - 82.0).abs() < 0.01, "{}", a.risk_of(0));
    assert!(a.risk_of(0) < before);
    assert_eq!(a.standings()[0].findings, [1, 1]);
    // novel-table (now index 1) was already in this episode's alerts:
    // more of it is no new evidence. Had its bit stayed at index 2, this
    // would alert as `new-evidence`.
    assert!(
        a.add(0, 1, 0, finding("novel-table", 45.0, 4), "u", None)
            .is_none()
    );
    // Findings for an index past the line-up are ignored, not misfiled.
    assert!(
        a.add(0, 2, 0, finding("off-hours", 90.0, 5), "u", None)
            .is_none()
    );
    assert_eq!(a.standings()[0].findings, [1, 2]);
}

#[test]
fn an_added_detector_starts_empty_and_a_replaced_one_keeps_its_risk() {
    let mut a = agg();
    a.add(0, 0, 0, finding("volume", 50.0, 1), "u", None);
    a.add(0, 2, 0, finding("novel-table", 30.0, 2), "u", None);
    a.add(1, 1, 0, finding("off-hours", 20.0, 3), "v", None);
    let (u, v) = (a.risk_of(0), a.risk_of(1));
    // A new detector first; novel-table replaced by a new version that
    // moves to the end; off-hours and volume stay.
    a.rearrange(&[
        col("new-source", None),
        col("volume", Some(0)),
        col("off-hours", Some(1)),
        col("novel-table", Some(2)),
    ]);
    assert_eq!(
        a.detector_names(),
        ["new-source", "volume", "off-hours", "novel-table"]
    );
    assert!((a.risk_of(0) - u).abs() < 1e-4);
    assert!((a.risk_of(1) - v).abs() < 1e-4);
    let s = a.standings();
    assert_eq!(s[0].findings, [0, 1, 0, 1]);
    assert_eq!(s[1].findings, [0, 0, 1, 0]);
    // The new detector's findings land in its own column and combine
    // with what the user had: 1 - 0.5 * 0.7 * 0.6 = 0.79.
    let alert = a
        .add(0, 0, 0, finding("new-source", 40.0, 4), "u", None)
        .unwrap();
    assert!((alert.score - 79.0).abs() < 0.11, "{}", alert.score);
    assert_eq!(alert.detectors["new-source"], serde_json::json!(40.0));
    assert_eq!(alert.detectors["volume"], serde_json::json!(50.0));
    // A user first seen now gets the whole line-up.
    a.add(2, 3, 0, finding("novel-table", 10.0, 5), "w", None);
    let w = a.standings().into_iter().find(|s| s.user == 2).unwrap();
    assert_eq!(w.findings, [0, 0, 0, 1]);
    // The state saved after the change restores into an aggregator with
    // the new line-up as it was; into one with the old line-up, each
    // detector keeps its own components by name and the one the old
    // line-up lacks is dropped, never attributed to another.
    let mut same = Aggregator::new(
        RiskConfig::default(),
        a.detector_names()
            .iter()
            .map(|n| (n.clone(), 1.0))
            .collect(),
    );
    assert!(same.restore(a.state()).is_empty());
    assert_eq!(same.standings(), a.standings());
    let mut old = agg();
    assert_eq!(old.restore(a.state()), ["new-source"]);
    assert_eq!(old.detector_names(), agg().detector_names());
    let v = old.standings().into_iter().find(|s| s.user == 0).unwrap();
    let before = a.standings().into_iter().find(|s| s.user == 0).unwrap();
    let col = |names: &[String], n: &str| names.iter().position(|x| x == n).unwrap();
    assert_eq!(
        v.findings[col(old.detector_names(), "volume")],
        before.findings[col(a.detector_names(), "volume")]
    );
}

#[test]
fn weights_scale_contributions() {
    let mut a = Aggregator::new(
        RiskConfig::default(),
        vec![("volume".into(), 0.5), ("off-hours".into(), 0.0)],
    );
    assert!(
        a.add(0, 0, 0, finding("volume", 100.0, 1), "u", None)
            .is_none()
    );
    assert!(
        a.add(1, 1, 0, finding("off-hours", 100.0, 2), "v", None)
            .is_none()
    );
    let s = a.standings();
    assert_eq!(s[0].user, 0);
    assert!((s[0].peak - 50.0).abs() < 0.01);
    assert_eq!(s[1].peak, 0.0);
}

/// Add a finding as the scorer would with blocks of 10 events: event `seq`
/// is in block `seq / 10`.
fn add10(
    a: &mut Aggregator,
    user: u32,
    detector: usize,
    time_ms: i64,
    f: AlertFinding,
    name: &str,
    peer: Option<&str>,
) -> Option<Alert> {
    a.set_block(f.event / 10);
    a.add(user, detector, time_ms, f, name, peer)
}

#[test]
fn an_open_episode_holds_learning_from_the_next_block_until_it_calms_or_hold_days_pass() {
    // Blocks of 10 events: event `seq` is in block `seq / 10`.
    let mut a = agg();
    // Below the threshold and `hold_above`: no episode, nothing held.
    assert!(add10(&mut a, 0, 0, 0, finding("volume", 35.0, 1), "u", None).is_none());
    assert!(!a.holds_learning(0, 2 / 10, H));
    assert!(!a.holds_learning(0, 25 / 10, H));
    // Alerted by event 12 at 10:30: the rest of its block is judged by what
    // was known before the block (not held); from event 20 on, held while
    // the risk decayed to the event's time stays above `rearm_below` (30):
    // 70 halves to 35 a day later and falls below 30 about 5.3 hours on.
    let alerted = 10 * H + H / 2;
    assert!(
        add10(
            &mut a,
            1,
            0,
            alerted,
            finding("volume", 70.0, 12),
            "v",
            None
        )
        .is_some()
    );
    assert!(!a.holds_learning(1, 13 / 10, alerted));
    assert!(!a.holds_learning(1, 19 / 10, alerted + H));
    assert!(a.holds_learning(1, 20 / 10, alerted + H));
    assert!(a.holds_learning(1, 90 / 10, 34 * H));
    assert!(!a.holds_learning(1, 99 / 10, 41 * H));
    // Events before the alert in time are not held, nor other users.
    assert!(!a.holds_learning(1, 25 / 10, alerted - 1));
    assert!(!a.holds_learning(0, 25 / 10, 12 * H));
    assert!(!a.holds_learning(7, 25 / 10, 12 * H));
    // A finding about a later event of a block does not change what the
    // block's earlier events are told: the block keeps the hold it began
    // with, however the batches were cut.
    assert!(add10(&mut a, 2, 0, 20 * H, finding("volume", 90.0, 31), "w", None).is_some());
    assert!(!a.holds_learning(2, 32 / 10, 20 * H + 1));
    assert!(a.holds_learning(2, 40 / 10, 20 * H + 2));
    add10(&mut a, 2, 0, 21 * H, finding("volume", 1.0, 45), "w", None);
    assert!(a.holds_learning(2, 41 / 10, 21 * H));

    // Findings that keep the risk up hold it only for `hold_days`, so a
    // false alarm cannot freeze a user's baselines for good.
    let mut b = Aggregator::new(
        RiskConfig {
            hold_days: 2.0,
            ..RiskConfig::default()
        },
        vec![("volume".into(), 1.0)],
    );
    for h in 0..=72 {
        add10(
            &mut b,
            0,
            0,
            h * H,
            finding("volume", 80.0, h as u64),
            "u",
            None,
        );
    }
    assert!(b.holds_learning(0, 100 / 10, 47 * H));
    assert!(!b.holds_learning(0, 100 / 10, 48 * H));

    // `hold_days = 0` never holds.
    let mut c = Aggregator::new(
        RiskConfig {
            hold_days: 0.0,
            ..RiskConfig::default()
        },
        vec![("volume".into(), 1.0)],
    );
    c.add(0, 0, 0, finding("volume", 90.0, 1), "u", None);
    assert!(!c.holds_learning(0, 5 / 10, 2 * H));
}

fn pending(id: &str, verdict: VerdictKind, time_ms: i64) -> PendingVerdict {
    PendingVerdict {
        verdict: crate::risk::verdicts::Verdict {
            time: crate::event::format_time(time_ms),
            id: id.into(),
            verdict,
            note: String::new(),
            analyst: String::new(),
        },
        time_ms,
        path: "verdicts.jsonl".into(),
        line: 1,
    }
}

#[test]
fn an_alert_opens_an_incident_and_a_benign_verdict_closes_it_and_forgives_the_behaviour() {
    let mut a = agg();
    let alert = a
        .add(0, 0, 0, finding("volume", 90.0, 1), "u", None)
        .unwrap();
    assert_eq!(alert.incident, format!("i-{}", alert.id));
    let opened = a.take_changes();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].change, Change::Opened);
    assert!(
        a.apply_verdict(&pending("nope", VerdictKind::Benign, H))
            .is_err()
    );
    a.apply_verdict(&pending(&alert.id, VerdictKind::Benign, H))
        .unwrap();
    assert_eq!(
        a.risk_of(0),
        0.0,
        "a benign verdict resets the episode's risk"
    );
    let changes: Vec<Change> = a.take_changes().iter().map(|c| c.change).collect();
    assert_eq!(changes, vec![Change::Verdict, Change::Closed]);
    assert!(a.forgiven(0, "volume", "t", 2 * H).is_some());
    assert!(a.forgiven(0, "off-hours", "t", 2 * H).is_none());
    assert!(
        a.forgiven(0, "volume", "t", 31 * 24 * H).is_none(),
        "for benign_days only"
    );
    assert!(!a.holds_learning(0, 10_000, 2 * H), "learning resumes");
}

#[test]
fn a_malicious_verdict_keeps_the_user_out_of_learning() {
    let mut a = agg();
    let alert = a
        .add(0, 0, 0, finding("volume", 90.0, 1), "u", None)
        .unwrap();
    a.apply_verdict(&pending(&alert.id, VerdictKind::Malicious, H))
        .unwrap();
    assert!(a.holds_learning(0, 10_000, 400 * 24 * H));
}

#[test]
fn extreme_criticality_multiplies_the_odds_of_risk() {
    let mut a = agg();
    a.set_modifier(
        0,
        Some(Arc::new(UserModifier {
            factor: 2.0,
            applied: vec![Modifier {
                kind: "criticality".into(),
                name: "extreme".into(),
                factor: 2.0,
            }],
        })),
    );
    // 60 has odds 1.5; doubled, 3: a risk of 75.
    let alert = a
        .add(0, 0, 0, finding("volume", 60.0, 1), "u", None)
        .unwrap();
    assert_eq!(alert.score, 75.0);
    assert_eq!(alert.base_score, Some(60.0));
    assert_eq!(alert.modifiers[0].name, "extreme");
}

#[test]
fn a_suspicious_user_is_held_out_of_learning_before_any_alert() {
    let mut a = agg();
    // Risk 50: under the threshold (60), over `hold_above` (40). Held from
    // the next block until 50 decays below `rearm_below` (30): about 17.7
    // hours with a 24-hour half-life.
    assert!(add10(&mut a, 0, 0, 0, finding("off-hours", 50.0, 3), "u", None).is_none());
    assert!(!a.holds_learning(0, 4 / 10, H));
    assert!(a.holds_learning(0, 10 / 10, H));
    assert!(a.holds_learning(0, 20 / 10, 17 * H));
    assert!(!a.holds_learning(0, 30 / 10, 18 * H));
    // A second finding while held keeps the hold from its start, for at
    // most `hold_days`.
    add10(
        &mut a,
        0,
        1,
        17 * H,
        finding("novel-table", 30.0, 25),
        "u",
        None,
    );
    assert!(a.holds_learning(0, 30 / 10, 30 * H));
    // With `hold_above` at the threshold only alerted users are held.
    let mut b = Aggregator::new(
        RiskConfig {
            hold_above: 60.0,
            ..RiskConfig::default()
        },
        vec![("off-hours".into(), 1.0)],
    );
    add10(&mut b, 0, 0, 0, finding("off-hours", 50.0, 3), "u", None);
    assert!(!b.holds_learning(0, 10 / 10, H));
}

#[test]
fn changed_users_are_those_with_a_finding_or_a_closed_incident_since_the_last_take() {
    let mut a = agg();
    a.add(0, 0, 0, finding("volume", 20.0, 1), "u0", None);
    // Not tracked: nothing is kept.
    assert!(a.take_changed_users().is_empty());
    a.track_changed_users();
    a.add(3, 0, 0, finding("volume", 90.0, 2), "u3", None);
    a.add(1, 1, 0, finding("off-hours", 20.0, 3), "u1", None);
    a.add(3, 2, H, finding("novel-table", 30.0, 4), "u3", None);
    assert_eq!(a.take_changed_users(), vec![1, 3]);
    assert!(a.take_changed_users().is_empty());
    // Days later user 3's incident closes as their risk calms, with no
    // finding of theirs: they changed all the same.
    a.close_calmed(30 * 24 * H);
    assert_eq!(a.take_changed_users(), vec![3]);
    assert!(
        a.incidents()
            .iter()
            .any(|i| i.user == "u3" && i.closed.is_some())
    );
    assert_eq!(
        a.user_incidents(3),
        a.incidents()
            .into_iter()
            .filter(|i| i.user == "u3")
            .collect::<Vec<_>>()
    );
    assert!(a.standing(2).is_none());
    assert!(a.standing(3).is_some_and(|s| s.alerts >= 1));
}

#[test]
fn an_hours_behaviours_are_remembered_up_to_a_bound_the_weakest_making_way() {
    let hl = 24.0 * H as f64;
    let mut facets = Facets::default();
    for i in 0..100 {
        let score = 20.0 + i as f32 * 0.5;
        assert_eq!(facets.note(&format!("t{i}"), score, i, hl), score);
    }
    assert_eq!(facets.seen.len(), FACETS_KEPT);
    // The strongest stay: a restatement of one of them adds nothing...
    assert_eq!(facets.note("t99", 40.0, 200, hl), 0.0);
    // ...and one that made way counts as a behaviour of its own again.
    assert_eq!(facets.note("t0", 20.0, 200, hl), 20.0);
    assert_eq!(facets.seen.len(), FACETS_KEPT);
}

#[test]
fn adding_a_finding_says_whether_it_restated_the_hours_behaviour() {
    let mut a = agg();
    let first = a.add_finding(0, 0, 0, on("t", finding("volume", 30.0, 1)));
    assert_eq!(
        first,
        Some(Added {
            before: 0.0,
            restated: false
        })
    );
    let again = a.add_finding(0, 0, 60_000, on("t", finding("volume", 40.0, 2)));
    assert!(again.unwrap().restated);
    let other = a.add_finding(0, 0, 120_000, on("u", finding("volume", 20.0, 3)));
    assert!(!other.unwrap().restated);
    // Another detector's finding on the same resource is its own evidence.
    let off = a.add_finding(0, 1, 180_000, on("t", finding("off-hours", 20.0, 4)));
    assert!(!off.unwrap().restated);
}
