//! SIEM and database-log formats: the documented example lines under
//! `tests/fixtures/formats/`, malformed lines, mangled input (no panics),
//! auto-detection, and the alert sinks against listeners on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use crate::util::ueba;
use ueba_engine::event::{AccessEvent, Outcome, ParseError};
use ueba_engine::pipeline::AlertSink;
use ueba_engine::risk::aggregate::{Alert, AlertFinding};
use ueba_formats::sinks::cef::Syslog;
use ueba_formats::sinks::hec::HecPost;
use ueba_formats::sources::detect::AutoParser;
use ueba_formats::sources::{FormatsConfig, InputFormat, LineParser, parser_for};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

/// Run text through a parser line by line, as the reader thread does.
fn parse_with(
    parser: &mut dyn LineParser,
    text: &str,
) -> Result<(Vec<Result<AccessEvent, ParseError>>, u64), String> {
    let mut out = Vec::new();
    for (i, l) in text.split('\n').enumerate() {
        let l = l.strip_suffix('\r').unwrap_or(l);
        parser
            .feed(l, i as u64 + 1, &mut out)
            .map_err(|e| e.to_string())?;
    }
    parser.finish(&mut out).map_err(|e| e.to_string())?;
    Ok((out, parser.skipped()))
}

fn parse(format: InputFormat, text: &str) -> (Vec<Result<AccessEvent, ParseError>>, u64) {
    let mut p = parser_for(format, &FormatsConfig::default()).expect("parser");
    parse_with(p.as_mut(), text).expect("no fatal error")
}

fn events(format: InputFormat, name: &str) -> (Vec<AccessEvent>, u64) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let (out, skipped) = parse(format, &text);
    let evs = out
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    (evs, skipped)
}

const FIXTURES: &[(&str, InputFormat)] = &[
    ("ecs.jsonl", InputFormat::Ecs),
    ("ocsf.jsonl", InputFormat::Ocsf),
    ("cef.log", InputFormat::Cef),
    ("leef.log", InputFormat::Leef),
    ("pgaudit.log", InputFormat::Pgaudit),
    ("pgaudit.csv", InputFormat::PgauditCsv),
    ("mysql-percona.jsonl", InputFormat::Mysql),
    ("mysql-filter.json", InputFormat::Mysql),
];

#[test]
fn ecs_fixture() {
    let (e, _) = events(InputFormat::Ecs, "ecs.jsonl");
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].user.as_str(), e[0].resource.as_str(), e[0].rows),
        ("mreyes", "support.customers", 12)
    );
    assert_eq!(e[0].source.as_deref(), Some("10.0.0.1"));
    assert_eq!(e[1].resource, "billing.invoices");
    assert_eq!(e[1].outcome, Outcome::Failure);
    assert_eq!(e[1].rows, 3);
    assert_eq!(e[2].resource, "public.customers");
    assert_eq!(e[2].action, "select");
}

#[test]
fn ocsf_fixture() {
    let (e, _) = events(InputFormat::Ocsf, "ocsf.jsonl");
    assert_eq!(e.len(), 4);
    assert_eq!(
        (
            e[0].action.as_str(),
            e[0].resource.as_str(),
            e[0].rows,
            e[0].bytes
        ),
        ("read", "support.customers", 12, Some(5120))
    );
    assert_eq!(e[0].time_ms, 1_767_621_791_250);
    assert_eq!(
        (e[1].action.as_str(), e[1].resource.as_str()),
        ("query", "hr.salaries")
    );
    assert_eq!(e[1].outcome, Outcome::Failure);
    assert_eq!(e[2].resource, "exports/customers.csv");
    assert_eq!(e[3].resource, "exports/tickets.csv");
}

#[test]
fn cef_fixture() {
    let (e, _) = events(InputFormat::Cef, "cef.log");
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].user.as_str(), e[0].resource.as_str(), e[0].rows),
        ("mreyes", "support.customers", 12)
    );
    assert_eq!(
        (e[1].user.as_str(), e[1].resource.as_str()),
        ("jdoe", "billing.invoices")
    );
    assert_eq!(e[1].rows, 3, "cnt is the rows when no rows label is given");
    assert_eq!(e[1].time_ms, 1_767_621_840_000);
    assert_eq!(e[2].resource, "hr.salaries");
    assert_eq!(
        e[2].time_ms, 1_767_621_900_000,
        "time from the RFC 5424 header"
    );
    assert_eq!(e[2].action, "detected a | in message");
}

#[test]
fn leef_fixture() {
    let (e, _) = events(InputFormat::Leef, "leef.log");
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].user.as_str(), e[0].resource.as_str(), e[0].rows),
        ("mreyes", "support.customers", 12)
    );
    assert_eq!((e[1].user.as_str(), e[1].rows), ("jdoe", 3));
    assert_eq!(e[1].time_ms, 1_767_621_840_000);
    assert_eq!(
        (e[2].user.as_str(), e[2].resource.as_str()),
        ("svc", "hr.salaries")
    );
    assert_eq!(e[2].action, "delete");
}

#[test]
fn pgaudit_stderr_fixture() {
    let (e, skipped) = events(InputFormat::Pgaudit, "pgaudit.log");
    let got: Vec<(&str, &str, &str, u64)> = e
        .iter()
        .map(|e| {
            (
                e.user.as_str(),
                e.action.as_str(),
                e.resource.as_str(),
                e.rows,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("mreyes", "create table", "public.account", 1),
            ("mreyes", "select", "support.account", 1),
            ("jdoe", "select", "public.account", 25),
            ("jdoe", "select", "public.account_role_map", 25),
        ]
    );
    assert_eq!(skipped, 2, "the startup line and the SET naming no table");
}

#[test]
fn pgaudit_csvlog_fixture() {
    let (e, skipped) = events(InputFormat::PgauditCsv, "pgaudit.csv");
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].user.as_str(), e[0].resource.as_str(), e[0].rows),
        ("mreyes", "support.customers", 12)
    );
    assert_eq!(e[0].source.as_deref(), Some("10.0.0.1"));
    assert_eq!((e[1].action.as_str(), e[1].rows), ("update", 3));
    assert_eq!(skipped, 1);
}

#[test]
fn mysql_fixtures() {
    let (e, skipped) = events(InputFormat::Mysql, "mysql-percona.jsonl");
    let got: Vec<(&str, &str, u64)> = e
        .iter()
        .map(|e| (e.user.as_str(), e.resource.as_str(), e.rows))
        .collect();
    assert_eq!(
        got,
        [
            ("mreyes", "support.customers", 12),
            ("mreyes", "support.tickets", 12),
            ("root", "billing.invoices", 1),
        ]
    );
    assert_eq!(e[2].outcome, Outcome::Failure);
    assert_eq!(skipped, 2, "connect and SET");
    let (e, skipped) = events(InputFormat::Mysql, "mysql-filter.json");
    let got: Vec<(&str, &str, &str, u64)> = e
        .iter()
        .map(|e| {
            (
                e.user.as_str(),
                e.action.as_str(),
                e.resource.as_str(),
                e.rows,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("root", "create_table", "t1", 1),
            ("app", "select", "shop.orders", 250),
            ("app", "read", "shop.customers", 1),
        ]
    );
    assert_eq!(e[1].bytes, Some(8192));
    assert_eq!(skipped, 2, "the audit start and the general/log duplicate");
}

#[test]
fn auto_detects_every_fixture() {
    for (name, format) in FIXTURES {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let (want, _) = parse(*format, &text);
        let mut auto = AutoParser::new(FormatsConfig::default());
        let (got, _) = parse_with(&mut auto, &text).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn malformed_lines_name_line_and_field() {
    let cases: &[(InputFormat, &str, u64, Option<&str>)] = &[
        (
            InputFormat::Ecs,
            "{\"@timestamp\":\"2026-01-05T14:03:11Z\",\"event.action\":\"select\",\"db.sql.table\":\"t\"}",
            1,
            Some("user.name"),
        ),
        (
            InputFormat::Ecs,
            "{\"@timestamp\":\"soon\",\"user.name\":\"a\",\"event.action\":\"s\",\"db.sql.table\":\"t\"}",
            1,
            Some("@timestamp"),
        ),
        (
            InputFormat::Ecs,
            "\n{\"@timestamp\":1,\"user.name\":\"a\",\"event.action\":\"s\",\"db.sql.table\":\"t\",\"db.response.returned_rows\":-1}",
            2,
            Some("db.response.returned_rows"),
        ),
        (InputFormat::Ecs, "{not json", 1, None),
        (
            InputFormat::Ocsf,
            "{\"class_uid\":6005,\"activity_id\":1,\"time\":\"x\",\"actor\":{\"user\":{\"name\":\"a\"}},\"table\":{\"name\":\"t\"}}",
            1,
            Some("time"),
        ),
        (
            InputFormat::Ocsf,
            "{\"class_uid\":6005,\"activity_id\":55,\"time\":1,\"actor\":{\"user\":{\"name\":\"a\"}},\"table\":{\"name\":\"t\"}}",
            1,
            Some("activity_id"),
        ),
        (InputFormat::Ocsf, "{\"time\":1}", 1, Some("class_uid")),
        (
            InputFormat::Cef,
            "CEF:0|a|b|1|2|n|3|rt=1 suser=u act=select",
            1,
            Some("table"),
        ),
        (
            InputFormat::Cef,
            "CEF:0|a|b|1|2|n|3|rt=yesterday suser=u cs1Label=table cs1=t",
            1,
            Some("rt"),
        ),
        (
            InputFormat::Cef,
            "CEF:0|a|b|1|2|n|3|rt=1 suser=u cs1Label=table cs1=t cn1Label=rows cn1=many",
            1,
            Some("cn1"),
        ),
        (InputFormat::Cef, "CEF:0|only|three", 1, None),
        (
            InputFormat::Leef,
            "LEEF:3.0|a|b|1|e|usrName=u",
            1,
            Some("version"),
        ),
        (
            InputFormat::Leef,
            "LEEF:1.0|a|b|1|e|devTime=1\tresource=t",
            1,
            Some("usrName"),
        ),
        (
            InputFormat::Pgaudit,
            "2026-01-05 14:03:11 UTC [1] a@db LOG:  AUDIT: SESSION,1",
            1,
            None,
        ),
        (
            InputFormat::Pgaudit,
            "2026-01-05 14:03:11 Mars/Base [1] a@db LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,s.t,select 1,<none>",
            1,
            Some("log_time"),
        ),
        (
            InputFormat::Pgaudit,
            "2026-01-05 14:03:11 UTC [1] a@db LOG:  AUDIT: WHAT,1,1,READ,SELECT,TABLE,s.t,select 1,<none>",
            1,
            Some("audit_type"),
        ),
        (
            InputFormat::PgauditCsv,
            "2026-01-05 14:03:11 UTC,a,b",
            1,
            None,
        ),
        (
            InputFormat::Mysql,
            "{\"audit_record\":{\"name\":\"Query\",\"timestamp\":\"later\",\"user\":\"u\",\"sqltext\":\"select * from t\"}}",
            1,
            Some("timestamp"),
        ),
        (InputFormat::Mysql, "garbage", 1, None),
        (
            InputFormat::Mysql,
            "{\"audit_record\":{\"name\":\"Query\"",
            1,
            None,
        ),
    ];
    for (format, text, line, field) in cases {
        let (out, _) = parse(*format, text);
        let err = out
            .iter()
            .find_map(|r| r.as_ref().err())
            .unwrap_or_else(|| panic!("{format:?} accepted {text:?}: {out:?}"));
        assert_eq!(err.line, *line, "{format:?} {text:?}: {err}");
        assert_eq!(err.field.as_deref(), *field, "{format:?} {text:?}: {err}");
        assert!(
            err.to_string().starts_with(&format!("line {line}: ")),
            "{err}"
        );
    }
}

/// A deterministic stream of pseudo-random numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mangled_fixtures_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut variants = 0usize;
    for (name, format) in FIXTURES {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let mut inputs: Vec<Vec<u8>> = (0..=bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for _ in 0..300 {
            let mut m = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() % m.len() as u64) as usize;
                m[i] = match rng.next() % 4 {
                    0 => rng.next() as u8,
                    1 => b'|',
                    2 => b'"',
                    _ => m[i] ^ (1 << (rng.next() % 8)),
                };
            }
            inputs.push(m);
        }
        for input in inputs {
            let text = String::from_utf8_lossy(&input);
            let mut p = parser_for(*format, &FormatsConfig::default()).unwrap();
            let _ = parse_with(p.as_mut(), &text);
            let mut auto = AutoParser::new(FormatsConfig::default());
            let _ = parse_with(&mut auto, &text);
            variants += 1;
        }
    }
    assert!(variants > 5000, "{variants}");
}

#[test]
fn cli_reads_every_format_and_writes_every_output() {
    for (name, _) in FIXTURES {
        for out in ["jsonl", "ecs", "ocsf", "hec", "cef"] {
            let f = fixture(name);
            let o = ueba(&["score", f.to_str().unwrap(), "--output-format", out]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{name} {out}: {err}");
            assert!(err.contains("invalid lines 0"), "{name}: {err}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let amb = dir.path().join("amb.jsonl");
    std::fs::write(&amb, "{\"@timestamp\":1,\"class_uid\":6005}\n").unwrap();
    let o = ueba(&["score", amb.to_str().unwrap(), "-q"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--format"), "{err}");
    let o = ueba(&[
        "score",
        amb.to_str().unwrap(),
        "-q",
        "--syslog",
        "udp://127.0.0.1:9",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--output-format cef"));
    // Alerts go to one place: a file beside syslog or HEC is refused at
    // once, not found missing when the first checkpoint looks for it.
    for to in [
        ["--syslog", "udp://127.0.0.1:9", "--output-format", "cef"],
        ["--hec-url", "http://127.0.0.1:9", "--output-format", "hec"],
    ] {
        let o = ueba(
            &[
                &["score", amb.to_str().unwrap(), "-q", "-o", "a.out"],
                &to[..],
            ]
            .concat(),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot be used with"), "{err}");
    }
}

fn alert() -> Alert {
    let mut evidence = serde_json::Map::new();
    evidence.insert("rows".into(), 50000.into());
    Alert {
        id: "0123456789abcdef0123456789abcdef".into(),
        incident: "i-0123456789abcdef0123456789abcdef".into(),
        time: "2026-01-05T14:03:11.250Z".into(),
        user: "mreyes".into(),
        peer_group: None,
        score: 95.0,
        base_score: None,
        modifiers: Vec::new(),
        threshold: 60.0,
        kind: "new",
        detectors: serde_json::Map::new(),
        findings: vec![AlertFinding {
            detector: "volume".into(),
            score: 95.0,
            time: "2026-01-05T14:03:11.250Z".into(),
            reason: "read 50000 rows".into(),
            evidence,
            resource: "support.customers".into(),
            action: "select".into(),
            source: None,
            event: 1,
            criticality: None,
            tail: None,
        }],
    }
}

/// Read one HTTP request from `stream` and answer `status`: the request
/// head and body.
fn answer(stream: TcpStream, status: &str) -> (String, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut r = BufReader::new(stream);
    let mut head = String::new();
    let mut len = 0usize;
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        head.push_str(&l);
        if l == "\r\n" || l.is_empty() {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{{\"text\":\"Success\",\"code\":0}}"
    );
    r.get_mut().write_all(reply.as_bytes()).unwrap();
    (head, String::from_utf8(body).unwrap())
}

/// Serve one HTTP request on 127.0.0.1 and answer `status`; returns the
/// address and a handle yielding the request head and body.
fn one_request(status: &'static str) -> (String, std::thread::JoinHandle<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || answer(listener.accept().unwrap().0, status));
    (addr, handle)
}

/// Serve HTTP requests on 127.0.0.1, answering 200, until one for `/stop`;
/// returns the address and a handle yielding the other requests' heads.
fn requests_until_stop() -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let mut heads = Vec::new();
        loop {
            let (head, _) = answer(listener.accept().unwrap().0, "200 OK");
            if head.starts_with("GET /stop ") {
                return heads;
            }
            heads.push(head);
        }
    });
    (addr, handle)
}

fn stop(addr: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /stop HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
}

#[test]
fn hec_tokens_come_from_a_file_or_the_environment_never_an_argument_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = ueba(&["gen", "--users", "60", "--days", "21", "--out", d]);
    assert!(out.status.success());
    let events = dir.path().join("events.jsonl");
    let ids = dir.path().join("identities.csv");
    let score = |hec_url: &str, extra: &[&str], env: Option<&str>| {
        let mut cmd = crate::util::ueba_cmd();
        cmd.args([
            "score",
            events.to_str().unwrap(),
            "-i",
            ids.to_str().unwrap(),
        ])
        .args(["-q", "--output-format", "hec", "--hec-url", hec_url])
        .args(extra)
        .env_remove("UEBA_HEC_TOKEN");
        if let Some(token) = env {
            cmd.env("UEBA_HEC_TOKEN", token);
        }
        cmd.output().unwrap()
    };

    // From a file (its newline trimmed), then from the environment.
    let file = dir.path().join("hec.token");
    std::fs::write(&file, "s3cret-file\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    for (extra, env, token) in [
        (
            vec!["--hec-token-file", file.to_str().unwrap()],
            None,
            "s3cret-file",
        ),
        (vec![], Some("s3cret-env"), "s3cret-env"),
    ] {
        let (addr, server) = requests_until_stop();
        let o = score(&format!("http://{addr}"), &extra, env);
        stop(&addr);
        let heads = server.join().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!heads.is_empty(), "the organisation's alerts were posted");
        let auth = format!("uthorization: Splunk {token}\r\n");
        assert!(heads.iter().all(|h| h.contains(&auth)), "{heads:?}");
    }

    // No token: a clear error before anything is scored.
    let o = score("http://127.0.0.1:9", &[], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("--hec-token-file") && err.contains("UEBA_HEC_TOKEN"),
        "{err}"
    );
    // Both a file and the environment: which one was meant is unclear.
    let o = score(
        "http://127.0.0.1:9",
        &["--hec-token-file", file.to_str().unwrap()],
        Some("other"),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("use one"), "{err}");
    // An empty file is refused by name.
    std::fs::write(&file, "\n").unwrap();
    let o = score(
        "http://127.0.0.1:9",
        &["--hec-token-file", file.to_str().unwrap()],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("HEC token must not be empty"), "{err}");
}

#[test]
fn hec_posts_batches_with_the_token() {
    let (addr, server) = one_request("200 OK");
    let mut sink = HecPost::new(&format!("http://{addr}"), "s3cret", "h1".into()).unwrap();
    sink.emit(&alert()).unwrap();
    sink.emit(&alert()).unwrap();
    sink.flush().unwrap();
    let (head, body) = server.join().unwrap();
    assert!(
        head.starts_with("POST /services/collector/event "),
        "{head}"
    );
    assert!(
        head.contains("Authorization: Splunk s3cret\r\n")
            || head.contains("authorization: Splunk s3cret\r\n"),
        "{head}"
    );
    let docs: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "both alerts in one request");
    assert_eq!(docs[0]["sourcetype"], "ueba:alert");
    assert_eq!(docs[0]["host"], "h1");
    assert_eq!(docs[0]["event"]["findings"][0]["evidence"]["rows"], 50000);
}

#[test]
fn hec_non_2xx_is_a_clear_error() {
    let (addr, server) = one_request("403 Forbidden");
    let mut sink = HecPost::new(
        &format!("http://{addr}/services/collector"),
        "bad",
        "h".into(),
    )
    .unwrap();
    sink.emit(&alert()).unwrap();
    let err = sink.flush().unwrap_err().to_string();
    server.join().unwrap();
    assert!(err.contains("403"), "{err}");
    assert!(err.contains("Success"), "the body is quoted: {err}");
}

#[test]
fn cef_to_syslog_over_udp_and_tcp() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink =
        Syslog::connect(&format!("udp://{}", udp.local_addr().unwrap()), "h1".into()).unwrap();
    sink.emit(&alert()).unwrap();
    let mut buf = [0u8; 65536];
    let n = udp.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(
        msg.starts_with("<106>1 2026-01-05T14:03:11.250Z h1 ueba "),
        "{msg}"
    );
    assert!(msg.contains("CEF:0|ueba|ueba|"), "{msg}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        String::from_utf8(all).unwrap()
    });
    let mut sink = Syslog::connect(&format!("tcp://{addr}"), "h1".into()).unwrap();
    sink.emit(&alert()).unwrap();
    sink.emit(&alert()).unwrap();
    sink.flush().unwrap();
    drop(sink);
    let got = server.join().unwrap();
    let mut rest = got.as_str();
    let mut frames = 0;
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        assert!(tail[..len].starts_with("<106>1 "), "{tail}");
        rest = &tail[len..];
        frames += 1;
    }
    assert_eq!(frames, 2, "octet-counted frames");
}

/// A CSV export of a generated workstation log, CERT-style (`id,date,user,
/// pc,activity,object`, US dates), with the config that reads it.
fn csv_export(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let d = dir.to_str().unwrap();
    let out = ueba(&[
        "gen",
        "--shape",
        "workstation",
        "--users",
        "60",
        "--days",
        "14",
        "--out",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = dir.join("events.jsonl");
    let mut csv = String::from("id,date,user,pc,activity,object\n");
    for (i, line) in std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .enumerate()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t: jiff::Timestamp = v["timestamp"].as_str().unwrap().parse().unwrap();
        let date = t.strftime("%m/%d/%Y %H:%M:%S%.3f");
        let field = |k: &str| v[k].as_str().unwrap().to_string();
        csv.push_str(&format!(
            "\"{{{i:08X}}}\",{date},{},{},{},{}\n",
            field("user"),
            field("source"),
            field("action"),
            field("resource"),
        ));
    }
    let csv_path = dir.join("events.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let config = dir.join("ueba.toml");
    std::fs::write(
        &config,
        "[formats.mapping]\nresource = \"object\"\nsource = \"pc\"\n\n\
         [formats.csv]\ntime_format = \"%m/%d/%Y %H:%M:%S%.f\"\n",
    )
    .unwrap();
    (events, csv_path, config, dir.join("identities.csv"))
}

#[test]
fn a_csv_export_scores_as_the_same_log_in_json_lines_and_resumes_past_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let (events, csv, config, ids) = csv_export(dir.path());
    let labels = dir.path().join("labels.json");
    let p = |n: &str| dir.path().join(n);
    let score = |input: &std::path::Path, out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "score",
            input.to_str().unwrap(),
            "-i",
            ids.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = ueba(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    score(&events, &p("json-alerts.jsonl"), &[]);
    score(&csv, &p("csv-alerts.jsonl"), &["--format", "csv"]);
    let want = std::fs::read_to_string(p("json-alerts.jsonl")).unwrap();
    assert!(!want.is_empty(), "the generated log alerts");
    assert_eq!(
        std::fs::read_to_string(p("csv-alerts.jsonl")).unwrap(),
        want
    );

    // The export arrives in two parts: the second run resumes after the
    // first's last line, past the header, and ends with the same alerts.
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let growing = p("growing.csv");
    std::fs::write(&growing, lines[..half].join("\n") + "\n").unwrap();
    let state = p("state");
    let with_state = ["--format", "csv", "--state", state.to_str().unwrap()];
    score(&growing, &p("resumed.jsonl"), &with_state);
    std::fs::write(&growing, lines.join("\n") + "\n").unwrap();
    score(&growing, &p("resumed.jsonl"), &with_state);
    assert_eq!(std::fs::read_to_string(p("resumed.jsonl")).unwrap(), want);

    // `ueba eval` reads the export as it reads the JSON lines.
    let eval = |input: &std::path::Path, json: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--events",
            input.to_str().unwrap(),
            "-i",
            ids.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = ueba(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(json).unwrap()
    };
    assert_eq!(
        eval(&csv, &p("csv-eval.json"), &["--format", "csv"]),
        eval(&events, &p("json-eval.json"), &[])
    );
}
