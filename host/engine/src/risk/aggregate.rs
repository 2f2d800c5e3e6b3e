//! Risk aggregation: findings in, per-user risk and alerts out.
//!
//! For each user and detector the aggregator keeps a *component*: the
//! strongest finding's score plus a capped bonus for repeats
//! (`max + min(repeat_cap, repeat_weight × (sum − max))`), both decaying with
//! a half-life of event time. Findings restating one behaviour (one
//! resource within an hour, [`Facets`]) count once in the sum, at their
//! strongest. Components combine like independent evidence:
//! `risk = 100 × (1 − Π (1 − min(detector_cap, weight·component)/100))`. So
//! one strong finding alerts on its own (a score of 80 is a risk of 80), but
//! one detector alone never goes past `detector_cap` (90): the top of the
//! scale is kept for detectors that agree. Agreeing detectors reinforce each
//! other (findings of 30, 25 and 45 give 71), and one chatty detector's many small
//! findings are held to its strongest plus the repeat cap.
//! Scores decay, so risk goes down again when the behaviour stops.
//!
//! What the organisation knows changes how risk counts: a user's
//! criticality and watchlists multiply the odds of their risk
//! ([`crate::config::scale_odds`]), and alerts list the modifiers that
//! applied. Analysts' verdicts act on episodes ([`Aggregator::apply_verdict`]),
//! and each episode is an incident ([`crate::risk::incidents`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::config::{RiskConfig, scale_odds};
use crate::risk::budget::{AlertBudget, AlertBudgetV11};
use crate::risk::incidents::{Change, Incident, IncidentRecord};
use crate::risk::tails::TailDiscount;
use crate::risk::verdicts::{PendingVerdict, VerdictKind};
use crate::risk::{decay_factor, decayed};

/// Closed incidents kept per user, so a verdict given after an episode
/// ended still finds it.
pub const CLOSED_KEPT: usize = 4;

/// Behaviours a user's benign verdicts keep from adding risk, at most; the
/// oldest make way.
pub const FORGIVEN_KEPT: usize = 256;

/// Most findings remembered per user and detector for explaining alerts.
pub const FINDINGS_KEPT: usize = 4;

/// One finding as shown in an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFinding {
    /// The detector's name.
    pub detector: String,
    /// Its 0–100 score.
    pub score: f64,
    /// Event time of the finding's event, RFC 3339.
    pub time: String,
    /// The detector's reason.
    pub reason: String,
    /// The numbers behind the score.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// The event's resource.
    pub resource: String,
    /// The event's action.
    pub action: String,
    /// The event's source, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The event's position in the stream.
    pub event: u64,
    /// The resource's criticality, when `[resources]` gives it one: the
    /// score above is the detector's with its odds multiplied by it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub criticality: Option<ResourceCriticality>,
    /// When the detector's score was read lower because this
    /// organisation's ordinary days reach it often ([`crate::risk::tails`]):
    /// the score above is the discounted one (before any criticality).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tail: Option<TailDiscount>,
}

/// A resource's criticality as applied to a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceCriticality {
    /// The level.
    pub level: String,
    /// Its odds multiplier.
    pub factor: f64,
    /// The score before it: the detector's, or what its tail made of it
    /// ([`AlertFinding::tail`]).
    pub detector_score: f64,
}

/// A modifier that changed a user's risk: their criticality or a watchlist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Modifier {
    /// `criticality` or `watchlist`.
    pub kind: String,
    /// The level or the list's name.
    pub name: String,
    /// Its odds multiplier.
    pub factor: f64,
}

/// Everything that multiplies a user's risk odds.
#[derive(Clone, Debug, PartialEq)]
pub struct UserModifier {
    /// The product of the factors.
    pub factor: f64,
    /// Each one, for alerts.
    pub applied: Vec<Modifier>,
}

/// A behaviour a benign verdict keeps from adding risk for a while.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Forgiven {
    detector: String,
    resource: String,
    until_ms: i64,
    /// The alert id of the verdict.
    verdict: String,
}

/// An alert: the JSON-lines record ueba writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// A stable id: a hash of the user, time, kind and score, so the same
    /// input gives the same ids, across resume and replay, and SIEMs can
    /// deduplicate re-sent alerts. Verdicts name alerts by it.
    pub id: String,
    /// The incident (episode) it belongs to.
    pub incident: String,
    /// Event time of the finding that raised the alert, RFC 3339.
    pub time: String,
    /// The user.
    pub user: String,
    /// Their peer group, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_group: Option<String>,
    /// Risk 0–100 at the time of the alert, modifiers applied.
    pub score: f64,
    /// The risk before the user's modifiers, when any applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_score: Option<f64>,
    /// The user's criticality and watchlists that multiplied the odds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<Modifier>,
    /// The threshold it crossed.
    pub threshold: f64,
    /// `new` for a first alert in an episode, `escalation` when risk rose by
    /// `realert_step`, `new-evidence` when a detector not yet in this
    /// episode's alerts adds a finding of at least `new_evidence_min`.
    pub kind: &'static str,
    /// Each detector's current component, 0–100.
    pub detectors: serde_json::Map<String, serde_json::Value>,
    /// The findings behind it, strongest contribution first.
    pub findings: Vec<AlertFinding>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Kept {
    score: f32,
    time_ms: i64,
    /// Kept as its JSON text in checkpoints: the evidence map holds JSON
    /// values, which compact binary formats cannot decode on their own.
    #[serde(with = "crate::risk::json_text")]
    finding: AlertFinding,
}

/// One detector's share of a user's risk. `F` is what it remembers of the
/// behaviours it reported today ([`Facets`]); `()` in the layouts of
/// checkpoint formats 7 to 10, which kept none.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Component<F = Facets> {
    max: f32,
    sum: f32,
    at_ms: i64,
    kept: Vec<Kept>,
    findings: u64,
    facets: F,
}

impl From<Component<()>> for Component {
    fn from(c: Component<()>) -> Component {
        Component {
            max: c.max,
            sum: c.sum,
            at_ms: c.at_ms,
            kept: c.kept,
            findings: c.findings,
            facets: Facets::default(),
        }
    }
}

/// Event time in one hour of the clock (UTC), the span of one behaviour
/// ([`Facets`]).
const SLOT_MS: i64 = 3_600_000;

/// Most behaviours remembered per user and detector for an hour; past it
/// the weakest makes way, and a later finding about it counts as a repeat.
/// A few hundred bytes per component at most, whatever a detector reports:
/// a user's hour rarely has findings about more than a handful of
/// resources, and a detector reporting on every resource gains nothing
/// past the repeat cap anyway.
pub const FACETS_KEPT: usize = 8;

/// The behaviours a detector reported about a user in the current hour of
/// the clock: per resource, its strongest finding (score, event time).
///
/// The repeat bonus is for evidence that goes on: the behaviour on other
/// resources, or on into other hours. A detector that restates one
/// resource's moment (volume's hour count, its day count, the hour's and
/// the day's rows, all about one surge; an off-hours session finding grown
/// by one event) says one thing several ways, so within an hour such a
/// finding adds to the component's sum only what it rises above the
/// strongest so far, decayed to its time: the behaviour counts once, at its
/// strongest. A session that runs through three hours, or a surge that
/// lasts, still earns repeats hour by hour. On database audit logs from a
/// generator written apart from the detectors, a heavy reader's single
/// surge (strongest finding 45, four facets) alone reached 60 and alerted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Facets {
    slot: i64,
    seen: Vec<(String, f32, i64)>,
}

impl Facets {
    /// Note a finding of `score` about `resource` at `time_ms`, and return
    /// what it adds to the repeats: all of it for a behaviour not seen
    /// today, otherwise its rise over the strongest so far (decayed with
    /// `half_life_ms`).
    fn note(&mut self, resource: &str, score: f32, time_ms: i64, half_life_ms: f64) -> f32 {
        let slot = time_ms.div_euclid(SLOT_MS);
        if slot != self.slot {
            self.slot = slot;
            self.seen.clear();
        }
        let decay = |s: f32, at: i64| decayed(s, at, time_ms, half_life_ms);
        if let Some(seen) = self.seen.iter_mut().find(|(r, _, _)| r == resource) {
            let was = decay(seen.1, seen.2);
            if score >= was {
                seen.1 = score;
                seen.2 = time_ms;
            }
            return (score - was).max(0.0);
        }
        if self.seen.len() >= FACETS_KEPT {
            self.seen
                .swap_remove(weakest(&self.seen, |(_, s, at)| decay(*s, *at)));
        }
        self.seen.push((resource.to_string(), score, time_ms));
        score
    }
}

/// Aggregation state of one user.
///
/// `F` is what each component remembers of the hour's behaviours and `A`
/// how the episode's shown evidence is kept: `()` and a set of detector
/// bits (`u64`) in checkpoint formats 7 to 9, `()` and the current
/// `Vec<f32>` in format 10.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct UserRisk<F = Facets, A = Vec<f32>> {
    components: Vec<Component<F>>,
    peak: f32,
    peak_ms: i64,
    alerted_at_score: Option<f32>,
    /// Event time during which the detectors are told not to learn from
    /// the user's events, as of the latest finding
    /// ([`Aggregator::holds_learning`]).
    hold: Hold,
    /// The hold as it stood before the first finding about an event of a
    /// block of the event sequence (the block's index, the hold): what
    /// events of that block are judged by, so that findings of the same
    /// block, which a flush may have scored before them, never decide it.
    hold_before: (u64, Hold),
    /// Per detector (by column), the highest component it had at an alert
    /// of the current episode: the evidence the SIEM has been shown, so
    /// that only evidence beyond it is new (`new-evidence`). Empty outside
    /// an episode; shorter than the columns when the later ones had none.
    alerted: A,
    alerts: u32,
    /// The open incident.
    incident: Option<Incident>,
    /// Recently closed incidents, newest last.
    closed: Vec<Incident>,
    /// Behaviours benign verdicts keep from adding risk.
    forgiven: Vec<Forgiven>,
    /// The user's criticality and watchlists: from this run's identities,
    /// so not saved.
    #[serde(skip)]
    modifier: Option<Arc<UserModifier>>,
}

impl UserRisk {
    /// The recently closed incidents and the open one, each as it stands.
    fn incidents(&self) -> impl Iterator<Item = IncidentRecord> + '_ {
        self.closed
            .iter()
            .chain(self.incident.as_ref())
            .map(Incident::now)
    }
}

/// Incident records in order of opening (ties by id), as
/// `GET /v1/incidents` lists them.
fn by_opening(records: impl Iterator<Item = IncidentRecord>) -> Vec<IncidentRecord> {
    let mut out: Vec<IncidentRecord> = records.collect();
    out.sort_by(|a, b| a.opened.cmp(&b.opened).then(a.id.cmp(&b.id)));
    out
}

/// A stretch of event time, `from_ms` (inclusive) to `until_ms`
/// (exclusive), during which a user's events are not learned; empty when
/// `until_ms <= from_ms`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Hold {
    from_ms: i64,
    until_ms: i64,
}

impl Hold {
    /// Whether events at `time_ms` are held.
    fn covers(&self, time_ms: i64) -> bool {
        self.from_ms <= time_ms && time_ms < self.until_ms
    }

    /// The end of a hold that began at `from_ms`: when the user calms
    /// (`calm_ms`), but at most `hold_days` later, so that a false alarm
    /// cannot freeze a user's baselines.
    fn end(&self, calm_ms: i64, hold_days: f64) -> i64 {
        self.from_ms
            .saturating_add((hold_days * 86_400_000.0) as i64)
            .min(calm_ms)
    }
}

/// A user's standing, for the end-of-run summary.
#[derive(Clone, Debug, PartialEq)]
pub struct UserStanding {
    /// User id.
    pub user: u32,
    /// Highest risk reached.
    pub peak: f32,
    /// When it was reached (event time, ms).
    pub peak_ms: i64,
    /// Alerts raised.
    pub alerts: u32,
    /// Findings per detector, in detector order.
    pub findings: Vec<u64>,
    /// The strongest finding's reason, for a one-line explanation.
    pub top_reason: Option<String>,
}

/// Everything the aggregator has learned, for a durable-state checkpoint.
/// Opaque: only [`Aggregator::restore`] reads it.
///
/// `F` and `A` are the layout of each user's components and shown
/// evidence (see `UserRisk`), `B` the alert budget's: earlier checkpoint
/// formats' are read as `AggregatorStateV9`, `AggregatorStateV10` and
/// `AggregatorStateV11`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AggregatorState<F = Facets, A = Vec<f32>, B = AlertBudget> {
    detectors: Vec<String>,
    users: Vec<UserRisk<F, A>>,
    budget: B,
    alert_users: BTreeMap<String, u32>,
}

/// [`AggregatorState`] as checkpoint formats 7 to 9 kept it, each user's
/// alerted detectors a set of bits: read so that upgrading ueba keeps a
/// state directory. A detector in the set is behind the open episode, as
/// it was then (no new evidence from it); one outside it had shown
/// nothing.
pub(crate) type AggregatorStateV9 = AggregatorState<(), u64, AlertBudgetV11>;

/// [`AggregatorState`] as checkpoint format 10 kept it, remembering no
/// behaviours of the hour: after an upgrade a resource's next finding in
/// that hour counts as a new behaviour.
pub(crate) type AggregatorStateV10 = AggregatorState<(), Vec<f32>, AlertBudgetV11>;

/// [`AggregatorState`] as checkpoint format 11 kept it, its alert budget
/// without detector tails (they start empty).
pub(crate) type AggregatorStateV11 = AggregatorState<Facets, Vec<f32>, AlertBudgetV11>;

impl From<AggregatorStateV11> for AggregatorState {
    fn from(a: AggregatorStateV11) -> AggregatorState {
        AggregatorState {
            detectors: a.detectors,
            users: a.users,
            budget: a.budget.into(),
            alert_users: a.alert_users,
        }
    }
}

impl<A> AggregatorState<(), A, AlertBudgetV11> {
    /// The same state in the current layout, remembering no behaviours of
    /// the hour, with each user's shown evidence converted by `alerted`.
    fn upgraded(self, alerted: impl Fn(A) -> Vec<f32>) -> AggregatorState {
        let users = self
            .users
            .into_iter()
            .map(|u| UserRisk {
                components: u.components.into_iter().map(Component::from).collect(),
                peak: u.peak,
                peak_ms: u.peak_ms,
                alerted_at_score: u.alerted_at_score,
                hold: u.hold,
                hold_before: u.hold_before,
                alerted: alerted(u.alerted),
                alerts: u.alerts,
                incident: u.incident,
                closed: u.closed,
                forgiven: u.forgiven,
                modifier: None,
            })
            .collect();
        AggregatorState {
            detectors: self.detectors,
            users,
            budget: self.budget.into(),
            alert_users: self.alert_users,
        }
    }
}

impl From<AggregatorStateV9> for AggregatorState {
    fn from(a: AggregatorStateV9) -> AggregatorState {
        a.upgraded(|bits| {
            (0..64 - bits.leading_zeros() as usize)
                .map(|d| {
                    if bits & detector_bit(d) != 0 {
                        f32::INFINITY
                    } else {
                        0.0
                    }
                })
                .collect()
        })
    }
}

impl From<AggregatorStateV10> for AggregatorState {
    fn from(a: AggregatorStateV10) -> AggregatorState {
        a.upgraded(|alerted| alerted)
    }
}

impl AggregatorState {
    /// Whether an alert with this id was raised before the state was saved.
    pub fn knows_alert(&self, id: &str) -> bool {
        self.alert_users.contains_key(id)
    }
}

/// One detector of the line-up given to [`Aggregator::rearrange`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The detector's name.
    pub name: String,
    /// Its weight.
    pub weight: f64,
    /// The index (before the change) of the detector whose risk components
    /// this one keeps: itself when it stays, the version it replaces, or
    /// `None` when it is new.
    pub keeps: Option<usize>,
}

/// What adding a finding did ([`Aggregator::add_finding`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Added {
    /// The user's risk before it, decayed to its time.
    pub before: f32,
    /// Whether it restated a behaviour its detector already reported this
    /// hour (the same resource), so that it added to the repeats only what
    /// it rose above the strongest so far ([`Facets`]).
    pub restated: bool,
}

/// Per-user risk across all users.
pub struct Aggregator {
    cfg: RiskConfig,
    names: Vec<String>,
    weights: Vec<f32>,
    half_life_ms: f64,
    users: Vec<UserRisk>,
    /// The alert threshold, adapted to the alert budget.
    budget: AlertBudget,
    /// The block of the event sequence that findings added now are about
    /// and that learning is asked for ([`Aggregator::set_block`]).
    block: u64,
    /// Every alert's user, by alert id, so verdicts can find them.
    alert_users: BTreeMap<String, u32>,
    /// Users with an open incident.
    open: BTreeSet<u32>,
    /// Incident changes not yet taken by [`Aggregator::take_changes`].
    changes: Vec<IncidentRecord>,
    /// Users whose standing, kept findings or incidents changed since the
    /// last [`Aggregator::take_changed_users`], when asked to keep them
    /// ([`Aggregator::track_changed_users`]); not part of the state.
    changed: Option<BTreeSet<u32>>,
}

impl Aggregator {
    /// An aggregator for detectors with these names and weights.
    pub fn new(cfg: RiskConfig, detectors: Vec<(String, f64)>) -> Self {
        let half_life_ms = cfg.half_life_hours * 3_600_000.0;
        let (names, weights) = detectors.into_iter().map(|(n, w)| (n, w as f32)).unzip();
        Aggregator {
            budget: AlertBudget::new(&cfg),
            cfg,
            names,
            weights,
            half_life_ms,
            users: Vec::new(),
            block: 0,
            alert_users: BTreeMap::new(),
            open: BTreeSet::new(),
            changes: Vec::new(),
            changed: None,
        }
    }

    /// Keep the users whose standing changes, for
    /// [`Aggregator::take_changed_users`]: a worker writes what an analyst
    /// asks about them (`GET /v1/users/...`) where a forwarding service can
    /// read it, and rewrites only theirs. Off by default, as nobody else
    /// takes them.
    pub fn track_changed_users(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    /// The users whose standing, kept findings or incidents changed since
    /// the last call, in id order; empty unless tracked.
    pub fn take_changed_users(&mut self) -> Vec<u32> {
        self.changed
            .as_mut()
            .map(|c| std::mem::take(c).into_iter().collect())
            .unwrap_or_default()
    }

    fn touch(&mut self, user: u32) {
        if let Some(c) = self.changed.as_mut() {
            c.insert(user);
        }
    }

    /// The block of the event sequence (its number, rising through the
    /// run) that the findings added from now on are about and whose events
    /// [`Aggregator::holds_learning`] is asked about. The scorer cuts the
    /// sequence into blocks (`input.batch_size` events, or
    /// `input.block_minutes` of event time) and ends a batch at each.
    pub fn set_block(&mut self, block: u64) {
        self.block = block;
    }

    /// `user` acted at `time_ms` (every event, in scoring order): the alert
    /// budget counts user-days from these.
    pub fn active(&mut self, user: u32, time_ms: i64) {
        let users = &self.users;
        self.budget.active(user, time_ms, |u| {
            users
                .get(u as usize)
                .is_some_and(|r| r.alerted_at_score.is_some())
        });
    }

    /// The alert threshold in force now: `risk.threshold`, or where the
    /// alert budget has moved it ([`crate::risk::budget`]).
    pub fn threshold(&self) -> f64 {
        f64::from(self.budget.threshold())
    }

    /// `detector` (index) scored `score` (its own, before any discount)
    /// for `user` on the current day: the tally behind
    /// [`Aggregator::calibrated`].
    pub fn tally(&mut self, detector: usize, user: u32, score: f32) {
        if let Some(name) = self.names.get(detector) {
            self.budget.tally(name, user, score);
        }
    }

    /// What a finding of `score` from `detector` (index) counts as on this
    /// log, and how it was read when discounted ([`crate::risk::tails`]).
    pub fn calibrated(&self, detector: usize, score: f32) -> (f32, Option<TailDiscount>) {
        match self.names.get(detector) {
            Some(name) => self.budget.calibrated(name, score),
            None => (score, None),
        }
    }

    /// How the alert budget stands ([`AlertBudget::standing`]).
    pub fn budget_standing(&self) -> Option<crate::risk::budget::Standing> {
        self.budget.standing()
    }

    fn decay<F>(&self, c: &mut Component<F>, now_ms: i64) {
        if now_ms > c.at_ms {
            let f = decay_factor(now_ms - c.at_ms, self.half_life_ms);
            c.max *= f;
            c.sum *= f;
            c.at_ms = now_ms;
        }
    }

    fn component_value<F>(&self, c: &Component<F>) -> f32 {
        let repeats = (c.sum - c.max).max(0.0) * self.cfg.repeat_weight as f32;
        (c.max + repeats.min(self.cfg.repeat_cap as f32)).min(100.0)
    }

    fn risk(&self, u: &UserRisk) -> f32 {
        modified(u, self.combine(u, |c| self.component_value(c)))
    }

    /// Set what multiplies `user`'s risk odds (their criticality and
    /// watchlists), or `None` for nothing.
    pub fn set_modifier(&mut self, user: u32, modifier: Option<Arc<UserModifier>>) {
        let idx = user as usize;
        if self.users.len() <= idx {
            if modifier.is_none() {
                return;
            }
            self.users.resize_with(idx + 1, UserRisk::default);
        }
        self.users[idx].modifier = modifier;
    }

    /// The alert id of a benign verdict that keeps a finding of `detector`
    /// about `resource` of `user` at `time_ms` from adding risk, if one does.
    pub fn forgiven(
        &self,
        user: u32,
        detector: &str,
        resource: &str,
        time_ms: i64,
    ) -> Option<&str> {
        self.users
            .get(user as usize)?
            .forgiven
            .iter()
            .find(|f| f.detector == detector && f.resource == resource && time_ms < f.until_ms)
            .map(|f| f.verdict.as_str())
    }

    /// Whether an alert with this id has been raised.
    pub fn knows_alert(&self, id: &str) -> bool {
        self.alert_users.contains_key(id)
    }

    /// The user of the alert with this id.
    pub fn alert_user(&self, id: &str) -> Option<&u32> {
        self.alert_users.get(id)
    }

    /// Incident changes since the last call, in the order they happened.
    pub fn take_changes(&mut self) -> Vec<IncidentRecord> {
        std::mem::take(&mut self.changes)
    }

    /// The open incidents and the recently closed ones, newest change
    /// last per user, as records (for `GET /v1/incidents`).
    pub fn incidents(&self) -> Vec<IncidentRecord> {
        by_opening(self.users.iter().flat_map(UserRisk::incidents))
    }

    /// Close the incidents whose users' risk has calmed below
    /// `risk.rearm_below` by `now_ms` (event time). The scorer calls this
    /// at the end of every block of the event sequence, so the records
    /// come out in the same order however the input was cut.
    pub fn close_calmed(&mut self, now_ms: i64) {
        let due: Vec<u32> = self
            .open
            .iter()
            .copied()
            .filter(|&user| {
                self.users[user as usize]
                    .incident
                    .as_ref()
                    .is_some_and(|i| !i.malicious && i.calm_ms <= now_ms)
            })
            .collect();
        for user in due {
            let mut u = std::mem::take(&mut self.users[user as usize]);
            let at = u.incident.as_ref().map_or(now_ms, |i| i.calm_ms);
            self.close(user, &mut u, at, "calmed");
            self.users[user as usize] = u;
        }
    }

    fn close(&mut self, user: u32, u: &mut UserRisk, at_ms: i64, reason: &str) {
        self.touch(user);
        if let Some(mut inc) = u.incident.take() {
            inc.closed_ms = Some(at_ms);
            inc.closed_reason = Some(reason.to_string());
            self.changes
                .push(inc.record(Change::Closed, at_ms, Some(reason)));
            u.closed.push(inc);
            if u.closed.len() > CLOSED_KEPT {
                u.closed.remove(0);
            }
        }
        self.open.remove(&user);
    }

    /// Apply an analyst's verdict on an alert, at event time `v.time_ms`.
    ///
    /// * `benign`: for `risk.benign_days` every behaviour of the alert's
    ///   incident (a detector's findings about a resource) adds no risk for
    ///   this user, so the detectors, no longer holding the user out of
    ///   learning, learn it as normal. When the incident is still open it
    ///   closes (`benign`), the user's risk goes back to 0 and learning
    ///   resumes at once.
    /// * `malicious`: the incident is marked so and, if open, stays open
    ///   whatever the risk does; the user's events are kept out of the
    ///   detectors' baselines from now on, without the `hold_days` bound,
    ///   until a benign verdict on one of their alerts.
    ///
    /// An id no alert has is an error.
    pub fn apply_verdict(&mut self, v: &PendingVerdict) -> Result<(), String> {
        let id = &v.verdict.id;
        let Some(&user) = self.alert_users.get(id) else {
            return Err(format!(
                "no alert has id `{id}` (an alert's `id` field; the verdict must come after the alert in event time)"
            ));
        };
        let t = v.time_ms;
        self.touch(user);
        let mut u = std::mem::take(&mut self.users[user as usize]);
        // The open incident when it lists the alert, or when the alert is
        // in none of the closed ones kept and the open one had more alerts
        // than it lists.
        let in_closed = u.closed.iter().any(|i| i.alerts.contains(id));
        let in_open = u.incident.as_ref().is_some_and(|i| {
            i.alerts.contains(id) || (!in_closed && i.alert_count as usize > i.alerts.len())
        });
        let incident = if in_open {
            u.incident.as_mut()
        } else {
            u.closed.iter_mut().rev().find(|i| i.alerts.contains(id))
        };
        let mut behaviours = Vec::new();
        if let Some(inc) = incident {
            inc.verdicts.push(v.verdict.clone());
            inc.malicious |= v.verdict.verdict == VerdictKind::Malicious;
            behaviours = inc.behaviours.clone();
            self.changes.push(inc.record(Change::Verdict, t, None));
        }
        match v.verdict.verdict {
            VerdictKind::Benign => {
                let until_ms = t.saturating_add((self.cfg.benign_days * 86_400_000.0) as i64);
                for (detector, resource) in behaviours {
                    u.forgiven
                        .retain(|f| !(f.detector == detector && f.resource == resource));
                    u.forgiven.push(Forgiven {
                        detector,
                        resource,
                        until_ms,
                        verdict: id.clone(),
                    });
                }
                if u.forgiven.len() > FORGIVEN_KEPT {
                    let excess = u.forgiven.len() - FORGIVEN_KEPT;
                    u.forgiven.drain(..excess);
                }
                if in_open {
                    for c in &mut u.components {
                        c.max = 0.0;
                        c.sum = 0.0;
                        c.kept.clear();
                        c.facets = Facets::default();
                    }
                    u.alerted_at_score = None;
                    u.alerted.clear();
                    self.close(user, &mut u, t, "benign");
                }
                // Learning resumes from the verdict on.
                if u.hold.from_ms <= t {
                    u.hold.until_ms = u.hold.until_ms.min(t);
                }
            }
            VerdictKind::Malicious => {
                if !in_open {
                    u.hold.from_ms = t;
                }
                u.hold.until_ms = i64::MAX;
            }
        }
        self.users[user as usize] = u;
        Ok(())
    }

    /// Risk from each component's value: components combine like
    /// independent evidence, each weighted and capped at `detector_cap`.
    fn combine(&self, u: &UserRisk, value: impl Fn(&Component) -> f32) -> f32 {
        let keep: f32 = u
            .components
            .iter()
            .zip(&self.weights)
            .map(|(c, w)| {
                let points = (w * value(c)).min(self.cfg.detector_cap as f32);
                1.0 - (points / 100.0).clamp(0.0, 1.0)
            })
            .product();
        100.0 * (1.0 - keep)
    }

    /// Add a finding of `detector` (index) about `user` at `time_ms`, and
    /// return an alert if the user's risk now calls for one. `user_name`
    /// and `peer_group` label the alert. The tests' shorthand for an event
    /// with one finding; the scorer adds an event's findings with
    /// [`Aggregator::add_finding`] and calls [`Aggregator::decide`] once.
    #[cfg(test)]
    pub(crate) fn add(
        &mut self,
        user: u32,
        detector: usize,
        time_ms: i64,
        finding: AlertFinding,
        user_name: &str,
        peer_group: Option<&str>,
    ) -> Option<Alert> {
        let added = self.add_finding(user, detector, time_ms, finding)?;
        let detectors = detector_bit(detector);
        self.decide(
            user,
            time_ms,
            added.before,
            detectors,
            user_name,
            peer_group,
        )
    }

    /// Add a finding of `detector` (index) about `user` at `time_ms`
    /// without deciding on an alert, and return the user's risk before it
    /// (decayed to `time_ms`) and whether it restated a behaviour of the
    /// hour ([`Added`]); `None` for a detector index out of range.
    /// The findings of one event are all added before [`Aggregator::decide`]
    /// looks at the risk they make together, so an alert carries every
    /// detector's evidence about the event whatever order the detectors
    /// were loaded in.
    pub fn add_finding(
        &mut self,
        user: u32,
        detector: usize,
        time_ms: i64,
        finding: AlertFinding,
    ) -> Option<Added> {
        if detector >= self.names.len() {
            return None;
        }
        let idx = user as usize;
        if self.users.len() <= idx {
            self.users.resize_with(idx + 1, UserRisk::default);
        }
        self.touch(user);
        let mut u = std::mem::take(&mut self.users[idx]);
        let block = self.block;
        if block > u.hold_before.0 {
            u.hold_before = (block, u.hold);
        }
        if u.components.len() < self.names.len() {
            u.components
                .resize_with(self.names.len(), Component::default);
        }
        for c in &mut u.components {
            self.decay(c, time_ms);
        }
        let before = self.risk(&u);
        let score = finding.score as f32;
        let restated;
        {
            let hl = self.half_life_ms;
            let c = &mut u.components[detector];
            c.max = c.max.max(score);
            let adds = c.facets.note(&finding.resource, score, time_ms, hl);
            restated = adds < score;
            c.sum += adds;
            c.findings += 1;
            c.kept.push(Kept {
                score,
                time_ms,
                finding,
            });
            if c.kept.len() > FINDINGS_KEPT {
                let i = weakest(&c.kept, |k| decayed(k.score, k.time_ms, time_ms, hl));
                c.kept.swap_remove(i);
            }
        }
        self.users[idx] = u;
        Some(Added { before, restated })
    }

    /// Decide what the findings just added about `user` at `time_ms` call
    /// for, `before` being the user's risk before the first of them and
    /// `detectors` the bits ([`detector_bit`]) of the detectors they came
    /// from: an alert (new, escalation, or new evidence when one of those
    /// detectors not yet behind the episode now adds `new_evidence_min`),
    /// the episode closed as calmed, the user held out of learning.
    /// `user_name` and `peer_group` label the alert.
    pub fn decide(
        &mut self,
        user: u32,
        time_ms: i64,
        before: f32,
        detectors: u64,
        user_name: &str,
        peer_group: Option<&str>,
    ) -> Option<Alert> {
        let idx = user as usize;
        if self.users.len() <= idx {
            return None;
        }
        let mut u = std::mem::take(&mut self.users[idx]);
        let risk = self.risk(&u);
        self.budget.risk(user, risk);
        if risk > u.peak {
            u.peak = risk;
            u.peak_ms = time_ms;
        }
        let malicious = u.incident.as_ref().is_some_and(|i| i.malicious);
        if u.alerted_at_score.is_some() && before < self.cfg.rearm_below as f32 && !malicious {
            u.alerted_at_score = None;
            u.alerted.clear();
            let at = u
                .incident
                .as_ref()
                .map_or(time_ms, |i| i.calm_ms.min(time_ms));
            self.close(user, &mut u, at, "calmed");
        }
        let threshold = self.budget.threshold();
        // New evidence: a detector behind these findings whose component
        // has risen by `new_evidence_min` over what the episode's alerts
        // showed of it, from below that bar (one already past it at an
        // alert is behind the episode, and its rise is an escalation's to
        // tell).
        let min = self.cfg.new_evidence_min as f32;
        let new_evidence = u.components.iter().enumerate().any(|(d, c)| {
            let shown = u.alerted.get(d).copied().unwrap_or(0.0);
            detectors & detector_bit(d) != 0
                && shown < min
                && self.component_value(c) >= shown + min
        });
        let alert = match u.alerted_at_score {
            _ if risk < threshold => None,
            None => Some("new"),
            Some(last) if risk >= last + self.cfg.realert_step as f32 => Some("escalation"),
            Some(_) if new_evidence => Some("new-evidence"),
            Some(_) => None,
        }
        .map(|kind| {
            if kind == "new" {
                self.budget.episode();
                u.hold.from_ms = time_ms;
            }
            u.alerted_at_score = Some(risk);
            u.alerts += 1;
            if u.alerted.len() < u.components.len() {
                u.alerted.resize(u.components.len(), 0.0);
            }
            for (shown, c) in u.alerted.iter_mut().zip(&u.components) {
                *shown = shown.max(self.component_value(c));
            }
            let mut alert = self.build_alert(&u, kind, risk, time_ms, user_name, peer_group);
            while self.alert_users.contains_key(&alert.id) {
                // The same user, time, kind and score twice: keep ids unique.
                alert.id = format!("{}-{}", alert.id, u.alerts);
            }
            self.alert_users.insert(alert.id.clone(), user);
            let change = match &u.incident {
                None => {
                    u.incident = Some(Incident::open(&alert.id, time_ms, user_name, peer_group));
                    self.open.insert(user);
                    Change::Opened
                }
                Some(_) => Change::Escalated,
            };
            if let Some(inc) = u.incident.as_mut() {
                alert.incident = inc.id.clone();
                inc.absorb(&alert);
                self.changes.push(inc.record(change, time_ms, None));
            }
            alert
        });
        if u.alerted_at_score.is_some() {
            let calm = self.calm_at(&u, time_ms);
            if let Some(inc) = u.incident.as_mut() {
                inc.calm_ms = calm;
                inc.peak = inc.peak.max(risk);
            }
            u.hold.until_ms = if malicious {
                i64::MAX
            } else {
                u.hold.end(calm, self.cfg.hold_days)
            };
        } else if risk >= self.cfg.hold_above as f32 {
            // Suspicious, not alerted: held as an episode is, from the
            // first finding that made it so.
            if !u.hold.covers(time_ms) {
                u.hold.from_ms = time_ms;
            }
            u.hold.until_ms = u.hold.end(self.calm_at(&u, time_ms), self.cfg.hold_days);
        }
        self.users[idx] = u;
        alert
    }

    fn build_alert(
        &self,
        u: &UserRisk,
        kind: &'static str,
        risk: f32,
        time_ms: i64,
        user_name: &str,
        peer_group: Option<&str>,
    ) -> Alert {
        let mut ranked: Vec<(f32, &AlertFinding)> = u
            .components
            .iter()
            .enumerate()
            .flat_map(|(d, c)| {
                c.kept.iter().map(move |k| {
                    (
                        self.weights[d] * decayed(k.score, k.time_ms, time_ms, self.half_life_ms),
                        &k.finding,
                    )
                })
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.event.cmp(&b.1.event)));
        let detectors = self
            .names
            .iter()
            .zip(&u.components)
            .map(|(n, c)| {
                (
                    n.clone(),
                    serde_json::json!(round1(self.component_value(c))),
                )
            })
            .collect();
        let time = crate::event::format_time(time_ms);
        let score = round1(risk);
        let modifier = u.modifier.as_deref();
        Alert {
            id: alert_id(user_name, &time, kind, score),
            incident: String::new(),
            time,
            user: user_name.to_string(),
            peer_group: peer_group.map(str::to_string),
            score,
            base_score: modifier
                .filter(|m| m.factor != 1.0)
                .map(|_| round1(self.combine(u, |c| self.component_value(c)))),
            modifiers: modifier.map(|m| m.applied.clone()).unwrap_or_default(),
            threshold: round1(self.budget.threshold()),
            kind,
            detectors,
            findings: ranked
                .into_iter()
                .take(self.cfg.max_findings_per_alert)
                .map(|(_, f)| f.clone())
                .collect(),
        }
    }

    /// The findings kept for explaining `user`'s alerts (the strongest few
    /// per detector), oldest first.
    pub fn kept(&self, user: u32) -> Vec<AlertFinding> {
        let Some(u) = self.users.get(user as usize) else {
            return Vec::new();
        };
        let mut kept: Vec<(i64, u64, &AlertFinding)> = u
            .components
            .iter()
            .flat_map(|c| {
                c.kept
                    .iter()
                    .map(|k| (k.time_ms, k.finding.event, &k.finding))
            })
            .collect();
        kept.sort_by_key(|(t, e, _)| (*t, *e));
        kept.into_iter().map(|(_, _, f)| f.clone()).collect()
    }

    /// Users ordered by peak risk, highest first (ties by user id).
    pub fn standings(&self) -> Vec<UserStanding> {
        let mut out: Vec<UserStanding> = (0..self.users.len() as u32)
            .filter_map(|id| self.standing(id))
            .collect();
        out.sort_by(|a, b| b.peak.total_cmp(&a.peak).then(a.user.cmp(&b.user)));
        out
    }

    /// One user's standing, `None` for a user with no finding yet.
    pub fn standing(&self, user: u32) -> Option<UserStanding> {
        let u = self
            .users
            .get(user as usize)
            .filter(|u| !u.components.is_empty())?;
        Some(UserStanding {
            user,
            peak: u.peak,
            peak_ms: u.peak_ms,
            alerts: u.alerts,
            findings: u.components.iter().map(|c| c.findings).collect(),
            top_reason: u
                .components
                .iter()
                .flat_map(|c| c.kept.iter())
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .map(|k| format!("{}: {}", k.finding.detector, k.finding.reason)),
        })
    }

    /// One user's open incident and the recently closed ones, as records,
    /// oldest first (as [`Aggregator::incidents`] shows them).
    pub fn user_incidents(&self, user: u32) -> Vec<IncidentRecord> {
        by_opening(
            self.users
                .get(user as usize)
                .into_iter()
                .flat_map(UserRisk::incidents),
        )
    }

    /// Whether the detectors should not learn from event `seq` of `user` at
    /// `time_ms`: an alert episode of theirs opened in an earlier block of
    /// the event sequence (or, without an alert, their risk reached
    /// `risk.hold_above`) and has not calmed down, i.e. their risk, decayed
    /// to `time_ms`, has not fallen below `risk.rearm_below`, and the hold
    /// began less than `risk.hold_days` ago.
    ///
    /// Learning the events of an ongoing attack would make it the user's
    /// new normal, so a ramp or a repeated exfiltration would score less
    /// each day. The bound keeps a false alarm from freezing a user's
    /// baselines for good: after `hold_days` the detectors learn again,
    /// whatever the risk.
    ///
    /// Only findings about events of earlier blocks (`block`, see
    /// [`Aggregator::set_block`]) count, so the answer does not depend on
    /// where batches were cut: the scorer ends a batch at every block
    /// boundary, and each user's hold is kept as it stood before their
    /// first finding of the block.
    pub fn holds_learning(&self, user: u32, block: u64, time_ms: i64) -> bool {
        let Some(u) = self.users.get(user as usize) else {
            return false;
        };
        let hold = if u.hold_before.0 == block {
            u.hold_before.1
        } else {
            u.hold
        };
        hold.covers(time_ms)
    }

    /// When `u`'s risk, decaying from `now_ms` with no new finding, falls
    /// below `risk.rearm_below` (to the minute): the end of their episode
    /// as far as is known now. Risk only falls as time passes, so this is
    /// a bisection.
    fn calm_at(&self, u: &UserRisk, now_ms: i64) -> i64 {
        let rearm = self.cfg.rearm_below as f32;
        if self.risk_at(u, now_ms) < rearm {
            return now_ms;
        }
        // 64 half-lives take any risk to nothing.
        let (mut lo, mut hi) = (
            now_ms,
            now_ms.saturating_add((self.half_life_ms * 64.0) as i64),
        );
        while hi - lo > 60_000 {
            let mid = lo + (hi - lo) / 2;
            if self.risk_at(u, mid) >= rearm {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    /// `u`'s risk decayed to `now_ms`, without changing it.
    fn risk_at(&self, u: &UserRisk, now_ms: i64) -> f32 {
        let base = self.combine(u, |c| {
            let mut c = Component::<()> {
                max: c.max,
                sum: c.sum,
                at_ms: c.at_ms,
                kept: Vec::new(),
                findings: 0,
                facets: (),
            };
            self.decay(&mut c, now_ms);
            self.component_value(&c)
        });
        modified(u, base)
    }

    /// `user`'s risk decayed to `now_ms` (0 for a user never seen), without
    /// changing it: what `GET /v1/users/{user}` reports as their risk now,
    /// since risk falls between findings.
    pub fn risk_at_ms(&self, user: u32, now_ms: i64) -> f32 {
        self.users
            .get(user as usize)
            .filter(|u| !u.components.is_empty())
            .map_or(0.0, |u| self.risk_at(u, now_ms))
    }

    /// How many users have an open incident now (the `/metrics` gauge of
    /// open incidents), without building their records.
    pub fn open_incidents(&self) -> usize {
        self.open.len()
    }

    /// A user's risk as of their latest finding (0 for a user never seen).
    /// Risk only changes when a finding arrives, so reading it right after
    /// [`Aggregator::add_finding`] traces how it evolves.
    pub fn risk_of(&self, user: u32) -> f32 {
        self.users
            .get(user as usize)
            .filter(|u| !u.components.is_empty())
            .map_or(0.0, |u| self.risk(u))
    }

    /// Detector names, in index order.
    pub fn detector_names(&self) -> &[String] {
        &self.names
    }

    /// Change the detectors while running (`ueba serve` loading, replacing
    /// or removing a plugin): `columns` is the new line-up, in index order,
    /// each with the index of the running detector whose risk components it
    /// keeps, or `None` for a detector that starts with none. Components of
    /// detectors no column keeps are dropped, so a removed detector's
    /// evidence stops counting at once; a replaced detector (a new version
    /// of the same name) keeps the risk its findings already added. Users
    /// who have no components yet stay that way and gain them on their
    /// first finding. Each old index may be kept by at most one column;
    /// later claims of the same index start empty.
    pub fn rearrange(&mut self, columns: &[Column]) {
        let mut claimed = vec![false; self.names.len()];
        let from: Vec<Option<usize>> = columns
            .iter()
            .map(|c| {
                c.keeps.filter(|&i| {
                    let free = claimed.get(i).is_some_and(|taken| !taken);
                    if free {
                        claimed[i] = true;
                    }
                    free
                })
            })
            .collect();
        for u in &mut self.users {
            if u.components.is_empty() {
                continue;
            }
            let mut old = std::mem::take(&mut u.components);
            let shown = std::mem::take(&mut u.alerted);
            if !shown.is_empty() {
                // What the episode's alerts showed moves with its detector.
                u.alerted = from
                    .iter()
                    .map(|keeps| keeps.and_then(|i| shown.get(i).copied()).unwrap_or(0.0))
                    .collect();
            }
            u.components = from
                .iter()
                .map(|keeps| {
                    let Some(i) = *keeps else {
                        return Component::default();
                    };
                    old.get_mut(i).map(std::mem::take).unwrap_or_default()
                })
                .collect();
        }
        self.names = columns.iter().map(|c| c.name.clone()).collect();
        self.weights = columns.iter().map(|c| c.weight as f32).collect();
    }

    /// A copy of every user's risk state, for a checkpoint.
    pub fn state(&self) -> AggregatorState {
        AggregatorState {
            detectors: self.names.clone(),
            users: self.users.clone(),
            budget: self.budget.clone(),
            alert_users: self.alert_users.clone(),
        }
    }

    /// Continue from a checkpoint's state. Components are matched to this
    /// run's detectors by name, so a detector added since starts with none
    /// and a removed one's components are dropped (its evidence stops
    /// counting) while every other detector's risk carries on. Returns the
    /// names of the saved detectors this run no longer has.
    pub fn restore(&mut self, state: AggregatorState) -> Vec<String> {
        let columns: Vec<Column> = self
            .names
            .iter()
            .zip(&self.weights)
            .map(|(name, &weight)| Column {
                name: name.clone(),
                weight: f64::from(weight),
                keeps: state.detectors.iter().position(|d| d == name),
            })
            .collect();
        let dropped = state
            .detectors
            .iter()
            .filter(|d| !self.names.contains(d))
            .cloned()
            .collect();
        self.names = state.detectors;
        // Modifiers come from this run's identities, set again by the scorer.
        self.users = state.users;
        self.alert_users = state.alert_users;
        self.open = self
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.incident.is_some())
            .map(|(i, _)| i as u32)
            .collect();
        self.changes.clear();
        self.budget = state.budget.configured(&self.cfg);
        self.rearrange(&columns);
        dropped
    }
}

/// The bit of detector `index` in a set of detectors (a user's alerted
/// detectors, the `detectors` of [`Aggregator::decide`]): one per
/// detector, those past the 64th sharing bits (index modulo 64), so a set
/// is one word however many detectors are loaded.
pub fn detector_bit(index: usize) -> u64 {
    1u64 << (index % 64)
}

/// The index of the weakest of `items` by `strength` (the first of equals;
/// 0 when there are none), the one to make way when a bounded list is full.
fn weakest<T>(items: &[T], strength: impl Fn(&T) -> f32) -> usize {
    items
        .iter()
        .enumerate()
        .min_by(|a, b| strength(a.1).total_cmp(&strength(b.1)))
        .map_or(0, |(i, _)| i)
}

/// `base` with the user's modifiers applied to its odds.
fn modified(u: &UserRisk, base: f32) -> f32 {
    match u.modifier.as_deref() {
        Some(m) if m.factor != 1.0 => scale_odds(f64::from(base), m.factor) as f32,
        _ => base,
    }
}

/// An alert's id: the first 16 bytes of the SHA-256 of its user, time,
/// kind and score, in hex.
fn alert_id(user: &str, time: &str, kind: &str, score: f64) -> String {
    let mut h = sha2::Sha256::new();
    h.update(user.as_bytes());
    h.update([0]);
    h.update(time.as_bytes());
    h.update([0]);
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(score.to_bits().to_be_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A risk or score to one decimal, as alerts, findings records and
/// incidents write it.
pub(crate) fn round1(x: f32) -> f64 {
    (f64::from(x) * 10.0).round() / 10.0
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
