//! What one instance tells the other shards' instances of the same
//! detector, and the sum of what they told it (see the crate docs,
//! "Sharing with other shards").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::novelty::Discovery;
use ueba_sdk::population::decode_or;
use ueba_sdk::table::Table;

use crate::{
    Adoption, KindClock, KindStats, NO_USER, POOL_RECENT_ACCESSES, Pool, RECENT_DISCOVERIES,
};

/// One instance's population figures, learned from its own users only.
/// Kinds are the sender's ids, named by `kinds`, since each instance
/// numbers kinds in the order it meets them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Share {
    /// The sender's kind names, by its kind id.
    pub kinds: Vec<String>,
    /// The organisation: its users, and their pooled kinds.
    pub org: Pool,
    /// Per peer group: current members, and their pooled kinds.
    pub groups: Vec<(u32, Pool)>,
    /// Per resource with a user or a closed day.
    pub resources: Vec<(u32, ResourceShare)>,
    /// Per kind id, the pooled hours of its owned resources.
    pub clocks: Vec<(u32, KindClock)>,
    /// Per kind id, days on another user's resource and those on the
    /// user's manager's ([`crate::Managers`]).
    pub managers: Vec<(u32, u32, u32)>,
    /// Per resource id, its recent first touches by peer group
    /// ([`crate::Waves`]).
    pub waves: Vec<(u32, Vec<Adoption>)>,
    /// Settled users' accesses and new kinds: the organisation's, and per
    /// peer group ([`crate::LateKinds`]).
    pub late_kinds: (Discovery, Vec<(u32, Discovery)>),
}

/// A share as novel-table 0.5 and 0.6 wrote it, without `late_kinds`,
/// and in 0.5 without `managers` and `waves` (`M` and `W` are `()`, which
/// postcard writes as nothing): a checkpoint taken before an upgrade holds
/// the last shares of the version before, and the host hands them over
/// again on resume.
#[derive(Deserialize)]
struct ShareBefore<M, W> {
    kinds: Vec<String>,
    org: Pool,
    groups: Vec<(u32, Pool)>,
    resources: Vec<(u32, ResourceShare)>,
    clocks: Vec<(u32, KindClock)>,
    managers: M,
    waves: W,
}

/// A list an earlier share had, or `()` where it had none.
trait OrNone<T> {
    fn or_none(self) -> Vec<T>;
}

impl<T> OrNone<T> for () {
    fn or_none(self) -> Vec<T> {
        Vec::new()
    }
}

impl<T> OrNone<T> for Vec<T> {
    fn or_none(self) -> Vec<T> {
        self
    }
}

impl<M: OrNone<(u32, u32, u32)>, W: OrNone<(u32, Vec<Adoption>)>> From<ShareBefore<M, W>>
    for Share
{
    fn from(s: ShareBefore<M, W>) -> Share {
        Share {
            kinds: s.kinds,
            org: s.org,
            groups: s.groups,
            resources: s.resources,
            clocks: s.clocks,
            managers: s.managers.or_none(),
            waves: s.waves.or_none(),
            late_kinds: Default::default(),
        }
    }
}

type ShareV05 = ShareBefore<(), ()>;
type ShareV06 = ShareBefore<Vec<(u32, u32, u32)>, Vec<(u32, Vec<Adoption>)>>;

/// Every one of the `others` given to `absorb` read back, in this
/// version's layout, 0.6's or 0.5's, or the first reason one could not be.
pub(crate) fn decode_all(others: &[&[u8]]) -> Result<Vec<Share>, String> {
    others
        .iter()
        .map(|bytes| {
            decode_or::<Share, ShareV06>(bytes)
                .or_else(|e| decode_or::<Share, ShareV05>(bytes).map_err(|_| e))
        })
        .collect()
}

/// The other instances' settled users' accesses and new kinds
/// ([`crate::LateKinds`]): the organisation's and per peer group, summed,
/// or why a share's are not counts.
pub(crate) fn late_sum(
    shares: &[Share],
) -> Result<(Option<Discovery>, BTreeMap<u32, Discovery>), String> {
    let mut org: Option<Discovery> = None;
    let mut groups: BTreeMap<u32, Discovery> = BTreeMap::new();
    for (i, s) in shares.iter().enumerate() {
        let (o, gs) = &s.late_kinds;
        if !plausible(o) || !gs.iter().all(|(_, d)| plausible(d)) {
            return Err(format!(
                "population share {i}: settled users' new kinds are not counts"
            ));
        }
        org.get_or_insert_with(Discovery::default).merge(o);
        for (g, d) in gs {
            groups.entry(*g).or_default().merge(d);
        }
    }
    Ok((org, groups))
}

/// The other instances' recent first touches per resource and peer group
/// ([`crate::Waves`]): each group's latest day and the day before, summed.
pub(crate) fn wave_sum(shares: &[Share]) -> BTreeMap<u32, Vec<Adoption>> {
    let mut sum: BTreeMap<u32, Vec<Adoption>> = BTreeMap::new();
    for s in shares {
        for (resource, adoptions) in &s.waves {
            let list = sum.entry(*resource).or_default();
            for a in adoptions {
                match list.binary_search_by_key(&a.group, |x| x.group) {
                    Ok(i) => list[i] = list[i].merged(*a),
                    Err(i) => list.insert(i, *a),
                }
            }
        }
    }
    sum
}

/// The other instances' manager counts per kind name ([`crate::Managers`]),
/// or why a share's are not counts.
pub(crate) fn manager_sum(shares: &[Share]) -> Result<BTreeMap<String, (u32, u32)>, String> {
    let mut sum: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (i, s) in shares.iter().enumerate() {
        for &(k, days, to_manager) in &s.managers {
            let name = kind_name(&s.kinds, k).map_err(|w| format!("population share {i}: {w}"))?;
            if to_manager > days {
                return Err(format!(
                    "population share {i}: {to_manager} days on a manager's resource of {days}"
                ));
            }
            let e = sum.entry(name.clone()).or_default();
            e.0 = e.0.saturating_add(days);
            e.1 = e.1.saturating_add(to_manager);
        }
    }
    Ok(sum)
}

/// Who has used a resource, and when it is in use, in one instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ResourceShare {
    /// Distinct users.
    pub users: u32,
    /// Distinct (user, local day).
    pub user_days: u32,
    /// The user with the most days on it, or [`NO_USER`].
    pub owner: u32,
    /// Their days on it.
    pub owner_days: u32,
    /// (peer group, current members who used it), sorted by group.
    pub per_group: Vec<(u32, u32)>,
    /// Closed active days, and those in use at each local hour, when any.
    pub clock: Option<(u32, [u16; 24])>,
}

/// A pool (peer group or organisation) of the other instances, its kinds
/// by name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct OtherPool {
    /// Members.
    pub members: u32,
    /// Pooled counts per kind name (`kind` unused).
    pub kinds: BTreeMap<String, KindStats>,
    /// Pooled first accesses to a new kind; `None` before any share.
    pub new_kind: Option<Discovery>,
}

/// A resource as the other instances know it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OtherResource {
    pub users: u32,
    pub user_days: u32,
    /// The user with the most days on it in any other instance.
    pub owner: u32,
    pub owner_days: u32,
    pub per_group: Vec<(u32, u32)>,
    /// The most closed days of any other instance's clock, and per hour
    /// the most days in use.
    pub clock_days: u32,
    pub clock_used: [u16; 24],
}

impl Default for OtherResource {
    fn default() -> Self {
        OtherResource {
            users: 0,
            user_days: 0,
            owner: NO_USER,
            owner_days: 0,
            per_group: Vec::new(),
            clock_days: 0,
            clock_used: [0; 24],
        }
    }
}

impl OtherResource {
    /// Members of `group` who used it.
    pub fn group_count(&self, group: u32) -> u32 {
        self.per_group
            .binary_search_by_key(&group, |&(g, _)| g)
            .map_or(0, |i| self.per_group[i].1)
    }
}

/// The sum of the other instances' latest shares; part of the snapshot.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Others {
    /// The organisation.
    pub org: OtherPool,
    /// Per peer group.
    pub groups: BTreeMap<u32, OtherPool>,
    /// Per resource id.
    pub resources: Table<OtherResource>,
    /// Per kind name, the pooled hours of owned resources.
    pub clocks: BTreeMap<String, KindClock>,
}

impl Others {
    /// The sum of `shares`, or why one of them cannot be a share.
    pub fn sum(shares: &[Share]) -> Result<Others, String> {
        let mut sum = Others::default();
        for (i, s) in shares.iter().enumerate() {
            let bad = |what: &str| format!("population share {i}: {what}");
            add_pool(&mut sum.org, &s.org, &s.kinds).map_err(|w| bad(&w))?;
            for (g, pool) in &s.groups {
                let entry = sum.groups.entry(*g).or_default();
                add_pool(entry, pool, &s.kinds).map_err(|w| bad(&w))?;
            }
            for (id, r) in &s.resources {
                let o = sum
                    .resources
                    .get_or_insert_with(*id, OtherResource::default);
                o.users = o.users.saturating_add(r.users);
                o.user_days = o.user_days.saturating_add(r.user_days);
                if r.owner != NO_USER
                    && (r.owner_days, std::cmp::Reverse(r.owner))
                        > (o.owner_days, std::cmp::Reverse(o.owner))
                {
                    o.owner = r.owner;
                    o.owner_days = r.owner_days;
                }
                for &(g, n) in &r.per_group {
                    add_group(&mut o.per_group, g, n);
                }
                if let Some((days, used)) = &r.clock {
                    o.clock_days = o.clock_days.max(*days);
                    for (m, u) in o.clock_used.iter_mut().zip(used) {
                        *m = (*m).max(*u);
                    }
                }
            }
            for (k, clock) in &s.clocks {
                let name = kind_name(&s.kinds, *k).map_err(|w| bad(&w))?;
                let c = sum.clocks.entry(name.clone()).or_default();
                c.days = c.days.saturating_add(clock.days);
                for (m, u) in c.used.iter_mut().zip(&clock.used) {
                    *m = m.saturating_add(*u);
                }
            }
        }
        Ok(sum)
    }
}

/// Add a pool of a share to the others' sum.
fn add_pool(sum: &mut OtherPool, pool: &Pool, kinds: &[String]) -> Result<(), String> {
    sum.members = sum.members.saturating_add(pool.members);
    if !plausible(&pool.kinds.new_kind) {
        return Err("a pool's discovery counts are not counts".into());
    }
    sum.new_kind
        .get_or_insert_with(Discovery::default)
        .merge(&pool.kinds.new_kind);
    for k in &pool.kinds.per_kind {
        let counts = plausible(&k.discovery) && plausible(&k.owned) && plausible(&k.dead);
        if !(counts && k.log_rarity_sq.is_finite() && k.log_rarity_sq >= 0.0) {
            return Err("a pool's discovery counts are not counts".into());
        }
        let e = sum
            .kinds
            .entry(kind_name(kinds, k.kind)?.clone())
            .or_default();
        e.discovery.merge(&k.discovery);
        e.owned.merge(&k.owned);
        e.dead.merge(&k.dead);
        e.log_rarity_sq += k.log_rarity_sq;
        e.users = e.users.saturating_add(k.users);
    }
    Ok(())
}

/// The sender's name of its kind `kind`.
fn kind_name(kinds: &[String], kind: u32) -> Result<&String, String> {
    kinds
        .get(kind as usize)
        .ok_or_else(|| format!("kind {kind} has no name"))
}

/// Add `n` users of `group` to a sorted (group, users) list.
fn add_group(per_group: &mut Vec<(u32, u32)>, group: u32, n: u32) {
    match per_group.binary_search_by_key(&group, |&(g, _)| g) {
        Ok(i) => per_group[i].1 = per_group[i].1.saturating_add(n),
        Err(i) if n > 0 => per_group.insert(i, (group, n)),
        Err(_) => {}
    }
}

/// Whether decoded discovery counts could have been counted: finite, not
/// negative, and rarities at most 1 (their logarithms at most 0).
fn plausible(d: &Discovery) -> bool {
    [d.accesses, d.firsts, d.rated, -d.log_rarity]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0)
}

/// A pool's discovery counts: this instance's (`own`) plus the other
/// instances' (`others`). Each instance halves its counts past the pool's
/// window, so the sum is halved (accesses with first accesses, rated
/// discoveries with their rarities) until it is within the window again, as
/// heavy as one instance's would be. Without the others it is `own` as it
/// is.
pub(crate) fn pooled(own: &Discovery, others: Option<&Discovery>) -> Discovery {
    let Some(others) = others else {
        return *own;
    };
    own.pooled_with(others, POOL_RECENT_ACCESSES, 4.0 * RECENT_DISCOVERIES)
}

/// A pool's counts in one kind: this instance's plus the others'.
pub(crate) fn pooled_kind(
    own: Option<&KindStats>,
    others: Option<&KindStats>,
) -> Option<KindStats> {
    let Some(o) = others else {
        return own.cloned();
    };
    let own = own.cloned().unwrap_or_default();
    let discovery = pooled(&own.discovery, Some(&o.discovery));
    // The squares are halved as the rated discoveries were.
    let rated = own.discovery.rated + o.discovery.rated;
    let kept = if rated > 0.0 {
        discovery.rated / rated
    } else {
        1.0
    };
    Some(KindStats {
        kind: own.kind,
        discovery,
        log_rarity_sq: (own.log_rarity_sq + o.log_rarity_sq) * kept,
        owned: pooled(&own.owned, Some(&o.owned)),
        dead: pooled(&own.dead, Some(&o.dead)),
        users: own.users.saturating_add(o.users),
    })
}
