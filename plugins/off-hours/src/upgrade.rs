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

use serde::Deserialize;
use ueba_sdk::Symbols;
use ueba_sdk::table::Table;

use crate::{Absorbed, Config, OffHours, Profile, Session, User};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, OffHours)> {
    match version? {
        "0.1.0" => {
            let (symbols, v): (Symbols, OffHoursV01) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename = "OffHours")]
struct OffHoursV01 {
    config: ConfigV01,
    first_ms: Option<i64>,
    users: Table<UserV01>,
    groups: Table<Profile>,
    org: Profile,
    absorbed: Absorbed,
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

#[derive(Deserialize)]
#[serde(rename = "User")]
struct UserV01 {
    group: Option<u32>,
    day: i64,
    pending: [u16; 24],
    closed_hours: u32,
    held: bool,
    closed_held: bool,
    profile: Profile,
    session: Option<Session>,
}

impl From<OffHoursV01> for OffHours {
    fn from(v: OffHoursV01) -> OffHours {
        OffHours {
            config: Config {
                learning_days: v.config.learning_days,
                min_score: v.config.min_score,
                prior_days: v.config.prior_days,
                off_share: v.config.off_share,
                session_gap_hours: v.config.session_gap_hours,
                dispersion: v.config.dispersion,
                unused_hour_mean: v.config.unused_hour_mean,
                ..Config::default()
            },
            first_ms: v.first_ms,
            users: v.users.map(|u| User {
                group: u.group,
                day: u.day,
                pending: u.pending,
                closed_hours: u.closed_hours,
                held: u.held,
                closed_held: u.closed_held,
                profile: u.profile,
                session: u.session,
                nights: Vec::new(),
            }),
            groups: v.groups,
            org: v.org,
            absorbed: v.absorbed,
        }
    }
}
