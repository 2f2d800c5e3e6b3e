//! `novel-table`: flags a user's first access to a table that people like
//! them do not touch.
//!
//! The motivating insider read a customer table their team never used.
//! People do start using new tables all the time, so novelty alone is weak;
//! it becomes strong when the user rarely touches anything new, their peer
//! group never touches this table, and few people in the organisation do.
//!
//! # Model
//!
//! On a user's first access to a resource (after the learning period):
//!
//! * `p_user = (user's first accesses since learning + 1) / (user's active days + 2)`:
//!   how often this user touches something new;
//! * `p_peer = (other peer-group members who touched it + α) / (other members + 1)`
//!   (1 when the user has no peer group);
//! * `p_org = (other users who touched it + α) / (other users + 1)`;
//! * `α` is `pseudocount` (0.2): how much "nobody yet" is worth. A smaller
//!   one makes a table nobody (or no peer) touches rarer, and hardly moves
//!   tables that several people use;
//! * resources whose name matches a `sensitive` glob (`*` any run of
//!   characters, `?` one character) are multiplied by `sensitive_factor`.
//!
//! `p = p_user · p_peer · p_org (· sensitive_factor)` and the score is
//! `score_from_p(p)`. With ~25–70 users per group, ~200 users and a month
//! of history, a table the user's group uses scores ~10–25 (usually
//! dropped), a sensitive table only another group reads ~50–60, a table
//! nobody has read ~60 and a sensitive one ~70; each doubling of the user's
//! active days adds about 2.5 points.
//!
//! # Findings
//!
//! One per (user, resource), on the first access ever, and only after the
//! global learning period (`learning_days` of event time from the first
//! event seen); during it the detector only learns who touches what. Scores
//! below `min_score` are dropped.
//!
//! # Time
//!
//! A user's active days are counted when their local day moves forward (or
//! jumps back by more than a day, so a far-future timestamp cannot stop the
//! count for good); late events are otherwise just accesses.
//!
//! # Memory
//!
//! Per user about 48 bytes plus 4 bytes per distinct resource touched, at
//! most [`MAX_RESOURCES_PER_USER`] (accesses to further new resources are
//! neither tracked nor scored). Per resource about 40 bytes plus 8 bytes per
//! peer group that touched it; per peer group 4 bytes. Ids at or above 2²⁰
//! are kept in a B-tree, so a huge id never allocates a huge vector.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, Info, Symbols, config, score_from_p,
};

use ueba_sdk::table::Table;

/// Distinct resources tracked per user; bounds memory for crawlers.
pub const MAX_RESOURCES_PER_USER: usize = 1 << 16;
const NO_DAY: i64 = i64::MIN;
const DEFAULT_SENSITIVE: [&str; 5] = [
    "*.customers",
    "*.contacts",
    "*.payment_methods",
    "hr.*",
    "auth.*",
];

/// The operator's settings; part of the snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Days of event time, from the first event seen, with no findings.
    pub learning_days: u32,
    /// Findings scoring below this are dropped as noise.
    pub min_score: f32,
    /// Globs naming sensitive resources.
    pub sensitive: Vec<String>,
    /// Multiplies `p` for a sensitive resource (smaller is stricter).
    pub sensitive_factor: f64,
    /// What "nobody has touched it yet" counts as in the peer and
    /// organisation shares.
    pub pseudocount: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            sensitive: DEFAULT_SENSITIVE.iter().map(|s| s.to_string()).collect(),
            sensitive_factor: 0.1,
            pseudocount: 0.2,
        }
    }
}

/// The novel-table detector: first accesses scored by how unusual the
/// resource is for the user, their peer group and the organisation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NovelTable {
    config: Config,
    /// Bumped when `sensitive` changes, so cached matches are recomputed.
    config_generation: u32,
    first_ms: Option<i64>,
    users: Table<User>,
    resources: Table<Resource>,
    groups: Table<u32>,
    org_users: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    touched: Vec<u32>,
    last_day: i64,
    active_days: u32,
    firsts: u32,
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            touched: Vec::new(),
            last_day: NO_DAY,
            active_days: 0,
            firsts: 0,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Resource {
    users: u32,
    per_group: Vec<(u32, u32)>,
    /// Whether the name matched `sensitive`, under config generation `.0`.
    sensitive: Option<(u32, bool)>,
}

impl Resource {
    fn group_count(&self, group: u32) -> u32 {
        self.per_group
            .binary_search_by_key(&group, |&(g, _)| g)
            .map_or(0, |i| self.per_group[i].1)
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
}

impl NovelTable {
    fn learning(&mut self, time_ms: i64) -> bool {
        let first = *self.first_ms.get_or_insert(time_ms);
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    /// Move a user's memberships from one peer group to another, so group
    /// counts always describe current members.
    fn regroup(&mut self, user_id: u32, to: u32) {
        let Some(user) = self.users.get(user_id) else {
            return;
        };
        let from = user.group;
        if from == Some(to) {
            return;
        }
        let touched = user.touched.clone();
        if let Some(f) = from {
            let size = self.groups.get_or_insert_with(f, || 0);
            *size = size.saturating_sub(1);
        }
        let size = self.groups.get_or_insert_with(to, || 0);
        *size = size.saturating_add(1);
        for r in touched {
            let res = self.resources.get_or_insert_with(r, Resource::default);
            if let Some(f) = from {
                res.add_group(f, -1);
            }
            res.add_group(to, 1);
        }
        if let Some(user) = self.users.get_mut(user_id) {
            user.group = Some(to);
        }
    }

    fn is_sensitive(&mut self, symbols: &Symbols, resource: u32) -> bool {
        let generation = self.config_generation;
        let patterns = &self.config.sensitive;
        let res = self
            .resources
            .get_or_insert_with(resource, Resource::default);
        match res.sensitive {
            Some((g, s)) if g == generation => s,
            _ => {
                let name = symbols.resource(resource);
                let s = patterns.iter().any(|p| ueba_sdk::glob::matches(p, name));
                res.sensitive = Some((generation, s));
                s
            }
        }
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms);
        if self.users.get(e.user).is_none() {
            self.org_users = self.org_users.saturating_add(1);
        }
        self.users.get_or_insert_with(e.user, User::default);
        if let Some(g) = e.peer_group {
            self.regroup(e.user, g);
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        let day = e.local_day();
        if user.last_day == NO_DAY || day > user.last_day || user.last_day - day > 1 {
            if user.last_day != day {
                user.active_days = user.active_days.saturating_add(1);
            }
            user.last_day = day;
        }
        let slot = match user.touched.binary_search(&e.resource) {
            Ok(_) => return,
            Err(_) if user.touched.len() >= MAX_RESOURCES_PER_USER => return,
            Err(i) => i,
        };
        let sensitive = self.is_sensitive(symbols, e.resource);
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let group = user.group;
        let res = self.resources.get(e.resource);
        let org_touch = res.map_or(0, |r| r.users);
        let org_others = self.org_users.saturating_sub(1);
        let peer = group.map(|g| {
            let touch = res.map_or(0, |r| r.group_count(g));
            let size = self.groups.get(g).copied().unwrap_or(1);
            (g, touch, size.saturating_sub(1))
        });
        if !learning {
            let p_user = (f64::from(user.firsts) + 1.0) / (f64::from(user.active_days) + 2.0);
            let a = self.config.pseudocount;
            let p_peer = peer.map_or(1.0, |(_, t, n)| (f64::from(t) + a) / (f64::from(n) + 1.0));
            let p_org = (f64::from(org_touch) + a) / (f64::from(org_others) + 1.0);
            let factor = if sensitive {
                self.config.sensitive_factor
            } else {
                1.0
            };
            let p = (p_user * p_peer * p_org * factor).clamp(0.0, 1.0);
            let score = score_from_p(p);
            if score >= self.config.min_score {
                let name = symbols.resource(e.resource);
                let (peer_touch, peer_size) = peer.map_or((0, 0), |(_, t, n)| (t, n));
                let peers = match peer {
                    Some((g, _, _)) => format!(
                        "{peer_touch} of {peer_size} {} peers",
                        symbols.peer_group(g)
                    ),
                    None => "no peer group".to_string(),
                };
                out.push(
                    Finding::new(
                        e.seq,
                        score,
                        format!(
                            "first access to {}{name}; {peers} and {org_touch} of {org_others} users have touched it",
                            if sensitive { "sensitive " } else { "" }
                        ),
                    )
                    .with("resource", name)
                    .with("peer_users_touching", peer_touch)
                    .with("peer_size", peer_size)
                    .with("org_users_touching", org_touch)
                    .with("org_users", org_others)
                    .with("sensitive", i64::from(sensitive))
                    .with("user_new_resources", user.firsts)
                    .with("user_active_days", user.active_days)
                    .with("p", p),
                );
            }
        }
        let res = self
            .resources
            .get_or_insert_with(e.resource, Resource::default);
        res.users = res.users.saturating_add(1);
        if let Some(g) = group {
            res.add_group(g, 1);
        }
        if let Some(user) = self.users.get_mut(e.user) {
            user.touched.insert(slot, e.resource);
            if !learning {
                user.firsts = user.firsts.saturating_add(1);
            }
        }
    }
}

impl Detector for NovelTable {
    fn info() -> Info {
        Info {
            name: "novel-table",
            version: env!("CARGO_PKG_VERSION"),
            description: "a user's first access to a resource their peer group and organisation rarely or never touch",
            config: vec![
                ConfigKey {
                    name: "learning_days",
                    default: "7",
                    description: "days of event time, from the first event seen, that only learn who touches what (no findings)",
                },
                ConfigKey {
                    name: "min_score",
                    default: "20.0",
                    description: "findings scoring below this (0-100) are dropped as noise",
                },
                ConfigKey {
                    name: "sensitive",
                    default: "[\"*.customers\", \"*.contacts\", \"*.payment_methods\", \"hr.*\", \"auth.*\"]",
                    description: "globs (* any run of characters, ? one character) naming sensitive resources",
                },
                ConfigKey {
                    name: "sensitive_factor",
                    default: "0.1",
                    description: "multiplies the probability of a first access to a sensitive resource (0.1 adds 10 points)",
                },
                ConfigKey {
                    name: "pseudocount",
                    default: "0.2",
                    description: "what nobody having touched a resource counts as in the peer and organisation shares; smaller makes never-touched resources rarer",
                },
            ],
        }
    }

    fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "learning_days" => self.config.learning_days = config::parse(key, value)?,
            "min_score" => {
                self.config.min_score = config::parse_in_range(key, value, 0.0, 100.0)? as f32
            }
            "sensitive" => {
                self.config.sensitive = config::parse(key, value)?;
                self.config_generation = self.config_generation.wrapping_add(1);
            }
            "sensitive_factor" => {
                self.config.sensitive_factor = config::parse_in_range(key, value, 1e-6, 1.0)?
            }
            "pseudocount" => {
                self.config.pseudocount = config::parse_in_range(key, value, 1e-3, 10.0)?
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }
}

ueba_sdk::export_detector!(NovelTable);

#[cfg(test)]
mod tests;
