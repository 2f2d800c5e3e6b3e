use super::*;

#[test]
fn accept_failures_back_off_up_to_a_second_and_start_over() {
    let mut f = AcceptFailures::default();
    let emfile = io::Error::other("Too many open files");
    let pauses: Vec<_> = (0..10).map(|_| f.failed(&emfile).unwrap()).collect();
    assert_eq!(pauses[0], Duration::from_millis(10));
    assert_eq!(pauses[1], Duration::from_millis(20));
    assert_eq!(pauses[9], MAX_BACKOFF);
    assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
    f.succeeded();
    assert_eq!(f.failed(&emfile), Some(Duration::from_millis(10)));
    let gone = io::Error::from(io::ErrorKind::ConnectionAborted);
    assert_eq!(f.failed(&gone), None);
}
