use super::*;
use crate::analyst::Ask;
use crate::queue::QueueError;
use ueba_test_support::event;

fn ev(i: i64) -> AccessEvent {
    event(1_767_600_000_000 + i * 1000, "u", "support.tickets", 1)
}

/// Stores events in a shared list, or fails the `fail_at`-th round.
struct Store {
    stored: Arc<Mutex<Vec<i64>>>,
    fail_at: Option<usize>,
    rounds: usize,
}

impl Forward for Store {
    fn destination(&self) -> String {
        "the test store".into()
    }
    fn forward(&mut self, events: &[AccessEvent]) -> Result<(), String> {
        self.rounds += 1;
        if self.fail_at == Some(self.rounds) {
            return Err("the store is gone".into());
        }
        let mut stored = self.stored.lock().unwrap();
        stored.extend(events.iter().map(|e| e.time_ms));
        Ok(())
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_request_is_acknowledged_once_its_events_are_stored_in_order() {
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = Store {
        stored: stored.clone(),
        fail_at: None,
        rounds: 0,
    };
    let (queue, mut forwarder) = start(move || Ok(store), 100).unwrap();
    forwarder.ready().unwrap();
    let first = queue.offer((0..3).map(ev).collect(), 1).unwrap();
    block_on(first.settled()).unwrap();
    // Settled means stored: the events are there already.
    assert_eq!(stored.lock().unwrap().len(), 3);
    let second = queue.offer((3..5).map(ev).collect(), 0).unwrap();
    block_on(second.settled()).unwrap();
    queue.close();
    let done = forwarder.join().unwrap();
    assert_eq!(done.events, 5);
    assert_eq!(done.invalid, 1);
    assert_eq!(done.destination, "the test store");
    let times: Vec<i64> = (0..5).map(|i| ev(i).time_ms).collect();
    assert_eq!(*stored.lock().unwrap(), times);
    assert_eq!(queue.depth(), 0);
    assert_eq!(queue.snapshot().events, 5);
}

#[test]
fn a_failed_store_refuses_its_round_and_the_service_goes_on() {
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = Store {
        stored: stored.clone(),
        fail_at: Some(1),
        rounds: 0,
    };
    let (queue, mut forwarder) = start(move || Ok(store), 100).unwrap();
    forwarder.ready().unwrap();
    let receipt = queue.offer(vec![ev(0)], 0).unwrap();
    let err = block_on(receipt.settled()).unwrap_err();
    assert!(matches!(err, QueueError::NotSaved(_)), "{err}");
    assert!(
        err.to_string().contains("the store is gone")
            && err.to_string().contains("send them again"),
        "{err}"
    );
    // The store is back: the client's resend is stored and acknowledged.
    let again = queue.offer(vec![ev(0)], 0).unwrap();
    block_on(again.settled()).unwrap();
    assert_eq!(*stored.lock().unwrap(), [ev(0).time_ms]);
    assert_eq!(queue.failure(), None);
    assert_eq!(queue.depth(), 0);
    assert_eq!(queue.snapshot().refused, 1);
    queue.close();
    let done = forwarder.join().unwrap();
    assert_eq!((done.events, done.failed_rounds, done.refused), (1, 1, 1));
}

#[test]
fn a_destination_that_cannot_be_reached_stops_start_up() {
    let result = start(
        || Err::<Store, _>("cannot connect to NATS at x".to_string()),
        10,
    );
    let (_queue, mut forwarder) = result.unwrap();
    let err = forwarder.ready().unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[test]
fn analysts_are_told_this_service_keeps_no_risk() {
    let store = Store {
        stored: Arc::new(Mutex::new(Vec::new())),
        fail_at: None,
        rounds: 0,
    };
    let (queue, mut forwarder) = start(move || Ok(store), 10).unwrap();
    forwarder.ready().unwrap();
    let answer = block_on(queue.ask(Ask::User { user: "u".into() }));
    match answer {
        Err(AskError::Forwarding(to)) => assert_eq!(to, "the test store"),
        other => panic!("{other:?}"),
    }
    queue.close();
    forwarder.join().unwrap();
}
