//! String interning: every user, resource, action, source and peer group
//! becomes a dense u32 id per kind.
//!
//! Strings cross into a plugin once. The interner keeps an append-only log of
//! new symbols; each plugin remembers how far into the log it has been sent,
//! so a batch carries only the symbols that plugin has not seen yet (and a
//! freshly loaded plugin gets them all).

use rustc_hash::FxHashMap;

/// The five namespaces of interned strings, each with ids from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SymbolKind {
    /// User names.
    User,
    /// Resources, e.g. `support.customers`.
    Resource,
    /// Actions, e.g. `select`.
    Action,
    /// Source addresses or hosts.
    Source,
    /// Peer groups.
    PeerGroup,
}

impl SymbolKind {
    /// All kinds, in a fixed order.
    pub const ALL: [SymbolKind; 5] = [
        SymbolKind::User,
        SymbolKind::Resource,
        SymbolKind::Action,
        SymbolKind::Source,
        SymbolKind::PeerGroup,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-kind string tables plus the log of symbols in the order they appeared.
#[derive(Default, Debug)]
pub struct Interner {
    ids: [FxHashMap<Box<str>, u32>; 5],
    texts: [Vec<Box<str>>; 5],
    log: Vec<(SymbolKind, u32)>,
}

impl Interner {
    /// The id of `text` in `kind`, assigning the next id if it is new.
    pub fn intern(&mut self, kind: SymbolKind, text: &str) -> u32 {
        let k = kind.index();
        if let Some(&id) = self.ids[k].get(text) {
            return id;
        }
        let id = u32::try_from(self.texts[k].len()).unwrap_or(u32::MAX);
        self.texts[k].push(text.into());
        self.ids[k].insert(text.into(), id);
        self.log.push((kind, id));
        id
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
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_per_kind_and_stable() {
        let mut i = Interner::default();
        assert_eq!(i.intern(SymbolKind::User, "alice"), 0);
        assert_eq!(i.intern(SymbolKind::Resource, "alice"), 0);
        assert_eq!(i.intern(SymbolKind::User, "bob"), 1);
        assert_eq!(i.intern(SymbolKind::User, "alice"), 0);
        assert_eq!(i.text(SymbolKind::User, 1), "bob");
        assert_eq!(i.text(SymbolKind::User, 9), "");
        assert_eq!(i.count(SymbolKind::User), 2);
    }

    #[test]
    fn log_sends_each_symbol_once() {
        let mut i = Interner::default();
        i.intern(SymbolKind::User, "alice");
        let mark = i.log_len();
        i.intern(SymbolKind::User, "alice");
        i.intern(SymbolKind::Action, "select");
        let new: Vec<_> = i.since(mark).collect();
        assert_eq!(new, vec![(SymbolKind::Action, 0, "select")]);
        assert_eq!(i.since(0).count(), 2);
        assert_eq!(i.since(99).count(), 0);
    }
}
