use super::*;

fn sample() -> Checkpoint {
    // A real scorer state: built by the scorer itself, with no detectors.
    let cfg = crate::config::Config::default();
    let mut scorer = crate::pipeline::Scorer::new(
        cfg,
        crate::identity::Identities::default(),
        Vec::new(),
        Vec::new(),
    );
    let ev = crate::event::AccessEvent {
        time_ms: 1_767_621_791_000,
        user: "mreyes".into(),
        action: "select".into(),
        resource: "support.customers".into(),
        rows: 12,
        bytes: None,
        source: None,
        peer_group: None,
        outcome: crate::event::Outcome::Unknown,
    };
    scorer.push(&ev).unwrap();
    Checkpoint {
        written: "2026-01-05T14:03:12Z".into(),
        ueba_version: env!("CARGO_PKG_VERSION").into(),
        scorer: scorer.save_state().expect("saved"),
        input: Some(InputMark {
            path: Some("/var/log/x".into()),
            position: Position {
                line: 1,
                offset: 120,
            },
            fingerprint: [7; 32],
            finished: false,
        }),
        output: None,
        skipped: 3,
        records: Vec::new(),
    }
}

#[test]
fn round_trips_through_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    assert!(state.load().unwrap().is_none(), "no checkpoint yet");
    let cp = sample();
    state.save(&cp).unwrap();
    let back = state.load().unwrap().expect("saved");
    assert_eq!(back.input, cp.input);
    assert_eq!(back.skipped, 3);
    assert_eq!(encode(&back).unwrap(), encode(&cp).unwrap());
    assert!(!dir.path().join("checkpoint.tmp").exists());
}

#[test]
fn a_second_process_cannot_share_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _held = StateDir::open(dir.path()).unwrap();
    let err = StateDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err}");
}

/// A checkpoint path that is a FIFO (whose opening would wait for a
/// writer for ever) or a directory is refused by name, at once.
#[test]
fn a_checkpoint_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(CHECKPOINT_FILE)).unwrap();
    let err = read_checkpoint(dir.path()).unwrap_err();
    assert!(matches!(err, StateError::NotAFile { .. }), "{err}");
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join(CHECKPOINT_FILE);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = read_checkpoint(dir.path()).unwrap_err();
    assert!(matches!(err, StateError::NotAFile { .. }), "{err}");
}

#[test]
fn damaged_files_are_refused_by_name() {
    let bytes = encode(&sample()).unwrap();
    let p = Path::new("/state/checkpoint");
    let err = |b: &[u8]| decode(b, p).unwrap_err().to_string();

    let foreign = err(b"{\"not\": \"a checkpoint\"}");
    assert!(foreign.contains("not a ueba checkpoint"), "{foreign}");
    assert!(foreign.contains("/state/checkpoint"), "{foreign}");

    let truncated = err(&bytes[..bytes.len() - 10]);
    assert!(truncated.contains("truncated"), "{truncated}");
    assert!(err(&bytes[..20]).contains("truncated"));

    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert!(err(&flipped).contains("corrupt"));

    let mut longer = bytes.clone();
    longer.push(0);
    assert!(err(&longer).contains("corrupt"));

    let mut newer = bytes.clone();
    newer[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let version = err(&newer);
    assert!(
        version.contains(&format!("format {}", FORMAT_VERSION + 1)),
        "{version}"
    );
}

#[test]
fn a_checksummed_but_undecodable_body_is_an_error() {
    let body = b"\xff\xff\xff\xff\xff";
    let mut bytes = Vec::new();
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(body));
    bytes.extend_from_slice(body);
    let e = decode(&bytes, Path::new("cp")).unwrap_err();
    assert!(matches!(e, StateError::Decode { .. }), "{e}");
}
