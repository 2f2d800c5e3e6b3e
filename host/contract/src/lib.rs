//! The data of ueba's detector contract (`wit/detector.wit`), written once
//! for both sides of the sandbox: the host (`ueba-engine`) and the detector
//! SDK (`plugins/sdk`).
//!
//! The WIT describes how a batch crosses the boundary: as columns of plain
//! integers, because a list of integers crosses as one copy where a list of
//! records is lowered field by field. Both sides think in rows ([`Event`]),
//! and each side's bindings generate their own `Events` columns type. So
//! this crate holds what must agree between them, once:
//! - [`Event`], [`Outcome`] and [`SymbolKind`], the row types;
//! - the sentinels the columns use for missing values ([`NO_ID`],
//!   [`NO_BYTES`]) and the outcome codes ([`Outcome::code`]);
//! - [`columns!`], which writes the row<->column codec for a generated
//!   `Events` type, and [`symbol_kinds!`], the conversions for a generated
//!   `SymbolKind`.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

/// Milliseconds in an hour. Hour buckets are `time_ms / HOUR_MS`.
pub const HOUR_MS: i64 = 3_600_000;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The `peer-group` or `source` column's value for "none": the largest u32.
/// Symbol ids are dense from 0 and the host never assigns this one.
pub const NO_ID: u32 = u32::MAX;

/// The `bytes` column's value for "the log does not say": the largest u64.
/// A known count that large is sent as one less.
pub const NO_BYTES: u64 = u64::MAX;

/// Which namespace an interned string belongs to; ids are dense per kind.
///
/// The host numbers users, resources, actions, sources and peer groups
/// separately from 0, so user 0 and resource 0 are different things, and a
/// `Vec` indexed by id is the natural per-entity store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SymbolKind {
    /// A user name.
    User,
    /// A resource, e.g. a `schema.table` name.
    Resource,
    /// An action, e.g. `select`.
    Action,
    /// A source address or host.
    Source,
    /// A peer group, e.g. `tier1-support`.
    PeerGroup,
}

impl SymbolKind {
    /// All kinds, in a fixed order (the order of [`SymbolKind::index`]).
    pub const ALL: [SymbolKind; 5] = [
        SymbolKind::User,
        SymbolKind::Resource,
        SymbolKind::Action,
        SymbolKind::Source,
        SymbolKind::PeerGroup,
    ];

    /// Its name in the plural, lower case, for messages and metric labels
    /// (`users`, `resources`, `actions`, `sources`, `peer_groups`).
    pub const fn plural(self) -> &'static str {
        match self {
            SymbolKind::User => "users",
            SymbolKind::Resource => "resources",
            SymbolKind::Action => "actions",
            SymbolKind::Source => "sources",
            SymbolKind::PeerGroup => "peer_groups",
        }
    }

    /// Position in [`SymbolKind::ALL`], for per-kind tables.
    pub const fn index(self) -> usize {
        match self {
            SymbolKind::User => 0,
            SymbolKind::Resource => 1,
            SymbolKind::Action => 2,
            SymbolKind::Source => 3,
            SymbolKind::PeerGroup => 4,
        }
    }
}

/// Whether an access succeeded, as far as the log says.
///
/// Volume-style detectors usually skip failures: a denied bulk read moved
/// no data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// The log does not say.
    #[default]
    Unknown,
    /// It succeeded.
    Success,
    /// It failed (denied, error).
    Failure,
}

impl Outcome {
    /// The `outcome` column's code: 0 unknown, 1 success, 2 failure.
    pub const fn code(self) -> u8 {
        match self {
            Outcome::Unknown => 0,
            Outcome::Success => 1,
            Outcome::Failure => 2,
        }
    }

    /// The outcome of a column code; a code the contract does not define
    /// reads as [`Outcome::Unknown`].
    pub const fn from_code(code: u8) -> Outcome {
        match code {
            1 => Outcome::Success,
            2 => Outcome::Failure,
            _ => Outcome::Unknown,
        }
    }
}

/// One access event, with strings replaced by symbol ids: a row of a batch.
///
/// Strings cross the sandbox boundary once, as symbols, because copying
/// them per event would cost more than most detectors' arithmetic.
/// [`Event::default`] is a one-row event at the epoch, handy in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the host's stream; findings refer to events by it.
    pub seq: u64,
    /// Event time in milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// Offset of the user's local time from UTC, in minutes (0 if unknown).
    pub utc_offset_minutes: i32,
    /// User id ([`SymbolKind::User`]).
    pub user: u32,
    /// Peer group id, when the identity file or the log gives one.
    pub peer_group: Option<u32>,
    /// The user's manager, a user id, when the identity file gives one
    /// (contract 0.5.0).
    ///
    /// Not part of the serde form, so that a detector which keeps events
    /// in its snapshot keeps the layout it had before 0.5.0; an event read
    /// back from a snapshot has no manager.
    #[serde(skip)]
    pub manager: Option<u32>,
    /// Action id.
    pub action: u32,
    /// Resource id.
    pub resource: u32,
    /// Source id, when the log gives one.
    pub source: Option<u32>,
    /// Rows read or written (1 when the log does not say).
    pub rows: u64,
    /// Bytes transferred, when the log says.
    pub bytes: Option<u64>,
    /// Whether it succeeded.
    pub outcome: Outcome,
    /// Whether the detector may learn from it (fold it into baselines,
    /// known resources, profiles). `false` while the host holds the user's
    /// behaviour out of the baselines, e.g. during an open alert episode, so
    /// that an ongoing attack does not become the new normal. Score the
    /// event either way. The user's events are learned again once the
    /// episode ends without a malicious verdict, so what was held may be
    /// kept aside and folded in then (the built-in detectors do).
    pub learn: bool,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            seq: 0,
            time_ms: 0,
            utc_offset_minutes: 0,
            user: 0,
            peer_group: None,
            manager: None,
            action: 0,
            resource: 0,
            source: None,
            rows: 1,
            bytes: None,
            outcome: Outcome::Unknown,
            learn: true,
        }
    }
}

impl Event {
    /// Event time shifted into the user's local time, still in milliseconds.
    /// Use it for anything about days and hours, so a shift in Manila and
    /// one in Dallas are both judged by their own clock.
    pub fn local_ms(&self) -> i64 {
        self.time_ms
            .saturating_add(i64::from(self.utc_offset_minutes) * 60_000)
    }

    /// Local calendar day number (days since 1970-01-01 in local time).
    pub fn local_day(&self) -> i64 {
        self.local_ms().div_euclid(DAY_MS)
    }

    /// Local hour of day, 0 to 23.
    pub fn local_hour(&self) -> u8 {
        (self.local_ms().rem_euclid(DAY_MS) / HOUR_MS) as u8
    }

    /// Local weekday, 0 = Monday to 6 = Sunday.
    pub fn local_weekday(&self) -> u8 {
        // 1970-01-01 was a Thursday (weekday 3).
        (self.local_day() + 3).rem_euclid(7) as u8
    }

    /// Whether the local day is a Saturday or Sunday.
    pub fn is_weekend(&self) -> bool {
        self.local_weekday() >= 5
    }
}

/// The `peer-group` / `manager` / `source` column value for an optional id.
pub const fn id_column(id: Option<u32>) -> u32 {
    match id {
        Some(id) => id,
        None => NO_ID,
    }
}

/// The optional id a `peer-group` / `manager` / `source` column value stands for.
pub const fn id_of_column(v: u32) -> Option<u32> {
    if v == NO_ID { None } else { Some(v) }
}

/// The `bytes` column value for an optional byte count; a known count of
/// [`NO_BYTES`] is sent as one less, so it stays known.
pub const fn bytes_column(bytes: Option<u64>) -> u64 {
    match bytes {
        Some(NO_BYTES) => NO_BYTES - 1,
        Some(b) => b,
        None => NO_BYTES,
    }
}

/// The optional byte count a `bytes` column value stands for.
pub const fn bytes_of_column(v: u64) -> Option<u64> {
    if v == NO_BYTES { None } else { Some(v) }
}

/// Writes the row<->column codec for a generated `Events` type (the host's
/// wasmtime bindings and the SDK's wit-bindgen bindings each generate one,
/// with the same fields): `with_capacity`, `push`, `len`, `is_empty`,
/// `column_lengths`, `lengths_agree`, `get`, `iter`, `clear`, `extend_from`, `byte_len`, and
/// `FromIterator` of events. Call it once, in the crate that owns the
/// bindings: `ueba_contract::columns!(wit::Events);`.
#[macro_export]
macro_rules! columns {
    ($events:ty) => {
        impl $events {
            /// Empty columns with room for `n` events each.
            pub fn with_capacity(n: usize) -> Self {
                Self {
                    seq: Vec::with_capacity(n),
                    time_ms: Vec::with_capacity(n),
                    utc_offset_minutes: Vec::with_capacity(n),
                    user: Vec::with_capacity(n),
                    peer_group: Vec::with_capacity(n),
                    manager: Vec::with_capacity(n),
                    action: Vec::with_capacity(n),
                    resource: Vec::with_capacity(n),
                    source: Vec::with_capacity(n),
                    rows: Vec::with_capacity(n),
                    bytes: Vec::with_capacity(n),
                    outcome: Vec::with_capacity(n),
                    learn: Vec::with_capacity(n),
                }
            }

            /// Append one event to every column.
            pub fn push(&mut self, e: &$crate::Event) {
                self.seq.push(e.seq);
                self.time_ms.push(e.time_ms);
                self.utc_offset_minutes.push(e.utc_offset_minutes);
                self.user.push(e.user);
                self.peer_group.push($crate::id_column(e.peer_group));
                self.manager.push($crate::id_column(e.manager));
                self.action.push(e.action);
                self.resource.push(e.resource);
                self.source.push($crate::id_column(e.source));
                self.rows.push(e.rows);
                self.bytes.push($crate::bytes_column(e.bytes));
                self.outcome.push(e.outcome.code());
                self.learn.push(e.learn);
            }

            /// Number of events (the length of the `seq` column).
            pub fn len(&self) -> usize {
                self.seq.len()
            }

            /// No events.
            pub fn is_empty(&self) -> bool {
                self.seq.is_empty()
            }

            /// The lengths of every column but `seq`, in the contract's
            /// field order, for a message when they disagree.
            pub fn column_lengths(&self) -> [usize; 12] {
                [
                    self.time_ms.len(),
                    self.utc_offset_minutes.len(),
                    self.user.len(),
                    self.peer_group.len(),
                    self.manager.len(),
                    self.action.len(),
                    self.resource.len(),
                    self.source.len(),
                    self.rows.len(),
                    self.bytes.len(),
                    self.outcome.len(),
                    self.learn.len(),
                ]
            }

            /// Whether every column has as many values as `seq`: the
            /// contract requires it, and a batch from the other side of
            /// the boundary is checked before it is read.
            pub fn lengths_agree(&self) -> bool {
                let n = self.seq.len();
                self.column_lengths().iter().all(|&l| l == n)
            }

            /// Event `i` as a row, if every column has one.
            pub fn get(&self, i: usize) -> Option<$crate::Event> {
                Some($crate::Event {
                    seq: *self.seq.get(i)?,
                    time_ms: *self.time_ms.get(i)?,
                    utc_offset_minutes: *self.utc_offset_minutes.get(i)?,
                    user: *self.user.get(i)?,
                    peer_group: $crate::id_of_column(*self.peer_group.get(i)?),
                    manager: $crate::id_of_column(*self.manager.get(i)?),
                    action: *self.action.get(i)?,
                    resource: *self.resource.get(i)?,
                    source: $crate::id_of_column(*self.source.get(i)?),
                    rows: *self.rows.get(i)?,
                    bytes: $crate::bytes_of_column(*self.bytes.get(i)?),
                    outcome: $crate::Outcome::from_code(*self.outcome.get(i)?),
                    learn: *self.learn.get(i)?,
                })
            }

            /// The events as rows, in order (as far as every column
            /// reaches; see [`lengths_agree`](Self::lengths_agree)).
            pub fn iter(&self) -> impl Iterator<Item = $crate::Event> + '_ {
                (0..self.len()).map_while(|i| self.get(i))
            }

            /// Remove every event, keeping the columns' capacity.
            pub fn clear(&mut self) {
                self.seq.clear();
                self.time_ms.clear();
                self.utc_offset_minutes.clear();
                self.user.clear();
                self.peer_group.clear();
                self.manager.clear();
                self.action.clear();
                self.resource.clear();
                self.source.clear();
                self.rows.clear();
                self.bytes.clear();
                self.outcome.clear();
                self.learn.clear();
            }

            /// Append events `range` of `other`, column by column.
            ///
            /// # Panics
            /// If `range` is out of `other`'s bounds, like slicing.
            pub fn extend_from(&mut self, other: &Self, range: std::ops::Range<usize>) {
                let r = range;
                self.seq.extend_from_slice(&other.seq[r.clone()]);
                self.time_ms.extend_from_slice(&other.time_ms[r.clone()]);
                self.utc_offset_minutes
                    .extend_from_slice(&other.utc_offset_minutes[r.clone()]);
                self.user.extend_from_slice(&other.user[r.clone()]);
                self.peer_group
                    .extend_from_slice(&other.peer_group[r.clone()]);
                self.manager.extend_from_slice(&other.manager[r.clone()]);
                self.action.extend_from_slice(&other.action[r.clone()]);
                self.resource.extend_from_slice(&other.resource[r.clone()]);
                self.source.extend_from_slice(&other.source[r.clone()]);
                self.rows.extend_from_slice(&other.rows[r.clone()]);
                self.bytes.extend_from_slice(&other.bytes[r.clone()]);
                self.outcome.extend_from_slice(&other.outcome[r.clone()]);
                self.learn.extend_from_slice(&other.learn[r]);
            }

            /// Bytes the columns take, for memory accounting.
            pub fn byte_len(&self) -> usize {
                // seq, time, rows, bytes: 8 each; offset, user, peer,
                // manager, action, resource, source: 4 each; outcome,
                // learn: 1.
                self.len() * (4 * 8 + 7 * 4 + 2)
            }
        }

        impl Default for $events {
            fn default() -> Self {
                Self::with_capacity(0)
            }
        }

        impl<'a> FromIterator<&'a $crate::Event> for $events {
            fn from_iter<I: IntoIterator<Item = &'a $crate::Event>>(iter: I) -> Self {
                let iter = iter.into_iter();
                let mut events = Self::with_capacity(iter.size_hint().0);
                for e in iter {
                    events.push(e);
                }
                events
            }
        }

        impl FromIterator<$crate::Event> for $events {
            fn from_iter<I: IntoIterator<Item = $crate::Event>>(iter: I) -> Self {
                let iter = iter.into_iter();
                let mut events = Self::with_capacity(iter.size_hint().0);
                for e in iter {
                    events.push(&e);
                }
                events
            }
        }
    };
}

/// Writes the conversions between [`SymbolKind`] and a generated
/// `symbol-kind` enum (whose variants have the same names), both ways:
/// `ueba_contract::symbol_kinds!(wit::SymbolKind);`.
#[macro_export]
macro_rules! symbol_kinds {
    ($kind:ty) => {
        impl From<$crate::SymbolKind> for $kind {
            fn from(k: $crate::SymbolKind) -> Self {
                match k {
                    $crate::SymbolKind::User => <$kind>::User,
                    $crate::SymbolKind::Resource => <$kind>::Resource,
                    $crate::SymbolKind::Action => <$kind>::Action,
                    $crate::SymbolKind::Source => <$kind>::Source,
                    $crate::SymbolKind::PeerGroup => <$kind>::PeerGroup,
                }
            }
        }

        impl From<$kind> for $crate::SymbolKind {
            fn from(k: $kind) -> Self {
                match k {
                    <$kind>::User => $crate::SymbolKind::User,
                    <$kind>::Resource => $crate::SymbolKind::Resource,
                    <$kind>::Action => $crate::SymbolKind::Action,
                    <$kind>::Source => $crate::SymbolKind::Source,
                    <$kind>::PeerGroup => $crate::SymbolKind::PeerGroup,
                }
            }
        }
    };
}

#[cfg(test)]
mod tests;
