//! `ueba publish`, `ueba worker` and `ueba score --partition`: scoring
//! spread over workers on NATS JetStream (README "Scale out").

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use ueba_engine::pipeline::{Scorer, shard_of};
use ueba_engine::state::driver::{Chunk, Parsed};
use ueba_formats::input::{Position, feed_at};
use ueba_formats::sources::{FormatError, InputFormat, LineParser, parser_for};
use ueba_nats::{Auth, Outbox, Output, Partitions, Publisher, Server, Tls, WorkerOptions};

/// How to authenticate to the NATS server besides credentials in the URL
/// (which `ps` shows to every user of the machine): flattened into every
/// command that takes `--nats`.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct NatsAuthArgs {
    /// NATS credentials file (`.creds`: a user JWT and its NKey seed, as
    /// `nsc` issues them) to authenticate with.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["nats_token_file", "nats_user"])]
    nats_creds: Option<PathBuf>,
    /// File holding the NATS token to authenticate with; else the
    /// UEBA_NATS_TOKEN environment variable.
    #[arg(long, value_name = "FILE", conflicts_with = "nats_user")]
    nats_token_file: Option<PathBuf>,
    /// NATS user to authenticate as; the password comes from
    /// --nats-password-file or the UEBA_NATS_PASSWORD environment variable.
    #[arg(long, value_name = "USER")]
    nats_user: Option<String>,
    /// File holding the password of --nats-user.
    #[arg(long, value_name = "FILE", requires = "nats_user")]
    nats_password_file: Option<PathBuf>,
    /// PEM file of the certificate authorities to trust for the server's
    /// TLS certificate, instead of the system's (a private CA); makes TLS
    /// required.
    #[arg(long, value_name = "FILE")]
    nats_tls_ca: Option<PathBuf>,
    /// PEM file of a client certificate, for a server that verifies its
    /// clients; with --nats-tls-key. Makes TLS required.
    #[arg(long, value_name = "FILE", requires = "nats_tls_key")]
    nats_tls_cert: Option<PathBuf>,
    /// PEM file of the key of --nats-tls-cert.
    #[arg(long, value_name = "FILE", requires = "nats_tls_cert")]
    nats_tls_key: Option<PathBuf>,
}

/// The environment variables NATS secrets may come from.
const NATS_TOKEN_ENV: &str = "UEBA_NATS_TOKEN";
const NATS_PASSWORD_ENV: &str = "UEBA_NATS_PASSWORD";

impl NatsAuthArgs {
    /// These arguments as a command line for another ueba process (the
    /// workers and publisher `ueba bench --nats` starts): files and the
    /// user name only. Secrets given in the environment reach the child
    /// through its inherited environment, never its command line.
    pub(crate) fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = Vec::new();
        if let Some(user) = &self.nats_user {
            out.extend(["--nats-user".into(), user.into()]);
        }
        for (flag, path) in self.files() {
            out.extend([flag.into(), path.into()]);
        }
        out
    }

    /// The file options given, with their flags.
    fn files(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [
            ("--nats-creds", &self.nats_creds),
            ("--nats-token-file", &self.nats_token_file),
            ("--nats-password-file", &self.nats_password_file),
            ("--nats-tls-ca", &self.nats_tls_ca),
            ("--nats-tls-cert", &self.nats_tls_cert),
            ("--nats-tls-key", &self.nats_tls_key),
        ]
        .into_iter()
        .filter_map(|(flag, path)| Some((flag, path.as_ref()?)))
    }

    /// The server at `url`, authenticating as these arguments say.
    pub(crate) fn server(&self, url: &str) -> Result<Server> {
        let token = crate::secret::from_file_or_env(
            self.nats_token_file.as_deref(),
            "--nats-token-file",
            NATS_TOKEN_ENV,
        )?;
        let auth = match (&self.nats_creds, token, &self.nats_user) {
            (Some(_), Some(_), _) | (_, Some(_), Some(_)) => {
                bail!(
                    "{NATS_TOKEN_ENV} is set as well as --nats-creds or --nats-user; use one way to authenticate"
                )
            }
            (Some(path), None, _) => Auth::CredsFile(path.clone()),
            (None, Some(token), None) => {
                if token.is_empty() {
                    bail!("the NATS token is empty");
                }
                Auth::Token(token)
            }
            (None, None, Some(user)) => {
                let password = crate::secret::from_file_or_env(
                    self.nats_password_file.as_deref(),
                    "--nats-password-file",
                    NATS_PASSWORD_ENV,
                )?
                .ok_or_else(|| {
                    anyhow::anyhow!("--nats-user {user} needs a password: --nats-password-file FILE or {NATS_PASSWORD_ENV}")
                })?;
                Auth::UserPassword(user.clone(), password)
            }
            (None, None, None) => Auth::None,
        };
        // The token and password files were read above, each with its own
        // error when missing.
        for (flag, path) in self.files() {
            if !path.is_file() {
                bail!("{flag} {}: no such file", path.display());
            }
        }
        let tls = Tls {
            ca: self.nats_tls_ca.clone(),
            client: self.nats_tls_cert.clone().zip(self.nats_tls_key.clone()),
        };
        Ok(Server {
            url: url.to_string(),
            auth,
            tls,
        })
    }
}

#[derive(Args)]
pub(crate) struct PublishArgs {
    /// NATS server URL, e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    nats: String,
    #[command(flatten)]
    auth: NatsAuthArgs,
    /// Partitions users are split into (FNV-1a of the user name, mod P);
    /// fixed when the stream is created: publishing again must give the
    /// same number.
    #[arg(long, value_name = "P",
          value_parser = clap::value_parser!(u32).range(1..=ueba_engine::pipeline::MAX_SHARDS as i64))]
    partitions: u32,
    /// Events file (any `--format`); `-` or absent reads stdin.
    events: Option<PathBuf>,
    /// Input format; `auto` decides from the first lines (README "Formats").
    #[arg(long, value_parser = crate::input_format(), default_value = "auto")]
    format: InputFormat,
    /// Configuration file (TOML): its `[formats]` section configures the
    /// parsers, as for `ueba score`.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Count and report malformed lines instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Args)]
pub(crate) struct WorkerArgs {
    /// NATS server URL, e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    nats: String,
    #[command(flatten)]
    auth: NatsAuthArgs,
    /// Partitions this worker may own: `all`, or a list such as `0,2,5-7`.
    /// A partition another live worker holds is left to it and taken over
    /// when its lease lapses.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_partitions)]
    partitions: Partitions,
    /// This worker's name, held in the partitions' leases; unique among
    /// live workers. Restarted under the same name, a worker takes its
    /// partitions back at once; default: host name and process id.
    #[arg(long)]
    name: Option<String>,
    /// Identity CSV: columns `user`, `peer_group`, `timezone` (IANA), optionally `criticality`, `watchlists`, found by name (README "Identity file").
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    #[command(flatten)]
    engine: crate::EngineArgs,
    /// Events per partition between checkpoints; messages are acked only
    /// once a checkpoint covering them is stored.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    checkpoint_events: u64,
    /// Flush, checkpoint and exit 0 after SECS with no message on any owned
    /// partition (scripts and tests); without it the worker runs until
    /// killed.
    #[arg(long, value_name = "SECS")]
    exit_when_idle: Option<u64>,
    /// Lifetime of a partition lease: a killed worker's partitions are
    /// taken over this long after its last refresh.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    lease_secs: u64,
    /// Also publish every incident change (opened, escalated, closed,
    /// verdict), as `ueba score --incidents` writes them, to
    /// `ueba.incidents` (stream UEBA_INCIDENTS), each once.
    #[arg(long)]
    incidents: bool,
    /// Also publish every finding, alerted or not, as `ueba score
    /// --findings` writes them, to `ueba.findings` (stream UEBA_FINDINGS),
    /// each once; a finding per few hundred events on a busy log.
    #[arg(long)]
    findings: bool,
    /// Instead of working: write every alert of the UEBA_ALERTS stream (each
    /// once: re-emitted ids were dropped by the server) as JSON lines to
    /// FILE (`-` for stdout), and exit.
    #[arg(long, value_name = "FILE")]
    dump_alerts: Option<PathBuf>,
    /// Instead of working: the same for the UEBA_INCIDENTS stream.
    #[arg(long, value_name = "FILE")]
    dump_incidents: Option<PathBuf>,
    /// Instead of working: the same for the UEBA_FINDINGS stream.
    #[arg(long, value_name = "FILE")]
    dump_findings: Option<PathBuf>,
    /// When done, write what the worker did as JSON to FILE: events scored,
    /// alerts published and dropped as duplicates, checkpoints, and the
    /// wall-clock span of its work (first message to final checkpoint, in
    /// ms since the Unix epoch), which `ueba bench --nats` adds up.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
}

/// `--partitions`: `all` or a comma-separated list of numbers and ranges.
fn parse_partitions(s: &str) -> Result<Partitions, String> {
    if s.trim() == "all" {
        return Ok(Partitions::All);
    }
    let num = |t: &str| {
        t.trim().parse::<u32>().map_err(|_| {
            format!("`{t}` is not a partition number (expected `all` or a list like 0,2,5-7)")
        })
    };
    let mut list = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("`{part}`: the range is empty"));
                }
                list.extend(a..=b);
            }
            None => list.push(num(part)?),
        }
    }
    list.sort_unstable();
    list.dedup();
    Ok(Partitions::List(list))
}

/// One partition of several, `p/P`: the users [`shard_of`] puts in `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartitionOf {
    pub(crate) part: u32,
    pub(crate) of: u32,
}

/// `--partition p/P`.
pub(crate) fn parse_partition_of(s: &str) -> Result<PartitionOf, String> {
    let (p, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not p/P (e.g. 0/3)"))?;
    let part: u32 = p
        .trim()
        .parse()
        .map_err(|_| format!("`{p}` is not a number"))?;
    let of: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a number"))?;
    if of == 0 || part >= of {
        return Err(format!(
            "partition {part} of {of} does not exist: p must be below P"
        ));
    }
    Ok(PartitionOf { part, of })
}

/// A parser that passes on only the events of one partition's users (and
/// every error, so bad lines are reported as without the filter).
pub(crate) struct PartitionFilter {
    inner: Box<dyn LineParser>,
    only: PartitionOf,
}

impl PartitionFilter {
    pub(crate) fn new(inner: Box<dyn LineParser>, only: PartitionOf) -> Self {
        PartitionFilter { inner, only }
    }

    fn keep_from(&self, out: &mut Vec<Parsed>, start: usize) {
        let tail = out.split_off(start);
        let (part, of) = (self.only.part as usize, self.only.of as usize);
        out.extend(
            tail.into_iter()
                .filter(|p| p.as_ref().map_or(true, |ev| shard_of(&ev.user, of) == part)),
        );
    }
}

impl LineParser for PartitionFilter {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        let start = out.len();
        let fed = self.inner.feed(text, line, out);
        self.keep_from(out, start);
        fed
    }
    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        let start = out.len();
        let done = self.inner.finish(out);
        self.keep_from(out, start);
        done
    }
    fn skipped(&self) -> u64 {
        self.inner.skipped()
    }
    fn pending_line(&self) -> Option<u64> {
        self.inner.pending_line()
    }
}

/// The runtime the NATS client runs on: one thread, the worker's loop is
/// sequential anyway and scoring is synchronous.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn publish(a: PublishArgs) -> Result<()> {
    let cfg = crate::load_config(a.config.as_deref())?;
    let input = a.events.as_deref().filter(|p| p.as_os_str() != "-");
    let (reader, name, _) = crate::open_events(input, Position::default())?;
    let parser = parser_for(a.format, &cfg.formats)?;
    let feed = feed_at(reader, parser, Position::default());
    let server = a.auth.server(&a.nats)?;
    let rt = runtime()?;
    let (published, invalid) = rt.block_on(async {
        let mut publisher = Publisher::connect(&server, a.partitions).await?;
        let mut invalid = 0u64;
        for chunk in feed.chunks.iter() {
            match chunk {
                Chunk::Lines(lines, _) => {
                    for parsed in lines {
                        match parsed {
                            Ok(ev) => publisher.publish(&ev).await?,
                            Err(e) if a.skip_invalid => {
                                invalid += 1;
                                if invalid <= 5 {
                                    tracing::info!(input = name, "skipped {name}: {e}");
                                }
                            }
                            Err(e) => {
                                bail!("{name}: {e} (use --skip-invalid to count and skip bad lines; events before it were published)")
                            }
                        }
                    }
                }
                Chunk::Failed(e) => bail!("reading {name}: {e}"),
            }
        }
        Ok::<_, anyhow::Error>((publisher.finish().await?, invalid))
    })?;
    eprintln!(
        "published {published} events to {} in {} partitions on {}{}",
        ueba_nats::names::EVENTS_STREAM,
        a.partitions,
        server,
        if invalid > 0 {
            format!(" ({invalid} invalid lines skipped)")
        } else {
            String::new()
        }
    );
    Ok(())
}

pub(crate) fn worker(a: WorkerArgs) -> Result<()> {
    let server = a.auth.server(&a.nats)?;
    let rt = runtime()?;
    let dumps: Vec<(Output, &PathBuf)> = [
        (Output::Alerts, &a.dump_alerts),
        (Output::Incidents, &a.dump_incidents),
        (Output::Findings, &a.dump_findings),
    ]
    .into_iter()
    .filter_map(|(o, path)| path.as_ref().map(|p| (o, p)))
    .collect();
    if !dumps.is_empty() {
        for (output, path) in dumps {
            let mut out: Box<dyn std::io::Write> = if path.as_os_str() == "-" {
                Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
            } else {
                Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                ))
            };
            let n = rt.block_on(ueba_nats::dump(&server, output, &mut out))?;
            eprintln!("{n} {}s written from {}", output.record(), output.stream());
        }
        return Ok(());
    }
    let opts = WorkerOptions {
        server,
        name: a.name.clone().unwrap_or_else(|| {
            format!("{}-{}", ueba_formats::sinks::hostname(), std::process::id())
        }),
        partitions: a.partitions.clone(),
        checkpoint_events: a.checkpoint_events,
        exit_when_idle: a.exit_when_idle.map(Duration::from_secs),
        lease_ttl: Duration::from_secs(a.lease_secs),
        incidents: a.incidents,
        findings: a.findings,
    };
    // Checked before connecting, so a bad config or plugin directory is
    // reported at once rather than when the first partition is taken.
    crate::scoring_setup(&a.engine, a.identities.as_deref())?;
    let mut build = |_partition: u32, sink: Outbox| -> Result<Scorer<Outbox>, String> {
        let (cfg, identities, plugins) = crate::scoring_setup(&a.engine, a.identities.as_deref())
            .map_err(|e| crate::logs::error_text(&e))?;
        Ok(Scorer::new(cfg, identities, plugins, sink))
    };
    let summary = rt.block_on(ueba_nats::run_worker(&opts, &mut build))?;
    if let Some(path) = &a.summary {
        let doc = serde_json::json!({
            "worker": opts.name,
            "events": summary.events,
            "invalid": summary.invalid,
            "alerts": summary.alerts,
            "duplicates": summary.duplicates,
            "incidents": summary.incidents,
            "findings": summary.findings,
            "checkpoints": summary.checkpoints,
            "time_outliers": summary.time_outliers,
            "time_waiting": summary.time_waiting,
            "first_message_ms": summary.first_message_ms,
            "done_ms": summary.done_ms,
        });
        std::fs::write(path, format!("{doc}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// How long `ueba serve --nats` waits for the server to acknowledge a
/// round of events before refusing it (503, the clients send it again).
const FORWARD_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// `ueba serve --nats`: the service's accepted events go to the events
/// stream, as `ueba publish` sends them, each round stored before the
/// requests in it are answered; analysts' verdicts go to the verdicts
/// stream, as `ueba feedback --nats` sends them.
pub(crate) struct NatsForward {
    rt: tokio::runtime::Runtime,
    /// Events and verdicts go over its one connection.
    publisher: Publisher,
    /// The server, as messages show it ([`ueba_nats::shown_url`]).
    url: String,
}

impl NatsForward {
    /// Connect to `server` and check (or create) the events stream with
    /// `partitions` partitions; an unreachable server or another partition
    /// count is an error before the service listens.
    pub(crate) fn connect(server: &Server, partitions: u32) -> Result<Self, String> {
        let rt = runtime().map_err(|e| crate::logs::error_text(&e))?;
        let mut publisher = rt
            .block_on(Publisher::connect(server, partitions))
            .map_err(|e| e.to_string())?;
        // Well within the service's idle timeout (30 s by default), so a
        // request waiting on a server that went away is answered 503
        // rather than cut off.
        publisher.set_timeout(FORWARD_ACK_TIMEOUT);
        Ok(NatsForward {
            rt,
            publisher,
            url: server.to_string(),
        })
    }
}

impl ueba_serve::forward::Forward for NatsForward {
    fn destination(&self) -> String {
        format!(
            "NATS {}, stream {}",
            self.url,
            ueba_nats::names::EVENTS_STREAM
        )
    }

    fn forward(&mut self, events: &[ueba_engine::event::AccessEvent]) -> Result<(), String> {
        let publisher = &mut self.publisher;
        let stored = self.rt.block_on(async {
            for ev in events {
                publisher.publish(ev).await?;
            }
            publisher.flush().await
        });
        stored.map(|_| ()).map_err(|e| {
            self.publisher.abandon();
            e.to_string()
        })
    }

    /// A verdict is published for the worker owning the alert's user, as
    /// `ueba feedback --nats` publishes it; the answer is the verdict as
    /// published and its partition. A user's risk and the incidents are
    /// read from what the workers wrote at their last checkpoints
    /// ([`ueba_nats::lookup`]).
    fn ask(
        &mut self,
        ask: ueba_serve::analyst::Ask,
    ) -> Result<serde_json::Value, ueba_serve::analyst::AskError> {
        use ueba_nats::NatsError;
        use ueba_serve::analyst::{Ask, AskError};
        let read = |e: NatsError| match e {
            NatsError::Input(why) => AskError::Internal(why),
            other => AskError::Unavailable(format!("{other}; ask again shortly")),
        };
        let js = self.publisher.context();
        let f = match ask {
            Ask::User { user } => {
                return match self.rt.block_on(ueba_nats::lookup::user_summary(js, &user)) {
                    Ok(Some(summary)) => Ok(summary),
                    Ok(None) => Err(AskError::UnknownUser(user)),
                    Err(e) => Err(read(e)),
                };
            }
            Ask::Incidents { user } => {
                return self
                    .rt
                    .block_on(ueba_nats::lookup::incidents(js, user.as_deref()))
                    .map_err(read);
            }
            Ask::Feedback(f) => f,
        };
        let judgement = ueba_nats::verdicts::Judgement {
            id: &f.id,
            verdict: f.verdict,
            note: &f.note,
            analyst: &f.analyst,
            at: f.at,
        };
        let given = self
            .rt
            .block_on(ueba_nats::verdicts::give_on(js, &judgement))
            .map_err(|e| match e {
                NatsError::UnknownAlert(why) => AskError::UnknownAlert(why),
                NatsError::Input(why) => AskError::Refused(why),
                other => AskError::Unavailable(format!(
                    "{other}; nothing was recorded: send the verdict again"
                )),
            })?;
        let v = &given.verdict;
        Ok(serde_json::json!({
            "time": v.time,
            "id": v.id,
            "verdict": v.verdict,
            "note": v.note,
            "analyst": v.analyst,
            "partition": given.partition,
            "subject": ueba_nats::names::verdicts_subject(given.partition),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_lists() {
        assert_eq!(parse_partitions("all"), Ok(Partitions::All));
        assert_eq!(
            parse_partitions("5-7,0,2,6"),
            Ok(Partitions::List(vec![0, 2, 5, 6, 7]))
        );
        assert!(parse_partitions("3-1").is_err());
        assert!(parse_partitions("x").is_err());
    }

    #[test]
    fn partition_of() {
        assert_eq!(
            parse_partition_of("1/3"),
            Ok(PartitionOf { part: 1, of: 3 })
        );
        assert!(parse_partition_of("3/3").is_err());
        assert!(parse_partition_of("0/0").is_err());
        assert!(parse_partition_of("1").is_err());
    }

    #[test]
    fn the_filter_keeps_one_partitions_users_and_every_error() {
        let lines = [
            r#"{"timestamp":"2026-01-05T14:03:11Z","user":"alice","action":"select","resource":"t"}"#,
            r#"{"timestamp":"2026-01-05T14:03:11Z","user":"bob","action":"select","resource":"t"}"#,
            r#"{"timestamp":"2026-01-05T14:03:11Z","user":"carol","action":"select","resource":"t"}"#,
            "not json",
        ];
        let mut seen = Vec::new();
        for part in 0..3 {
            let only = PartitionOf { part, of: 3 };
            let mut f = PartitionFilter::new(Box::new(ueba_formats::sources::NativeParser), only);
            let mut out = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                f.feed(l, i as u64 + 1, &mut out).expect("feeds");
            }
            assert!(out.iter().any(|p| p.is_err()));
            for ev in out.iter().flatten() {
                assert_eq!(shard_of(&ev.user, 3), part as usize);
                seen.push(ev.user.to_string());
            }
        }
        seen.sort();
        assert_eq!(seen, ["alice", "bob", "carol"]);
    }
}
