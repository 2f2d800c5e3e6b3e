//! `new-source`: flags the first time a user acts from a network that they
//! and their peer group have never used, and the first time they use a
//! resource from a network they never used it from.
//!
//! Stolen credentials are used from somewhere else: a home connection, a
//! cloud host, another office. People do change networks (a VPN from home,
//! a DHCP lease in another subnet, a visit to another site), so a new
//! network alone is weak evidence; it grows when the user hardly ever shows
//! up from anywhere new, and when nobody in their team has used the network
//! or even the block around it.
//!
//! # Networks
//!
//! A source that parses as an IP address (bare, `addr:port`, `[v6]:port`;
//! IPv4-mapped IPv6 counts as IPv4) is keyed by its *subnet*, `/24` for IPv4
//! and `/64` for IPv6 (`ipv4_prefix`, `ipv6_prefix`), and sits in a wider
//! *block*, `/16` and `/48` (`ipv4_block_prefix`, `ipv6_block_prefix`): an
//! office, a VPN pool, a DHCP scope. Any other source (a host name) is one
//! network on its own, as the whole string, and is its own block.
//!
//! # Model
//!
//! Habits are counted in *accesses*, one per (user, subnet, local day), from
//! the user's second active day on, through the learning periods too, and
//! halved past [`RECENT_ACCESSES`] so they follow recent habits. On a user's
//! first event from a subnet (after the learning periods):
//!
//! * `rate = (firsts + m · rate_pool) / (accesses + m)`: the Good–Turing
//!   chance that this user's next access is from a network new to them, the
//!   share of their recent accesses that were first uses, shrunk towards
//!   their peer group's (`rate_pool = (firsts + ½) / (accesses + 1)` over
//!   all members; the organisation's when the user has no group or is alone
//!   in it), worth `m = prior_accesses` accesses. A user whose address
//!   churns, or an administrator who logs on from a new machine every day,
//!   has a high rate; someone who always works from one desk a low one;
//! * `rarity = (S + w · (B − S) + α) / (n + 1)`, where `n` is the number of
//!   other members of the user's peer group, `S` how many of them have used
//!   the subnet, `B` how many have used its block, `w` is `block_weight`
//!   (0.5) and `α` is `pseudocount` (0.2). A subnet the team uses is barely
//!   new; one in a block the team uses (the next VPN range) counts half; one
//!   from a block nobody in the team has been in is as rare as `α` makes it.
//!   Users with no peer group (or a group of one) are compared with the whole
//!   organisation the same way;
//! * `relative = min(1, rarity / typical)`, where `typical` is the geometric
//!   mean rarity of the user's recent first uses (from their second active
//!   day), shrunk towards their pool's (worth five; 1 when there are none):
//!   a network is rare only against what this user usually discovers.
//!
//! `p = rate · relative` and the score is `score_from_p(p)`. With a month of
//! history and teams of 20–70 where a sixth use ranges of a VPN pool: the
//! first use of a range of that pool scores about 15–25 (dropped by
//! `min_score`), a subnet from a block the team never used 30–40. That is
//! corroborating evidence by design: one new network does not alert on its
//! own, but it adds to a bulk read or a night session.
//!
//! # Habitual places
//!
//! Most people use a resource from where they always use it: removable
//! media on their own machine, the customer table from their desk. Using a
//! resource they know from a network they never used it from (a drive on
//! someone else's machine, the customer table from a new host) is evidence
//! of its own, even when the network itself is not new to them or is
//! unremarkable for someone who moves around (an administrator logs on to
//! a new machine every day, but plugs their drive into their own).
//!
//! Per user and resource the detector keeps the subnets it was used from
//! (at most `PLACES_PER_RESOURCE`, four; a resource used from more
//! has no habitual place and is no longer judged). *Place accesses* are
//! counted like network accesses, one per (user, resource, subnet, local
//! day), for resources the user already knew and from their second active
//! day on; a first use of a resource is not one (whether it is new is
//! `novel-table`'s to judge). On a known resource's first use from a
//! subnet, after the learning periods, `p` is the Good–Turing chance that
//! the user's next access to a resource they know is from a new place,
//! `(firsts + m · rate_pool) / (accesses + m)` with the peer group's pooled
//! place counts as prior (`m = prior_accesses`), and the score is
//! `score_from_p(p)`, reported at `min_score` or more (evidence `kind`
//! `place`; network findings have `kind` `network`). A subnet's novelty is
//! reported once a day: when the network itself was reported as new to
//! the user that day, or a place on it already was, the known resources
//! first used from it that day restate the same fact (on a network new to
//! them every resource is used from a new place) and are counted as
//! reported without another finding. So a whole team arriving from a new
//! network gives each member one finding rather than one per table they
//! use there, while an administrator whose new machines are routine (no
//! network finding) is still judged by the drive they plug into one. A
//! reported new place
//! is held out of the user's counts until their day closes, and unlearned
//! events (below) are judged the same way, once a day per resource and
//! subnet, teaching nothing.
//!
//! # A source that is the resource
//!
//! A logon log names the machine logged on to as both the event's resource
//! and its source. Such a source says nothing of where the user came from:
//! its first use is the machine's first access, which `novel-table`
//! judges, and a network finding on it would count the same fact twice (on
//! logon and removable-media logs shaped like CERT r4.2's, that double
//! count was half the false alerts). So an event whose source's name is
//! its resource's gets no network finding; it is learned as usual (the
//! machine joins the user's networks), and the resources used from it are
//! judged as places as before, so a drive plugged into a colleague's
//! machine is still a new place for the drive.
//!
//! # Findings
//!
//! One per (user, subnet), on the first event from it (or, while the use is
//! not learned, on the first of each day: see below), and none during the
//! global learning period (`learning_days` of event time from the first
//! event seen) nor during the user's own first `user_learning_days` active
//! days; during both the detector only learns who uses which network.
//! Scores below `min_score` are dropped.
//!
//! # Events not to learn from
//!
//! An event with `learn` false (the host holds the user out of learning,
//! e.g. while their alert episode is open) is scored like any other but
//! teaches nothing, so an ongoing attack does not become the user's normal:
//! the subnet and block do not join the networks they have used, the use
//! counts towards no discovery rate (theirs or their pools'), the subnet
//! and block gain no user, in the organisation or the peer group, and the
//! user's peer group and active days stay as they were (an unlearned event
//! on a new day is scored as on that day, which is not added to their
//! history); a network nobody has used is not even interned. A repeat use
//! does nothing. Stolen credentials used from one new network after
//! another are thus judged on each against the habits from before the
//! episode. Since it stays new while the user is held, a subnet first used
//! in unlearned events is reported once per local day it is used; the
//! day's list of such subnets is dropped at the user's next learned event.
//! An unlearned event does not start the learning period, and a user the
//! detector has not learned is not scored (as during their first days).
//!
//! The host holds a user until their episode ends (their risk calms,
//! `risk.hold_days` pass, or an analyst judges it benign) and for good once
//! it is judged malicious, so a learned event after unlearned ones means
//! the episode ended without that verdict, and the networks the user
//! worked from while held were theirs after all (a move, a new VPN). So
//! the unlearned events that used a network or place new to the user (the
//! first [`PENDING_USES`] sources and resources) are kept, and learned at
//! the user's next learned event, before it is scored, in the order they
//! came, as learned first uses that were not reported. Without this, each
//! network was new again after the episode, and its first learned use
//! alerted again.
//!
//! # Time
//!
//! Active days are counted when the user's local day moves forward (or jumps
//! back by more than a day, so a far-future timestamp cannot stop the count
//! for good).
//!
//! # Memory
//!
//! Per user about 190 bytes (with their discovery and place counts and the
//! subnet reported today) plus 16 bytes per
//! subnet (its index and the day of the latest use) and 4 per block used,
//! at most `max_sources_per_user` subnets (default 256, about 5 KiB); further
//! new subnets of that user are neither tracked nor scored, since a user who
//! has used that many networks has no stable habit to depart from. Per
//! subnet and per block about 128 bytes (its entry and its index) plus 8
//! bytes per peer group that used it; per source string seen about 16 bytes
//! (its parsed network); per user whose events are not learned, 32 bytes
//! per subnet they first used that day, and 88 bytes per event of a new
//! network or place kept to learn (at most [`PENDING_USES`]) plus about 40
//! per user ever held; per peer group 28 bytes (members
//! and pooled discovery counts). Ids
//! at or above 2²⁰ are kept in a B-tree, so a huge id never allocates a
//! huge vector. Habitual places cost about 40 bytes per resource a user
//! has used (at most `max_resources_per_user`, default 256) plus 16 per
//! subnet it was used from, and 16 bytes per peer group for the pooled
//! place counts. The sum of the other shards' shares (below) costs about
//! 100 bytes per subnet and per block their users have used, plus 8 per
//! peer group that used it, and 40 bytes per peer group.
//!
//! # Sharing with other shards
//!
//! With `--shards N` each instance sees only its own users' events, so the
//! figures about other people (how many of the peer group or organisation
//! have used a subnet or its block, group sizes, pooled discovery rates)
//! would count only one shard's users. [`Detector::population`] shares, from
//! the instance's own users only: the organisation's user count and pooled
//! discovery and place counts, per peer group its pooled place counts; per peer group its current members and pooled
//! discovery counts; per subnet and per block someone has used, keyed by
//! its network (not by the instance's own index), its users and users per
//! peer group. That is about 8 bytes per IPv4 subnet or block (20 for IPv6)
//! plus 3 per peer group that used it, and about 20 bytes per peer group.
//!
//! [`Detector::absorb`] replaces the sum of the others' latest shares, kept
//! in the snapshot; scoring adds it to the instance's own figures. Counts
//! of users add up, since a user lives in exactly one shard. Pooled
//! discovery counts are decayed, each shard halving its own past the pool's
//! window; their sum is halved (accesses with first accesses, rated
//! discoveries with their rarities) until it is within the window again,
//! as heavy as one instance's counts would be, and the rates, which are
//! ratios, are the counts' pooled ratio. A peer group counts as a pool when
//! it has two members across all shards. Everything about a user (their
//! networks, discovery rate, active days) stays with their shard. The other
//! shards' figures are as of the last exchange, so a network another
//! shard's user took up since then is not yet counted here.
#![deny(missing_docs)]

pub mod net;
mod place;
mod share;
mod upgrade;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::novelty::{Discovery, FirstToday};
use ueba_sdk::table::Table;
use ueba_sdk::{
    ConfigError, ConfigKey, Detector, Event, Finding, Info, Symbols, config, score_from_p,
};

use net::{Net, Prefixes};
use place::{Places, Use};
use share::{Others, Share};

const NO_DAY: i64 = i64::MIN;
/// The block index of a subnet in a block nobody has used, which is not
/// interned (see [`NewSource::observe_unlearned`]).
const NO_BLOCK: u32 = u32::MAX;

/// Uses of new networks and places (by source and resource) a held user
/// keeps to learn once they are learned again; later ones stay new to
/// them.
pub const PENDING_USES: usize = 256;
/// Accesses (user × subnet × day) after which a user's discovery counts are
/// halved, so the rate follows their recent habits.
pub const RECENT_ACCESSES: f32 = 256.0;
/// The same for a pool (peer group or organisation).
const POOL_RECENT_ACCESSES: f32 = 8192.0;
/// Rated discoveries after which the typical rarity is halved.
const RECENT_DISCOVERIES: f32 = 64.0;
/// How many discoveries the pool's typical rarity is worth for a user.
const TYPICAL_PRIOR: f64 = 5.0;

/// The operator's settings; part of the snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Days of event time, from the first event seen, with no findings.
    pub learning_days: u32,
    /// A user's own first active days with no findings.
    pub user_learning_days: u32,
    /// Findings scoring below this are dropped as noise.
    pub min_score: f32,
    /// What "nobody has used it yet" counts as in the peer share.
    pub pseudocount: f64,
    /// How much a peer's use of the surrounding block counts, against 1 for
    /// use of the subnet itself.
    pub block_weight: f64,
    /// Subnet prefix lengths.
    pub subnet: Prefixes,
    /// Block prefix lengths.
    pub block: Prefixes,
    /// Subnets tracked per user.
    pub max_sources_per_user: u32,
    /// How many accesses the peer group's discovery rate is worth.
    pub prior_accesses: f64,
    /// Resources whose habitual places are tracked per user.
    pub max_resources_per_user: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            user_learning_days: 5,
            min_score: 25.0,
            pseudocount: 0.2,
            block_weight: 0.5,
            subnet: Prefixes { v4: 24, v6: 64 },
            block: Prefixes { v4: 16, v6: 48 },
            max_sources_per_user: 256,
            prior_accesses: 30.0,
            max_resources_per_user: 256,
        }
    }
}

/// Who has used a subnet or block: users in all, and per peer group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Usage {
    users: u32,
    /// (peer group, members who used it), sorted by group.
    per_group: Vec<(u32, u32)>,
}

impl Usage {
    fn group_count(&self, group: u32) -> u32 {
        self.per_group
            .binary_search_by_key(&group, |&(g, _)| g)
            .map_or(0, |i| self.per_group[i].1)
    }

    fn add(&mut self, group: Option<u32>) {
        self.users = self.users.saturating_add(1);
        if let Some(g) = group {
            self.add_group(g, 1);
        }
    }

    fn add_group(&mut self, group: u32, delta: i32) {
        match self.per_group.binary_search_by_key(&group, |&(g, _)| g) {
            Ok(i) => {
                let c = &mut self.per_group[i].1;
                *c = c.saturating_add_signed(delta);
                if *c == 0 {
                    self.per_group.remove(i);
                }
            }
            Err(i) if delta > 0 => self.per_group.insert(i, (group, delta.unsigned_abs())),
            Err(_) => {}
        }
    }

    /// Add another instance's usage of the same network.
    fn merge(&mut self, other: &Usage) {
        self.users = self.users.saturating_add(other.users);
        for &(g, n) in &other.per_group {
            match self.per_group.binary_search_by_key(&g, |&(g, _)| g) {
                Ok(i) => self.per_group[i].1 = self.per_group[i].1.saturating_add(n),
                Err(i) if n > 0 => self.per_group.insert(i, (g, n)),
                Err(_) => {}
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Subnet {
    key: Net,
    /// Index of its block in `NewSource::blocks`.
    block: u32,
    usage: Usage,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Block {
    key: Net,
    usage: Usage,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    /// Subnet indices used, sorted, with the local day of the latest use.
    subnets: Vec<(u32, i64)>,
    /// Block indices used, sorted.
    blocks: Vec<u32>,
    last_day: i64,
    active_days: u32,
    /// Subnets first used after the user's first active day.
    new_subnets: u32,
    /// Recent accesses and first accesses, from the second active day on.
    discovery: Discovery,
    /// Rarities of today's reported first uses, held out of the user's
    /// habits until their day closes.
    held: Vec<f64>,
    /// First uses scored in today's events that may not be learned.
    #[serde(default)]
    unlearned: FirstToday<Net>,
    /// The networks each resource was used from.
    places: Places,
    /// Recent accesses to known resources (user × resource × subnet × day)
    /// and those from a new place, from the second active day on.
    place_discovery: Discovery,
    /// Reported new places of today, held out of the user's habits until
    /// their day closes.
    held_places: u32,
    /// New places scored in today's events that may not be learned.
    unlearned_places: FirstToday<(u32, Net)>,
    /// The local day and subnet of the user's latest reported new network
    /// or new place: further resources first used from that subnet on that
    /// day restate the same novelty and are not reported again.
    #[serde(default)]
    reported_subnet: Option<(i64, u32)>,
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            subnets: Vec::new(),
            blocks: Vec::new(),
            last_day: NO_DAY,
            active_days: 0,
            new_subnets: 0,
            discovery: Discovery::default(),
            held: Vec::new(),
            unlearned: FirstToday::default(),
            places: Places::default(),
            place_discovery: Discovery::default(),
            held_places: 0,
            unlearned_places: FirstToday::default(),
            reported_subnet: None,
        }
    }
}

impl User {
    /// Whether an event on local `day` starts a new active day: the day
    /// moves forward, or back by more than one (see the module docs).
    fn starts_day(&self, day: i64) -> bool {
        self.last_day == NO_DAY || day > self.last_day || self.last_day - day > 1
    }
}

/// The new-source detector: first use of a subnet, scored by how rarely the
/// user shows up from somewhere new and how foreign the network is to their
/// peer group.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NewSource {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    /// Source id → index into `subnets`, parsed once per source string.
    sources: Table<u32>,
    subnet_index: BTreeMap<Net, u32>,
    subnets: Vec<Subnet>,
    block_index: BTreeMap<Net, u32>,
    blocks: Vec<Block>,
    /// Members per peer group.
    groups: Table<u32>,
    org_users: u32,
    /// Pooled discovery counts per peer group, and of the organisation.
    group_discovery: Table<Discovery>,
    org_discovery: Discovery,
    /// Pooled place discovery counts per peer group, and of the
    /// organisation.
    group_places: Table<Discovery>,
    org_places: Discovery,
    /// The sum of the other instances' latest shares (see the module docs).
    #[serde(default)]
    others: Others,
    /// Per user, the events of new networks and places they used while
    /// held out of learning, learned once they are learned again ("Events
    /// not to learn from").
    pending: Table<Vec<Event>>,
}

/// What a first use is scored on.
struct Odds {
    /// The user's discovery rate (shrunk towards their pool's).
    rate: f64,
    /// The peer share of the network, and that relative to the user's
    /// usual discoveries.
    rarity: f64,
    relative: f64,
    p: f64,
    score: f32,
}

/// Which discovery counts an access goes to: of new networks, or of new
/// places of known resources.
#[derive(Clone, Copy)]
enum Counts {
    Networks,
    Places,
}

/// A known resource used from a new network, for the finding.
struct NewPlace {
    /// The network, when interned.
    subnet: Option<Net>,
    p: f64,
    score: f32,
    /// The user's active days, counting the event's.
    active_days: u32,
}

/// The network a first use is from, for the finding.
struct Seen<'a> {
    source: u32,
    subnet: &'a Subnet,
    /// The subnet's block, when known.
    block: Option<Net>,
    /// The user's active days, counting the event's.
    active_days: u32,
}

/// How many of the other members (of the peer group, or of the organisation
/// when the user has none) have used the subnet and its block.
struct Peers {
    group: Option<u32>,
    subnet: u32,
    block: u32,
    others: u32,
}

impl NewSource {
    /// Whether `time_ms` falls in the global learning period, which starts
    /// at the first learned event: an event that may not be learned does
    /// not start it.
    fn learning(&mut self, time_ms: i64, learn: bool) -> bool {
        let first = match self.first_ms {
            Some(first) => first,
            None if learn => *self.first_ms.insert(time_ms),
            None => return true,
        };
        let span = i64::from(self.config.learning_days).saturating_mul(ueba_sdk::DAY_MS);
        time_ms < first.saturating_add(span)
    }

    /// The subnet index of a source, interning the subnet and its block on
    /// first sight.
    fn subnet_of(&mut self, symbols: &Symbols, source: u32) -> u32 {
        if let Some(&i) = self.sources.get(source) {
            return i;
        }
        let (subnet, block) = self.networks(symbols, source);
        let next_block = self.blocks.len() as u32;
        let block_idx = *self.block_index.entry(block).or_insert(next_block);
        if block_idx == next_block {
            self.blocks.push(Block {
                key: block,
                usage: Usage::default(),
            });
        }
        let next = self.subnets.len() as u32;
        let idx = *self.subnet_index.entry(subnet).or_insert(next);
        if idx == next {
            self.subnets.push(Subnet {
                key: subnet,
                block: block_idx,
                usage: Usage::default(),
            });
        }
        *self.sources.get_or_insert_with(source, || idx) = idx;
        idx
    }

    /// The subnet and block of a source.
    fn networks(&self, symbols: &Symbols, source: u32) -> (Net, Net) {
        match net::parse_ip(symbols.source(source)) {
            Some(ip) => (
                net::network(ip, self.config.subnet),
                net::network(ip, self.config.block),
            ),
            None => (Net::Name(source), Net::Name(source)),
        }
    }

    /// Move a user's network memberships from one peer group to another, so
    /// group counts always describe current members.
    fn regroup(&mut self, user_id: u32, to: u32) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let from = user.group.replace(to);
        if from == Some(to) {
            return;
        }
        let subnets: Vec<u32> = user.subnets.iter().map(|&(s, _)| s).collect();
        let blocks = user.blocks.clone();
        if let Some(f) = from {
            let size = self.groups.get_or_insert_with(f, || 0);
            *size = size.saturating_sub(1);
        }
        let size = self.groups.get_or_insert_with(to, || 0);
        *size = size.saturating_add(1);
        let shift = |usage: &mut Usage| {
            if let Some(f) = from {
                usage.add_group(f, -1);
            }
            usage.add_group(to, 1);
        };
        for s in subnets {
            if let Some(s) = self.subnets.get_mut(s as usize) {
                shift(&mut s.usage);
            }
        }
        for b in blocks {
            if let Some(b) = self.blocks.get_mut(b as usize) {
                shift(&mut b.usage);
            }
        }
    }

    /// Members of a peer group, in this instance and the others.
    fn members(&self, group: u32) -> u32 {
        let own = self.groups.get(group).copied().unwrap_or(0);
        own.saturating_add(self.others.groups.get(&group).map_or(0, |o| o.0))
    }

    /// Who else has used `subnet` and its block (`block_key`), in this
    /// instance and the others.
    fn peers(
        &self,
        user: &User,
        subnet: &Subnet,
        block_key: Option<Net>,
        new_block: bool,
    ) -> Peers {
        let block = self.blocks.get(subnet.block as usize).map(|b| &b.usage);
        let other_subnet = self.others.subnets.get(&subnet.key);
        let other_block = block_key.and_then(|k| self.others.blocks.get(&k));
        // The user is not yet among the subnet's users, but may be among
        // the block's; "others" excludes them either way.
        let own = u32::from(!new_block);
        let group = user.group.filter(|&g| self.members(g) > 1);
        let count = |usage: Option<&Usage>, other: Option<&Usage>, g: Option<u32>| {
            let n = |u: &Usage| g.map_or(u.users, |g| u.group_count(g));
            usage.map_or(0, n).saturating_add(other.map_or(0, n))
        };
        Peers {
            group,
            subnet: count(Some(&subnet.usage), other_subnet, group),
            block: count(block, other_block, group).saturating_sub(own),
            others: match group {
                Some(g) => self.members(g).saturating_sub(1),
                None => self
                    .org_users
                    .saturating_add(self.others.org_users)
                    .saturating_sub(1),
            },
        }
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms, e.learn);
        if !e.learn {
            self.observe_unlearned(symbols, e, learning, out);
            return;
        }
        if self.users.get(e.user).is_none() {
            self.org_users = self.org_users.saturating_add(1);
        }
        self.users.get_or_insert_with(e.user, User::default);
        if let Some(g) = e.peer_group {
            self.regroup(e.user, g);
        }
        self.learn_pending(symbols, e.user);
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        let day = e.local_day();
        user.unlearned = FirstToday::default();
        user.unlearned_places = FirstToday::default();
        if user.starts_day(day) {
            user.active_days = user.active_days.saturating_add(1);
            let held_places = std::mem::take(&mut user.held_places);
            for rarity in std::mem::take(&mut user.held) {
                self.rate_discovery(e.user, rarity);
                self.count_access(e.user, true);
            }
            for _ in 0..held_places {
                self.count_place(e.user, true);
            }
            let Some(user) = self.users.get_mut(e.user) else {
                return;
            };
            user.last_day = day;
        }
        let Some(source) = e.source else {
            return;
        };
        let subnet_idx = self.subnet_of(symbols, source);
        self.observe_network(symbols, e, source, subnet_idx, learning, out);
        self.observe_place(symbols, e, subnet_idx, learning, out);
    }

    /// Judge and learn a learned event's network: a first use of a subnet
    /// by the user is scored (see "Model").
    fn observe_network(
        &mut self,
        symbols: &Symbols,
        e: &Event,
        source: u32,
        subnet_idx: u32,
        learning: bool,
        out: &mut Vec<Finding>,
    ) {
        let day = e.local_day();
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let counted = user.active_days > 1;
        let slot = match user.subnets.binary_search_by_key(&subnet_idx, |&(s, _)| s) {
            Ok(i) => {
                let seen = user.subnets[i].1 == day;
                if !seen && counted {
                    self.count_access(e.user, false);
                }
                if let Some(user) = self.users.get_mut(e.user) {
                    user.subnets[i].1 = day;
                }
                return;
            }
            Err(_) if user.subnets.len() >= self.config.max_sources_per_user as usize => return,
            Err(i) => i,
        };
        let Some(subnet) = self.subnets.get(subnet_idx as usize) else {
            return;
        };
        let block_idx = subnet.block;
        let block_slot = user.blocks.binary_search(&block_idx);
        let new_block = block_slot.is_err();
        let block_key = self.blocks.get(block_idx as usize).map(|b| b.key);
        let peers = self.peers(user, subnet, block_key, new_block);
        let rarity = self.rarity(&peers);
        let mut flagged = false;
        if !learning
            && user.active_days > self.config.user_learning_days
            && !source_is_resource(symbols, e, source)
        {
            let odds = self.odds(user, rarity);
            if odds.score >= self.config.min_score {
                let seen = Seen {
                    source,
                    subnet,
                    block: block_key,
                    active_days: user.active_days,
                };
                out.push(self.finding(symbols, e, &seen, user, &peers, &odds));
                flagged = true;
            }
        }
        let group = user.group;
        if let Some(s) = self.subnets.get_mut(subnet_idx as usize) {
            s.usage.add(group);
        }
        if new_block && let Some(b) = self.blocks.get_mut(block_idx as usize) {
            b.usage.add(group);
        }
        if let Some(user) = self.users.get_mut(e.user) {
            if flagged {
                user.reported_subnet = Some((day, subnet_idx));
            }
            user.subnets.insert(slot, (subnet_idx, day));
            if let Err(i) = block_slot {
                user.blocks.insert(i, block_idx);
            }
            if counted {
                user.new_subnets = user.new_subnets.saturating_add(1);
            }
        }
        if counted && flagged {
            // A reported first use does not teach the user's habits until
            // their day closes, so a second one in the same episode is
            // judged against the habits before it.
            if let Some(user) = self.users.get_mut(e.user) {
                user.held.push(rarity);
            }
        } else if counted {
            self.rate_discovery(e.user, rarity);
            self.count_access(e.user, true);
        }
    }

    /// The rarity of a first use: the peer share of its subnet and block.
    fn rarity(&self, peers: &Peers) -> f64 {
        let near = f64::from(peers.block.saturating_sub(peers.subnet));
        ((f64::from(peers.subnet) + self.config.block_weight * near + self.config.pseudocount)
            / (f64::from(peers.others) + 1.0))
            .min(1.0)
    }

    /// What a first use of `rarity` by `user` is scored on, and its score.
    fn odds(&self, user: &User, rarity: f64) -> Odds {
        let pool = self.pool(user.group);
        let pool = &pool;
        let rate = user
            .discovery
            .rate_with_prior(pool, self.config.prior_accesses);
        // Every member's first uses of a network count towards the pool's
        // typical rarity at once: a team's few networks are all it
        // discovers.
        let typical = user.discovery.typical_log_rarity(pool, TYPICAL_PRIOR, 0.0);
        let relative = Discovery::relative_rarity(rarity, typical);
        let p = (rate * relative).clamp(0.0, 1.0);
        Odds {
            rate,
            rarity,
            relative,
            p,
            score: score_from_p(p),
        }
    }

    /// An event the detector may not learn from: scored as a learned one
    /// would be, leaving everything learned as it was (see the module
    /// docs). Only the day's list of scored first uses changes, so that
    /// each is reported once a day.
    fn observe_unlearned(
        &mut self,
        symbols: &Symbols,
        e: &Event,
        learning: bool,
        out: &mut Vec<Finding>,
    ) {
        // Without a source there is no network to score, and a user with
        // nothing learned is on no active day yet.
        let (Some(source), Some(user)) = (e.source, self.users.get(e.user)) else {
            return;
        };
        let day = e.local_day();
        let active_days = user
            .active_days
            .saturating_add(u32::from(user.starts_day(day)));
        if learning || active_days <= self.config.user_learning_days {
            return;
        }
        // The networks the source was interned as, if it was.
        let interned = self
            .sources
            .get(source)
            .and_then(|&s| self.subnets.get(s as usize));
        let (subnet_key, block_key) = match interned {
            Some(s) => (
                s.key,
                self.blocks.get(s.block as usize).map_or(s.key, |b| b.key),
            ),
            None => self.networks(symbols, source),
        };
        let known = self.subnet_index.get(&subnet_key).copied();
        self.place_unlearned(symbols, e, (known, subnet_key), active_days, out);
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let max = self.config.max_sources_per_user as usize;
        if known.is_some_and(|s| user.subnets.binary_search_by_key(&s, |&(s, _)| s).is_ok())
            || user.subnets.len() >= max
        {
            return;
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        if !user.unlearned.first_today(subnet_key, day, max) {
            return;
        }
        self.keep_pending(e);
        let block = self.block_index.get(&block_key).copied();
        // A subnet nobody has used is not interned: it is scored as a
        // fresh one in its block (or in a block nobody has used).
        let fresh;
        let subnet = match known.and_then(|s| self.subnets.get(s as usize)) {
            Some(subnet) => subnet,
            None => {
                fresh = Subnet {
                    key: subnet_key,
                    block: block.unwrap_or(NO_BLOCK),
                    usage: Usage::default(),
                };
                &fresh
            }
        };
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let new_block = block.is_none_or(|b| user.blocks.binary_search(&b).is_err());
        let peers = self.peers(user, subnet, Some(block_key), new_block);
        let odds = self.odds(user, self.rarity(&peers));
        if odds.score >= self.config.min_score && !source_is_resource(symbols, e, source) {
            let seen = Seen {
                source,
                subnet,
                block: Some(block_key),
                active_days,
            };
            out.push(self.finding(symbols, e, &seen, user, &peers, &odds));
        }
    }

    /// The pooled discovery counts a user's are shrunk towards: their peer
    /// group's when it has other members, else the organisation's, each
    /// with the other instances' (see [`share::pooled`]).
    fn pool(&self, group: Option<u32>) -> Discovery {
        let others = |g| self.others.groups.get(&g).and_then(|o| o.1.as_ref());
        self.pooled(
            group,
            (&self.group_discovery, &self.org_discovery),
            others,
            self.others.org_discovery.as_ref(),
        )
    }

    /// The same for habitual places.
    fn place_pool(&self, group: Option<u32>) -> Discovery {
        self.pooled(
            group,
            (&self.group_places, &self.org_places),
            |g| self.others.group_places.get(&g),
            self.others.org_places.as_ref(),
        )
    }

    /// A peer group's pooled counts (`own` per group and of the
    /// organisation, with the other instances'), or the organisation's when
    /// the group has no other member.
    fn pooled<'a>(
        &'a self,
        group: Option<u32>,
        own: (&'a Table<Discovery>, &'a Discovery),
        others: impl Fn(u32) -> Option<&'a Discovery>,
        others_org: Option<&Discovery>,
    ) -> Discovery {
        group
            .filter(|&g| self.members(g) > 1)
            .and_then(|g| share::pooled(own.0.get(g), others(g)))
            .or_else(|| share::pooled(Some(own.1), others_org))
            .unwrap_or_default()
    }

    /// Judge and learn a learned event's use of its resource from
    /// `subnet` (see "Habitual places").
    fn observe_place(
        &mut self,
        symbols: &Symbols,
        e: &Event,
        subnet: u32,
        learning: bool,
        out: &mut Vec<Finding>,
    ) {
        let day = e.local_day();
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let counted = user.active_days > 1;
        let first = match user.places.classify(e.resource, Some(subnet), day) {
            Use::Roaming | Use::Known { today: true } => return,
            Use::NewResource => None,
            Use::Known { today: false } => Some(false),
            Use::NewPlace => Some(true),
        };
        let restated = user.reported_subnet == Some((day, subnet));
        let mut flagged = restated && first == Some(true);
        if first == Some(true)
            && !restated
            && !learning
            && user.active_days > self.config.user_learning_days
        {
            let p = self.place_p(user);
            let score = score_from_p(p);
            if score >= self.config.min_score {
                let place = NewPlace {
                    subnet: self.subnets.get(subnet as usize).map(|s| s.key),
                    p,
                    score,
                    active_days: user.active_days,
                };
                out.push(self.place_finding(symbols, e, user, &place));
                flagged = true;
            }
        }
        let max = self.config.max_resources_per_user as usize;
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        if flagged {
            user.reported_subnet = Some((day, subnet));
        }
        user.places.learn(e.resource, subnet, day, max);
        match first {
            Some(true) if counted && flagged => user.held_places += 1,
            Some(first) if counted => self.count_place(e.user, first),
            _ => {}
        }
    }

    /// Judge an unlearned event's use of its resource from a subnet
    /// (`known`, with its key), once a day per resource and subnet.
    fn place_unlearned(
        &mut self,
        symbols: &Symbols,
        e: &Event,
        (known, key): (Option<u32>, Net),
        active_days: u32,
        out: &mut Vec<Finding>,
    ) {
        let day = e.local_day();
        let max = self.config.max_resources_per_user as usize;
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        if user.places.classify(e.resource, known, day) != Use::NewPlace
            || !user
                .unlearned_places
                .first_today((e.resource, key), day, max)
        {
            return;
        }
        self.keep_pending(e);
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let p = self.place_p(user);
        let score = score_from_p(p);
        if score >= self.config.min_score {
            let place = NewPlace {
                subnet: Some(key),
                p,
                score,
                active_days,
            };
            out.push(self.place_finding(symbols, e, user, &place));
        }
    }

    /// Keep an unlearned event that used a network or place new to the
    /// user, to learn once they are learned again: the first
    /// [`PENDING_USES`] of a user's (source, resource) pairs.
    fn keep_pending(&mut self, e: &Event) {
        let pending = self.pending.get_or_insert_with(e.user, Vec::new);
        if pending.len() < PENDING_USES
            && !pending
                .iter()
                .any(|p| p.source == e.source && p.resource == e.resource)
        {
            pending.push(Event { learn: true, ..*e });
        }
    }

    /// The user is learned again: the uses of new networks and places they
    /// made while held are learned, in the order they were made, as
    /// learned first uses that were not reported (their discovery rates,
    /// the networks' users, the places), so those networks and places are
    /// theirs now, not new again.
    fn learn_pending(&mut self, symbols: &Symbols, user_id: u32) {
        let pending = match self.pending.get_mut(user_id) {
            Some(p) if !p.is_empty() => std::mem::take(p),
            _ => return,
        };
        // Learned as during a learning period: nothing is reported.
        let mut none = Vec::new();
        for e in pending {
            let Some(source) = e.source else {
                continue;
            };
            let subnet_idx = self.subnet_of(symbols, source);
            self.observe_network(symbols, &e, source, subnet_idx, true, &mut none);
            self.observe_place(symbols, &e, subnet_idx, true, &mut none);
        }
    }

    /// The chance that the user's next access to a resource they know is
    /// from a network they never used it from: their place discovery rate,
    /// shrunk towards their pool's.
    fn place_p(&self, user: &User) -> f64 {
        user.place_discovery
            .rate_with_prior(&self.place_pool(user.group), self.config.prior_accesses)
    }

    /// Count an access to a known resource (user × resource × subnet ×
    /// day), from a new place or not, for the user and their pools.
    fn count_place(&mut self, user_id: u32, first: bool) {
        self.count(user_id, Counts::Places, first);
    }

    fn place_finding(
        &self,
        symbols: &Symbols,
        e: &Event,
        user: &User,
        place: &NewPlace,
    ) -> Finding {
        let source = e.source.map_or("", |s| symbols.source(s));
        let resource = symbols.resource(e.resource);
        // A host name is a network of its own, named by its source's text.
        let show = |key: Net| match key {
            Net::Name(id) => symbols.source(id).to_string(),
            _ => net::display(key, self.config.subnet, source),
        };
        let before: Vec<String> = user
            .places
            .of(e.resource)
            .filter_map(|s| self.subnets.get(s as usize))
            .map(|s| show(s.key))
            .collect();
        let here = place.subnet.map_or_else(|| source.to_string(), show);
        Finding::new(
            e.seq,
            place.score,
            format!(
                "first use of {resource} from {here} (source {source}); the user has used it only from {}; their recent accesses to a resource they know are from a new network {:.1}% of the time",
                before.join(", "),
                100.0 * place.p
            ),
        )
        .with("kind", "place")
        .with("source", source)
        .with("subnet", here.as_str())
        .with("places_before", before.len() as u64)
        .with("user_active_days", place.active_days)
        .with("place_discovery_rate", place.p)
        .with("recent_place_accesses", f64::from(user.place_discovery.accesses))
        .with("p", place.p)
    }

    /// This instance's population figures, from its own users only.
    fn share(&self) -> Share {
        let used = |usage: &Usage| usage.users > 0 || !usage.per_group.is_empty();
        Share {
            org_users: self.org_users,
            org_discovery: self.org_discovery,
            groups: self
                .groups
                .iter()
                .map(|(g, &members)| (g, members, self.group_discovery.get(g).copied()))
                .collect(),
            subnets: self
                .subnets
                .iter()
                .filter(|s| used(&s.usage))
                .map(|s| (s.key, s.usage.clone()))
                .collect(),
            blocks: self
                .blocks
                .iter()
                .filter(|b| used(&b.usage))
                .map(|b| (b.key, b.usage.clone()))
                .collect(),
            org_places: self.org_places,
            group_places: self.group_places.iter().map(|(g, d)| (g, *d)).collect(),
        }
    }

    /// Count an access (user × subnet × day), first or not, for the user,
    /// their group and the organisation.
    fn count_access(&mut self, user_id: u32, first: bool) {
        self.count(user_id, Counts::Networks, first);
    }

    /// Count an access in the user's and their pools' counts of `which`.
    fn count(&mut self, user_id: u32, which: Counts, first: bool) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let (own, groups, org) = match which {
            Counts::Networks => (
                &mut user.discovery,
                &mut self.group_discovery,
                &mut self.org_discovery,
            ),
            Counts::Places => (
                &mut user.place_discovery,
                &mut self.group_places,
                &mut self.org_places,
            ),
        };
        own.access(first, RECENT_ACCESSES);
        if let Some(g) = user.group {
            groups
                .get_or_insert_with(g, Discovery::default)
                .access(first, POOL_RECENT_ACCESSES);
        }
        org.access(first, POOL_RECENT_ACCESSES);
    }

    /// Record how rare a scored first use was, for the user and their pools.
    fn rate_discovery(&mut self, user_id: u32, rarity: f64) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        user.discovery.rate_rarity(rarity, RECENT_DISCOVERIES);
        if let Some(g) = user.group {
            self.group_discovery
                .get_or_insert_with(g, Discovery::default)
                .rate_rarity(rarity, 4.0 * RECENT_DISCOVERIES);
        }
        self.org_discovery
            .rate_rarity(rarity, 4.0 * RECENT_DISCOVERIES);
    }

    fn finding(
        &self,
        symbols: &Symbols,
        e: &Event,
        seen: &Seen,
        user: &User,
        peers: &Peers,
        odds: &Odds,
    ) -> Finding {
        let subnet = seen.subnet;
        let text = symbols.source(seen.source);
        let subnet_text = net::display(subnet.key, self.config.subnet, text);
        let block_key = seen.block;
        let block_text = block_key.map(|b| net::display(b, self.config.block, text));
        let who = match peers.group {
            Some(g) => format!("{} {} peers", peers.others, symbols.peer_group(g)),
            None => format!("{} users", peers.others),
        };
        let block_part = match &block_text {
            Some(b) if block_key != Some(subnet.key) && peers.block > peers.subnet => {
                format!(" ({} have used {b})", peers.block)
            }
            _ => String::new(),
        };
        let mut f = Finding::new(
            e.seq,
            odds.score,
            format!(
                "first use of {subnet_text} (source {text}); {} of {who} have used it{block_part}; the user's recent accesses are from a new network {:.1}% of the time",
                peers.subnet,
                100.0 * odds.rate
            ),
        )
        .with("kind", "network")
        .with("source", text)
        .with("subnet", subnet_text.as_str());
        if let Some(b) = block_text {
            f = f.with("block", b);
        }
        f.with("peers_using_subnet", peers.subnet)
            .with("peers_using_block", peers.block)
            .with("peer_size", peers.others)
            .with(
                "peer_scope",
                if peers.group.is_some() {
                    "group"
                } else {
                    "org"
                },
            )
            .with("user_new_subnets", user.new_subnets)
            .with("user_active_days", seen.active_days)
            .with("discovery_rate", odds.rate)
            .with("recent_accesses", f64::from(user.discovery.accesses))
            .with("rarity", odds.rarity)
            .with("relative_rarity", odds.relative)
            .with("p", odds.p)
    }

    /// A prefix key's value. Once networks are learned it may only be
    /// set to what it already is (as a restored state is configured
    /// again); `current` is the key's value now and `effective` what `v`
    /// would make it (a block is never narrower than its subnet).
    fn set_prefix(
        &self,
        key: &str,
        value: &str,
        max: f64,
        current: u8,
        effective: impl Fn(u8) -> u8,
    ) -> Result<u8, ConfigError> {
        let v = config::parse_in_range(key, value, 0.0, max)?;
        if v.fract() != 0.0 {
            return Err(ConfigError::InvalidValue {
                key: key.to_string(),
                message: format!("{v} is not a whole number of bits"),
            });
        }
        let v = v as u8;
        if !self.subnets.is_empty() && effective(v) != current {
            return Err(ConfigError::InvalidValue {
                key: key.to_string(),
                message: format!(
                    "networks were learned with {current}; the prefix cannot change once networks are learned, since they are keyed by it (start without the saved state to learn with {v})"
                ),
            });
        }
        Ok(v)
    }
}

impl Detector for NewSource {
    /// 0.3.0 and 0.3.1 snapshots carry over (`upgrade`'s module docs).
    fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Self)> {
        upgrade::upgrade(version, state)
    }

    fn info() -> Info {
        Info {
            name: "new-source",
            version: env!("CARGO_PKG_VERSION"),
            description: "a user's first action from a source subnet they and their peer group have never used, or on a resource from a subnet they never used it from",
            config: vec![
                ConfigKey {
                    name: "learning_days",
                    default: "7",
                    description: "days of event time, from the first event seen, that only learn who uses which network (no findings)",
                },
                ConfigKey {
                    name: "user_learning_days",
                    default: "5",
                    description: "a user's own first active days that only learn their networks (no findings), so a newcomer's first week is not all firsts",
                },
                ConfigKey {
                    name: "min_score",
                    default: "25.0",
                    description: "findings scoring below this (0-100) are dropped as noise",
                },
                ConfigKey {
                    name: "pseudocount",
                    default: "0.2",
                    description: "what nobody in the peer group having used a network counts as; smaller makes never-used networks rarer",
                },
                ConfigKey {
                    name: "prior_accesses",
                    default: "30.0",
                    description: "how many of a user's own recent accesses (user x subnet x day) the peer group's discovery rate is worth",
                },
                ConfigKey {
                    name: "block_weight",
                    default: "0.5",
                    description: "how much a peer's use of the surrounding block (a VPN pool, a DHCP scope) counts against 1 for the subnet itself",
                },
                ConfigKey {
                    name: "ipv4_prefix",
                    default: "24",
                    description: "IPv4 subnet prefix length: addresses within it are one network",
                },
                ConfigKey {
                    name: "ipv6_prefix",
                    default: "64",
                    description: "IPv6 subnet prefix length",
                },
                ConfigKey {
                    name: "ipv4_block_prefix",
                    default: "16",
                    description: "IPv4 block prefix length: subnets within it are near each other (at most ipv4_prefix)",
                },
                ConfigKey {
                    name: "ipv6_block_prefix",
                    default: "48",
                    description: "IPv6 block prefix length (at most ipv6_prefix)",
                },
                ConfigKey {
                    name: "max_resources_per_user",
                    default: "256",
                    description: "resources per user whose habitual networks are remembered (about 40 bytes each, plus 16 per network); further resources are not judged by where they are used from",
                },
                ConfigKey {
                    name: "max_sources_per_user",
                    default: "256",
                    description: "subnets remembered per user (about 20 bytes each); a user's further new subnets are neither tracked nor scored",
                },
            ],
        }
    }

    fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let c = &mut self.config;
        match key {
            "learning_days" => c.learning_days = config::parse(key, value)?,
            "user_learning_days" => c.user_learning_days = config::parse(key, value)?,
            "min_score" => c.min_score = config::parse_in_range(key, value, 0.0, 100.0)? as f32,
            "pseudocount" => c.pseudocount = config::parse_in_range(key, value, 1e-3, 10.0)?,
            "block_weight" => c.block_weight = config::parse_in_range(key, value, 0.0, 1.0)?,
            "prior_accesses" => c.prior_accesses = config::parse_in_range(key, value, 0.0, 1e6)?,
            "max_resources_per_user" => {
                c.max_resources_per_user = config::parse_in_range(key, value, 1.0, 65_536.0)? as u32
            }
            "max_sources_per_user" => {
                c.max_sources_per_user = config::parse_in_range(key, value, 1.0, 65_536.0)? as u32
            }
            "ipv4_prefix" => {
                let now = self.config.subnet.v4;
                self.config.subnet.v4 = self.set_prefix(key, value, 32.0, now, |v| v)?;
            }
            "ipv6_prefix" => {
                let now = self.config.subnet.v6;
                self.config.subnet.v6 = self.set_prefix(key, value, 128.0, now, |v| v)?;
            }
            "ipv4_block_prefix" => {
                let (now, subnet) = (self.config.block.v4, self.config.subnet.v4);
                self.config.block.v4 = self.set_prefix(key, value, 32.0, now, |v| v.min(subnet))?;
            }
            "ipv6_block_prefix" => {
                let (now, subnet) = (self.config.block.v6, self.config.subnet.v6);
                self.config.block.v6 =
                    self.set_prefix(key, value, 128.0, now, |v| v.min(subnet))?;
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        let c = &mut self.config;
        // A block narrower than its subnet would split one subnet across
        // blocks; widen the block to the subnet instead.
        c.block.v4 = c.block.v4.min(c.subnet.v4);
        c.block.v6 = c.block.v6.min(c.subnet.v6);
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }

    fn population(&self) -> Vec<u8> {
        ueba_sdk::population::encode(&self.share())
    }

    fn absorb(&mut self, others: &[&[u8]]) -> Result<(), String> {
        let shares: Vec<Share> = ueba_sdk::population::decode_all(others)?;
        self.others = Others::sum(&shares)?;
        Ok(())
    }
}

/// Whether the event's source names its own resource, as a logon log that
/// gives the machine logged on to as both does. Such a source says nothing
/// of where the user came from: its first use is the resource's first
/// access, which `novel-table` judges, and a network finding would count
/// the same fact a second time. It is still learned as one of the user's
/// networks, so the places they use other resources from stay known.
fn source_is_resource(symbols: &Symbols, e: &Event, source: u32) -> bool {
    symbols.source(source) == symbols.resource(e.resource)
}

ueba_sdk::export_detector!(NewSource);

#[cfg(test)]
mod tests;
