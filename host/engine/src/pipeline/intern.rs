//! String interning: every user, resource, action, source and peer group
//! becomes a dense u32 id per kind.
//!
//! Strings cross into a plugin once. The interner keeps an append-only log of
//! new symbols; each plugin remembers how far into the log it has been sent,
//! so a batch carries only the symbols that plugin has not seen yet (and a
//! freshly loaded plugin gets them all).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::fast::{FoldHasher, SeedableRandomState};

/// The five namespaces of interned strings, each with ids from 0: the
/// contract's type, so the host's tables and the detectors' agree.
pub use ueba_contract::SymbolKind;

/// Why a string could not be given an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "more than {} distinct {kind:?} names: ids would reach the contract's \"no id\" value",
    ueba_contract::NO_ID
)]
pub struct SymbolsFull {
    /// The namespace that is full.
    pub kind: SymbolKind,
}

/// The hash of the symbol tables: foldhash with secret seeds.
///
/// Symbol texts come from logs, so whoever can write to a log chooses them.
/// With an unkeyed hash such a writer could compute offline a flood of user
/// names that all collide and turn every lookup into a scan of them; with a
/// seed they cannot know, no fixed set of names collides. foldhash costs a
/// few nanoseconds on names this short, where SipHash (std's default,
/// resistant even to an attacker timing lookups at length) would cost
/// several times that on every field of every event. foldhash seeds itself
/// mostly from address-space layout, so both its seeds are drawn here from
/// std's `RandomState`, which the operating system's randomness keys: one
/// shared by every table of the process, one per table.
#[derive(Clone, Debug)]
struct SeededHash(SeedableRandomState);

impl Default for SeededHash {
    fn default() -> Self {
        static SHARED: OnceLock<SharedSeed> = OnceLock::new();
        let random = std::hash::RandomState::new();
        let shared = SHARED.get_or_init(|| SharedSeed::from_u64(random.hash_one(0u8)));
        SeededHash(SeedableRandomState::with_seed(random.hash_one(1u8), shared))
    }
}

impl BuildHasher for SeededHash {
    type Hasher = FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// What one name costs against the name budget besides its text: the
/// bookkeeping every holder keeps for it (the host's two tables, each
/// detector's own table entry), so a flood of short names is bounded too.
pub const NAME_OVERHEAD_BYTES: usize = 32;

/// The name every name of a kind past the budget is given: events keep
/// being scored, their users, resources or sources pooled under it, where
/// an analyst sees it (and the summary counts them).
pub const OVER_BUDGET_NAME: &str = "(names over input.max_name_mib)";

/// Per-kind string tables plus the log of symbols in the order they appeared.
#[derive(Default, Debug)]
pub struct Interner {
    ids: [HashMap<Box<str>, u32, SeededHash>; 5],
    texts: [Vec<Box<str>>; 5],
    log: Vec<(SymbolKind, u32)>,
    /// The id returned last for each kind: consecutive events mostly share
    /// their action (and often more), and comparing with the last text is
    /// cheaper than hashing. Only a hint; the text decides.
    last: [u32; 5],
    /// Bytes of names held, each its text and [`NAME_OVERHEAD_BYTES`].
    used: usize,
    /// Most bytes of names to hold (`input.max_name_mib`); none: no bound.
    budget: Option<usize>,
    /// Names of each kind given [`OVER_BUDGET_NAME`] (one per occurrence).
    over_budget: [u64; 5],
}

impl Interner {
    /// The id of `text` in `kind`, assigning the next id if it is new.
    /// Ids stop short of the contract's [`NO_ID`](ueba_contract::NO_ID), which
    /// detectors read as "none": a kind with that many names is full.
    pub fn intern(&mut self, kind: SymbolKind, text: &str) -> Result<u32, SymbolsFull> {
        let k = kind.index();
        let last = self.last[k];
        if self.texts[k]
            .get(last as usize)
            .is_some_and(|t| **t == *text)
        {
            return Ok(last);
        }
        let id = match self.ids[k].get(text) {
            Some(&id) => id,
            None if self.over(text) => {
                self.over_budget[k] += 1;
                return self.intern_unbounded(kind, OVER_BUDGET_NAME);
            }
            None => self.intern_unbounded(kind, text)?,
        };
        self.last[k] = id;
        Ok(id)
    }

    /// Whether a new name `text` would take the names past the budget.
    fn over(&self, text: &str) -> bool {
        self.budget
            .is_some_and(|b| self.used + text.len() + NAME_OVERHEAD_BYTES > b)
    }

    /// `text`'s id, assigned whatever the budget.
    fn intern_unbounded(&mut self, kind: SymbolKind, text: &str) -> Result<u32, SymbolsFull> {
        let k = kind.index();
        let id = match self.ids[k].get(text) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.texts[k].len())
                    .ok()
                    .filter(|&id| id < ueba_contract::NO_ID)
                    .ok_or(SymbolsFull { kind })?;
                self.texts[k].push(text.into());
                self.ids[k].insert(text.into(), id);
                self.log.push((kind, id));
                self.used += text.len() + NAME_OVERHEAD_BYTES;
                id
            }
        };
        Ok(id)
    }

    /// Hold at most `bytes` of names (each counted with
    /// [`NAME_OVERHEAD_BYTES`]): a new name past it is given
    /// [`OVER_BUDGET_NAME`] instead. Every name is held by the host and sent
    /// to, and kept by, every detector instance, so a log (or a client)
    /// with endless distinct names would otherwise grow them all without
    /// bound and push the detectors past their memory limit. Names held
    /// already keep their ids, whatever the budget.
    pub fn set_budget(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
    }

    /// Names of each kind (in [`SymbolKind::ALL`] order) given
    /// [`OVER_BUDGET_NAME`] since this interner was made, one per
    /// occurrence in an event.
    pub fn over_budget(&self) -> [u64; 5] {
        self.over_budget
    }

    /// The id of `text` if it was interned before.
    pub fn lookup(&self, kind: SymbolKind, text: &str) -> Option<u32> {
        self.ids[kind.index()].get(text).copied()
    }

    /// The text of an id; `""` for an id never assigned.
    pub fn text(&self, kind: SymbolKind, id: u32) -> &str {
        self.texts[kind.index()]
            .get(id as usize)
            .map(|s| &**s)
            .unwrap_or("")
    }

    /// How many ids a kind has.
    pub fn count(&self, kind: SymbolKind) -> usize {
        self.texts[kind.index()].len()
    }

    /// Length of the symbol log: the position a fully up-to-date plugin is at.
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// Every string in id order per kind, and the log, for a checkpoint.
    pub fn state(&self) -> InternerState {
        InternerState {
            texts: self.texts.clone(),
            log: self.log.clone(),
        }
    }

    /// Rebuild an interner from a checkpoint's state, checking that the log
    /// names only ids that exist and that no string repeats within a kind.
    pub fn from_state(state: InternerState) -> Result<Self, BadInternerState> {
        let mut out = Interner::default();
        for (k, texts) in state.texts.into_iter().enumerate() {
            for (id, text) in texts.iter().enumerate() {
                if out.ids[k].insert(text.clone(), id as u32).is_some() {
                    return Err(BadInternerState(format!(
                        "symbol {text:?} appears twice in {:?}",
                        SymbolKind::ALL[k]
                    )));
                }
            }
            out.used += texts
                .iter()
                .map(|t| t.len() + NAME_OVERHEAD_BYTES)
                .sum::<usize>();
            out.texts[k] = texts;
        }
        for &(kind, id) in &state.log {
            if id as usize >= out.texts[kind.index()].len() {
                return Err(BadInternerState(format!(
                    "symbol log names {kind:?} id {id}, which does not exist"
                )));
            }
        }
        out.log = state.log;
        Ok(out)
    }

    /// Symbols from log position `from` on, as (kind, id, text).
    pub fn since(&self, from: usize) -> impl Iterator<Item = (SymbolKind, u32, &str)> {
        self.log
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .map(|&(kind, id)| (kind, id, self.text(kind, id)))
    }
}

/// The interner's contents in a checkpoint.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct InternerState {
    texts: [Vec<Box<str>>; 5],
    log: Vec<(SymbolKind, u32)>,
}

/// A checkpoint's symbol table contradicts itself.
#[derive(Debug, thiserror::Error)]
#[error("inconsistent symbol table: {0}")]
pub struct BadInternerState(String);

#[cfg(test)]
#[path = "intern_tests.rs"]
mod tests;
