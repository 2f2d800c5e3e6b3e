use super::*;

#[test]
fn names_must_suit_cargo_and_the_detector() {
    for ok in ["rare-action", "x", "geo2-velocity"] {
        assert!(validate_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "Rare",
        "2fast",
        "rare_action",
        "rare-",
        "a--b",
        "test",
        "crate",
    ] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
    let err = validate_name("Big Read").unwrap_err().to_string();
    assert!(err.contains("`Big Read`"), "{err}");
}

#[test]
fn type_names_avoid_the_template_own_types() {
    assert_eq!(type_name("rare-action"), "RareAction");
    assert_eq!(type_name("user"), "UserDetector");
    assert_eq!(type_name("settings"), "SettingsDetector");
}

#[test]
fn sdk_dependency_lines_are_valid_toml() {
    let path = SdkSource::Path(PathBuf::from("/src/ueba/plugins/sdk"));
    let git = SdkSource::Git {
        url: "https://example.org/ueba.git".into(),
        rev: Some("v0.1.0".into()),
    };
    for source in [path, git] {
        let line = source.dependency();
        let parsed: toml::Table = toml::from_str(&line).unwrap();
        assert!(parsed["ueba-sdk"].is_table(), "{line}");
    }
}

#[test]
fn refuses_a_directory_with_files_and_writes_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let sdk = SdkSource::Path(PathBuf::from("/sdk"));
    let err = scaffold("rare-action", tmp.path(), &sdk).unwrap_err();
    assert!(matches!(err, AuthoringError::NotEmpty { .. }), "{err}");
    let dir = tmp.path().join("new");
    let s = scaffold("rare-action", &dir, &sdk).unwrap();
    assert_eq!(s.files.len(), 7);
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("pub struct RareAction"));
    assert!(!lib.contains("{{"), "every placeholder is filled");
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(manifest["package"]["name"].as_str(), Some("rare-action"));
    assert!(manifest.contains_key("workspace"));
}
