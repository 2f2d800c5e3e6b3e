use super::*;

#[test]
fn documented_defaults_are_the_defaults() {
    let cfg = Config::parse(DEFAULT_TOML, Path::new("default")).unwrap();
    assert_eq!(cfg, Config::default());
}

#[test]
fn unknown_keys_are_named() {
    let e = Config::parse("[risk]\nthreshhold = 50\n", Path::new("u.toml")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("u.toml: "), "{msg}");
    assert!(msg.contains("threshhold"), "{msg}");
    let e = Config::parse("[rsik]\n", Path::new("u.toml")).unwrap_err();
    assert!(e.to_string().contains("rsik"), "{e}");
}

/// An out-of-range value is named by its key and its line, including in
/// a detector's table and in the second of several `[[exceptions]]`.
#[test]
fn out_of_range_values_are_named_with_their_line() {
    let e = Config::parse("[risk]\nthreshold = 0\n", Path::new("u.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "u.toml:2: `risk.threshold`: must be above 0 and at most 100"
    );
    let e = Config::parse("\n[detectors.volume]\nweight = -1\n", Path::new("u.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("u.toml:3: `detectors.volume.weight`"),
        "{e}"
    );
    let text = "[[exceptions]]\nuser = \"a\"\n\n[[exceptions]]\nuser = \"b\"\nuntil = \"soon\"\n";
    let e = Config::parse(text, Path::new("u.toml")).unwrap_err();
    assert!(
        e.to_string().starts_with("u.toml:6: `exceptions[1].until`"),
        "{e}"
    );
    // An alert listing no findings would say nothing of why.
    let e = Config::parse("[risk]\nmax_findings_per_alert = 0\n", Path::new("u.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "u.toml:2: `risk.max_findings_per_alert`: must be from 1 to 1000"
    );
    // A dotted key in a table header and an inline table say where too.
    let e = Config::parse("risk = { threshold = 200 }\n", Path::new("u.toml")).unwrap_err();
    assert!(e.to_string().starts_with("u.toml:1: "), "{e}");
}

/// One `[resources] kinds` names the kinds for every detector that keeps
/// habits per kind, unless its own section sets them; a detector without
/// a `kinds` key is given none.
#[test]
fn shared_kinds_reach_every_detector_that_declares_them() {
    let cfg = Config::parse(
        "[resources]\nkinds = [[\"PC-*\", \"workstation\"]]\n\
         [detectors.volume]\nkinds = [[\"*\", \"all\"]]\nweight = 2.0\n\
         [detectors.novel-table]\nlearning_days = 3\n",
        Path::new("k.toml"),
    )
    .unwrap();
    let declares = |key: &str| vec![(key.to_string(), "[]".to_string(), String::new())];
    let kinds = |d: Option<DetectorConfig>| {
        d.and_then(|d| {
            d.plugin_pairs()
                .into_iter()
                .find(|(k, _)| k == "kinds")
                .map(|(_, v)| v)
        })
    };
    let novel = cfg.detector("novel-table", &declares("kinds"));
    assert_eq!(novel.as_ref().map(|d| d.plugin_pairs().len()), Some(2));
    assert_eq!(
        kinds(novel).as_deref(),
        Some("[[\"PC-*\", \"workstation\"]]")
    );
    let volume = cfg.detector("volume", &declares("kinds"));
    assert_eq!(volume.as_ref().map(|d| d.weight), Some(2.0));
    assert_eq!(kinds(volume).as_deref(), Some("[[\"*\", \"all\"]]"));
    // A detector with no section of its own gets one holding the kinds.
    let other = cfg.detector("my-detector", &declares("kinds"));
    assert_eq!(
        kinds(other).as_deref(),
        Some("[[\"PC-*\", \"workstation\"]]")
    );
    // One that keeps no kinds is not given a key it would refuse.
    assert_eq!(
        kinds(cfg.detector("off-hours", &declares("min_score"))),
        None
    );
    assert_eq!(cfg.detector("off-hours", &declares("min_score")), None);
    // An empty glob or kind is refused, naming the entry.
    let e = Config::parse(
        "[resources]\nkinds = [[\"PC-*\", \"\"]]\n",
        Path::new("k.toml"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("resources.kinds[0]"), "{e}");
}

#[test]
fn detector_keys_pass_through_as_toml_text() {
    let cfg = Config::parse(
        "[detectors.novel-table]\nweight = 2.0\nsensitive = [\"hr.*\"]\nlearning_days = 3\n",
        Path::new("c.toml"),
    )
    .unwrap();
    let d = &cfg.detectors["novel-table"];
    assert_eq!(d.weight, 2.0);
    assert!(d.enabled);
    assert_eq!(
        d.plugin_pairs(),
        vec![
            ("learning_days".to_string(), "3".to_string()),
            ("sensitive".to_string(), "[\"hr.*\"]".to_string())
        ]
    );
}
