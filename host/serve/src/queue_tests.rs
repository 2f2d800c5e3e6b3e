use super::*;
use ueba_engine::config::Config;
use ueba_engine::identity::Identities;
use ueba_test_support::event;

fn ev(i: i64) -> AccessEvent {
    AccessEvent {
        source: None,
        ..event(1_767_600_000_000 + i * 1000, "u", "support.tickets", 1)
    }
}

fn empty_scorer() -> Scorer<Vec<ueba_engine::risk::aggregate::Alert>> {
    Scorer::new(
        Config::default(),
        Identities::default(),
        Vec::new(),
        Vec::new(),
    )
}

/// A queue of `capacity` events whose worker builds its scorer with `build`
/// and flushes after 20 ms idle, with no durable log.
fn queue<F>(build: F, capacity: usize) -> (Queue, Worker<Vec<ueba_engine::risk::aggregate::Alert>>)
where
    F: FnOnce() -> Result<Scorer<Vec<ueba_engine::risk::aggregate::Alert>>, String>
        + Send
        + 'static,
{
    start(build, capacity, Duration::from_millis(20), None, None).unwrap()
}

#[test]
fn requests_beyond_the_capacity_are_refused_and_the_rest_scored_on_close() {
    let (queue, worker) = queue(|| Ok(empty_scorer()), 3);
    assert_eq!(
        queue.offer((0..4).map(ev).collect(), 0).err(),
        Some(QueueError::TooMany {
            events: 4,
            capacity: 3
        })
    );
    let _ = queue.offer((0..2).map(ev).collect(), 1).unwrap();
    let _ = queue.offer(vec![ev(2)], 0).unwrap();
    queue.close();
    assert!(matches!(
        queue.offer(vec![ev(3)], 0),
        Err(QueueError::Closed(_))
    ));
    let (report, _) = worker.join().unwrap();
    assert_eq!(report.stats.events, 3);
    assert_eq!(report.stats.invalid, 1);
    assert_eq!(queue.depth(), 0);
    assert_eq!(queue.snapshot().events, 3);
}

#[test]
fn a_full_queue_answers_full_until_the_worker_catches_up() {
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    // The scorer is built on the worker thread, which waits for the gate
    // first: everything offered meanwhile stays queued.
    let build = move || {
        let _ = gate_rx.recv();
        Ok(empty_scorer())
    };
    let (queue, worker) = queue(build, 2);
    let _ = queue.offer(vec![ev(0), ev(1)], 0).unwrap();
    assert_eq!(
        queue.offer(vec![ev(2)], 0).err(),
        Some(QueueError::Full {
            depth: 2,
            capacity: 2
        })
    );
    gate_tx.send(()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queue.depth() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = queue.offer(vec![ev(2)], 0).unwrap();
    queue.close();
    assert_eq!(worker.join().unwrap().0.stats.events, 3);
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

/// Events scored into the checkpoint saved in `dir` (read without taking
/// the lock the service holds), 0 when none is.
fn saved_events(dir: &std::path::Path) -> u64 {
    ueba_engine::state::read_checkpoint(dir)
        .unwrap()
        .map_or(0, |c| c.scorer.events())
}

#[test]
fn with_durable_state_a_request_is_acknowledged_only_once_a_checkpoint_holds_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let durable = Durable {
        dir: ueba_engine::state::StateDir::open(&state).unwrap(),
        every_events: 1_000_000,
        every: Duration::from_secs(3600),
        ack_interval: Duration::from_millis(300),
        output: None,
    };
    let (queue, worker) = start(
        || Ok(empty_scorer()),
        100,
        Duration::from_millis(20),
        Some(durable),
        None,
    )
    .unwrap();
    let first = queue.offer(vec![ev(0), ev(1)], 0).unwrap();
    block_on(first.settled()).unwrap();
    assert_eq!(saved_events(&state), 2, "acknowledged before saved");
    // Requests arriving within the interval wait for the next checkpoint
    // and share it.
    let started = std::time::Instant::now();
    let second = queue.offer(vec![ev(2)], 0).unwrap();
    let third = queue.offer(vec![ev(3)], 0).unwrap();
    block_on(async {
        second.settled().await.unwrap();
        third.settled().await.unwrap();
    });
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "acknowledged after {:?}, before the next checkpoint was due",
        started.elapsed()
    );
    assert_eq!(saved_events(&state), 4, "acknowledged before saved");
    queue.close();
    assert_eq!(worker.join().unwrap().0.stats.events, 4);
    assert_eq!(saved_events(&state), 4);
}

#[test]
fn without_durable_state_a_request_is_acknowledged_once_queued() {
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let build = move || {
        let _ = gate_rx.recv();
        Ok(empty_scorer())
    };
    let (queue, worker) = queue(build, 10);
    // The worker has not even built its scorer: queued is enough.
    block_on(queue.offer(vec![ev(0)], 0).unwrap().settled()).unwrap();
    gate_tx.send(()).unwrap();
    queue.close();
    assert_eq!(worker.join().unwrap().0.stats.events, 1);
}

#[test]
fn asks_are_answered_in_turn_and_a_verdict_saves_the_events_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let durable = Durable {
        dir: ueba_engine::state::StateDir::open(&state).unwrap(),
        every_events: 1_000_000,
        every: Duration::from_secs(3600),
        // No checkpoint for acknowledgements during the test but the first.
        ack_interval: Duration::from_secs(3600),
        output: None,
    };
    let verdicts = dir.path().join("verdicts.jsonl");
    let (queue, worker) = start(
        || Ok(empty_scorer()),
        100,
        Duration::from_millis(20),
        Some(durable),
        Some(verdicts.clone()),
    )
    .unwrap();
    block_on(queue.offer(vec![ev(0)], 0).unwrap().settled()).unwrap();
    assert_eq!(saved_events(&state), 1);
    // Not acknowledged: the next checkpoint for it is an hour away.
    let _waiting = queue.offer(vec![ev(1), ev(2)], 0).unwrap();
    let user = block_on(queue.ask(crate::analyst::Ask::User { user: "u".into() }));
    // No detector: nothing is known about the user, though their events
    // queued before the ask were pushed.
    assert!(matches!(
        user,
        Err(crate::analyst::AskError::UnknownUser(_))
    ));
    assert_eq!(saved_events(&state), 1, "a question saves nothing");
    let verdict = block_on(
        queue.ask(crate::analyst::Ask::Feedback(crate::analyst::Feedback {
            id: "abc".into(),
            verdict: ueba_engine::risk::verdicts::VerdictKind::Benign,
            note: String::new(),
            analyst: String::new(),
            at: None,
        })),
    );
    assert!(matches!(
        verdict,
        Err(crate::analyst::AskError::UnknownAlert(_))
    ));
    assert_eq!(saved_events(&state), 3, "saved before the verdict");
    assert!(!verdicts.exists());
    queue.close();
    assert!(matches!(
        block_on(queue.ask(crate::analyst::Ask::Incidents { user: None })),
        Err(crate::analyst::AskError::Closed(_))
    ));
    assert_eq!(worker.join().unwrap().0.stats.events, 3);
}
