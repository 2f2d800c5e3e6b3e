use super::*;

fn finding(event: u64, score: f32) -> wit::Finding {
    wit::Finding {
        event,
        score,
        reason: "r".into(),
        evidence: Vec::new(),
    }
}

fn info(name: &str) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: "1.0.0".into(),
        description: "d".into(),
        contract: "0.2.0".into(),
        config: Vec::new(),
    }
}

#[test]
fn non_finite_scores_are_dropped_and_out_of_range_ones_clamped() {
    let mut c = GateCounts::default();
    let out = admit(
        vec![
            finding(10, f32::NAN),
            finding(10, f32::INFINITY),
            finding(11, -5.0),
            finding(12, 1000.0),
            finding(13, 42.0),
        ],
        |seq| (10..14).contains(&seq),
        &OutputLimits::default(),
        &mut c,
    );
    let scores: Vec<f32> = out.iter().map(|f| f.score).collect();
    assert_eq!(scores, [0.0, 100.0, 42.0]);
    assert_eq!(c.non_finite_score, 2);
    assert_eq!(c.clamped_score, 2);
}

/// A plugin that repeats a finding (a bug, or an attempt to add its repeat
/// weight to a user's risk again and again) has the repeats dropped and
/// counted; findings that differ in anything, even one evidence value, are
/// all kept.
#[test]
fn repeated_findings_are_dropped_and_counted() {
    let with = |event: u64, x: f64| wit::Finding {
        evidence: vec![wit::Evidence {
            key: "k".into(),
            value: wit::EvidenceValue::Float(x),
        }],
        ..finding(event, 50.0)
    };
    let mut c = GateCounts::default();
    let out = admit(
        vec![
            with(10, 1.0),
            with(10, 1.0),
            with(10, 2.0),
            with(11, 1.0),
            with(10, 1.0),
        ],
        |seq| (10..12).contains(&seq),
        &OutputLimits::default(),
        &mut c,
    );
    assert_eq!(out, [with(10, 1.0), with(10, 2.0), with(11, 1.0)]);
    assert_eq!(c.duplicate, 2);
    assert_eq!(c.findings_dropped(), 2);
    assert!(
        c.to_string().contains("2 findings dropped for repeating"),
        "{c}"
    );
}

#[test]
fn findings_for_events_outside_the_batch_are_counted_not_kept() {
    let mut c = GateCounts::default();
    let out = admit(
        vec![
            finding(9, 1.0),
            finding(14, 1.0),
            finding(u64::MAX, 1.0),
            finding(13, 1.0),
        ],
        |seq| (10..14).contains(&seq),
        &OutputLimits::default(),
        &mut c,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(c.stray, 3);
    assert_eq!(c.findings_dropped(), 3);
}

#[test]
fn evidence_is_bounded_and_non_finite_values_dropped() {
    let mut f = finding(0, 50.0);
    f.reason = "x".repeat(10_000);
    f.evidence = (0..100_000)
        .map(|i| wit::Evidence {
            key: format!("k{i}"),
            value: if i == 0 {
                wit::EvidenceValue::Float(f64::NAN)
            } else {
                wit::EvidenceValue::Text("v".repeat(1000))
            },
        })
        .collect();
    let limits = OutputLimits::default();
    let mut c = GateCounts::default();
    let out = admit(vec![f], |seq| seq == 0, &limits, &mut c);
    let f = &out[0];
    assert!(f.reason.len() <= limits.max_reason_bytes);
    assert!(f.reason.ends_with('…'));
    assert_eq!(f.evidence.len(), limits.max_evidence_items);
    assert_eq!(c.non_finite_evidence, 1);
    assert_eq!(c.evidence_over_count, 100_000 - 1 - 32);
    for e in &f.evidence {
        let wit::EvidenceValue::Text(t) = &e.value else {
            panic!("text expected")
        };
        assert!(t.len() <= limits.max_evidence_text_bytes);
    }
}

#[test]
fn a_batch_shares_one_text_budget() {
    let limits = OutputLimits {
        max_batch_text_bytes: 2500,
        ..OutputLimits::default()
    };
    let mut c = GateCounts::default();
    let findings = (0..10)
        .map(|i| wit::Finding {
            reason: format!("{i}{}", "y".repeat(999)),
            ..finding(0, 10.0)
        })
        .collect();
    let out = admit(findings, |seq| seq == 0, &limits, &mut c);
    assert_eq!(out.len(), 2);
    assert_eq!(c.over_batch_budget, 8);
}

#[test]
fn control_and_invisible_characters_are_escaped_visibly() {
    let nasty = "a\x1b[2J\x1b]0;title\x07\nb\0c\u{202e}d\u{200b}e\u{9b}";
    let clean = escape_text(nasty);
    assert!(!clean.chars().any(is_unsafe_char), "{clean}");
    assert_eq!(
        clean,
        "a\\u{1b}[2J\\u{1b}]0;title\\u{7}\\u{a}b\\u{0}c\\u{202e}d\\u{200b}e\\u{9b}"
    );
    assert!(matches!(escape_text("plain | = \\ text"), Cow::Borrowed(_)));
}

#[test]
fn cutting_respects_character_boundaries() {
    let s = "ééééé";
    let c = cut(s, 6);
    assert!(c.len() <= 6);
    assert!(c.ends_with('…'));
    assert_eq!(cut("short", 10), "short");
}

#[test]
fn names_must_be_short_safe_and_pathless() {
    for bad in [
        "",
        "..",
        "../../x",
        "a/b",
        "Volume",
        "volume\u{200b}",
        "vol ume",
        "-x",
        "1x",
        "volume\n",
        "vоlume", // Cyrillic о
    ] {
        assert!(
            matches!(check_info(info(bad)), Err(InfoError::Name(_))),
            "{bad:?} must be refused"
        );
    }
    assert!(check_info(info(&"a".repeat(MAX_NAME_BYTES + 1))).is_err());
    for good in ["volume", "failed-access", "my_detector2"] {
        assert!(check_info(info(good)).is_ok(), "{good}");
    }
}

#[test]
fn names_that_look_like_a_builtin_are_caught() {
    let builtins = ["volume", "off-hours", "novel-table", "new-source"];
    for lookalike in [
        "vo1ume",
        "volurne",
        "voluume",
        "offhours",
        "off_hours",
        "n0vel-table",
    ] {
        assert!(
            confusable_with(lookalike, &builtins).is_some(),
            "{lookalike} looks like a built-in"
        );
    }
    assert_eq!(
        confusable_with("volume", &builtins),
        None,
        "the same name replaces"
    );
    assert_eq!(confusable_with("failed-access", &builtins), None);
}

#[test]
fn host_keys_and_bad_defaults_are_refused_and_text_is_cleaned() {
    for key in RESERVED_KEYS {
        let mut i = info("x");
        i.config = vec![(key.to_string(), "600".into(), "mine".into())];
        assert_eq!(check_info(i), Err(InfoError::ReservedKey(key.to_string())));
    }
    let mut i = info("x");
    i.config = vec![(
        "k".into(),
        "1\n[sandbox]\nmemory_mib = 4096".into(),
        "d".into(),
    )];
    assert!(matches!(check_info(i), Err(InfoError::Default { .. })));
    let mut i = info("x");
    i.config = vec![
        ("k".into(), "1".into(), "d".into()),
        ("k".into(), "2".into(), "d".into()),
    ];
    assert!(matches!(check_info(i), Err(InfoError::DuplicateKey(_))));
    let mut i = info("x");
    i.description = "line\n[risk]\nthreshold = 1\x1b[2J".into();
    i.config = vec![(
        "k".into(),
        "[\n1,\n2]".into(),
        "desc\nmemory_mib = 9".into(),
    )];
    let i = check_info(i).unwrap();
    assert!(!i.description.contains('\n') && !i.description.contains('\x1b'));
    assert_eq!(i.config[0].1, "[1, 2]");
    assert!(!i.config[0].2.contains('\n'));
}
