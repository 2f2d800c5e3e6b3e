//! `ueba serve` as a SIEM pipeline runs it: the real binary on a loopback
//! port, driven over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-7f3a9c";

/// A running `ueba serve` and everything it wrote to stderr.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    stderr: Arc<Mutex<String>>,
    done: Receiver<()>,
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ueba"));
    cmd.arg("serve").args(args).env_remove("UEBA_TOKEN").env(
        "UEBA_CACHE_DIR",
        std::env::temp_dir().join("ueba-test-cache"),
    );
    cmd
}

/// Run `ueba serve --listen 127.0.0.1:0 ARGS`, which must stop at start-up
/// before it listens; its stderr.
fn refused_at_start(args: &[&str]) -> String {
    let out = command(&[&["--listen", "127.0.0.1:0"], args].concat())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("listening on"), "{err}");
    err
}

/// Start `ueba serve --listen 127.0.0.1:0 ARGS` and wait for `listening on`.
pub(crate) fn start(args: &[&str]) -> Server {
    spawn(command(&[&["--listen", "127.0.0.1:0"], args].concat()))
}

/// Start `cmd` (a `ueba serve`) and wait for `listening on`.
fn spawn(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ueba serve");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (addr_tx, addr_rx) = channel();
    let (done_tx, done) = channel();
    let pipe = child.stderr.take().unwrap();
    let log = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = addr_tx.send(addr.to_string());
            }
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
        let _ = done_tx.send(());
    });
    let addr = match addr_rx.recv_timeout(Duration::from_secs(120)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!("no `listening on`: {}", stderr.lock().unwrap());
        }
    };
    Server {
        child,
        base: format!("http://{addr}"),
        stderr,
        done,
    }
}

impl Server {
    /// The server's process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server has written to stderr so far.
    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, wait for the exit, return the exit code and stderr.
    pub(crate) fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("no exit after SIGTERM: {}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = self.done.recv_timeout(Duration::from_secs(10));
        let log = self.stderr.lock().unwrap().clone();
        (status.code(), log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The answer to a body of one good line and one bad one: the bad one is
/// named by its position and field. The answer, parsed.
fn one_accepted_one_invalid(resp: &str, position: u64, field: &str) -> serde_json::Value {
    let r = json(resp);
    assert_eq!(
        (r["accepted"].clone(), r["invalid"].clone()),
        (1.into(), 1.into()),
        "{resp}"
    );
    assert_eq!(r["errors"][0]["position"], position, "{resp}");
    assert_eq!(r["errors"][0]["field"], field, "{resp}");
    r
}

/// The `error` message of a refusal's JSON body.
fn error_of(resp: &str) -> String {
    json(resp)["error"]
        .as_str()
        .expect("an error message")
        .to_owned()
}

/// Status, `Retry-After` and body of a POST.
pub(crate) fn post(url: &str, auth: Option<&str>, body: &[u8]) -> (u16, Option<String>, String) {
    let mut req = agent().post(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut resp = req.send(body).expect("POST");
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), retry, text)
}

pub(crate) fn get(url: &str, auth: Option<&str>) -> (u16, String) {
    let mut req = agent().get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut resp = req.call().expect("GET");
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), text)
}

pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The value of an unlabelled or labelled sample in Prometheus text.
pub(crate) fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    })
}

pub(crate) fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

pub(crate) fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

pub(crate) fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("ueba.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Poll `/metrics` until `done` holds for the page; return the page.
pub(crate) fn wait_until(base: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = get(&format!("{base}/metrics"), Some(&bearer()));
        assert_eq!(status, 200, "{text}");
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never {what}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Poll `/metrics` until `series` reaches `want`.
pub(crate) fn wait_for_metric(base: &str, series: &str, want: f64) -> String {
    wait_until(base, &format!("{series} = {want}"), |m| {
        sample(m, series) == Some(want)
    })
}

const GOOD: &str = r#"{"timestamp":"2026-01-05T09:00:00Z","user":"a","action":"select","resource":"support.tickets","rows":3}"#;

#[test]
fn a_generated_insider_is_alerted_and_sigterm_drains_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let generated = Command::new(env!("CARGO_BIN_EXE_ueba"))
        .args(["gen", "--users", "40", "--days", "21", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let labels = json(&std::fs::read_to_string(data.join("labels.json")).unwrap());
    let insider = labels["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "trend-micro")
        .expect("trend-micro scenario")["user"]
        .as_str()
        .unwrap()
        .to_string();
    let alerts = dir.path().join("alerts.jsonl");
    // No idle flush during the test: what is held for reordering at the end
    // is scored only because SIGTERM drains.
    let cfg = write_config(dir.path(), "[serve]\nidle_flush_ms = 600000\n");
    let tok = token_file(dir.path());
    let server = start(&[
        "--token-file",
        tok.to_str().unwrap(),
        "--identities",
        data.join("identities.csv").to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--output",
        alerts.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(data.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(post_all(&server.base, &lines), lines.len() as u64);
    // Stop at once, with events possibly still queued and certainly held.
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("SIGTERM: no longer accepting requests"),
        "{log}"
    );
    assert!(log.contains(&format!("events {} ", lines.len())), "{log}");
    assert!(log.contains("Top users by peak risk"), "{log}");
    assert!(
        log.contains("requests refused: queue full 0, unauthorized 0"),
        "{log}"
    );
    let written = std::fs::read_to_string(&alerts).unwrap();
    let alerted: Vec<serde_json::Value> = written.lines().map(json).collect();
    assert!(
        alerted.iter().any(|a| a["user"] == insider.as_str()),
        "no alert on the insider {insider}: {written}"
    );
    // The same alerts as `ueba score` on the same file: nothing lost or
    // reordered by going through HTTP in chunks.
    let scored = Command::new(env!("CARGO_BIN_EXE_ueba"))
        .args(["score", "-q", "--identities"])
        .arg(data.join("identities.csv"))
        .arg(data.join("events.jsonl"))
        .output()
        .unwrap();
    assert!(scored.status.success());
    assert_eq!(String::from_utf8_lossy(&scored.stdout), written);
}

#[test]
fn hec_accepts_forwarder_bodies_and_metrics_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[serve]\nidle_flush_ms = 50\n");
    let tok = token_file(dir.path());
    let server = start(&[
        "--token-file",
        tok.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        dir.path().join("alerts.jsonl").to_str().unwrap(),
    ]);
    let hec = format!("{}/services/collector/event", server.base);
    // As a forwarder batches: concatenated envelopes, an event object, an
    // event string, an envelope `time` standing in for a missing timestamp.
    let body = format!(
        "{{\"time\":1767603600,\"host\":\"db1\",\"source\":\"pg\",\"sourcetype\":\"ueba\",\"event\":{GOOD}}}{{\"event\":{}}}\n{{\"time\":\"1767603660.250\",\"event\":{{\"user\":\"b\",\"action\":\"select\",\"resource\":\"crm.contacts\"}},\"fields\":{{\"dc\":\"eu\"}}}}",
        serde_json::to_string(GOOD).unwrap()
    );
    let (status, _, resp) = post(&hec, Some(&format!("Splunk {TOKEN}")), body.as_bytes());
    assert_eq!(
        (status, json(&resp)),
        (200, serde_json::json!({"text":"Success","code":0}))
    );
    let (status, _, _) = post(
        &hec,
        Some(&bearer()),
        format!("{{\"event\":{GOOD}}}").as_bytes(),
    );
    assert_eq!(status, 200);
    // Splunk's bad-data answers.
    let (status, _, resp) = post(
        &hec,
        Some(&bearer()),
        br#"{"event":{"user":"x"}}{"time":1}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(json(&resp)["code"], 12, "{resp}");
    assert_eq!(json(&resp)["invalid-event-number"], 1, "{resp}");
    let (status, _, resp) = post(&hec, Some(&bearer()), b"");
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (400, 5.into()),
        "{resp}"
    );
    let (status, _, resp) = post(&hec, Some(&bearer()), b"{\"event\": ");
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (400, 6.into()),
        "{resp}"
    );
    let (status, resp) = get(&format!("{}/services/collector/health", server.base), None);
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (200, 17.into()),
        "{resp}"
    );

    // The native endpoint: a bad line is named, the rest accepted.
    let bad = r#"{"timestamp":"2026-01-05T09:01:00Z","user":"a","action":"select","resource":"t","rows":"many"}"#;
    let (status, _, resp) = post(
        &format!("{}/v1/events", server.base),
        Some(&bearer()),
        format!("{GOOD}\n{bad}\n").as_bytes(),
    );
    assert_eq!(status, 200, "{resp}");
    one_accepted_one_invalid(&resp, 2, "rows");
    // Nothing recognisable: `auto` cannot tell the format.
    let (status, _, resp) = post(
        &format!("{}/v1/events", server.base),
        Some(&bearer()),
        b"not json\n",
    );
    assert_eq!(status, 400, "{resp}");
    assert!(error_of(&resp).contains("pass --format"), "{resp}");

    // Scored, and the idle flush (50 ms after the last event) has run.
    let m = wait_until(&server.base, "all scored", |m| {
        sample(m, "ueba_events_total") == Some(5.0)
            && sample(m, "ueba_queue_depth_events") == Some(0.0)
            && sample(m, "ueba_batches_total").is_some_and(|b| b >= 1.0)
    });
    let batches = sample(&m, "ueba_batches_total");
    assert_eq!(sample(&m, "ueba_events_accepted_total"), Some(5.0), "{m}");
    assert_eq!(sample(&m, "ueba_invalid_lines_total"), Some(1.0), "{m}");
    assert_eq!(sample(&m, "ueba_alerts_total"), Some(0.0), "{m}");
    assert_eq!(sample(&m, "ueba_queue_depth_events"), Some(0.0), "{m}");
    assert_eq!(
        sample(&m, "ueba_requests_rejected_total{reason=\"bad_request\"}"),
        Some(4.0),
        "{m}"
    );
    for d in ["volume", "off-hours", "novel-table"] {
        assert!(
            sample(&m, &format!("ueba_findings_total{{detector=\"{d}\"}}")).is_some(),
            "{m}"
        );
        assert_eq!(
            sample(&m, &format!("ueba_plugin_quarantined{{detector=\"{d}\"}}")),
            Some(0.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                &format!("ueba_batch_latency_seconds_bucket{{le=\"+Inf\",detector=\"{d}\"}}")
            ),
            batches,
            "{m}"
        );
    }
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("events 5 "), "{log}");
    assert!(log.contains("invalid lines 1 "), "{log}");
}

#[test]
fn a_missing_or_wrong_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tok = token_file(dir.path());
    let server = start(&["--token-file", tok.to_str().unwrap()]);
    let events = format!("{}/v1/events", server.base);
    let hec = format!("{}/services/collector/event", server.base);
    let body = GOOD.as_bytes();
    assert_eq!(post(&events, None, body).0, 401);
    assert_eq!(post(&events, Some("Bearer not-the-token"), body).0, 401);
    assert_eq!(post(&events, Some(&format!("Basic {TOKEN}")), body).0, 401);
    assert_eq!(get(&format!("{}/metrics", server.base), None).0, 401);
    // HEC answers as Splunk does: 401 code 2 without a token, 403 code 4 for
    // an unknown one.
    let (status, _, resp) = post(&hec, None, b"{\"event\":{}}");
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (401, 2.into()),
        "{resp}"
    );
    let (status, _, resp) = post(&hec, Some("Splunk wrong"), b"{\"event\":{}}");
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (403, 4.into()),
        "{resp}"
    );
    // Probes need no token.
    let (status, resp) = get(&format!("{}/healthz", server.base), None);
    assert_eq!(status, 200, "{resp}");
    assert_eq!(json(&resp)["status"], "ok");
    let (status, m) = get(&format!("{}/metrics", server.base), Some(&bearer()));
    assert_eq!(status, 200);
    assert_eq!(
        sample(&m, "ueba_requests_rejected_total{reason=\"unauthorized\"}"),
        Some(6.0),
        "{m}"
    );
    assert_eq!(sample(&m, "ueba_events_accepted_total"), Some(0.0), "{m}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("events 0 "), "{log}");
}

#[test]
fn oversized_bodies_and_lines_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[serve]\nmax_body_bytes = 2048\nmax_line_bytes = 300\nqueue_events = 4\n",
    );
    let server = start(&["--config", cfg.to_str().unwrap()]);
    let events = format!("{}/v1/events", server.base);
    let big = format!("{GOOD}\n").repeat(25);
    assert!(big.len() > 2048);
    let (status, _, resp) = post(&events, None, big.as_bytes());
    assert_eq!(status, 413, "{resp}");
    assert!(error_of(&resp).contains("maximum is 2048"), "{resp}");
    let long = format!(
        "{GOOD}\n{{\"timestamp\":\"2026-01-05T09:00:00Z\",\"user\":\"{}\",\"action\":\"select\",\"resource\":\"t\"}}\n",
        "u".repeat(300)
    );
    let (status, _, resp) = post(&events, None, long.as_bytes());
    assert_eq!(status, 413, "{resp}");
    assert!(
        error_of(&resp).starts_with("line 2 is 379 bytes, more than serve.max_line_bytes (300)"),
        "{resp}"
    );
    // More events than the whole queue can ever hold: retrying cannot help.
    let five = format!("{GOOD}\n").repeat(5);
    let (status, _, resp) = post(&events, None, five.as_bytes());
    assert_eq!(status, 413, "{resp}");
    let hec = format!("{}/services/collector/event", server.base);
    let (status, _, _) = post(
        &hec,
        None,
        format!("{{\"event\":{GOOD}}}").repeat(20).as_bytes(),
    );
    assert_eq!(status, 413);
    let (_, m) = get(&format!("{}/metrics", server.base), None);
    assert_eq!(
        sample(&m, "ueba_requests_rejected_total{reason=\"too_large\"}"),
        Some(4.0),
        "{m}"
    );
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("too large 4"), "{log}");
}

#[test]
fn a_full_queue_answers_429_with_retry_after_and_healthz_names_a_quarantined_detector() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        ueba_test_support::fixture_dir().join("hostile.wasm"),
        plugins.join("hostile.wasm"),
    )
    .unwrap();
    // One event per batch, released at once (the time guard, which holds
    // a run's first event until a second confirms its time, is off); the
    // hostile detector spins on the trigger event until its time limit,
    // twice (the retry), and is then quarantined. Meanwhile the one-event
    // queue is full.
    let cfg = write_config(
        dir.path(),
        "[input]\nbatch_size = 1\nmax_lateness_secs = 0\nmax_time_jump_days = 0\n\
         [sandbox]\nbatch_timeout_ms = 1500\nmax_failures = 1\n\
         [serve]\nqueue_events = 1\nretry_after_secs = 7\n\
         [detectors.hostile]\nmode = \"loop\"\n",
    );
    let server = start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
    ]);
    let events = format!("{}/v1/events", server.base);
    let trigger = GOOD.replace("\"rows\":3", "\"rows\":666");
    let (status, _, resp) = post(&events, None, trigger.as_bytes());
    assert_eq!(status, 200, "{resp}");
    let (status, retry, resp) = post(&events, None, GOOD.as_bytes());
    assert_eq!(status, 429, "{resp}");
    assert_eq!(retry.as_deref(), Some("7"));
    assert!(error_of(&resp).contains("queue is full"), "{resp}");
    let hec = format!("{}/services/collector/event", server.base);
    let (status, retry, resp) = post(&hec, None, format!("{{\"event\":{GOOD}}}").as_bytes());
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (503, 9.into()),
        "{resp}"
    );
    assert_eq!(retry.as_deref(), Some("7"));
    let (_, m) = get(&format!("{}/metrics", server.base), None);
    assert_eq!(sample(&m, "ueba_queue_depth_events"), Some(1.0), "{m}");
    assert_eq!(
        sample(&m, "ueba_requests_rejected_total{reason=\"queue_full\"}"),
        Some(2.0),
        "{m}"
    );

    // Once the detector is quarantined the queue drains and health says so.
    let m = wait_for_metric(
        &server.base,
        "ueba_plugin_quarantined{detector=\"hostile\"}",
        1.0,
    );
    assert!(
        sample(&m, "ueba_plugin_failures_total{detector=\"hostile\"}").unwrap() >= 1.0,
        "{m}"
    );
    let (status, resp) = get(&format!("{}/healthz", server.base), None);
    assert_eq!(status, 503, "{resp}");
    let h = json(&resp);
    assert_eq!(h["quarantined"][0]["detector"], "hostile", "{resp}");
    assert_eq!(h["worker"], "running", "{resp}");
    wait_for_metric(&server.base, "ueba_queue_depth_events", 0.0);
    let (status, _, resp) = post(&events, None, GOOD.as_bytes());
    assert_eq!(status, 200, "{resp}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("events 2 "), "{log}");
    assert!(log.contains("QUARANTINED detector hostile"), "{log}");
    assert!(log.contains("queue full 2"), "{log}");
}

#[test]
fn no_token_on_a_non_loopback_address_refuses_to_start() {
    let out = command(&["--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");
    // An empty token is no token.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("token");
    std::fs::write(&empty, "\n").unwrap();
    let out = command(&[
        "--listen",
        "0.0.0.0:0",
        "--token-file",
        empty.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the token is empty"), "{err}");
    let out = command(&[
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        empty.to_str().unwrap(),
    ])
    .env("UEBA_TOKEN", TOKEN)
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("both --token-file and UEBA_TOKEN are set"),
        "{err}"
    );
}

/// POST lines to /v1/events in chunks, waiting out 429s; every line must
/// be valid. Returns the events accepted.
pub(crate) fn post_all(base: &str, lines: &[&str]) -> u64 {
    let mut accepted = 0u64;
    for chunk in lines.chunks(4000) {
        let body = chunk.join("\n");
        loop {
            let (status, retry, resp) = post(
                &format!("{base}/v1/events"),
                Some(&bearer()),
                body.as_bytes(),
            );
            if status == 429 {
                let secs: u64 = retry.expect("Retry-After").parse().unwrap();
                std::thread::sleep(Duration::from_secs(secs));
                continue;
            }
            assert_eq!(status, 200, "{resp}");
            let r = json(&resp);
            assert_eq!(r["invalid"], 0, "{resp}");
            accepted += r["accepted"].as_u64().unwrap();
            break;
        }
    }
    accepted
}

/// `ueba gen` of 40 users over 21 days into `dir/data`, returned.
fn generated_org(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let generated = Command::new(env!("CARGO_BIN_EXE_ueba"))
        .args(["gen", "--users", "40", "--days", "21", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(generated.status.success());
    data
}

/// The alerts of one `ueba score` run over all of `data`'s events: what a
/// service fed the same events must have written, restarts or not.
fn scored_whole(data: &Path) -> String {
    let whole = Command::new(env!("CARGO_BIN_EXE_ueba"))
        .args(["score", "-q", "--identities"])
        .arg(data.join("identities.csv"))
        .arg(data.join("events.jsonl"))
        .output()
        .unwrap();
    assert!(whole.status.success());
    String::from_utf8_lossy(&whole.stdout).into_owned()
}

#[test]
fn state_survives_a_restart_of_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated_org(dir.path());
    let alerts = dir.path().join("alerts.jsonl");
    let state = dir.path().join("state");
    let cfg = write_config(dir.path(), "[serve]\nidle_flush_ms = 600000\n");
    let tok = token_file(dir.path());
    let ids = data.join("identities.csv");
    let args = [
        "--token-file",
        tok.to_str().unwrap(),
        "--identities",
        ids.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--output",
        alerts.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    let text = std::fs::read_to_string(data.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() * 2 / 3);

    let server = start(&args);
    assert_eq!(post_all(&server.base, first), first.len() as u64);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(state.join("checkpoint").exists(), "{log}");

    let server = start(&args);
    assert_eq!(post_all(&server.base, second), second.len() as u64);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("resuming from"), "{log}");
    assert!(log.contains(&format!("events {} ", lines.len())), "{log}");

    // What was learned before the restart still counts: the alerts are
    // those of one `ueba score` run over everything (the restart scores
    // what it held, as the end of an input does).
    let written = std::fs::read_to_string(&alerts).unwrap();
    assert!(!written.is_empty());
    assert_eq!(scored_whole(&data), written);

    // A damaged state stops the service before it listens.
    let cp = state.join("checkpoint");
    let mut bytes = std::fs::read(&cp).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    std::fs::write(&cp, &bytes).unwrap();
    let err = refused_at_start(&args);
    assert!(err.contains("truncated"), "{err}");
}

/// With `--state`, a 200 means saved: SIGKILL right after the answer loses
/// nothing, and a request killed before its answer is sent again by the
/// client without its alerts being written twice.
#[test]
fn acknowledged_events_survive_sigkill_and_a_resent_request_is_scored_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated_org(dir.path());
    let alerts = dir.path().join("alerts.jsonl");
    let state = dir.path().join("state");
    let cfg = write_config(dir.path(), "[serve]\nidle_flush_ms = 600000\n");
    let tok = token_file(dir.path());
    let ids = data.join("identities.csv");
    let args = |ack_ms: &'static str| {
        vec![
            "--token-file".to_string(),
            tok.display().to_string(),
            "--identities".into(),
            ids.display().to_string(),
            "--config".into(),
            cfg.display().to_string(),
            "--output".into(),
            alerts.display().to_string(),
            "--state".into(),
            state.display().to_string(),
            // Periodic checkpoints never come: only acknowledgements save.
            "--checkpoint-secs".into(),
            "3600".into(),
            "--ack-interval-ms".into(),
            ack_ms.into(),
        ]
    };
    let start_with = |a: &[String]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        start(&a)
    };
    let text = std::fs::read_to_string(data.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, rest) = lines.split_at(lines.len() / 2);
    let (second, third) = rest.split_at(rest.len() / 2);

    // 1. Answered, then killed at once: nothing answered is lost.
    let mut server = start_with(&args("50"));
    assert_eq!(post_all(&server.base, first), first.len() as u64);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // 2. Killed while a request waits for its answer (the next checkpoint
    // is a minute away): the client sees no answer and sends it again.
    let mut server = start_with(&args("60000"));
    // The first request after a start is saved at once; this one waits.
    let (head, tail) = second.split_at(1);
    assert_eq!(post_all(&server.base, head), 1);
    let url = format!("{}/v1/events", server.base);
    let body = tail.join("\n");
    let pending = std::thread::spawn(move || {
        agent()
            .post(&url)
            .header("Authorization", &bearer())
            .send(body.as_bytes())
            .map(|r| r.status().as_u16())
    });
    wait_for_metric(
        &server.base,
        "ueba_events_accepted_total",
        second.len() as f64,
    );
    std::thread::sleep(Duration::from_millis(300));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let answered = pending.join().unwrap();
    assert!(answered.is_err(), "answered before saved: {answered:?}");
    drop(server);

    let server = start_with(&args("50"));
    assert_eq!(post_all(&server.base, tail), tail.len() as u64);
    assert_eq!(post_all(&server.base, third), third.len() as u64);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains(&format!("events {} ", lines.len())), "{log}");

    let written = std::fs::read_to_string(&alerts).unwrap();
    assert!(!written.is_empty());
    assert_eq!(scored_whole(&data), written);
}

/// A raw connection to the server, for clients that misbehave.
fn connect(base: &str) -> std::net::TcpStream {
    let addr = base.strip_prefix("http://").unwrap();
    let s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Read until the server closes the connection; everything it sent, or
/// `None` if it was still open after `limit`.
fn read_until_closed(s: &mut std::net::TcpStream, limit: Duration) -> Option<Vec<u8>> {
    use std::io::Read;
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(e) => panic!("reading: {e}"),
        }
    }
}

/// The start of a POST to /v1/events declaring `len` bytes of body.
fn post_head(len: usize) -> String {
    format!("POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len}\r\n\r\n")
}

/// Every coding of every `Content-Encoding` header is checked: a second
/// header, or a list ending in `gzip`, does not pass a compressed body as
/// plain text; nor does a transfer coding other than `chunked`.
#[test]
fn any_content_coding_but_identity_gets_415() {
    use std::io::Write;
    let server = start(&[]);
    let body = format!("{GOOD}\n");
    let ask = |codings: &[&str]| {
        let mut c = connect(&server.base);
        let headers: String = codings
            .iter()
            .map(|v| format!("Content-Encoding: {v}\r\n"))
            .collect();
        // One write: the service may answer and close once it has read the
        // headers, and a request written piece by piece then meets a
        // closed socket.
        let request = format!(
            "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.write_all(request.as_bytes()).unwrap();
        let answer = read_until_closed(&mut c, Duration::from_secs(30)).expect("answered");
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(ask(&["identity"]).starts_with("HTTP/1.1 200"));
    for codings in [
        &["gzip"][..],
        &["identity", "gzip"],
        &["identity, gzip"],
        &["IDENTITY,br"],
    ] {
        let answer = ask(codings);
        assert!(answer.starts_with("HTTP/1.1 415"), "{codings:?}: {answer}");
        assert!(answer.contains("is not supported"), "{answer}");
    }
    // A transfer coding is a coding too: hyper undoes `chunked`, not gzip.
    let chunked = |coding: &str| {
        let mut c = connect(&server.base);
        let request = format!(
            "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: {coding}\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        c.write_all(request.as_bytes()).unwrap();
        let answer = read_until_closed(&mut c, Duration::from_secs(30)).expect("answered");
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(chunked("chunked").starts_with("HTTP/1.1 200"));
    let answer = chunked("gzip, chunked");
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
    assert!(answer.contains("Transfer-Encoding"), "{answer}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_the_header_timeout() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[serve]\nheader_read_timeout_ms = 300\nidle_timeout_ms = 600000\n",
    );
    let server = start(&["--config", cfg.to_str().unwrap()]);
    // Connected, nothing sent.
    let mut silent = connect(&server.base);
    // Half a request's headers.
    let mut half = connect(&server.base);
    half.write_all(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // A whole request, then an idle keep-alive connection.
    let mut kept = connect(&server.base);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    for (name, conn) in [
        ("silent", &mut silent),
        ("half-sent", &mut half),
        ("keep-alive", &mut kept),
    ] {
        let got = read_until_closed(conn, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("the {name} connection is still open after 30 s"));
        if name == "keep-alive" {
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        }
    }
    let m = wait_until(&server.base, "three header timeouts", |m| {
        sample(
            m,
            "ueba_http_connections_closed_total{reason=\"header_timeout\"}",
        ) == Some(3.0)
    });
    assert_eq!(sample(&m, "ueba_http_connections"), Some(1.0), "{m}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn stalled_uploads_are_closed_when_idle_and_slow_ones_get_408() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[serve]\nheader_read_timeout_ms = 600000\nidle_timeout_ms = 800\nrequest_timeout_ms = 1500\n",
    );
    let server = start(&["--config", cfg.to_str().unwrap()]);
    // Headers and a little of the body, then nothing: closed once idle.
    let mut stalled = connect(&server.base);
    stalled
        .write_all(format!("{}{{\"timestamp\"", post_head(1000)).as_bytes())
        .unwrap();
    assert!(
        read_until_closed(&mut stalled, Duration::from_secs(30)).is_some(),
        "a stalled upload is still open after 30 s"
    );
    // A byte every 100 ms never looks idle, but the request as a whole
    // takes too long.
    let mut slow = connect(&server.base);
    slow.write_all(post_head(1000).as_bytes()).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut answer = Vec::new();
    for _ in 0..300 {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) if answer.is_empty() => {
                if slow.write_all(b" ").is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("serve.request_timeout_ms"), "{answer}");
    let m = wait_until(&server.base, "an idle close", |m| {
        sample(
            m,
            "ueba_http_connections_closed_total{reason=\"idle_timeout\"}",
        ) == Some(1.0)
    });
    assert_eq!(
        sample(&m, "ueba_requests_rejected_total{reason=\"timeout\"}"),
        Some(1.0),
        "{m}"
    );
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("timed out 1"), "{log}");
}

/// Resident memory of process `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn bodies_over_the_budget_get_429_and_memory_stays_bounded() {
    use std::io::Write;
    const MIB: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[serve]\nmax_body_bytes = {}\nbody_budget_bytes = {}\nretry_after_secs = 3\n",
            4 * MIB,
            8 * MIB
        ),
    );
    let server = start(&["--config", cfg.to_str().unwrap()]);
    let events = format!("{}/v1/events", server.base);
    let hec = format!("{}/services/collector/event", server.base);

    // Declaring the largest body and sending almost nothing of it holds
    // almost nothing: slow clients cannot lock the others out.
    let mut tricklers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = connect(&server.base);
            c.write_all(format!("{}\n\n", post_head(4 * MIB)).as_bytes())
                .unwrap();
            c
        })
        .collect();
    let (status, _, resp) = post(&events, None, GOOD.as_bytes());
    assert_eq!(status, 200, "{resp}");
    let m = get(&format!("{}/metrics", server.base), None).1;
    assert!(
        sample(&m, "ueba_body_bytes_in_flight").unwrap() < 1024.0,
        "{m}"
    );
    tricklers.clear();

    // Two uploads of the largest size, sent but for their last byte, hold
    // the whole budget while they last.
    let mut holders: Vec<_> = (0..2)
        .map(|_| {
            let mut c = connect(&server.base);
            c.write_all(post_head(4 * MIB).as_bytes()).unwrap();
            c.write_all(&vec![b'\n'; 4 * MIB - 1]).unwrap();
            c
        })
        .collect();
    wait_for_metric(&server.base, "ueba_body_bytes_in_flight", (8 * MIB) as f64);
    let (status, retry, resp) = post(&events, None, GOOD.as_bytes());
    assert_eq!(status, 429, "{resp}");
    assert_eq!(retry.as_deref(), Some("3"));
    assert!(
        error_of(&resp).contains("serve.body_budget_bytes"),
        "{resp}"
    );
    let (status, retry, resp) = post(&hec, None, format!("{{\"event\":{GOOD}}}").as_bytes());
    assert_eq!(
        (status, json(&resp)["code"].clone()),
        (503, 9.into()),
        "{resp}"
    );
    assert_eq!(retry.as_deref(), Some("3"));
    holders.clear();
    wait_for_metric(&server.base, "ueba_body_bytes_in_flight", 0.0);
    let (status, _, resp) = post(&events, None, GOOD.as_bytes());
    assert_eq!(status, 200, "{resp}");

    // Many clients send a body of the largest size at once, all but its
    // last byte: only what the budget allows may be held.
    let before = rss_kib(server.pid());
    let clients = 24;
    let sent = Arc::new(std::sync::Barrier::new(clients + 1));
    let finish = Arc::new(std::sync::Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let base = server.base.clone();
            let (sent, finish) = (sent.clone(), finish.clone());
            std::thread::spawn(move || {
                let mut c = connect(&base);
                let body = vec![b'\n'; 4 * MIB];
                let mut ok = c.write_all(post_head(body.len()).as_bytes()).is_ok();
                ok = ok && c.write_all(&body[..body.len() - 1]).is_ok();
                sent.wait();
                finish.wait();
                if ok {
                    let _ = c.write_all(&body[body.len() - 1..]);
                }
                read_until_closed(&mut c, Duration::from_secs(30)).unwrap_or_default()
            })
        })
        .collect();
    sent.wait();
    let during = rss_kib(server.pid());
    finish.wait();
    let answers: Vec<String> = threads
        .into_iter()
        .map(|t| String::from_utf8_lossy(&t.join().unwrap()).into_owned())
        .collect();
    let grown_mib = during.saturating_sub(before) / 1024;
    // Without a budget the bodies alone would be 96 MiB.
    assert!(
        grown_mib < 48,
        "resident memory grew by {grown_mib} MiB with {clients} bodies of 4 MiB in flight"
    );
    let refused = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 429"))
        .count();
    assert!(refused >= clients - 4, "{refused} refused: {answers:?}");
    let m = wait_for_metric(&server.base, "ueba_body_bytes_in_flight", 0.0);
    assert!(
        sample(&m, "ueba_requests_rejected_total{reason=\"body_budget\"}").unwrap()
            >= (2 + refused) as f64,
        "{m}"
    );
    assert_eq!(
        sample(&m, "ueba_body_bytes_budget"),
        Some((8 * MIB) as f64),
        "{m}"
    );
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("body budget full "), "{log}");
}

#[test]
fn sigterm_with_a_stalled_client_stops_at_the_deadline_and_checkpoints() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = write_config(
        dir.path(),
        "[serve]\nidle_flush_ms = 600000\nshutdown_timeout_ms = 300\n\
         header_read_timeout_ms = 600000\nidle_timeout_ms = 600000\nrequest_timeout_ms = 600000\n",
    );
    let server = start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let body = format!("{GOOD}\n{}\n", GOOD.replace("09:00:00", "09:00:05"));
    let (status, _, resp) = post(&format!("{}/v1/events", server.base), None, body.as_bytes());
    assert_eq!(status, 200, "{resp}");
    // A client that sends part of a request and then nothing at all.
    let mut stalled = connect(&server.base);
    stalled
        .write_all(format!("{}{{\"timestamp\"", post_head(1000)).as_bytes())
        .unwrap();
    // It holds the budget for what it sent, not for the 1000 it declared.
    wait_until(&server.base, "the stalled request in flight", |m| {
        sample(m, "ueba_body_bytes_in_flight") == Some(12.0)
    });
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("closed 1 connections whose requests did not finish"),
        "{log}"
    );
    assert!(log.contains("events 2 "), "{log}");
    assert!(state.join("checkpoint").exists(), "{log}");
    drop(stalled);
}

/// Run `cmd` to its exit, at most `limit`; its exit code and stderr.
fn run_to_exit(mut cmd: Command, limit: Duration) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

#[test]
fn a_short_token_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("token");
    std::fs::write(&short, "x\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, err) = run_to_exit(
        command(&[
            "--listen",
            "0.0.0.0:0",
            "--token-file",
            short.to_str().unwrap(),
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "refusing to listen on 0.0.0.0:0 with a token of 1 characters: off a loopback address the token must be at least 16 characters"
        ),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");
    // On loopback a short token is the operator's business.
    let server = start(&["--token-file", short.to_str().unwrap()]);
    let (status, _, _) = post(
        &format!("{}/v1/events", server.base),
        Some("Bearer x"),
        GOOD.as_bytes(),
    );
    assert_eq!(status, 200);
}

#[test]
fn running_out_of_file_descriptors_does_not_stop_the_service() {
    let dir = tempfile::tempdir().unwrap();
    // The default serve.max_connections (512) is more than the 64
    // descriptors allowed here: accepting fails.
    let cfg = write_config(dir.path(), "[serve]\nidle_flush_ms = 50\n");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ueba"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .env_remove("UEBA_TOKEN")
        .env(
            "UEBA_CACHE_DIR",
            std::env::temp_dir().join("ueba-test-cache"),
        );
    let mut server = spawn(cmd);
    assert!(
        server.log().contains(
            "warning: the process may open 64 files, fewer than serve.max_connections (512)"
        ),
        "{}",
        server.log()
    );
    // Idle connections, more than the process has descriptors for.
    let idle: Vec<_> = (0..100).map(|_| connect(&server.base)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.log().contains("accepting a connection failed") {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("the server exited ({status}): {}", server.log());
        }
        assert!(
            Instant::now() < deadline,
            "no accept failure within 60 s: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Once the clients go away descriptors are free again, and the service
    // goes on accepting and scoring.
    drop(idle);
    let (status, _, resp) = post(&format!("{}/v1/events", server.base), None, GOOD.as_bytes());
    assert_eq!(status, 200, "{resp}\n{}", server.log());
    let m = wait_for_metric(&server.base, "ueba_events_total", 1.0);
    assert!(
        sample(&m, "ueba_http_accept_errors_total").unwrap() >= 1.0,
        "{m}"
    );
    assert!(server.child.try_wait().unwrap().is_none());
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("events 1 "), "{log}");
}

#[test]
fn counts_past_u64_and_the_last_second_of_9999_at_the_edges_of_input() {
    let server = start(&[]);
    let events = format!("{}/v1/events", server.base);
    let huge = GOOD.replace("\"rows\":3", "\"rows\":18446744073709551616");
    let last = GOOD.replace("2026-01-05T09:00:00Z", "9999-12-31T23:59:59Z");
    let (status, _, resp) = post(&events, None, format!("{last}\n{huge}\n").as_bytes());
    assert_eq!(status, 200, "{resp}");
    let r = one_accepted_one_invalid(&resp, 2, "rows");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("18446744073709551616"),
        "{resp}"
    );
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn past_max_connections_a_client_waits_until_one_closes() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[serve]\nmax_connections = 2\nheader_read_timeout_ms = 600000\n",
    );
    let server = start(&["--config", cfg.to_str().unwrap()]);
    // Two idle clients hold every slot.
    let first = connect(&server.base);
    let second = connect(&server.base);
    let mut third = connect(&server.base);
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 1];
    let early = third.read(&mut buf);
    assert!(
        early.is_err(),
        "answered while two connections held both slots: {early:?}"
    );
    // One closes: the waiting client is accepted and answered.
    drop(first);
    let answer = read_until_closed(&mut third, Duration::from_secs(30))
        .expect("no answer after a slot was freed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(second);
    let m = wait_for_metric(&server.base, "ueba_http_connections", 1.0);
    assert_eq!(sample(&m, "ueba_http_connections_max"), Some(2.0), "{m}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
}

/// The analyst's view of a service with `--state`: incidents and users as
/// they stand, a verdict recorded in DIR/verdicts.jsonl and applied once
/// the events after it are scored, and the service starting again on that
/// state with the verdict read back.
#[test]
fn analysts_read_incidents_and_users_and_record_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated_org(dir.path());
    let alerts = dir.path().join("alerts.jsonl");
    let state = dir.path().join("state");
    let tok = token_file(dir.path());
    let ids = data.join("identities.csv");
    let args = [
        "--token-file",
        tok.to_str().unwrap(),
        "--identities",
        ids.to_str().unwrap(),
        "--output",
        alerts.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    // Alert ids are stable, so those of `ueba score` over the log are the
    // service's too: the strongest alert is judged, right after it is
    // raised, while its incident is open.
    let expected: Vec<serde_json::Value> = scored_whole(&data).lines().map(json).collect();
    let judged = expected
        .iter()
        .max_by(|a, b| {
            a["score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["score"].as_f64().unwrap())
        })
        .expect("the organisation alerts")
        .clone();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let (alert, user, incident) = (
        text(&judged["id"]),
        text(&judged["user"]),
        text(&judged["incident"]),
    );
    let events = std::fs::read_to_string(data.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = events.lines().collect();
    // The log is in time order: up to the alert, then the rest.
    let split = lines.partition_point(|l| json(l)["timestamp"].as_str() <= judged["time"].as_str());
    let (first, rest) = lines.split_at(split);

    let server = start(&args);
    let base = server.base.clone();
    let url = |path: &str| format!("{base}{path}");
    // Before any event no alert is known.
    let feedback = |body: &serde_json::Value| {
        post(
            &url("/v1/feedback"),
            Some(&bearer()),
            body.to_string().as_bytes(),
        )
    };
    let benign = serde_json::json!({
        "id": alert, "verdict": "benign", "note": "DBA maintenance", "analyst": "kim"
    });
    let (status, _, body) = feedback(&benign);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains(&alert), "{body}");
    assert_eq!(post_all(&base, first), first.len() as u64);

    // Once scored (after serve.idle_flush_ms), the alert's incident is
    // listed, opened by its first alert.
    let deadline = Instant::now() + Duration::from_secs(60);
    let found = loop {
        let (status, body) = get(&url("/v1/incidents"), Some(&bearer()));
        assert_eq!(status, 200, "{body}");
        let listed = json(&body);
        let found = listed["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == incident.as_str())
            .cloned();
        match found {
            Some(i)
                if i["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == alert.as_str()) =>
            {
                break i;
            }
            _ => assert!(Instant::now() < deadline, "no incident {incident}: {body}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(found["user"], user.as_str());
    assert!(found.get("closed").is_none(), "{found}");
    assert_eq!(found["alerts"][0], incident.strip_prefix("i-").unwrap());
    let (status, body) = get(&url(&format!("/v1/incidents?user={user}")), Some(&bearer()));
    assert_eq!(status, 200, "{body}");
    let mine = json(&body);
    let mine = mine["incidents"].as_array().unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|i| i["user"] == user.as_str()));

    // The user's standing: risk now, the peak their alert reached, their
    // findings and incidents.
    let (status, body) = get(&url(&format!("/v1/users/{user}")), Some(&bearer()));
    assert_eq!(status, 200, "{body}");
    let standing = json(&body);
    assert_eq!(standing["user"], user.as_str());
    let risk = standing["risk"].as_f64().unwrap();
    let peak = standing["peak"].as_f64().unwrap();
    assert!(risk > 30.0 && risk <= peak, "{body}");
    assert!(peak >= judged["score"].as_f64().unwrap() - 0.1, "{body}");
    assert!(standing["alerts"].as_u64().unwrap() >= 1, "{body}");
    assert!(!standing["kept"].as_array().unwrap().is_empty(), "{body}");
    assert!(
        standing["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == incident.as_str()),
        "{body}"
    );
    let (status, body) = get(&url("/v1/users/nobody-at-all"), Some(&bearer()));
    assert_eq!(status, 404, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("nobody-at-all")
    );

    // A benign verdict is recorded, fsynced, in DIR/verdicts.jsonl.
    let (status, _, body) = feedback(&benign);
    assert_eq!(status, 200, "{body}");
    let recorded = json(&body);
    assert_eq!(recorded["id"], alert.as_str());
    assert_eq!(recorded["verdict"], "benign");
    assert_eq!(recorded["line"], 1);
    let file = std::fs::read_to_string(state.join("verdicts.jsonl")).unwrap();
    let line = json(file.lines().next().unwrap());
    assert_eq!(line["id"], alert.as_str());
    assert_eq!(line["analyst"], "kim");
    assert_eq!(line["time"], recorded["time"]);

    // Refusals name what is wrong, and record nothing.
    let (status, _, body) =
        feedback(&serde_json::json!({"id": "ffffffffffffffff", "verdict": "malicious"}));
    assert_eq!(status, 404, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("ffffffffffffffff")
    );
    let (status, _, body) = post(&url("/v1/feedback"), Some(&bearer()), b"{\"id\": ");
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = feedback(&serde_json::json!({
        "id": alert, "verdict": "malicious", "time": "2000-01-01T00:00:00Z"
    }));
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("before the newest event already scored"),
        "{body}"
    );
    for auth in [None, Some("Bearer not-the-token")] {
        let (status, _, body) = post(&url("/v1/feedback"), auth, benign.to_string().as_bytes());
        assert_eq!(status, 401, "{body}");
        let (status, body) = get(&url("/v1/incidents"), auth);
        assert_eq!(status, 401, "{body}");
        let (status, body) = get(&url(&format!("/v1/users/{user}")), auth);
        assert_eq!(status, 401, "{body}");
    }
    assert_eq!(
        std::fs::read_to_string(state.join("verdicts.jsonl")).unwrap(),
        file
    );

    // The verdict applies from its time, once the events after it are
    // scored: the incident closes then, with the verdict on it.
    let metrics = wait_for_metric(&base, "ueba_verdicts_applied_total", 0.0);
    assert!(
        sample(&metrics, "ueba_incidents_open").unwrap() >= 1.0,
        "{metrics}"
    );
    assert_eq!(post_all(&base, rest), rest.len() as u64);
    wait_for_metric(&base, "ueba_verdicts_applied_total", 1.0);
    let (status, body) = get(&url(&format!("/v1/incidents?user={user}")), Some(&bearer()));
    assert_eq!(status, 200, "{body}");
    let mine = json(&body);
    let closed = mine["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == incident.as_str())
        .unwrap_or_else(|| panic!("no incident {incident}: {body}"));
    assert_eq!(closed["closed"], recorded["time"], "{body}");
    assert_eq!(closed["verdicts"][0]["id"], alert.as_str(), "{body}");
    assert_eq!(closed["verdicts"][0]["verdict"], "benign", "{body}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("verdicts applied: 1;"), "{log}");
    // The alert output holds the judged alert.
    let written = std::fs::read_to_string(&alerts).unwrap();
    assert!(
        written.lines().map(json).any(|a| a["id"] == alert.as_str()),
        "{written}"
    );

    // The service starts again on the same state, the verdict read back
    // and not applied twice; the next verdict is the file's second line.
    let server = start(&args);
    wait_for_metric(&server.base, "ueba_verdicts_applied_total", 1.0);
    let (status, _, body) = post(
        &format!("{}/v1/feedback", server.base),
        Some(&bearer()),
        serde_json::json!({ "id": alert, "verdict": "malicious" })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["line"], 2);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("resuming from"), "{log}");

    // A damaged verdicts file stops start-up, naming the line.
    std::fs::write(state.join("verdicts.jsonl"), format!("{file}{{\"id\":\n")).unwrap();
    let err = refused_at_start(&args);
    assert!(err.contains("verdicts.jsonl:2:"), "{err}");
}

/// Without a verdicts file a verdict would be lost at restart, so it is
/// refused; `--verdicts FILE` gives the service one without `--state`.
#[test]
fn feedback_needs_a_verdicts_file() {
    let dir = tempfile::tempdir().unwrap();
    let verdict = br#"{"id":"0123456789abcdef","verdict":"benign"}"#;
    let server = start(&[]);
    let (status, _, body) = post(&format!("{}/v1/feedback", server.base), None, verdict);
    assert_eq!(status, 409, "{body}");
    let why = json(&body)["error"].as_str().unwrap().to_string();
    assert!(
        why.contains("--state DIR") && why.contains("--verdicts FILE"),
        "{why}"
    );
    drop(server);

    let file = dir.path().join("verdicts.jsonl");
    let server = start(&["--verdicts", file.to_str().unwrap()]);
    let (status, _, body) = post(&format!("{}/v1/feedback", server.base), None, verdict);
    assert_eq!(status, 404, "{body}");
    assert!(!file.exists());
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");

    let missing = dir.path().join("no-such-dir").join("verdicts.jsonl");
    let err = refused_at_start(&["--verdicts", missing.to_str().unwrap()]);
    assert!(err.contains("no-such-dir"), "{err}");
}

#[test]
fn csv_bodies_each_bring_their_header_and_a_bad_row_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[serve]\nidle_flush_ms = 50\n\n[formats.mapping]\nresource = \"pc\"\n\n\
         [formats.csv]\ntime_format = \"%m/%d/%Y %H:%M:%S\"\n",
    );
    let tok = token_file(dir.path());
    let server = start(&[
        "--token-file",
        tok.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--format",
        "csv",
        "-o",
        dir.path().join("alerts.jsonl").to_str().unwrap(),
    ]);
    let url = format!("{}/v1/events", server.base);
    let header = "id,date,user,pc,activity\n";
    let body = format!(
        "{header}1,01/04/2010 08:01:00,ana,PC-1,Logon\n2,01/04/2010 17:02:00,ana,PC-1,Logoff\n"
    );
    let (status, _, resp) = post(&url, Some(&bearer()), body.as_bytes());
    assert_eq!(status, 200, "{resp}");
    assert_eq!(json(&resp)["accepted"], 2, "{resp}");
    // A second request is a file of its own: its first line is its header.
    let body =
        format!("{header}3,01/05/2010 08:00:00,ana,PC-1,Logon\n4,yesterday,ana,PC-1,Logoff\n");
    let (status, _, resp) = post(&url, Some(&bearer()), body.as_bytes());
    assert_eq!(status, 200, "{resp}");
    one_accepted_one_invalid(&resp, 3, "date");
    // A body without the columns the events need is refused whole.
    let (status, _, resp) = post(&url, Some(&bearer()), b"when,who\n1,ana\n");
    assert_eq!(status, 400, "{resp}");
    assert!(error_of(&resp).contains("columns: when, who"), "{resp}");
    let m = wait_until(&server.base, "all scored", |m| {
        sample(m, "ueba_events_total") == Some(3.0)
    });
    assert_eq!(sample(&m, "ueba_invalid_lines_total"), Some(1.0), "{m}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
}
