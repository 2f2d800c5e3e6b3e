//! The laboratory commands: `ueba gen`, `ueba demo`, `ueba bench` and
//! `ueba eval`, over `ueba-lab`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::*;

#[derive(Args)]
pub(crate) struct GenArgs {
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
pub(crate) struct DemoArgs {
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

pub(crate) fn gen_cmd(a: GenArgs) -> Result<()> {
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

pub(crate) fn demo(a: DemoArgs) -> Result<()> {
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
    let plugins = crate::load_detectors(&runtime, &cfg, None, None)?;
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
            ueba_lab::eval::kind_word(s.malicious),
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

#[derive(Args)]
pub(crate) struct BenchArgs {
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
    /// Shards of the sharded end-to-end case, compared with one shard
    /// (default 2; 1 leaves the case out).
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of the in-process cases: measure workers on NATS JetStream
    /// against the server at URL, which must hold no ueba streams (they are
    /// created and deleted). Generates `--users` users (default 500) over
    /// 30 days, publishes them in 2 partitions and times 1 worker, then 2,
    /// as whole processes, `--reps` times (default 3); prints events/s.
    /// `scripts/nats-bench` starts a throwaway server and runs this.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// How to authenticate to the server of --nats; the workers and the
    /// publisher the benchmark starts are given the same.
    #[command(flatten)]
    nats_auth: crate::cmd_nats::NatsAuthArgs,
}

pub(crate) fn bench_cmd(a: BenchArgs) -> Result<()> {
    use ueba_lab::bench::Options;
    if let Some(url) = &a.nats {
        let reps = a.reps.unwrap_or(if a.quick { 1 } else { 3 }).max(1);
        let server = a.nats_auth.server(url)?;
        let auth = a.nats_auth.to_args();
        let report = crate::nats_bench::run(&server, &auth, a.users.unwrap_or(500), reps)?;
        print!("{}", report.render());
        if let Some(path) = &a.json {
            write_json(path, &report)?;
        }
        return Ok(());
    }
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
    options.shards = a.shards.unwrap_or(options.shards);
    if cfg!(debug_assertions) {
        tracing::warn!(
            "this is a debug build; build with --release for figures that mean anything"
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
        write_json(path, &report)?;
    }
    Ok(())
}

/// A benchmark's report as pretty JSON in `path` (`--json`).
fn write_json(path: &std::path::Path, report: &impl serde::Serialize) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, report)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(w)
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", path.display()))
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// Events file, in `--format` (any format `ueba score` reads).
    #[arg(long, required_unless_present = "sweep", requires = "labels")]
    events: Option<PathBuf>,
    /// Input format of the events; `auto` decides from the first lines.
    /// `[formats]` in `--config` says how non-native formats are read.
    #[arg(long, value_parser = crate::input_format(), default_value = "auto")]
    format: InputFormat,
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
    #[command(flatten)]
    shards: crate::ShardArgs,
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

pub(crate) fn eval_cmd(a: EvalArgs) -> Result<()> {
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
                format: a.format,
                formats: &cfg.formats,
                identities: a.identities.as_deref(),
                labels,
            };
            let source = match (&a.alerts, runtime) {
                (Some(alerts), _) => Source::Alerts(alerts),
                (None, Some(runtime)) => Source::Score {
                    runtime,
                    config: &cfg,
                    shards: a.shards.shards.into(),
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
                shards: a.shards.shards.into(),
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
