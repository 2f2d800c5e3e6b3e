//! What a read of a resource usually returns to the people who read it.
//!
//! A user's hour and day totals add up reads of many resources, and rows
//! are not alike across them: a ward's census report returns forty rows to
//! every nurse who opens it, a quality dashboard two hundred to every
//! physician, a chart one. Added as rows, a nurse's first census of the
//! week is forty times their usual hour of chart views and scores as a bulk
//! read, though everyone on the ward reads it the same way. What makes a
//! read bulk is its size against what reads of that resource usually
//! return to the people who read it: the support agent's 68,000 rows of a
//! customer table the team reads forty rows at a time.
//!
//! So for each resource and each peer group that reads it (users with no
//! group together), the detector keeps the typical size of a read, the
//! geometric mean over its readers' days of their mean read that day
//! (exponentially weighted over about [`READS_WINDOW`] reads), and up to
//! three of its readers; and for each user the typical size of their own
//! reads, the arithmetic mean of each learned day's reads, weighted the
//! same way. Once two readers besides the user have read a resource, and
//! its usual read `R` is larger than the user's own usual read `m`, a read
//! of it larger than `m` counts in the user's hour and day totals as
//! `max(m, rows · m / R)` rows (rounded): a read up to the size the group
//! usually reads counts as one of the user's own usual reads, and a larger
//! one as that many of them. Reads no larger than the user's usual count
//! as they are. A nurse whose reads are charts of one row each
//! and opens the census of forty rows every nurse opens has read one
//! ordinary read's worth; the support agent who reads 68,000 rows of a
//! table the team reads forty at a time has read 68,000 rows, since their
//! own reads are about forty rows too and nothing is scaled. Reads are
//! never scaled up, and a resource the user's group has not read at
//! least three ways has no usual read to go by, so a table nobody reads,
//! or that only the user and one other read, counts every row, as it
//! always did. The user × resource buckets keep rows: their own history of
//! one resource is their precedent.
//!
//! A resource is tracked from the first learned day on which a read of it
//! returned more than one row on average: until then each of its reads is
//! one row, and one-row reads are never scaled. So logs whose every event
//! is one row (logons, removable media, file opens) are judged exactly as
//! before. Reads are learned when the user's day closes, from the day's
//! reads of each resource (the user × resource pair's events and rows that
//! day), and only from a day learned whole: a day held out of learning
//! (`learn` false) teaches nothing, so an ongoing bulk read cannot raise
//! its resource's usual read. The user's own reads count among the group's,
//! as a member's do.
//!
//! With several shards each instance learns from its own users' days and
//! shares the resources' entries (replaced at each exchange); a usual read
//! then pools every shard's readers, weighted by their reads. A user's own
//! usual read is theirs alone, in their shard.

use serde::{Deserialize, Serialize};
use ueba_sdk::table::Table;

/// Reads over which a resource's usual read is averaged, about: older
/// reads are forgotten exponentially, so a report that grows keeps up.
pub const READS_WINDOW: f32 = 256.0;
/// Peer groups kept per resource; a group past them finds no usual read
/// and counts rows, as before.
const GROUPS_PER_RESOURCE: usize = 16;
/// The readers kept per group and resource: the user and two others.
const READERS: usize = 3;
/// The key of users with no peer group.
const NO_GROUP: u32 = u32::MAX;
/// No reader in a slot.
const NO_READER: u32 = u32::MAX;

/// One peer group's reads of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupReads {
    group: u32,
    /// Up to three of its readers, in order of first read.
    readers: [u32; READERS],
    /// Its usual read.
    usual: Usual,
}

impl GroupReads {
    fn new(group: u32) -> GroupReads {
        GroupReads {
            group,
            readers: [NO_READER; READERS],
            usual: Usual::default(),
        }
    }
}

/// Put `reader` in a free slot of `readers` unless it is there already or
/// none is free.
fn add_reader(readers: &mut [u32; READERS], reader: u32) {
    if !readers.contains(&reader)
        && let Some(slot) = readers.iter_mut().find(|r| **r == NO_READER)
    {
        *slot = reader;
    }
}

/// How a read was counted in the hour and day totals: the rows it
/// counted as, and when it was scaled, the usual read of its resource in
/// the user's group and the user's own usual read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counted {
    /// Rows the read counts as.
    pub rows: u64,
    /// `(usual read of the resource, the user's usual read)`, when scaled.
    pub scaled: Option<(f64, f64)>,
}

/// A geometric mean of read sizes, exponentially weighted over about
/// [`READS_WINDOW`] reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usual {
    /// Reads behind the mean, at most [`READS_WINDOW`].
    n: f32,
    /// Mean of `ln(rows)` over the reads.
    mean_log: f32,
}

impl Usual {
    fn learn(&mut self, reads: u32, mean: f64) {
        let k = (reads as f32).min(READS_WINDOW);
        self.n = (self.n + k).min(READS_WINDOW);
        self.mean_log += (mean.ln() as f32 - self.mean_log) * (k / self.n);
    }
}

/// The usual read of every resource, per peer group, and of every user:
/// this instance's own readers' and, for resources with shards, the other
/// instances' as of the last exchange.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReadSizes {
    own: Table<Vec<GroupReads>>,
    others: Table<Vec<GroupReads>>,
    users: Table<Usual>,
}

impl ReadSizes {
    /// How a read of `rows` rows of `resource` by `user` of `group` counts
    /// (the module docs say why).
    pub fn counted(&self, resource: u32, group: Option<u32>, user: u32, rows: u64) -> Counted {
        let as_is = Counted { rows, scaled: None };
        if rows <= 1 {
            return as_is;
        }
        let Some(own) = self.users.get(user).filter(|u| u.n > 0.0) else {
            return as_is;
        };
        // Reads no larger than the user's own usual one count as they are.
        let mine = f64::from(own.mean_log).exp();
        if rows as f64 <= mine {
            return as_is;
        }
        let group = group.unwrap_or(NO_GROUP);
        let entries = [&self.own, &self.others]
            .into_iter()
            .filter_map(|t| t.get(resource))
            .flat_map(|gs| gs.iter().filter(|g| g.group == group));
        let mut readers = [NO_READER; READERS];
        let (mut n, mut sum) = (0.0f64, 0.0f64);
        for g in entries {
            for &r in g.readers.iter().filter(|&&r| r != NO_READER) {
                add_reader(&mut readers, r);
            }
            n += f64::from(g.usual.n);
            sum += f64::from(g.usual.n) * f64::from(g.usual.mean_log);
        }
        // Two readers besides the user.
        let others = readers
            .iter()
            .filter(|&&r| r != NO_READER && r != user)
            .count();
        let usual = if n > 0.0 { (sum / n).exp() } else { 0.0 };
        if others < 2 || usual <= mine {
            return as_is;
        }
        let scaled = (rows as f64 * mine / usual)
            .round()
            .max(mine.round())
            .max(1.0);
        Counted {
            // Below `rows`, so it fits.
            rows: (scaled as u64).min(rows),
            scaled: Some((usual, mine)),
        }
    }

    /// The logarithm of `user`'s usual read in rows, once they have one.
    pub fn usual_log(&self, user: u32) -> Option<f64> {
        self.users
            .get(user)
            .filter(|u| u.n > 0.0)
            .map(|u| f64::from(u.mean_log))
    }

    /// Learn a learned day's `reads` reads of `resource`, `rows` rows in
    /// all, by `user` of `group`.
    pub fn learn_day(
        &mut self,
        resource: u32,
        group: Option<u32>,
        user: u32,
        reads: u32,
        rows: u64,
    ) {
        if reads == 0 || rows == 0 {
            return;
        }
        let mean = rows as f64 / f64::from(reads);
        let group = group.unwrap_or(NO_GROUP);
        let tracked = self
            .own
            .get(resource)
            .is_some_and(|gs| gs.iter().any(|g| g.group == group));
        if !tracked && mean <= 1.0 {
            return;
        }
        let groups = self.own.get_or_insert_with(resource, Vec::new);
        let at = match groups.iter().position(|g| g.group == group) {
            Some(i) => i,
            None if groups.len() < GROUPS_PER_RESOURCE => {
                groups.push(GroupReads::new(group));
                groups.len() - 1
            }
            None => return,
        };
        let g = &mut groups[at];
        add_reader(&mut g.readers, user);
        g.usual.learn(reads, mean);
    }

    /// Learn a learned day of `user`'s: `reads` reads of every resource,
    /// `rows` rows in all. Once per day, from the day's sums, so that the
    /// order in which its resources close does not matter.
    pub fn learn_user_day(&mut self, user: u32, reads: u64, rows: u64) {
        if reads == 0 || rows == 0 {
            return;
        }
        let reads32 = u32::try_from(reads).unwrap_or(u32::MAX);
        self.users
            .get_or_insert_with(user, Usual::default)
            .learn(reads32, rows as f64 / reads as f64);
    }

    /// This instance's own entries, to share with the other instances.
    pub fn share(&self) -> Vec<(u32, Vec<GroupReads>)> {
        self.own.iter().map(|(r, gs)| (r, gs.clone())).collect()
    }

    /// Replace the other instances' entries by those of `shares`.
    pub fn set_shared<'a>(
        &mut self,
        shares: impl IntoIterator<Item = &'a [(u32, Vec<GroupReads>)]>,
    ) {
        self.others = Table::default();
        for share in shares {
            for (resource, groups) in share {
                let mine = self.others.get_or_insert_with(*resource, Vec::new);
                for g in groups.iter().take(GROUPS_PER_RESOURCE) {
                    if mine.len() < GROUPS_PER_RESOURCE * 4 {
                        mine.push(*g);
                    }
                }
            }
        }
    }
}

/// Refuse an entry no learning gives: a mean that is not the logarithm of
/// a day's mean read (at least one row over `u32::MAX` reads, when most of
/// a day's reads came back empty; at most `u64::MAX` rows), or reads
/// outside `0..=READS_WINDOW`.
pub fn check(share: &[(u32, Vec<GroupReads>)]) -> Result<(), String> {
    let least = -(u32::MAX as f32).ln();
    let most = (u64::MAX as f32).ln();
    let bad = share.iter().flat_map(|(_, gs)| gs).find(|g| {
        let u = g.usual;
        !((least..=most).contains(&u.mean_log)
            && u.n.is_finite()
            && (0.0..=READS_WINDOW).contains(&u.n))
    });
    match bad {
        Some(g) => Err(format!(
            "population share holds a usual read of {} over {} reads",
            g.usual.mean_log, g.usual.n
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(c: Counted) -> u64 {
        c.rows
    }

    /// A nurse (user 10, usual read one row) and the dashboard three
    /// physicians of the group read at 191 rows.
    fn ward() -> ReadSizes {
        let mut r = ReadSizes::default();
        r.learn_user_day(10, 200, 200);
        r.learn_day(7, Some(1), 11, 1, 191);
        r
    }

    #[test]
    fn a_read_the_group_makes_counts_as_one_of_the_users_own_once_two_others_made_it() {
        let mut r = ward();
        assert_eq!(rows(r.counted(7, Some(1), 10, 191)), 191);
        r.learn_day(7, Some(1), 10, 2, 382);
        r.learn_user_day(10, 2, 382);
        // The user and one other: still rows.
        assert_eq!(rows(r.counted(7, Some(1), 10, 191)), 191);
        r.learn_day(7, Some(1), 12, 1, 191);
        let c = r.counted(7, Some(1), 10, 191);
        assert_eq!(c.rows, 1);
        let (usual, mine) = c.scaled.unwrap();
        assert!(
            (usual - 191.0).abs() < 1.0 && (mine - 1.0).abs() < 0.5,
            "{c:?}"
        );
        // Twice the usual read is two of the user's.
        assert_eq!(rows(r.counted(7, Some(1), 10, 382)), 2);
        // Another group has no usual read of it.
        assert_eq!(rows(r.counted(7, Some(2), 10, 191)), 191);
    }

    #[test]
    fn a_bulk_read_by_someone_who_reads_like_their_team_is_counted_whole() {
        let mut r = ReadSizes::default();
        for (user, rows) in [(1, 30), (2, 50), (3, 40), (4, 40)] {
            r.learn_day(9, None, user, 1, rows);
            r.learn_user_day(user, 1, rows);
        }
        // User 4's own reads are the team's size: nothing is scaled.
        assert_eq!(
            r.counted(9, None, 4, 68_000),
            Counted {
                rows: 68_000,
                scaled: None
            }
        );
        assert_eq!(rows(r.counted(9, None, 4, 0)), 0);
        // A user never seen has no usual read of their own.
        assert_eq!(rows(r.counted(9, None, 5, 68_000)), 68_000);
    }

    #[test]
    fn one_row_reads_are_not_tracked_nor_scaled() {
        let mut r = ReadSizes::default();
        for user in 1..5 {
            r.learn_day(3, None, user, 10, 10);
            r.learn_user_day(user, 10, 10);
        }
        assert!(r.share().is_empty());
        assert_eq!(rows(r.counted(3, None, 1, 1)), 1);
    }

    #[test]
    fn shards_pool_their_readers() {
        let mut a = ward();
        let mut b = ReadSizes::default();
        b.learn_day(7, Some(1), 12, 1, 191);
        assert_eq!(rows(a.counted(7, Some(1), 10, 191)), 191);
        let share = b.share();
        check(&share).unwrap();
        a.learn_day(7, Some(1), 13, 1, 191);
        a.set_shared([share.as_slice()]);
        assert_eq!(rows(a.counted(7, Some(1), 10, 191)), 1);
        // The next exchange replaces, never adds twice.
        a.set_shared([share.as_slice()]);
        assert_eq!(rows(a.counted(7, Some(1), 10, 382)), 2);
        let bad = vec![(
            4,
            vec![GroupReads {
                usual: Usual {
                    n: 1.0,
                    mean_log: f32::NAN,
                },
                ..GroupReads::new(0)
            }],
        )];
        assert!(check(&bad).is_err());
    }

    /// A resource whose reads mostly come back empty has a usual read
    /// under one row; its share is one learning gives, and is taken.
    #[test]
    fn a_usual_read_under_one_row_is_shared() {
        let mut r = ReadSizes::default();
        r.learn_day(5, None, 1, 1, 40);
        r.learn_day(5, None, 2, 400, 40);
        let share = r.share();
        let usual = share[0].1[0].usual;
        assert!(usual.mean_log < 0.0, "{usual:?}");
        check(&share).unwrap();
    }
}
