//! Behaviour tests, driving the detector through `Runtime` as the host does.

use ueba_sdk::{ConfigError, DAY_MS, Event, Finding, HOUR_MS, Runtime, SymbolKind, Value};

use crate::NewSource;
use crate::share::Share;
use ueba_sdk::novelty::FirstToday;
use ueba_sdk::table::Table;

/// 2024-01-01T00:00Z, a Monday.
const T0: i64 = 1_704_067_200_000;
const GROUPS: u32 = 6;
const PER_GROUP: u32 = 30;
/// Source ids: each user's workstation is source `user`; VPN addresses and
/// the test's odd sources come after.
const VPN_BASE: u32 = 1_000;
const HOME: u32 = 2_000;
const HOME_SAME_SUBNET: u32 = 2_001;
const JUMP_HOST: u32 = 2_002;
const V6_A: u32 = 2_003;
const V6_SAME_64: u32 = 2_004;
const V6_OTHER_64: u32 = 2_005;
/// A subnet team 0 uses (another office of theirs), outside user 5's.
const TEAM0_OTHER_SUBNET: u32 = 2_006;
/// A VPN range in the pool that nobody has used yet.
const VPN_UNUSED: u32 = 2_007;
const NIGHT: i64 = 22 * HOUR_MS;

/// xorshift64*: a tiny deterministic generator, so histories are fixed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn group_of(user: u32) -> u32 {
    (user / PER_GROUP).min(GROUPS - 1)
}

/// Every third user has a VPN address, in one of 16 ranges of 10.99/16.
fn has_vpn(user: u32) -> bool {
    user.is_multiple_of(3)
}

fn runtime() -> Runtime<NewSource> {
    let mut rt = Runtime::<NewSource>::default();
    let s = rt.symbols_mut();
    for u in 0..GROUPS * PER_GROUP + 10 {
        s.insert(SymbolKind::User, u, format!("user{u}"));
        // Workstations: team g sits in 10.g.1.0/24 to 10.g.4.0/24.
        let g = group_of(u);
        s.insert(
            SymbolKind::Source,
            u,
            format!("10.{g}.{}.{}", 1 + u % 4, 10 + u),
        );
        s.insert(
            SymbolKind::Source,
            VPN_BASE + u,
            format!("10.99.{}.{}", u % 16, 2 + u % 200),
        );
    }
    for g in 0..GROUPS {
        s.insert(SymbolKind::PeerGroup, g, format!("team{g}"));
    }
    s.insert(SymbolKind::Source, HOME, "203.0.113.7");
    s.insert(SymbolKind::Source, HOME_SAME_SUBNET, "203.0.113.99:51234");
    s.insert(SymbolKind::Source, JUMP_HOST, "jump-host.corp");
    s.insert(SymbolKind::Source, V6_A, "2001:db8:7:1::10");
    s.insert(
        SymbolKind::Source,
        V6_SAME_64,
        "[2001:db8:7:1:abcd::2]:5432",
    );
    s.insert(SymbolKind::Source, V6_OTHER_64, "2001:db8:7:2::10");
    s.insert(SymbolKind::Source, TEAM0_OTHER_SUBNET, "10.0.9.44");
    s.insert(SymbolKind::Source, VPN_UNUSED, "10.99.200.5");
    rt
}

fn ev(user: u32, source: u32, time_ms: i64) -> Event {
    Event {
        time_ms,
        user,
        peer_group: Some(group_of(user)),
        source: Some(source),
        ..Event::default()
    }
}

/// Weekdays: every user works 09:00–17:00 from their workstation; users
/// with a VPN address work from it on about one day in six (some of those
/// days in the evening).
fn history(days: i64) -> Vec<Event> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut all = Vec::new();
    for day in 0..days {
        if day.rem_euclid(7) >= 5 {
            continue;
        }
        for u in 0..GROUPS * PER_GROUP {
            let t0 = T0 + day * DAY_MS + 9 * HOUR_MS;
            let remote = has_vpn(u) && rng.below(6) == 0;
            let src = if remote { VPN_BASE + u } else { u };
            for _ in 0..5 {
                all.push(ev(u, src, t0 + rng.below(8 * HOUR_MS as u64) as i64));
            }
        }
    }
    sequence(all, 0)
}

fn sequence(mut events: Vec<Event>, first_seq: u64) -> Vec<Event> {
    events.sort_by_key(|e| (e.time_ms, e.user));
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = first_seq + i as u64;
    }
    events
}

fn trained() -> Runtime<NewSource> {
    let mut rt = runtime();
    rt.observe(&history(30));
    rt
}

/// [`trained`] reporting every score, for tests of evidence and of score
/// differences.
fn trained_loose() -> Runtime<NewSource> {
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    rt.observe(&history(30));
    rt
}

/// The network findings of one event by `user` from `source` on day 30 (a
/// Wednesday) at 22:00.
fn connect(rt: &mut Runtime<NewSource>, user: u32, source: u32) -> Vec<Finding> {
    let e = ev(user, source, T0 + 30 * DAY_MS + NIGHT);
    networks(rt.observe(&sequence(vec![e], 1_000_000)))
}

/// The findings about networks (not about habitual places).
fn networks(findings: Vec<Finding>) -> Vec<Finding> {
    of_kind(findings, "network")
}

fn of_kind(findings: Vec<Finding>, kind: &str) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| evidence(f, "kind") == Value::Text(kind.into()))
        .collect()
}

fn max_score(findings: &[Finding]) -> f32 {
    findings.iter().map(|f| f.score).fold(0.0, f32::max)
}

fn evidence(f: &Finding, key: &str) -> Value {
    f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no evidence {key}"))
}

#[test]
fn ordinary_history_with_vpn_use_stays_quiet() {
    let mut rt = runtime();
    let findings = rt.observe(&history(30));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_network_nobody_in_the_team_used_is_reported() {
    let mut rt = trained();
    // User 5 has no VPN and has only ever used their workstation.
    let findings = connect(&mut rt, 5, HOME);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    // A network nobody in the team used, by a user who has never shown up
    // from a new one, is about 15 times rarer than the team's usual
    // discoveries (VPN ranges a sixth of the team uses).
    assert!((30.0..=45.0).contains(&f.score), "{f:#?}");
    assert_eq!(evidence(f, "subnet"), Value::Text("203.0.113.0/24".into()));
    assert_eq!(evidence(f, "block"), Value::Text("203.0.0.0/16".into()));
    assert_eq!(evidence(f, "source"), Value::Text("203.0.113.7".into()));
    assert_eq!(evidence(f, "peers_using_subnet"), Value::Int(0));
    assert_eq!(evidence(f, "peers_using_block"), Value::Int(0));
    assert_eq!(evidence(f, "peer_size"), Value::Int(29));
    assert_eq!(evidence(f, "peer_scope"), Value::Text("group".into()));
    assert_eq!(evidence(f, "user_new_subnets"), Value::Int(0));
    assert!(
        f.reason
            .contains("first use of 203.0.113.0/24 (source 203.0.113.7); 0 of 29 team0 peers"),
        "{}",
        f.reason
    );
    // The score is the calibrated tail probability.
    let Value::Float(p) = evidence(f, "p") else {
        panic!("p is a float")
    };
    assert!((ueba_sdk::score_from_p(p) - f.score).abs() < 1e-3);
}

#[test]
fn one_finding_per_user_and_subnet() {
    let mut rt = trained_loose();
    assert_eq!(connect(&mut rt, 5, HOME).len(), 1);
    assert!(connect(&mut rt, 5, HOME).is_empty());
    // Another address in the same /24, written with a port: same subnet.
    assert!(connect(&mut rt, 5, HOME_SAME_SUBNET).is_empty());
    // The next team member from there: one peer has used it now, so the
    // score drops by 10·log10(1.2 / 0.2) ≈ 7.8 points, and a little more as
    // the team's discoveries now include it.
    let first = max_score(&connect(&mut trained_loose(), 7, HOME));
    let second = connect(&mut rt, 7, HOME);
    assert_eq!(evidence(&second[0], "peers_using_subnet"), Value::Int(1));
    let want = 10.0 * (1.2f32 / 0.2).log10();
    let drop = first - second[0].score;
    assert!((want..want + 3.0).contains(&drop), "{first} {second:#?}");
}

#[test]
fn a_subnet_the_team_uses_scores_lower_than_one_nobody_uses() {
    let mut rt = trained();
    // Team 0's other office subnet, used by two of user 5's peers.
    let mut office = Vec::new();
    for (i, u) in [1u32, 2].into_iter().enumerate() {
        office.push(ev(
            u,
            TEAM0_OTHER_SUBNET,
            T0 + 30 * DAY_MS + (10 + i as i64) * HOUR_MS,
        ));
    }
    rt.observe(&sequence(office, 900_000));
    let mut peer_used = Runtime::<NewSource>::default();
    peer_used.restore(&rt.snapshot()).unwrap();
    let used = connect(&mut peer_used, 5, TEAM0_OTHER_SUBNET);
    let unused = connect(&mut rt, 5, HOME);
    assert!(
        max_score(&used) + 10.0 < max_score(&unused),
        "{used:#?} {unused:#?}"
    );
}

#[test]
fn a_new_range_of_a_vpn_pool_the_team_uses_is_dropped() {
    let mut rt = trained();
    // User 4 has no VPN; a third of team 0 uses ranges of 10.99/16.
    let near = connect(&mut rt, 4, VPN_UNUSED);
    assert!(near.is_empty(), "{near:#?}");
    let mut loose = runtime();
    loose.configure([("min_score", "0")]).unwrap();
    loose.observe(&history(30));
    let f = connect(&mut loose, 4, VPN_UNUSED);
    let Value::Int(block) = evidence(&f[0], "peers_using_block") else {
        panic!("an integer")
    };
    assert!((8..=10).contains(&block), "{f:#?}");
    assert_eq!(evidence(&f[0], "peers_using_subnet"), Value::Int(0));
    assert!((15.0..25.0).contains(&f[0].score), "{f:#?}");
}

#[test]
fn a_user_whose_address_churns_is_learnt_as_such() {
    // User 7 gets a lease in a different /24 of the team's block every few
    // days; a new /24 (even a new block) is then unremarkable for them.
    let mut events = history(30);
    for day in (0..30).step_by(3) {
        events.push(ev(7, 3_000 + day as u32, T0 + day * DAY_MS + 10 * HOUR_MS));
    }
    let mut rt = runtime();
    for day in 0..30u32 {
        rt.symbols_mut().insert(
            SymbolKind::Source,
            3_000 + day,
            format!("10.0.{}.7", 100 + day),
        );
    }
    let findings = rt.observe(&sequence(events, 0));
    assert!(findings.is_empty(), "{findings:#?}");
    let mut steady = trained();
    let churny = max_score(&connect(&mut rt, 7, HOME));
    let stable = max_score(&connect(&mut steady, 7, HOME));
    assert!(churny + 5.0 < stable, "{churny} {stable}");
}

#[test]
fn ipv6_is_keyed_by_64_and_names_by_the_whole_string() {
    let mut rt = trained_loose();
    assert_eq!(connect(&mut rt, 5, V6_A).len(), 1);
    assert!(connect(&mut rt, 5, V6_SAME_64).is_empty());
    let other = connect(&mut rt, 5, V6_OTHER_64);
    assert_eq!(
        evidence(&other[0], "subnet"),
        Value::Text("2001:db8:7:2::/64".into())
    );
    assert_eq!(
        evidence(&other[0], "block"),
        Value::Text("2001:db8:7::/48".into())
    );
    let name = connect(&mut rt, 5, JUMP_HOST);
    assert_eq!(
        evidence(&name[0], "subnet"),
        Value::Text("jump-host.corp".into())
    );
    assert!(
        !name[0].reason.contains("have used jump-host"),
        "{}",
        name[0].reason
    );
}

#[test]
fn no_findings_while_learning_globally_or_per_user() {
    let mut rt = runtime();
    let mut events = history(6);
    events.push(ev(5, HOME, T0 + 5 * DAY_MS));
    assert!(rt.observe(&sequence(events, 0)).is_empty());
    // A newcomer after the global learning period: their first five active
    // days only learn, the sixth is scored.
    let mut rt = trained();
    let newcomer = GROUPS * PER_GROUP + 1;
    let mut days = Vec::new();
    for d in 0..6 {
        let t = T0 + (35 + d) * DAY_MS + 10 * HOUR_MS;
        days.push(ev(newcomer, newcomer, t));
        let away = if d < 5 { JUMP_HOST } else { HOME };
        days.push(ev(newcomer, away, t + HOUR_MS));
    }
    let findings = rt.observe(&sequence(days, 2_000_000));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        evidence(&findings[0], "source"),
        Value::Text("203.0.113.7".into())
    );
    assert_eq!(evidence(&findings[0], "user_active_days"), Value::Int(6));
}

#[test]
fn events_without_a_source_are_only_counted() {
    let mut rt = trained();
    let mut e = ev(5, 0, T0 + 30 * DAY_MS);
    e.source = None;
    assert!(rt.observe(&[e]).is_empty());
    assert_eq!(connect(&mut rt, 5, HOME).len(), 1);
}

#[test]
fn users_without_a_peer_group_are_compared_with_the_organisation() {
    let mut rt = trained();
    let loner = GROUPS * PER_GROUP + 2;
    let mut days = Vec::new();
    for d in 0..8 {
        let mut e = ev(loner, 9, T0 + (30 + d) * DAY_MS + 10 * HOUR_MS);
        e.peer_group = None;
        days.push(e);
    }
    let mut e = ev(loner, HOME, T0 + 39 * DAY_MS);
    e.peer_group = None;
    days.push(e);
    let f = rt.observe(&sequence(days, 3_000_000));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(evidence(&f[0], "peer_scope"), Value::Text("org".into()));
    assert_eq!(evidence(&f[0], "peer_size"), Value::Int(180));
}

#[test]
fn a_user_who_changes_group_is_counted_in_the_new_one() {
    let mut rt = trained();
    // User 31 (team 1, workstation 10.1.4.0/24) moves to team 0.
    let mut e = ev(31, 31, T0 + 30 * DAY_MS);
    e.peer_group = Some(0);
    rt.observe(&[e]);
    let mut e = ev(32, 31, T0 + 30 * DAY_MS + HOUR_MS);
    e.peer_group = Some(0);
    e.seq = 5;
    let mut loose = Runtime::<NewSource>::default();
    loose.restore(&rt.snapshot()).unwrap();
    loose.configure([("min_score", "0")]).unwrap();
    // User 32 also joins team 0 and uses user 31's subnet: one peer used it.
    let f = networks(loose.observe(&[e]));
    assert_eq!(evidence(&f[0], "peers_using_subnet"), Value::Int(1));
    assert_eq!(evidence(&f[0], "peer_size"), Value::Int(31));
}

#[test]
fn the_per_user_cap_bounds_memory() {
    let mut rt = runtime();
    rt.configure([("max_sources_per_user", "3"), ("learning_days", "0")])
        .unwrap();
    let mut events = Vec::new();
    for i in 0..10u32 {
        rt.symbols_mut()
            .insert(SymbolKind::Source, 4_000 + i, format!("198.51.{i}.1"));
        events.push(ev(1, 4_000 + i, T0 + i64::from(i) * DAY_MS));
    }
    rt.observe(&sequence(events, 0));
    let user = rt.detector().users.get(1).unwrap();
    assert_eq!(user.subnets.len(), 3);
}

#[test]
fn config_is_validated_and_applied() {
    let mut rt = runtime();
    assert_eq!(
        rt.configure([("nope", "1")]),
        Err(ConfigError::UnknownKey("nope".into()))
    );
    for (key, bad) in [
        ("learning_days", "1.5"),
        ("user_learning_days", "-1"),
        ("min_score", "101"),
        ("pseudocount", "0"),
        ("block_weight", "2"),
        ("ipv4_prefix", "33"),
        ("ipv4_prefix", "23.5"),
        ("ipv6_prefix", "129"),
        ("ipv4_block_prefix", "\"16\""),
        ("max_sources_per_user", "0"),
    ] {
        match rt.configure([(key, bad)]) {
            Err(ConfigError::InvalidValue { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}={bad}: {other:?}"),
        }
    }
    let mut rt = runtime();
    for k in <NewSource as ueba_sdk::Detector>::info().config {
        rt.configure([(k.name, k.default)]).unwrap();
    }
    assert_eq!(rt.detector().config, crate::Config::default());
    // Wider subnets: with /16, the home address is still new, keyed by /16.
    let mut wide = runtime();
    wide.configure([("ipv4_prefix", "16")]).unwrap();
    wide.observe(&history(30));
    let f = connect(&mut wide, 5, HOME);
    assert_eq!(
        evidence(&f[0], "subnet"),
        Value::Text("203.0.0.0/16".into())
    );
    // Prefixes are fixed once networks are learnt, but may be set to what
    // they are (a restored state is configured again), and a block wider
    // than the subnet stays at the subnet as it did.
    assert!(matches!(
        wide.configure([("ipv4_prefix", "24")]),
        Err(ConfigError::InvalidValue { .. })
    ));
    wide.configure([("ipv4_prefix", "16"), ("ipv4_block_prefix", "20")])
        .unwrap();
    // A resumed run with the prefix changed refuses the state by name, so
    // the host starts the detector afresh rather than mixing prefixes.
    let mut changed = runtime();
    changed.configure([("ipv4_prefix", "20")]).unwrap();
    let err = changed.restore(&wide.snapshot()).unwrap_err().to_string();
    assert!(err.contains("networks were learned with 16"), "{err}");
    let mut same = runtime();
    same.configure([("ipv4_prefix", "16")]).unwrap();
    same.restore(&wide.snapshot()).unwrap();
    // Without the block, a VPN range the team's pool holds counts as unused.
    let mut strict = runtime();
    strict
        .configure([("block_weight", "0"), ("min_score", "0")])
        .unwrap();
    strict.observe(&history(30));
    let mut loose = runtime();
    loose.configure([("min_score", "0")]).unwrap();
    loose.observe(&history(30));
    let a = max_score(&connect(&mut strict, 4, VPN_UNUSED));
    let b = max_score(&connect(&mut loose, 4, VPN_UNUSED));
    // Less than the peer shares' ratio: without the block the team's usual
    // discoveries (its VPN ranges) are rarer too.
    assert!(a > b + 3.0, "{a} {b}");
}

#[test]
fn snapshot_restore_gives_identical_findings() {
    let mut events = history(30);
    events.push(ev(5, HOME, T0 + 29 * DAY_MS));
    events.push(ev(7, HOME_SAME_SUBNET, T0 + 29 * DAY_MS + HOUR_MS));
    events.push(ev(40, V6_A, T0 + 29 * DAY_MS + 2 * HOUR_MS));
    events.push(ev(41, JUMP_HOST, T0 + 29 * DAY_MS + 3 * HOUR_MS));
    let events = sequence(events, 0);
    let cut = events.len() * 3 / 4;
    let mut a = runtime();
    a.configure([("min_score", "0")]).unwrap();
    a.observe(&events[..cut]);
    // A restored instance is configured as the one it replaces, as the
    // host does: its configuration is its own, not the snapshot's.
    let mut b = Runtime::<NewSource>::default();
    b.configure([("min_score", "0")]).unwrap();
    b.restore(&a.snapshot()).unwrap();
    let fa = a.observe(&events[cut..]);
    let fb = b.observe(&events[cut..]);
    assert!(fa.len() >= 4, "{fa:#?}");
    assert_eq!(fa, fb);
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn hostile_input_does_not_panic() {
    let mut rt = trained();
    let base = T0 + 31 * DAY_MS;
    let cases = [
        (u32::MAX, Some(u32::MAX), base, 0),
        (3, Some(u32::MAX - 1), base - 5 * DAY_MS, 0),
        (3, Some(HOME), base + 400 * DAY_MS, i32::MAX),
        (3, None, i64::MIN, i32::MIN),
        (3, Some(V6_A), i64::MAX, i32::MAX),
        (u32::MAX - 1, Some(JUMP_HOST), i64::MAX, i32::MIN),
    ];
    let events: Vec<Event> = cases
        .iter()
        .cycle()
        .take(cases.len() * 5)
        .enumerate()
        .map(|(i, &(user, source, time_ms, offset))| Event {
            seq: i as u64,
            time_ms,
            utc_offset_minutes: offset,
            user,
            peer_group: [None, Some(u32::MAX), Some(0)][i % 3],
            source,
            ..Event::default()
        })
        .collect();
    for f in rt.observe(&events) {
        assert!((0.0..=100.0).contains(&f.score));
    }
    let mut fresh = Runtime::<NewSource>::default();
    fresh.observe(&events);
    fresh.observe(&[]);
}

/// Machines named as sources: staff 0..60 always log on from their own
/// (`PC-<id>`); user 200 (an administrator, alone in group 9) from two
/// machines they have not used yet every weekday.
fn workstation_history(rt: &mut Runtime<NewSource>, days: i64) -> Vec<Event> {
    for u in 0..60u32 {
        rt.symbols_mut()
            .insert(SymbolKind::Source, 5_000 + u, format!("PC-{}", 7_000 + u));
    }
    let mut all = Vec::new();
    for day in (0..days).filter(|d| d.rem_euclid(7) < 5) {
        let t = T0 + day * DAY_MS + 9 * HOUR_MS;
        for u in 0..60u32 {
            all.push(ev(u, 5_000 + u, t));
        }
        for k in 0..2u32 {
            let target = (day as u32 * 2 + k) % 50;
            let mut e = ev(200, 5_000 + target, t + HOUR_MS);
            e.peer_group = Some(9);
            all.push(e);
        }
    }
    sequence(all, 0)
}

/// A detector reporting every score that has seen 19 days of
/// [`workstation_history`].
fn workstations_trained() -> Runtime<NewSource> {
    let mut rt = runtime();
    rt.configure([("min_score", "0")]).unwrap();
    let events = workstation_history(&mut rt, 19);
    rt.observe(&events);
    rt
}

#[test]
fn first_uses_are_judged_by_the_users_own_discovery_rate() {
    let mut rt = workstations_trained();
    let mut admin = ev(200, 5_000 + 55, T0 + 21 * DAY_MS + 10 * HOUR_MS);
    admin.peer_group = Some(9);
    let quiet = rt.observe(&sequence(vec![admin], 1_000_000));
    assert!(max_score(&quiet) < 20.0, "{quiet:#?}");
    // User 3 has logged on from their own machine only.
    let loud = connect(&mut rt, 3, 5_000 + 4);
    assert!(max_score(&loud) >= 35.0, "{loud:#?}");
}

#[test]
fn a_source_that_is_the_resource_itself_is_left_to_novel_table() {
    // A logon log names the machine logged on to as both resource and
    // source: a first logon to a colleague's machine is one fact, the
    // machine's first access, which novel-table judges; a network finding
    // would count it twice.
    let mut rt = workstations_trained();
    rt.symbols_mut()
        .insert(SymbolKind::Resource, 5_004, "PC-7004");
    let mut logon = ev(3, 5_000 + 4, T0 + 21 * DAY_MS + 10 * HOUR_MS);
    logon.resource = 5_004;
    let machine = rt.observe(&sequence(vec![logon], 1_000_000));
    assert!(networks(machine).is_empty());
    // Held out of learning, likewise.
    logon.time_ms += DAY_MS;
    let held = rt.observe(&sequence(vec![unlearned(logon)], 1_000_001));
    assert!(networks(held).is_empty());
    // A colleague's machine as the place another user reads a table from
    // is still a new network for them.
    let loud = connect(&mut rt, 5, 5_000 + 6);
    assert!(max_score(&loud) >= 20.0, "{loud:#?}");
}

/// A copy of `rt`, through its snapshot.
fn fork(rt: &Runtime<NewSource>) -> Runtime<NewSource> {
    let mut copy = Runtime::<NewSource>::default();
    copy.restore(&rt.snapshot()).unwrap();
    copy
}

/// The same event, held out of learning.
fn unlearned(e: Event) -> Event {
    Event { learn: false, ..e }
}

/// The network findings of one event by `user` from `source` at 22:00 of
/// `day`, learned or not.
fn connect_on(
    rt: &mut Runtime<NewSource>,
    user: u32,
    source: u32,
    day: i64,
    learn: bool,
) -> Vec<Finding> {
    let e = Event {
        learn,
        ..ev(user, source, T0 + day * DAY_MS + NIGHT)
    };
    networks(rt.observe(&sequence(vec![e], 1_000_000 + day as u64)))
}

fn number(f: &Finding, key: &str) -> f64 {
    match evidence(f, key) {
        Value::Float(x) => x,
        Value::Int(x) => x as f64,
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn a_network_first_used_while_held_is_the_users_once_learning_resumes() {
    let alone = connect_on(&mut trained(), 5, HOME, 30, true);
    let mut rt = trained();
    // Held: scored exactly as a learned first use, once a day per subnet.
    assert_eq!(connect_on(&mut rt, 5, HOME, 30, false), alone);
    assert!(connect_on(&mut rt, 5, HOME, 30, false).is_empty());
    assert!(connect_on(&mut rt, 5, HOME_SAME_SUBNET, 30, false).is_empty());
    let next_day = connect_on(&mut rt, 5, HOME, 31, false);
    assert_eq!(next_day.len(), 1, "{next_day:#?}");
    assert_eq!(next_day[0].score, alone[0].score);
    // Learning resumes: the episode ended without a malicious verdict, so
    // the held use is learned as a first use and the network is the
    // user's, where a run that never saw the held uses reports it.
    assert_eq!(connect_on(&mut trained(), 5, HOME, 32, true).len(), 1);
    // What a held user keeps to learn is in the snapshot.
    assert!(connect_on(&mut fork(&rt), 5, HOME, 32, true).is_empty());
    assert!(connect_on(&mut rt, 5, HOME, 32, true).is_empty());
    assert!(connect_on(&mut rt, 5, HOME, 33, true).is_empty());
}

#[test]
fn a_stretch_of_unlearned_events_teaches_nothing_until_learning_resumes() {
    let mut held = trained_loose();
    let mut never = trained_loose();
    let mut stretch = Vec::new();
    for day in 30..35 {
        let t = T0 + day * DAY_MS + 10 * HOUR_MS;
        // New networks (a new block, a name, IPv6, a new range of the
        // team's VPN pool, a peer's office), the user's own workstation, in
        // another peer group.
        for (i, s) in [HOME, JUMP_HOST, V6_A, VPN_UNUSED, TEAM0_OTHER_SUBNET, 5]
            .into_iter()
            .enumerate()
        {
            let mut e = ev(5, s, t + i as i64 * 60_000);
            e.peer_group = Some(1 + day as u32 % 2);
            stretch.push(unlearned(e));
        }
        // A user the detector has never seen.
        stretch.push(unlearned(ev(GROUPS * PER_GROUP + 3, HOME, t)));
    }
    let found = held.observe(&sequence(stretch, 1_000_000));
    assert!(found.len() >= 20, "{found:#?}");
    // The next learned day of everybody but user 5, who is still held.
    let day35: Vec<Event> = (0..GROUPS * PER_GROUP)
        .filter(|&u| u != 5)
        .map(|u| ev(u, u, T0 + 35 * DAY_MS + 9 * HOUR_MS))
        .collect();
    let day35 = sequence(day35, 2_000_000);
    assert_eq!(held.observe(&day35), never.observe(&day35));
    // Everything learned is as it was; only what user 5 keeps to learn
    // is new.
    let learned = |rt: &Runtime<NewSource>| {
        let mut d = rt.detector().clone();
        d.pending = Table::default();
        // The day's lists of first uses reported while held, which the
        // user's next learned event drops.
        if let Some(u) = d.users.get_mut(5) {
            u.unlearned = FirstToday::default();
            u.unlearned_places = FirstToday::default();
        }
        format!("{d:?}")
    };
    assert_eq!(learned(&held), learned(&never));
    // Once they are learned again, the networks are theirs.
    assert!(connect_on(&mut held, 5, HOME, 36, true).is_empty());
    assert_eq!(connect_on(&mut never, 5, HOME, 36, true).len(), 1);
}

#[test]
fn new_networks_used_while_held_raise_the_discovery_rate_only_once_learned() {
    let mut rt = trained_loose();
    for i in 0..50u32 {
        rt.symbols_mut()
            .insert(SymbolKind::Source, 6_000 + i, format!("198.51.{i}.1"));
    }
    let mut rates = Vec::new();
    // Five days of ten new networks a day, held.
    for day in 30..35 {
        for k in 0..10 {
            let source = 6_000 + 10 * (day as u32 - 30) + k;
            let found = connect_on(&mut rt, 5, source, day, false);
            rates.extend(found.iter().map(|f| number(f, "discovery_rate")));
        }
    }
    assert_eq!(rates.len(), 50);
    assert!(rates.iter().all(|&r| r == rates[0]), "{rates:?}");
    // While held, the next first use is judged by the rate from before
    // the episode.
    let held = connect_on(&mut fork(&rt), 5, HOME, 35, false);
    let never = connect_on(&mut trained_loose(), 5, HOME, 35, true);
    assert_eq!(
        number(&held[0], "discovery_rate"),
        number(&never[0], "discovery_rate")
    );
    assert_eq!(held[0].score, never[0].score);
    // Once learning resumes, the episode's 50 new networks are the user's:
    // they take up new networks often now, and the next one says less.
    let after = connect_on(&mut rt, 5, HOME, 35, true);
    assert!(
        number(&after[0], "discovery_rate") > 2.0 * number(&never[0], "discovery_rate"),
        "{after:#?}"
    );
    assert!(after[0].score < never[0].score, "{after:#?}");
}

#[test]
fn a_network_used_while_held_is_not_counted_for_the_peers() {
    // User 5 works from home every day of an episode; a teammate's first
    // use of that network afterwards finds no peer has used it.
    let mut rt = trained();
    for day in 30..35 {
        assert_eq!(connect_on(&mut rt, 5, HOME, day, false).len(), 1);
    }
    let f = connect_on(&mut rt, 7, HOME, 35, true);
    assert_eq!(evidence(&f[0], "peers_using_subnet"), Value::Int(0));
    assert_eq!(f, connect_on(&mut trained(), 7, HOME, 35, true));
}

/// Two instances, as with `--shards 2`: even users' events go to the first,
/// odd users' to the second, and after each day of events the instances
/// exchange their populations, as the host does at fixed points of event
/// time.
fn two_shards(days: i64) -> [Runtime<NewSource>; 2] {
    let mut shards = [runtime(), runtime()];
    for rt in &mut shards {
        rt.configure([("min_score", "0")]).unwrap();
    }
    let events = history(days);
    for day in 0..days {
        let start = T0 + day * DAY_MS;
        for (i, rt) in shards.iter_mut().enumerate() {
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| e.user % 2 == i as u32)
                .filter(|e| (start..start + DAY_MS).contains(&e.time_ms))
                .copied()
                .collect();
            rt.observe(&mine);
        }
        exchange(&mut shards);
    }
    shards
}

fn exchange(shards: &mut [Runtime<NewSource>; 2]) {
    let shares = [shards[0].population(), shards[1].population()];
    shards[0].absorb(&[&shares[1]]).unwrap();
    shards[1].absorb(&[&shares[0]]).unwrap();
}

/// The peer figures of a finding.
fn peer_figures(f: &Finding) -> [Value; 4] {
    [
        "peers_using_subnet",
        "peers_using_block",
        "peer_size",
        "peer_scope",
    ]
    .map(|k| evidence(f, k))
}

#[test]
fn shards_that_exchange_populations_report_the_whole_organisation() {
    // User 4 (even, so the first shard's) first connects from the VPN range
    // of user 3 (odd, the second shard's), a block some of the team uses.
    let whole = connect(&mut trained_loose(), 4, VPN_BASE + 3);
    let [mut first, mut second] = two_shards(30);
    let mut alone = Runtime::<NewSource>::default();
    alone.configure([("min_score", "0")]).unwrap();
    alone.restore(&first.snapshot()).unwrap();
    let sharded = connect(&mut first, 4, VPN_BASE + 3);
    assert_eq!(whole.len(), 1, "{whole:#?}");
    assert_eq!(sharded.len(), 1, "{sharded:#?}");
    assert_eq!(peer_figures(&sharded[0]), peer_figures(&whole[0]));
    assert_eq!(evidence(&whole[0], "peer_size"), Value::Int(29));
    assert!(number(&whole[0], "peers_using_subnet") >= 1.0, "{whole:#?}");
    assert!(number(&whole[0], "peers_using_block") >= 3.0, "{whole:#?}");
    // The user's own history is the same in both, and the pooled rates are
    // sums of the same counts, rated a day late at worst.
    assert!(
        (sharded[0].score - whole[0].score).abs() < 0.5,
        "{} vs {}",
        sharded[0].score,
        whole[0].score
    );
    // Without the other shard's share the first knows only its own users.
    alone.absorb::<Vec<u8>>(&[]).unwrap();
    let alone = connect(&mut alone, 4, VPN_BASE + 3);
    assert_eq!(evidence(&alone[0], "peer_size"), Value::Int(14));
    assert_ne!(peer_figures(&alone[0]), peer_figures(&whole[0]));
    // The second shard's users see the first's too.
    let whole = connect(&mut trained_loose(), 7, HOME);
    let sharded = connect(&mut second, 7, HOME);
    assert_eq!(peer_figures(&sharded[0]), peer_figures(&whole[0]));
}

#[test]
fn absorbing_the_same_shares_again_changes_nothing() {
    let [mut first, second] = two_shards(20);
    let once = first.snapshot();
    let share = second.population();
    for _ in 0..3 {
        first.absorb(&[&share]).unwrap();
    }
    assert!(first.snapshot() == once);
    // An instance's own share never carries what it absorbed.
    let own = first.population();
    first.absorb::<Vec<u8>>(&[]).unwrap();
    assert_eq!(first.population(), own);
    assert!(first.snapshot() != once);
    first.absorb(&[&share]).unwrap();
    assert!(first.snapshot() == once);
}

#[test]
fn a_restored_instance_keeps_what_it_absorbed() {
    let [mut first, _] = two_shards(30);
    let mut restored = Runtime::<NewSource>::default();
    restored.configure([("min_score", "0")]).unwrap();
    restored.restore(&first.snapshot()).unwrap();
    let events = sequence(
        vec![
            ev(4, VPN_BASE + 3, T0 + 30 * DAY_MS + NIGHT),
            ev(8, HOME, T0 + 30 * DAY_MS + NIGHT),
            ev(10, VPN_BASE + 9, T0 + 31 * DAY_MS + NIGHT),
        ],
        1_000_000,
    );
    let found = first.observe(&events);
    assert_eq!(networks(found.clone()).len(), 3, "{found:#?}");
    assert_eq!(restored.observe(&events), found);
    assert_eq!(restored.population(), first.population());
}

#[test]
fn shares_that_do_not_decode_are_refused_and_change_nothing() {
    let [mut first, second] = two_shards(10);
    let before = first.snapshot();
    let share = second.population();
    // The runtime's header: magic, name length, name.
    let header = 8 + 2 + "new-source".len();
    let mut truncated = share.clone();
    truncated.truncate(header + 3);
    let mut bad = Share {
        org_users: 1,
        ..Share::default()
    };
    bad.org_discovery.accesses = f32::NAN;
    let mut not_counts = share[..header].to_vec();
    not_counts.extend(ueba_sdk::population::encode(&bad));
    for garbage in [truncated, not_counts, b"junk".to_vec()] {
        // Refused even next to a good share, which is not half-applied.
        assert!(first.absorb(&[&share, &garbage]).is_err());
        assert!(first.snapshot() == before);
    }
    // population() leaves the state alone.
    first.population();
    assert!(first.snapshot() == before);
}

/// The place findings of one event by `user` on `resource` from `source`
/// at 22:00 of `day`, learned or not.
fn use_on(
    rt: &mut Runtime<NewSource>,
    (user, resource, source): (u32, u32, u32),
    day: i64,
    learn: bool,
) -> Vec<Finding> {
    let e = Event {
        learn,
        resource,
        ..ev(user, source, T0 + day * DAY_MS + NIGHT)
    };
    of_kind(
        rt.observe(&sequence(vec![e], 2_000_000 + day as u64)),
        "place",
    )
}

/// `user` uses `source` on `day` (late in the evening, after the day's
/// history) for resource 7, which nobody uses otherwise: the network is
/// then known to them, and a known resource's first use from it later is
/// a new place rather than part of a new network.
fn know_network(rt: &mut Runtime<NewSource>, user: u32, source: u32, day: i64) {
    let e = Event {
        resource: 7,
        ..ev(user, source, T0 + day * DAY_MS + NIGHT + HOUR_MS)
    };
    rt.observe(&sequence(
        vec![e],
        3_000_000 + u64::from(user) * 100 + day as u64,
    ));
}

/// [`trained_loose`] in which `user` already knows [`HOME`] from day 29.
fn trained_at_home(user: u32) -> Runtime<NewSource> {
    let mut rt = trained_loose();
    know_network(&mut rt, user, HOME, 29);
    rt
}

#[test]
fn a_new_network_is_one_finding_not_one_per_resource_used_from_it() {
    // User 4 arrives from HOME, a network new to them, and reads resource
    // 0 there: the network is the news; that resource 0 is read from a new
    // place follows from it and is not reported again.
    let mut rt = trained_loose();
    let e = ev(4, HOME, T0 + 30 * DAY_MS + NIGHT);
    let found = rt.observe(&sequence(vec![e], 1_000_000));
    assert_eq!(networks(found.clone()).len(), 1, "{found:#?}");
    assert!(of_kind(found.clone(), "place").is_empty(), "{found:#?}");
    // The next day, from the network they now know, it is not news either.
    assert!(use_on(&mut rt, (4, 0, HOME), 31, true).is_empty());
    // A known network first used for a resource is.
    let f = use_on(&mut trained_at_home(4), (4, 0, HOME), 30, true);
    assert_eq!(f.len(), 1, "{f:#?}");
}

#[test]
fn a_resource_always_used_from_one_network_is_reported_from_another() {
    // User 4 has used resource 0 only from their workstation, 10.0.1.0/24,
    // and knows HOME from another resource.
    let mut rt = trained_at_home(4);
    let f = use_on(&mut rt, (4, 0, HOME), 30, true);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].reason.contains("only from 10.0.1.0/24"),
        "{}",
        f[0].reason
    );
    assert_eq!(evidence(&f[0], "places_before"), Value::Int(1));
    assert!(f[0].score > 15.0, "{f:#?}");
    // Once a place, then known: no second finding, from either address.
    assert!(use_on(&mut rt, (4, 0, HOME), 31, true).is_empty());
    assert!(use_on(&mut rt, (4, 0, HOME_SAME_SUBNET), 31, true).is_empty());
    // A resource the user never used is not a place finding (it is new,
    // for novel-table to judge), nor is a known one from its usual place.
    assert!(use_on(&mut rt, (4, 9, JUMP_HOST), 31, true).is_empty());
    assert!(use_on(&mut rt, (4, 0, 4), 31, true).is_empty());
}

#[test]
fn a_user_who_uses_a_resource_from_several_networks_is_learnt_as_such() {
    // User 3 reads resource 0 from their workstation and their VPN range;
    // user 4 only ever from their workstation. From the same new network,
    // user 3's use says less.
    let steady = use_on(&mut trained_at_home(4), (4, 0, HOME), 30, true);
    let mobile = use_on(&mut trained_at_home(3), (3, 0, HOME), 30, true);
    assert!(
        mobile[0].score + 3.0 < steady[0].score,
        "{mobile:#?} {steady:#?}"
    );
    // Past four networks a resource has no habitual place.
    let mut rt = trained_loose();
    for (day, source) in [(30, HOME), (31, JUMP_HOST), (32, V6_A), (33, V6_OTHER_64)] {
        use_on(&mut rt, (4, 0, source), day, true);
    }
    assert!(use_on(&mut rt, (4, 0, TEAM0_OTHER_SUBNET), 34, true).is_empty());
}

#[test]
fn a_new_place_used_while_held_is_reported_once_a_day_and_learned_once_the_user_is() {
    let alone = use_on(&mut trained_at_home(4), (4, 0, HOME), 30, true);
    assert_eq!(alone.len(), 1);
    let mut rt = trained_at_home(4);
    assert_eq!(use_on(&mut rt, (4, 0, HOME), 30, false), alone);
    assert!(use_on(&mut rt, (4, 0, HOME_SAME_SUBNET), 30, false).is_empty());
    assert_eq!(use_on(&mut rt, (4, 0, HOME), 31, false).len(), 1);
    // Learning resumes: the held use is learned, and the place is the
    // user's, where a run that never saw it reports it.
    assert_eq!(
        use_on(&mut trained_at_home(4), (4, 0, HOME), 32, true).len(),
        1
    );
    assert!(use_on(&mut rt, (4, 0, HOME), 32, true).is_empty());
    assert!(use_on(&mut rt, (4, 0, HOME), 33, true).is_empty());
}

#[test]
fn shards_pool_place_habits_like_one_instance() {
    let whole = use_on(&mut trained_at_home(4), (4, 0, HOME), 30, true);
    let [mut first, _] = two_shards(30);
    know_network(&mut first, 4, HOME, 29);
    let sharded = use_on(&mut first, (4, 0, HOME), 30, true);
    assert_eq!((whole.len(), sharded.len()), (1, 1));
    assert!(
        (sharded[0].score - whole[0].score).abs() < 0.5,
        "{sharded:#?} {whole:#?}"
    );
    // Alone, the shard knows half the team's habits.
    let [mut alone, _] = two_shards(30);
    alone.absorb::<Vec<u8>>(&[]).unwrap();
    know_network(&mut alone, 4, HOME, 29);
    let alone = use_on(&mut alone, (4, 0, HOME), 30, true);
    assert_ne!(alone[0].score, whole[0].score);
}
