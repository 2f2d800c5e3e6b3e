//! Where a user's day went: how their work moves among the many resources
//! of one kind.
//!
//! A pair's count buckets judge each user × resource on its own history.
//! That is right for a resource the user keeps coming back to as one
//! thing (their workstation, removable media, a table), and wrong for one
//! of many of a kind the user's work moves among: the documents of a file
//! share, a ward's patient charts. Someone who opened a document a couple
//! of times a week and spends today on it makes twenty events there, deep
//! in that pair's tail, while their day on the share is an ordinary one:
//! the events went there instead of elsewhere. On file-server logs such
//! days were most of the false alerts, and on removable media (a kind of
//! one resource) a surge of the same size is the signal.
//!
//! So each user keeps, per kind of resource ([`ueba_sdk::kind`]), how the
//! part of their learned days that was *not* on the kind's busiest
//! resource that day swings: the moments ([`Moments`]) of the kind's
//! events less those of its busiest resource, over the days the user had
//! events of the kind. A pair's count of the day, or of its last `k` days
//! (`rate`), `e` events above what it expected, is judged no more surely
//! than the chance of `k` days of that rest running `e` events over their
//! mean (`p = max(p_pair, P(rest ≥ mean + e))`, the rest's mean and
//! variance `k` times a day's): the swing of the user's other
//! resources of the kind bounds how sure one resource's jump can be. The
//! rest is a day's swing and an hour holds a part of it, so a pair's hour
//! is judged by its own hours alone. A kind of one resource has no rest (always 0),
//! nor does a user who works on one resource of a kind, so their surges
//! are judged as before; a user whose documents take tens of events one
//! day and none the next has a wide rest, and one document taking twenty
//! is what their days do. A day's total on the kind (the user's own day
//! bucket) and rows are judged as before, so doing *more* still shows.
//!
//! The rest learns from learned days only, as every baseline here, with
//! the clipping of [`Moments::push`], and is judged once it has
//! [`MIN_REST_DAYS`] days.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::Symbols;
use ueba_sdk::table::Table;

use crate::counts::{COUNT_WINDOW_DAYS, Moments};

/// Kind names kept; resources of further kinds are not tracked by kind.
pub const MAX_KINDS: usize = 1024;
/// A resource's entry in [`Kinds`] when its kind came past [`MAX_KINDS`]:
/// decided once, like the others, so a log of ever new kinds costs a
/// lookup per event rather than a kind's name.
const UNTRACKED: u32 = u32::MAX;
/// Kinds tracked per user; further kinds of theirs are not.
pub const KINDS_PER_USER: usize = 16;
/// Days with events of a kind the rest's moments need before they bound
/// a pair's judgement.
pub const MIN_REST_DAYS: f32 = 3.0;

/// The kinds met so far, by name, and the kind of each resource (by the
/// operator's `kinds` globs, else by its shape).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Kinds {
    names: Vec<String>,
    /// Kind id + 1 per resource id; 0 not yet known, [`UNTRACKED`] past
    /// [`MAX_KINDS`].
    of_resource: Table<u32>,
    /// Where each name is in `names`; derived.
    #[serde(skip)]
    index: BTreeMap<String, u32>,
}

impl Kinds {
    /// The kind of `resource`, decided once per resource; `None` past
    /// [`MAX_KINDS`] kinds, or while the resource's text has not arrived.
    pub fn of(
        &mut self,
        globs: &[(String, String)],
        symbols: &Symbols,
        resource: u32,
    ) -> Option<u32> {
        match self.of_resource.get(resource) {
            Some(&UNTRACKED) => return None,
            Some(&k) if k > 0 => return Some(k - 1),
            _ => {}
        }
        let name = symbols.resource(resource);
        if name.is_empty() {
            return None;
        }
        if self.index.len() != self.names.len() {
            self.index = (0..)
                .zip(&self.names)
                .map(|(i, n)| (n.clone(), i))
                .collect();
        }
        let kind_name = ueba_sdk::kind::kind_of(globs, name);
        let kind = ueba_sdk::kind::intern(&mut self.names, &mut self.index, kind_name, MAX_KINDS);
        *self.of_resource.get_or_insert_with(resource, || 0) = kind.map_or(UNTRACKED, |k| k + 1);
        kind
    }

    /// The name of a kind, for findings.
    pub fn name(&self, kind: u32) -> &str {
        self.names.get(kind as usize).map_or("", String::as_str)
    }

    /// Forget every resource's kind (the `kinds` setting changed); names
    /// stay, so what users learned of a kind stays with it.
    pub fn forget_resources(&mut self) {
        self.of_resource = Table::default();
    }
}

/// A user's events of one kind today and the moments of the rest of their
/// days on it (the kind's events less its busiest resource's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KindDay {
    kind: u32,
    today: u32,
    top: u32,
    rest: Moments,
}

/// An event of `kind` whose resource has had `resource_today` events today
/// (1 for a resource the user's pairs do not track).
pub fn count(days: &mut Vec<KindDay>, kind: u32, resource_today: u32) {
    let day = match days.iter().position(|d| d.kind == kind) {
        Some(i) => &mut days[i],
        None if days.len() < KINDS_PER_USER => {
            days.push(KindDay {
                kind,
                ..KindDay::default()
            });
            let last = days.len() - 1;
            &mut days[last]
        }
        None => return,
    };
    day.today = day.today.saturating_add(1);
    day.top = day.top.max(resource_today);
}

/// The user's day closes: on a learned day, each kind they had events of
/// learns its rest.
pub fn close(days: &mut [KindDay], learn: bool) {
    for d in days {
        if learn && d.today > 0 {
            d.rest
                .push(d.today.saturating_sub(d.top), COUNT_WINDOW_DAYS);
        }
        d.today = 0;
        d.top = 0;
    }
}

/// A held day's events of one kind, kept aside until the user's days are
/// learned again (`crate::held`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindToday {
    kind: u32,
    today: u32,
    top: u32,
}

/// The kinds the user had events of today, before their day closes.
pub fn today(days: &[KindDay]) -> Vec<KindToday> {
    days.iter()
        .filter(|d| d.today > 0)
        .map(|d| KindToday {
            kind: d.kind,
            today: d.today,
            top: d.top,
        })
        .collect()
}

/// A kept held day's kinds learn their rest, as [`close`] would have had
/// the day been learned when it closed.
pub fn learn_kept(days: &mut [KindDay], kept: &[KindToday]) {
    for k in kept {
        if let Some(d) = days.iter_mut().find(|d| d.kind == k.kind) {
            d.rest
                .push(k.today.saturating_sub(k.top), COUNT_WINDOW_DAYS);
        }
    }
}

/// The rest of the user's days on `kind`, once it has [`MIN_REST_DAYS`].
pub fn rest(days: &[KindDay], kind: u32) -> Option<Moments> {
    days.iter()
        .find(|d| d.kind == kind)
        .map(|d| d.rest)
        .filter(|m| m.n >= MIN_REST_DAYS)
}

/// `p` bounded by the chance of `days` days of `rest` running `excess`
/// events over their mean (the module docs), and that chance when it
/// bounds `p`.
pub fn bound(p: f64, excess: f64, rest: Option<Moments>, days: u8) -> (f64, Option<f64>) {
    let Some(rest) = rest.filter(|_| excess > 0.0) else {
        return (p, None);
    };
    let k = f32::from(days.max(1));
    let rest = Moments {
        mean: rest.mean * k,
        var: rest.var * k,
        ..rest
    };
    let at = (f64::from(rest.mean) + excess)
        .ceil()
        .min(f64::from(u32::MAX));
    let swing = rest.tail(at as u32, 0.0);
    if swing > p {
        (swing, Some(swing))
    } else {
        (p, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_past_the_bound_are_untracked_and_the_rest_stay() {
        // Roots named by letters: digits would make them one kind.
        let root = |id: u32| -> String {
            (0..3)
                .map(|i| char::from(b'a' + (id / 26u32.pow(i) % 26) as u8))
                .collect()
        };
        let mut symbols = Symbols::default();
        for id in 0..=MAX_KINDS as u32 {
            symbols.insert(
                ueba_sdk::SymbolKind::Resource,
                id,
                format!("/{}/file", root(id)),
            );
        }
        symbols.insert(
            ueba_sdk::SymbolKind::Resource,
            5_000,
            format!("/{}/another", root(7)),
        );
        let mut kinds = Kinds::default();
        for id in 0..MAX_KINDS as u32 {
            assert_eq!(kinds.of(&[], &symbols, id), Some(id));
        }
        assert_eq!(kinds.of(&[], &symbols, MAX_KINDS as u32), None);
        assert_eq!(kinds.of(&[], &symbols, MAX_KINDS as u32), None);
        // A resource of a kind already known still gets it.
        assert_eq!(kinds.of(&[], &symbols, 5_000), Some(7));
        assert_eq!(kinds.name(7), format!("/{}/*", root(7)));
    }

    fn learned(days: &mut Vec<KindDay>, kind: u32, per_resource: &[u32]) {
        for &n in per_resource {
            for i in 1..=n {
                count(days, kind, i);
            }
        }
        close(days, true);
    }

    #[test]
    fn a_kind_of_one_resource_has_no_swing_to_hide_a_surge_in() {
        let mut days = Vec::new();
        for n in [2, 0, 3, 1, 2, 2, 0, 1] {
            learned(&mut days, 7, &[n]);
        }
        let rest = rest(&days, 7).expect("enough days");
        assert_eq!(rest.mean, 0.0);
        // Twenty more events than expected: the pair's tail stands.
        let (p, why) = bound(1e-9, 20.0, Some(rest), 1);
        assert!(p < 1e-6, "{p}");
        assert_eq!(why, None);
    }

    #[test]
    fn documents_a_users_days_move_among_bound_one_documents_jump() {
        let mut days = Vec::new();
        // Days of 10–40 events spread over several documents of a share.
        for spread in [
            &[12, 10, 8][..],
            &[3, 4, 2, 1],
            &[20, 15, 9, 2],
            &[5, 5],
            &[14, 12, 11, 6, 4],
            &[2, 1, 1],
            &[18, 3, 3],
        ] {
            learned(&mut days, 3, spread);
        }
        let rest = rest(&days, 3).expect("enough days");
        let (p, why) = bound(1e-9, 20.0, Some(rest), 1);
        assert!(
            p > 1e-3,
            "twenty more events on one document is a day's swing: {p}"
        );
        assert_eq!(why, Some(p));
        // The same jump on another kind the user has no rest of is untouched.
        assert_eq!(bound(1e-9, 20.0, super::rest(&days, 4), 1), (1e-9, None));
    }

    #[test]
    fn held_days_teach_the_rest_nothing() {
        let mut days = Vec::new();
        for _ in 0..5 {
            for i in 1..=30 {
                count(&mut days, 1, i);
            }
            count(&mut days, 1, 1);
            close(&mut days, false);
        }
        assert_eq!(rest(&days, 1), None);
    }
}
