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
    start(build, capacity, Duration::from_millis(20), None).unwrap()
}

#[test]
fn requests_beyond_the_capacity_are_refused_and_the_rest_scored_on_close() {
    let (queue, worker) = queue(|| Ok(empty_scorer()), 3);
    assert_eq!(
        queue.offer((0..4).map(ev).collect(), 0),
        Err(QueueError::TooMany {
            events: 4,
            capacity: 3
        })
    );
    queue.offer((0..2).map(ev).collect(), 1).unwrap();
    queue.offer(vec![ev(2)], 0).unwrap();
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
    queue.offer(vec![ev(0), ev(1)], 0).unwrap();
    assert_eq!(
        queue.offer(vec![ev(2)], 0),
        Err(QueueError::Full {
            depth: 2,
            capacity: 2
        })
    );
    gate_tx.send(()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queue.depth() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    queue.offer(vec![ev(2)], 0).unwrap();
    queue.close();
    assert_eq!(worker.join().unwrap().0.stats.events, 3);
}
