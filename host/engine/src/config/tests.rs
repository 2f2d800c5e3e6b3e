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
    // A dotted key in a table header and an inline table say where too.
    let e = Config::parse("risk = { threshold = 200 }\n", Path::new("u.toml")).unwrap_err();
    assert!(e.to_string().starts_with("u.toml:1: "), "{e}");
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
