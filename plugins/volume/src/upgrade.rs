//! Snapshots of earlier versions, carried over ([`ueba_sdk::Detector::upgrade`]).
//!
//! The snapshot is the postcard encoding of the detector's fields in
//! order, so a layout change makes an earlier snapshot unreadable as it
//! is. Each earlier layout still worth reading is described here by the
//! types that changed, and converted: an upgrade of ueba keeps what volume
//! learned instead of relearning every baseline.
//!
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
use crate::model::{Fit, Ring};
use crate::rate::{Dispersions, RecentDaysV03};
use crate::{Config, Pair, PairState, Pool, User, Volume};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Volume)> {
    match version? {
        "0.3.0" | "0.3.1" => {
            let (symbols, v): (Symbols, VolumeBefore<UserV03>) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.4.0" | "0.4.1" => {
            let (symbols, v): (Symbols, VolumeBefore<User>) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        _ => None,
    }
}

/// Volume as 0.3 and 0.4 wrote it, before the usual reads of resources,
/// with its users as that version wrote them (`U`: [`UserV03`] for 0.3,
/// [`User`] for 0.4).
#[derive(Deserialize)]
#[serde(rename = "Volume")]
struct VolumeBefore<U> {
    config: Config,
    first_ms: Option<i64>,
    users: Table<U>,
    groups: Table<Pool>,
    org: Pool,
    dispersion: Dispersions,
}

impl<U: Into<User>> From<VolumeBefore<U>> for Volume {
    fn from(v: VolumeBefore<U>) -> Volume {
        Volume {
            config: v.config,
            first_ms: v.first_ms,
            users: v.users.map(Into::into),
            groups: v.groups,
            org: v.org,
            dispersion: v.dispersion,
            ..Volume::default()
        }
    }
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

/// A user as 0.3 wrote it: [`User`]'s serialised fields without
/// `held_run`.
#[derive(Deserialize)]
#[serde(rename = "User")]
struct UserV03 {
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
    day_fit: Option<Fit>,
    hour_fit: Option<Fit>,
    pairs: Vec<PairV03>,
    slow_day: Slow,
    slow_day_reported: u8,
}

impl From<UserV03> for User {
    fn from(u: UserV03) -> User {
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
            day_fit: u.day_fit,
            hour_fit: u.hour_fit,
            pairs: u.pairs.into_iter().map(|p| p.0).collect(),
            slow_day: u.slow_day,
            slow_day_reported: u.slow_day_reported,
            ..User::default()
        }
    }
}
