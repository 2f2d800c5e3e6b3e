//! The scoring driver: parsed input in, a finished run out, with
//! checkpoints as they fall due. `ueba score`, `ueba demo` and `ueba explain`
//! run through it, so a resumed run, an interrupted one and a plain one
//! follow one path.
//!
//! The input arrives as [`Chunk`]s from a reader thread (`ueba-formats`'
//! `input` module): lines already parsed, each chunk with the position a
//! resumed run would continue from. While the input is idle (a live tail),
//! the held events are scored every second, so alerts are not delayed by a
//! quiet log. A read failure, a parser's fatal error, or the reader thread
//! dying all arrive as [`Chunk::Failed`] and end the run with an error: the
//! end of the input is only ever the channel closing after the last chunk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::event::{AccessEvent, ParseError};
use crate::pipeline::{AlertSink, Report, ScoreError, Scorer};

use super::Position;

/// How long the driver waits for input before scoring what is held.
const IDLE_FLUSH: Duration = Duration::from_secs(1);

/// One input line's outcome: an event, or an error naming its line.
pub type Parsed = Result<AccessEvent, ParseError>;

/// A chunk of parsed lines, or the failure that ends the input.
pub enum Chunk {
    /// Parsed lines, in input order, and where to resume reading so as to
    /// get exactly the lines after them (a durable-state checkpoint taken
    /// after these lines records it).
    Lines(Vec<Parsed>, Position),
    /// The input could not be read further (an I/O error, a format that
    /// cannot be parsed, or the reader itself failing).
    Failed(std::io::Error),
}

/// The input side of a run: the reader thread's channel and its counters.
pub struct Feed {
    /// Chunks in input order; closed after the last one.
    pub chunks: Receiver<Chunk>,
    /// Bytes consumed so far, for a progress bar.
    pub bytes: Arc<AtomicU64>,
    /// Records the parser skipped as not data access, for the summary.
    pub skipped: Arc<AtomicU64>,
}

/// What durable state asks of the driver (`--state DIR`): to be offered a
/// checkpoint after each chunk, and to say when a signal asked the run to
/// stop. Implemented by the CLI, which owns files, signals and timing.
pub trait Checkpoints<S: AlertSink> {
    /// Whether a checkpoint is due after `events` events.
    fn due(&self, events: u64) -> bool;
    /// Write a checkpoint of `scorer`, the input read up to `position`
    /// (`finished` at its end) and `skipped` records skipped this run.
    fn save(
        &mut self,
        scorer: &mut Scorer<S>,
        position: Position,
        finished: bool,
        skipped: u64,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
    /// The signal that asked the run to stop, if one did.
    fn stop_signal(&self) -> Option<i32>;
}

/// How to run: the input's name for messages, what to do with bad lines,
/// and what to tell the caller along the way.
pub struct Drive<'a> {
    /// The input's name, in messages (`events.jsonl`, `stdin`).
    pub name: &'a str,
    /// Count and skip lines that are not valid events, instead of stopping.
    pub skip_invalid: bool,
    /// Where reading started (a resumed run); also the position reported
    /// if the input ends before its first chunk.
    pub start: Position,
    /// Called with each line skipped as invalid (`skip_invalid`).
    pub on_invalid: &'a mut dyn FnMut(&ParseError),
    /// Called with the bytes consumed so far, after each chunk.
    pub on_progress: &'a mut dyn FnMut(u64),
}

/// Why a run stopped before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// A line is not a valid event and invalid lines were not to be skipped.
    #[error("{name}: {source} (use --skip-invalid to count and skip bad lines)")]
    Invalid {
        /// The input's name.
        name: String,
        /// The line and field at fault.
        source: ParseError,
    },
    /// The input could not be read to its end.
    #[error("reading {name}: {source}")]
    Read {
        /// The input's name.
        name: String,
        /// What failed.
        source: std::io::Error,
    },
    /// Scoring failed (writing alerts, running out of ids).
    #[error(transparent)]
    Score(#[from] ScoreError),
    /// A checkpoint could not be written.
    #[error("saving state: {0}")]
    Checkpoint(Box<dyn std::error::Error + Send + Sync>),
}

/// What a run ends with.
pub struct Run<S> {
    /// The end-of-run report.
    pub report: Report,
    /// The alert sink, handed back (e.g. the alerts kept in memory).
    pub sink: S,
    /// Records the parser skipped as not data access.
    pub skipped: u64,
    /// Where reading stopped.
    pub position: Position,
    /// The signal that stopped the run early (state saved), if any.
    pub stopped_by: Option<i32>,
}

/// Feed `feed` through `scorer` to the end of the input, or until a signal
/// stops a run with `checkpoints` (its state saved, held events in the
/// checkpoint for the resumed run to score).
pub fn drive<S: AlertSink>(
    mut scorer: Scorer<S>,
    feed: Feed,
    how: Drive<'_>,
    mut checkpoints: Option<&mut dyn Checkpoints<S>>,
) -> Result<Run<S>, DriveError> {
    let mut position = how.start;
    let skipped = || feed.skipped.load(Ordering::Relaxed);
    loop {
        match feed.chunks.recv_timeout(IDLE_FLUSH) {
            Ok(Chunk::Lines(lines, resume)) => {
                for parsed in lines {
                    match parsed {
                        Ok(ev) => scorer.push(&ev)?,
                        Err(e) if how.skip_invalid => {
                            scorer.count_invalid();
                            (how.on_invalid)(&e);
                        }
                        Err(source) => {
                            return Err(DriveError::Invalid {
                                name: how.name.to_string(),
                                source,
                            });
                        }
                    }
                }
                position = resume;
                (how.on_progress)(feed.bytes.load(Ordering::Relaxed));
            }
            Ok(Chunk::Failed(source)) => {
                return Err(DriveError::Read {
                    name: how.name.to_string(),
                    source,
                });
            }
            Err(RecvTimeoutError::Timeout) => scorer.flush()?,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(c) = checkpoints.as_deref_mut()
            && c.due(scorer.stats().events)
        {
            c.save(&mut scorer, position, false, skipped())
                .map_err(DriveError::Checkpoint)?;
            if let Some(signal) = c.stop_signal() {
                let (report, sink) = scorer.finish_without_flush();
                return Ok(Run {
                    report,
                    sink,
                    skipped: skipped(),
                    position,
                    stopped_by: Some(signal),
                });
            }
        }
    }
    scorer.flush()?;
    // With state, the input may go on in a later run: events the time
    // guard holds stay waiting in the checkpoint for it, rather than being
    // refused here ([`crate::pipeline::clock`]).
    let (report, sink) = match checkpoints {
        Some(c) => {
            c.save(&mut scorer, position, true, skipped())
                .map_err(DriveError::Checkpoint)?;
            scorer.finish_without_flush()
        }
        None => scorer.finish()?,
    };
    Ok(Run {
        report,
        sink,
        skipped: skipped(),
        position,
        stopped_by: None,
    })
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
