//! Per-entity state keyed by the host's dense u32 ids, shared by detectors
//! so each one bounds its memory the same way.
//!
//! Ids are dense from 0, so a vector indexed by id is the fast path. A
//! hostile or corrupt id (say `u32::MAX`) must not make the detector allocate
//! gigabytes, so only ids below [`DENSE_LIMIT`] index the vector (at most
//! 8 bytes per slot up to that id, since slots are boxed); larger ids live in
//! a `BTreeMap`, which costs memory only for ids actually seen and iterates
//! in a fixed order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Ids below this index the dense vector (worst case 8 MiB of empty slots).
pub const DENSE_LIMIT: u32 = 1 << 20;

/// State of type `T` per id: a vector for the host's dense ids, a B-tree
/// for stray huge ones, so memory follows the entities actually seen.
/// It serialises with serde, so it can sit in a detector's snapshot.
///
/// ```
/// use ueba_sdk::table::Table;
/// let mut rows_per_user: Table<u64> = Table::default();
/// *rows_per_user.get_or_insert_with(3, || 0) += 500;
/// *rows_per_user.get_or_insert_with(u32::MAX, || 0) += 1; // no 4-billion-slot vector
/// assert_eq!(rows_per_user.get(3), Some(&500));
/// assert_eq!(rows_per_user.get(4), None);
/// if let Some(rows) = rows_per_user.get_mut(3) {
///     *rows = 0;
/// }
/// assert_eq!(rows_per_user.get(3), Some(&0));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table<T> {
    dense: Vec<Option<Box<T>>>,
    sparse: BTreeMap<u32, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            dense: Vec::new(),
            sparse: BTreeMap::new(),
        }
    }
}

impl<T> Table<T> {
    /// The state of `id`, if any.
    pub fn get(&self, id: u32) -> Option<&T> {
        if id < DENSE_LIMIT {
            self.dense.get(id as usize).and_then(|s| s.as_deref())
        } else {
            self.sparse.get(&id)
        }
    }

    /// The state of `id` for update, if any.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        if id < DENSE_LIMIT {
            self.dense
                .get_mut(id as usize)
                .and_then(|s| s.as_deref_mut())
        } else {
            self.sparse.get_mut(&id)
        }
    }

    /// The state of `id`, created by `make` on first use.
    pub fn get_or_insert_with(&mut self, id: u32, make: impl FnOnce() -> T) -> &mut T {
        if id < DENSE_LIMIT {
            let i = id as usize;
            if self.dense.len() <= i {
                self.dense.resize_with(i + 1, || None);
            }
            self.dense[i].get_or_insert_with(|| Box::new(make()))
        } else {
            self.sparse.entry(id).or_insert_with(make)
        }
    }

    /// Every id with state, and its state, in ascending id order: for what
    /// a detector sums over all of its entities (a population share).
    ///
    /// ```
    /// use ueba_sdk::table::Table;
    /// let mut t: Table<u8> = Table::default();
    /// t.get_or_insert_with(u32::MAX, || 9);
    /// t.get_or_insert_with(7, || 1);
    /// assert_eq!(t.iter().collect::<Vec<_>>(), [(7, &1), (u32::MAX, &9)]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.as_deref()?)));
        dense.chain(self.sparse.iter().map(|(&id, t)| (id, t)))
    }

    /// The same ids with each state converted by `f`: for carrying a
    /// table of an earlier snapshot layout over to the current one
    /// ([`crate::Detector::upgrade`]).
    ///
    /// ```
    /// use ueba_sdk::table::Table;
    /// let mut t: Table<u8> = Table::default();
    /// t.get_or_insert_with(7, || 1);
    /// t.get_or_insert_with(u32::MAX, || 9);
    /// let wide = t.map(u64::from);
    /// assert_eq!(wide.iter().collect::<Vec<_>>(), [(7, &1u64), (u32::MAX, &9)]);
    /// ```
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Table<U> {
        Table {
            dense: self
                .dense
                .into_iter()
                .map(|s| s.map(|t| Box::new(f(*t))))
                .collect(),
            sparse: self.sparse.into_iter().map(|(id, t)| (id, f(t))).collect(),
        }
    }

    /// [`Table::iter`], for update.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> {
        let dense = self
            .dense
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.as_deref_mut()?)));
        dense.chain(self.sparse.iter_mut().map(|(&id, t)| (id, t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_ids_do_not_allocate_the_dense_vector() {
        let mut t = Table::<u8>::default();
        *t.get_or_insert_with(u32::MAX, || 1) += 1;
        *t.get_or_insert_with(3, || 5) += 1;
        assert_eq!(t.get(u32::MAX), Some(&2));
        assert_eq!(t.get(3), Some(&6));
        assert_eq!(t.get(2), None);
        assert_eq!(t.dense.len(), 4);
    }
}
