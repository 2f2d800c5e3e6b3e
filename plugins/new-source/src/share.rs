//! What one instance tells the other shards' instances of the same
//! detector, and the sum of what they told it (see the crate docs,
//! "Sharing with other shards").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::novelty::Discovery;

use crate::net::Net;
use crate::{POOL_RECENT_ACCESSES, RECENT_DISCOVERIES, Usage};

/// One instance's population figures, learned from its own users only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Share {
    /// Users seen.
    pub org_users: u32,
    /// The organisation's pooled discovery counts.
    pub org_discovery: Discovery,
    /// (peer group, current members, pooled discovery counts if any).
    pub groups: Vec<(u32, u32, Option<Discovery>)>,
    /// Subnets someone has used, and who.
    pub subnets: Vec<(Net, Usage)>,
    /// Blocks someone has used, and who.
    pub blocks: Vec<(Net, Usage)>,
    /// The organisation's pooled place discovery counts.
    pub org_places: Discovery,
    /// (peer group, pooled place discovery counts).
    pub group_places: Vec<(u32, Discovery)>,
}

/// The sum of the other instances' latest shares; part of the snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Others {
    /// Users of the other instances.
    pub org_users: u32,
    /// Their organisation's pooled discovery counts; `None` before any share.
    pub org_discovery: Option<Discovery>,
    /// Per peer group: members, and pooled discovery counts when any share
    /// had some.
    pub groups: BTreeMap<u32, (u32, Option<Discovery>)>,
    /// Who has used each subnet, by its network.
    pub subnets: BTreeMap<Net, Usage>,
    /// Who has used each block, by its network.
    pub blocks: BTreeMap<Net, Usage>,
    /// Their organisation's pooled place discovery counts; `None` before
    /// any share.
    pub org_places: Option<Discovery>,
    /// Per peer group, pooled place discovery counts.
    pub group_places: BTreeMap<u32, Discovery>,
}

impl Others {
    /// The sum of `shares`, or why one of them cannot be a share.
    pub fn sum(shares: &[Share]) -> Result<Others, String> {
        let mut sum = Others::default();
        for (i, s) in shares.iter().enumerate() {
            let bad = |what: &str| format!("population share {i}: {what}");
            if !plausible(&s.org_discovery) {
                return Err(bad("the organisation's discovery counts are not counts"));
            }
            sum.org_users = sum.org_users.saturating_add(s.org_users);
            add_discovery(&mut sum.org_discovery, &s.org_discovery);
            for (g, members, discovery) in &s.groups {
                let entry = sum.groups.entry(*g).or_default();
                entry.0 = entry.0.saturating_add(*members);
                if let Some(d) = discovery {
                    if !plausible(d) {
                        return Err(bad("a peer group's discovery counts are not counts"));
                    }
                    add_discovery(&mut entry.1, d);
                }
            }
            for (net, usage) in &s.subnets {
                sum.subnets.entry(*net).or_default().merge(usage);
            }
            for (net, usage) in &s.blocks {
                sum.blocks.entry(*net).or_default().merge(usage);
            }
            if !plausible(&s.org_places) {
                return Err(bad("the organisation's place counts are not counts"));
            }
            add_discovery(&mut sum.org_places, &s.org_places);
            for (g, d) in &s.group_places {
                if !plausible(d) {
                    return Err(bad("a peer group's place counts are not counts"));
                }
                sum.group_places.entry(*g).or_default().merge(d);
            }
        }
        Ok(sum)
    }
}

/// Whether decoded discovery counts could have been counted: finite, not
/// negative, and rarities at most 1 (their logarithms at most 0).
fn plausible(d: &Discovery) -> bool {
    [d.accesses, d.firsts, d.rated, -d.log_rarity]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0)
}

fn add_discovery(sum: &mut Option<Discovery>, d: &Discovery) {
    sum.get_or_insert_with(Discovery::default).merge(d);
}

/// A pool's discovery counts: this instance's (`own`) plus the other
/// instances' (`others`). Each instance halves its counts past the pool's
/// window, so the sum is halved (accesses with first accesses, rated
/// discoveries with their rarities) until it is within the window again, as
/// heavy as one instance's would be. Without the others it is `own` as it
/// is; `None` when neither has counts.
pub(crate) fn pooled(own: Option<&Discovery>, others: Option<&Discovery>) -> Option<Discovery> {
    let Some(others) = others else {
        return own.copied();
    };
    Some(own.copied().unwrap_or_default().pooled_with(
        others,
        POOL_RECENT_ACCESSES,
        4.0 * RECENT_DISCOVERIES,
    ))
}
