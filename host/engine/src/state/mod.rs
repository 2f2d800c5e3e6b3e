//! Durable state: checkpoints that let a run resume where it stopped.
//!
//! A SOC cannot afford to lose a month of learned baselines, or a night of
//! events, because a process died. `ueba score --state DIR` keeps one
//! checkpoint file in DIR holding everything needed to continue: every
//! detector's snapshot, the host's risk state, the symbol table, the reorder
//! buffer, the input position and the length of the alert file.
//!
//! The file is written atomically (a temporary file in the same directory,
//! fsynced, renamed over the old checkpoint, then the directory fsynced), so a
//! crash at any moment leaves either the old or the new checkpoint, never a
//! mix. Its layout is versioned:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `UEBACKPT` |
//! | 2 | format version, little endian ([`FORMAT_VERSION`]) |
//! | 8 | body length, little endian |
//! | 32 | SHA-256 of the body |
//! | n | body: a [`Checkpoint`] encoded with postcard |
//!
//! A corrupt, truncated or foreign file is an error naming the file and what
//! is wrong with it; it is never silently replaced by empty state. A lock on
//! `DIR/lock` keeps two processes from sharing one state directory.

pub mod driver;
mod v10;
mod v11;
mod v7;
mod v8;
mod v9;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pipeline::ScorerState;

/// A place in the input to resume reading from: everything before it has
/// been turned into events (or errors) in chunks already sent. A record a
/// multi-line parser is still assembling lies after it, so resuming there
/// reads that record again whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// Lines before the position.
    pub line: u64,
    /// Bytes before the position.
    pub offset: u64,
}

/// The first bytes of every checkpoint file.
pub const MAGIC: &[u8; 8] = b"UEBACKPT";
/// The checkpoint layout this build writes. Bumped whenever the body's
/// encoding changes. It also reads formats 7 to 11 (`v7` to `v11`); any
/// other older or newer file is refused by name.
pub const FORMAT_VERSION: u16 = 12;
/// Name of the checkpoint file inside the state directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";
const HEADER_LEN: usize = 8 + 2 + 8 + 32;

/// Where reading the input stood at the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputMark {
    /// The input file, absolute; `None` for stdin or another stream that
    /// cannot be reopened at a position.
    pub path: Option<PathBuf>,
    /// Lines and bytes consumed.
    pub position: Position,
    /// SHA-256 of the first bytes of the file (up to [`FINGERPRINT_BYTES`],
    /// never past `position`), to tell the same file from a rotated one
    /// with the same name.
    pub fingerprint: [u8; 32],
    /// Whether the whole input had been read (the run ended normally).
    pub finished: bool,
}

/// Bytes of an input file that identify it (see [`InputMark::fingerprint`]).
pub const FINGERPRINT_BYTES: u64 = 64 * 1024;

/// Where the alert file stood at the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMark {
    /// The alert file, absolute.
    pub path: PathBuf,
    /// Its length in bytes when the checkpoint was taken (all alerts up to
    /// the checkpoint flushed). A resumed run cuts the file back to this
    /// length, so alerts written after the checkpoint are not duplicated.
    pub len: u64,
}

impl OutputMark {
    /// The alert file at `path` (absolute) as it stands now, its alerts
    /// flushed: what `ueba score` and `ueba serve` record at a checkpoint.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        Ok(OutputMark {
            path: path.to_path_buf(),
            len: std::fs::metadata(path)?.len(),
        })
    }
}

/// Everything a checkpoint holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// When it was written (wall clock, RFC 3339), for messages.
    pub written: String,
    /// The `ueba` version that wrote it.
    pub ueba_version: String,
    /// The scorer: detectors' snapshots, risk, symbols, buffers, counts.
    pub scorer: ScorerState,
    /// The input position, when input was read from a file or stream.
    pub input: Option<InputMark>,
    /// The alert file's length, when alerts went to a file.
    pub output: Option<OutputMark>,
    /// Records the input parser skipped as not data access, so far.
    pub skipped: u64,
    /// The record files (`--findings`, `--incidents`) and their lengths,
    /// flushed, at the checkpoint: a resumed run cuts each back to its
    /// length, so its records end as if the run had never stopped.
    pub records: Vec<OutputMark>,
}

impl Checkpoint {
    /// A checkpoint of `scorer` taken now, by this build of ueba: the one
    /// constructor `ueba score` and `ueba serve` both use, so the two
    /// record the same provenance.
    pub fn now(
        scorer: ScorerState,
        input: Option<InputMark>,
        output: Option<OutputMark>,
        skipped: u64,
    ) -> Self {
        Checkpoint {
            written: jiff::Timestamp::now().to_string(),
            ueba_version: env!("CARGO_PKG_VERSION").to_string(),
            scorer,
            input,
            output,
            skipped,
            records: Vec::new(),
        }
    }

    /// The same checkpoint, holding the record files' lengths too.
    pub fn with_records(mut self, records: Vec<OutputMark>) -> Self {
        self.records = records;
        self
    }
}

/// Why a state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process holds the directory.
    #[error("{path} is in use by another ueba process (two runs must not share a state directory)")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The checkpoint's path is not a regular file (a FIFO, a device, a
    /// directory): reading it could block for ever or never end.
    #[error("{path} is not a regular file, so it cannot be a ueba checkpoint")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file does not start with [`MAGIC`].
    #[error("{path} is not a ueba checkpoint (it does not start with {magic:?})", magic = String::from_utf8_lossy(MAGIC))]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// Written by a build with another layout.
    #[error(
        "{path} is checkpoint format {found}, this ueba reads formats 7 to {FORMAT_VERSION}; \
         resume with the ueba version that wrote it, or start afresh with a new state directory"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u16,
    },
    /// Shorter than its header says.
    #[error("{path} is truncated: {found} bytes, the header promises {expected}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes present.
        found: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// The body does not match its checksum.
    #[error("{path} is corrupt: its contents do not match the checksum in its header")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// The body did not decode.
    #[error("{path} could not be decoded: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
}

/// A state directory, locked for this process while the value lives.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Open (creating it if needed) and lock a state directory.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked { path: lock_path });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        Ok(StateDir {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The checkpoint file's path.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// The saved checkpoint; `Ok(None)` only when none was ever written.
    pub fn load(&self) -> Result<Option<Checkpoint>, StateError> {
        read_checkpoint(&self.dir)
    }

    /// Write a checkpoint atomically, replacing the previous one.
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<(), StateError> {
        let path = self.checkpoint_path();
        let tmp = self.dir.join(format!("{CHECKPOINT_FILE}.tmp"));
        let bytes = encode(checkpoint).map_err(|message| StateError::Decode {
            path: path.clone(),
            message,
        })?;
        let io = |p: &Path| {
            let path = p.to_path_buf();
            move |source| StateError::Io { path, source }
        };
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        // Make the rename itself durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }
}

/// A checkpoint as the bytes of its file.
pub fn encode(checkpoint: &Checkpoint) -> Result<Vec<u8>, String> {
    let body = postcard::to_stdvec(checkpoint).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    Ok(out)
}

/// Read a checkpoint file's bytes; `path` names it in errors.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint, StateError> {
    let path = path.to_path_buf();
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(StateError::Foreign { path });
    }
    if bytes.len() < HEADER_LEN {
        return Err(StateError::Truncated {
            path,
            found: bytes.len() as u64,
            expected: HEADER_LEN as u64,
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != FORMAT_VERSION
        && version != v7::FORMAT
        && version != v8::FORMAT
        && version != v9::FORMAT
        && version != v10::FORMAT
        && version != v11::FORMAT
    {
        return Err(StateError::Version {
            path,
            found: version,
        });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[10..18]);
    let len = u64::from_le_bytes(len);
    let body = &bytes[HEADER_LEN..];
    let expected = (HEADER_LEN as u64).saturating_add(len);
    if (body.len() as u64) < len {
        return Err(StateError::Truncated {
            path,
            found: bytes.len() as u64,
            expected,
        });
    }
    if (body.len() as u64) > len {
        return Err(StateError::Corrupt { path });
    }
    if Sha256::digest(body).as_slice() != &bytes[18..HEADER_LEN] {
        return Err(StateError::Corrupt { path });
    }
    let decoded = if version == v7::FORMAT {
        postcard::from_bytes::<v7::CheckpointV7>(body).map(Checkpoint::from)
    } else if version == v8::FORMAT {
        postcard::from_bytes::<v8::CheckpointV8>(body).map(Checkpoint::from)
    } else if version == v9::FORMAT {
        postcard::from_bytes::<v9::CheckpointV9>(body).map(Checkpoint::from)
    } else if version == v10::FORMAT {
        postcard::from_bytes::<v10::CheckpointV10>(body).map(Checkpoint::from)
    } else if version == v11::FORMAT {
        postcard::from_bytes::<v11::CheckpointV11>(body).map(Checkpoint::from)
    } else {
        postcard::from_bytes(body)
    };
    decoded.map_err(|e| StateError::Decode {
        path,
        message: e.to_string(),
    })
}

/// SHA-256 of the first [`FINGERPRINT_BYTES`] of `path`, never reading
/// past `limit` bytes.
pub fn fingerprint(path: &Path, limit: u64) -> std::io::Result<[u8; 32]> {
    let mut buf = Vec::new();
    File::open(path)?
        .take(limit.min(FINGERPRINT_BYTES))
        .read_to_end(&mut buf)?;
    Ok(Sha256::digest(&buf).into())
}

/// The checkpoint in state directory `dir`, read without taking the
/// directory's lock: checkpoints are replaced atomically, so a reader (such
/// as `ueba explain --state`) sees a whole one even while a run writes the
/// next. `Ok(None)` when none was ever written.
pub fn read_checkpoint(dir: &Path) -> Result<Option<Checkpoint>, StateError> {
    let path = dir.join(CHECKPOINT_FILE);
    // Looked at before it is opened: opening a FIFO for reading waits for a
    // writer, and a device may never end.
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => return Err(StateError::NotAFile { path }),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Io { path, source }),
    }
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Io { path, source }),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| StateError::Io {
            path: path.clone(),
            source,
        })?;
    decode(&bytes, &path).map(Some)
}

#[cfg(test)]
mod tests;
