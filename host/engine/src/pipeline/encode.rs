//! From access events to contract events: enrich from the identity file,
//! intern the strings, compute the local-time offset.

use serde::{Deserialize, Serialize};

use crate::event::{AccessEvent, Outcome};
use crate::identity::{Identities, LocalOffset};
use crate::pipeline::intern::{Interner, SymbolKind, SymbolsFull};
use crate::sandbox::{Event, wit};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Held {
    pub(crate) time_ms: i64,
    pub(crate) arrival: u64,
    pub(crate) ev: Compact,
}

/// An interned event waiting in the reorder buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Compact {
    pub(crate) offset: i32,
    pub(crate) user: u32,
    pub(crate) peer: Option<u32>,
    pub(crate) action: u32,
    pub(crate) resource: u32,
    pub(crate) source: Option<u32>,
    pub(crate) rows: u64,
    pub(crate) bytes: Option<u64>,
    pub(crate) outcome: u8,
}

/// Users whose events a run met and how many of them a non-empty identity
/// file does not list (names are compared exactly), with the first of
/// those. A manager the file names is not counted until they act, and a
/// resumed run counts the users it meets itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdentityCounts {
    /// Users with an event this run.
    pub users: u64,
    /// Of them, users the identity file does not list.
    pub missing: u64,
    /// The first of those.
    pub first_missing: Option<String>,
}

#[derive(Clone, Default)]
pub(crate) struct UserMeta {
    /// Whether the identity file has been asked about the user: a
    /// manager is interned (and so has an id) before they act, if ever.
    pub(crate) looked_up: bool,
    /// Whether the identity file lists the user.
    pub(crate) listed: bool,
    /// Whether an event of the user has been counted in
    /// [`Encoder::identified`] this run.
    pub(crate) counted: bool,
    pub(crate) peer: Option<u32>,
    /// The user's manager (a user id), from the identity file.
    pub(crate) manager: Option<u32>,
    /// The user's time zone, with the span its last offset holds for.
    pub(crate) tz: Option<LocalOffset>,
}

/// Turns [`AccessEvent`]s into contract events: enriches them from the
/// identity file, interns their strings and computes the local-time offset.
/// The scorer uses it, and so do benchmarks that build batches ahead of time.
#[derive(Default)]
pub struct Encoder {
    pub(crate) identities: Identities,
    pub(crate) interner: Interner,
    pub(crate) users: Vec<UserMeta>,
    /// What this run's users were to the identity file
    /// ([`crate::pipeline::Stats::identities`]).
    pub(crate) identified: IdentityCounts,
}

impl Encoder {
    /// An encoder enriching from `identities`.
    pub fn new(identities: Identities) -> Self {
        Encoder {
            identities,
            ..Encoder::default()
        }
    }

    /// Hold at most `bytes` of names ([`Interner::set_budget`]).
    pub fn with_name_budget(mut self, bytes: Option<usize>) -> Self {
        self.interner.set_budget(bytes);
        self
    }

    /// The interned strings so far.
    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// Symbols from log position `from` on, as contract symbols.
    pub fn symbols_since(&self, from: usize) -> Vec<wit::Symbol> {
        self.interner
            .since(from)
            .map(|(kind, id, text)| wit::Symbol {
                kind: kind.into(),
                id,
                text: text.to_string(),
            })
            .collect()
    }

    /// Encode one event as the contract event with sequence number `seq`.
    pub fn encode(&mut self, ev: &AccessEvent, seq: u64) -> Result<Event, SymbolsFull> {
        let mut event = self.compact(ev)?.into_event(ev.time_ms, seq);
        event.manager = self.manager_of(event.user);
        Ok(event)
    }

    /// The manager of user `user` (an id), if the identity file names one
    /// and the user has been met: the contract's `manager` column.
    pub fn manager_of(&self, user: u32) -> Option<u32> {
        self.users.get(user as usize).and_then(|m| m.manager)
    }

    /// Look up and remember a new user's peer group, manager and time zone.
    pub(crate) fn meta_for(&mut self, user: u32) -> Result<(), SymbolsFull> {
        let idx = user as usize;
        if self.users.get(idx).is_some_and(|m| m.looked_up) {
            return Ok(());
        }
        if self.users.len() <= idx {
            self.users.resize(idx + 1, UserMeta::default());
        }
        let name = self.interner.text(SymbolKind::User, user);
        let identity = self.identities.get(name).cloned();
        let peer = identity
            .as_ref()
            .and_then(|i| i.peer_group.as_deref())
            .map(|p| self.interner.intern(SymbolKind::PeerGroup, p))
            .transpose()?;
        let manager = identity
            .as_ref()
            .and_then(|i| i.manager.as_deref())
            .map(|m| self.interner.intern(SymbolKind::User, m))
            .transpose()?;
        self.users[idx] = UserMeta {
            looked_up: true,
            listed: identity.is_some(),
            counted: false,
            peer,
            manager,
            tz: identity.and_then(|i| i.timezone).map(LocalOffset::new),
        };
        Ok(())
    }

    pub(crate) fn compact(&mut self, ev: &AccessEvent) -> Result<Compact, SymbolsFull> {
        let user = self.interner.intern(SymbolKind::User, &ev.user)?;
        self.meta_for(user)?;
        let idx = user as usize;
        let meta = &mut self.users[idx];
        if !meta.counted {
            meta.counted = true;
            let counts = &mut self.identified;
            counts.users += 1;
            if !meta.listed && !self.identities.is_empty() {
                counts.missing += 1;
                counts
                    .first_missing
                    .get_or_insert_with(|| crate::event::clip(&ev.user));
            }
        }
        let offset = meta
            .tz
            .as_mut()
            .map(|tz| tz.minutes_at(ev.time_ms))
            .unwrap_or(0);
        let known_peer = meta.peer;
        // The event's own peer_group wins over the identity file's.
        let peer = match &ev.peer_group {
            Some(p) => Some(self.interner.intern(SymbolKind::PeerGroup, p)?),
            None => known_peer,
        };
        Ok(Compact {
            offset,
            user,
            peer,
            action: self.interner.intern(SymbolKind::Action, &ev.action)?,
            resource: self.interner.intern(SymbolKind::Resource, &ev.resource)?,
            source: ev
                .source
                .as_deref()
                .map(|s| self.interner.intern(SymbolKind::Source, s))
                .transpose()?,
            rows: ev.rows,
            bytes: ev.bytes,
            outcome: ev.outcome.code(),
        })
    }
}

impl Compact {
    pub(crate) fn of_event(e: &Event) -> Compact {
        Compact {
            offset: e.utc_offset_minutes,
            user: e.user,
            peer: e.peer_group,
            action: e.action,
            resource: e.resource,
            source: e.source,
            rows: e.rows,
            bytes: e.bytes,
            outcome: e.outcome.code(),
        }
    }

    pub(crate) fn into_event(self, time_ms: i64, seq: u64) -> Event {
        Event {
            seq,
            time_ms,
            utc_offset_minutes: self.offset,
            user: self.user,
            peer_group: self.peer,
            action: self.action,
            resource: self.resource,
            source: self.source,
            rows: self.rows,
            bytes: self.bytes,
            outcome: Outcome::from_code(self.outcome),
            // The user's manager and whether detectors may learn from it
            // are filled in per batch, as it is sent (see
            // `Scorer::run_batch`): neither is kept with a waiting event.
            manager: None,
            learn: true,
        }
    }
}
