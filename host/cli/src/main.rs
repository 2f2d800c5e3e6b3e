//! The `ueba` command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use ueba_engine::config::{Config, DEFAULT_TOML};
use ueba_engine::identity::Identities;
use ueba_engine::state::StateDir;
use ueba_formats::input::{Chunk, Position, spawn_reader_at};
use ueba_formats::sinks::{
    DocKind, DynSink, JsonDocs, JsonLines, OutputFormat, cef::CefLines, cef::Syslog, hec::HecPost,
    hostname,
};
use ueba_formats::sources::{InputFormat, LineParser, NativeParser, parser_for};
use ueba_lab::generator::{GenConfig, Shape, generate};

mod cmd_plugin;
mod durable;
use ueba_engine::pipeline::{AlertSink, Report, Scorer};
use ueba_engine::sandbox::Runtime;

mod cmd_explain;
mod cmd_serve;

/// Score database access logs for insider risk with sandboxed WebAssembly detectors.
///
/// Detectors for bulk volume, off-hours activity and first access to novel
/// tables run as WebAssembly plugins that import nothing; their findings add
/// up to a per-user risk (0-100) that decays over time, and users whose risk
/// crosses the threshold are alerted as JSON lines with the evidence.
#[derive(Parser)]
#[command(name = "ueba", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// ROC-AUC, PR-AUC and recall at 1% and 5% FPR over user-days; and three
    /// static rules against ueba at equal recall. --json and --report write
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
    /// With --state DIR instead, reads the checkpoint `ueba score --state`
    /// keeps and prints the user's risk and the findings held for them.
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
    /// Prometheus text and GET /healthz names quarantined detectors. The
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
}

#[derive(Args)]
struct ScoreArgs {
    /// Events file (any `--format`); `-` or absent reads stdin.
    events: Option<PathBuf>,
    /// Identity CSV with header `user,peer_group,timezone` (IANA timezone).
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
    /// it raised, if any. With --state it is appended to, so findings
    /// after the last checkpoint of an interrupted run appear again.
    #[arg(long, value_name = "FILE")]
    findings: Option<PathBuf>,
    #[command(flatten)]
    durable: durable::StateArgs,
}

/// Where alerts go and in which format; shared by every command that scores.
#[derive(Args)]
pub(crate) struct OutputArgs {
    /// Write alerts here instead of stdout.
    #[arg(long, short = 'o')]
    pub(crate) output: Option<PathBuf>,
    /// Alert format.
    #[arg(long, value_parser = output_format(), default_value = "jsonl")]
    pub(crate) output_format: OutputFormat,
    /// POST `--output-format hec` alerts to this Splunk HEC URL instead of writing them.
    #[arg(long, requires = "hec_token")]
    pub(crate) hec_url: Option<String>,
    /// HEC token, sent as `Authorization: Splunk <token>`.
    #[arg(long)]
    pub(crate) hec_token: Option<String>,
    /// Send `--output-format cef` alerts to syslog: `udp://host:port` or `tcp://host:port`.
    #[arg(long)]
    pub(crate) syslog: Option<String>,
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

#[derive(Args)]
struct GenArgs {
    /// Number of users.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Number of days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Random seed; the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    start: Option<jiff::civil::Date>,
    /// Leave out the malicious scenarios (benign look-alikes stay: they are normal behaviour).
    #[arg(long)]
    no_scenarios: bool,
    /// Put a site in another time zone, e.g. `manila=Etc/GMT-3` (repeatable;
    /// sites: manila, dublin, chicago, new-york, berlin, los-angeles, london).
    /// Shifts follow the zone's local time and identities.csv names it.
    #[arg(long, value_name = "SITE=ZONE", value_parser = site_timezone)]
    site_timezone: Vec<(String, String)>,
    /// Kind of log: `database` (access events with rows read) or
    /// `workstation` (logon/logoff per machine and removable media, a few
    /// events per person a day).
    #[arg(long, default_value = "database", value_parser = shape)]
    shape: Shape,
}

/// Parses `ueba gen --shape`.
fn shape(s: &str) -> Result<Shape, String> {
    Shape::parse(s).map_err(|e| e.to_string())
}

/// Parses `SITE=ZONE` for `ueba gen --site-timezone`.
fn site_timezone(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((site, zone)) if !site.is_empty() && !zone.is_empty() => {
            Ok((site.to_string(), zone.to_string()))
        }
        _ => Err(format!(
            "expected SITE=ZONE, e.g. manila=Etc/GMT-3, got `{s}`"
        )),
    }
}

#[derive(Args)]
struct DemoArgs {
    /// Number of users.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Number of days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Users explained.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

#[derive(Args)]
struct ConfigArgs {
    #[command(flatten)]
    engine: EngineArgs,
}

fn main() {
    let cli = Cli::parse();
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
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
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
    Ok(Runtime::new(cache)?)
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
    let runtime = runtime_for(&cfg)?;
    let plugins = ueba_engine::sandbox::plugins::load(&runtime, &cfg, engine.plugins.as_deref())
        .context("loading detectors")?;
    Ok((cfg, identities, plugins))
}

fn score(a: ScoreArgs) -> Result<()> {
    let (cfg, identities, plugins) = scoring_setup(&a.engine, a.identities.as_deref())?;
    let input = a.events.as_deref().filter(|p| p.as_os_str() != "-");
    let state = match &a.durable.state {
        Some(dir) => {
            let dir = StateDir::open(dir)?;
            let plan = durable::plan(&dir, input, a.out.output.as_deref(), a.durable.new_input)?;
            Some((dir, plan))
        }
        None => None,
    };
    let start = state.as_ref().map_or(Position::default(), |(_, p)| p.start);
    let (reader, name, size): (Box<dyn BufRead + Send>, String, Option<u64>) = match input {
        Some(p) => {
            let mut f =
                std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            if start.offset > 0 {
                use std::io::Seek;
                f.seek(std::io::SeekFrom::Start(start.offset))
                    .with_context(|| format!("seeking {} to the saved position", p.display()))?;
            }
            (
                Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
                p.display().to_string(),
                size,
            )
        }
        None => (
            Box::new(std::io::BufReader::new(std::io::stdin())),
            "stdin".into(),
            None,
        ),
    };
    let parser = parser_for(a.format, &cfg.formats)?;
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
    let mut scorer = Scorer::new(cfg, identities, plugins, sink);
    if let Some(path) = &a.findings {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(state.is_some())
            .truncate(state.is_none())
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        scorer = scorer.with_findings(Box::new(ueba_engine::risk::findings::FindingLines(
            std::io::BufWriter::new(file),
        )));
    }
    let mut checkpointer = None;
    if let Some((dir, plan)) = state {
        let mut skipped_before = 0;
        if let Some(cp) = plan.checkpoint {
            if !a.quiet {
                eprintln!(
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
        checkpointer = Some(durable::Checkpointer::new(
            dir,
            &a.durable,
            input,
            a.out.output.as_deref(),
            skipped_before,
        )?);
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
        eprintln!(
            "stopped by signal {signal} after line {}; run the same command to resume",
            run.position.line
        );
        std::process::exit(128 + signal);
    }
    Ok(())
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
    if let (Some(url), Some(token)) = (&a.hec_url, &a.hec_token) {
        return Ok(DynSink(Box::new(HecPost::new(url, token, hostname())?)));
    }
    if let Some(url) = &a.syslog {
        return Ok(DynSink(Box::new(Syslog::connect(url, hostname())?)));
    }
    let out: Box<dyn Write + Send> = match (&a.output, resume_len) {
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

/// What [`run_scorer`] ends with.
pub(crate) struct Run<S> {
    pub(crate) report: Report,
    sink: S,
    /// Records the parser skipped as not data access.
    skipped: u64,
    /// Where reading stopped.
    position: Position,
    /// The signal that stopped the run early (state saved), if any.
    stopped_by: Option<i32>,
}

/// Feed a reader through a scorer; on idle input (a live tail) score what is
/// held so alerts are not delayed by a quiet log. The reader starts at
/// `start` (a resumed run). With a checkpointer, checkpoints are taken as
/// they fall due, at the end, and when SIGINT/SIGTERM asks to stop.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_scorer<S: AlertSink>(
    mut scorer: Scorer<S>,
    reader: Box<dyn BufRead + Send>,
    parser: Box<dyn LineParser>,
    name: &str,
    skip_invalid: bool,
    progress: Option<&indicatif::ProgressBar>,
    start: Position,
    mut checkpoints: Option<&mut durable::Checkpointer>,
) -> Result<Run<S>> {
    const SHOWN: usize = 5;
    let (rx, bytes, skipped) = spawn_reader_at(reader, parser, start);
    let mut shown = 0usize;
    let mut position = start;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(Chunk::Lines(lines, resume)) => {
                for parsed in lines {
                    match parsed {
                        Ok(ev) => scorer.push(&ev)?,
                        Err(e) if skip_invalid => {
                            scorer.count_invalid();
                            if shown < SHOWN {
                                eprintln!("skipped {name}: {e}");
                                shown += 1;
                            }
                        }
                        Err(e) => {
                            bail!("{name}: {e} (use --skip-invalid to count and skip bad lines)")
                        }
                    }
                }
                position = resume;
                if let Some(pb) = progress {
                    pb.set_position(bytes.load(Ordering::Relaxed));
                }
            }
            Ok(Chunk::Failed(e)) => return Err(e).with_context(|| format!("reading {name}")),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => scorer.flush()?,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some(c) = checkpoints.as_deref_mut()
            && c.due(scorer.stats().events)
        {
            c.save(
                &mut scorer,
                position,
                false,
                skipped.load(Ordering::Relaxed),
            )?;
            if let Some(signal) = c.stop_signal() {
                // Held events are in the checkpoint; the resumed run scores them.
                let (report, sink) = scorer.finish_without_flush();
                return Ok(Run {
                    report,
                    sink,
                    skipped: skipped.load(Ordering::Relaxed),
                    position,
                    stopped_by: Some(signal),
                });
            }
        }
    }
    scorer.flush()?;
    if let Some(c) = checkpoints {
        c.save(&mut scorer, position, true, skipped.load(Ordering::Relaxed))?;
    }
    let (report, sink) = scorer.finish()?;
    Ok(Run {
        report,
        sink,
        skipped: skipped.load(Ordering::Relaxed),
        position,
        stopped_by: None,
    })
}

fn gen_cmd(a: GenArgs) -> Result<()> {
    let cfg = GenConfig {
        users: a.users,
        days: a.days,
        seed: a.seed,
        start: a.start.unwrap_or(GenConfig::default().start),
        scenarios: !a.no_scenarios,
        site_timezones: a.site_timezone,
        shape: a.shape,
    };
    let pb = std::io::stderr()
        .is_terminal()
        .then(|| indicatif::ProgressBar::new(u64::from(a.days)));
    let summary = generate(&cfg, &a.out, &mut |done, total| {
        if let Some(pb) = &pb {
            pb.set_length(u64::from(total));
            pb.set_position(u64::from(done));
        }
    })?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    eprintln!(
        "wrote {} events for {} users: {}, {}, {}",
        summary.events,
        summary.users,
        summary.events_path.display(),
        summary.identities_path.display(),
        summary.labels_path.display()
    );
    for s in &summary.scenarios {
        eprintln!(
            "  {:<22} {:<12} {} {}",
            s.name,
            s.user,
            if s.malicious {
                "malicious"
            } else {
                "benign   "
            },
            s.description
        );
    }
    Ok(())
}

fn demo(a: DemoArgs) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    eprintln!(
        "Generating a support organisation: {} users over {} days (seed {})...",
        a.users, a.days, a.seed
    );
    let gen_cfg = GenConfig {
        users: a.users,
        days: a.days,
        seed: a.seed,
        ..GenConfig::default()
    };
    let summary = generate(&gen_cfg, dir.path(), &mut |_, _| {})?;
    eprintln!(
        "Scoring {} events with the built-in detectors...",
        summary.events
    );
    let cfg = Config::default();
    let runtime = runtime_for(&cfg)?;
    let plugins =
        ueba_engine::sandbox::plugins::load(&runtime, &cfg, None).context("loading detectors")?;
    let identities = Identities::load(&summary.identities_path)?;
    let file = std::fs::File::open(&summary.events_path)
        .with_context(|| format!("opening {}", summary.events_path.display()))?;
    let scorer = Scorer::new(cfg, identities, plugins, Vec::new());
    let Run {
        report,
        sink: alerts,
        ..
    } = run_scorer(
        scorer,
        Box::new(std::io::BufReader::new(file)),
        Box::new(NativeParser),
        "events.jsonl",
        false,
        None,
        Position::default(),
        None,
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", report.render(a.top.max(10)).trim_start())?;
    writeln!(out, "Why the top users are there (their strongest alert):")?;
    for (rank, u) in report.users.iter().take(a.top).enumerate() {
        let best = alerts
            .iter()
            .filter(|al| al.user == u.name)
            .max_by(|x, y| x.score.total_cmp(&y.score));
        writeln!(
            out,
            "\n#{} {} ({}) peak risk {:.1}",
            rank + 1,
            u.name,
            u.peer_group.as_deref().unwrap_or("no peer group"),
            u.standing.peak
        )?;
        match best {
            None => writeln!(out, "   no alert (below the threshold)")?,
            Some(al) => {
                writeln!(out, "   alert at {} with risk {}", al.time, al.score)?;
                for f in al.findings.iter().take(5) {
                    let ev: Vec<String> =
                        f.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    writeln!(out, "   - [{} {:.0}] {}", f.detector, f.score, f.reason)?;
                    writeln!(out, "       {}", ev.join(" "))?;
                }
            }
        }
    }
    writeln!(
        out,
        "\nWhat was injected (labels.json) and where it ranked:"
    )?;
    for s in &summary.scenarios {
        let rank = report
            .users
            .iter()
            .position(|u| u.name == s.user)
            .map(|r| r + 1);
        let alerted = alerts.iter().any(|al| al.user == s.user);
        writeln!(
            out,
            "  {:<22} {:<10} {:<9} rank {:<5} {}  {}",
            s.name,
            s.user,
            if s.malicious { "malicious" } else { "benign" },
            rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            if alerted { "ALERTED" } else { "quiet  " },
            s.description
        )?;
    }
    writeln!(
        out,
        "\n{} alerts in all. Try: ueba gen --out data && ueba score data/events.jsonl --identities data/identities.csv",
        alerts.len()
    )?;
    Ok(())
}

fn config_cmd(a: ConfigArgs) -> Result<()> {
    let cfg = load_config(a.engine.config.as_deref())?;
    let runtime = runtime_for(&cfg)?;
    let plugins = ueba_engine::sandbox::plugins::load(&runtime, &cfg, a.engine.plugins.as_deref())
        .context("loading detectors")?;
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

#[derive(Args)]
struct BenchArgs {
    /// Events in the main workload (learning period included); the
    /// per-event case times a tenth of them.
    #[arg(long)]
    events: Option<u64>,
    /// Users in the main workload.
    #[arg(long)]
    users: Option<u32>,
    /// User counts of the entity sweep, e.g. `1000,100000,1000000`.
    #[arg(long, value_delimiter = ',')]
    entities: Option<Vec<u32>>,
    /// Plugin counts, e.g. `1,3,10`.
    #[arg(long, value_delimiter = ',')]
    plugins: Option<Vec<usize>>,
    /// Batch sizes of the wasm-batch case with 3 plugins, e.g. `64,1024,8192`.
    #[arg(long, value_delimiter = ',')]
    batches: Option<Vec<usize>>,
    /// Repetitions of every case of the main workload (medians and min-max are over them).
    #[arg(long)]
    reps: Option<usize>,
    /// Repetitions of the entity sweep.
    #[arg(long)]
    sweep_reps: Option<usize>,
    /// Plugins in the entity sweep (default 3; the built-ins in order, so
    /// 4 adds new-source).
    #[arg(long)]
    sweep_plugins: Option<usize>,
    /// A tenth of the events, one repetition, a sweep up to 10 thousand users.
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn bench_cmd(a: BenchArgs) -> Result<()> {
    use ueba_lab::bench::Options;
    let mut options = if a.quick {
        Options::quick()
    } else {
        Options::standard()
    };
    if let Some(events) = a.events {
        options = options.with_events(events);
    }
    options.users = a.users.unwrap_or(options.users);
    options.entities = a.entities.unwrap_or(options.entities);
    options.plugins = a.plugins.unwrap_or(options.plugins);
    options.batches = a.batches.unwrap_or(options.batches);
    options.reps = a.reps.unwrap_or(options.reps);
    options.sweep_reps = a.sweep_reps.unwrap_or(options.sweep_reps);
    options.sweep_plugins = a.sweep_plugins.unwrap_or(options.sweep_plugins);
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; build with --release for figures that mean anything"
        );
    }
    let runtime = runtime_for(&Config::default())?;
    let pb = indicatif::ProgressBar::new(1);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = ueba_lab::bench::run(&runtime, &options, &mut |p| {
        pb.set_length(p.total);
        pb.set_position(p.done);
        pb.set_message(p.label);
    })?;
    pb.finish_and_clear();
    print!("{}", report.render());
    if let Some(path) = &a.json {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, &report)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(w)
            .and_then(|()| w.flush())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[derive(Args)]
struct EvalArgs {
    /// Events file (JSON lines, as `ueba score` reads).
    #[arg(long, required_unless_present = "sweep", requires = "labels")]
    events: Option<PathBuf>,
    /// Identity CSV (time zones for the off-hours rule, peer groups for the report).
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    /// Labels JSON as written by `ueba gen`: {"scenarios":[{"name","user","malicious","start"}]}.
    #[arg(long, required_unless_present = "sweep", requires = "events")]
    labels: Option<PathBuf>,
    /// Configuration file (TOML); the risk threshold and detector settings apply.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Evaluate these alerts (JSON lines from `ueba score`) instead of scoring the events.
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write a self-contained HTML report with charts here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Run the generator at increasing attack intensity and report detection rate against it.
    #[arg(long)]
    sweep: bool,
    /// Seeds per intensity level in the sweep.
    #[arg(long, default_value_t = 5, requires = "sweep")]
    sweep_seeds: u32,
    /// Users per generated organisation in the sweep.
    #[arg(long, default_value_t = 60, requires = "sweep")]
    sweep_users: usize,
    /// Days per generated organisation in the sweep.
    #[arg(long, default_value_t = 21, requires = "sweep")]
    sweep_days: u32,
    /// Where the sweep's chart goes when there is no --report (SVG).
    #[arg(long, default_value = "sweep.svg", requires = "sweep")]
    sweep_plot: PathBuf,
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    use ueba_lab::eval::{self, Inputs, Source, rules::RuleSet, sweep};
    let cfg = load_config(a.config.as_deref())?;
    let rules = RuleSet::from_config(&cfg);
    let runtime = if a.alerts.is_none() || a.sweep {
        Some(runtime_for(&cfg)?)
    } else {
        None
    };
    let evaluation = match (&a.events, &a.labels, &runtime) {
        (Some(events), Some(labels), runtime) => {
            let inputs = Inputs {
                events,
                identities: a.identities.as_deref(),
                labels,
            };
            let source = match (&a.alerts, runtime) {
                (Some(alerts), _) => Source::Alerts(alerts),
                (None, Some(runtime)) => Source::Score {
                    runtime,
                    config: &cfg,
                },
                (None, None) => bail!("no engine to score with"),
            };
            Some(eval::evaluate(&inputs, source, &rules)?)
        }
        _ => None,
    };
    if let Some(e) = &evaluation {
        print!("{}", e.render());
    }
    let sweep = match (a.sweep, &runtime) {
        (true, Some(runtime)) => {
            let sweep_cfg = sweep::SweepConfig {
                users: a.sweep_users,
                days: a.sweep_days,
                seeds: a.sweep_seeds,
                ..sweep::SweepConfig::default()
            };
            let pb = std::io::stderr()
                .is_terminal()
                .then(|| indicatif::ProgressBar::new(0));
            let result = sweep::run(&sweep_cfg, runtime, &cfg, &rules, &mut |done, total| {
                if let Some(pb) = &pb {
                    pb.set_length(total as u64);
                    pb.set_position(done as u64);
                }
            })?;
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            if evaluation.is_some() {
                println!();
            }
            print!("{}", result.render());
            Some(result)
        }
        _ => None,
    };
    if let Some(path) = &a.json {
        let out = eval::Output {
            evaluation: evaluation.as_ref(),
            sweep: sweep.as_ref(),
        };
        let text = serde_json::to_string_pretty(&out)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &a.report {
        let page = eval::report::html(evaluation.as_ref(), sweep.as_ref())?;
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report: {}", path.display());
    } else if let Some(s) = &sweep {
        std::fs::write(&a.sweep_plot, eval::report::sweep_svg(s)?)
            .with_context(|| format!("writing {}", a.sweep_plot.display()))?;
        eprintln!("sweep chart: {}", a.sweep_plot.display());
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
