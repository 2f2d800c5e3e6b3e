//! Checkpoint and sequence bookkeeping for one partition.
//!
//! A stored checkpoint is the engine's checkpoint bytes behind a small
//! envelope holding the stream sequence of the last event it covers. On
//! start a worker restores it and skips every message at or below that
//! sequence (redelivered because the ack was lost, or not yet sent, when
//! the worker stopped); while running it also skips anything at or below
//! what it already scored (a redelivery after an ack timeout), so each
//! event is scored exactly once and in stream order.

/// The envelope's first bytes: a foreign object is refused, not misread.
pub const ENVELOPE_MAGIC: &[u8; 8] = b"UEBANATS";
const ENVELOPE_HEADER: usize = 8 + 8;

/// A checkpoint as stored: `magic`, the last covered stream sequence
/// (little endian), then the engine's checkpoint bytes.
pub fn wrap(sequence: u64, checkpoint: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_HEADER + checkpoint.len());
    out.extend_from_slice(ENVELOPE_MAGIC);
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(checkpoint);
    out
}

/// The sequence and the engine's checkpoint bytes of a stored checkpoint.
pub fn unwrap(bytes: &[u8]) -> Result<(u64, &[u8]), String> {
    if bytes.len() < ENVELOPE_HEADER || &bytes[..8] != ENVELOPE_MAGIC {
        return Err(format!(
            "not a ueba worker checkpoint ({} bytes without the {} header)",
            bytes.len(),
            String::from_utf8_lossy(ENVELOPE_MAGIC)
        ));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[8..ENVELOPE_HEADER]);
    Ok((u64::from_le_bytes(seq), &bytes[ENVELOPE_HEADER..]))
}

/// Where one partition's scoring stands against its stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Last stream sequence the stored checkpoint covers (0: none).
    pub checkpointed: u64,
    /// Last stream sequence scored (at least `checkpointed`).
    pub scored: u64,
    /// Events scored since the last checkpoint.
    pub since_checkpoint: u64,
}

impl Progress {
    /// Progress resumed from a checkpoint covering up to `sequence`.
    pub fn resumed_at(sequence: u64) -> Self {
        Progress {
            checkpointed: sequence,
            scored: sequence,
            since_checkpoint: 0,
        }
    }

    /// Whether the message at stream sequence `seq` was already scored
    /// (in a checkpoint or in this run) and must be skipped.
    pub fn skip(&self, seq: u64) -> bool {
        seq <= self.scored
    }

    /// Record that the message at `seq` was scored.
    pub fn scored(&mut self, seq: u64) {
        self.scored = self.scored.max(seq);
        self.since_checkpoint += 1;
    }

    /// Whether a checkpoint is due, taking one every `every` events.
    pub fn due(&self, every: u64) -> bool {
        self.since_checkpoint >= every.max(1)
    }

    /// Whether anything was scored since the last checkpoint.
    pub fn dirty(&self) -> bool {
        self.scored > self.checkpointed
    }

    /// A checkpoint covering everything scored was stored: messages up to
    /// the returned sequence may now be acked.
    pub fn checkpointed(&mut self) -> u64 {
        self.checkpointed = self.scored;
        self.since_checkpoint = 0;
        self.checkpointed
    }

    /// Where a consumer for this partition starts: just after the
    /// checkpoint.
    pub fn start_sequence(&self) -> u64 {
        self.checkpointed + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_refuses_foreign_bytes() {
        let stored = wrap(1234, b"UEBACKPT...");
        assert_eq!(unwrap(&stored), Ok((1234, &b"UEBACKPT..."[..])));
        assert!(unwrap(b"UEBACKPT........").is_err());
        assert!(unwrap(b"UEBANATS").is_err());
    }

    #[test]
    fn redelivered_messages_at_or_below_the_checkpoint_are_skipped() {
        let p = Progress::resumed_at(100);
        assert!(p.skip(1));
        assert!(p.skip(100));
        assert!(!p.skip(101));
        assert_eq!(p.start_sequence(), 101);
    }

    #[test]
    fn a_redelivery_of_what_this_run_scored_is_skipped_too() {
        let mut p = Progress::default();
        assert!(!p.skip(1));
        p.scored(1);
        p.scored(2);
        assert!(p.skip(2));
        assert!(!p.skip(3));
    }

    #[test]
    fn checkpoints_fall_due_every_n_events_and_cover_what_was_scored() {
        let mut p = Progress::resumed_at(10);
        assert!(!p.dirty());
        for seq in 11..=13 {
            assert!(!p.due(3));
            p.scored(seq);
        }
        assert!(p.due(3));
        assert!(p.dirty());
        assert_eq!(p.checkpointed(), 13);
        assert!(!p.due(3));
        assert!(!p.dirty());
        assert_eq!(p.start_sequence(), 14);
    }

    #[test]
    fn zero_means_every_event() {
        let mut p = Progress::default();
        p.scored(1);
        assert!(p.due(0));
    }
}
