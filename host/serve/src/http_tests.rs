//! The analyst endpoints over a real connection: status codes, the JSON
//! error shape and authentication, as a client sees them.

use super::*;
use crate::analyst::MAX_FEEDBACK_BYTES;
use crate::queue::Worker;
use ueba_engine::config::Config;
use ueba_engine::identity::Identities;
use ueba_engine::pipeline::Scorer;
use ueba_engine::risk::aggregate::Alert;

const TOKEN: &str = "analyst-token-1234";

/// The service on a loopback port, with a scorer that has seen nothing,
/// appending verdicts to `verdicts` when given.
struct Service {
    addr: std::net::SocketAddr,
    app: Arc<App>,
    queue: Queue,
    worker: Worker<Vec<Alert>>,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<crate::Stopped>,
}

async fn service(verdicts: Option<std::path::PathBuf>) -> Service {
    let build = || {
        Ok(Scorer::new(
            Config::default(),
            Identities::default(),
            Vec::new(),
            Vec::new(),
        ))
    };
    let (queue, mut worker) = crate::queue::start(
        build,
        100,
        std::time::Duration::from_millis(20),
        None,
        verdicts,
    )
    .unwrap();
    worker.ready().unwrap();
    let app = Arc::new(App::new(
        queue.clone(),
        InputFormat::Jsonl,
        FormatsConfig::default(),
        ServeConfig::default(),
        Some(Token::new(TOKEN).unwrap()),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crate::serve(listener, app.clone(), async move {
        let _ = stopped.await;
    }));
    Service {
        addr,
        app,
        queue,
        worker,
        stop,
        served,
    }
}

impl Service {
    /// Send one request (closing the connection) and return the status and
    /// the body as JSON.
    async fn request(
        &self,
        method: &str,
        path: &str,
        auth: bool,
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let auth = if auth {
            format!("Authorization: Bearer {TOKEN}\r\n")
        } else {
            String::new()
        };
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let addr = self.addr;
        // Plain blocking sockets on the blocking pool: the service runs on
        // this runtime's one thread meanwhile.
        let out = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(&request).unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            out
        })
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let status = text[9..12].parse().unwrap();
        let (_, json) = text.split_once("\r\n\r\n").unwrap();
        let json = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, json)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap();
        self.queue.close();
        self.worker.join().unwrap();
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn error(body: &serde_json::Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("{body}"))
}

#[test]
fn every_analyst_endpoint_wants_the_token() {
    block_on(async {
        let svc = service(None).await;
        for (method, path) in [
            ("GET", "/v1/incidents"),
            ("GET", "/v1/users/kim"),
            ("POST", "/v1/feedback"),
        ] {
            let (status, body) = svc.request(method, path, false, b"{}").await;
            assert_eq!(status, 401, "{method} {path}: {body}");
            assert!(error(&body).contains("token is required"), "{body}");
        }
        assert_eq!(svc.app.counters().rejected(Rejection::Unauthorized), 3);
        svc.stop().await;
    });
}

/// Another method on a known endpoint is refused with 405 and a JSON body
/// naming the method, as every refusal is.
#[test]
fn a_wrong_method_is_refused_with_a_json_body() {
    block_on(async {
        let svc = service(None).await;
        for (method, path) in [
            ("GET", "/v1/events"),
            ("DELETE", "/v1/feedback"),
            ("GET", "/services/collector/event"),
            ("POST", "/healthz"),
        ] {
            let (status, body) = svc.request(method, path, true, b"").await;
            assert_eq!(status, 405, "{method} {path}: {body}");
            assert!(
                error(&body).contains(&format!("{method} is not allowed on {path}")),
                "{body}"
            );
        }
        svc.stop().await;
    });
}

#[test]
fn incidents_and_users_are_answered_and_bad_names_refused() {
    block_on(async {
        let svc = service(None).await;
        let (status, body) = svc.request("GET", "/v1/incidents", true, b"").await;
        assert_eq!((status, body), (200, json!({ "incidents": [] })));
        let (status, body) = svc
            .request("GET", "/v1/incidents?user=kim", true, b"")
            .await;
        assert_eq!((status, body), (200, json!({ "incidents": [] })));
        let (status, body) = svc
            .request("GET", "/v1/incidents?users=kim", true, b"")
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(error(&body).contains("unknown query parameter"), "{body}");

        let (status, body) = svc.request("GET", "/v1/users/k%20im", true, b"").await;
        assert_eq!(status, 404, "{body}");
        assert!(error(&body).contains("user `k im`"), "{body}");
        let long = format!("/v1/users/{}", "u".repeat(300));
        let (status, body) = svc.request("GET", &long, true, b"").await;
        assert_eq!(status, 400, "{body}");
        assert!(error(&body).contains("300 bytes"), "{body}");
        let (status, body) = svc.request("GET", "/v1/users/%FF", true, b"").await;
        assert_eq!(status, 400, "{body}");
        svc.stop().await;
    });
}

#[test]
fn feedback_is_validated_and_refused_without_a_verdicts_file() {
    block_on(async {
        let svc = service(None).await;
        let post = |body: &'static [u8]| svc.request("POST", "/v1/feedback", true, body);
        let (status, body) = post(b"{\"id\":").await;
        assert_eq!(status, 400, "{body}");
        assert!(
            error(&body).starts_with("the body is not valid JSON"),
            "{body}"
        );
        let (status, body) = post(br#"{"id":"a","verdict":"benign","extra":1}"#).await;
        assert_eq!(status, 422, "{body}");
        assert!(error(&body).contains("unknown field `extra`"), "{body}");
        let (status, body) = post(br#"{"id":"a","verdict":"harmless"}"#).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = post(br#"{"id":"a","verdict":"benign"}"#).await;
        assert_eq!(status, 409, "{body}");
        assert!(error(&body).contains("--state DIR"), "{body}");
        let big = format!(
            r#"{{"id":"a","verdict":"benign","note":"{}"}}"#,
            "n".repeat(MAX_FEEDBACK_BYTES)
        );
        let (status, body) = svc
            .request("POST", "/v1/feedback", true, big.as_bytes())
            .await;
        assert_eq!(status, 413, "{body}");
        assert!(!error(&body).contains("serve.max_body_bytes"), "{body}");
        assert_eq!(svc.app.counters().rejected(Rejection::TooLarge), 1);
        // 400, and two 422s.
        assert_eq!(svc.app.counters().rejected(Rejection::BadRequest), 3);
        svc.stop().await;
    });
}

#[test]
fn a_verdict_on_an_unknown_alert_is_404_and_not_written() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdicts.jsonl");
        let svc = service(Some(path.clone())).await;
        let (status, body) = svc
            .request(
                "POST",
                "/v1/feedback",
                true,
                br#"{"id":"0123abcd","verdict":"malicious","analyst":"kim"}"#,
            )
            .await;
        assert_eq!(status, 404, "{body}");
        assert!(
            error(&body).contains("no alert has id `0123abcd`"),
            "{body}"
        );
        assert!(!path.exists());
        svc.stop().await;
    });
}
