//! Snapshots of earlier versions, carried over ([`ueba_sdk::Detector::upgrade`]).
//!
//! The snapshot is the postcard encoding of the detector's fields in
//! order, so a layout change makes an earlier snapshot unreadable as it
//! is. Each earlier layout still worth reading is described here by the
//! types that changed, and converted: an upgrade of ueba keeps the hour
//! profiles off-hours learned instead of relearning them.
//!
//! - 0.1.0: the configuration had no `repeat_days` and a user no kept
//!   nights. They carry over with none kept: which nights 0.1.0 would
//!   have kept is not known, and a night only counts with others within
//!   `repeat_days` anyway. The configuration is the running instance's
//!   (the runtime configures a restored state again).
//! - 0.2.0 and 0.2.1: a user kept no held days aside. Days held then were
//!   never to be learned, so they carry over with none kept.
//! - 0.1.0 to 0.3.0: a profile counted no closed days nor how far off
//!   their own hours they went, and a user kept no peak of the pending
//!   day. They carry over with none counted: how routine a group's far
//!   off-hours days are is then learned from the upgrade on, and until its
//!   members have days counted a group is taken as the organisation is.
//! - 0.4.0 and 0.4.1: no members at work per peer group and hour of the
//!   latest days (`crate::Teams`). They carry over with none: a team's day
//!   under way at the upgrade counts its members from their next hour at
//!   work.

use std::collections::BTreeMap;

use serde::Deserialize;
use ueba_sdk::Symbols;
use ueba_sdk::table::Table;

use crate::{
    Absorbed, Config, HeldDay, NOT_SCORED, Night, OffHours, Profile, Session, Teams, User,
};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, OffHours)> {
    match version? {
        "0.1.0" => {
            let (symbols, v): (Symbols, OffHoursBefore<ConfigV01, (), ()>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.2.0" | "0.2.1" => {
            let (symbols, v): (Symbols, OffHoursBefore<Config, Vec<Night>, ()>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.3.0" => {
            let (symbols, v): (Symbols, OffHoursBefore<Config, Vec<Night>, Vec<HeldDay>>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.4.0" | "0.4.1" => {
            let (symbols, v): (Symbols, OffHoursV04) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        _ => None,
    }
}

/// The detector as 0.1 to 0.3 wrote it: with its configuration of then
/// (`C`), its users ([`UserBefore`]) and its profiles ([`ProfileBefore`]).
#[derive(Deserialize)]
#[serde(rename = "OffHours")]
struct OffHoursBefore<C, N, H> {
    config: C,
    first_ms: Option<i64>,
    users: Table<UserBefore<N, H>>,
    groups: Table<ProfileBefore>,
    org: ProfileBefore,
    absorbed: AbsorbedBefore,
}

impl<C: Into<Config>, N: Into<Kept<Night>>, H: Into<Kept<HeldDay>>> From<OffHoursBefore<C, N, H>>
    for OffHours
{
    fn from(v: OffHoursBefore<C, N, H>) -> OffHours {
        OffHours {
            config: v.config.into(),
            first_ms: v.first_ms,
            users: v.users.map(User::from),
            groups: v.groups.map(Profile::from),
            org: v.org.into(),
            absorbed: Absorbed {
                org: v.absorbed.org.into(),
                groups: v
                    .absorbed
                    .groups
                    .into_iter()
                    .map(|(g, p)| (g, p.into()))
                    .collect(),
            },
            teams: Teams::default(),
        }
    }
}

/// The detector as 0.4 wrote it: this version's fields without the
/// members at work per peer group.
#[derive(Deserialize)]
#[serde(rename = "OffHours")]
struct OffHoursV04 {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    groups: Table<Profile>,
    org: Profile,
    absorbed: Absorbed,
}

impl From<OffHoursV04> for OffHours {
    fn from(v: OffHoursV04) -> OffHours {
        OffHours {
            config: v.config,
            first_ms: v.first_ms,
            users: v.users,
            groups: v.groups,
            org: v.org,
            absorbed: v.absorbed,
            teams: Teams::default(),
        }
    }
}

/// A profile as 0.1 to 0.3 wrote it: [`Profile`]'s fields without the
/// closed days and how far off they went.
#[derive(Deserialize)]
#[serde(rename = "Profile")]
struct ProfileBefore {
    counts: [[u64; 24]; 2],
    present: [[u32; 24]; 2],
    days: [u64; 2],
    filled: [[u32; 24]; 2],
}

impl From<ProfileBefore> for Profile {
    fn from(p: ProfileBefore) -> Profile {
        Profile {
            counts: p.counts,
            present: p.present,
            days: p.days,
            filled: p.filled,
            ..Profile::default()
        }
    }
}

/// The other instances' shares as 0.1 to 0.3 kept them.
#[derive(Deserialize)]
#[serde(rename = "Absorbed")]
struct AbsorbedBefore {
    org: ProfileBefore,
    groups: BTreeMap<u32, ProfileBefore>,
}

/// A user as 0.1 to 0.3 wrote it: [`User`]'s serialised fields without
/// the pending day's peak, in 0.1 and 0.2 without the held days kept
/// aside (`H` is `()`, which postcard writes as nothing), and in 0.1
/// without nights (`N` is `()`).
#[derive(Deserialize)]
#[serde(rename = "User")]
struct UserBefore<N, H> {
    group: Option<u32>,
    day: i64,
    pending: [u16; 24],
    closed_hours: u32,
    held: bool,
    closed_held: bool,
    profile: ProfileBefore,
    session: Option<Session>,
    nights: N,
    held_days: H,
}

/// A list a user keeps (nights, held days), as an earlier layout had it:
/// `()` where that layout had none, which postcard writes as nothing.
struct Kept<T>(Vec<T>);

impl<T> From<()> for Kept<T> {
    fn from((): ()) -> Kept<T> {
        Kept(Vec::new())
    }
}

impl<T> From<Vec<T>> for Kept<T> {
    fn from(items: Vec<T>) -> Kept<T> {
        Kept(items)
    }
}

impl<N: Into<Kept<Night>>, H: Into<Kept<HeldDay>>> From<UserBefore<N, H>> for User {
    fn from(u: UserBefore<N, H>) -> User {
        User {
            group: u.group,
            day: u.day,
            pending: u.pending,
            closed_hours: u.closed_hours,
            held: u.held,
            closed_held: u.closed_held,
            peak: NOT_SCORED,
            profile: u.profile.into(),
            session: u.session,
            nights: u.nights.into().0,
            held_days: u.held_days.into().0,
        }
    }
}

/// 0.1.0's settings (the runtime then configures the state as the running
/// instance is).
#[derive(Deserialize)]
#[serde(rename = "Config")]
struct ConfigV01 {
    learning_days: u32,
    min_score: f32,
    prior_days: f64,
    off_share: f64,
    session_gap_hours: u32,
    dispersion: f64,
    unused_hour_mean: f64,
}

impl From<ConfigV01> for Config {
    fn from(c: ConfigV01) -> Config {
        Config {
            learning_days: c.learning_days,
            min_score: c.min_score,
            prior_days: c.prior_days,
            off_share: c.off_share,
            session_gap_hours: c.session_gap_hours,
            dispersion: c.dispersion,
            unused_hour_mean: c.unused_hour_mean,
            ..Config::default()
        }
    }
}
