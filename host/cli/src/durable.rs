//! `--state DIR` for `ueba score`: deciding where a resumed run starts, and
//! taking checkpoints while it runs (every N events, every T seconds, at the
//! end of the input, and on SIGINT/SIGTERM).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use ueba_engine::pipeline::{AlertSink, Scorer};
use ueba_engine::state::driver::Checkpoints;
use ueba_engine::state::{Checkpoint, InputMark, OutputMark, StateDir, fingerprint};
use ueba_formats::input::Position;

/// Durable state options, shared by the commands that score.
#[derive(Args)]
pub(crate) struct StateArgs {
    /// Keep durable state in DIR and resume from it: detectors' baselines,
    /// risk, symbols, and the input and output positions. Run the same
    /// command again after a crash or Ctrl-C and it continues where it
    /// stopped; with `--output`, the alert file ends as if the run had never
    /// been interrupted. Given a different input file after a run that read
    /// its input to the end, the new file is read from its start with
    /// everything learned so far (e.g. history first, then today's log).
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// With --state: checkpoint after this many events.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub(crate) checkpoint_events: u64,
    /// With --state: checkpoint at least this often (seconds), also while
    /// the input is idle.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) checkpoint_secs: u64,
    /// With --state: read this input from its start even though the saved
    /// state stopped part-way through another input.
    #[arg(long)]
    pub(crate) new_input: bool,
}

/// Where a run starts and what it carries over from a checkpoint.
pub(crate) struct Plan {
    /// The checkpoint to restore, if any.
    pub(crate) checkpoint: Option<Checkpoint>,
    /// Where to start reading the input.
    pub(crate) start: Position,
    /// Length to cut the alert file back to and append after; `None`
    /// creates it afresh. [`record_len`] does the same for record files.
    pub(crate) output_len: Option<u64>,
}

/// Decide where to start from the saved checkpoint (if any), this run's
/// input file (`None` for stdin) and alert file.
pub(crate) fn plan(
    dir: &StateDir,
    input: Option<&Path>,
    output: Option<&Path>,
    new_input: bool,
) -> Result<Plan> {
    let Some(checkpoint) = dir.load()? else {
        return Ok(Plan {
            checkpoint: None,
            start: Position::default(),
            output_len: None,
        });
    };
    let mut start = Position::default();
    if let Some(mark) = &checkpoint.input {
        let same = match (input, &mark.path) {
            (Some(p), Some(saved)) if rereadable(p) => same_file_prefix(p, saved, mark)?,
            _ => false,
        };
        if same {
            start = mark.position;
        } else if !mark.finished && !new_input {
            let saved = mark
                .path
                .as_ref()
                .map_or("stdin".to_string(), |p| p.display().to_string());
            let now = input.map_or("stdin".to_string(), |p| p.display().to_string());
            if mark.path.is_some() {
                bail!(
                    "the state in {} stopped part-way through {saved} (line {}); give that file again to resume it, \
                     or pass --new-input to read {now} from its start with the saved state",
                    dir.checkpoint_path().display(),
                    mark.position.line
                );
            }
            tracing::info!(
                input = %now,
                "note: the saved state was reading a stream (stdin or a named pipe); a stream cannot be rewound, so reading continues with what {now} delivers now"
            );
        }
    }
    let output_len = match output {
        Some(out) => cut_len(checkpoint.output.as_ref(), out, "alerts")?,
        None => None,
    };
    Ok(Plan {
        checkpoint: Some(checkpoint),
        start,
        output_len,
    })
}

/// The length to cut the record file `path` (`--findings`, `--incidents`)
/// back to on resuming from `checkpoint`; `None` when the checkpoint does
/// not know the file, which is then written afresh.
pub(crate) fn record_len(checkpoint: Option<&Checkpoint>, path: &Path) -> Result<Option<u64>> {
    let Some(cp) = checkpoint else {
        return Ok(None);
    };
    let here = absolute(path);
    let mark = cp.records.iter().find(|m| m.path == here);
    cut_len(mark, path, "records")
}

/// The length a resumed run cuts the file `out` back to, given where the
/// checkpoint saw it (`mark`, when it names this file); an error when the
/// file has been shortened since, as appending then would lose `what`.
fn cut_len(mark: Option<&OutputMark>, out: &Path, what: &str) -> Result<Option<u64>> {
    let Some(mark) = mark.filter(|m| absolute(out) == m.path) else {
        return Ok(None);
    };
    let len = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    if len < mark.len {
        bail!(
            "{} is {len} bytes but held {} bytes of {what} at the checkpoint; it was changed since, \
             so resuming would lose {what}. Restore it, or write to another file",
            out.display(),
            mark.len
        );
    }
    Ok(Some(mark.len))
}

/// Whether `path` is a regular file, which a checkpoint can read again to
/// recognise it. A named pipe or a device (`/dev/stdin`) is a stream, like
/// stdin: opening it again would wait for a writer or take bytes from the
/// run reading it.
pub(crate) fn rereadable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Whether `path` is the checkpoint's input file, still holding at least
/// the bytes read so far with the same beginning (not a rotated file).
fn same_file_prefix(path: &Path, saved: &Path, mark: &InputMark) -> Result<bool> {
    if absolute(path) != saved {
        return Ok(false);
    }
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len < mark.position.offset {
        return Ok(false);
    }
    let now = fingerprint(path, mark.position.offset)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(now == mark.fingerprint)
}

/// `path` made absolute without resolving it further (it may not exist yet).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Open the alert file for a resumed run: cut back to `len` and append.
/// Something other than a regular file (`/dev/null`, a named pipe a
/// forwarder reads) holds nothing to cut back and is written on.
pub(crate) fn reopen_output(path: &Path, len: u64) -> Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if !f.metadata()?.is_file() {
        return Ok(f);
    }
    f.set_len(len)
        .with_context(|| format!("truncating {} to the checkpoint", path.display()))?;
    f.seek(SeekFrom::End(0))?;
    f.flush()?;
    Ok(f)
}

/// Takes checkpoints during a run.
pub(crate) struct Checkpointer {
    dir: StateDir,
    every_events: u64,
    every: Duration,
    last_events: u64,
    last_at: Instant,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    records: Vec<PathBuf>,
    skipped_before: u64,
    /// Set to the signal number by SIGINT/SIGTERM.
    signal: Arc<AtomicUsize>,
    /// Checkpoints written in this run.
    pub(crate) written: u64,
}

impl Checkpointer {
    /// A checkpointer for `dir`, with the run's input, alert and record
    /// files, the skip count carried from the checkpoint, and SIGINT/SIGTERM
    /// hooked so that they checkpoint before the process stops.
    pub(crate) fn new(
        dir: StateDir,
        args: &StateArgs,
        input: Option<&Path>,
        output: Option<&Path>,
        records: &[&Path],
        skipped_before: u64,
    ) -> Result<Self> {
        let signal = Arc::new(AtomicUsize::new(0));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_usize(sig, signal.clone(), sig as usize)
                .context("installing the signal handler")?;
        }
        Ok(Checkpointer {
            dir,
            every_events: args.checkpoint_events.max(1),
            every: Duration::from_secs(args.checkpoint_secs.max(1)),
            last_events: 0,
            last_at: Instant::now(),
            // A stream's position is kept, never its path: it cannot be
            // read again to check that a resumed run has the same input.
            input: input.filter(|p| rereadable(p)).map(absolute),
            output: output.map(absolute),
            records: records.iter().map(|p| absolute(p)).collect(),
            skipped_before,
            signal,
            written: 0,
        })
    }

    /// The signal that asked the run to stop, if one did.
    pub(crate) fn stop_signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// Whether a checkpoint is due after `events` events.
    pub(crate) fn due(&self, events: u64) -> bool {
        events >= self.last_events + self.every_events
            || self.last_at.elapsed() >= self.every
            || self.stop_signal().is_some()
    }

    /// Write a checkpoint: everything the scorer holds, the input read up
    /// to `position` (`finished` at its end) and the alert file's length.
    pub(crate) fn save<S: AlertSink>(
        &mut self,
        scorer: &mut Scorer<S>,
        position: Position,
        finished: bool,
        skipped: u64,
    ) -> Result<()> {
        scorer.flush_sink().context("flushing alerts")?;
        let output = match &self.output {
            Some(p) => Some(OutputMark::of(p).with_context(|| format!("reading {}", p.display()))?),
            None => None,
        };
        let records = self
            .records
            .iter()
            .map(|p| OutputMark::of(p).with_context(|| format!("reading {}", p.display())))
            .collect::<Result<Vec<_>>>()?;
        let fingerprint = match &self.input {
            Some(p) => fingerprint(p, position.offset)
                .with_context(|| format!("reading {}", p.display()))?,
            None => [0; 32],
        };
        let checkpoint = Checkpoint::now(
            scorer.save_state().context("saving the scoring state")?,
            Some(InputMark {
                path: self.input.clone(),
                position,
                fingerprint,
                finished,
            }),
            output,
            self.skipped_before + skipped,
        )
        .with_records(records);
        self.dir.save(&checkpoint)?;
        self.written += 1;
        self.last_events = scorer.stats().events;
        self.last_at = Instant::now();
        Ok(())
    }

    /// The checkpoint file, for messages.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.checkpoint_path()
    }

    /// Records skipped in runs before this one.
    pub(crate) fn skipped_before(&self) -> u64 {
        self.skipped_before
    }
}

impl<S: AlertSink> Checkpoints<S> for Checkpointer {
    fn due(&self, events: u64) -> bool {
        Checkpointer::due(self, events)
    }

    fn save(
        &mut self,
        scorer: &mut Scorer<S>,
        position: Position,
        finished: bool,
        skipped: u64,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Checkpointer::save(self, scorer, position, finished, skipped).map_err(Into::into)
    }

    fn stop_signal(&self) -> Option<i32> {
        Checkpointer::stop_signal(self)
    }
}
