use super::*;

#[test]
fn no_token_only_on_loopback() {
    let token = Token::new("t0ken-long-enough").unwrap();
    let lo: SocketAddr = "127.0.0.1:8088".parse().unwrap();
    let lo6: SocketAddr = "[::1]:8088".parse().unwrap();
    let any: SocketAddr = "0.0.0.0:8088".parse().unwrap();
    assert!(check_exposure(lo, None).is_ok());
    assert!(check_exposure(lo6, None).is_ok());
    assert!(check_exposure(any, Some(&token)).is_ok());
    let e = check_exposure(any, None).unwrap_err().to_string();
    assert!(
        e.starts_with("refusing to listen on 0.0.0.0:8088 without a token"),
        "{e}"
    );
    let short = Token::new("t0ken").unwrap();
    assert!(check_exposure(lo, Some(&short)).is_ok());
    let e = check_exposure(any, Some(&short)).unwrap_err().to_string();
    assert!(
        e.starts_with("refusing to listen on 0.0.0.0:8088 with a token of 5 characters"),
        "{e}"
    );
}

#[test]
fn limits_are_checked() {
    assert!(ServeConfig::default().check().is_ok());
    let bad = ServeConfig {
        queue_events: 0,
        ..ServeConfig::default()
    };
    assert_eq!(bad.check().unwrap_err().0, "serve.queue_events");
    let bad = ServeConfig {
        body_budget_bytes: 1000,
        max_body_bytes: 1001,
        ..ServeConfig::default()
    };
    assert_eq!(bad.check().unwrap_err().0, "serve.body_budget_bytes");
    let bad = ServeConfig {
        header_read_timeout_ms: 0,
        ..ServeConfig::default()
    };
    assert_eq!(bad.check().unwrap_err().0, "serve.header_read_timeout_ms");
}
