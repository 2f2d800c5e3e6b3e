use std::sync::mpsc::sync_channel;

use super::*;
use crate::config::Config;
use crate::event::Outcome;
use crate::identity::Identities;
use crate::risk::aggregate::Alert;

fn event(i: i64) -> AccessEvent {
    AccessEvent {
        time_ms: 1_767_600_000_000 + i * 60_000,
        user: "u".into(),
        action: "select".into(),
        resource: "support.tickets".into(),
        rows: 1,
        bytes: None,
        source: None,
        peer_group: None,
        outcome: Outcome::Success,
    }
}

fn scorer() -> Scorer<Vec<Alert>> {
    Scorer::new(
        Config::default(),
        Identities::default(),
        Vec::new(),
        Vec::new(),
    )
}

/// A feed of `chunks`, then the channel closes.
fn feed(chunks: Vec<Chunk>) -> Feed {
    let (tx, rx) = sync_channel(chunks.len().max(1));
    for c in chunks {
        tx.send(c).unwrap();
    }
    Feed {
        chunks: rx,
        bytes: Arc::default(),
        skipped: Arc::default(),
    }
}

/// Records every checkpoint offered: (position, finished).
#[derive(Default)]
struct Recorder(Vec<(Position, bool)>);

impl Checkpoints<Vec<Alert>> for Recorder {
    fn due(&self, _events: u64) -> bool {
        true
    }
    fn save(
        &mut self,
        _scorer: &mut Scorer<Vec<Alert>>,
        position: Position,
        finished: bool,
        _skipped: u64,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.push((position, finished));
        Ok(())
    }
    fn stop_signal(&self) -> Option<i32> {
        None
    }
}

fn run(
    chunks: Vec<Chunk>,
    skip_invalid: bool,
    checkpoints: Option<&mut Recorder>,
) -> Result<Run<Vec<Alert>>, DriveError> {
    let mut invalid = 0;
    let how = Drive {
        name: "events.jsonl",
        skip_invalid,
        start: Position::default(),
        on_invalid: &mut |_| invalid += 1,
        on_progress: &mut |_| {},
    };
    let checkpoints = checkpoints.map(|c| c as &mut dyn Checkpoints<Vec<Alert>>);
    drive(scorer(), feed(chunks), how, checkpoints)
}

fn at(line: u64) -> Position {
    Position {
        line,
        offset: line * 100,
    }
}

#[test]
fn the_end_of_the_input_is_checkpointed_as_finished() {
    let mut rec = Recorder::default();
    let done = run(
        vec![Chunk::Lines(vec![Ok(event(0)), Ok(event(1))], at(2))],
        false,
        Some(&mut rec),
    )
    .unwrap();
    assert_eq!(done.report.stats.events, 2);
    assert_eq!(done.position, at(2));
    assert_eq!(rec.0, vec![(at(2), false), (at(2), true)]);
}

#[test]
fn a_failed_input_is_an_error_and_never_a_finished_checkpoint() {
    let mut rec = Recorder::default();
    let err = run(
        vec![
            Chunk::Lines(vec![Ok(event(0))], at(1)),
            Chunk::Failed(std::io::Error::other("the reader failed")),
        ],
        false,
        Some(&mut rec),
    )
    .err()
    .expect("a failed input ends the run with an error");
    assert_eq!(err.to_string(), "reading events.jsonl: the reader failed");
    assert!(rec.0.iter().all(|(_, finished)| !finished), "{:?}", rec.0);
}

#[test]
fn an_invalid_line_stops_the_run_unless_skipped() {
    let bad = ParseError {
        line: 2,
        field: Some("user".into()),
        message: "must not be empty".into(),
    };
    let chunks = || vec![Chunk::Lines(vec![Ok(event(0)), Err(bad.clone())], at(2))];
    let err = run(chunks(), false, None).err().unwrap();
    assert_eq!(
        err.to_string(),
        "events.jsonl: line 2: field `user`: must not be empty (use --skip-invalid to count and skip bad lines)"
    );
    let done = run(chunks(), true, None).unwrap();
    assert_eq!(
        (done.report.stats.events, done.report.stats.invalid),
        (1, 1)
    );
}
