use super::*;

#[test]
fn envelope_has_epoch_seconds_and_the_alert() {
    let e = envelope(&super::super::tests::alert(), "h1");
    assert_eq!(e["time"], 1_767_621_791.25);
    assert_eq!(e["sourcetype"], "ueba:alert");
    assert_eq!(e["event"]["findings"][0]["evidence"]["rows"], 50000);
}

#[test]
fn urls_get_the_collector_path_and_bad_ones_are_refused() {
    let p = HecPost::new("http://127.0.0.1:8088", "t", "h".into()).unwrap();
    assert_eq!(p.url(), "http://127.0.0.1:8088/services/collector/event");
    let p = HecPost::new("https://s:8088/services/collector", "t", "h".into()).unwrap();
    assert_eq!(p.url(), "https://s:8088/services/collector");
    assert!(HecPost::new("s:8088", "t", "h".into()).is_err());
    assert!(HecPost::new("http://s", " ", "h".into()).is_err());
}
