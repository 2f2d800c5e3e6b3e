//! Reading event lines from a file or stdin on a background thread.
//!
//! Parsing runs on its own thread and hands chunks of parsed lines to the
//! scorer over a bounded channel, so reading and scoring overlap and memory
//! stays bounded however fast the input arrives. Lines longer than
//! [`MAX_LINE`] and lines that are not UTF-8 become line-numbered errors;
//! the rest of an overlong line is skipped without being buffered.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::sources::{LineParser, NativeParser};
use ueba_engine::event::ParseError;

pub use ueba_engine::event::MAX_LINE;
/// Lines per chunk sent to the scorer.
const CHUNK: usize = 1024;

/// A source of input lines for the reader thread: any buffered reader,
/// told apart by whether its next read may wait on a producer.
///
/// Lines go to the scorer in chunks of up to 1,024. A file never makes the
/// reader wait, so chunks fill; a pipe or a terminal (`tail -F log |
/// ueba score -`) can go quiet for hours with a chunk half full, and those
/// lines must be scored (and checkpointed) meanwhile, not when the next
/// thousand arrive. So before a read that may wait, the reader hands on
/// what it holds.
pub trait Input: BufRead + Send {
    /// Whether the next read goes to a producer that may make it wait:
    /// nothing is buffered and the source is a stream.
    fn may_wait(&self) -> bool {
        false
    }
}

impl<R: std::io::Read + Send> Input for std::io::BufReader<R> {}

impl<T: AsRef<[u8]> + Send> Input for std::io::Cursor<T> {}

/// A stream (stdin, a FIFO, a socket) read through a buffer: its reads may
/// wait on the producer whenever the buffer is empty.
pub struct Live<R>(pub std::io::BufReader<R>);

impl<R: std::io::Read> std::io::Read for Live<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: std::io::Read> BufRead for Live<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.0.consume(n)
    }
}

impl<R: std::io::Read + Send> Input for Live<R> {
    fn may_wait(&self) -> bool {
        self.0.buffer().is_empty()
    }
}

pub use ueba_engine::state::Position;
pub use ueba_engine::state::driver::{Chunk, Feed, Parsed};

/// Start reading native JSON lines from `reader` on a thread. Returns the
/// receiving end and a counter of bytes consumed (for a progress bar).
pub fn spawn_reader(reader: Box<dyn Input>) -> (Receiver<Chunk>, Arc<AtomicU64>) {
    let (rx, bytes, _) = spawn_reader_with(reader, Box::new(NativeParser));
    (rx, bytes)
}

/// Start reading `reader` on a thread, turning lines into events with
/// `parser` (one of [`crate::sources`]). Returns the receiving end, a counter
/// of bytes consumed (for a progress bar) and a counter of records the parser
/// skipped as not being data access (e.g. connect events), for the summary.
/// A parser's fatal error (e.g. an undetectable format) ends the input as
/// [`Chunk::Failed`].
pub fn spawn_reader_with(
    reader: Box<dyn Input>,
    parser: Box<dyn LineParser>,
) -> (Receiver<Chunk>, Arc<AtomicU64>, Arc<AtomicU64>) {
    spawn_reader_at(reader, parser, Position::default())
}

/// Like [`spawn_reader_with`], for a reader already positioned at `start`
/// (a resumed run): line numbers and positions continue from there, and the
/// byte counter starts at `start.offset`.
pub fn spawn_reader_at(
    reader: Box<dyn Input>,
    parser: Box<dyn LineParser>,
    start: Position,
) -> (Receiver<Chunk>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (tx, rx) = sync_channel(8);
    let bytes = Arc::new(AtomicU64::new(start.offset));
    let skipped = Arc::new(AtomicU64::new(0));
    let (b, s) = (bytes.clone(), skipped.clone());
    std::thread::spawn(move || {
        // A panic in a parser must not look like the end of the input (a
        // run with --state would then checkpoint the input as finished):
        // it ends the input as a failure the scorer reports.
        let last_words = tx.clone();
        let read = std::panic::AssertUnwindSafe(|| read_all(reader, parser, tx, b, s, start));
        if let Err(panic) = std::panic::catch_unwind(read) {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            let _ = last_words.send(Chunk::Failed(std::io::Error::other(format!(
                "the input reader failed unexpectedly ({what}); this is a bug in ueba, please report it with the input line"
            ))));
        }
    });
    (rx, bytes, skipped)
}

/// Give a parser that [needs the header](LineParser::needs_header) the
/// input's first non-blank line again, for a run that resumes past it:
/// `start` is the beginning of the same input. Does nothing for other
/// parsers.
pub fn replay_header(
    start: impl BufRead,
    parser: &mut dyn LineParser,
) -> Result<(), std::io::Error> {
    if !parser.needs_header() {
        return Ok(());
    }
    let mut out = Vec::new();
    for (i, line) in start.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        return parser
            .feed(line.trim_end_matches('\r'), i as u64 + 1, &mut out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    }
    Ok(())
}

/// [`spawn_reader_at`] as the [`Feed`] the scoring driver reads.
pub fn feed_at(reader: Box<dyn Input>, parser: Box<dyn LineParser>, start: Position) -> Feed {
    let (chunks, bytes, skipped) = spawn_reader_at(reader, parser, start);
    Feed {
        chunks,
        bytes,
        skipped,
    }
}

fn read_all(
    mut reader: Box<dyn Input>,
    mut parser: Box<dyn LineParser>,
    tx: SyncSender<Chunk>,
    bytes: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
    start: Position,
) {
    let mut resume = start;
    let fail = |chunk: Vec<Parsed>, resume: Position, e: std::io::Error| {
        let _ = tx.send(Chunk::Lines(chunk, resume));
        let _ = tx.send(Chunk::Failed(e));
    };
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut line_no = start.line;
    let mut offset = start.offset;
    // Start offsets of the lines a multi-line parser still holds, so the
    // resume position can point at the first of them.
    let mut held_starts: std::collections::VecDeque<(u64, u64)> = Default::default();
    loop {
        // A full chunk goes on, and so does any before a read that may
        // wait on a quiet producer ([`Input::may_wait`]).
        if chunk.len() >= CHUNK || (!chunk.is_empty() && reader.may_wait()) {
            skipped.store(parser.skipped(), Ordering::Relaxed);
            if tx
                .send(Chunk::Lines(std::mem::take(&mut chunk), resume))
                .is_err()
            {
                return;
            }
        }
        buf.clear();
        let read = match read_line_limited(&mut reader, &mut buf, MAX_LINE) {
            Ok(r) => r,
            Err(e) => return fail(chunk, resume, e),
        };
        let (consumed, too_long) = match read {
            LineRead::Eof => break,
            LineRead::Line(n) => (n, false),
            LineRead::TooLong(n) => (n, true),
        };
        line_no += 1;
        let line_start = offset;
        offset += consumed as u64;
        bytes.fetch_add(consumed as u64, Ordering::Relaxed);
        let mut text = trim_newline(&buf);
        if line_start == 0 {
            // Windows tools start UTF-8 text files with a byte-order mark;
            // it is no part of the first record.
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        let fed = if too_long {
            chunk.push(Err(ParseError {
                line: line_no,
                field: None,
                message: format!("line is longer than {MAX_LINE} bytes"),
            }));
            Ok(())
        } else {
            match std::str::from_utf8(text) {
                Ok(s) => parser.feed(s, line_no, &mut chunk),
                Err(e) => {
                    chunk.push(Err(ParseError {
                        line: line_no,
                        field: None,
                        message: format!("not valid UTF-8 (byte {})", e.valid_up_to()),
                    }));
                    Ok(())
                }
            }
        };
        if let Err(e) = fed {
            return fail(
                chunk,
                resume,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            );
        }
        match parser.pending_line() {
            None => {
                held_starts.clear();
                resume = Position {
                    line: line_no,
                    offset,
                };
            }
            Some(first) => {
                held_starts.push_back((line_no, line_start));
                while held_starts.front().is_some_and(|&(l, _)| l < first) {
                    held_starts.pop_front();
                }
                if let Some(&(l, o)) = held_starts.front() {
                    resume = Position {
                        line: l - 1,
                        offset: o,
                    };
                }
            }
        }
    }
    if let Err(e) = parser.finish(&mut chunk) {
        return fail(
            chunk,
            resume,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        );
    }
    skipped.store(parser.skipped(), Ordering::Relaxed);
    let end = Position {
        line: line_no,
        offset,
    };
    let _ = tx.send(Chunk::Lines(chunk, end));
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// What [`read_line_limited`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// End of input.
    Eof,
    /// A line of this many bytes (newline included) is in the buffer.
    Line(usize),
    /// A line of this many bytes exceeded the limit; it was skipped and the
    /// buffer holds only its start.
    TooLong(usize),
}

/// Read one line into `buf`, holding at most `max` bytes of it in memory.
pub fn read_line_limited(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (total, too_long) {
                (0, _) => LineRead::Eof,
                (n, true) => LineRead::TooLong(n),
                (n, false) => LineRead::Line(n),
            });
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        total += take;
        if done {
            return Ok(if too_long {
                LineRead::TooLong(total)
            } else {
                LineRead::Line(total)
            });
        }
    }
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
