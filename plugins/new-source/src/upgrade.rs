//! Snapshots of earlier versions, carried over ([`ueba_sdk::Detector::upgrade`]).
//!
//! The snapshot is the postcard encoding of the detector's fields in
//! order, so a layout change makes an earlier snapshot unreadable as it
//! is. Each earlier layout still worth reading is described here and
//! converted: an upgrade of ueba keeps who used which network instead of
//! relearning them.
//!
//! - 0.3.0 and 0.3.1: no uses kept by held users (`NewSource::pending`).
//!   They carry over with none: a user held at the upgrade learns the new
//!   networks and places they use from then on, and those before stay new
//!   to them, as 0.3 had it.

use std::collections::BTreeMap;

use serde::Deserialize;
use ueba_sdk::Symbols;
use ueba_sdk::novelty::Discovery;
use ueba_sdk::table::Table;

use crate::net::Net;
use crate::share::Others;
use crate::{Block, Config, NewSource, Subnet, User};

/// The state `version` wrote, as this version's, if its layout is one of
/// those above.
pub(crate) fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, NewSource)> {
    match version? {
        "0.3.0" | "0.3.1" => {
            let (symbols, v): (Symbols, NewSourceV03) = ueba_sdk::decode_state(state)?;
            Some((symbols, v.into()))
        }
        _ => None,
    }
}

/// new-source as 0.3 wrote it: this version's layout without the uses
/// held users keep.
#[derive(Deserialize)]
#[serde(rename = "NewSource")]
struct NewSourceV03 {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    sources: Table<u32>,
    subnet_index: BTreeMap<Net, u32>,
    subnets: Vec<Subnet>,
    block_index: BTreeMap<Net, u32>,
    blocks: Vec<Block>,
    groups: Table<u32>,
    org_users: u32,
    group_discovery: Table<Discovery>,
    org_discovery: Discovery,
    group_places: Table<Discovery>,
    org_places: Discovery,
    others: Others,
}

impl From<NewSourceV03> for NewSource {
    fn from(v: NewSourceV03) -> NewSource {
        NewSource {
            config: v.config,
            first_ms: v.first_ms,
            users: v.users,
            sources: v.sources,
            subnet_index: v.subnet_index,
            subnets: v.subnets,
            block_index: v.block_index,
            blocks: v.blocks,
            groups: v.groups,
            org_users: v.org_users,
            group_discovery: v.group_discovery,
            org_discovery: v.org_discovery,
            group_places: v.group_places,
            org_places: v.org_places,
            others: v.others,
            pending: Table::default(),
        }
    }
}
