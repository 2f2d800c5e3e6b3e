//! Blocks of the event sequence: where batches end, and so how soon the
//! detectors are told to stop learning from a user a finding made
//! suspicious.
//!
//! Whether a user's events are learned is decided per block, from the
//! findings of earlier blocks only (`Aggregator::holds_learning`), so that
//! where a flush or a resume cut a batch changes nothing. A block ends
//! after `input.batch_size` events, as it always did, and also once
//! `input.block_minutes` of event time have passed since its first event.
//! Without the second bound a sparse log (a thousand users' logons, a few
//! hundred events an hour) held a block of 1,024 events for three to nine
//! hours of event time, so the rest of a night session after its first
//! finding was learned as the user's normal, and the next night scored as
//! an ordinary one. Dense logs reach the count first and are cut as before.
//!
//! A block is cut before the first event at least the span after the
//! block's first event (an event the reorder window let in earlier than
//! that never cuts). Both bounds depend on the event sequence alone, and
//! the block in progress is kept in checkpoints, so a resumed run cuts
//! where one run over the whole input would.

use serde::{Deserialize, Serialize};

/// The block of the event sequence being filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Its number: 0 for the run's first, one more for each after.
    pub(crate) no: u64,
    /// Sequence number of its first event.
    pub(crate) start_seq: u64,
    /// Event time of its first event (`i64::MIN` before it has one).
    pub(crate) start_ms: i64,
    /// The newest event time in it (`i64::MIN` before it has one): where
    /// calm episodes are closed when it ends.
    pub(crate) max_ms: i64,
}

impl Block {
    /// The run's first block.
    pub(crate) fn first() -> Block {
        Block {
            no: 0,
            start_seq: 0,
            start_ms: i64::MIN,
            max_ms: i64::MIN,
        }
    }

    /// The block after this one, starting with event `next_seq`.
    pub(crate) fn next(&self, next_seq: u64) -> Block {
        Block {
            no: self.no + 1,
            start_seq: next_seq,
            ..Block::first()
        }
    }

    /// The block a checkpoint written before blocks had a time bound
    /// stopped in: blocks were then the multiples of `batch_size` events,
    /// numbered by them. `pending_ms` gives the time of a pending event by
    /// its sequence number, for the block's first event when the
    /// checkpoint still holds it; otherwise its newest time scored stands
    /// in.
    pub(crate) fn counted(
        next_seq: u64,
        batch_size: u64,
        pending_ms: impl FnOnce(u64) -> Option<i64>,
        released_ms: i64,
    ) -> Block {
        let batch_size = batch_size.max(1);
        let start_seq = next_seq - next_seq % batch_size;
        let start = pending_ms(start_seq).unwrap_or(released_ms);
        Block {
            no: next_seq / batch_size,
            start_seq,
            start_ms: start,
            max_ms: released_ms.max(start),
        }
    }

    /// Whether the event at `time_ms`, numbered `seq`, starts a new block
    /// because this one, which has events, began `span_ms` or more before
    /// it (`span_ms` 0: never).
    pub(crate) fn spent_before(&self, seq: u64, time_ms: i64, span_ms: i64) -> bool {
        seq > self.start_seq
            && span_ms > 0
            && self.start_ms != i64::MIN
            && time_ms.saturating_sub(self.start_ms) >= span_ms
    }

    /// Take the event at `time_ms`, numbered `seq`, into the block.
    pub(crate) fn take(&mut self, seq: u64, time_ms: i64) {
        if seq == self.start_seq {
            self.start_ms = time_ms;
        }
        self.max_ms = self.max_ms.max(time_ms);
    }

    /// Whether the block holds `len` events once event `next_seq − 1` is
    /// in it.
    pub(crate) fn full(&self, next_seq: u64, len: u64) -> bool {
        next_seq.saturating_sub(self.start_seq) >= len.max(1)
    }
}

/// The lengths of the blocks, in order, that `ueba score` cuts events of
/// these `times` into (event times in sequence order), with blocks of
/// `batch_size` events and `span_ms` of event time (0: no time bound): the
/// batches a tool that feeds a plugin outside the scorer (`ueba plugin
/// test`) must send so that the plugin sees what `ueba score` sends it.
pub fn block_lengths(times: &[i64], batch_size: u64, span_ms: i64) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut block = Block::first();
    for (seq, &time_ms) in (0u64..).zip(times) {
        if block.spent_before(seq, time_ms, span_ms) {
            lengths.push((seq - block.start_seq) as usize);
            block = block.next(seq);
        }
        block.take(seq, time_ms);
        if block.full(seq + 1, batch_size) {
            lengths.push((seq + 1 - block.start_seq) as usize);
            block = block.next(seq + 1);
        }
    }
    let rest = times.len() as u64 - block.start_seq;
    if rest > 0 {
        lengths.push(rest as usize);
    }
    lengths
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn a_block_ends_at_its_count_or_its_span_whichever_comes_first() {
        let mut b = Block::first();
        assert!(
            !b.spent_before(0, 0, 15 * MIN),
            "an empty block is never spent"
        );
        b.take(0, 0);
        b.take(1, 14 * MIN);
        assert!(!b.spent_before(2, 14 * MIN, 15 * MIN));
        assert!(b.spent_before(2, 15 * MIN, 15 * MIN));
        assert!(!b.spent_before(2, 15 * MIN, 0), "a span of 0 never cuts");
        // An event the reorder window let in earlier than the block's
        // first does not cut it.
        assert!(!b.spent_before(2, -MIN, 15 * MIN));
        assert!(!b.full(2, 3));
        b.take(2, 5 * MIN);
        assert!(b.full(3, 3));
        assert_eq!(b.max_ms, 14 * MIN);
        let n = b.next(3);
        assert_eq!((n.no, n.start_seq, n.start_ms), (1, 3, i64::MIN));
    }

    /// Blocks of 3 events or 15 minutes: a burst is cut by count, a quiet
    /// stretch by time, and without a time bound by count alone.
    #[test]
    fn block_lengths_follow_the_count_and_the_span() {
        let times = [0, MIN, 2 * MIN, 3 * MIN, 20 * MIN, 40 * MIN, 41 * MIN];
        assert_eq!(block_lengths(&times, 3, 15 * MIN), [3, 1, 1, 2]);
        assert_eq!(block_lengths(&times, 3, 0), [3, 3, 1]);
        assert_eq!(block_lengths(&times, 100, 15 * MIN), [4, 1, 2]);
        assert!(block_lengths(&[], 3, 15 * MIN).is_empty());
    }

    #[test]
    fn a_checkpoint_of_counted_blocks_resumes_in_the_block_it_stopped_in() {
        let b = Block::counted(2_500, 1024, |seq| (seq == 2048).then_some(7), 9);
        assert_eq!((b.no, b.start_seq, b.start_ms, b.max_ms), (2, 2048, 7, 9));
        let b = Block::counted(2_048, 1024, |_| None, 9);
        assert_eq!((b.no, b.start_seq, b.start_ms), (2, 2048, 9));
    }
}
