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
//! Resources belong to *kinds*: tables, workstations, removable media. The
//! `kinds` setting maps globs to kinds (`[["PC-*", "workstation"]]`, first
//! match wins); a resource no glob matches takes its kind from its shape
//! ([`shape_kind`]: dotted names are `table`, other names are themselves
//! with digit runs as `#`, so `PC-1234` is `PC-#`). Habits are counted per
//! kind in *accesses*, one per (user, resource, local day), from the user's
//! second active day on (on the first everything is new), through the
//! learning period too, and halved past [`RECENT_ACCESSES`] so they follow
//! recent habits.
//!
//! On a user's first access to a resource of a kind they already use
//! (after the learning period):
//!
//! * `rate = (firsts + m · rate_pool) / (accesses + m)`: the Good–Turing
//!   chance that this user's next access of the kind is a first one, the
//!   share of their recent accesses that were first accesses, shrunk
//!   towards their peer group's (`rate_pool = (firsts + ½) / (accesses + 1)`
//!   over all members; the organisation's when the user has no group),
//!   worth `m = prior_accesses` accesses. An administrator who logs on to a
//!   new machine every day has a rate near 1; a clerk who logs on to their
//!   own machine every day has one near 0;
//! * `rarity = p_peer · p_org`, where
//!   `p_peer = (other peer-group members who touched it + α) / (other members + 1)`
//!   (1 when the user has no peer group),
//!   `p_org = (other users who touched it + α) / (other users + 1)`, and `α`
//!   is `pseudocount` (0.2): how much "nobody yet" is worth;
//! * `relative = min(1, rarity / typical)`, where `typical` is the geometric
//!   mean rarity of the user's recent discoveries of the kind, shrunk
//!   towards their pool's (worth five discoveries), itself shrunk towards 1
//!   by twenty discoveries, so a small team's few discoveries discount
//!   little:
//!   what is rare is judged against what this user usually discovers. The
//!   discoveries of the learning period are rated once it ends, when who
//!   touches what is known (rated as they happened, they would look rarer
//!   than they are); later ones as they happen. An administrator's discoveries are all machines one
//!   other person uses, so one more is not rare for them;
//! * resources whose name matches a `sensitive` glob (`*` any run of
//!   characters, `?` one character) are multiplied by `sensitive_factor`.
//!
//! `p_novel = rate · relative`.
//!
//! ## Owned resources
//!
//! A resource one user has used on most of its days (their workstation) is
//! *owned*: a first access by someone else is evidence of its own, however
//! many unowned or brand-new resources the accessor usually discovers.
//! Per resource the detector counts its users `K`, its user-days `N`
//! (distinct user × local day) and its owner, the user with the most days
//! on it, who owns it while they hold more than half of the `N`:
//!
//! * `p_new = (K − ½) / N`: the chance that the resource's next user-day
//!   brings a user new to it. Every user-day after the first either
//!   brought a new user or not, `K − 1` of `N − 1` did; a Jeffreys
//!   half-count gives `(K − 1 + ½) / (N − 1 + 1)`. One user over twenty
//!   days gives 1/40; one over a single day ½, so ownership needs days
//!   behind it;
//! * `owned_rate`: the chance that this user's next access of the kind is a
//!   first access to a resource someone else owns, their share of such
//!   accesses among their recent accesses, shrunk towards their pool's as
//!   `rate` is. An administrator who logs on to a different user's machine
//!   every week has a high one; a clerk who only ever logs on to their own
//!   or to brand-new machines one near 0;
//! * `owned_relative = min(1, p_new / typical)`, `typical` the geometric
//!   mean `p_new` of the owned resources the user recently entered (shrunk
//!   as for `relative`), so entering a machine owned for months is judged
//!   against how established the machines they usually enter are.
//!
//! `p_owned = owned_rate · owned_relative`, and
//! `p = min(p_novel, p_owned) (· sensitive_factor)`: the stronger of the two
//! readings of the same first access. A resource with no owner (nobody yet,
//! or shared without a majority user) is scored by `p_novel` alone.
//!
//! A first access to a kind the user has never used (removable media after
//! weeks of logons) is scored the same way one level up: `rate` is the
//! user's share of recent accesses that started a new kind (shrunk towards
//! the pool's), and `relative` the share of the pool's other members who
//! use the kind at all (with `α`). A long history without a new kind makes
//! the first one strong even when a quarter of the organisation uses it.
//!
//! An owned resource's owner is named in the reason and in the `owner`
//! evidence (and `sole_user` when nobody else has used it), with
//! `owner_days`, `resource_user_days`, `new_user_chance` (`p_new`),
//! `owned_access_rate`, `owned_relative`, `p_owned` and `p_novel`.
//!
//! The score is `score_from_p(p)`. With 20 users per team, 200 users and
//! a month of a few tables a day, where a usual discovery is a team table a
//! tenth of the organisation reads: a table the user's team uses scores
//! ~18 (dropped), a sensitive table only other teams read ~43, a table
//! nobody has read ~58 and a sensitive one ~68. On workstation logons, an
//! administrator's logon to one more machine of one other user scores ~3,
//! the same logon by a clerk whose team never does it ~77, and a clerk's
//! first removable media after three weeks, a quarter of the team using
//! one, ~44. A staff member who logs on to a brand-new machine every day
//! (so `p_novel` says little, under 20) scores ~56 on their first logon to
//! a colleague's machine of twenty days; an administrator who enters a
//! different colleague's machine every week ~12 on one more.
//!
//! # Findings
//!
//! One per (user, resource), on the first access ever (or, while the
//! access is not learned, on the first of each day: see below), and only
//! after the global learning period (`learning_days` of event time from the
//! first event seen) and the user's first active day; during them the
//! detector only learns who touches what and how often each user
//! discovers. Scores below `min_score` are dropped.
//!
//! # Events not to learn from
//!
//! An event with `learn` false (the host holds the user out of learning,
//! e.g. while their alert episode is open) is scored like any other but
//! teaches nothing, so an ongoing attack does not become the user's normal:
//! the resource does not join the resources they know, the access counts
//! towards no discovery or ownership rate (theirs or their pools'), the
//! resource gains no user, user-day, peer-group toucher or owner, and the
//! user's peer group and active days stay as they were (an unlearned event
//! on a new day is scored as on that day, which is not added to their
//! history). A repeat access does nothing. An insider reading one new
//! table after another is thus judged on each against the habits from
//! before the episode, however many they read, and each table is still new
//! to them afterwards: their first learned access to it is scored and
//! learned as a first access. Since it stays new, a resource first accessed
//! in unlearned events is reported once per local day it is used; the
//! day's list of such resources is all these events add to the state, and
//! is dropped at the user's next learned event. An unlearned event does
//! not start the learning period (it may end it: the period's discoveries
//! are then rated, from what learned events taught), and a user the
//! detector has not learned is not scored (as on their first day).
//!
//! # Time
//!
//! A user's active days are counted when their local day moves forward (or
//! jumps back by more than a day, so a far-future timestamp cannot stop the
//! count for good); an access is counted once per resource and local day.
//!
//! # Memory
//!
//! Per user about 104 bytes plus 24 bytes per distinct resource touched
//! (its id, the day of the latest access and the days accessed), at most
//! [`MAX_RESOURCES_PER_USER`] (accesses to further new resources are
//! neither tracked nor scored), plus 44 bytes per kind used (accesses,
//! first accesses, rarity of discoveries, and the same for first accesses
//! to owned resources), plus 4 bytes per resource first accessed today in
//! events not learned from. Per resource about 64 bytes (with its owner, the
//! owner's days and its user-days) plus 8 bytes per peer group that touched
//! it; per peer group, and once for the organisation, 44 bytes per kind its
//! members use; per kind its name.
//! Ids at or above 2²⁰ are kept in a B-tree, so a huge id never allocates a
//! huge vector.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::novelty::{Discovery, FirstToday};
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, Info, Symbols, config, score_from_p,
};

use ueba_sdk::table::Table;

/// Distinct resources tracked per user; bounds memory for crawlers.
pub const MAX_RESOURCES_PER_USER: usize = 1 << 16;
/// Accesses (user × resource × day) after which a user's discovery counts
/// are halved, so the rate follows their recent habits.
pub const RECENT_ACCESSES: f32 = 256.0;
/// The same for a pool (peer group or organisation).
const POOL_RECENT_ACCESSES: f32 = 8192.0;
/// Rated discoveries after which the typical rarity is halved.
const RECENT_DISCOVERIES: f32 = 64.0;
/// How many discoveries the pool's typical rarity is worth for a user.
const TYPICAL_PRIOR: f64 = 5.0;
/// How many discoveries of rarity 1 (no discount) a pool's typical rarity
/// is shrunk towards: a small team's few discoveries discount little.
const TYPICAL_POOL_PRIOR: f64 = 20.0;
/// Kind names tracked; resources of further kinds share the last one.
const MAX_KINDS: usize = 1024;
const NO_DAY: i64 = i64::MIN;
const NO_USER: u32 = u32::MAX;
/// The kind of a resource whose kind nobody has used yet, in an event that
/// may not be learned (so the kind is not named).
const UNSEEN_KIND: u32 = u32::MAX;
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
    /// (glob, kind) pairs; a resource's kind is that of the first glob it
    /// matches, else its shape (see the module docs).
    pub kinds: Vec<(String, String)>,
    /// How many accesses the peer group's discovery rate is worth.
    pub prior_accesses: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            sensitive: DEFAULT_SENSITIVE.iter().map(|s| s.to_string()).collect(),
            sensitive_factor: 0.1,
            pseudocount: 0.2,
            kinds: Vec::new(),
            prior_accesses: 30.0,
        }
    }
}

/// The kind of a resource by its shape, when no `kinds` glob matches: a
/// dotted name (`schema.table`) is a `table`; any other name is itself with
/// every run of digits replaced by `#`, so `PC-1234` and `PC-77` are both of
/// kind `PC-#` and `removable-media` is a kind of its own.
///
/// ```
/// assert_eq!(ueba_novel_table::shape_kind("support.customers"), "table");
/// assert_eq!(ueba_novel_table::shape_kind("PC-1234"), "PC-#");
/// assert_eq!(ueba_novel_table::shape_kind("removable-media"), "removable-media");
/// ```
pub fn shape_kind(name: &str) -> String {
    if name.contains('.') {
        return "table".to_string();
    }
    let mut kind = String::with_capacity(name.len());
    let mut in_digits = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                kind.push('#');
            }
            in_digits = true;
        } else {
            kind.push(c);
            in_digits = false;
        }
    }
    kind
}

/// The novel-table detector: first accesses scored by the user's own
/// discovery rate and by how unusual the resource is for their peer group
/// and the organisation, relative to what they usually discover.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NovelTable {
    config: Config,
    /// Bumped when `sensitive` or `kinds` change, so cached matches are
    /// recomputed.
    config_generation: u32,
    first_ms: Option<i64>,
    /// Whether the discoveries of the learning period have been rated.
    learning_rated: bool,
    /// Every user id seen, in order of first sight.
    user_ids: Vec<u32>,
    users: Table<User>,
    resources: Table<Resource>,
    groups: Table<Pool>,
    /// The whole organisation, as a pool; its `members` is the user count.
    org: Pool,
    kind_names: Vec<String>,
    kind_index: BTreeMap<String, u32>,
}

/// Discovery counts of a user, or a pool of users, in one kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct KindStats {
    kind: u32,
    discovery: Discovery,
    /// First accesses to a resource another user owns (see the module
    /// docs), among the same accesses; rated by the ownership evidence.
    #[serde(default)]
    owned: Discovery,
    /// For a pool: members who have used the kind.
    users: u32,
}

/// Per-kind discovery counts, sorted by kind, plus the rate of first
/// accesses to a kind never used before.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Kinds {
    per_kind: Vec<KindStats>,
    new_kind: Discovery,
}

impl Kinds {
    fn get(&self, kind: u32) -> Option<&KindStats> {
        self.per_kind
            .binary_search_by_key(&kind, |k| k.kind)
            .ok()
            .map(|i| &self.per_kind[i])
    }

    fn entry(&mut self, kind: u32) -> &mut KindStats {
        let i = match self.per_kind.binary_search_by_key(&kind, |k| k.kind) {
            Ok(i) => i,
            Err(i) => {
                self.per_kind.insert(
                    i,
                    KindStats {
                        kind,
                        ..KindStats::default()
                    },
                );
                i
            }
        };
        &mut self.per_kind[i]
    }
}

/// A peer group or the organisation: members, and their pooled kinds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Pool {
    members: u32,
    kinds: Kinds,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Touch {
    resource: u32,
    /// Local day of the latest access.
    day: i64,
    /// Whether the first access was a discovery of a kind the user already
    /// used during the learning period, whose rarity is rated when the
    /// period ends.
    learnt: bool,
    /// Distinct local days on which the user accessed it.
    #[serde(default)]
    days: u32,
}

/// A first access that was reported, held out of the user's habits until
/// their day closes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Held {
    kind: u32,
    new_kind: bool,
    rarity: f64,
    /// The chance a new user appears, when the resource had another owner.
    #[serde(default)]
    owned: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    /// Resources touched, sorted by id.
    touched: Vec<Touch>,
    last_day: i64,
    active_days: u32,
    kinds: Kinds,
    held: Vec<Held>,
    /// First accesses scored in today's events that may not be learned.
    #[serde(default)]
    unlearned: FirstToday<u32>,
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            touched: Vec::new(),
            last_day: NO_DAY,
            active_days: 0,
            kinds: Kinds::default(),
            held: Vec::new(),
            unlearned: FirstToday::default(),
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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Resource {
    users: u32,
    per_group: Vec<(u32, u32)>,
    /// The user with the most days on it (the first on a tie): its owner
    /// while they hold most of its user-days.
    #[serde(alias = "first_user")]
    owner: u32,
    /// Distinct local days of the owner on it.
    #[serde(default)]
    owner_days: u32,
    /// Distinct (user, local day) accesses of all its users.
    #[serde(default)]
    user_days: u32,
    /// Whether the name matched `sensitive`, and its kind, under config
    /// generation `.0`.
    sensitive: Option<(u32, bool)>,
    kind: Option<(u32, u32)>,
}

impl Default for Resource {
    fn default() -> Self {
        Resource {
            users: 0,
            per_group: Vec::new(),
            owner: NO_USER,
            owner_days: 0,
            user_days: 0,
            sensitive: None,
            kind: None,
        }
    }
}

impl Resource {
    /// Who owns the resource, if someone other than `user` does, and the
    /// chance that its next user-day brings a user new to it: of its
    /// `user_days` (N) after the first, `users − 1` (K − 1) brought a new
    /// user, so with a Jeffreys half-count the chance is
    /// `(K − 1 + ½) / (N − 1 + 1) = (K − ½) / N`. One user over N days
    /// gives `1 / 2N`. A user owns it while they hold more than half of
    /// its user-days.
    fn ownership(&self, user: u32) -> Option<(u32, f64)> {
        if self.owner == NO_USER
            || self.owner == user
            || self.user_days == 0
            || 2 * u64::from(self.owner_days) <= u64::from(self.user_days)
        {
            return None;
        }
        let p = (f64::from(self.users) - 0.5) / f64::from(self.user_days);
        Some((self.owner, p.clamp(0.0, 1.0)))
    }

    /// Count a new (user, day) on the resource; `days` is the user's days
    /// on it including this one.
    fn add_day(&mut self, user: u32, days: u32) {
        self.user_days = self.user_days.saturating_add(1);
        if self.owner == user {
            self.owner_days = days;
        } else if self.owner == NO_USER || days > self.owner_days {
            self.owner = user;
            self.owner_days = days;
        }
    }

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

/// Who else touches a resource, for the score and the evidence.
struct Peers {
    group: Option<u32>,
    touch: u32,
    others: u32,
}

impl NovelTable {
    /// Whether `time_ms` falls in the global learning period, which starts
    /// at the first learned event: an event that may not be learned does
    /// not start it.
    fn learning(&mut self, time_ms: i64, learn: bool) -> bool {
        let first = match self.first_ms {
            Some(first) => first,
            None if learn => *self.first_ms.insert(time_ms),
            None => return true,
        };
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    /// Move a user's memberships from one peer group to another, so group
    /// counts always describe current members. Discovery counts stay with
    /// the group they were made in: they describe its habits.
    fn regroup(&mut self, user_id: u32, to: u32) {
        let Some(user) = self.users.get(user_id) else {
            return;
        };
        let from = user.group;
        if from == Some(to) {
            return;
        }
        let touched: Vec<u32> = user.touched.iter().map(|t| t.resource).collect();
        let kinds: Vec<u32> = user.kinds.per_kind.iter().map(|k| k.kind).collect();
        if let Some(f) = from {
            let pool = self.groups.get_or_insert_with(f, Pool::default);
            pool.members = pool.members.saturating_sub(1);
            for &k in &kinds {
                let e = pool.kinds.entry(k);
                e.users = e.users.saturating_sub(1);
            }
        }
        let pool = self.groups.get_or_insert_with(to, Pool::default);
        pool.members = pool.members.saturating_add(1);
        for &k in &kinds {
            let e = pool.kinds.entry(k);
            e.users = e.users.saturating_add(1);
        }
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

    /// Whether a resource is sensitive, and its kind, cached per resource.
    fn classify(&mut self, symbols: &Symbols, resource: u32) -> (bool, u32) {
        if let Some(class) = self.cached_class(resource) {
            return class;
        }
        let generation = self.config_generation;
        let name = symbols.resource(resource);
        let (sensitive, kind_name) = self.match_config(name);
        let kind = match self.kind_index.get(&kind_name) {
            Some(&k) => k,
            None if self.kind_names.len() < MAX_KINDS => {
                let k = self.kind_names.len() as u32;
                self.kind_names.push(kind_name.clone());
                self.kind_index.insert(kind_name, k);
                k
            }
            None => (MAX_KINDS - 1) as u32,
        };
        // An id whose text has not arrived reads as "": decide it again
        // once it has.
        let res = self
            .resources
            .get_or_insert_with(resource, Resource::default);
        if !name.is_empty() {
            res.sensitive = Some((generation, sensitive));
            res.kind = Some((generation, kind));
        }
        (sensitive, kind)
    }

    /// [`NovelTable::classify`] for an event that may not be learned, which
    /// leaves the resources and kinds as they are: a kind nobody has used
    /// yet is [`UNSEEN_KIND`], which no user or pool has, returned with its
    /// name.
    fn peek_class(&self, symbols: &Symbols, resource: u32) -> (bool, u32, Option<String>) {
        if let Some((sensitive, kind)) = self.cached_class(resource) {
            return (sensitive, kind, None);
        }
        let (sensitive, kind_name) = self.match_config(symbols.resource(resource));
        match self.kind_index.get(&kind_name) {
            Some(&k) => (sensitive, k, None),
            None if self.kind_names.len() < MAX_KINDS => (sensitive, UNSEEN_KIND, Some(kind_name)),
            None => (sensitive, (MAX_KINDS - 1) as u32, None),
        }
    }

    /// The cached sensitivity and kind of a resource, when they were decided
    /// under the current configuration.
    fn cached_class(&self, resource: u32) -> Option<(bool, u32)> {
        let generation = self.config_generation;
        let res = self.resources.get(resource)?;
        match (res.sensitive, res.kind) {
            (Some((g, s)), Some((h, k))) if g == generation && h == generation => Some((s, k)),
            _ => None,
        }
    }

    /// Whether a resource name matches a `sensitive` glob, and the name of
    /// its kind.
    fn match_config(&self, name: &str) -> (bool, String) {
        let sensitive = self
            .config
            .sensitive
            .iter()
            .any(|p| ueba_sdk::glob::matches(p, name));
        let kind_name = self
            .config
            .kinds
            .iter()
            .find(|(glob, _)| ueba_sdk::glob::matches(glob, name))
            .map_or_else(|| shape_kind(name), |(_, kind)| kind.clone());
        (sensitive, kind_name)
    }

    /// The pool a user's habits are shrunk towards: their peer group when it
    /// has other members, else the organisation.
    fn pool(&self, group: Option<u32>) -> &Pool {
        group
            .and_then(|g| self.groups.get(g))
            .filter(|p| p.members > 1)
            .unwrap_or(&self.org)
    }

    /// Count an access (first or not) of `kind` by `user`, in the user's
    /// counts and in their group's and the organisation's.
    /// `owned` says the access was the first to a resource another user
    /// owns.
    fn count_access(&mut self, user_id: u32, kind: u32, first: bool, new_kind: bool, owned: bool) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let group = user.group;
        let k = user.kinds.entry(kind);
        k.discovery.access(first, RECENT_ACCESSES);
        k.owned.access(owned, RECENT_ACCESSES);
        user.kinds.new_kind.access(new_kind, RECENT_ACCESSES);
        let update = |pool: &mut Pool| {
            let e = pool.kinds.entry(kind);
            e.discovery.access(first, POOL_RECENT_ACCESSES);
            e.owned.access(owned, POOL_RECENT_ACCESSES);
            if new_kind {
                e.users = e.users.saturating_add(1);
            }
            pool.kinds.new_kind.access(new_kind, POOL_RECENT_ACCESSES);
        };
        if let Some(g) = group {
            update(self.groups.get_or_insert_with(g, Pool::default));
        }
        update(&mut self.org);
    }

    /// Record how rare a scored discovery of `kind` was.
    fn rate_discovery(&mut self, user_id: u32, kind: u32, rarity: f64) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let group = user.group;
        user.kinds
            .entry(kind)
            .discovery
            .rate_rarity(rarity, RECENT_DISCOVERIES);
        if let Some(g) = group {
            let pool = self.groups.get_or_insert_with(g, Pool::default);
            pool.kinds
                .entry(kind)
                .discovery
                .rate_rarity(rarity, 4.0 * RECENT_DISCOVERIES);
        }
        self.org
            .kinds
            .entry(kind)
            .discovery
            .rate_rarity(rarity, 4.0 * RECENT_DISCOVERIES);
    }

    /// Record the ownership evidence (the chance a new user appears) of a
    /// first access to a resource another user owns.
    fn rate_owned(&mut self, user_id: u32, kind: u32, p_new: f64) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let group = user.group;
        user.kinds
            .entry(kind)
            .owned
            .rate_rarity(p_new, RECENT_DISCOVERIES);
        if let Some(g) = group {
            let pool = self.groups.get_or_insert_with(g, Pool::default);
            pool.kinds
                .entry(kind)
                .owned
                .rate_rarity(p_new, 4.0 * RECENT_DISCOVERIES);
        }
        self.org
            .kinds
            .entry(kind)
            .owned
            .rate_rarity(p_new, 4.0 * RECENT_DISCOVERIES);
    }

    /// Rate the rarity of every discovery made during the learning period,
    /// now that who touches what is known: rated as they happened, they
    /// would all look rarer than they are, and make every later discovery
    /// look common. Each is judged as the user's first access, without the
    /// user among its touchers. Runs once, over all users' resources.
    fn rate_learning_period(&mut self) {
        self.learning_rated = true;
        let a = self.config.pseudocount;
        let org_others = f64::from(self.org.members.saturating_sub(1));
        for i in 0..self.user_ids.len() {
            let id = self.user_ids[i];
            let Some(user) = self.users.get(id) else {
                continue;
            };
            let group = user.group;
            let learnt: Vec<u32> = user
                .touched
                .iter()
                .filter(|t| t.learnt)
                .map(|t| t.resource)
                .collect();
            for r in learnt {
                let res = self.resources.get(r);
                let Some((_, kind)) = res.and_then(|r| r.kind) else {
                    continue;
                };
                let peers = self.peers(group, res);
                let p_peer = peers.group.map_or(1.0, |_| {
                    (f64::from(peers.touch.saturating_sub(1)) + a) / (f64::from(peers.others) + 1.0)
                });
                let org_touch = f64::from(res.map_or(0, |r| r.users.saturating_sub(1)));
                let p_org = (org_touch + a) / (org_others + 1.0);
                self.rate_discovery(id, kind, (p_peer * p_org).clamp(0.0, 1.0));
            }
        }
    }

    fn peers(&self, group: Option<u32>, res: Option<&Resource>) -> Peers {
        match group {
            Some(g) => Peers {
                group: Some(g),
                touch: res.map_or(0, |r| r.group_count(g)),
                others: self
                    .groups
                    .get(g)
                    .map_or(1, |p| p.members)
                    .saturating_sub(1),
            },
            None => Peers {
                group: None,
                touch: res.map_or(0, |r| r.users),
                others: self.org.members.saturating_sub(1),
            },
        }
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms, e.learn);
        if self.users.get(e.user).is_none() {
            // A user with nothing learned is on no active day yet, so
            // there is nothing to score an unlearned event of theirs by.
            if !e.learn {
                return;
            }
            self.org.members = self.org.members.saturating_add(1);
            self.user_ids.push(e.user);
        }
        // Rating the learning period's discoveries folds in only what
        // learned events taught, so an unlearned event may trigger it too,
        // and is then scored as it would be otherwise.
        if !learning && !self.learning_rated {
            self.rate_learning_period();
        }
        if e.learn {
            self.users.get_or_insert_with(e.user, User::default);
            if let Some(g) = e.peer_group {
                self.regroup(e.user, g);
            }
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        let day = e.local_day();
        let new_day = user.starts_day(day);
        // The active days this event is scored on: an unlearned event's day
        // counts for its score but is not added to the user's history.
        let active_days = user.active_days.saturating_add(u32::from(new_day));
        if e.learn {
            user.unlearned = FirstToday::default();
            if new_day {
                user.active_days = active_days;
                let held = std::mem::take(&mut user.held);
                for h in held {
                    if !h.new_kind {
                        self.rate_discovery(e.user, h.kind, h.rarity);
                    }
                    if let Some(p_new) = h.owned {
                        self.rate_owned(e.user, h.kind, p_new);
                    }
                    self.count_access(e.user, h.kind, true, h.new_kind, h.owned.is_some());
                }
                let Some(user) = self.users.get_mut(e.user) else {
                    return;
                };
                user.last_day = day;
            }
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        // Habits are counted from the user's second active day: on the
        // first, everything is new.
        let counted = active_days > 1;
        if !e.learn && (learning || !counted) {
            // Neither scored nor learned.
            return;
        }
        let slot = match user
            .touched
            .binary_search_by_key(&e.resource, |t| t.resource)
        {
            // A repeat access teaches habits and ownership, and is no
            // finding: an unlearned one has nothing to do.
            Ok(_) if !e.learn => return,
            Ok(i) => {
                let t = &mut user.touched[i];
                if t.day != day {
                    t.day = day;
                    t.days = t.days.saturating_add(1);
                    let days = t.days;
                    let res = self
                        .resources
                        .get_or_insert_with(e.resource, Resource::default);
                    res.add_day(e.user, days);
                    if counted && let Some((_, kind)) = res.kind {
                        self.count_access(e.user, kind, false, false, false);
                    }
                }
                return;
            }
            Err(_) if user.touched.len() >= MAX_RESOURCES_PER_USER => return,
            Err(i) => i,
        };
        if !e.learn
            && !user
                .unlearned
                .first_today(e.resource, day, MAX_RESOURCES_PER_USER)
        {
            return;
        }
        let (sensitive, kind, unseen_kind) = if e.learn {
            let (sensitive, kind) = self.classify(symbols, e.resource);
            (sensitive, kind, None)
        } else {
            self.peek_class(symbols, e.resource)
        };
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let group = user.group;
        let own = user.kinds.get(kind);
        let new_kind = own.is_none();
        let res = self.resources.get(e.resource);
        let org_touch = res.map_or(0, |r| r.users);
        let org_others = self.org.members.saturating_sub(1);
        let ownership = res.and_then(|r| r.ownership(e.user));
        let sole = res.is_some_and(|r| r.users == 1);
        let owner_days = res.map_or(0, |r| r.owner_days);
        let resource_days = res.map_or(0, |r| r.user_days);
        let peers = self.peers(group, res);
        let a = self.config.pseudocount;
        let p_peer = peers.group.map_or(1.0, |_| {
            (f64::from(peers.touch) + a) / (f64::from(peers.others) + 1.0)
        });
        let p_org = (f64::from(org_touch) + a) / (f64::from(org_others) + 1.0);
        let rarity = (p_peer * p_org).clamp(0.0, 1.0);
        let mut flagged = false;
        if !learning && counted {
            let pool = self.pool(group);
            let pool_kind = pool.kinds.get(kind);
            let w = self.config.prior_accesses;
            let empty = KindStats::default();
            let (rate, relative, accesses) = if new_kind {
                // A kind the user never used: the chance their next access
                // starts a new kind, and how few of their peers use it.
                let users = f64::from(pool_kind.map_or(0, |k| k.users));
                let others = f64::from(pool.members.saturating_sub(1));
                let share = ((users + a) / (others + 1.0)).min(1.0);
                let rate = user.kinds.new_kind.rate_with_prior(&pool.kinds.new_kind, w);
                (rate, share, user.kinds.new_kind.accesses)
            } else {
                let own = own.unwrap_or(&empty);
                let prior = pool_kind.map_or(&empty.discovery, |k| &k.discovery);
                let rate = own.discovery.rate_with_prior(prior, w);
                let typical =
                    own.discovery
                        .typical_log_rarity(prior, TYPICAL_PRIOR, TYPICAL_POOL_PRIOR);
                let relative = Discovery::relative_rarity(rarity, typical);
                (rate, relative, own.discovery.accesses)
            };
            // A resource another user owns: the chance this user's next
            // access is a first one to someone else's resource, times how
            // much more owned this one is than those they usually enter.
            let owned = ownership.map(|(_, p_new)| {
                let own = own.map_or(&empty.owned, |k| &k.owned);
                let prior = pool_kind.map_or(&empty.owned, |k| &k.owned);
                let rate = own.rate_with_prior(prior, w);
                let typical = own.typical_log_rarity(prior, TYPICAL_PRIOR, TYPICAL_POOL_PRIOR);
                (rate, Discovery::relative_rarity(p_new, typical), p_new)
            });
            let factor = if sensitive {
                self.config.sensitive_factor
            } else {
                1.0
            };
            let p_novel = rate * relative;
            let p_owned = owned.map_or(1.0, |(r, rel, _)| r * rel);
            let p = (p_novel.min(p_owned) * factor).clamp(0.0, 1.0);
            let score = score_from_p(p);
            if score >= self.config.min_score {
                let name = symbols.resource(e.resource);
                let kind_name = self
                    .kind_names
                    .get(kind as usize)
                    .or(unseen_kind.as_ref())
                    .map_or("", String::as_str);
                let peer_text = match peers.group {
                    Some(g) => format!(
                        "{} of {} {} peers",
                        peers.touch,
                        peers.others,
                        symbols.peer_group(g)
                    ),
                    None => "no peer group".to_string(),
                };
                let owner_name = ownership.map(|(o, _)| match symbols.user(o) {
                    "" => format!("user #{o}"),
                    n => n.to_string(),
                });
                let mut reason = format!(
                    "first access to {}{name}; {peer_text} and {org_touch} of {org_others} users have touched it",
                    if sensitive { "sensitive " } else { "" }
                );
                if let Some(o) = &owner_name {
                    if sole {
                        reason.push_str(&format!(", only {o} uses it ({owner_days} days)"));
                    } else {
                        reason.push_str(&format!(
                            ", mostly {o} ({owner_days} of {resource_days} user-days)"
                        ));
                    }
                }
                if new_kind {
                    reason.push_str(&format!(
                        "; the user's first {kind_name} after {accesses:.0} recent accesses, starting a new kind on {:.1}% of them",
                        100.0 * rate
                    ));
                } else {
                    reason.push_str(&format!(
                        "; the user's recent {kind_name} accesses are new {:.1}% of the time",
                        100.0 * rate
                    ));
                }
                if let Some((rate, _, _)) = owned {
                    reason.push_str(&format!(
                        "; a first access to another user's resource is {:.1}% of the user's recent accesses",
                        100.0 * rate
                    ));
                }
                let mut f = Finding::new(e.seq, score, reason)
                    .with("resource", name)
                    .with("kind", kind_name)
                    .with("first_of_kind", i64::from(new_kind))
                    .with("peer_users_touching", peers.touch)
                    .with("peer_size", peers.others)
                    .with("org_users_touching", org_touch)
                    .with("org_users", org_others)
                    .with("sensitive", i64::from(sensitive))
                    .with("discovery_rate", rate)
                    .with("recent_accesses", f64::from(accesses))
                    .with("rarity", rarity)
                    .with("relative_rarity", relative)
                    .with("user_active_days", active_days)
                    .with("p", p);
                if let (Some(o), Some((_, relative, p_new))) = (owner_name, owned) {
                    if sole {
                        f = f.with("sole_user", o.clone());
                    }
                    f = f
                        .with("owner", o)
                        .with("owner_days", owner_days)
                        .with("resource_user_days", resource_days)
                        .with("new_user_chance", p_new)
                        .with("owned_access_rate", owned.map_or(0.0, |o| o.0))
                        .with("owned_relative", relative)
                        .with("p_owned", p_owned)
                        .with("p_novel", p_novel);
                }
                out.push(f);
                flagged = true;
            }
        }
        if !e.learn {
            return;
        }
        if counted && flagged {
            // A reported first access does not teach the user's habits
            // until their day closes, so a second one in the same episode
            // is judged against the habits before it.
            if let Some(user) = self.users.get_mut(e.user) {
                user.kinds.entry(kind);
                user.held.push(Held {
                    kind,
                    new_kind,
                    rarity,
                    owned: ownership.map(|(_, p)| p),
                });
            }
        } else if counted {
            // Rarities are rated from the end of the learning period: before
            // it, who touches what is still being learnt, and everything
            // looks rarer than it is.
            if !new_kind && !learning {
                self.rate_discovery(e.user, kind, rarity);
            }
            if let Some((_, p_new)) = ownership
                && !learning
            {
                self.rate_owned(e.user, kind, p_new);
            }
            self.count_access(e.user, kind, true, new_kind, ownership.is_some());
        } else if new_kind {
            // The first day's kinds are known, not discovered.
            if let Some(user) = self.users.get_mut(e.user) {
                user.kinds.entry(kind);
            }
            let known = |pool: &mut Pool| {
                let k = pool.kinds.entry(kind);
                k.users = k.users.saturating_add(1);
            };
            if let Some(g) = group {
                known(self.groups.get_or_insert_with(g, Pool::default));
            }
            known(&mut self.org);
        }
        let res = self
            .resources
            .get_or_insert_with(e.resource, Resource::default);
        res.users = res.users.saturating_add(1);
        res.add_day(e.user, 1);
        if let Some(g) = group {
            res.add_group(g, 1);
        }
        if let Some(user) = self.users.get_mut(e.user) {
            user.touched.insert(
                slot,
                Touch {
                    resource: e.resource,
                    day,
                    learnt: learning && counted && !new_kind,
                    days: 1,
                },
            );
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
                    name: "kinds",
                    default: "[]",
                    description: "[glob, kind] pairs, e.g. [[\"PC-*\", \"workstation\"], [\"*.customers\", \"table\"]]; a resource's kind is that of the first glob it matches, else its shape (dotted names are tables; otherwise the name with digit runs as #, so PC-1234 is PC-#); discovery rates are kept per kind",
                },
                ConfigKey {
                    name: "prior_accesses",
                    default: "30.0",
                    description: "how many of a user's own recent accesses (user x resource x day) the peer group's discovery rate is worth",
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
            "kinds" => {
                self.config.kinds = config::parse(key, value)?;
                self.config_generation = self.config_generation.wrapping_add(1);
            }
            "prior_accesses" => {
                self.config.prior_accesses = config::parse_in_range(key, value, 0.0, 1e6)?
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
