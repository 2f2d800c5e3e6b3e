//! The `ueba` command line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use ueba_engine::config::{Config, DEFAULT_TOML};
use ueba_engine::identity::Identities;
use ueba_engine::state::StateDir;
use ueba_engine::state::driver::{Checkpoints, Drive, Run, drive};
use ueba_formats::input::{Input, Live, Position, feed_at, replay_header};
use ueba_formats::sinks::{
    DocKind, DynSink, JsonDocs, JsonLines, OutputFormat, cef::CefLines, cef::Syslog, hec::HecPost,
    hostname,
};
use ueba_formats::sources::{InputFormat, LineParser, NativeParser, parser_for};
use ueba_lab::generator::{GenConfig, Shape, generate};

mod cmd_plugin;
mod durable;
mod logs;
mod secret;
use ueba_engine::pipeline::{AlertSink, Scorer};
use ueba_engine::sandbox::Runtime;

mod cmd_explain;
mod cmd_feedback;
mod cmd_lab;
mod cmd_nats;
mod cmd_serve;
mod nats_bench;

use cmd_lab::{BenchArgs, DemoArgs, EvalArgs, GenArgs, bench_cmd, demo, eval_cmd, gen_cmd};

/// Score access logs for insider risk with sandboxed WebAssembly detectors.
///
/// The built-in detectors (bulk volume, off-hours activity, first access to
/// a novel resource, access from a new source) and any from `--plugins` run
/// as WebAssembly components that import nothing; their findings add up to
/// a per-user risk (0-100) that decays over time, and users whose risk
/// crosses the threshold are alerted with the evidence, as JSON lines, ECS,
/// OCSF, Splunk HEC or CEF.
#[derive(Parser)]
#[command(name = "ueba", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How diagnostics (warnings, notes, errors, plugin health events) are
    /// written to stderr.
    ///
    /// `text` is for people: `warning: ...`, `error: ...`, status lines, and
    /// plugin health events as JSON lines (`{"type":"health",...}`). `json`
    /// is for log shippers (journald, syslog-ng, Filebeat): every diagnostic
    /// is one JSON object per line with timestamp, level, target, message
    /// and its fields (health events: target `ueba::health`, with plugin,
    /// event, limit, batch, ...), so it can be parsed and filtered without
    /// patterns. Either way alerts, the summary and reports are output, not
    /// diagnostics, and are written as before.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "UEBA_LOG_FORMAT"
    )]
    log_format: logs::LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a support organisation with insiders, score it, and explain the top users.
    ///
    /// Everything happens in a temporary directory; nothing needs to be set up.
    Demo(DemoArgs),
    /// Score access events (JSON lines, ECS, OCSF, CEF, LEEF, pgAudit, MySQL audit) and write alerts.
    ///
    /// Reads EVENTS (or stdin when EVENTS is `-` or absent), one event per line:
    /// {"timestamp":"2026-01-05T14:03:11Z","user":"mreyes","action":"select","resource":"support.customers","rows":12}
    /// Alerts go to --output or stdout; a summary of the top risky users and
    /// the counts goes to stderr at the end.
    Score(ScoreArgs),
    /// Generate a realistic organisation with labelled insider scenarios.
    ///
    /// Writes events.jsonl, identities.csv and labels.json into --out.
    Gen(GenArgs),
    /// Measure detection against labelled scenarios (`ueba gen`'s labels.json).
    ///
    /// Scores EVENTS with the built-in detectors (or reads --alerts already
    /// produced) and prints, per scenario, whether and how fast it was
    /// alerted and where its user ranked; false alarms per 1,000 user-days;
    /// ROC-AUC, PR-AUC and recall at 1% and 5% FPR over user-days; and six
    /// rules a SOC writes (three static, three that learn each user's
    /// habits) against ueba at equal recall. --json and --report write
    /// the same as JSON and as a self-contained HTML page with charts;
    /// --sweep measures detection rate against attack intensity.
    Eval(EvalArgs),
    /// Print the default configuration, every key documented, including each detector's own keys.
    Config(ConfigArgs),
    /// Explain one user: their risk timeline, every finding and what it said.
    ///
    /// Scores EVENTS as `ueba score` would (same config, identities and
    /// plugins) and prints, for USER, each finding in event time with its
    /// score, the risk it left and the threshold then, the alerts it
    /// raised, and the detector's reason and evidence (the baselines it
    /// judged against), so anyone can see why a user did or did not alert.
    /// A user no detector found anything about is described by their
    /// events and days in the log; a name the log does not hold (they are
    /// compared exactly) is an error. With --state DIR instead, reads the checkpoint `ueba score --state`
    /// keeps and prints the user's risk and the findings held for them;
    /// with --nats URL, the checkpoint the workers last stored for the
    /// user's partition, likewise.
    Explain(cmd_explain::ExplainArgs),
    /// Measure scoring throughput (events/s, ns/event) and memory per entity on one core.
    ///
    /// Runs the detectors natively, as wasm plugins in batches and one event
    /// per call, and end to end from JSON lines, with 1, 3 and 10 plugins and
    /// 1 thousand to 1 million users, on synthesised events; prints a table.
    /// Build with --release first: a debug build is about 20 times slower.
    Bench(BenchArgs),
    /// Score events sent over HTTP, as a sidecar in a SIEM pipeline.
    ///
    /// POST /v1/events takes JSON lines, a JSON array or any --format;
    /// POST /services/collector/event takes Splunk HEC envelopes, so existing
    /// forwarders can point at it. Alerts go where `score` sends them. A
    /// bounded queue answers 429 with Retry-After when full; GET /metrics is
    /// OpenMetrics text and GET /healthz names quarantined detectors. The
    /// token comes from --token-file or UEBA_TOKEN; without one only a
    /// loopback address is allowed. SIGINT or SIGTERM stops accepting,
    /// scores everything accepted, flushes the alerts and prints the summary.
    Serve(cmd_serve::ServeArgs),
    /// Write, build, test and inspect custom detector plugins.
    ///
    /// `new` scaffolds a detector crate that builds and passes its tests at
    /// once; `build` compiles it for wasm32-unknown-unknown and wraps it as a
    /// component this host loads; `test` runs one plugin over sample events
    /// and compares its findings with a golden file; `inspect` shows its
    /// contract, config keys and the sha256 to pin. Guide:
    /// docs/writing-a-detector.md.
    Plugin(cmd_plugin::PluginArgs),
    /// Record an analyst's verdict on an alert: benign or malicious.
    ///
    /// Checks the alert id against the checkpoint in --state DIR and appends
    /// the verdict to DIR/verdicts.jsonl; the next `ueba score --state DIR`
    /// applies it at its event time (just after what was scored so far, or
    /// --at). Benign closes the episode, resets the user's risk and lets the
    /// detectors learn the behaviour; malicious keeps the episode open and
    /// the user's events out of the baselines. README "Tuning and feedback".
    /// With --nats URL instead of --state, the verdict goes to the workers
    /// on NATS: to the partition of the alert's user, where the worker
    /// owning it applies it (README "Scale out").
    Feedback(cmd_feedback::FeedbackArgs),
    /// Publish events to NATS JetStream, split by user into partitions, for `ueba worker`.
    ///
    /// Reads EVENTS like `ueba score` (any --format) and publishes each as a
    /// native JSON line to `ueba.events.<p>` of the stream UEBA_EVENTS
    /// (created if missing), p the partition of the event's user (FNV-1a of
    /// the name, mod --partitions). Waits for the server to store every
    /// event and prints the count. README "Scale out".
    Publish(cmd_nats::PublishArgs),
    /// Score partitions of the UEBA_EVENTS stream on NATS JetStream, with failover.
    ///
    /// Holds a lease per partition it owns (KV bucket ueba-owners), scores
    /// each with its own detectors and risk state, checkpoints them to the
    /// object store ueba-checkpoints every --checkpoint-events events and
    /// publishes alerts to `ueba.alerts` (stream UEBA_ALERTS) with
    /// Nats-Msg-Id = the alert id, before the checkpoint that covers them:
    /// a worker killed and restarted, or replaced by another, emits nothing
    /// twice and loses nothing. --incidents and --findings publish incident
    /// changes and findings the same way (`ueba.incidents`,
    /// `ueba.findings`). --dump-alerts FILE (--dump-incidents,
    /// --dump-findings) writes a stream out instead. README "Scale out".
    Worker(cmd_nats::WorkerArgs),
}

#[derive(Args)]
struct ScoreArgs {
    /// Events file (any `--format`); `-` or absent reads stdin.
    events: Option<PathBuf>,
    /// Identity CSV: columns `user`, `peer_group`, `timezone` (IANA), optionally `criticality`, `watchlists`, found by name (README "Identity file").
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Count and report malformed lines instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// Users shown in the summary table.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// No summary or progress bar on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Input format; `auto` decides from the first lines (README "Formats").
    #[arg(long, value_parser = crate::input_format(), default_value = "auto")]
    format: InputFormat,
    /// Also write every finding, alerted or not, as JSON lines here: each
    /// with the user's risk after it, the threshold in force and the alert
    /// it raised, if any. With --state a resumed run cuts it back to its
    /// length at the checkpoint and appends, so it ends as if the run had
    /// never stopped.
    #[arg(long, value_name = "FILE")]
    findings: Option<PathBuf>,
    /// Write incidents here as JSON lines: one record each time a user's
    /// alert episode opens, escalates, gets a verdict or closes, with its
    /// id, times, peak, detectors and alert ids. With --state, resumed like
    /// --findings.
    #[arg(long, value_name = "FILE")]
    incidents: Option<PathBuf>,
    /// Analysts' verdicts on alerts (JSON lines: time, id, verdict benign or
    /// malicious, note, analyst), applied at their event time, so replaying
    /// a log with its verdicts gives the same alerts. With --state, default
    /// DIR/verdicts.jsonl (where `ueba feedback` writes).
    #[arg(long, value_name = "FILE")]
    verdicts: Option<PathBuf>,
    #[command(flatten)]
    shards: ShardArgs,
    /// Score only the users of partition p of P (`p/P`, e.g. 0/3): those
    /// whose name hashes (FNV-1a, mod P) to p, as `ueba publish --partitions
    /// P` routes them. The output is what one `ueba worker` computes for
    /// that partition, so the union over p = 0..P-1 is what the workers
    /// publish (README "Scale out").
    #[arg(long, value_name = "p/P", value_parser = cmd_nats::parse_partition_of)]
    partition: Option<cmd_nats::PartitionOf>,
    #[command(flatten)]
    durable: durable::StateArgs,
}

/// Where alerts go and in which format; shared by every command that scores.
#[derive(Args)]
pub(crate) struct OutputArgs {
    /// Write alerts to this file instead of stdout (`-` is stdout).
    #[arg(long, short = 'o')]
    pub(crate) output: Option<PathBuf>,
    /// Alert format.
    #[arg(long, value_parser = output_format(), default_value = "jsonl")]
    pub(crate) output_format: OutputFormat,
    /// POST `--output-format hec` alerts to this Splunk HEC URL instead of
    /// writing them; the HEC token comes from --hec-token-file or
    /// UEBA_HEC_TOKEN. Not with --output: alerts go to one place.
    #[arg(long, conflicts_with = "output")]
    pub(crate) hec_url: Option<String>,
    /// File holding the HEC token, sent as `Authorization: Splunk <token>`;
    /// else the UEBA_HEC_TOKEN environment variable.
    #[arg(long, value_name = "FILE")]
    pub(crate) hec_token_file: Option<PathBuf>,
    /// The HEC token itself. Deprecated: arguments are visible to every
    /// user of the machine in `ps`; use --hec-token-file or UEBA_HEC_TOKEN.
    #[arg(long, value_name = "TOKEN", conflicts_with = "hec_token_file")]
    pub(crate) hec_token: Option<String>,
    /// Send `--output-format cef` alerts to syslog: `udp://host:port` or
    /// `tcp://host:port`, instead of writing them. Not with --output or
    /// --hec-url: alerts go to one place.
    #[arg(long, conflicts_with_all = ["output", "hec_url"])]
    pub(crate) syslog: Option<String>,
}

impl OutputArgs {
    /// The alert file, if alerts go to one: `--output -` is stdout, as `-`
    /// is stdin for the events, so a pipeline can say so explicitly.
    pub(crate) fn file(&self) -> Option<&Path> {
        self.output.as_deref().filter(|p| p.as_os_str() != "-")
    }
}

#[derive(Args)]
pub(crate) struct EngineArgs {
    /// Configuration file (TOML); `ueba config` prints every key with its default.
    #[arg(long, short = 'c')]
    pub(crate) config: Option<PathBuf>,
    /// Directory of extra detector plugins (`*.wasm` components); a plugin
    /// with the name of a built-in one replaces it.
    #[arg(long, short = 'p')]
    pub(crate) plugins: Option<PathBuf>,
}

/// How many shards users are split across; shared by every command that
/// scores.
#[derive(Args)]
pub(crate) struct ShardArgs {
    /// Split users across N shards, each with its own instance of every
    /// detector, observing on a thread of its own (README "Shards").
    /// One shard scores exactly as an unsplit engine; with more, the shards
    /// exchange what they learned about peer groups and the organisation
    /// now and then (at most hourly, at least daily in event time), so
    /// another shard's users count as of the last exchange. A state
    /// directory resumes with the number it was written with.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=ueba_engine::pipeline::MAX_SHARDS as i64))]
    pub(crate) shards: u16,
}

#[derive(Args)]
struct ConfigArgs {
    #[command(flatten)]
    engine: EngineArgs,
}

fn main() {
    let cli = Cli::parse();
    logs::init(cli.log_format);
    let result = match cli.command {
        Command::Score(a) => score(a),
        Command::Gen(a) => gen_cmd(a),
        Command::Eval(a) => eval_cmd(a),
        Command::Demo(a) => demo(a),
        Command::Config(a) => config_cmd(a),
        Command::Explain(a) => cmd_explain::run(a),
        Command::Bench(a) => bench_cmd(a),
        Command::Serve(a) => cmd_serve::run(a),
        Command::Plugin(a) => cmd_plugin::run(a),
        Command::Feedback(a) => cmd_feedback::run(a),
        Command::Publish(a) => cmd_nats::publish(a),
        Command::Worker(a) => cmd_nats::worker(a),
    };
    if let Err(e) = result {
        tracing::error!("{}", logs::error_text(&e));
        std::process::exit(1);
    }
}

pub(crate) fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

pub(crate) fn runtime_for(cfg: &Config) -> Result<Runtime> {
    let cache = if !cfg.engine.cache {
        None
    } else if cfg.engine.cache_dir.as_os_str().is_empty() {
        Runtime::default_cache_dir()
    } else {
        Some(cfg.engine.cache_dir.clone())
    };
    let runtime = Runtime::new(cache)?;
    warn_if_cache_refused(&runtime);
    Ok(runtime)
}

/// Load the detectors for `cfg` (built-ins and `dir`), then say whether the
/// compile cache was refused while compiling them. `config` is the file
/// `cfg` was read from, named when a detector refuses its settings there.
pub(crate) fn load_detectors(
    runtime: &Runtime,
    cfg: &Config,
    config: Option<&Path>,
    dir: Option<&Path>,
) -> Result<Vec<ueba_engine::sandbox::plugins::LoadedPlugin>> {
    let plugins =
        ueba_engine::sandbox::plugins::load(runtime, cfg, dir).with_context(|| match config {
            Some(p) => format!(
                "loading detectors with the [detectors.*] settings of {}",
                p.display()
            ),
            None => "loading detectors".to_string(),
        })?;
    warn_if_cache_refused(runtime);
    Ok(plugins)
}

/// A compile cache another user could write is never loaded from (it is
/// native code); say so once per run, since every start is then a compile.
fn warn_if_cache_refused(runtime: &Runtime) {
    static SAID: std::sync::Once = std::sync::Once::new();
    if let Some(why) = runtime.cache_refused() {
        SAID.call_once(|| tracing::warn!("{why}"));
    }
}

/// What every scoring command starts from: the config, the identities and
/// the detectors, loaded from `--config`, `--identities` and `--plugins`.
pub(crate) fn scoring_setup(
    engine: &EngineArgs,
    identities: Option<&Path>,
) -> Result<(
    Config,
    Identities,
    Vec<ueba_engine::sandbox::plugins::LoadedPlugin>,
)> {
    let cfg = load_config(engine.config.as_deref())?;
    let identities = match identities {
        Some(p) => Identities::load(p)?,
        None => Identities::default(),
    };
    identities.check_watchlists(&cfg.watchlists)?;
    let runtime = runtime_for(&cfg)?;
    let plugins = load_detectors(
        &runtime,
        &cfg,
        engine.config.as_deref(),
        engine.plugins.as_deref(),
    )?;
    Ok((cfg, identities, plugins))
}

/// A JSON-lines record file (`--findings`, `--incidents`): cut back to
/// `resume_at` (its length at the checkpoint a run resumes from) and
/// appended to, else created afresh.
fn open_records(path: &Path, resume_at: Option<u64>) -> Result<std::io::BufWriter<std::fs::File>> {
    let file = match resume_at {
        Some(len) => durable::reopen_output(path, len)?,
        None => {
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?
        }
    };
    Ok(std::io::BufWriter::new(file))
}

fn score(a: ScoreArgs) -> Result<()> {
    for (path, flag) in [(&a.findings, "--findings"), (&a.incidents, "--incidents")] {
        if path.as_deref().is_some_and(|p| p.as_os_str() == "-") {
            bail!(
                "{flag} -: give a file; stdout carries the alerts (with --output FILE, /dev/stdout works)"
            );
        }
    }
    let (cfg, identities, plugins) = scoring_setup(&a.engine, a.identities.as_deref())?;
    let input = a.events.as_deref().filter(|p| p.as_os_str() != "-");
    let state = match &a.durable.state {
        Some(dir) => {
            let dir = StateDir::open(dir)?;
            let plan = durable::plan(&dir, input, a.out.file(), a.durable.new_input)?;
            Some((dir, plan))
        }
        None => None,
    };
    let start = state.as_ref().map_or(Position::default(), |(_, p)| p.start);
    let (reader, name, size) = open_events(input, start)?;
    let mut parser = parser_for(a.format, &cfg.formats)?;
    if let Some(path) = input.filter(|_| start.offset > 0 && parser.needs_header()) {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        replay_header(std::io::BufReader::new(file), parser.as_mut())
            .with_context(|| format!("reading the header of {} again to resume", path.display()))?;
    }
    let parser: Box<dyn LineParser> = match a.partition {
        Some(only) => Box::new(cmd_nats::PartitionFilter::new(parser, only)),
        None => parser,
    };
    let output_len = state.as_ref().and_then(|(_, p)| p.output_len);
    let sink = alert_sink_at(&a.out, output_len)?;
    let progress = (!a.quiet && std::io::stderr().is_terminal())
        .then_some(size)
        .flatten()
        .map(|len| {
            let pb = progress_bar(len);
            pb.set_position(start.offset);
            pb
        });
    let mut scorer =
        Scorer::new(cfg, identities, plugins, sink).with_shards(a.shards.shards.into())?;
    if let Some(path) = &a.findings {
        let saved = state.as_ref().and_then(|(_, p)| p.checkpoint.as_ref());
        let file = open_records(path, durable::record_len(saved, path)?)?;
        scorer = scorer.with_findings(Box::new(ueba_engine::risk::JsonLines(file)));
    }
    if let Some(path) = &a.incidents {
        let saved = state.as_ref().and_then(|(_, p)| p.checkpoint.as_ref());
        let file = open_records(path, durable::record_len(saved, path)?)?;
        scorer = scorer.with_incidents(Box::new(ueba_engine::risk::JsonLines(file)));
    }
    let verdicts_path = a.verdicts.clone().or_else(|| {
        a.durable
            .state
            .as_ref()
            .map(|d| d.join(ueba_engine::risk::verdicts::FILE_NAME))
    });
    let mut checkpointer = None;
    if let Some((dir, plan)) = state {
        let mut skipped_before = 0;
        if let Some(cp) = plan.checkpoint {
            if !a.quiet {
                tracing::info!(
                    path = %dir.checkpoint_path().display(),
                    "resuming from {} (written {}): {} events scored so far{}",
                    dir.checkpoint_path().display(),
                    cp.written,
                    ueba_lab::bench::group(cp.scorer.events() as f64),
                    if plan.start.line > 0 {
                        format!(", continuing {name} after line {}", plan.start.line)
                    } else {
                        format!(", reading {name} from its start")
                    }
                );
            }
            skipped_before = cp.skipped;
            scorer
                .restore_state(cp.scorer)
                .with_context(|| format!("resuming from {}", dir.checkpoint_path().display()))?;
        }
        let records: Vec<&Path> = [&a.findings, &a.incidents]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        checkpointer = Some(durable::Checkpointer::new(
            dir,
            &a.durable,
            input,
            a.out.file(),
            &records,
            skipped_before,
        )?);
    }
    if let Some(path) = &verdicts_path {
        scorer.sync_verdicts(ueba_engine::risk::verdicts::read(path)?);
    }
    let run = run_scorer(
        scorer,
        reader,
        parser,
        &name,
        a.skip_invalid,
        progress.as_ref(),
        start,
        checkpointer.as_mut(),
    )?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let skipped = run.skipped + checkpointer.as_ref().map_or(0, |c| c.skipped_before());
    if !a.quiet {
        eprint!("{}", run.report.render(a.top));
        if skipped > 0 {
            eprintln!(
                "records skipped as not data access (connects, other log lines, statements naming no table): {skipped}"
            );
        }
        if let Some(c) = &checkpointer {
            eprintln!(
                "state saved to {} ({} checkpoints this run)",
                c.path().display(),
                c.written
            );
        }
    }
    if let Some(signal) = run.stopped_by {
        tracing::info!(
            signal,
            line = run.position.line,
            "stopped by signal {signal} after line {}; run the same command to resume",
            run.position.line
        );
        std::process::exit(128 + signal);
    }
    Ok(())
}

/// The events input: the file at `input` read from `start` (a resumed
/// run), or stdin; with its name for messages and its size when known.
pub(crate) fn open_events(
    input: Option<&Path>,
    start: Position,
) -> Result<(Box<dyn Input>, String, Option<u64>)> {
    Ok(match input {
        Some(p) => {
            let mut f =
                std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let meta = f.metadata().ok();
            let size = meta.as_ref().map(|m| m.len());
            let regular = meta.as_ref().is_none_or(|m| m.is_file());
            if start.offset > 0 {
                use std::io::Seek;
                f.seek(std::io::SeekFrom::Start(start.offset))
                    .with_context(|| format!("seeking {} to the saved position", p.display()))?;
            }
            let reader = std::io::BufReader::with_capacity(1 << 16, f);
            // A FIFO or a device named as the input is a stream like stdin.
            let live: Box<dyn Input> = if !regular {
                Box::new(Live(reader))
            } else {
                Box::new(reader)
            };
            (live, p.display().to_string(), size)
        }
        None => (
            Box::new(Live(std::io::BufReader::new(std::io::stdin()))),
            "stdin".into(),
            None,
        ),
    })
}

/// The sink for `--output-format`, writing to `--output`/stdout or sending
/// to `--hec-url` / `--syslog`.
/// With `resume_len`, the `--output` file is cut back to that length and
/// appended to (a run resumed from a checkpoint).
pub(crate) fn alert_sink_at(a: &OutputArgs, resume_len: Option<u64>) -> Result<DynSink> {
    if a.hec_url.is_some() && a.output_format != OutputFormat::Hec {
        bail!("--hec-url needs --output-format hec");
    }
    if a.syslog.is_some() && a.output_format != OutputFormat::Cef {
        bail!("--syslog needs --output-format cef");
    }
    if let Some(url) = &a.hec_url {
        let token = hec_token(a)?;
        return Ok(DynSink(Box::new(HecPost::new(url, &token, hostname())?)));
    }
    if let Some(url) = &a.syslog {
        return Ok(DynSink(Box::new(Syslog::connect(url, hostname())?)));
    }
    let out: Box<dyn Write + Send> = match (a.file(), resume_len) {
        (Some(p), Some(len)) => Box::new(std::io::BufWriter::new(durable::reopen_output(p, len)?)),
        (Some(p), None) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        (None, _) => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    Ok(DynSink(match a.output_format {
        OutputFormat::Jsonl => Box::new(JsonLines(out)),
        OutputFormat::Ecs => Box::new(JsonDocs::new(out, DocKind::Ecs)),
        OutputFormat::Ocsf => Box::new(JsonDocs::new(out, DocKind::Ocsf)),
        OutputFormat::Hec => Box::new(JsonDocs::new(out, DocKind::Hec(hostname()))),
        OutputFormat::Cef => Box::new(CefLines(out)),
    }))
}

/// The environment variable the HEC token may come from.
const HEC_TOKEN_ENV: &str = "UEBA_HEC_TOKEN";

/// The Splunk HEC token for `--hec-url`: from `--hec-token-file` or
/// `$UEBA_HEC_TOKEN`, or (with a warning) `--hec-token`.
fn hec_token(a: &OutputArgs) -> Result<String> {
    let from_secret = secret::from_file_or_env(
        a.hec_token_file.as_deref(),
        "--hec-token-file",
        HEC_TOKEN_ENV,
    )?;
    match (from_secret, &a.hec_token) {
        (Some(_), Some(_)) => bail!("both --hec-token and {HEC_TOKEN_ENV} are set; use one"),
        (Some(token), None) => Ok(token),
        (None, Some(token)) => {
            tracing::warn!(
                "--hec-token is visible to every user of this machine in `ps`; use --hec-token-file or {HEC_TOKEN_ENV}"
            );
            Ok(token.trim().to_string())
        }
        (None, None) => bail!(
            "--hec-url needs the HEC token: --hec-token-file FILE or the {HEC_TOKEN_ENV} environment variable"
        ),
    }
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:40}] {bytes_per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}

/// Feed `reader` through `scorer` with the engine's driver, printing the
/// first few skipped lines and moving `progress`. The reader starts at
/// `start` (a resumed run). With `checkpoints`, checkpoints are taken as
/// they fall due, at the end, and when SIGINT/SIGTERM asks to stop.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_scorer<S: AlertSink>(
    scorer: Scorer<S>,
    reader: Box<dyn Input>,
    parser: Box<dyn LineParser>,
    name: &str,
    skip_invalid: bool,
    progress: Option<&indicatif::ProgressBar>,
    start: Position,
    checkpoints: Option<&mut durable::Checkpointer>,
) -> Result<Run<S>> {
    const SHOWN: usize = 5;
    let mut shown = 0usize;
    let how = Drive {
        name,
        skip_invalid,
        start,
        on_invalid: &mut |e| {
            if shown < SHOWN {
                tracing::info!(input = name, "skipped {name}: {e}");
                shown += 1;
            }
        },
        on_progress: &mut |bytes| {
            if let Some(pb) = progress {
                pb.set_position(bytes);
            }
        },
    };
    let checkpoints = checkpoints.map(|c| c as &mut dyn Checkpoints<S>);
    Ok(drive(
        scorer,
        feed_at(reader, parser, start),
        how,
        checkpoints,
    )?)
}

fn config_cmd(a: ConfigArgs) -> Result<()> {
    let cfg = load_config(a.engine.config.as_deref())?;
    let runtime = runtime_for(&cfg)?;
    let plugins = load_detectors(
        &runtime,
        &cfg,
        a.engine.config.as_deref(),
        a.engine.plugins.as_deref(),
    )?;
    let mut out = std::io::stdout().lock();
    write!(out, "{DEFAULT_TOML}")?;
    for l in &plugins {
        let info = l.plugin.info();
        // Plugin text goes only into comments, escaped by the gate at load
        // (and the origin, a file name, here): the output always parses and
        // carries no setting the plugin chose.
        writeln!(
            out,
            "\n# {} {} ({}): {}",
            info.name,
            info.version,
            ueba_engine::sandbox::gate::escape_text(&l.origin.to_string()),
            info.description
        )?;
        writeln!(out, "[detectors.{}]", info.name)?;
        writeln!(out, "enabled = true\nweight = 1.0")?;
        for (key, default, description) in &info.config {
            writeln!(out, "# {description}\n{key} = {default}")?;
        }
    }
    Ok(())
}

/// `--format`'s values, each with its line of help, from the formats
/// crate's own list; `native` is accepted for `jsonl`.
pub(crate) fn input_format() -> impl clap::builder::TypedValueParser<Value = InputFormat> {
    use clap::builder::TypedValueParser as _;
    let values = InputFormat::ALL.map(|f| {
        let value = clap::builder::PossibleValue::new(f.name()).help(f.help());
        if f == InputFormat::Jsonl {
            value.alias("native")
        } else {
            value
        }
    });
    clap::builder::PossibleValuesParser::new(values).try_map(|s| s.parse::<InputFormat>())
}

/// `--output-format`'s values, each with its line of help.
fn output_format() -> impl clap::builder::TypedValueParser<Value = OutputFormat> {
    use clap::builder::TypedValueParser as _;
    let values =
        OutputFormat::ALL.map(|f| clap::builder::PossibleValue::new(f.name()).help(f.help()));
    clap::builder::PossibleValuesParser::new(values).try_map(|s| s.parse::<OutputFormat>())
}
