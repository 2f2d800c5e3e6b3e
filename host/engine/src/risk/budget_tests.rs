use super::*;

fn budget(per_1k: f64) -> AlertBudget {
    AlertBudget::new(&RiskConfig {
        alert_budget_per_1k_user_days: per_1k,
        ..RiskConfig::default()
    })
}

/// A budget an operator has allowed to rise to `ceiling`.
fn budget_up_to(ceiling: f64) -> AlertBudget {
    AlertBudget::new(&RiskConfig {
        threshold_ceiling: ceiling,
        ..RiskConfig::default()
    })
}

/// `users` users a day for `days` days, user u peaking at `peak(u, day)`.
fn run(b: &mut AlertBudget, days: i64, users: u32, peak: impl Fn(u32, i64) -> f32) {
    for d in 0..days {
        for u in 0..users {
            b.active(u, d * DAY_MS + 1000, |_| false);
            b.risk(u, peak(u, d));
        }
    }
    b.active(0, days * DAY_MS, |_| false);
}

/// Days `days` of `users` users, the first `attackers` of whom open an
/// alert episode on the first of them and score `peak` every day (their
/// days left out as in an open episode), the rest 5.
fn attacked(
    b: &mut AlertBudget,
    days: std::ops::Range<i64>,
    users: u32,
    attackers: u32,
    peak: f32,
) {
    for d in days.clone() {
        for u in 0..users {
            b.active(u, d * DAY_MS + 1000, |u| u < attackers);
            if u < attackers && d == days.start {
                b.episode();
            }
            b.risk(u, if u < attackers { peak } else { 5.0 });
        }
    }
    b.active(0, days.end * DAY_MS, |u| u < attackers);
}

#[test]
fn sparse_scores_lower_the_threshold_to_what_the_budget_allows() {
    let mut b = budget(0.5);
    // 1,000 users whose days peak low, one in a thousand at 45.
    run(&mut b, 28, 1000, |u, d| {
        if (u + d as u32 * 37).is_multiple_of(1000) {
            45.0
        } else {
            10.0
        }
    });
    assert!(b.threshold() < 60.0, "{}", b.threshold());
    assert!(b.threshold() >= 35.0, "never below the floor");
}

#[test]
fn noisy_scores_raise_it_by_the_daily_step_and_the_ceiling_holds() {
    let mut b = budget_up_to(75.0);
    run(
        &mut b,
        14,
        1000,
        |u, _| if u % 10 == 0 { 70.0 } else { 20.0 },
    );
    assert!(b.threshold() > 60.0, "{}", b.threshold());
    assert!(b.threshold() <= 60.0 + 8.0 * MAX_RISE_PER_DAY);
    // The same users alerted (their days in an open episode), far over the
    // budget: the threshold climbs to the ceiling and it holds.
    let mut b = budget_up_to(75.0);
    let alerted = |u: u32| u.is_multiple_of(10);
    for d in 0..28 {
        for u in 0..1000 {
            b.active(u, d * DAY_MS + 1000, alerted);
            if d == 0 && alerted(u) {
                b.episode();
            }
            b.risk(u, if alerted(u) { 95.0 } else { 20.0 });
        }
    }
    b.active(0, 28 * DAY_MS, alerted);
    assert_eq!(b.threshold(), 75.0);
    assert_eq!(b.standing().unwrap().lifted, None);
}

#[test]
fn ordinary_days_crowding_below_the_ceiling_lift_it_only_as_far_as_they_reach() {
    // Three users in a hundred peak at 65 every day and none of them is
    // alerted: a log whose ordinary users score above the ceiling. The
    // window's 28,000 user-days allow 14 episodes; 840 ordinary peaks in
    // the ten points below any level up to 75 are far more than nine
    // allowances, so the ceiling lifts to just past them.
    let mut b = budget(0.5);
    run(
        &mut b,
        28,
        1000,
        |u, _| if u % 100 < 3 { 65.0 } else { 10.0 },
    );
    let standing = b.standing().unwrap();
    assert_eq!(standing.lifted, Some(75.5), "{standing:?}");
    assert!(
        standing.lifted_note().unwrap().contains("75.5"),
        "{standing:?}"
    );
    // The threshold follows the budget's target, just above the 65s, and
    // no further: the lift bounds it, the peaks set it.
    assert_eq!(b.threshold(), 65.5);
    assert_eq!(standing.held_at_ceiling(), None);
    // A handful of ordinary days up there (nine allowances are 126
    // user-days) lift nothing.
    let mut b = budget(0.5);
    run(&mut b, 28, 1000, |u, d| {
        if u == 7 && d % 3 == 0 { 65.0 } else { 10.0 }
    });
    assert_eq!(b.standing().unwrap().lifted, None);
    assert!(b.threshold() <= 60.0);
}

/// Days `days` of 1,000 users whose ordinary days crowd above the
/// ceiling (three in a hundred peak at 75, none of them alerted), while
/// twenty others a day open alert episodes (their days left out): a log
/// that overspends its budget on ordinary users.
fn crowded(b: &mut AlertBudget, days: std::ops::Range<i64>) {
    let alerted = |u: u32, d: i64| (u as i64 - 100 - 20 * d).rem_euclid(900) < 20 && u >= 100;
    for d in days.clone() {
        for u in 0..1000 {
            b.active(u, d * DAY_MS + 1000, |v| alerted(v, d - 1));
            if alerted(u, d) {
                b.episode();
            }
            let peak = if alerted(u, d) {
                90.0
            } else if u % 100 < 3 {
                75.0
            } else {
                10.0
            };
            b.risk(u, peak);
        }
    }
    b.active(0, days.end * DAY_MS, |v| alerted(v, days.end - 1));
}

#[test]
fn ordinary_days_crowding_above_the_ceiling_lift_the_threshold_at_once() {
    // From the first closed day, still in the warm-up and short of one
    // allowance's user-days, the threshold goes at once where the step
    // would take it: the lifted ceiling, from which no ten points hold
    // more than nine peaks (ten points past the 75s).
    let mut b = budget(0.5);
    crowded(&mut b, 0..1);
    assert_eq!(b.threshold(), 85.5);
    // Still in the warm-up, the standing says why the threshold is there.
    let standing = b.standing().unwrap();
    assert_eq!(standing.days, 1, "{standing:?}");
    assert_eq!(standing.lifted, Some(85.5), "{standing:?}");
    // After the warm-up, still overspent, it stays at the lift.
    crowded(&mut b, 1..14);
    let standing = b.standing().unwrap();
    assert_eq!(standing.lifted, Some(85.5), "{standing:?}");
    assert!(standing.over(), "{standing:?}");
    assert_eq!(b.threshold(), 85.5);
}

#[test]
fn a_small_organisations_first_days_lift_only_on_a_crowd_of_ten() {
    // 100 users, one alert on the first day (overspent: the window holds
    // no allowance yet). Nine ordinary peaks near the ceiling are what one
    // allowance of a calibrated tail puts there: nothing lifts.
    let day = |b: &mut AlertBudget, d: i64, near: u32| {
        for u in 0..100 {
            b.active(u, d * DAY_MS + 1000, |v| v == 99);
            if u == 99 && d == 0 {
                b.episode();
            }
            let peak = match u {
                99 => 90.0,
                u if u < near => 55.0,
                _ => 5.0,
            };
            b.risk(u, peak);
        }
    };
    let mut b = budget(0.5);
    day(&mut b, 0, 9);
    day(&mut b, 1, 0);
    assert_eq!(b.threshold(), 60.0);
    assert!(b.standing().is_none());
    // Ten of them on one day are a log whose ordinary users crowd there.
    let mut b = budget(0.5);
    day(&mut b, 0, 10);
    day(&mut b, 1, 0);
    assert_eq!(b.threshold(), 65.5);
}

#[test]
fn a_restored_budget_carries_on_where_it_was() {
    let f = |u: u32, d: i64| {
        if u % 100 < 3 && d > 3 {
            65.0
        } else {
            ((u + d as u32) % 40) as f32
        }
    };
    let mut whole = budget(0.5);
    run(&mut whole, 30, 1000, f);
    let mut part = budget(0.5);
    run(&mut part, 20, 1000, f);
    let cfg = RiskConfig::default();
    let mut resumed = part.clone().configured(&cfg);
    assert!(resumed == part, "same bounds: nothing changes on restore");
    for d in 20..30 {
        for u in 0..1000 {
            resumed.active(u, d * DAY_MS + 1000, |_| false);
            resumed.risk(u, f(u, d));
        }
    }
    resumed.active(0, 30 * DAY_MS, |_| false);
    assert!(resumed == whole, "a resumed run gives the same thresholds");
    assert!(whole.threshold() > 60.0, "{}", whole.threshold());
}

#[test]
fn an_alerted_attack_is_not_learned_and_overspending_raises_it_by_the_daily_step() {
    let mut b = budget(0.5);
    run(&mut b, 20, 500, |_, _| 5.0);
    let settled = b.threshold();
    assert_eq!(settled, 35.0, "a quiet organisation goes down to the floor");
    // Five users alert and score 100 every day from now on: their days
    // are left out, and their five episodes stay within the budget of
    // ⌊13,000 × 0.5 / 1000⌋ = 6; two more overspend it.
    attacked(&mut b, 20..26, 500, 5, 100.0);
    assert_eq!(b.threshold(), settled, "the attack's days are not the norm");
    b.episode();
    b.episode();
    b.active(0, 27 * DAY_MS, |u| u < 5);
    assert_eq!(b.threshold(), settled + MAX_RISE_PER_DAY);
}

#[test]
fn nothing_moves_during_warm_up_or_without_a_budget() {
    let mut b = budget(0.5);
    run(&mut b, 5, 1000, |_, _| 0.0);
    assert_eq!(b.threshold(), 60.0, "fewer than seven days");
    let mut b = budget(0.0);
    run(&mut b, 28, 1000, |_, _| 0.0);
    assert_eq!(
        b.threshold(),
        60.0,
        "a budget of 0 keeps the threshold fixed"
    );
    let mut b = budget(0.5);
    run(&mut b, 28, 50, |_, _| 0.0);
    assert_eq!(b.threshold(), 60.0, "1,400 user-days allow no alert yet");
}

#[test]
fn a_replay_gives_the_same_thresholds() {
    let f = |u: u32, d: i64| ((u as i64 * 7919 + d * 104_729) % 100) as f32;
    let mut a = budget_up_to(75.0);
    let mut b = budget_up_to(75.0);
    run(&mut a, 30, 300, f);
    run(&mut b, 30, 300, f);
    assert!(a == b, "the same events give the same budget state");
    assert_ne!(a.threshold(), 60.0, "the threshold moved");
}

#[test]
fn the_learning_period_s_silent_days_do_not_count() {
    // Ten days without a finding anywhere (the detectors learning), then
    // ordinary days that peak at 40 for one user in a hundred.
    let ordinary = |u: u32, d: i64| {
        if d < 10 {
            0.0
        } else if u.is_multiple_of(100) {
            40.0
        } else {
            15.0
        }
    };
    let mut b = budget(0.5);
    run(&mut b, 10, 1000, ordinary);
    assert_eq!(b.threshold(), 60.0, "silent days set nothing");
    assert_eq!(b.user_days(), 0, "and are not in the window");
    // Counted from the first day with risk: after the warm-up the target
    // (just above the 40s) is approached from where the threshold was,
    // never from the floor that ten silent days would have given.
    let mut b = budget(0.5);
    run(&mut b, 10 + WARM_UP_DAYS as i64 + 1, 1000, ordinary);
    assert!(b.threshold() > 40.0, "{}", b.threshold());
    assert!(b.threshold() <= 60.0);
}

#[test]
fn many_attacks_at_once_hold_it_where_it_was_set_and_say_so() {
    // A quiet organisation: the budget lowers the threshold.
    let mut b = budget(0.5);
    run(&mut b, 14, 1000, |_, _| 5.0);
    assert!(b.threshold() < 60.0, "{}", b.threshold());
    let standing = b.standing().expect("past the learning period");
    assert!(!standing.over());
    assert_eq!(standing.ceiling, None);
    // Then thirty users alert within a week, far more episodes than the
    // budget allows: it cannot tell them from false alerts, so it climbs
    // back, but by default no further than the threshold it started at.
    attacked(&mut b, 14..21, 1000, 30, 90.0);
    assert_eq!(b.threshold(), 60.0);
    let standing = b.standing().unwrap();
    assert!(standing.over(), "{standing:?}");
    assert_eq!(standing.opened, 30);
    assert_eq!(standing.ceiling, Some(60.0));
    assert_eq!(standing.held_at_ceiling(), Some(60.0));
    assert_eq!(
        standing.to_string(),
        "30 alert episodes opened over the last 21 days (21000 user-days), where 0.5 per 1,000 user-days allows 10"
    );
    // An operator who raised the ceiling lets the same run lift it.
    let mut b = budget_up_to(75.0);
    run(&mut b, 14, 1000, |_, _| 5.0);
    attacked(&mut b, 14..21, 1000, 30, 90.0);
    assert!(b.threshold() > 60.0, "{}", b.threshold());
}
