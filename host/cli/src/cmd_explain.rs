//! `ueba explain USER`: why a user did or did not alert.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::Args;

use ueba_engine::pipeline::Scorer;
use ueba_engine::risk::aggregate::{Alert, AlertFinding};
use ueba_engine::risk::findings::{FindingRecord, UserFindings};
use ueba_engine::sandbox::gate::escape_text;
use ueba_engine::state::driver::Parsed;
use ueba_formats::input::Position;
use ueba_formats::sources::{FormatError, InputFormat, LineParser, parser_for};

use crate::{EngineArgs, run_scorer, scoring_setup};

/// `ueba explain` arguments.
#[derive(Args)]
pub(crate) struct ExplainArgs {
    /// The user to explain, as the log names them.
    user: String,
    /// Events file to score (any `--format`), as given to `ueba score`.
    #[arg(required_unless_present_any = ["state", "nats"], conflicts_with_all = ["state", "nats"])]
    events: Option<PathBuf>,
    /// Identity CSV, as given to `ueba score`.
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
    // With an events file, the shards it was scored with; a state
    // directory knows its own.
    #[command(flatten)]
    shards: crate::ShardArgs,
    /// Input format; `auto` decides from the first lines.
    #[arg(long, value_parser = crate::input_format(), default_value = "auto")]
    format: InputFormat,
    /// Count and skip malformed lines instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// Read the checkpoint in this `ueba score --state` directory instead
    /// of scoring events: the user's risk and the findings held for them.
    #[arg(long, value_name = "DIR", conflicts_with = "nats")]
    state: Option<PathBuf>,
    /// Read the checkpoint the workers on this NATS server last stored for
    /// the user's partition (`ueba worker`), as `--state` reads a
    /// directory's: as fresh as that checkpoint.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    #[command(flatten)]
    nats_auth: crate::cmd_nats::NatsAuthArgs,
}

/// Run `ueba explain`.
pub(crate) fn run(a: ExplainArgs) -> Result<()> {
    let (cfg, identities, plugins) = scoring_setup(&a.engine, a.identities.as_deref())?;
    let user = escape_text(&a.user).into_owned();
    if let Some(dir) = &a.state {
        let Some(cp) = ueba_engine::state::read_checkpoint(dir)
            .with_context(|| format!("reading the state in {}", dir.display()))?
        else {
            bail!("{} holds no checkpoint yet", dir.display());
        };
        let from = dir.display().to_string();
        return explain_checkpoint(cfg, identities, plugins, &a.user, cp, &from);
    }
    if let Some(nats) = &a.nats {
        let server = a.nats_auth.server(nats)?;
        let found = crate::cmd_nats::runtime()?
            .block_on(ueba_nats::lookup::user_checkpoint(&server, &a.user))?;
        let url = server.to_string();
        let (p, n) = (found.partition, found.partitions);
        let Some((sequence, cp)) = found.stored else {
            bail!(
                "no worker has stored a checkpoint of partition {p} (of {n}), {user}'s, on {url} yet: a worker stores one every --checkpoint-events events of a partition and when it stops with --exit-when-idle"
            );
        };
        let from = format!(
            "partition {p} of {n} on {url}, its checkpoint up to events-stream sequence {sequence}"
        );
        return explain_checkpoint(cfg, identities, plugins, &a.user, cp, &from);
    }
    let Some(path) = a.events.as_deref() else {
        bail!("give an events file, --state DIR or --nats URL");
    };
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = Box::new(std::io::BufReader::with_capacity(1 << 16, file));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let parser = Box::new(Counting {
        inner: parser_for(a.format, &cfg.formats)?,
        user: a.user.clone(),
        seen: Arc::clone(&seen),
    });
    let records = Arc::new(Mutex::new(Vec::new()));
    let scorer = Scorer::new(cfg, identities, plugins, Vec::<Alert>::new())
        .with_shards(a.shards.shards.into())?
        .with_findings(Box::new(UserFindings {
            user: a.user.clone(),
            records: Arc::clone(&records),
        }));
    let name = path.display().to_string();
    let run = run_scorer(
        scorer,
        reader,
        parser,
        &name,
        a.skip_invalid,
        None,
        Position::default(),
        None,
    )?;
    let records = std::mem::take(
        &mut *records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let seen = std::mem::take(
        &mut *seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    if seen.events == 0 {
        bail!(
            "{user} is not in {name}: none of its {} events names them (names are compared exactly, as the log writes them)",
            run.report.stats.events
        );
    }
    let standing = run.report.users.iter().find(|u| u.name == a.user);
    print!(
        "{}",
        render(
            &user,
            &seen,
            &records,
            standing.map(|u| &u.standing),
            &run.report
        )
    );
    Ok(())
}

/// What the log holds of the user explained, counted as its events are
/// parsed, so that a user no detector found anything about is still
/// described, and a name that is not in the log is said to be absent.
#[derive(Debug, Default)]
struct Seen {
    events: u64,
    /// UTC days with their events.
    days: std::collections::BTreeSet<i64>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

/// A parser that counts the explained user's events as it passes every
/// record on unchanged.
struct Counting {
    inner: Box<dyn LineParser>,
    user: String,
    seen: Arc<Mutex<Seen>>,
}

impl Counting {
    fn tally(&self, parsed: &[Parsed]) {
        let mut theirs = parsed
            .iter()
            .flatten()
            .filter(|e| e.user == self.user)
            .peekable();
        // Most lines are other users': the lock is taken only for theirs.
        if theirs.peek().is_none() {
            return;
        }
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for e in theirs {
            seen.events += 1;
            seen.days
                .insert(e.time_ms.div_euclid(ueba_contract::DAY_MS));
            seen.first_ms = Some(seen.first_ms.map_or(e.time_ms, |t| t.min(e.time_ms)));
            seen.last_ms = Some(seen.last_ms.map_or(e.time_ms, |t| t.max(e.time_ms)));
        }
    }
}

impl LineParser for Counting {
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        let from = out.len();
        let fed = self.inner.feed(text, line, out);
        self.tally(&out[from..]);
        fed
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        let from = out.len();
        let finished = self.inner.finish(out);
        self.tally(&out[from..]);
        finished
    }

    fn skipped(&self) -> u64 {
        self.inner.skipped()
    }

    fn pending_line(&self) -> Option<u64> {
        self.inner.pending_line()
    }

    fn needs_header(&self) -> bool {
        self.inner.needs_header()
    }
}

/// Explain `user` from a checkpoint (read from `from`): their risk and the
/// findings held for them.
fn explain_checkpoint(
    cfg: ueba_engine::config::Config,
    identities: ueba_engine::identity::Identities,
    plugins: Vec<ueba_engine::sandbox::plugins::LoadedPlugin>,
    user_name: &str,
    cp: ueba_engine::state::Checkpoint,
    from: &str,
) -> Result<()> {
    let user = escape_text(user_name).into_owned();
    let mut scorer = Scorer::new(cfg, identities, plugins, Vec::<Alert>::new())
        .with_shards(cp.scorer.shards())?;
    scorer
        .restore_state(cp.scorer)
        .with_context(|| format!("reading the state in {from}"))?;
    let Some((standing, kept)) = scorer.user_state(user_name) else {
        bail!(
            "the state in {from} has no risk for {user}: no detector has found anything about them (or they are not in the log)"
        );
    };
    let mut out = format!(
        "{user}: peak risk {:.1} at {}, {} alerts; the alert threshold is {:.1}\n(from {from}, written {})\n\nfindings held for explaining alerts (the strongest few per detector):\n",
        standing.peak,
        ueba_engine::event::format_time(standing.peak_ms),
        standing.alerts,
        scorer.stats().threshold,
        cp.written
    );
    for f in &kept {
        write_finding(&mut out, f, None);
    }
    print!("{out}");
    Ok(())
}

/// The timeline of one user's findings, as text.
fn render(
    user: &str,
    seen: &Seen,
    records: &[FindingRecord],
    standing: Option<&ueba_engine::risk::aggregate::UserStanding>,
    report: &ueba_engine::pipeline::Report,
) -> String {
    let mut out = String::new();
    let Some(standing) = standing else {
        let span = match (seen.first_ms, seen.last_ms) {
            (Some(a), Some(b)) => format!(
                ", from {} to {}",
                ueba_engine::event::format_time(a),
                ueba_engine::event::format_time(b)
            ),
            _ => String::new(),
        };
        let days = seen.days.len();
        let _ = writeln!(
            out,
            "{user}: no detector found anything unusual in their {} events on {days} day{}{span} (of the log's {}); the alert threshold ended at {:.1}",
            seen.events,
            if days == 1 { "" } else { "s" },
            report.stats.events,
            report.stats.threshold
        );
        let _ = writeln!(
            out,
            "each detector reports only what scores at least its min_score (`ueba config`): nothing they did stood that far from what the detectors had learned of them, their peers and the organisation"
        );
        input_notes(&mut out, &report.stats);
        return out;
    };
    let _ = writeln!(
        out,
        "{user}: peak risk {:.1} at {}, {} alerts, {} findings; the alert threshold ended at {:.1}",
        standing.peak,
        ueba_engine::event::format_time(standing.peak_ms),
        standing.alerts,
        records.len(),
        report.stats.threshold
    );
    let per: Vec<String> = report
        .detectors
        .iter()
        .zip(&standing.findings)
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    let _ = writeln!(out, "findings per detector: {}\n", per.join(", "));
    for r in records {
        write_finding(&mut out, &r.finding, Some(r));
    }
    if standing.alerts == 0 {
        let _ = writeln!(
            out,
            "\nnever alerted: the highest risk, {:.1}, stayed below the threshold",
            standing.peak
        );
        if let Some(b) = report.stats.budget
            && let Some(ceiling) = b.held_at_ceiling()
        {
            let _ = writeln!(
                out,
                "the alert budget ended overspent: {b}; it held the threshold at risk.threshold_ceiling ({ceiling:.1})"
            );
        }
        if let Some(b) = report.stats.budget
            && let Some(note) = b.lifted_note()
        {
            let _ = writeln!(out, "the alert budget: {b}; {note}");
        }
    }
    input_notes(&mut out, &report.stats);
    out
}

/// Say what was wrong with the input: events never scored because their
/// time stood far from the log's (one of them may be the user's), events
/// out of time order, users missing from the identity file.
fn input_notes(out: &mut String, stats: &ueba_engine::pipeline::Stats) {
    for note in stats.notes() {
        let _ = writeln!(out, "\n{note}");
    }
}

/// One finding: time, detector, score, (risk after, threshold, alert,
/// whether it restated the hour's finding on its resource), reason, how
/// its detector's tail on this log read it, and evidence.
fn write_finding(out: &mut String, f: &AlertFinding, record: Option<&FindingRecord>) {
    let after = record.map_or(String::new(), |r| {
        format!(
            " -> risk {:.1} (threshold {:.1}){}{}",
            r.risk,
            r.threshold,
            r.alert
                .as_deref()
                .map_or(String::new(), |k| format!("  ALERT ({k})")),
            if r.restates {
                "  restates this hour's finding on its resource: counted once, at the stronger"
            } else {
                ""
            }
        )
    });
    let _ = writeln!(
        out,
        "{}  [{} {:.0}]{after}\n    {} ({} {})",
        f.time,
        f.detector,
        f.score,
        escape_text(&f.reason),
        escape_text(&f.action),
        escape_text(&f.resource),
    );
    if let Some(t) = &f.tail {
        let _ = writeln!(
            out,
            "    read as {:.1}, not the detector's {:.1}: {} users of this log reached that from it over {} user-days",
            f.criticality.as_ref().map_or(f.score, |c| c.detector_score),
            t.detector_score,
            t.users,
            t.user_days,
        );
    }
    if !f.evidence.is_empty() {
        let evidence: Vec<String> = f
            .evidence
            .iter()
            .map(|(k, v)| format!("{}={}", escape_text(k), escape_text(&v.to_string())))
            .collect();
        let _ = writeln!(out, "    {}", evidence.join(" "));
    }
}
