//! The `ueba` command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use ueba::config::{Config, DEFAULT_TOML};
use ueba::generator::{GenConfig, generate};
use ueba::identity::Identities;
use ueba::input::{Chunk, spawn_reader};
use ueba::runtime::Runtime;
use ueba::score::{AlertSink, JsonLines, Report, Scorer};

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
    /// Score access events (JSON lines) and write alerts (JSON lines).
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
    /// Print the default configuration, every key documented, including each detector's own keys.
    Config(ConfigArgs),
}

#[derive(Args)]
struct ScoreArgs {
    /// Events file (JSON lines); `-` or absent reads stdin.
    events: Option<PathBuf>,
    /// Identity CSV with header `user,peer_group,timezone` (IANA timezone).
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Write alerts here instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Count and report malformed lines instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// Users shown in the summary table.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// No summary or progress bar on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args)]
struct EngineArgs {
    /// Configuration file (TOML); `ueba config` prints every key with its default.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Directory of extra detector plugins (`*.wasm` components); a plugin
    /// with the name of a built-in one replaces it.
    #[arg(long, short = 'p')]
    plugins: Option<PathBuf>,
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
        Command::Demo(a) => demo(a),
        Command::Config(a) => config_cmd(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

fn runtime_for(cfg: &Config) -> Result<Runtime> {
    let cache = if !cfg.engine.cache {
        None
    } else if cfg.engine.cache_dir.as_os_str().is_empty() {
        Runtime::default_cache_dir()
    } else {
        Some(cfg.engine.cache_dir.clone())
    };
    Ok(Runtime::new(cache)?)
}

fn score(a: ScoreArgs) -> Result<()> {
    let cfg = load_config(a.engine.config.as_deref())?;
    let identities = match &a.identities {
        Some(p) => Identities::load(p)?,
        None => Identities::default(),
    };
    let runtime = runtime_for(&cfg)?;
    let plugins = ueba::plugins::load(&runtime, &cfg, a.engine.plugins.as_deref())
        .context("loading detectors")?;
    let (reader, name, size): (Box<dyn BufRead + Send>, String, Option<u64>) = match &a.events {
        Some(p) if p.as_os_str() != "-" => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            (
                Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
                p.display().to_string(),
                size,
            )
        }
        _ => (
            Box::new(std::io::BufReader::new(std::io::stdin())),
            "stdin".into(),
            None,
        ),
    };
    let sink: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let progress = (!a.quiet && std::io::stderr().is_terminal())
        .then_some(size)
        .flatten()
        .map(progress_bar);
    let scorer = Scorer::new(cfg, identities, plugins, JsonLines(sink));
    let (report, _) = run_scorer(scorer, reader, &name, a.skip_invalid, progress.as_ref())?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if !a.quiet {
        eprint!("{}", report.render(a.top));
    }
    Ok(())
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

/// Feed a reader through a scorer; on idle input (a live tail) score what is
/// held so alerts are not delayed by a quiet log.
fn run_scorer<S: AlertSink>(
    mut scorer: Scorer<S>,
    reader: Box<dyn BufRead + Send>,
    name: &str,
    skip_invalid: bool,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(Report, S)> {
    const SHOWN: usize = 5;
    let (rx, bytes) = spawn_reader(reader);
    let mut shown = 0usize;
    loop {
        let chunk = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(c) => c,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                scorer.flush()?;
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match chunk {
            Chunk::Lines(lines) => {
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
            }
            Chunk::Failed(e) => return Err(e).with_context(|| format!("reading {name}")),
        }
        if let Some(pb) = progress {
            pb.set_position(bytes.load(Ordering::Relaxed));
        }
    }
    Ok(scorer.finish()?)
}

fn gen_cmd(a: GenArgs) -> Result<()> {
    let cfg = GenConfig {
        users: a.users,
        days: a.days,
        seed: a.seed,
        start: a.start.unwrap_or(GenConfig::default().start),
        scenarios: !a.no_scenarios,
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
    let plugins = ueba::plugins::load(&runtime, &cfg, None).context("loading detectors")?;
    let identities = Identities::load(&summary.identities_path)?;
    let file = std::fs::File::open(&summary.events_path)
        .with_context(|| format!("opening {}", summary.events_path.display()))?;
    let scorer = Scorer::new(cfg, identities, plugins, Vec::new());
    let (report, alerts) = run_scorer(
        scorer,
        Box::new(std::io::BufReader::new(file)),
        "events.jsonl",
        false,
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
    let plugins = ueba::plugins::load(&runtime, &cfg, a.engine.plugins.as_deref())
        .context("loading detectors")?;
    let mut out = std::io::stdout().lock();
    write!(out, "{DEFAULT_TOML}")?;
    for l in &plugins {
        let info = l.plugin.info();
        writeln!(
            out,
            "\n# {} {} ({}): {}",
            info.name, info.version, l.origin, info.description
        )?;
        writeln!(out, "[detectors.{}]", info.name)?;
        writeln!(out, "enabled = true\nweight = 1.0")?;
        for (key, default, description) in &info.config {
            writeln!(out, "# {description}\n{key} = {default}")?;
        }
    }
    Ok(())
}
