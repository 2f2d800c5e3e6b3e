//! Snapshots of earlier versions, carried over ([`ueba_sdk::Detector::upgrade`]).
//!
//! The snapshot is the postcard encoding of the detector's fields in
//! order, so a layout change makes an earlier snapshot unreadable as it
//! is. Each earlier layout still worth reading is described here by the
//! types that changed, and converted: an upgrade of ueba keeps what volume
//! learned instead of relearning every baseline.
//!
//! - 0.8.0: no read ratios of the organisation ([`crate::outsize`]).
//!   They carry over with none: until [`crate::outsize::MIN_READS`]
//!   learned reads are as outsized as a bucket's read, its tail stands as
//!   0.8 judged it.
//! - 0.7.0: no held days kept aside ([`crate::held`]). They carry over
//!   with none: what 0.7 dropped is not known, and a user held at the
//!   upgrade learns from the next held day on.
//! - 0.6.0: no spreads of the pools (`crate::spread`). They carry over
//!   with none: until the pools' members add [`crate::POOL_MIN`] buckets
//!   to them, a member is shrunk towards their pool as 0.6 shrank them.
//!   So do the earlier layouts below, which held the same pools.
//! - 0.5.0: no kinds of resources ([`crate::kinds`]): no `kinds`
//!   setting, no kinds of resources, and no users' days on them. They
//!   carry over with none: each kind's rest learns again from the next
//!   learned days, and until it has its days a pair's counts are judged
//!   as 0.5 judged them.
//! - 0.4.0 and 0.4.1: no usual reads of resources ([`crate::reads`]).
//!   They carry over with none: the hour and day baselines learned in
//!   rows meet read units as the usual reads are learned again, which
//!   only lowers the totals they judge.
//! - 0.3.0 and 0.3.1: a pair's recent days had no held days
//!   ([`crate::rate::RecentDaysV03`]) and a user no `held_run`. They carry
//!   over with no held days: what the earlier version dropped is not
//!   known, and the next learned day would have ended the run anyway.

use serde::Deserialize;
use ueba_sdk::Symbols;
use ueba_sdk::table::Table;

use crate::counts::Slow;
use crate::held::Held;
use crate::kinds::Kinds;
use crate::model::{Fit, Ring};
use crate::rate::{Dispersions, RecentDaysV03};
use crate::reads::ReadSizes;
use crate::{Config, Pair, PairState, Pool, PoolValues, User, Volume};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Volume)> {
    match version? {
        "0.3.0" | "0.3.1" => {
            let (symbols, v): (Symbols, VolumeBefore<UserBefore<PairV03, ()>>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.4.0" | "0.4.1" => {
            let (symbols, v): (Symbols, VolumeBefore<UserBefore>) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.5.0" => {
            let (symbols, v): (Symbols, VolumeBefore<UserBefore, ReadSizes>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.6.0" => {
            let (symbols, v): (Symbols, VolumeV06) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.7.0" => {
            let (symbols, v): (Symbols, VolumeV08<()>) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.8.0" => {
            let (symbols, v): (Symbols, VolumeV08) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        _ => None,
    }
}

/// Volume as 0.3 to 0.5 wrote it, before kinds of resources, with its
/// users as that version wrote them (`U`) and, from 0.5, the usual reads
/// of resources (`R`: `()` before, which postcard writes as nothing).
#[derive(Deserialize)]
#[serde(rename = "Volume")]
struct VolumeBefore<U, R = ()> {
    config: ConfigV05,
    first_ms: Option<i64>,
    users: Table<U>,
    groups: Table<PoolValues>,
    org: PoolValues,
    dispersion: Dispersions,
    reads: R,
}

/// Volume as 0.7 and 0.8 wrote it: this version's layout without the
/// log's read ratios, and in 0.7 without held days kept aside (`H`: `()`,
/// which postcard writes as nothing).
#[derive(Deserialize)]
#[serde(rename = "Volume")]
struct VolumeV08<H = Table<Held>> {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    groups: Table<Pool>,
    org: Pool,
    dispersion: Dispersions,
    reads: ReadSizes,
    kinds: Kinds,
    held: H,
}

impl<H: Into<Carried<Table<Held>>>> From<VolumeV08<H>> for Volume {
    fn from(v: VolumeV08<H>) -> Volume {
        Volume {
            config: v.config,
            first_ms: v.first_ms,
            users: v.users,
            groups: v.groups,
            org: v.org,
            dispersion: v.dispersion,
            reads: v.reads,
            kinds: v.kinds,
            held: v.held.into().0,
            ..Volume::default()
        }
    }
}

/// Volume as 0.6 wrote it: 0.7's layout with pools without
/// spreads.
#[derive(Deserialize)]
#[serde(rename = "Volume")]
struct VolumeV06 {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    groups: Table<PoolValues>,
    org: PoolValues,
    dispersion: Dispersions,
    reads: ReadSizes,
    kinds: Kinds,
}

impl From<VolumeV06> for Volume {
    fn from(v: VolumeV06) -> Volume {
        Volume {
            config: v.config,
            first_ms: v.first_ms,
            users: v.users,
            groups: v.groups.map(Into::into),
            org: v.org.into(),
            dispersion: v.dispersion,
            reads: v.reads,
            kinds: v.kinds,
            ..Volume::default()
        }
    }
}

impl<U: Into<User>, R: Into<Carried<ReadSizes>>> From<VolumeBefore<U, R>> for Volume {
    fn from(v: VolumeBefore<U, R>) -> Volume {
        let c = v.config;
        Volume {
            config: Config {
                learning_days: c.learning_days,
                min_score: c.min_score,
                prior_weight: c.prior_weight,
                ignore_actions: c.ignore_actions,
                ..Config::default()
            },
            first_ms: v.first_ms,
            users: v.users.map(Into::into),
            groups: v.groups.map(Into::into),
            org: v.org.into(),
            dispersion: v.dispersion,
            reads: v.reads.into().0,
            ..Volume::default()
        }
    }
}

/// A value an earlier layout may not have had: `()` there (nothing in
/// postcard), which carries over as the default.
struct Carried<T>(T);

impl<T: Default> From<()> for Carried<T> {
    fn from((): ()) -> Carried<T> {
        Carried(T::default())
    }
}

impl From<Table<Held>> for Carried<Table<Held>> {
    fn from(held: Table<Held>) -> Carried<Table<Held>> {
        Carried(held)
    }
}

impl From<ReadSizes> for Carried<ReadSizes> {
    fn from(reads: ReadSizes) -> Carried<ReadSizes> {
        Carried(reads)
    }
}

impl From<u32> for Carried<u32> {
    fn from(n: u32) -> Carried<u32> {
        Carried(n)
    }
}

/// The settings as 0.5 and earlier wrote them: no `kinds`.
#[derive(Deserialize)]
#[serde(rename = "Config")]
struct ConfigV05 {
    learning_days: u32,
    min_score: f32,
    prior_weight: f64,
    ignore_actions: Vec<String>,
}

/// A pair as 0.3 wrote it.
#[derive(Deserialize)]
#[serde(from = "PairState<RecentDaysV03>")]
struct PairV03(Pair);

impl From<PairState<RecentDaysV03>> for PairV03 {
    fn from(p: PairState<RecentDaysV03>) -> PairV03 {
        PairV03(Pair::from(p))
    }
}

impl From<PairV03> for Pair {
    fn from(p: PairV03) -> Pair {
        p.0
    }
}

/// A user as 0.3 to 0.5 wrote it: [`User`]'s serialised fields without
/// their days on kinds of resources, with pairs as that version wrote
/// them (`P`) and, from 0.4, `held_run` (`H`: `()` in 0.3).
#[derive(Deserialize)]
#[serde(rename = "User")]
struct UserBefore<P = Pair, H = u32> {
    group: Option<u32>,
    day: i64,
    held: bool,
    hours: [u64; 24],
    day_total: u64,
    hour_reported: [u8; 24],
    day_reported: u8,
    today_max_reported: u8,
    day_hist: Ring,
    hour_hist: Ring,
    days_seen: u32,
    hours_seen: u32,
    learned_days: u32,
    held_run: H,
    day_fit: Option<Fit>,
    hour_fit: Option<Fit>,
    pairs: Vec<P>,
    slow_day: Slow,
    slow_day_reported: u8,
}

impl<P: Into<Pair>, H: Into<Carried<u32>>> From<UserBefore<P, H>> for User {
    fn from(u: UserBefore<P, H>) -> User {
        User {
            group: u.group,
            day: u.day,
            held: u.held,
            hours: u.hours,
            day_total: u.day_total,
            hour_reported: u.hour_reported,
            day_reported: u.day_reported,
            today_max_reported: u.today_max_reported,
            day_hist: u.day_hist,
            hour_hist: u.hour_hist,
            days_seen: u.days_seen,
            hours_seen: u.hours_seen,
            learned_days: u.learned_days,
            held_run: u.held_run.into().0,
            day_fit: u.day_fit,
            hour_fit: u.hour_fit,
            pairs: u.pairs.into_iter().map(Into::into).collect(),
            slow_day: u.slow_day,
            slow_day_reported: u.slow_day_reported,
            ..User::default()
        }
    }
}
