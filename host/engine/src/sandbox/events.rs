//! The events of a batch: one row per event on the host's side, columns in
//! the contract.
//!
//! The host thinks in rows ([`Event`]); the contract carries a batch as the
//! columns of [`wit::Events`], because a list of plain integers crosses into
//! a plugin as one copy where a list of records is lowered field by field.
//! This module is the one place that maps between the two, including the
//! sentinels the columns use for missing values.

use super::wit;
use crate::event::Outcome;

/// The `peer-group` or `source` column's value for "none": the largest u32.
/// Symbol ids are dense from 0, so the host never assigns it.
pub const NO_ID: u32 = u32::MAX;

/// The `bytes` column's value for "the log does not say": the largest u64.
/// A known count that large is sent as one less.
pub const NO_BYTES: u64 = u64::MAX;

/// One event as detectors receive it, strings replaced by symbol ids: a row
/// of [`wit::Events`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// Position in the host's stream; findings refer back through it.
    pub seq: u64,
    /// Event time, milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// The user's UTC offset at that instant, minutes; 0 when unknown.
    pub utc_offset_minutes: i32,
    /// Who acted (user symbol).
    pub user: u32,
    /// The user's peer group, when known.
    pub peer_group: Option<u32>,
    /// What was done (action symbol).
    pub action: u32,
    /// What was touched (resource symbol).
    pub resource: u32,
    /// Where from (source symbol), when the log says.
    pub source: Option<u32>,
    /// Rows read or written.
    pub rows: u64,
    /// Bytes transferred, when the log says.
    pub bytes: Option<u64>,
    /// Whether it succeeded.
    pub outcome: Outcome,
}

fn id_column(id: Option<u32>) -> u32 {
    id.unwrap_or(NO_ID)
}

fn id_of_column(v: u32) -> Option<u32> {
    (v != NO_ID).then_some(v)
}

fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::Unknown => 0,
        Outcome::Success => 1,
        Outcome::Failure => 2,
    }
}

fn outcome_of_code(c: u8) -> Outcome {
    match c {
        1 => Outcome::Success,
        2 => Outcome::Failure,
        _ => Outcome::Unknown,
    }
}

impl Default for wit::Events {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl wit::Events {
    /// Empty columns with room for `n` events each.
    pub fn with_capacity(n: usize) -> Self {
        wit::Events {
            seq: Vec::with_capacity(n),
            time_ms: Vec::with_capacity(n),
            utc_offset_minutes: Vec::with_capacity(n),
            user: Vec::with_capacity(n),
            peer_group: Vec::with_capacity(n),
            action: Vec::with_capacity(n),
            resource: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            rows: Vec::with_capacity(n),
            bytes: Vec::with_capacity(n),
            outcome: Vec::with_capacity(n),
        }
    }

    /// Append one event to every column.
    pub fn push(&mut self, e: &Event) {
        self.seq.push(e.seq);
        self.time_ms.push(e.time_ms);
        self.utc_offset_minutes.push(e.utc_offset_minutes);
        self.user.push(e.user);
        self.peer_group.push(id_column(e.peer_group));
        self.action.push(e.action);
        self.resource.push(e.resource);
        self.source.push(id_column(e.source));
        self.rows.push(e.rows);
        self.bytes
            .push(e.bytes.map_or(NO_BYTES, |b| b.min(NO_BYTES - 1)));
        self.outcome.push(outcome_code(e.outcome));
    }

    /// Number of events (the length of the `seq` column; the host keeps
    /// every column the same length).
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    /// Event `i` as a row, if there is one.
    pub fn get(&self, i: usize) -> Option<Event> {
        Some(Event {
            seq: *self.seq.get(i)?,
            time_ms: *self.time_ms.get(i)?,
            utc_offset_minutes: *self.utc_offset_minutes.get(i)?,
            user: *self.user.get(i)?,
            peer_group: id_of_column(*self.peer_group.get(i)?),
            action: *self.action.get(i)?,
            resource: *self.resource.get(i)?,
            source: id_of_column(*self.source.get(i)?),
            rows: *self.rows.get(i)?,
            bytes: Some(*self.bytes.get(i)?).filter(|&b| b != NO_BYTES),
            outcome: outcome_of_code(*self.outcome.get(i)?),
        })
    }

    /// The events as rows, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Remove every event, keeping the columns' capacity.
    pub fn clear(&mut self) {
        self.seq.clear();
        self.time_ms.clear();
        self.utc_offset_minutes.clear();
        self.user.clear();
        self.peer_group.clear();
        self.action.clear();
        self.resource.clear();
        self.source.clear();
        self.rows.clear();
        self.bytes.clear();
        self.outcome.clear();
    }

    /// Append events `range` of `other`, column by column.
    ///
    /// # Panics
    /// If `range` is out of `other`'s bounds, like slicing.
    pub fn extend_from(&mut self, other: &wit::Events, range: std::ops::Range<usize>) {
        let r = range;
        self.seq.extend_from_slice(&other.seq[r.clone()]);
        self.time_ms.extend_from_slice(&other.time_ms[r.clone()]);
        self.utc_offset_minutes
            .extend_from_slice(&other.utc_offset_minutes[r.clone()]);
        self.user.extend_from_slice(&other.user[r.clone()]);
        self.peer_group
            .extend_from_slice(&other.peer_group[r.clone()]);
        self.action.extend_from_slice(&other.action[r.clone()]);
        self.resource.extend_from_slice(&other.resource[r.clone()]);
        self.source.extend_from_slice(&other.source[r.clone()]);
        self.rows.extend_from_slice(&other.rows[r.clone()]);
        self.bytes.extend_from_slice(&other.bytes[r.clone()]);
        self.outcome.extend_from_slice(&other.outcome[r]);
    }

    /// Bytes the columns take, for memory accounting.
    pub fn byte_len(&self) -> usize {
        // seq, time, rows, bytes: 8 each; offset, user, peer, action,
        // resource, source: 4 each; outcome: 1.
        self.len() * (4 * 8 + 6 * 4 + 1)
    }
}

impl<'a> FromIterator<&'a Event> for wit::Events {
    fn from_iter<I: IntoIterator<Item = &'a Event>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut events = wit::Events::with_capacity(iter.size_hint().0);
        for e in iter {
            events.push(e);
        }
        events
    }
}

impl FromIterator<Event> for wit::Events {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut events = wit::Events::with_capacity(iter.size_hint().0);
        for e in iter {
            events.push(&e);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Event> {
        vec![
            Event {
                seq: 7,
                time_ms: -5,
                utc_offset_minutes: -300,
                user: 1,
                peer_group: Some(0),
                action: 2,
                resource: 3,
                source: None,
                rows: 68_000,
                bytes: Some(0),
                outcome: Outcome::Failure,
            },
            Event {
                seq: 8,
                peer_group: None,
                source: Some(NO_ID - 1),
                bytes: None,
                outcome: Outcome::Success,
                ..Event::default()
            },
        ]
    }

    #[test]
    fn rows_survive_the_columns() {
        let rows = sample();
        let cols: wit::Events = rows.iter().collect();
        assert_eq!(cols.len(), 2);
        assert_eq!(cols.iter().collect::<Vec<_>>(), rows);
        assert_eq!(cols.get(2), None);
    }

    #[test]
    fn missing_values_become_the_documented_sentinels() {
        let cols: wit::Events = sample().iter().collect();
        assert_eq!(cols.source[0], u32::MAX);
        assert_eq!(cols.peer_group[1], u32::MAX);
        assert_eq!(cols.bytes[1], u64::MAX);
        assert_eq!(cols.outcome, vec![2, 1]);
    }

    #[test]
    fn a_byte_count_equal_to_the_sentinel_stays_known() {
        let e = Event {
            bytes: Some(u64::MAX),
            ..Event::default()
        };
        let cols: wit::Events = [e].iter().collect();
        assert_eq!(cols.get(0).and_then(|e| e.bytes), Some(u64::MAX - 1));
    }
}
