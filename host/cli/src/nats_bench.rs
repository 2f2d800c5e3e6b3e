//! `ueba bench --nats URL`: events per second of workers on NATS JetStream,
//! one worker and two, on this machine.
//!
//! Whole processes, as an operator runs them. It generates an organisation
//! (`ueba gen`, the database shape), then, for each repetition and each
//! worker count in turn (1 then 2, interleaved so a noisy neighbour slows
//! both alike): removes ueba's streams and buckets from the server,
//! publishes the events into [`PARTITIONS`] partitions with `ueba publish`,
//! starts the workers (`ueba worker --exit-when-idle`: one owning every
//! partition, or one per partition), waits for them and reads the
//! summaries they write (`--summary`). Throughput is the events scored
//! over the span from the earliest first message to the latest end of work
//! (last message scored, final checkpoints stored), so neither the
//! workers' start (loading plugins, taking leases) nor their idle wait
//! before exiting counts; the processes' wall time is reported beside it.
//!
//! The server must hold no ueba state: the benchmark creates and deletes
//! ueba's streams, and refuses a server where they already exist rather
//! than delete someone's events. `scripts/nats-bench` starts a throwaway
//! server and runs this.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use ueba_nats::Server;

/// Partitions the events are published into: one per worker at most.
pub(crate) const PARTITIONS: u32 = 2;
/// Days of the generated organisation.
const DAYS: u32 = 30;
/// Seconds a worker waits with nothing to do before it exits.
const IDLE_SECS: u32 = 1;

/// One run: a worker count, and what its workers did.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Run {
    /// Workers started.
    pub workers: u32,
    /// Events the workers scored together.
    pub events: u64,
    /// Earliest first message to latest end of work, seconds.
    pub busy_s: f64,
    /// From starting the workers to the last one exiting, seconds.
    pub wall_s: f64,
    /// `ueba publish` of the same events, seconds.
    pub publish_s: f64,
}

impl Run {
    /// Events per second while the workers worked.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.busy_s.max(1e-9)
    }
}

/// What `ueba bench --nats` measured.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// The server the workers ran against.
    pub url: String,
    /// Users in the generated organisation.
    pub users: u32,
    /// Events published and scored per run.
    pub events: u64,
    /// Partitions of the stream.
    pub partitions: u32,
    /// Every run, in the order run.
    pub runs: Vec<Run>,
}

/// Generate, publish and score as described in the module docs, on
/// `server`; `auth` is how the child processes authenticate to it (as
/// [`crate::cmd_nats::NatsAuthArgs::to_args`] gives it).
pub(crate) fn run(server: &Server, auth: &[OsString], users: u32, reps: usize) -> Result<Report> {
    let url = server.url.as_str();
    let exe = std::env::current_exe().context("finding the ueba executable")?;
    let rt = crate::cmd_nats::runtime()?;
    rt.block_on(async {
        let js = ueba_nats::server::connect(server).await?;
        if let Some(name) = ueba_nats::server::ueba_state_present(&js).await? {
            bail!(
                "{} already holds {name}: `ueba bench --nats` creates and deletes ueba's streams and buckets, so it needs a server of its own (scripts/nats-bench starts one)",
                ueba_nats::shown_url(url)
            );
        }
        Ok(())
    })?;
    let dir = tempfile::tempdir().context("creating a work directory")?;
    let org = dir.path().join("org");
    eprintln!("generating {users} users over {DAYS} days");
    let gen_args = [
        "gen".to_string(),
        "--users".into(),
        users.to_string(),
        "--days".into(),
        DAYS.to_string(),
        "--seed".into(),
        "1".into(),
        "--out".into(),
        org.display().to_string(),
    ];
    finish(
        Command::new(&exe).args(&gen_args),
        &dir.path().join("gen.log"),
    )?;
    let events = org.join("events.jsonl");
    let identities = org.join("identities.csv");
    let lines = std::fs::read(&events)
        .with_context(|| format!("reading {}", events.display()))?
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    let mut runs = Vec::new();
    for rep in 0..reps {
        for workers in [1, PARTITIONS] {
            eprintln!(
                "repetition {}/{reps}: {workers} worker{}",
                rep + 1,
                if workers == 1 { "" } else { "s" }
            );
            let run = one_run(
                &exe,
                server,
                auth,
                dir.path(),
                &events,
                &identities,
                workers,
            )?;
            if run.events != lines {
                bail!(
                    "{workers} worker(s) scored {} events of the {lines} published",
                    run.events
                );
            }
            runs.push(run);
        }
    }
    rt.block_on(async {
        let js = ueba_nats::server::connect(server).await?;
        ueba_nats::server::remove_ueba_state(&js).await
    })?;
    Ok(Report {
        url: ueba_nats::shown_url(url),
        users,
        events: lines,
        partitions: PARTITIONS,
        runs,
    })
}

/// Clear the server, publish, run `workers` workers to the end.
fn one_run(
    exe: &Path,
    server: &Server,
    auth: &[OsString],
    dir: &Path,
    events: &Path,
    identities: &Path,
    workers: u32,
) -> Result<Run> {
    let url = server.url.as_str();
    let rt = crate::cmd_nats::runtime()?;
    rt.block_on(async {
        let js = ueba_nats::server::connect(server).await?;
        ueba_nats::server::remove_ueba_state(&js).await
    })?;
    let started = Instant::now();
    finish(
        Command::new(exe)
            .args(["publish", "--nats", url, "--partitions"])
            .arg(PARTITIONS.to_string())
            .args(auth)
            .arg(events),
        &dir.join("publish.log"),
    )?;
    let publish_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut children: Vec<(Child, PathBuf, PathBuf)> = Vec::new();
    for k in 0..workers {
        let partitions = if workers == 1 {
            "all".to_string()
        } else {
            k.to_string()
        };
        let summary = dir.join(format!("worker-{k}.json"));
        let log = dir.join(format!("worker-{k}.log"));
        let _ = std::fs::remove_file(&summary);
        let child = Command::new(exe)
            .args(["worker", "--nats", url, "--partitions", &partitions])
            .args(auth)
            .arg("--name")
            .arg(format!("bench-{k}"))
            .arg("--identities")
            .arg(identities)
            .arg("--exit-when-idle")
            .arg(IDLE_SECS.to_string())
            .arg("--summary")
            .arg(&summary)
            .stdout(Stdio::null())
            .stderr(log_file(&log)?)
            .spawn()
            .context("starting ueba worker")?;
        children.push((child, summary, log));
    }
    let mut total = 0u64;
    let mut first = u64::MAX;
    let mut done = 0u64;
    for (mut child, summary, log) in children {
        let status = child.wait().context("waiting for ueba worker")?;
        if !status.success() {
            bail!("ueba worker failed ({status}):\n{}", tail(&log));
        }
        let text = std::fs::read_to_string(&summary)
            .with_context(|| format!("reading {}", summary.display()))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("reading {}", summary.display()))?;
        total += doc["events"].as_u64().unwrap_or(0);
        if let (Some(f), Some(d)) = (doc["first_message_ms"].as_u64(), doc["done_ms"].as_u64()) {
            first = first.min(f);
            done = done.max(d);
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    if first == u64::MAX {
        bail!(
            "no worker received a message from {}",
            ueba_nats::shown_url(url)
        );
    }
    Ok(Run {
        workers,
        events: total,
        busy_s: done.saturating_sub(first) as f64 / 1000.0,
        wall_s,
        publish_s,
    })
}

/// Run a command to its end with its output in `log`; its tail is the
/// error when it fails.
fn finish(cmd: &mut Command, log: &Path) -> Result<()> {
    let status = cmd
        .stdout(log_file(log)?)
        .stderr(log_file(log)?)
        .status()
        .context("starting ueba")?;
    if !status.success() {
        bail!("{:?} failed ({status}):\n{}", cmd.get_args(), tail(log));
    }
    Ok(())
}

/// `log`, opened for appending (created when missing).
fn log_file(log: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The median of some values (0 for none).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl Report {
    /// The table people read: per worker count, the median events/s with
    /// its range over the repetitions, busy and wall seconds, and the
    /// median of the per-repetition ratio of 2 workers to 1.
    pub fn render(&self) -> String {
        let mut out = format!(
            "workers on NATS JetStream ({}): {} events of {} users, {} partitions; whole processes, this machine\n\n",
            self.url, self.events, self.users, self.partitions
        );
        out.push_str(&format!(
            "  {:<10} {:>14} {:>22} {:>9} {:>9} {:>12}\n",
            "workers", "events/s", "min-max", "busy s", "wall s", "publish s"
        ));
        for workers in [1, PARTITIONS] {
            let runs: Vec<&Run> = self.runs.iter().filter(|r| r.workers == workers).collect();
            let rates: Vec<f64> = runs.iter().map(|r| r.rate()).collect();
            let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().copied().fold(0.0, f64::max);
            out.push_str(&format!(
                "  {:<10} {:>14.0} {:>22} {:>9.2} {:>9.2} {:>12.2}\n",
                workers,
                median(rates.clone()),
                format!("{lo:.0}-{hi:.0}"),
                median(runs.iter().map(|r| r.busy_s).collect()),
                median(runs.iter().map(|r| r.wall_s).collect()),
                median(runs.iter().map(|r| r.publish_s).collect()),
            ));
        }
        let ratios: Vec<f64> = self
            .runs
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| pair[1].busy_s / pair[0].busy_s.max(1e-9))
            .collect();
        out.push_str(&format!(
            "\n  {PARTITIONS} workers / 1 worker, busy time: {:.2} (median of {} paired runs)\n",
            median(ratios.clone()),
            ratios.len()
        ));
        out
    }
}
