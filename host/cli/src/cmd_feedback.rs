//! `ueba feedback --state DIR ID benign|malicious`: an analyst's verdict on
//! an alert, checked against the state and appended to its verdicts file.
//!
//! The verdict is not applied here: the next `ueba score --state DIR` run
//! reads the file and applies it at its event time
//! ([`ueba_engine::risk::verdicts`]), so replaying the log with the same
//! file gives the same alerts. A running service takes verdicts on
//! `POST /v1/feedback` instead, since it holds the state directory. With
//! `--nats URL` the verdict goes to the workers scoring the alert's
//! partition ([`ueba_nats::verdicts`]).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use ueba_engine::risk::verdicts::{self, VerdictKind};
use ueba_engine::state::{StateDir, StateError};

/// `ueba feedback` arguments.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("scored_by").required(true).args(["state", "nats"])))]
pub(crate) struct FeedbackArgs {
    /// The state directory of `ueba score --state DIR` whose alert this is.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Instead of a state directory: the NATS server whose workers scored
    /// the alert. The verdict is published to the partition of the alert's
    /// user (`ueba.verdicts.<p>`), timed just after the newest event that
    /// partition's stored checkpoint has scored (or at --at), and the
    /// worker owning the partition applies it (README "Scale out").
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    #[command(flatten)]
    nats_auth: crate::cmd_nats::NatsAuthArgs,
    /// The alert's `id` (its `id` field in the alert output).
    id: String,
    /// `benign` (expected behaviour: the episode closes, the user's risk
    /// resets and the behaviour is learned as normal) or `malicious` (an
    /// attack: the episode stays open and the user's events are kept out of
    /// the baselines).
    #[arg(value_parser = parse_verdict)]
    verdict: VerdictKind,
    /// Why, in the analyst's words (at most 1024 bytes).
    #[arg(long, default_value = "")]
    note: String,
    /// Who gives the verdict (at most 1024 bytes); default $USER.
    #[arg(long)]
    analyst: Option<String>,
    /// Event time (RFC 3339) from which the verdict applies; default just
    /// after the newest event the state has scored. It cannot be earlier
    /// (a verdict never changes what was already scored) nor more than a
    /// day later (verdicts apply in order, so one timed beyond the data
    /// would hold back every later one).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<i64>,
    /// The verdicts file; default DIR/verdicts.jsonl, where `ueba score
    /// --state DIR` reads them.
    #[arg(long, value_name = "FILE", conflicts_with = "nats")]
    verdicts: Option<PathBuf>,
}

fn parse_verdict(s: &str) -> Result<VerdictKind, String> {
    s.parse()
}

fn parse_time(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("not an RFC 3339 time such as 2026-01-12T09:00:00Z: {e}"))
}

/// Run `ueba feedback`.
pub(crate) fn run(a: FeedbackArgs) -> Result<()> {
    let analyst = a
        .analyst
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let state = match (&a.state, &a.nats) {
        (Some(state), _) => state.clone(),
        (None, Some(url)) => return to_workers(&a, url, &analyst),
        (None, None) => bail!("give --state DIR or --nats URL"),
    };
    // A mistyped directory must not be created (opening one creates it).
    if !state.is_dir() {
        bail!(
            "{} is not a state directory: give the --state DIR that `ueba score` or `ueba serve` used",
            state.display()
        );
    }
    // Holding the lock means no run is scoring from this state meanwhile:
    // one would not see the verdict, and its checkpoint would move past the
    // verdict's time.
    let dir = StateDir::open(&state).map_err(|e| match e {
        StateError::Locked { .. } => anyhow::anyhow!(
            "{e}: a run is using {}. Give the verdict to a running `ueba serve` with POST /v1/feedback, or once the run stops",
            state.display()
        ),
        other => other.into(),
    })?;
    let Some(cp) = dir.load()? else {
        bail!(
            "{} holds no checkpoint yet: score with `ueba score --state {}` first",
            state.display(),
            state.display()
        );
    };
    let path = a
        .verdicts
        .clone()
        .unwrap_or_else(|| state.join(verdicts::FILE_NAME));
    let earlier = verdicts::read(&path)?;
    // Verdicts apply in file order: one given after another never applies
    // before it, so its default time is not earlier either.
    let last = earlier.last();
    let released = match (cp.scorer.released_ms(), last) {
        (r, Some(l)) if a.at.is_none() => Some(r.unwrap_or(i64::MIN).max(l.time_ms - 1)),
        (r, _) => r,
    };
    let verdict = verdicts::admit(
        &a.id,
        a.verdict,
        &a.note,
        &analyst,
        a.at,
        released,
        cp.scorer.knows_alert(&a.id),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", state.display()))?;
    if let (Some(at), Some(l)) = (a.at, last)
        && at < l.time_ms
    {
        bail!(
            "--at {} is earlier than the verdict on line {} of {} ({}): verdicts apply in the order of the file",
            verdict.time,
            l.line,
            path.display(),
            l.verdict.time
        );
    }
    let line = verdicts::append(&path, &verdict)?;
    println!("{}", ueba_engine::json::to_string(&verdict)?);
    eprintln!(
        "recorded: {} on alert {} at {}:{line}; it applies from {} when `ueba score --state {}` next runs",
        verdict.verdict.name(),
        verdict.id,
        path.display(),
        verdict.time,
        state.display()
    );
    Ok(())
}

/// `--nats URL`: publish the verdict for the workers (see
/// [`ueba_nats::verdicts`]).
fn to_workers(a: &FeedbackArgs, url: &str, analyst: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let judgement = ueba_nats::verdicts::Judgement {
        id: &a.id,
        verdict: a.verdict,
        note: &a.note,
        analyst,
        at: a.at,
    };
    let server = a.nats_auth.server(url)?;
    let given = rt.block_on(ueba_nats::verdicts::give(&server, &judgement))?;
    println!("{}", ueba_engine::json::to_string(&given.verdict)?);
    eprintln!(
        "published: {} on alert {} to ueba.verdicts.{} on {}; the worker owning partition {} applies it from {}",
        given.verdict.verdict.name(),
        given.verdict.id,
        given.partition,
        server,
        given.partition,
        given.verdict.time
    );
    Ok(())
}
