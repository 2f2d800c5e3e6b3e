//! Snapshots of earlier versions, carried over ([`ueba_sdk::Detector::upgrade`]).
//!
//! The snapshot is the postcard encoding of the detector's fields in
//! order, so a layout change makes an earlier snapshot unreadable as it
//! is. Each earlier layout still worth reading is described here by the
//! types that changed, and converted: an upgrade of ueba keeps who
//! touched what and every discovery rate instead of relearning them.
//!
//! - 0.6.0: no counts of settled users' new kinds (`crate::LateKinds`).
//!   They carry over with none, and until settled users' accesses
//!   accumulate a new kind is judged against the organisation's rate over
//!   every tenure, as 0.6.0 judged it.
//! - 0.5.0: no counts of days on a manager's resource (`crate::Managers`)
//!   and no peer groups taking resources up (`crate::Waves`). They carry
//!   over with none, and are counted from the upgrade on.
//! - 0.3.0 to 0.4.1: no first accesses kept by held users
//!   (`crate::PendingFirst`). They carry over with none: a user held at
//!   the upgrade learns the first accesses they make from then on, and
//!   those before stay new to them, as 0.4 had it.
//! - 0.2.0: users and pools had no habit of other users' resources at
//!   dead hours (`KindStats::dead`), and a held first access no
//!   resource-side time reading, and no squares of discoveries' rarities
//!   (`KindStats::log_rarity_sq`). They carry over with none: habits are
//!   learned from the accesses after the upgrade, and until they are, the
//!   reading of the hour decides alone, as in 0.2.0; with no squares the
//!   spread of rarities comes out below zero, and a discovery is judged by
//!   its ratio to the typical one, as in 0.2.0, until the halving of older
//!   discoveries lets the new squares speak.

use std::collections::BTreeMap;

use serde::Deserialize;
use ueba_sdk::Symbols;
use ueba_sdk::novelty::{Discovery, FirstToday};
use ueba_sdk::table::Table;

use crate::share::{OtherPool, OtherResource, Others};
use crate::{
    Config, Held, KindClock, KindStats, Kinds, LateKinds, Managers, NovelTable, Novelty,
    PendingFirst, Pool, Resource, Touch, User, Waves,
};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, NovelTable)> {
    match version? {
        "0.2.0" => {
            let (symbols, v): (Symbols, NovelTableV02) = ueba_sdk::decode_state(state)?;
            Some((
                symbols,
                NovelTableV04::from(v).upgraded(|()| Table::default()),
            ))
        }
        "0.3.0" | "0.4.0" | "0.4.1" => {
            let (symbols, v): (Symbols, NovelTableV04) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.upgraded(|()| Table::default())))
        }
        "0.5.0" => {
            let (symbols, v): (Symbols, NovelTableV05) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.upgraded(|pending| pending)))
        }
        "0.6.0" => {
            let (symbols, v): (Symbols, NovelTableV06) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.upgraded(|pending| pending)))
        }
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename = "NovelTable")]
struct NovelTableV02 {
    config: Config,
    config_generation: u32,
    first_ms: Option<i64>,
    learning_rated: bool,
    user_ids: Vec<u32>,
    users: Table<UserV02>,
    resources: Table<Resource>,
    groups: Table<PoolV02>,
    org: PoolV02,
    kind_names: Vec<String>,
    kind_index: BTreeMap<String, u32>,
    clocks: Vec<KindClock>,
    others: OthersV02,
}

#[derive(Deserialize)]
#[serde(rename = "KindStats")]
struct KindStatsV02 {
    kind: u32,
    discovery: Discovery,
    owned: Discovery,
    users: u32,
}

impl From<KindStatsV02> for KindStats {
    fn from(k: KindStatsV02) -> KindStats {
        KindStats {
            kind: k.kind,
            discovery: k.discovery,
            owned: k.owned,
            dead: Discovery::default(),
            log_rarity_sq: 0.0,
            users: k.users,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "Kinds")]
struct KindsV02 {
    per_kind: Vec<KindStatsV02>,
    new_kind: Discovery,
}

impl From<KindsV02> for Kinds {
    fn from(k: KindsV02) -> Kinds {
        Kinds {
            per_kind: k.per_kind.into_iter().map(KindStats::from).collect(),
            new_kind: k.new_kind,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "Pool")]
struct PoolV02 {
    members: u32,
    kinds: KindsV02,
}

impl From<PoolV02> for Pool {
    fn from(p: PoolV02) -> Pool {
        Pool {
            members: p.members,
            kinds: p.kinds.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "OtherPool")]
struct OtherPoolV02 {
    members: u32,
    kinds: BTreeMap<String, KindStatsV02>,
    new_kind: Option<Discovery>,
}

impl From<OtherPoolV02> for OtherPool {
    fn from(p: OtherPoolV02) -> OtherPool {
        OtherPool {
            members: p.members,
            kinds: p
                .kinds
                .into_iter()
                .map(|(name, k)| (name, k.into()))
                .collect(),
            new_kind: p.new_kind,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "Others")]
struct OthersV02 {
    org: OtherPoolV02,
    groups: BTreeMap<u32, OtherPoolV02>,
    resources: Table<OtherResource>,
    clocks: BTreeMap<String, KindClock>,
}

impl From<OthersV02> for Others {
    fn from(o: OthersV02) -> Others {
        Others {
            org: o.org.into(),
            groups: o.groups.into_iter().map(|(g, p)| (g, p.into())).collect(),
            resources: o.resources,
            clocks: o.clocks,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "User")]
struct UserV02 {
    group: Option<u32>,
    touched: Vec<Touch>,
    last_day: i64,
    active_days: u32,
    kinds: KindsV02,
    held: Vec<HeldV02>,
    unlearned: FirstToday<u32>,
    dead_day: i64,
    dead: Vec<(u32, u8)>,
    session: Vec<Novelty>,
}

#[derive(Deserialize)]
#[serde(rename = "Held")]
struct HeldV02 {
    kind: u32,
    new_kind: bool,
    rarity: f64,
    owned: Option<f64>,
}

impl From<NovelTableV02> for NovelTableV04 {
    fn from(v: NovelTableV02) -> NovelTableV04 {
        NovelTableV04 {
            config: v.config,
            config_generation: v.config_generation,
            first_ms: v.first_ms,
            learning_rated: v.learning_rated,
            user_ids: v.user_ids,
            users: v.users.map(|u| User {
                group: u.group,
                touched: u.touched,
                last_day: u.last_day,
                active_days: u.active_days,
                kinds: u.kinds.into(),
                held: u
                    .held
                    .into_iter()
                    .map(|h| Held {
                        kind: h.kind,
                        new_kind: h.new_kind,
                        rarity: h.rarity,
                        owned: h.owned,
                        dead: None,
                    })
                    .collect(),
                unlearned: u.unlearned,
                dead_day: u.dead_day,
                dead: u.dead,
                session: u.session,
            }),
            resources: v.resources,
            groups: v.groups.map(Pool::from),
            org: v.org.into(),
            kind_names: v.kind_names,
            kind_index: v.kind_index,
            clocks: v.clocks,
            others: v.others.into(),
            pending: (),
            managers: (),
            waves: (),
        }
    }
}

/// novel-table as 0.3.0 to 0.6.0 wrote it: this version's layout without
/// the counts of settled users' new kinds. `M` and `W` are the counts of
/// days on managers' resources and the peer groups taking resources up,
/// and `P` the first accesses held users keep to learn; a version that
/// did not have them has `()`, which postcard writes as nothing.
#[derive(Deserialize)]
#[serde(rename = "NovelTable")]
struct NovelTableBefore<P = Table<Vec<PendingFirst>>, M = (), W = ()> {
    config: Config,
    config_generation: u32,
    first_ms: Option<i64>,
    learning_rated: bool,
    user_ids: Vec<u32>,
    users: Table<User>,
    resources: Table<Resource>,
    groups: Table<Pool>,
    org: Pool,
    kind_names: Vec<String>,
    kind_index: BTreeMap<String, u32>,
    clocks: Vec<KindClock>,
    others: Others,
    pending: P,
    managers: M,
    waves: W,
}

/// novel-table as 0.3.0 to 0.4.1 wrote it: no first accesses kept by held
/// users.
type NovelTableV04 = NovelTableBefore<(), (), ()>;
/// As 0.5.0 wrote it: no managers' resources nor teams taking them up.
type NovelTableV05 = NovelTableBefore;
/// As 0.6.0 wrote it.
type NovelTableV06 = NovelTableBefore<Table<Vec<PendingFirst>>, Managers, Waves>;

impl From<()> for Managers {
    fn from((): ()) -> Managers {
        Managers::default()
    }
}

impl From<()> for Waves {
    fn from((): ()) -> Waves {
        Waves::default()
    }
}

impl<P, M: Into<Managers>, W: Into<Waves>> NovelTableBefore<P, M, W> {
    /// This version's state, with the kept first accesses `pending` makes
    /// of the layout's and none of the newer figures.
    fn upgraded(self, pending: impl FnOnce(P) -> Table<Vec<PendingFirst>>) -> NovelTable {
        NovelTable {
            config: self.config,
            config_generation: self.config_generation,
            first_ms: self.first_ms,
            learning_rated: self.learning_rated,
            user_ids: self.user_ids,
            users: self.users,
            resources: self.resources,
            groups: self.groups,
            org: self.org,
            kind_names: self.kind_names,
            kind_index: self.kind_index,
            clocks: self.clocks,
            others: self.others,
            pending: pending(self.pending),
            managers: self.managers.into(),
            waves: self.waves.into(),
            late_kinds: LateKinds::default(),
        }
    }
}
