//! Risk per resource and per source: a table read anomalously by several
//! users, a source address several accounts acted from anomalously.
//!
//! User risk ([`super::aggregate`]) answers "who"; an analyst also asks
//! "what is being taken" and "from where". Every finding that adds risk to
//! a user (not one an exception or a benign verdict keeps from risk) also
//! counts towards its event's resource and, when known, its source.
//!
//! For each entity and each user whose findings concern it, the
//! *contribution* is the strongest finding score about it, decaying with
//! the same half-life as user risk (`risk.half_life_hours`) and capped at
//! `risk.detector_cap`: one user's many findings about one table are one
//! piece of evidence. Users' contributions combine as one detector's
//! repeated findings do for a user: the strongest plus a capped bonus for
//! the rest,
//!
//! `risk = min(100, max_u c_u + min(repeat_cap, repeat_weight × (Σ_u c_u − max_u c_u)))`
//!
//! with `risk.repeat_weight` (0.25) and `risk.repeat_cap` (15). One user's
//! finding of 40 on a table leaves it at 40, three users' findings of 40 at
//! 55: a resource several people read anomalously stands out above any one
//! of them, while a busy table's many users with the small findings every
//! busy table collects do not add up to an alarm (they would, combined as
//! independent evidence: fifty findings of 20 make 99.999).
//! Per entity the [`USERS_KEPT`] strongest
//! contributions are kept (the weakest, decayed, makes way), and at most
//! [`MAX_ENTITIES`] entities of each kind are tracked; findings about
//! further entities are counted ([`EntityRisk::untracked`]), not lost.
//!
//! Entity risk raises no alerts: it ranks resources and sources in the
//! summary, `ueba eval` and the report. User alerts are unchanged by it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::RiskConfig;

/// Contributions kept per entity: the strongest users' evidence.
pub const USERS_KEPT: usize = 8;

/// Entities of one kind tracked at most, so a log naming millions of
/// resources or addresses in findings cannot grow the state without bound.
pub const MAX_ENTITIES: usize = 100_000;

/// What kind of entity: the event's resource or its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntityKind {
    /// The resource read or written (a table, a machine).
    Resource,
    /// Where the event came from (an address, a host).
    Source,
}

impl EntityKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Resource => "resource",
            EntityKind::Source => "source",
        }
    }
}

/// One user's evidence about an entity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Contribution {
    user: u32,
    score: f32,
    at_ms: i64,
}

/// What is kept about one entity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Entity {
    users: Vec<Contribution>,
    /// Distinct users whose findings concerned it, counted while fewer
    /// than [`USERS_KEPT`] are kept, then each user who takes a place.
    users_seen: u32,
    findings: u64,
    peak: f32,
    peak_ms: i64,
    /// The user who contributed most at the peak.
    peak_user: u32,
}

/// An entity's standing, for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityStanding {
    /// Resource or source.
    pub kind: EntityKind,
    /// Its symbol id (the caller names it).
    pub id: u32,
    /// Highest risk it reached.
    pub peak: f32,
    /// Event time of the peak, ms since the epoch.
    pub peak_ms: i64,
    /// Findings about it that added risk.
    pub findings: u64,
    /// Users whose findings concerned it (at least; see [`USERS_KEPT`]).
    pub users: u32,
    /// The users kept, strongest contribution at the end first.
    pub top_users: Vec<u32>,
}

/// Risk per resource and per source ([module docs](self)).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntityRisk {
    half_life_ms: f64,
    cap: f32,
    repeat_weight: f32,
    repeat_cap: f32,
    resources: BTreeMap<u32, Entity>,
    sources: BTreeMap<u32, Entity>,
    untracked: u64,
}

impl EntityRisk {
    /// Entity risk with user risk's half-life, single-detector cap and
    /// repeat bonus.
    pub fn new(cfg: &RiskConfig) -> Self {
        EntityRisk {
            half_life_ms: cfg.half_life_hours * 3_600_000.0,
            cap: cfg.detector_cap as f32,
            repeat_weight: cfg.repeat_weight as f32,
            repeat_cap: cfg.repeat_cap as f32,
            resources: BTreeMap::new(),
            sources: BTreeMap::new(),
            untracked: 0,
        }
    }

    /// Findings about entities beyond [`MAX_ENTITIES`] of their kind.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    fn decayed(&self, c: &Contribution, now_ms: i64) -> f32 {
        super::decayed(c.score, c.at_ms, now_ms, self.half_life_ms)
    }

    fn risk(&self, e: &Entity, now_ms: i64) -> f32 {
        let (max, sum) = e.users.iter().fold((0.0f32, 0.0f32), |(m, s), c| {
            let v = self.decayed(c, now_ms);
            (m.max(v), s + v)
        });
        let bonus = ((sum - max).max(0.0) * self.repeat_weight).min(self.repeat_cap);
        (max + bonus).min(100.0)
    }

    /// Count a finding of `score` (0–100) by `user` about entity `id` of
    /// `kind` at `time_ms`; returns the entity's risk after it.
    pub fn add(&mut self, kind: EntityKind, id: u32, user: u32, score: f64, time_ms: i64) -> f32 {
        let score = (score as f32).clamp(0.0, self.cap);
        let map = match kind {
            EntityKind::Resource => &mut self.resources,
            EntityKind::Source => &mut self.sources,
        };
        if !map.contains_key(&id) && map.len() >= MAX_ENTITIES {
            self.untracked += 1;
            return 0.0;
        }
        let mut e = map.remove(&id).unwrap_or_default();
        e.findings += 1;
        match e.users.iter().position(|c| c.user == user) {
            Some(i) => {
                let now = self.decayed(&e.users[i], time_ms);
                let c = &mut e.users[i];
                c.score = now.max(score);
                c.at_ms = c.at_ms.max(time_ms);
            }
            None => {
                let new = Contribution {
                    user,
                    score,
                    at_ms: time_ms,
                };
                if e.users.len() < USERS_KEPT {
                    e.users.push(new);
                    e.users_seen += 1;
                } else if let Some((i, weakest)) = e
                    .users
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i, self.decayed(c, time_ms)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    && weakest < score
                {
                    e.users[i] = new;
                    e.users_seen = e.users_seen.saturating_add(1);
                }
            }
        }
        let risk = self.risk(&e, time_ms);
        if risk > e.peak {
            e.peak = risk;
            e.peak_ms = time_ms;
            e.peak_user = e
                .users
                .iter()
                .max_by(|a, b| {
                    self.decayed(a, time_ms)
                        .total_cmp(&self.decayed(b, time_ms))
                        .then(b.user.cmp(&a.user))
                })
                .map_or(user, |c| c.user);
        }
        let map = match kind {
            EntityKind::Resource => &mut self.resources,
            EntityKind::Source => &mut self.sources,
        };
        map.insert(id, e);
        risk
    }

    /// The `n` entities of `kind` with the highest peak risk, highest
    /// first; ties (the busiest tables can all reach 100) go to the entity
    /// with more findings, then by id, so the order is the same every run.
    pub fn top(&self, kind: EntityKind, n: usize) -> Vec<EntityStanding> {
        let map = match kind {
            EntityKind::Resource => &self.resources,
            EntityKind::Source => &self.sources,
        };
        let mut all: Vec<(&u32, &Entity)> = map.iter().collect();
        all.sort_by(|a, b| {
            b.1.peak
                .total_cmp(&a.1.peak)
                .then(b.1.findings.cmp(&a.1.findings))
                .then(a.0.cmp(b.0))
        });
        all.into_iter()
            .take(n)
            .map(|(&id, e)| {
                let mut users: Vec<&Contribution> = e.users.iter().collect();
                users.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.user.cmp(&b.user)));
                let mut top_users = vec![e.peak_user];
                top_users.extend(users.iter().map(|c| c.user).filter(|u| *u != e.peak_user));
                EntityStanding {
                    kind,
                    id,
                    peak: e.peak,
                    peak_ms: e.peak_ms,
                    findings: e.findings,
                    users: e.users_seen,
                    top_users,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn risk() -> EntityRisk {
        EntityRisk::new(&RiskConfig {
            half_life_hours: 24.0,
            detector_cap: 90.0,
            repeat_weight: 0.25,
            repeat_cap: 15.0,
            ..RiskConfig::default()
        })
    }

    #[test]
    fn several_users_compound_and_one_user_does_not() {
        let mut r = risk();
        // One user's many findings about a table: their strongest counts.
        for i in 0..10 {
            r.add(EntityKind::Resource, 1, 7, 40.0, i * HOUR / 10);
        }
        let alone = r.top(EntityKind::Resource, 1)[0].peak;
        assert!((alone - 40.0).abs() < 0.5, "{alone}");
        // Three users at 40 on another table, at once: 40 + 0.25 × 80.
        for u in 0..3 {
            r.add(EntityKind::Resource, 2, u, 40.0, 0);
        }
        let top = r.top(EntityKind::Resource, 2);
        assert_eq!(top[0].id, 2);
        assert!((top[0].peak - 55.0).abs() < 0.1, "{}", top[0].peak);
        assert_eq!(top[0].users, 3);
        assert_eq!(top[1].users, 1);
        assert_eq!(top[1].findings, 10);
    }

    #[test]
    fn evidence_decays_and_is_capped() {
        let mut r = risk();
        assert_eq!(r.add(EntityKind::Source, 5, 1, 100.0, 0), 90.0);
        // A day later the first user's 90 is 45: with another 45, 56.25.
        let after = r.add(EntityKind::Source, 5, 2, 45.0, 24 * HOUR);
        assert!((after - 56.25).abs() < 0.1, "{after}");
    }

    #[test]
    fn many_users_small_findings_stay_below_one_strong_one() {
        let mut r = risk();
        for u in 0..50 {
            r.add(EntityKind::Resource, 1, u, 20.0, 0);
        }
        r.add(EntityKind::Resource, 2, 1, 60.0, 0);
        let top = r.top(EntityKind::Resource, 2);
        assert_eq!(top[0].id, 2, "one strong finding outranks fifty small ones");
        assert!((top[1].peak - 35.0).abs() < 0.1, "{}", top[1].peak);
    }

    #[test]
    fn kept_users_are_bounded_and_the_weakest_make_way() {
        let mut r = risk();
        for u in 0..(USERS_KEPT as u32 + 5) {
            r.add(EntityKind::Resource, 1, u, 10.0 + f64::from(u), 0);
        }
        let s = &r.top(EntityKind::Resource, 1)[0];
        assert_eq!(s.top_users.len(), USERS_KEPT);
        assert!(!s.top_users.contains(&0), "the weakest made way");
        assert_eq!(s.users as usize, USERS_KEPT + 5);
    }
}
