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

use serde::Deserialize;
use ueba_sdk::Symbols;
use ueba_sdk::table::Table;

use crate::{Absorbed, Config, Night, OffHours, Profile, Session, User};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, OffHours)> {
    match version? {
        "0.1.0" => {
            let (symbols, v): (Symbols, OffHoursBefore<ConfigV01, ()>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        "0.2.0" | "0.2.1" => {
            let (symbols, v): (Symbols, OffHoursBefore<Config, Vec<Night>>) =
                ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        _ => None,
    }
}

/// The detector as 0.1 and 0.2 wrote it: with its configuration of then
/// (`C`) and its users ([`UserBefore`]).
#[derive(Deserialize)]
#[serde(rename = "OffHours")]
struct OffHoursBefore<C, N> {
    config: C,
    first_ms: Option<i64>,
    users: Table<UserBefore<N>>,
    groups: Table<Profile>,
    org: Profile,
    absorbed: Absorbed,
}

impl<C: Into<Config>, N: Into<Nights>> From<OffHoursBefore<C, N>> for OffHours {
    fn from(v: OffHoursBefore<C, N>) -> OffHours {
        OffHours {
            config: v.config.into(),
            first_ms: v.first_ms,
            users: v.users.map(User::from),
            groups: v.groups,
            org: v.org,
            absorbed: v.absorbed,
        }
    }
}

/// A user as 0.1 and 0.2 wrote it: [`User`]'s serialised fields without
/// the held days kept aside, and in 0.1 without nights (`N` is `()`,
/// which postcard writes as nothing).
#[derive(Deserialize)]
#[serde(rename = "User")]
struct UserBefore<N> {
    group: Option<u32>,
    day: i64,
    pending: [u16; 24],
    closed_hours: u32,
    held: bool,
    closed_held: bool,
    profile: Profile,
    session: Option<Session>,
    nights: N,
}

/// A user's kept nights, as an earlier layout had them (none in 0.1).
struct Nights(Vec<Night>);

impl From<()> for Nights {
    fn from((): ()) -> Nights {
        Nights(Vec::new())
    }
}

impl From<Vec<Night>> for Nights {
    fn from(nights: Vec<Night>) -> Nights {
        Nights(nights)
    }
}

impl<N: Into<Nights>> From<UserBefore<N>> for User {
    fn from(u: UserBefore<N>) -> User {
        User {
            group: u.group,
            day: u.day,
            pending: u.pending,
            closed_hours: u.closed_hours,
            held: u.held,
            closed_held: u.closed_held,
            profile: u.profile,
            session: u.session,
            nights: u.nights.into().0,
            held_days: Vec::new(),
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
