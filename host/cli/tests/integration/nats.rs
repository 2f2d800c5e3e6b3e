//! `ueba publish`, `ueba worker` and `ueba score --partition` against a
//! real NATS JetStream server. Skipped (passing, with a note) when no
//! `nats-server` is on PATH; `scripts/nats-e2e` installs one and runs the
//! full end to end with a killed worker.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::ueba;

/// `nats-server` on PATH, if any.
fn nats_server() -> Option<PathBuf> {
    on_path("nats-server")
}

/// The program `name` on PATH, if any.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A loopback port nothing listens on (as of asking).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `dir/one.jsonl`, holding one event: what the credential tests publish.
fn one_event(dir: &Path) -> PathBuf {
    let events = dir.join("one.jsonl");
    std::fs::write(
        &events,
        "{\"timestamp\":\"2026-01-05T09:00:00Z\",\"user\":\"alice\",\"action\":\"select\",\"resource\":\"t\"}\n",
    )
    .unwrap();
    events
}

/// A throwaway JetStream server, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(bin: &Path, store: &Path) -> Server {
        Server::start_on(bin, store, free_port())
    }

    /// A server on `port` with its store in `store` (a restart keeps the
    /// streams and buckets).
    fn start_on(bin: &Path, store: &Path, port: u16) -> Server {
        Server::start_with(bin, store, port, &[])
    }

    /// [`Server::start_on`] with more `nats-server` arguments.
    fn start_with(bin: &Path, store: &Path, port: u16, extra: &[&str]) -> Server {
        let child = Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let server = Server {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway server with its store in a fresh directory, or `None` (the
/// test passes with a note) when no `nats-server` is on PATH.
fn server_or_skip() -> Option<(Server, tempfile::TempDir)> {
    let Some(bin) = nats_server() else {
        eprintln!("skipped: no nats-server on PATH (scripts/nats-e2e installs one)");
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&bin, &dir.path().join("js"));
    Some((server, dir))
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A password in a NATS URL never reaches a message: every command that
/// takes `--nats` names the server with its user information hidden. No
/// server is needed: the port refuses the connection.
#[test]
fn a_nats_password_is_never_printed() {
    let port = free_port();
    let url = format!("nats://alice:s3cret@127.0.0.1:{port}");
    let commands: [&[&str]; 4] = [
        &["explain", "someone", "--nats", &url],
        &["worker", "--nats", &url, "--exit-when-idle", "1"],
        &["feedback", "--nats", &url, "some-alert", "benign"],
        &["publish", "--nats", &url, "--partitions", "2", "/dev/null"],
    ];
    for args in commands {
        let out = ueba(args);
        assert!(!out.status.success(), "{args:?}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("s3cret") && !text.contains("alice"),
            "{args:?}: {text}"
        );
        assert!(
            text.contains(&format!("nats://***@127.0.0.1:{port}")),
            "{args:?}: {text}"
        );
    }
}

/// A server that wants a token or a user and password is reached with
/// them from a file or the environment, never from an argument; without
/// them, or with wrong ones, every command fails naming the server and
/// no secret.
#[test]
fn credentials_come_from_files_or_the_environment() {
    let Some(bin) = nats_server() else {
        eprintln!("skipped: no nats-server on PATH (scripts/nats-e2e installs one)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("nats.token");
    std::fs::write(&token_file, "t0ken-s3cret\n").unwrap();
    let password_file = dir.path().join("nats.password");
    std::fs::write(&password_file, "pa55-s3cret\n").unwrap();
    let events = one_event(dir.path());
    let publish = |url: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = crate::util::ueba_cmd();
        cmd.args(["publish", "--nats", url, "--partitions", "2"])
            .args(extra)
            .arg(&events)
            .env_remove("UEBA_NATS_TOKEN")
            .env_remove("UEBA_NATS_PASSWORD");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("s3cret"), "{text}");
        (out.status.success(), text)
    };

    let port = free_port();
    let _token_server = Server::start_with(
        &bin,
        &dir.path().join("js-token"),
        port,
        &["--auth", "t0ken-s3cret"],
    );
    let url = format!("nats://127.0.0.1:{port}");
    let (ok_file, text) = publish(
        &url,
        &["--nats-token-file", token_file.to_str().unwrap()],
        &[],
    );
    assert!(ok_file && text.contains("published 1 events"), "{text}");
    let (ok_env, text) = publish(&url, &[], &[("UEBA_NATS_TOKEN", "t0ken-s3cret")]);
    assert!(ok_env, "{text}");
    let (ok_none, text) = publish(&url, &[], &[]);
    assert!(!ok_none && text.contains(&url), "{text}");
    let (ok_wrong, _) = publish(&url, &[], &[("UEBA_NATS_TOKEN", "wrong")]);
    assert!(!ok_wrong);

    let port = free_port();
    let _user_server = Server::start_with(
        &bin,
        &dir.path().join("js-user"),
        port,
        &["--user", "alice", "--pass", "pa55-s3cret"],
    );
    let url = format!("nats://127.0.0.1:{port}");
    let file = password_file.to_str().unwrap();
    // The workers benchmark (first, as it wants a server without ueba's
    // streams) starts a publisher and workers of its own: they are given
    // the same credentials, and score every event.
    let out = crate::util::ueba_cmd()
        .args(["bench", "--nats", &url, "--users", "20", "--reps", "1"])
        .args(["--nats-user", "alice", "--nats-password-file", file])
        .env_remove("UEBA_NATS_TOKEN")
        .env_remove("UEBA_NATS_PASSWORD")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("events/s") && !text.contains("s3cret"),
        "{text}"
    );

    let (ok_file, text) = publish(
        &url,
        &["--nats-user", "alice", "--nats-password-file", file],
        &[],
    );
    assert!(ok_file, "{text}");
    let (ok_env, text) = publish(
        &url,
        &["--nats-user", "alice"],
        &[("UEBA_NATS_PASSWORD", "pa55-s3cret")],
    );
    assert!(ok_env, "{text}");
    let (ok_no_password, text) = publish(&url, &["--nats-user", "alice"], &[]);
    assert!(
        !ok_no_password && text.contains("UEBA_NATS_PASSWORD"),
        "{text}"
    );

    // A credentials file that is not there is named before connecting.
    let (ok_creds, text) = publish(&url, &["--nats-creds", "/nonexistent/u.creds"], &[]);
    assert!(!ok_creds && text.contains("/nonexistent/u.creds"), "{text}");
}

/// Run `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate authority `ca.pem`, and `NAME.pem`/`NAME.key` it signed
/// for the server (for 127.0.0.1) and a client, in `dir`.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ueba test CA",
    ]);
    openssl(dir, &ca);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for name in ["server", "client"] {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

/// A server whose certificate a private CA signed, and which wants a
/// client certificate, is reached with --nats-tls-ca and
/// --nats-tls-cert/--nats-tls-key; without either, connecting fails.
#[test]
fn a_private_ca_and_a_client_certificate_reach_a_tls_server() {
    let (Some(bin), Some(_)) = (nats_server(), on_path("openssl")) else {
        eprintln!(
            "skipped: no nats-server or openssl on PATH (scripts/nats-e2e installs nats-server)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    certificates(d);
    let port = free_port();
    let file = |name: &str| d.join(name).display().to_string();
    let _server = Server::start_with(
        &bin,
        &d.join("js"),
        port,
        &[
            "--tls",
            "--tlscert",
            &file("server.pem"),
            "--tlskey",
            &file("server.key"),
            "--tlsverify",
            "--tlscacert",
            &file("ca.pem"),
        ],
    );
    let events = one_event(d);
    let url = format!("nats://127.0.0.1:{port}");
    let publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--nats", &url, "--partitions", "2"];
        args.extend_from_slice(extra);
        args.push(events.to_str().unwrap());
        let out = ueba(&args);
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), text)
    };
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client.key"));
    let (ok_all, text) = publish(&[
        "--nats-tls-ca",
        &ca,
        "--nats-tls-cert",
        &cert,
        "--nats-tls-key",
        &key,
    ]);
    assert!(ok_all && text.contains("published 1 events"), "{text}");
    let (ok_no_client, text) = publish(&["--nats-tls-ca", &ca]);
    assert!(!ok_no_client && text.contains(&url), "{text}");
    let (ok_no_ca, text) = publish(&["--nats-tls-cert", &cert, "--nats-tls-key", &key]);
    assert!(!ok_no_ca && text.contains(&url), "{text}");
    let (ok_missing, text) = publish(&["--nats-tls-ca", "/nonexistent/ca.pem"]);
    assert!(
        !ok_missing && text.contains("/nonexistent/ca.pem"),
        "{text}"
    );
}

/// `ueba gen` of 40 users over 14 days with `seed`, into `dir/gen`:
/// the events and identities files.
fn generated(dir: &Path, seed: &str) -> (String, String) {
    let out = dir.join("gen").display().to_string();
    ok(
        &ueba(&[
            "gen", "--users", "40", "--days", "14", "--seed", seed, "--out", &out,
        ]),
        "gen",
    );
    (
        format!("{out}/events.jsonl"),
        format!("{out}/identities.csv"),
    )
}

/// The first alert on the server's alerts stream, as `ueba worker
/// --dump-alerts` writes it (into `dir/first-alert.jsonl`).
fn first_alert(url: &str, dir: &Path) -> serde_json::Value {
    let dumped = dir.join("first-alert.jsonl");
    let arg = dumped.display().to_string();
    ok(
        &ueba(&["worker", "--nats", url, "--dump-alerts", &arg]),
        "dump",
    );
    let text = std::fs::read_to_string(&dumped).unwrap();
    serde_json::from_str(text.lines().next().expect("an alert on the stream")).unwrap()
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// The alerts on the server's alerts stream, written to `dir/got.jsonl`,
/// must equal, as sorted JSON lines, the union of `ueba score --partition
/// p/P` over the same events: nothing lost, nothing twice. Returns them.
fn alerts_equal_the_partitions(
    url: &str,
    dir: &Path,
    events: &str,
    ids: &str,
    partitions: u32,
) -> Vec<String> {
    records_equal_the_partitions("alerts", url, dir, events, ids, partitions)
}

/// The same for `kind` (`alerts`, `incidents` or `findings`): the stream
/// dumped with `--dump-KIND`, the reference written by `ueba score -o` for
/// alerts and `--KIND` for the others.
fn records_equal_the_partitions(
    kind: &str,
    url: &str,
    dir: &Path,
    events: &str,
    ids: &str,
    partitions: u32,
) -> Vec<String> {
    let got = dir.join(format!("got-{kind}.jsonl"));
    let dump = format!("--dump-{kind}");
    ok(
        &ueba(&["worker", "--nats", url, &dump, got.to_str().unwrap()]),
        "dump",
    );
    let mut expected = Vec::new();
    for p in 0..partitions {
        let file = dir.join(format!("ref-{kind}-{p}.jsonl"));
        let alerts = dir.join(format!("ref-alerts-{kind}-{p}.jsonl"));
        let part = format!("{p}/{partitions}");
        let to = if kind == "alerts" {
            "-o".to_string()
        } else {
            format!("--{kind}")
        };
        let mut args = vec!["score", "-q", "-i", ids, "--partition", &part];
        args.extend([to.as_str(), file.to_str().unwrap()]);
        if kind != "alerts" {
            args.extend(["-o", alerts.to_str().unwrap()]);
        }
        args.push(events);
        ok(&ueba(&args), "score --partition");
        expected.extend(sorted_lines(&file));
    }
    expected.sort();
    assert!(!expected.is_empty(), "the reference has no {kind}");
    assert_eq!(sorted_lines(&got), expected, "{kind}");
    expected
}

#[test]
fn one_worker_publishes_what_score_partition_computes() {
    let Some((server, dir)) = server_or_skip() else {
        return;
    };
    let d = |name: &str| dir.path().join(name).display().to_string();
    let url = server.url.as_str();

    let out = ueba(&["worker", "--nats", url, "--exit-when-idle", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `ueba publish"));
    let out = ueba(&["explain", "someone", "--nats", url]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `ueba publish"));

    let (events, ids) = generated(dir.path(), "3");
    ok(
        &ueba(&["publish", "--nats", url, "--partitions", "2", &events]),
        "publish",
    );
    let out = ueba(&["publish", "--nats", url, "--partitions", "3", &events]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds 2 partitions, not 3"));
    let out = ueba(&[
        "worker",
        "--nats",
        url,
        "--partitions",
        "2",
        "--exit-when-idle",
        "1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("partition 2 does not exist"));

    // Messages that are no event, published by anyone who can: skipped,
    // every one counted, the alerts unchanged.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
        let garbage: [&[u8]; 8] = [
            b"",
            b"not json",
            b"[1,2,3]",
            b"{\"timestamp\":\"soon\",\"user\":\"u\",\"action\":\"a\",\"resource\":\"r\"}",
            b"{\"timestamp\":\"2026-01-05T09:00:00Z\",\"user\":\"u\",\"action\":\"a\",\"resource\":\"r\",\"rows\":-1}",
            b"\xff\xfe invalid utf-8",
            b"{\"timestamp\":1,\"user\":\"u\"}",
            b"{{{{{{{{{{",
        ];
        for payload in garbage {
            js.publish("ueba.events.0", payload.to_vec().into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    });
    let summary_file = d("worker-summary.json");

    // The one worker, named so that a later run takes its partitions back.
    let solo = |more: &[&str], what: &str| {
        let mut args = vec!["worker", "--nats", url, "--name", "solo", "-i", &ids];
        args.extend_from_slice(more);
        ok(&ueba(&args), what);
    };
    solo(
        &[
            "--checkpoint-events",
            "1000",
            "--exit-when-idle",
            "2",
            "--incidents",
            "--findings",
            "--summary",
            &summary_file,
        ],
        "worker",
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_file).unwrap()).unwrap();
    assert_eq!(summary["invalid"], 8, "{summary}");
    let kinds = ["alerts", "incidents", "findings"];
    let expected: Vec<Vec<String>> = kinds
        .iter()
        .map(|kind| records_equal_the_partitions(kind, url, dir.path(), &events, &ids, 2))
        .collect();

    // A second run finds everything checkpointed and acked: nothing new,
    // nothing twice.
    solo(
        &["--exit-when-idle", "1", "--incidents", "--findings"],
        "second worker run",
    );
    for (kind, want) in kinds.iter().zip(&expected) {
        let got = d(&format!("again-{kind}.jsonl"));
        let dump = format!("--dump-{kind}");
        ok(&ueba(&["worker", "--nats", url, &dump, &got]), "dump");
        assert_eq!(&sorted_lines(Path::new(&got)), want, "{kind}");
    }

    explain_reads_the_partition_checkpoint(url, dir.path(), &events, &ids, &expected[0]);

    // The benchmark creates and deletes ueba's streams: it refuses a server
    // that holds them.
    let out = ueba(&["bench", "--nats", url, "--users", "20", "--reps", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds UEBA_EVENTS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ueba explain USER --nats URL` on the first alerted user of `alerts`
/// (the workers' final checkpoints stored) says what `ueba explain USER
/// --state` says of a `ueba score --partition` run's checkpoint, and a user
/// the state has nothing on is an error naming them.
fn explain_reads_the_partition_checkpoint(
    url: &str,
    dir: &Path,
    events: &str,
    ids: &str,
    alerts: &[String],
) {
    let first: serde_json::Value =
        serde_json::from_str(alerts.first().expect("the log has alerts")).unwrap();
    let user = first["user"].as_str().unwrap();
    let p = ueba_engine::pipeline::shard_of(user, 2);
    let out = ueba(&["explain", user, "--nats", url, "-i", ids]);
    ok(&out, "explain --nats");
    let got = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(got.starts_with(&format!("{user}: peak risk ")), "{got}");
    assert!(
        got.contains(&format!("(from partition {p} of 2 on {url}")),
        "{got}"
    );

    let state = dir.join(format!("state-{p}")).display().to_string();
    let part = format!("{p}/2");
    ok(
        &ueba(&[
            "score",
            "-q",
            "-i",
            ids,
            "--partition",
            &part,
            "--state",
            &state,
            "-o",
            "/dev/null",
            events,
        ]),
        "score --partition --state",
    );
    let out = ueba(&["explain", user, "--state", &state, "-i", ids]);
    ok(&out, "explain --state");
    let want = String::from_utf8_lossy(&out.stdout).to_string();
    let without_source = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("(from "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(without_source(&got), without_source(&want));

    let out = ueba(&["explain", "nobody-here", "--nats", url, "-i", ids]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no risk for nobody-here"), "{err}");
}

#[test]
fn the_workers_benchmark_scores_every_event_and_leaves_the_server_empty() {
    let Some((server, _dir)) = server_or_skip() else {
        return;
    };
    let url = server.url.as_str();
    for run in 0..2 {
        let out = ueba(&["bench", "--nats", url, "--users", "20", "--reps", "1"]);
        ok(&out, &format!("bench run {run}"));
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(report.contains("workers on NATS JetStream"), "{report}");
        assert!(report.contains("2 workers / 1 worker"), "{report}");
    }
}

#[test]
fn serve_forwards_to_the_stream_what_a_worker_then_scores() {
    let Some((server, dir)) = server_or_skip() else {
        return;
    };
    let d = |name: &str| dir.path().join(name).display().to_string();
    let url = server.url.as_str();

    // Scoring options belong to the workers; an unreachable server stops
    // start-up before the service listens.
    let state = d("state");
    let out = ueba(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--nats",
        url,
        "--partitions",
        "2",
        "--state",
        &state,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--state belongs to the workers"),
        "{err}"
    );
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let out = ueba(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--nats",
        &dead,
        "--partitions",
        "2",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot connect to NATS"),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");

    let (events, ids) = generated(dir.path(), "5");
    let text = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    let svc = crate::serve::start(&["--nats", url, "--partitions", "2"]);
    assert_eq!(
        crate::serve::post_all(&svc.base, &lines),
        lines.len() as u64
    );
    // Nothing is scored yet: nobody is known, and no incident.
    let (status, body) = crate::serve::get(
        &format!("{}/v1/users/someone", svc.base),
        Some(&crate::serve::bearer()),
    );
    assert_eq!(status, 404, "{body}");
    let (code, log) = svc.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains(&format!("forwarded {} events to NATS", lines.len())),
        "{log}"
    );

    ok(
        &ueba(&["worker", "--nats", url, "-i", &ids, "--exit-when-idle", "2"]),
        "worker",
    );
    let alerts = alerts_equal_the_partitions(url, dir.path(), &events, &ids, 2);

    // A verdict posted to the service is published for the worker owning
    // the alert's user, as `ueba feedback --nats` publishes it.
    let alert = first_alert(url, dir.path());
    let id = alert["id"].as_str().unwrap();
    let svc = crate::serve::start(&["--nats", url, "--partitions", "2"]);

    // A user's risk and the incidents are answered from what the workers
    // wrote at their last checkpoints: the alerted user with as many
    // alerts as the alerts stream holds of theirs, and their incident.
    let user = alert["user"].as_str().unwrap();
    let theirs = alerts
        .iter()
        .filter(|a| serde_json::from_str::<serde_json::Value>(a).unwrap()["user"] == user)
        .count();
    let (status, body) = crate::serve::get(
        &format!("{}/v1/users/{user}", svc.base),
        Some(&crate::serve::bearer()),
    );
    assert_eq!(status, 200, "{body}");
    let summary: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["user"], user, "{body}");
    assert_eq!(summary["alerts"], theirs, "{body}");
    assert!(
        summary["peak"].as_f64().unwrap() >= alert["score"].as_f64().unwrap(),
        "{body}"
    );
    assert!(summary["as_of"].is_string(), "{body}");
    assert!(!summary["kept"].as_array().unwrap().is_empty(), "{body}");
    let incident = summary["incidents"][0]["id"].clone();
    assert!(incident.is_string(), "{body}");
    let (status, body) = crate::serve::get(
        &format!("{}/v1/incidents", svc.base),
        Some(&crate::serve::bearer()),
    );
    assert_eq!(status, 200, "{body}");
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        all["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == incident && i["user"] == user),
        "{body}"
    );
    assert!(
        all["as_of"]["0"].is_string() && all["as_of"]["1"].is_string(),
        "{body}"
    );
    assert_eq!(all["omitted"], 0, "{body}");
    let (status, body) = crate::serve::get(
        &format!("{}/v1/users/nobody-at-all", svc.base),
        Some(&crate::serve::bearer()),
    );
    assert_eq!(status, 404, "{body}");

    let feedback = format!("{}/v1/feedback", svc.base);
    let token = crate::serve::bearer();
    let (status, _, body) = crate::serve::post(
        &feedback,
        Some(&token),
        br#"{"id":"no-such-alert","verdict":"benign"}"#,
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no alert has id `no-such-alert`"), "{body}");
    let verdict =
        format!(r#"{{"id":"{id}","verdict":"benign","note":"a known job","analyst":"ana"}}"#);
    let (status, _, body) = crate::serve::post(&feedback, Some(&token), verdict.as_bytes());
    assert_eq!(status, 200, "{body}");
    let given: serde_json::Value = serde_json::from_str(&body).unwrap();
    let partition = ueba_engine::pipeline::shard_of(alert["user"].as_str().unwrap(), 2);
    assert_eq!(given["id"], id, "{body}");
    assert_eq!(given["verdict"], "benign", "{body}");
    assert_eq!(given["partition"], partition, "{body}");
    assert_eq!(
        given["subject"],
        format!("ueba.verdicts.{partition}"),
        "{body}"
    );
    let (code, log) = svc.terminate();
    assert_eq!(code, Some(0), "{log}");
    let out = ueba(&["worker", "--nats", url, "-i", &ids, "--exit-when-idle", "2"]);
    ok(&out, "worker after the verdict");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("1 new verdicts"), "{log}");
}

#[test]
fn serve_refuses_while_nats_is_away_and_goes_on_when_it_returns() {
    let Some(bin) = nats_server() else {
        eprintln!("skipped: no nats-server on PATH (scripts/nats-e2e installs one)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("js");
    let server = Server::start(&bin, &store);
    let url = server.url.clone();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let line = |i: u32| {
        format!(
            r#"{{"timestamp":"2026-01-05T10:00:{:02}Z","user":"u{i}","action":"select","resource":"support.tickets","rows":1}}"#,
            i % 60
        )
    };
    let svc = crate::serve::start(&["--nats", &url, "--partitions", "1"]);
    let first = line(0);
    assert_eq!(crate::serve::post_all(&svc.base, &[first.as_str()]), 1);

    // The server goes away: the request is refused for the client to send
    // again, and the service stays up.
    drop(server);
    let events = format!("{}/v1/events", svc.base);
    let (status, _, body) =
        crate::serve::post(&events, Some(&crate::serve::bearer()), line(1).as_bytes());
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("send them again"), "{body}");
    // A verdict cannot be published either: refused, to be sent again.
    let (status, _, body) = crate::serve::post(
        &format!("{}/v1/feedback", svc.base),
        Some(&crate::serve::bearer()),
        br#"{"id":"some-alert","verdict":"benign"}"#,
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("send the verdict again"), "{body}");

    // It comes back (same port, same store): the resend is stored.
    let server = Server::start_on(&bin, &store, port);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) =
            crate::serve::post(&events, Some(&crate::serve::bearer()), line(1).as_bytes());
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "still refused: {body}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let metrics = crate::serve::get(
        &format!("{}/metrics", svc.base),
        Some(&crate::serve::bearer()),
    )
    .1;
    let refused = crate::serve::sample(&metrics, "ueba_refused_events_total").unwrap_or(0.0);
    assert!(refused >= 1.0, "{metrics}");
    let (code, log) = svc.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("forwarded 2 events to NATS"), "{log}");
    drop(server);
}

#[test]
fn a_verdict_given_over_nats_is_applied_by_the_worker_owning_the_partition() {
    let Some((server, dir)) = server_or_skip() else {
        return;
    };
    let url = server.url.as_str();
    let (events, ids) = generated(dir.path(), "3");
    // The log in two parts, with the verdict given in between.
    let (second_file, id, user) = first_part_scored(url, dir.path(), &events, &ids);

    let out = ueba(&["feedback", "--nats", url, "no-such-alert", "benign"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no alert has id `no-such-alert`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ueba(&[
        "feedback",
        "--nats",
        url,
        &id,
        "benign",
        "--note",
        "a known job",
        "--analyst",
        "ana",
    ]);
    ok(&out, "feedback --nats");
    let verdict_line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(verdict_line.contains(&id), "{verdict_line}");

    ok(
        &ueba(&["publish", "--nats", url, "--partitions", "2", &second_file]),
        "publish",
    );
    let log = solo_worker(url, &ids, "worker, second part");
    assert!(log.contains("1 new verdicts"), "{log}");
    // Its reader settled it at the time it was given for.
    let mine = ueba_engine::pipeline::shard_of(&user, 2);
    let given: serde_json::Value = serde_json::from_str(&verdict_line).unwrap();
    assert_eq!(
        settled_verdict_time(url, mine),
        Some(ms_of(given["time"].as_str().unwrap()))
    );

    // As `ueba score` applies the same verdict from a verdicts file, over
    // the whole log: the partition of the alert's user with it, the other
    // without.
    streams_equal_scoring_with(dir.path(), url, &events, &ids, &verdict_line, mine, &id);
}

/// A worker that reads a verdict only after scoring past its given time
/// applies it at its next block, and records that time first: the next
/// owner of the partition, replaying from the checkpoint, applies it
/// there too, not at the earlier given time.
#[test]
fn a_verdict_applies_where_its_first_reader_settled_it() {
    let Some((server, dir)) = server_or_skip() else {
        return;
    };
    let url = server.url.as_str();
    let (events, ids) = generated(dir.path(), "3");
    let (second_file, id, user) = first_part_scored(url, dir.path(), &events, &ids);
    let out = ueba(&["feedback", "--nats", url, &id, "benign"]);
    ok(&out, "feedback --nats");
    let verdict_line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut verdict: serde_json::Value = serde_json::from_str(&verdict_line).unwrap();
    // An owner that read it after scoring a day further (and was killed
    // before its next checkpoint) settled it a day later.
    let late = ms_of(verdict["time"].as_str().unwrap()) + 86_400_000;
    let mine = ueba_engine::pipeline::shard_of(&user, 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
        let times = ueba_nats::server::key_value(
            &js,
            ueba_nats::names::VERDICT_TIMES_BUCKET,
            std::time::Duration::ZERO,
        )
        .await
        .expect("the bucket");
        times
            .create(format!("{mine}.1"), late.to_string().into())
            .await
            .expect("settled");
    });
    ok(
        &ueba(&["publish", "--nats", url, "--partitions", "2", &second_file]),
        "publish",
    );
    let log = solo_worker(url, &ids, "worker, second part");
    assert!(log.contains("1 new verdicts"), "{log}");
    assert_eq!(settled_verdict_time(url, mine), Some(late));
    // The same as a verdicts file timed then.
    verdict["time"] =
        serde_json::Value::String(jiff::Timestamp::from_millisecond(late).unwrap().to_string());
    streams_equal_scoring_with(
        dir.path(),
        url,
        &events,
        &ids,
        &verdict.to_string(),
        mine,
        &id,
    );
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn ms_of(time: &str) -> i64 {
    time.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// The time settled for the first verdict on `UEBA_VERDICTS` (sequence
/// 1), of partition `p`.
fn settled_verdict_time(url: &str, p: usize) -> Option<i64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
        let times = js
            .get_key_value(ueba_nats::names::VERDICT_TIMES_BUCKET)
            .await
            .ok()?;
        let value = times.get(format!("{p}.1")).await.expect("a lookup")?;
        std::str::from_utf8(&value).ok()?.parse().ok()
    })
}

/// `events` cut a day after its first alert, the first part published
/// over 2 partitions and scored by [`solo_worker`]: the second part's
/// file, and the id and user of the first alert.
fn first_part_scored(url: &str, dir: &Path, events: &str, ids: &str) -> (String, String, String) {
    let (first_file, second_file) = split_a_day_after_the_first_alert(dir, events, ids);
    ok(
        &ueba(&["publish", "--nats", url, "--partitions", "2", &first_file]),
        "publish",
    );
    solo_worker(url, ids, "worker, first part");
    let first = first_alert(url, dir);
    let id = first["id"].as_str().unwrap().to_string();
    let user = first["user"].as_str().unwrap().to_string();
    (second_file, id, user)
}

/// One worker, `solo`, over every partition until idle: its stderr.
fn solo_worker(url: &str, ids: &str, what: &str) -> String {
    let out = ueba(&[
        "worker",
        "--nats",
        url,
        "--name",
        "solo",
        "-i",
        ids,
        "--incidents",
        "--exit-when-idle",
        "2",
    ]);
    ok(&out, what);
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `events` in two parts, cut a day after the first alert `ueba score`
/// raises on it: `dir/first.jsonl` and `dir/second.jsonl`.
fn split_a_day_after_the_first_alert(dir: &Path, events: &str, ids: &str) -> (String, String) {
    let d = |name: &str| dir.join(name).display().to_string();
    let all = d("all-alerts.jsonl");
    ok(
        &ueba(&["score", "-q", "-i", ids, "-o", &all, events]),
        "score",
    );
    let all = std::fs::read_to_string(&all).unwrap();
    let earliest: serde_json::Value =
        serde_json::from_str(all.lines().next().expect("the log has alerts")).unwrap();
    let cut = ms_of(earliest["time"].as_str().unwrap()) + 86_400_000;
    let text = std::fs::read_to_string(events).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| {
            let e = serde_json::from_str::<serde_json::Value>(l).unwrap();
            ms_of(e["timestamp"].as_str().unwrap()) > cut
        })
        .expect("events after the cut");
    let (first, second) = lines.split_at(at);
    let (first_file, second_file) = (d("first.jsonl"), d("second.jsonl"));
    std::fs::write(&first_file, first.join("\n") + "\n").unwrap();
    std::fs::write(&second_file, second.join("\n") + "\n").unwrap();
    (first_file, second_file)
}

/// The server's alerts and incidents streams must equal `ueba score
/// --partition p/2 --incidents` over `events`, partition `mine` with the
/// verdicts file holding `verdict_line` (which must apply to alert `id`),
/// the other without.
fn streams_equal_scoring_with(
    dir: &Path,
    url: &str,
    events: &str,
    ids: &str,
    verdict_line: &str,
    mine: usize,
    id: &str,
) {
    let d = |name: &str| dir.join(name).display().to_string();
    let verdicts = d("verdicts.jsonl");
    std::fs::write(&verdicts, format!("{verdict_line}\n")).unwrap();
    let mut want_alerts = Vec::new();
    let mut want_incidents = Vec::new();
    for p in 0..2usize {
        let a = d(&format!("ref-a-{p}.jsonl"));
        let i = d(&format!("ref-i-{p}.jsonl"));
        let part = format!("{p}/2");
        let mut args = vec![
            "score",
            "-q",
            "-i",
            ids,
            "--partition",
            &part,
            "-o",
            &a,
            "--incidents",
            &i,
        ];
        if p == mine {
            args.extend(["--verdicts", &verdicts]);
        }
        args.push(events);
        ok(&ueba(&args), "score --partition");
        want_alerts.extend(sorted_lines(Path::new(&a)));
        want_incidents.extend(sorted_lines(Path::new(&i)));
    }
    want_alerts.sort();
    want_incidents.sort();
    assert!(
        want_incidents
            .iter()
            .any(|l| l.contains("\"verdict\"") && l.contains(id)),
        "the reference applies the verdict"
    );
    for (kind, want) in [("alerts", want_alerts), ("incidents", want_incidents)] {
        let got = d(&format!("got-{kind}.jsonl"));
        let dump = format!("--dump-{kind}");
        ok(&ueba(&["worker", "--nats", url, &dump, &got]), "dump");
        assert_eq!(sorted_lines(Path::new(&got)), want, "{kind}");
    }
}

/// A verdict finds its alert through the alert index the workers keep, and
/// through the alerts stream when the index lacks it (alerts published
/// before the index existed).
#[test]
fn a_verdict_finds_its_alert_by_the_index_and_without_it() {
    let Some((server, dir)) = server_or_skip() else {
        return;
    };
    let url = server.url.as_str();
    let (events, ids) = generated(dir.path(), "7");
    ok(
        &ueba(&["publish", "--nats", url, "--partitions", "2", &events]),
        "publish",
    );
    ok(
        &ueba(&["worker", "--nats", url, "-i", &ids, "--exit-when-idle", "2"]),
        "worker",
    );
    let alert = first_alert(url, dir.path());
    let id = alert["id"].as_str().unwrap().to_string();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let js = rt.block_on(async {
        async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"))
    });
    let indexed = rt.block_on(async {
        let index = js
            .get_key_value("ueba-alert-index")
            .await
            .expect("the index");
        index.get(&id).await.expect("a lookup")
    });
    let entry: serde_json::Value =
        serde_json::from_slice(&indexed.expect("the alert indexed")).unwrap();
    assert_eq!(entry["user"], alert["user"]);
    assert_eq!(entry["time"], alert["time"]);

    let out = ueba(&["feedback", "--nats", url, &id, "benign"]);
    ok(&out, "feedback through the index");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));

    rt.block_on(js.delete_key_value("ueba-alert-index"))
        .expect("removing the index");
    let out = ueba(&["feedback", "--nats", url, &id, "malicious"]);
    ok(&out, "feedback through the alerts stream");
    assert!(String::from_utf8_lossy(&out.stdout).contains("malicious"));
}
