//! `volume`: flags a user reading far more rows, or acting far more often,
//! than usual.
//!
//! Exfiltration reads data, so the number of rows a person reads is the most
//! direct signal of it: a support agent whose day is ~40 rows reading 68,000
//! rows of `support.customers`, or the same agent pulling 300 rows forty
//! times in a day. Judging against a fixed limit would flag every analyst
//! and miss the agent, so each user is compared with their own history.
//!
//! Only rows *read* count: events whose action does not return data to the
//! user (`ignore_actions`: maintenance such as `vacuum` and `analyze`,
//! writes and DDL, compared case-insensitively) and failed events
//! (`outcome == Failure`) are skipped entirely, neither counted nor scored,
//! so a maintenance job's "rows" (table sizes) never look like a read.
//!
//! # Model
//!
//! Three buckets are scored as they fill, on every event:
//!
//! * the user's rows in the current local **hour**,
//! * the user's rows in the current local **day**,
//! * the user's rows of this **resource** in the current local day.
//!
//! Each bucket kind has a baseline: the median and MAD-based spread of
//! `ln(1 + total)` over the user's recent completed buckets (robust, so
//! one earlier spike does not raise the bar). Only *active* buckets are
//! history: a weekend or a leave day with no events is not a zero-row day,
//! and an hour without events is not a zero-row hour, so quiet days cannot
//! drag the baseline down and make a normal day look large.
//!
//! Hour and day baselines are shrunk towards the peer group's (every member's
//! recent completed buckets pooled; the whole organisation's when the user
//! has no peer group) with the prior worth `prior_weight` buckets, so a new
//! user is judged against what their peers do and the user's own history
//! takes over as days accumulate. The pooled spread includes differences
//! between members, which keeps the judgement of newcomers lenient. A user
//! unlike their pool is not shrunk towards it: beyond two of the pool's
//! spreads from its median, the prior's weight falls off as a normal tail
//! (`Fit::kinship`), so a service account reading forty thousand rows a
//! day among agents reading a thousand (or alone in its group, judged
//! against the organisation) is judged by its own steady days instead of
//! a median half-way to the agents', against which every ordinary day of
//! it looked like a bulk read.
//!
//! How far a pool speaks for a member also depends on what its spread is
//! made of (`spread`). Each pool keeps the variance of its values and the
//! mean square of each member-bucket's distance from its member's own
//! level; their difference is the variance between members, and a normal
//! hierarchy weighs the pool against a member's own buckets at `V / B`
//! (within over between) buckets, when that is less than `prior_weight`.
//! Without peer groups the pool is the organisation, whose days span
//! service accounts and clerks: a billing agent reading 7,000 rows of a
//! table they read a hundred of a day was hidden by the organisation's
//! spread, and is now judged by their own twenty days. A group whose
//! members' own days are lumpy (researchers who now and then export a
//! whole report) keeps the blend, however steady a member's first weeks.
//! User × resource baselines need `MIN_PAIR_HISTORY` active days of their
//! own and are shrunk towards a wide spread, because one table's daily use
//! is lumpier than a whole day's. For the same reason hour and table-day
//! spreads are never narrower than the user's (blended) day spread: parts
//! vary at least as much as their sum, so a user whose days are lumpy (an
//! occasional whole-table export among small reads) is not flagged for
//! every such hour or table, while a user with steady days still is.
//!
//! The running total is scored with a negative binomial (Poisson–gamma)
//! whose mean and variance match the log-normal the baseline describes,
//! `p = P(X ≥ total)`; the log-normal's own tail is computed too and the
//! larger `p` kept, so a total must be extreme under both to score (the
//! negative binomial alone is too sure of itself for bursty, skewed
//! histories). For user × resource baselines, which rest on at most eight
//! table-days, the log-scale tail is the predictive Student-t with as many
//! degrees of freedom as days behind the baseline (own history held plus
//! `prior_weight`, less one), not the normal: eight table-days cannot
//! support a one-in-ten-billion verdict. Hour and day baselines rest on a
//! month of buckets and the pooled peers, and keep the normal tail. The spreads also look at the top 2.5% of long histories (a
//! month of hours), so a user who exports a whole table a few times a month
//! has a baseline that knows it. Score = `score_from_p(p)`; the bucket with
//! the lowest `p` is reported.
//!
//! # Counts
//!
//! Sizes are not everything: on logs where every event is one row (logons,
//! removable media) the rows say nothing, and a user who connects removable
//! media five times a day and then twenty is the signal. So each user ×
//! resource pair also counts its *events* per local day and per local hour,
//! and keeps exponentially weighted moments of them over its active days
//! (about three weeks) and active hours (about two days). A count is scored
//! with a negative binomial of the history's mean and variance, widened by
//! `1 + 1/n` for a mean estimated from `n` buckets. The variance is never
//! below Poisson's, nor below what the user's (blended) day spread on the
//! log scale implies for the count (`(mean · s)²`): parts vary at least as
//! much as their sum, so on a busy day every table's count may double,
//! while small counts stay limited by chance. A steady 4–6 a day makes 20
//! deep in the tail (~58 after a week), while a history that swings from 1
//! to 30 makes it ordinary. A bucket is learned at most as the count the
//! history gives a one-in-a-thousand chance of reaching (once five buckets
//! stand behind it): with a few weeks of moments, one day of 22 among days
//! of 2 to 6 would otherwise widen the spread so far that the next day's 16
//! looked ordinary, while a lasting change still teaches, a bounded count
//! at a time. Daily counts need
//! `MIN_PAIR_HISTORY` active days, hourly ones [`MIN_PAIR_HOURS`] active
//! hours.
//!
//! # A rate that has changed for days
//!
//! A day's count against the pair's active days cannot see a change that
//! starts from a thin history and lasts: someone who connected removable
//! media twice on two days of eight, and then ten times a day, has two
//! active days behind their daily moments when the surge starts, and by
//! its third day those moments have learned two clipped surge days. So
//! each pair also keeps its counts on the user's last four learned days
//! (zero on the user's days without it) and the moments of the days before
//! them, and judges the events of the last two to five days, today
//! included, against the rate of the days before them: the posterior
//! predictive of a Poisson rate with Jeffreys' prior, with counts divided
//! by a dispersion factor for pairs, runs of work and days of no use, and
//! multiplied by the windows tried (the `rate` module has the maths). A
//! week at a colleague's desk after two visits in a fortnight, each day
//! like the visits, is no change; ten a day for three days after two on
//! each of two days of eight is. Days held out of learning stay in the
//! windows as recent days (never as the days before them) until the user
//! is learned again, so a surge that keeps its user held adds up. The bucket is
//! `user-resource-days-events`; its evidence gives `window_days`,
//! `before_events`, `before_days` and `dispersion`.
//!
//! # Reads the size others make
//!
//! Rows are not alike across resources: a ward's census returns forty
//! rows to every nurse who opens it, a chart one. So the hour and day
//! totals count a read of a resource whose readers in the user's peer
//! group usually read more than the user usually does, once two others of
//! the group have read it, as `max(m, rows · m / R)` rows: `m` the user's
//! usual read, `R` the group's usual read of the resource. A read the size
//! the group makes is one of the user's own; a bulk read by someone who
//! reads like their team is counted whole. The `reads` module has the
//! details; a finding says when a read was scaled (`counted_rows`,
//! `group_usual_read_rows`, `user_usual_read_rows`).
//!
//! # One outsized read
//!
//! A total far beyond the user's history may be one read: an ad-hoc
//! `SELECT *`, an export behind a report. Where the log's row counts have
//! a heavy tail such reads are everybody's now and then, and the totals'
//! tails, fitted on each user's own buckets, call every one of them a bulk
//! read. So the organisation's reads are kept by how far each exceeded its
//! reader's usual read, and a bucket whose excess the event's read mostly
//! carries is judged no more surely than such reads are rare in the log;
//! a read beyond what the log has shown keeps the bucket's own tail. The
//! `outsize` module has the details; a finding says when a read was
//! judged so (`outsized_ratio`, `outsized_share`, `bucket_reads`,
//! `bucket_p`).
//!
//! # Many tables, many tests
//!
//! The user's own hour and day are one bucket each, but the per-resource
//! buckets (a table's rows and events today, this hour, against the slow
//! references) are one per resource the user touches: someone who works on
//! eight tables a day gets eight chances a day of one table looking busy.
//! So their tails are multiplied by the number of resources the user has
//! events on today (this hour, for hourly counts), `p′ = min(1, k·p)`
//! (Bonferroni), about `10·log10(k)` points off the score. A bulk read's
//! `p` of 10⁻⁴⁰ is untouched in effect; a busy hour on one of eight tables
//! scores 9 points less than the same hour on someone's only table. On
//! generated database organisations of 500 users this halved the false
//! alerts (about 0.5 to 0.3 per 1,000 user-days) with every scenario still
//! detected.
//!
//! # Where the day went
//!
//! A pair's own history cannot tell a resource the user keeps coming back
//! to as one thing (their machine, removable media, a table) from one of
//! the many of a kind their work moves among (a file share's documents, a
//! ward's patient charts): a document opened twice a week that takes
//! today's work makes twenty events, deep in its pair's tail, on an
//! ordinary day. So each user keeps, per kind of resource (the `kinds`
//! setting, else the resource's shape, as novel-table's), how the part of
//! their days on the kind that was not on its busiest resource swings, and
//! a pair's day and recent-days counts, `e` events above what the pair
//! expected, are judged no more surely than that rest running `e` events
//! over its mean. A kind of one resource, or a user who works on one
//! resource of a kind, has no rest, and its surges are judged as before.
//! The rest is a day's, so a pair's hour is judged as before, as are the
//! user's own hour and day, rows, and the slow references: doing more
//! still shows. A bounded finding says so
//! (`kind`, `kind_rest_mean`, `kind_rest_sd`, `pair_p`); the `kinds`
//! module has the details.
//!
//! # Two clocks
//!
//! Each baseline above learns from recent buckets, so a ramp (12% more reads
//! of a usual table every working day) becomes each day's new normal. Beside
//! them the detector keeps *slow references* of `ln(1 + total)` per active
//! day, for the user's day rows and for each pair's rows and events: their
//! first weeks, then forgetting over a quarter of a year of active days
//! (`counts::SLOW_WINDOW`). A day more than two spreads above a slow
//! reference does not teach it, so a ramp under way cannot become its own
//! reference; after about six working weeks of such days the reference
//! starts over from the present level, so a lasting change (a new job) is
//! accepted rather than flagged for ever. A total is scored by the normal
//! tail of its distance from the reference, in the reference's spread
//! (never below 0.3, nor, for rows, below the user's day spread, as for the
//! fast baselines, nor, for events and rows alike, below the spread chance
//! gives a count at the reference's level, `√μ / (1 + μ)`: two logons a
//! day becoming six is a tripling that chance alone makes about one day in
//! seventy, and rows are at least as uncertain as a count of them), once
//! the reference has ten active days. The 12% ramp alerts at about 5× its
//! first month's level.
//!
//! # Findings
//!
//! None during the global learning period (`learning_days` of event time
//! from the first event seen), nor below `min_score`. A bucket reports again
//! only when its score rises by [`RESCORE_STEP`] over what was last
//! reported for it, and never below the highest score already reported for
//! the user that day (the host keeps the maximum anyway), so a burst
//! yields a handful of findings, not one per event. The `bucket` evidence
//! names what was judged: `hour`, `day`, `user-resource-day` (rows),
//! `user-resource-day-events`, `user-resource-hour-events` (counts),
//! `day-slow`, `user-resource-day-slow`, `user-resource-day-events-slow`
//! (slow references), `user-resource-days-events` (a rate over days); on a
//! tie a row bucket is reported.
//!
//! # Cost
//!
//! Computing the tails on every event made this detector the slowest part
//! of scoring. A bucket's baseline changes only when buckets close, and
//! whether its running total reports is a threshold on that total (for the
//! score the bucket must reach, given what it and the user reported
//! today), so each bucket keeps that threshold until its baseline or the
//! score changes, and an event under every threshold costs a few
//! comparisons. Tails are computed only for an event that may report, and
//! then exactly as described above, so findings are unchanged (see
//! `model::Gate`). A count tail is computed only once the count is two
//! spreads above its mean, and then at most every sixteenth of the count,
//! and not when the first terms of its sum already show that it falls
//! short of the score asked for (`counts::Moments::surely_below`);
//! a slow reference costs a logarithm per event only once the total is
//! near its threshold, and one per closed day. Pairs are kept in order of
//! first access and found through a small hash table of (resource,
//! position), so finding an event's pair touches one cache line or two
//! rather than one per probe of a binary search, and a new pair moves no
//! other; a day is closed in one pass over the pairs that had events that
//! day (a list the user keeps), not over every pair it ever touched.
//!
//! # Time
//!
//! Buckets follow the user's local time. An event up to a day older than the
//! user's current day is late and counts towards the current day (in its
//! own hour); one further in the past starts a new day, so a single event
//! with a far-future timestamp cannot freeze a user's buckets.
//!
//! # Events held out of learning
//!
//! An event with `learn` false (the host holds the user out of learning,
//! e.g. while their alert episode is open) is counted in the running
//! totals of its hour, day, table-day and table-hour and scored against
//! the baselines as they stand, as any other. But a user-day holding such
//! an event teaches nothing when it closes: none of its totals join the
//! user's row histories, count moments or slow references, nor the pools
//! of their peer group and the organisation, for as long as the user is
//! held. They are kept aside (`held`) and learned, oldest first and as
//! if each had been learned when it closed, at the user's first event the
//! host lets the detectors learn from again: the episode that held them
//! ended without a malicious verdict, so what was held was the user's
//! normal, and a routine that alerted (a weekly report of a table the team
//! does not read) becomes normal after its episode instead of alerting
//! again after every hold. A day is learned whole or not at all, even its events before the
//! first held one: the events that raised the alert came before the host
//! held the user, and a day cut to its learned part would be a small day
//! that drags the baselines down. (A pair's hourly counts join its moments
//! as each hour ends, so those of hours that ended before the day's first
//! held event are learned already; those of later hours are kept with the
//! day.) So while the user is held, a ramp is
//! scored against the baselines as they stood before, rather than becoming
//! its own normal. Events skipped as not reads hold no day. The peer group
//! a held event names is still taken (it comes from the identity file, not
//! from behaviour), a table first read on a held day is tracked from then
//! on with an empty history, and the global learning period's clock starts
//! at the first event seen, held or not.
//!
//! # Sharing with other shards
//!
//! With the users spread over several instances (`--shards`), each pools
//! only its own users' buckets, so the peer-group and organisation
//! baselines a user is shrunk towards would rest on a fraction of the
//! members. The instances therefore exchange their pools
//! ([`Detector::population`], [`Detector::absorb`]). An instance shares,
//! for the organisation and each peer group (by the host's peer-group id)
//! whose pool holds any value, the values its own users put there: the
//! recent member-days and active hours as `ln(1 + total)`, the most recent
//! first, never what it absorbed. The pools are rings of recent values, not
//! sums, so merging keeps the bound: each pool keeps the other instances'
//! latest values apart from its own (in the snapshot), and its baseline is
//! the fit of the `POOL_DAYS` (`POOL_HOURS`) values of its own and theirs
//! that are youngest by *relative age*, a value's place from the most
//! recent over the values its instance holds. Each instance thus gives in
//! proportion to what it holds: all of them while the pool has room (the
//! same values, and the same fit, as one instance would have), and when
//! full, with users hashed evenly over the shards, each shard's most recent
//! share of the pool, which spans about the time the single ring would.
//! Whether a peer group's pool has `POOL_MIN` values to stand for its
//! members counts both. The mixed fits are computed at each exchange and
//! again when the pool's own values have changed about as large a part of
//! the mixed pool as `POOL_REFIT` values change of an unshared one: every
//! `POOL_REFIT` times (own + others' values) / own values of its own, so
//! N shards refit no more often in all than one instance does. The
//! other shards' values are as of the last exchange, and each exchange
//! replaces them; a user's own histories, pairs and slow references are
//! never shared, as a user lives in one shard. A share is 4 bytes a value:
//! at most about 3 KiB per peer group (256 days and 512 hours), and the
//! same once for the organisation, with its own members' spreads (96
//! bytes, added up). The usual reads of resources are shared
//! too (each instance's own entries, 24 bytes each, replaced at each
//! exchange); a user's own usual read is not. So are the organisation's
//! read ratios (`outsize`: each instance's own 96 bins, summed over the
//! others at each exchange).
//!
//! # Memory
//!
//! Per user about 2.2 KiB once its histories hold five values (hour and
//! day totals of the current day, and whether it is held out of learning;
//! 28 daily and 192 hourly history values, each held twice, as an f32 in
//! arrival order and as a sorted key, so refits read quantiles instead of
//! sorting; two cached thresholds; a history has room for four values at
//! first and takes its full room at the fifth, as it will fill; the slow
//! reference of day rows, 16 bytes)
//! plus 384 bytes (six cache lines) per user × resource pair, with no
//! allocation of its own (its eight-value rows history held inline; events
//! today and this hour, day and hour count moments, slow references of
//! rows and events, 100 bytes together; its last four days' counts and
//! the moments of the days before them, 40 bytes; three cached
//! thresholds), plus 8 bytes per resource any pair of the instance has
//! kept ten days of (its pairs' typical dispersion), and 16
//! to 32 bytes in the user's table of pairs by resource, which is at most
//! half full; at most [`MAX_PAIRS_PER_USER`] pairs per user (pairs beyond
//! that are not tracked; hour and day still are), and when a day closes
//! with more than [`PAIRS_KEPT`] (256), the least recently used beyond it
//! are forgotten, so a user of a log of documents holds about 100 KiB. The
//! instance's pairs share a budget ([`PAIRS_BUDGET`], 65,536 pairs, 24
//! MiB): past it a closing day keeps only the budget's share of each user
//! holding pairs (at least [`PAIRS_KEPT_MIN`]), and a new resource gets a
//! pair only while the instance holds under one and a half budgets or the
//! user under the minimum, so thousands of users of a file share stay
//! within the sandbox. Per peer
//! group about 6 KiB (pooled 256 daily and 512 hourly values, also twice,
//! and 224 bytes of spreads),
//! plus the same once for the organisation, and when sharded another
//! 6 KiB for the other shards' values (with their relative ages). 8 bytes
//! per user for their usual read, and 24 bytes per peer group and
//! resource read more than one row at a time (at most 16 groups per
//! resource; twice when sharded). 24 bytes per kind of resource a user
//! has events of (at most 16), and per instance 4 bytes per resource
//! (its kind) and each kind's name. A user held out of learning keeps
//! their held days aside until they are learned: per day about 250
//! bytes, 40 per table with events that day (at most 64) and 4 per hourly
//! count (at most 1,536), at most 14 days: a few KiB for a user of a
//! database log, at most about 125 KiB; and 56 bytes per user ever held.
//! Per instance 800 bytes of read ratios (`outsize`: two histograms of
//! 96 bins, its own and the other shards').
//! Ids at or above 2²⁰ are kept in a B-tree
//! rather than a vector, so a huge id never allocates a huge vector.
#![deny(missing_docs)]

mod counts;
mod held;
mod kinds;
mod model;
mod outsize;
mod rate;
mod reads;
mod shared;
mod spread;
mod upgrade;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, HOUR_MS, Info, Outcome, Symbols,
    config, population, score_from_p,
};

use counts::{COUNT_WINDOW_DAYS, COUNT_WINDOW_HOURS, Moments, Slow, SlowGate, z_for_score};
use held::Held;
use kinds::{KindDay, Kinds};
use model::{Fit, Gate, Quantiles, Ring, SmallRing, log_total};
use outsize::{Outsized, ReadRatios};
use rate::{Dispersions, RateChange, RecentDays};
use reads::{Counted, ReadSizes};
use shared::{PoolShare, Recent, Share, Shared};
use spread::{Spread, Spreads};
use ueba_sdk::table::Table;

/// A bucket reports again only when its score rises by this much.
pub const RESCORE_STEP: f32 = 10.0;
/// Pairs tracked per user; bounds memory for users who touch everything.
pub const MAX_PAIRS_PER_USER: usize = 1024;
/// Pairs a user keeps when one of their days closes with more: the most
/// recently used (longest history first among equals). On a log of
/// documents or files a user touches a few hundred new resources a month,
/// each pair a few hundred bytes, and 1,024 of them per user took a
/// 600-user audit trail past the sandbox's 256 MiB; a pair idle for weeks
/// with a day or two of history judges nothing. No user of the database,
/// workstation or logon logs measured holds this many.
pub const PAIRS_KEPT: usize = 256;
/// Pairs an instance holds (about 24 MiB of them, at 384 bytes a pair)
/// past which a closing day keeps fewer than [`PAIRS_KEPT`] of its user's:
/// the budget shared by the users holding pairs, and never fewer than
/// [`PAIRS_KEPT_MIN`]. A file
/// server's 5,000 users each opening a few hundred documents a week held
/// 256 pairs apiece, about 490 MiB, and the detector failed past the
/// sandbox's 256 MiB and was quarantined with two thirds of the log unseen.
/// Up to 256 users at [`PAIRS_KEPT`] each nothing changes.
pub const PAIRS_BUDGET: usize = 65_536;
/// Fewest pairs a closing day keeps of its user's, however many users
/// share [`PAIRS_BUDGET`]: a user's machine, drive and usual tables.
pub const PAIRS_KEPT_MIN: usize = 32;
/// Pairs an instance holds past which a user's new resource gets a pair
/// only while the user holds fewer than [`PAIRS_KEPT_MIN`]: within a day
/// pairs grow until it closes, and 5,000 users' first hundred documents
/// of a day would otherwise take the instance past its memory before any
/// day closed.
const PAIRS_HARD: usize = PAIRS_BUDGET + PAIRS_BUDGET / 2;
/// Active days of a user × resource pair needed before it is scored alone.
pub const MIN_PAIR_HISTORY: u32 = 4;
/// Most of the user's learned days without a pair that join its recent
/// days as zeros at once: four windows of daily counts, after which the
/// earlier days' moments keep about 2% of what they held.
const ZERO_DAYS_MAX: u32 = 4 * COUNT_WINDOW_DAYS as u32;
/// Active hours of a pair needed before its hourly event count is scored.
pub const MIN_PAIR_HOURS: f32 = 8.0;

const DAY_HISTORY: usize = 28;
const HOUR_HISTORY: usize = 192;
const PAIR_HISTORY: usize = 8;
const POOL_DAYS: usize = 256;
const POOL_HOURS: usize = 512;
/// A pooled baseline is refitted after this many new values.
pub(crate) const POOL_REFIT: u32 = 32;
/// Pooled values needed before a peer or org baseline is used.
const POOL_MIN: usize = 10;
/// Own buckets needed before a user's own baseline is fitted.
const OWN_MIN: usize = 3;
const MIN_SD_DAY: f64 = 0.3;
const MIN_SD_HOUR: f64 = 0.5;
const MIN_SD_PAIR: f64 = 0.5;
/// The spread a pair baseline is shrunk towards, worth `prior_weight` days.
const PAIR_PRIOR_SD: f64 = 1.2;
const NO_DAY: i64 = i64::MIN;
/// Action ids below this have their `ignore_actions` verdict cached.
const ACTION_CACHE_IDS: u32 = 1 << 16;
/// Actions that return no data to the user, by default.
const DEFAULT_IGNORE_ACTIONS: [&str; 12] = [
    "vacuum", "analyze", "reindex", "insert", "update", "delete", "create", "drop", "alter",
    "grant", "revoke", "truncate",
];

/// The operator's settings; part of the snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Days of event time, from the first event seen, with no findings.
    pub learning_days: u32,
    /// Findings scoring below this are dropped as noise.
    pub min_score: f32,
    /// How many of the user's own buckets the peer prior is worth.
    pub prior_weight: f64,
    /// Actions (lower case) whose rows are not reads; such events are skipped.
    pub ignore_actions: Vec<String>,
    /// (glob, kind) pairs; a resource's kind is that of the first glob it
    /// matches, else its shape (`kinds`).
    pub kinds: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            prior_weight: 5.0,
            ignore_actions: DEFAULT_IGNORE_ACTIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            kinds: Vec::new(),
        }
    }
}

/// The volume detector: per-user robust baselines of rows read per hour,
/// per day and per table-day, scored with a negative binomial tail.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Volume {
    config: Config,
    first_ms: Option<i64>,
    users: Table<User>,
    groups: Table<Pool>,
    org: Pool,
    /// The typical dispersion of this instance's pairs' daily counts, per
    /// resource and in all (`rate`).
    dispersion: Dispersions,
    /// What a read of each resource usually returns to its peer group's
    /// readers, and each user's usual read: how a read counts in the hour
    /// and day totals (`reads`).
    reads: ReadSizes,
    /// The kind of each resource, by which users' days are kept (`kinds`).
    kinds: Kinds,
    /// Per user, the days held out of learning and kept aside until the
    /// user's days are learned again (`held`); only users held since
    /// their last learned day have one.
    held: Table<Held>,
    /// The organisation's reads by how far each exceeded its reader's
    /// usual read, which bounds a total one read carries (`outsize`).
    ratios: ReadRatios,
    /// Whether each action id is in `ignore_actions` (by id, below
    /// [`ACTION_CACHE_IDS`]), so the names are compared once per action
    /// rather than once per event. Derived, so not in the snapshot.
    #[serde(skip)]
    ignored_actions: Vec<Option<bool>>,
    /// The log-scale quantiles the gates start from; derived.
    #[serde(skip)]
    quantiles: Quantiles,
    /// The spreads above a slow reference that reach `min_score`, and the
    /// `min_score` they were computed for; derived.
    #[serde(skip)]
    slow_z: Option<(f32, f64)>,
    /// How many pairs the instance holds, and how many users hold them;
    /// derived (counted again after a restore).
    #[serde(skip)]
    pair_count: PairCount,
    /// Score every bucket with its full tail on every event, bypassing the
    /// gates: the reference the gated detector is tested against.
    #[cfg(test)]
    #[serde(skip)]
    ungated: bool,
}

/// Which bucket a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bucket {
    Hour,
    Day,
    Pair,
    /// Events on the resource today, against the pair's daily counts.
    PairEvents,
    /// Events on the resource this hour, against its hourly counts.
    PairHourEvents,
    /// Events on the resource over the user's last two to five days,
    /// against the days before them (`rate`).
    PairRecentEvents,
    /// Rows of the resource today, against the pair's slow reference.
    PairTrend,
    /// Events on the resource today, against their slow reference.
    PairEventsTrend,
    /// Rows today, against the user's slow reference.
    DayTrend,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Pair => "user-resource-day",
            Bucket::PairEvents => "user-resource-day-events",
            Bucket::PairHourEvents => "user-resource-hour-events",
            Bucket::PairRecentEvents => "user-resource-days-events",
            Bucket::PairTrend => "user-resource-day-slow",
            Bucket::PairEventsTrend => "user-resource-day-events-slow",
            Bucket::DayTrend => "day-slow",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    day: i64,
    /// Whether the current day holds an event with `learn` false, so that
    /// its totals are dropped rather than learned when it closes.
    held: bool,
    hours: [u64; 24],
    day_total: u64,
    hour_reported: [u8; 24],
    day_reported: u8,
    today_max_reported: u8,
    day_hist: Ring,
    hour_hist: Ring,
    days_seen: u32,
    hours_seen: u32,
    /// Learned days of the user so far, with or without rows: the clock by
    /// which a pair counts the user's days without it as zeros.
    learned_days: u32,
    /// Days of the user held out of learning since their last learned
    /// day: the clock by which a pair's held days (`rate`) count the
    /// user's held days without it as zeros.
    held_run: u32,
    day_fit: Option<Fit>,
    hour_fit: Option<Fit>,
    /// In order of first access: a new pair is appended, so the pairs
    /// (a few hundred bytes each) never move to make room.
    pairs: Vec<Pair>,
    /// Where each resource's pair is in `pairs`; derived.
    #[serde(skip)]
    pair_index: PairIndex,
    /// Positions in `pairs` of the pairs with events today, so closing a
    /// day visits those rather than every pair the user ever touched;
    /// derived, so only trusted once a day has closed since the user was
    /// created or restored (`today_pairs_known`).
    #[serde(skip)]
    today_pairs: Vec<u32>,
    #[serde(skip)]
    today_pairs_known: bool,
    /// Slow reference of the day's rows, and today's highest score against it.
    slow_day: Slow,
    slow_day_reported: u8,
    /// How the user's days on each kind of resource swing (`kinds`).
    kinds: Vec<KindDay>,
    /// Threshold of the slow day reference; derived.
    #[serde(skip)]
    slow_day_gate: Option<SlowGate>,
    /// Thresholds of the current hour and day baselines; derived.
    #[serde(skip)]
    hour_gate: Option<Gate>,
    #[serde(skip)]
    day_gate: Option<Gate>,
}

/// A user's day clocks, as a pair needs them to catch up (`Pair::catch_up`).
#[derive(Clone, Copy)]
struct UserDays {
    learned: u32,
    held_run: u32,
}

impl User {
    /// Fold `f` over the user's pairs with events today: once the list of
    /// them is known only those (a user who touched hundreds of resources
    /// over the months works on a few a day, and this runs on every event
    /// that is judged), else every pair, where a pair without events today
    /// must add nothing.
    fn fold_today<T>(&self, init: T, f: impl FnMut(T, &Pair) -> T) -> T {
        if self.today_pairs_known {
            self.today_pairs
                .iter()
                .filter_map(|&i| self.pairs.get(i as usize))
                .fold(init, f)
        } else {
            self.pairs.iter().fold(init, f)
        }
    }

    fn days(&self) -> UserDays {
        UserDays {
            learned: self.learned_days,
            held_run: self.held_run,
        }
    }
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            day: NO_DAY,
            held: false,
            hours: [0; 24],
            day_total: 0,
            hour_reported: [0; 24],
            day_reported: 0,
            today_max_reported: 0,
            day_hist: Ring::default(),
            hour_hist: Ring::default(),
            days_seen: 0,
            hours_seen: 0,
            learned_days: 0,
            held_run: 0,
            day_fit: None,
            hour_fit: None,
            pairs: Vec::new(),
            pair_index: PairIndex::default(),
            today_pairs: Vec::new(),
            today_pairs_known: false,
            slow_day: Slow::default(),
            slow_day_reported: 0,
            kinds: Vec::new(),
            slow_day_gate: None,
            hour_gate: None,
            day_gate: None,
        }
    }
}

/// A user × resource pair.
///
/// Laid out by hand, in cache lines: what every event reads or writes
/// first (the running counts and their moments, then the row baseline,
/// slow references and reported scores, then the cached thresholds), and
/// the rows history, read only when a day closes, last; so an event
/// touches a few adjacent lines of the pair. The snapshot keeps the
/// fields in the order of [`PairState`], whatever the layout.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "PairState")]
#[repr(C, align(64))]
struct Pair {
    today: u64,
    /// Events today, and in the pair's latest local hour (`hour`, local ms
    /// / 1 h).
    hour: i64,
    events_today: u32,
    hour_events: u32,
    /// Counts from which the next count tail is worth computing (0: not yet
    /// set). They depend on the day's events so far, so they are part of
    /// the snapshot: a restored detector computes the same tails.
    next_day_events: u32,
    next_hour_events: u32,
    days_seen: u32,
    resource: u32,
    /// The user's `learned_days` up to which the pair's recent days are
    /// current: the user's learned days since then are zeros it has yet
    /// to take in.
    mark: u32,
    /// The pair's counts on the user's last learned days (zero on days
    /// without it) and the days before them (`rate`); today's highest
    /// score of its rate change,
    /// and the count from which it is worth judging again (0: not yet
    /// set).
    recent: RecentDays,
    recent_reported: u8,
    next_recent_events: u32,
    /// Event counts per active day and per active hour.
    day_counts: Moments,
    hour_counts: Moments,
    fit: Option<Fit>,
    /// Slow references of rows and of events per active day.
    slow_rows: Slow,
    slow_events: Slow,
    reported: u8,
    /// Highest scores reported today (this hour for `hour_events`) by the
    /// count and slow buckets.
    events_reported: u8,
    hour_events_reported: u8,
    slow_rows_reported: u8,
    slow_events_reported: u8,
    /// Threshold of the current baseline; derived.
    gate: Option<Gate>,
    /// Thresholds of the slow references of rows and events; derived.
    slow_rows_gate: Option<SlowGate>,
    slow_events_gate: Option<SlowGate>,
    hist: SmallRing<PAIR_HISTORY>,
}

/// A [`Pair`] as the snapshot holds it: its fields in the order they were
/// first written, without the derived thresholds.
#[derive(Deserialize)]
#[serde(rename = "Pair")]
struct PairState<R = RecentDays> {
    resource: u32,
    today: u64,
    reported: u8,
    days_seen: u32,
    hist: SmallRing<PAIR_HISTORY>,
    fit: Option<Fit>,
    events_today: u32,
    hour: i64,
    hour_events: u32,
    day_counts: Moments,
    hour_counts: Moments,
    slow_rows: Slow,
    slow_events: Slow,
    events_reported: u8,
    hour_events_reported: u8,
    slow_rows_reported: u8,
    slow_events_reported: u8,
    next_day_events: u32,
    next_hour_events: u32,
    recent: R,
    recent_reported: u8,
    next_recent_events: u32,
    mark: u32,
}

/// [`PairState`] by reference, to write a snapshot without copying pairs.
#[derive(Serialize)]
#[serde(rename = "Pair")]
struct PairStateRef<'a> {
    resource: &'a u32,
    today: &'a u64,
    reported: &'a u8,
    days_seen: &'a u32,
    hist: &'a SmallRing<PAIR_HISTORY>,
    fit: &'a Option<Fit>,
    events_today: &'a u32,
    hour: &'a i64,
    hour_events: &'a u32,
    day_counts: &'a Moments,
    hour_counts: &'a Moments,
    slow_rows: &'a Slow,
    slow_events: &'a Slow,
    events_reported: &'a u8,
    hour_events_reported: &'a u8,
    slow_rows_reported: &'a u8,
    slow_events_reported: &'a u8,
    next_day_events: &'a u32,
    next_hour_events: &'a u32,
    recent: &'a RecentDays,
    recent_reported: &'a u8,
    next_recent_events: &'a u32,
    mark: &'a u32,
}

impl<R: Into<RecentDays>> From<PairState<R>> for Pair {
    fn from(p: PairState<R>) -> Pair {
        Pair {
            today: p.today,
            hour: p.hour,
            events_today: p.events_today,
            hour_events: p.hour_events,
            next_day_events: p.next_day_events,
            next_hour_events: p.next_hour_events,
            days_seen: p.days_seen,
            resource: p.resource,
            recent: p.recent.into(),
            recent_reported: p.recent_reported,
            next_recent_events: p.next_recent_events,
            mark: p.mark,
            day_counts: p.day_counts,
            hour_counts: p.hour_counts,
            fit: p.fit,
            slow_rows: p.slow_rows,
            slow_events: p.slow_events,
            reported: p.reported,
            events_reported: p.events_reported,
            hour_events_reported: p.hour_events_reported,
            slow_rows_reported: p.slow_rows_reported,
            slow_events_reported: p.slow_events_reported,
            gate: None,
            slow_rows_gate: None,
            slow_events_gate: None,
            hist: p.hist,
        }
    }
}

impl Serialize for Pair {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PairStateRef {
            resource: &self.resource,
            today: &self.today,
            reported: &self.reported,
            days_seen: &self.days_seen,
            hist: &self.hist,
            fit: &self.fit,
            events_today: &self.events_today,
            hour: &self.hour,
            hour_events: &self.hour_events,
            day_counts: &self.day_counts,
            hour_counts: &self.hour_counts,
            slow_rows: &self.slow_rows,
            slow_events: &self.slow_events,
            events_reported: &self.events_reported,
            hour_events_reported: &self.hour_events_reported,
            slow_rows_reported: &self.slow_rows_reported,
            slow_events_reported: &self.slow_events_reported,
            next_day_events: &self.next_day_events,
            next_hour_events: &self.next_hour_events,
            recent: &self.recent,
            recent_reported: &self.recent_reported,
            next_recent_events: &self.next_recent_events,
            mark: &self.mark,
        }
        .serialize(s)
    }
}

impl Pair {
    /// The user's learned days since the pair's last learned day join its
    /// recent days as zeros (at most [`ZERO_DAYS_MAX`]): a day the user was
    /// active without the pair is a day of no events on it, and a rate is
    /// events per day; likewise the user's held days since the pair's last
    /// (`rate`'s held days). Called as the pair's first event of a day
    /// arrives, before it is judged, with the user's day clocks so far.
    fn catch_up(&mut self, days: UserDays, dispersion: &mut Dispersions) {
        let gap = days.learned.saturating_sub(self.mark);
        for _ in 0..gap.min(ZERO_DAYS_MAX) {
            self.recent.push(0, self.resource, dispersion);
        }
        self.mark = days.learned;
        self.recent.catch_up_held(days.held_run);
    }

    /// A day of the pair's, with `events` events and `rows` rows, becomes
    /// history: its counts of events per day and per hour (`hours`, those
    /// not learned yet; zeros are skipped), its rows, and its slow
    /// references. `days` are the user's day clocks, this day included.
    fn learn(
        &mut self,
        events: u32,
        rows: u64,
        hours: &[u32],
        days: UserDays,
        dispersion: &mut Dispersions,
    ) {
        self.mark = days.learned;
        self.day_counts.push(events, COUNT_WINDOW_DAYS);
        self.recent.push(events, self.resource, dispersion);
        // The day's logarithm serves the row history and the slow
        // reference alike.
        let log_today = log_total(rows);
        if rows > 0 {
            self.hist.push_log(log_today as f32);
            self.days_seen = self.days_seen.saturating_add(1);
            self.fit = self.hist.fit(OWN_MIN, MIN_SD_PAIR);
        }
        for &n in hours.iter().filter(|&&n| n > 0) {
            self.hour_counts.push(n, COUNT_WINDOW_HOURS);
        }
        self.slow_rows.push_log(log_today);
        self.slow_events.push(u64::from(events));
    }

    /// Close the pair's day, if it had events: its totals become history
    /// if `learn`; otherwise (a day held out of learning) only its count
    /// is kept, as a held day of the pair's rate, never as a baseline.
    /// `days` are the user's day clocks, this day included; `dispersion`
    /// learns from the pair's recent days.
    fn close_day(&mut self, learn: bool, days: UserDays, dispersion: &mut Dispersions) {
        if self.events_today == 0 {
            return;
        }
        if learn {
            let hour = [self.hour_events];
            self.learn(self.events_today, self.today, &hour, days, dispersion);
        } else {
            self.recent.push_held(self.events_today, days.held_run);
        }
        self.events_today = 0;
        self.hour_events = 0;
        self.events_reported = 0;
        self.hour_events_reported = 0;
        self.slow_rows_reported = 0;
        self.slow_events_reported = 0;
        self.next_day_events = 0;
        self.next_recent_events = 0;
        self.recent_reported = 0;
        self.next_hour_events = 0;
        self.slow_rows_gate = None;
        self.slow_events_gate = None;
        self.today = 0;
        self.reported = 0;
    }
}

/// A user's pairs by resource: an open-addressing table of (resource,
/// position in `pairs` + 1), at most half full, so an event's pair is found
/// in one or two probes of one cache line rather than by a binary search
/// whose every step may wait for memory.
#[derive(Clone, Debug, Default)]
struct PairIndex {
    /// (resource, position + 1); 0 marks an empty slot. A power of two long.
    slots: Vec<(u32, u32)>,
    /// Pairs indexed: the first `len` of the user's pairs.
    len: usize,
}

impl PairIndex {
    /// Slots a table starts with.
    const MIN_SLOTS: usize = 16;

    fn home(&self, resource: u32) -> usize {
        // Fibonacci hashing: the high bits of the product, as many as the
        // table has slots.
        let bits = self.slots.len().trailing_zeros();
        (u64::from(resource).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The position of `resource`'s pair, if indexed.
    fn find(&self, resource: u32) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(resource);
        loop {
            let (r, at) = self.slots[i];
            if at == 0 {
                return None;
            }
            if r == resource {
                return Some(at as usize - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Index the pair at `position` (the next one: `position == len`).
    fn insert(&mut self, resource: u32, position: usize) {
        if 2 * (self.len + 1) > self.slots.len() {
            let len = self.len;
            let mut grown = PairIndex {
                slots: vec![(0, 0); (2 * self.slots.len()).max(Self::MIN_SLOTS)],
                len: 0,
            };
            for &(r, at) in self.slots.iter().filter(|&&(_, at)| at != 0) {
                grown.put(r, at);
            }
            grown.len = len;
            *self = grown;
        }
        self.put(resource, position as u32 + 1);
        self.len += 1;
    }

    fn put(&mut self, resource: u32, at: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(resource);
        while self.slots[i].1 != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (resource, at);
    }

    /// Index all of `pairs` afresh (after a restore). The first pair of a
    /// resource wins, as it is the one found first.
    fn rebuild(pairs: &[Pair]) -> PairIndex {
        let mut index = PairIndex::default();
        for (i, p) in pairs.iter().enumerate() {
            if index.find(p.resource).is_none() {
                index.insert(p.resource, i);
            } else {
                index.len += 1;
            }
        }
        index
    }
}

/// Pooled recent buckets of many users (a peer group or the organisation).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Pool {
    /// Its recent buckets and their fits.
    values: PoolValues,
    /// How its members' days and active hours spread, in all and about
    /// each member's own level (`spread`).
    day_spreads: Spreads,
    hour_spreads: Spreads,
}

/// A pool's recent buckets and their fits: the whole of a pool as 0.3 to
/// 0.6 wrote it, so that `upgrade` reads those as this part (a struct
/// inside another is written as its fields, in place).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PoolValues {
    days: Ring,
    hours: Ring,
    day_fit: Option<Fit>,
    hour_fit: Option<Fit>,
    since_day_fit: u32,
    since_hour_fit: u32,
    /// The other instances' recent values of this pool, and the fits of
    /// its own values mixed with them; none until an exchange brings some.
    shared: Option<Box<Shared>>,
}

impl From<PoolValues> for Pool {
    fn from(values: PoolValues) -> Pool {
        Pool {
            values,
            ..Pool::default()
        }
    }
}

impl Pool {
    /// Add a user's day, as `ln(1 + total)`, and how far it strays from
    /// their own level (`off`), when they have one.
    fn push_day(&mut self, v: f32, off: Option<f64>) {
        self.day_spreads.push(f64::from(v), off, POOL_DAYS);
        let shared = self
            .values
            .shared
            .as_deref_mut()
            .map(|sh| (&sh.days, &mut sh.day_fit));
        let own = (
            &mut self.values.days,
            &mut self.values.day_fit,
            &mut self.values.since_day_fit,
        );
        if Pool::push(v, own, shared, POOL_DAYS, MIN_SD_DAY) {
            self.day_spreads.refresh();
        }
    }

    /// Add a user's active hour, as `ln(1 + total)`, and how far it
    /// strays from their own level (`off`), when they have one.
    fn push_hour(&mut self, v: f32, off: Option<f64>) {
        self.hour_spreads.push(f64::from(v), off, POOL_HOURS);
        let shared = self
            .values
            .shared
            .as_deref_mut()
            .map(|sh| (&sh.hours, &mut sh.hour_fit));
        let own = (
            &mut self.values.hours,
            &mut self.values.hour_fit,
            &mut self.values.since_hour_fit,
        );
        if Pool::push(v, own, shared, POOL_HOURS, MIN_SD_HOUR) {
            self.hour_spreads.refresh();
        }
    }

    /// Add `v` to the pool's own values (`own`: its ring, fit and values
    /// since the fit) and refit: its own fit while nothing is shared, else
    /// only the mixed fit (`shared`: the other instances' values and the
    /// mixed fit), which is all that is read then. Whether it refitted:
    /// the pool's likeness (`spread`) is read again then too, so that
    /// every member's baseline (and the gates built on it) changes at the
    /// refits only, not at each member's bucket.
    fn push(
        v: f32,
        (ring, fit, since): (&mut Ring, &mut Option<Fit>, &mut u32),
        shared: Option<(&Recent, &mut Option<Fit>)>,
        window: usize,
        min_sd: f64,
    ) -> bool {
        ring.push_log(v, window);
        *since += 1;
        match shared {
            None => {
                let refit = ring.len() < 2 * POOL_MIN || *since >= POOL_REFIT;
                if refit {
                    *fit = ring.fit(POOL_MIN, min_sd);
                    *since = 0;
                }
                refit
            }
            Some((others, mixed)) => {
                let refit = others.held_with(ring.len(), window) < 2 * POOL_MIN
                    || *since >= others.refit_every(ring.len());
                if refit {
                    *mixed = others.fit_with(ring, window, POOL_MIN, min_sd);
                    *since = 0;
                }
                refit
            }
        }
    }

    /// Member-days held, the other instances' included.
    fn held_days(&self) -> usize {
        match self.values.shared.as_deref() {
            Some(sh) => sh.days.held_with(self.values.days.len(), POOL_DAYS),
            None => self.values.days.len(),
        }
    }

    /// The pool's day baseline, the other instances' days included.
    fn day_baseline(&self) -> Option<Fit> {
        self.values
            .shared
            .as_deref()
            .map_or(self.values.day_fit, |sh| sh.day_fit)
    }

    /// The pool's hour baseline, the other instances' hours included.
    fn hour_baseline(&self) -> Option<Fit> {
        self.values
            .shared
            .as_deref()
            .map_or(self.values.hour_fit, |sh| sh.hour_fit)
    }

    /// How many of a member's own days the pool's day baseline is worth
    /// by how its members differ (`spread`), the other instances'
    /// members included; none until [`POOL_MIN`] member-days hold it.
    fn day_likeness(&self) -> Option<f64> {
        self.day_spreads.likeness()
    }

    /// [`Pool::day_likeness`] for active hours.
    fn hour_likeness(&self) -> Option<f64> {
        self.hour_spreads.likeness()
    }

    /// What this instance's own members give the pool, for the others.
    fn share(&self) -> PoolShare {
        PoolShare::of(
            &self.values.days,
            &self.values.hours,
            &self.day_spreads,
            &self.hour_spreads,
        )
    }

    /// Replace the other instances' part of the pool by `sources`, their
    /// shares of it in shard order.
    fn set_shared(&mut self, sources: &[&PoolShare]) {
        let sum = |part: fn(&PoolShare) -> Spread| {
            sources
                .iter()
                .map(|s| part(s))
                .fold(Spread::default(), Spread::plus)
        };
        self.day_spreads
            .set_others(sum(|s| s.day_spreads.0), sum(|s| s.day_spreads.1));
        self.hour_spreads
            .set_others(sum(|s| s.hour_spreads.0), sum(|s| s.hour_spreads.1));
        let days = Recent::merge(sources.iter().map(|s| &s.days[..]), POOL_DAYS);
        let hours = Recent::merge(sources.iter().map(|s| &s.hours[..]), POOL_HOURS);
        self.values.shared = (!days.is_empty() || !hours.is_empty()).then(|| {
            Box::new(Shared {
                day_fit: days.fit_with(&self.values.days, POOL_DAYS, POOL_MIN, MIN_SD_DAY),
                hour_fit: hours.fit_with(&self.values.hours, POOL_HOURS, POOL_MIN, MIN_SD_HOUR),
                days,
                hours,
            })
        });
        if self.values.shared.is_none() {
            // The own fits were not kept up while others' values were mixed.
            self.values.day_fit = self.values.days.fit(POOL_MIN, MIN_SD_DAY);
            self.values.hour_fit = self.values.hours.fit(POOL_MIN, MIN_SD_HOUR);
        }
    }
}

/// What a bucket was judged against.
#[derive(Clone, Copy)]
enum Baseline {
    /// A row baseline.
    Rows(Fit),
    /// Event counts per bucket.
    Counts(Moments),
    /// A slow reference of `ln(1 + total)`.
    Slow(Slow),
    /// A rate change over the last days.
    Rate(RateChange),
}

/// The row buckets of an event, as judged: its local hour, the blended
/// hour and day baselines, and its pair's position and baseline (with the
/// buckets that baseline rests on).
struct Buckets {
    /// How the event's read counted in the hour and day totals.
    read: Counted,
    hour: usize,
    hour_fit: Option<Fit>,
    day_fit: Option<Fit>,
    pair_fit: Option<(Fit, f64)>,
    pair_idx: Option<usize>,
    /// The pair's day tests ([`Tests`]), which its row tail is multiplied by.
    pair_tests: f64,
    /// The detector's `min_score`.
    min: f32,
    /// The logarithm of the user's usual read, once they have one.
    usual_log: Option<f64>,
}

/// One bucket's judgement of the current event.
struct Scored {
    bucket: Bucket,
    total: u64,
    baseline: Baseline,
    history: u32,
    p: f64,
    score: f32,
    /// When the swing of the user's other resources of the kind bounded
    /// `p` (`kinds`): that rest, and the pair's own `p`.
    rest: Option<(KindRest, f64)>,
    /// When one outsized read carried the total and the log's reads
    /// bounded `p` (`outsize`): how, with the tail before the bound.
    outsized: Option<Outsized>,
}

/// The rest of a user's days on a kind, as a finding reports it.
#[derive(Clone, Copy)]
struct KindRest {
    kind: u32,
    moments: Moments,
}

/// The pairs an instance holds, against [`PAIRS_BUDGET`].
#[derive(Clone, Copy, Debug, Default)]
struct PairCount {
    /// Whether the counts are those of the users' pairs (not after a
    /// restore, until counted).
    known: bool,
    /// Pairs held, by every user.
    pairs: usize,
    /// Users holding at least one.
    users: usize,
}

impl PairCount {
    /// The counts of `users`' pairs.
    fn of(users: &Table<User>) -> PairCount {
        users.iter().fold(
            PairCount {
                known: true,
                ..PairCount::default()
            },
            |c, (_, u)| PairCount {
                pairs: c.pairs + u.pairs.len(),
                users: c.users + usize::from(!u.pairs.is_empty()),
                ..c
            },
        )
    }

    /// A user who held `held` pairs now holds `now`.
    fn changed(&mut self, held: usize, now: usize) {
        self.pairs = (self.pairs + now).saturating_sub(held);
        match (held, now) {
            (0, n) if n > 0 => self.users += 1,
            (h, 0) if h > 0 => self.users = self.users.saturating_sub(1),
            _ => {}
        }
    }

    /// Pairs a user keeps when one of their days closes: [`PAIRS_KEPT`]
    /// while the instance is within [`PAIRS_BUDGET`], else the budget's
    /// share of each user holding pairs, at least [`PAIRS_KEPT_MIN`].
    fn keep(&self) -> usize {
        if self.pairs <= PAIRS_BUDGET {
            return PAIRS_KEPT;
        }
        (PAIRS_BUDGET / self.users.max(1)).clamp(PAIRS_KEPT_MIN, PAIRS_KEPT)
    }

    /// Whether a user holding `held` pairs gets one for a new resource
    /// (besides [`MAX_PAIRS_PER_USER`]).
    fn room(&self, held: usize) -> bool {
        self.pairs < PAIRS_HARD || held < PAIRS_KEPT_MIN
    }
}

/// What a user's closing or kept days teach besides the user's own
/// baselines, borrowed from the detector for one user at a time.
struct Teach<'a> {
    /// The pool of the user's peer group, if they have one, and the
    /// organisation's.
    group: Option<&'a mut Pool>,
    org: &'a mut Pool,
    /// The pairs' typical dispersions (`rate`).
    dispersion: &'a mut Dispersions,
    /// The user's id, and the usual reads their reads teach (`reads`).
    who: u32,
    reads: &'a mut ReadSizes,
    /// Where held days are kept aside (`held`).
    held: &'a mut Table<Held>,
    /// The instance's pairs, which a closing day may thin (`PAIRS_BUDGET`).
    pairs: &'a mut PairCount,
}

impl Volume {
    fn learning(&mut self, time_ms: i64) -> bool {
        let first = *self.first_ms.get_or_insert(time_ms);
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    /// Close the user's current day: its totals become history, for the
    /// user and for what `t` holds, unless the day is held out of
    /// learning, in which case they are kept aside in `t.held` until the
    /// user is learned again (`held`'s module docs). Once a user-day, so
    /// kept out of the per-event path's code.
    #[inline(never)]
    fn close_day(user: &mut User, t: &mut Teach) {
        if user.day == NO_DAY {
            return;
        }
        let learn = !std::mem::take(&mut user.held);
        if learn {
            // The user's first learned event since held days learned them
            // already; a state carried over from 0.7 may still be in a run.
            Self::end_held(user, t);
            user.learned_days = user.learned_days.saturating_add(1);
        } else {
            user.held_run = user.held_run.saturating_add(1);
            Self::keep_held(user, t.held.get_or_insert_with(t.who, Held::default));
        }
        let (who, reads, dispersion) = (t.who, &mut *t.reads, &mut *t.dispersion);
        let learned = user.days();
        let peer_group = user.group;
        // A learned day's reads of each resource teach its usual read, and
        // all of them the user's.
        let (mut day_reads, mut day_rows) = (0u64, 0u64);
        let mut close = |pair: &mut Pair| {
            if learn {
                reads.learn_day(
                    pair.resource,
                    peer_group,
                    who,
                    pair.events_today,
                    pair.today,
                );
                day_reads += u64::from(pair.events_today);
                day_rows = day_rows.saturating_add(pair.today);
            }
            pair.close_day(learn, learned, dispersion);
        };
        // The pairs with events today (a pair with rows today also had
        // events today, and the user's day total holds its rows), in any
        // order: each pair's close is its own.
        if std::mem::replace(&mut user.today_pairs_known, true) {
            for &i in &user.today_pairs {
                if let Some(pair) = user.pairs.get_mut(i as usize) {
                    close(pair);
                }
            }
        } else {
            for pair in &mut user.pairs {
                close(pair);
            }
        }
        reads.learn_user_day(who, day_reads, day_rows);
        kinds::close(&mut user.kinds, learn);
        user.today_pairs.clear();
        let held = user.pairs.len();
        Self::forget_idle_pairs(user, t.pairs.keep());
        t.pairs.changed(held, user.pairs.len());
        user.slow_day_reported = 0;
        user.slow_day_gate = None;
        if user.day_total == 0 {
            return;
        }
        if learn {
            let hours = user.hours;
            Self::learn_day(user, &hours, user.day_total, t);
        }
        user.hours = [0; 24];
        user.hour_reported = [0; 24];
        user.day_total = 0;
        user.day_reported = 0;
        user.today_max_reported = 0;
    }

    /// Past `keep` pairs ([`PairCount::keep`]), keep the most recently
    /// used (by the learned day each last closed on; the longer history first among
    /// equals) and forget the rest, in first-access order as before. Called
    /// once a day has closed, when no position in `today_pairs` is held.
    fn forget_idle_pairs(user: &mut User, keep: usize) {
        if user.pairs.len() <= keep {
            return;
        }
        let mut order: Vec<usize> = (0..user.pairs.len()).collect();
        order.sort_by_key(|&i| {
            let p = &user.pairs[i];
            (std::cmp::Reverse(p.mark), std::cmp::Reverse(p.days_seen), i)
        });
        let mut kept = vec![false; user.pairs.len()];
        for &i in &order[..keep] {
            kept[i] = true;
        }
        let mut kept = kept.into_iter();
        user.pairs.retain(|_| kept.next().unwrap_or(false));
        // The room the day's pairs took goes back: kept, it is the user's
        // busiest day's for good, at 384 bytes a pair.
        user.pairs.shrink_to_fit();
        user.pair_index = PairIndex::rebuild(&user.pairs);
    }

    /// The user is learned again after held days (`held`'s module docs):
    /// the run of held days ends, and the days kept aside are learned,
    /// oldest first. Called at the user's first event with `learn` after
    /// a held day closed, before it is counted, and (for a run carried
    /// over from 0.7) at a learned day's close. Nothing happens outside a
    /// run.
    fn end_held(user: &mut User, t: &mut Teach) {
        if std::mem::take(&mut user.held_run) == 0 {
            return;
        }
        // Once an episode, so every pair may be visited.
        for pair in &mut user.pairs {
            pair.recent.end_held();
        }
        for day in t.held.get_mut(t.who).map(Held::take).unwrap_or_default() {
            Self::learn_kept(user, &day, t);
        }
    }

    /// A held day closes: what its close would have learned is kept aside
    /// (`held`), from the pairs with events today (their hour in progress
    /// included), the user's hours and the kinds.
    fn keep_held(user: &User, held: &mut Held) {
        let pairs = user
            .pairs
            .iter()
            .filter(|p| p.events_today > 0)
            .map(|p| (p.resource, p.events_today, p.today, p.hour_events))
            .collect();
        held.keep(user.hours, user.day_total, pairs, kinds::today(&user.kinds));
    }

    /// A day kept aside while the user was held is learned, as it would
    /// have been when it closed: the user's day clock moves on, its pairs
    /// (those still tracked) learn their counts and rows, the usual reads,
    /// the kinds, and the user's and pools' hour and day histories learn
    /// its totals.
    fn learn_kept(user: &mut User, day: &held::HeldDay, t: &mut Teach) {
        let (who, reads, dispersion) = (t.who, &mut *t.reads, &mut *t.dispersion);
        let before = user.days();
        user.learned_days = user.learned_days.saturating_add(1);
        let days = user.days();
        if user.pair_index.len != user.pairs.len() {
            user.pair_index = PairIndex::rebuild(&user.pairs);
        }
        let (mut day_reads, mut day_rows) = (0u64, 0u64);
        for p in &day.pairs {
            reads.learn_day(p.resource, user.group, who, p.events, p.rows);
            day_reads += u64::from(p.events);
            day_rows = day_rows.saturating_add(p.rows);
            if let Some(i) = user.pair_index.find(p.resource) {
                let pair = &mut user.pairs[i];
                pair.catch_up(before, dispersion);
                pair.learn(p.events, p.rows, &p.hours, days, dispersion);
            }
        }
        reads.learn_user_day(who, day_reads, day_rows);
        kinds::learn_kept(&mut user.kinds, &day.kinds);
        if day.total > 0 {
            Self::learn_day(user, &day.hours, day.total, t);
        }
    }

    /// A closing day's row totals (`hours`, `total`) join the user's hour
    /// and day histories and slow reference, and the pools of their peer
    /// group and the organisation (`t`).
    fn learn_day(user: &mut User, hours: &[u64; 24], total: u64, t: &mut Teach) {
        let (mut group, org) = (t.group.as_deref_mut(), &mut *t.org);
        // Each total joins three rings and the slow reference; its
        // logarithm is taken once.
        let log_day = log_total(total);
        user.slow_day.push_log(log_day);
        let day = log_day as f32;
        user.day_hist.push_log(day, DAY_HISTORY);
        user.days_seen = user.days_seen.saturating_add(1);
        // How far the day strays from the user's own level before it
        // (`spread`), once they have one.
        let day_off = user.day_fit.map(|f| log_day - f.m);
        org.push_day(day, day_off);
        if let Some(g) = group.as_deref_mut() {
            g.push_day(day, day_off);
        }
        let hour_level = user.hour_fit.map(|f| f.m);
        for &h in hours.iter().filter(|&&h| h > 0) {
            let log_hour = log_total(h);
            let hour = log_hour as f32;
            user.hour_hist.push_log(hour, HOUR_HISTORY);
            user.hours_seen = user.hours_seen.saturating_add(1);
            let off = hour_level.map(|m| log_hour - m);
            org.push_hour(hour, off);
            if let Some(g) = group.as_deref_mut() {
                g.push_hour(hour, off);
            }
        }
        user.day_fit = user.day_hist.fit(OWN_MIN, MIN_SD_DAY);
        user.hour_fit = user.hour_hist.fit(OWN_MIN, MIN_SD_HOUR);
    }

    /// Whether an event's rows are not rows read: a failed event, or an
    /// action in `ignore_actions`. The verdict per action id is cached, as
    /// ids are stable and comparing names on every event was a tenth of the
    /// detector's time.
    fn ignored(&mut self, symbols: &Symbols, e: &Event) -> bool {
        if e.outcome == Outcome::Failure {
            return true;
        }
        let slot = usize::try_from(e.action)
            .ok()
            .filter(|_| e.action < ACTION_CACHE_IDS);
        if let Some(&Some(known)) = slot.and_then(|i| self.ignored_actions.get(i)) {
            return known;
        }
        let action = symbols.action(e.action);
        let ignored = self
            .config
            .ignore_actions
            .iter()
            .any(|a| a.eq_ignore_ascii_case(action));
        // An id whose text has not arrived reads as "": decide it again
        // once it has.
        if let Some(i) = slot.filter(|_| !action.is_empty()) {
            if self.ignored_actions.len() <= i {
                self.ignored_actions.resize(i + 1, None);
            }
            self.ignored_actions[i] = Some(ignored);
        }
        ignored
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms);
        if self.ignored(symbols, e) {
            return;
        }
        let user = self.users.get_or_insert_with(e.user, User::default);
        let day = e.local_day();
        let late = user.day != NO_DAY && day < user.day && user.day - day <= 1;
        let closes = user.day != day && !late;
        // The user's day closes, or they are learned again after held days
        // (`end_held`), or both, in that order.
        if closes || (e.learn && user.held_run > 0) {
            let mut teach = Teach {
                group: user
                    .group
                    .map(|g| self.groups.get_or_insert_with(g, Pool::default)),
                org: &mut self.org,
                dispersion: &mut self.dispersion,
                who: e.user,
                reads: &mut self.reads,
                held: &mut self.held,
                pairs: &mut self.pair_count,
            };
            if closes {
                Self::close_day(user, &mut teach);
                user.day = day;
            }
            if e.learn {
                Self::end_held(user, &mut teach);
            }
        }
        if !e.learn {
            user.held = true;
        }
        if e.peer_group.is_some() {
            user.group = e.peer_group;
        }
        let hour = usize::from(e.local_hour()).min(23);
        // A read of the size the user's group usually reads of a resource
        // counts in the hour and day as one of the user's own (`reads`).
        let read = self.reads.counted(e.resource, user.group, e.user, e.rows);
        let usual_log = self.reads.usual_log(e.user);
        if e.learn
            && let Some(usual) = usual_log
        {
            self.ratios.learn(e.rows, usual);
        }
        user.hours[hour] = user.hours[hour].saturating_add(read.rows);
        user.day_total = user.day_total.saturating_add(read.rows);
        if user.pair_index.len != user.pairs.len() {
            user.pair_index = PairIndex::rebuild(&user.pairs);
        }
        let pair_idx = match user.pair_index.find(e.resource) {
            Some(i) => Some(i),
            None if user.pairs.len() < MAX_PAIRS_PER_USER
                && self.pair_count.room(user.pairs.len()) =>
            {
                let at = user.pairs.len();
                self.pair_count.changed(at, at + 1);
                user.pair_index.insert(e.resource, at);
                user.pairs.push(Pair {
                    resource: e.resource,
                    hour: NO_DAY,
                    // The user's working week before the first use joins
                    // the pair's days as zeros (`rate`'s module docs).
                    mark: user
                        .learned_days
                        .saturating_sub(rate::RECENT_DAYS as u32 - 1),
                    ..Pair::default()
                });
                Some(at)
            }
            None => None,
        };
        if let Some(i) = pair_idx {
            let days = user.days();
            let pair = &mut user.pairs[i];
            pair.today = pair.today.saturating_add(e.rows);
            if pair.events_today == 0 {
                user.today_pairs.push(i as u32);
                pair.catch_up(days, &mut self.dispersion);
            }
            pair.events_today = pair.events_today.saturating_add(1);
            let abs_hour = e.local_ms().div_euclid(HOUR_MS);
            if abs_hour > pair.hour {
                if pair.hour_events > 0 {
                    if user.held {
                        self.held
                            .get_or_insert_with(e.user, Held::default)
                            .hour_ended(e.resource, pair.hour_events);
                    } else {
                        pair.hour_counts.push(pair.hour_events, COUNT_WINDOW_HOURS);
                    }
                }
                pair.hour = abs_hour;
                pair.hour_events = 0;
                pair.hour_events_reported = 0;
                pair.next_hour_events = 0;
            }
            pair.hour_events = pair.hour_events.saturating_add(1);
        }
        let kind = self.kinds.of(&self.config.kinds, symbols, e.resource);
        if let Some(kind) = kind {
            let today = pair_idx.map_or(1, |i| user.pairs[i].events_today);
            kinds::count(&mut user.kinds, kind, today);
        }
        if learning {
            return;
        }

        let pool = user
            .group
            .and_then(|g| self.groups.get(g))
            .filter(|p| p.held_days() >= POOL_MIN)
            .unwrap_or(&self.org);
        let w = self.config.prior_weight;
        let day_fit = Fit::pooled(
            user.day_fit,
            user.days_seen,
            pool.day_baseline(),
            pool.day_likeness(),
            w,
        );
        let hour_fit = Fit::pooled(
            user.hour_fit,
            user.hours_seen,
            pool.hour_baseline(),
            pool.hour_likeness(),
            w,
        );
        // Hours and table-days are parts of a day, and parts vary at least
        // as much as their sum: never judge them more narrowly than days.
        let day_sd = day_fit.map_or(0.0, |f| f.s);
        let hour_fit = hour_fit.map(|f| f.widen(day_sd));
        let part_sd = hour_fit.map_or(day_sd, |f| f.s);
        let pair_fit = pair_idx
            .map(|i| &user.pairs[i])
            .filter(|pair| pair.days_seen >= MIN_PAIR_HISTORY)
            .and_then(|pair| {
                let own = pair.fit?;
                let prior = Fit {
                    m: own.m,
                    s: PAIR_PRIOR_SD.max(part_sd),
                };
                let fit = Fit::blend(Some(own), pair.days_seen, Some(prior), w)?.widen(day_sd);
                let support = f64::from(pair.days_seen.min(PAIR_HISTORY as u32)) + w;
                Some((fit, support))
            });

        let min = self.config.min_score;
        // The score a bucket must reach for this event to report anything:
        // at least `min_score` and today's highest report, and a step above
        // the bucket's own last report. Below it on every bucket, the event
        // changes nothing, and the gates say so without computing a tail.
        let today_max = f32::from(user.today_max_reported);
        let need = |reported: u8| {
            let need = min.max(today_max);
            if reported == 0 {
                need
            } else {
                need.max(f32::from(reported) + RESCORE_STEP)
            }
        };
        let slow_z = match self.slow_z {
            Some((m, z)) if m == min => z,
            _ => {
                let z = z_for_score(min);
                self.slow_z = Some((min, z));
                z
            }
        };
        let mut extra = Vec::new();
        let (slow, total) = (user.slow_day, user.day_total);
        if slow.reaches_rows(total, day_sd, slow_z, &mut user.slow_day_gate) {
            let need = need(user.slow_day_reported);
            extra.extend(judge_slow(
                Bucket::DayTrend,
                slow,
                slow.rows_sd(day_sd),
                user.day_total,
                need,
                1.0,
            ));
        }
        let tests = pair_idx.map(|i| Tests::of(user, user.pairs[i].hour, kind));
        if let (Some(i), Some(tests)) = (pair_idx, tests) {
            pair_candidates(
                &mut user.pairs[i],
                slow_z,
                day_sd,
                &self.dispersion,
                tests,
                &need,
                &mut extra,
            );
        }
        #[cfg(test)]
        let gated = !self.ungated;
        #[cfg(not(test))]
        let gated = true;
        if gated {
            // `score` takes the support and uses one less as the tail's
            // degrees of freedom; the gates take the degrees of freedom.
            let q = &mut self.quantiles;
            let mut opens = false;
            if let Some(fit) = hour_fit {
                let need = need(user.hour_reported[hour]);
                let total = user.hours[hour];
                opens = Gate::opens(&mut user.hour_gate, fit, f64::INFINITY, need, total, q);
            }
            if !opens && let Some(fit) = day_fit {
                let need = need(user.day_reported);
                let total = user.day_total;
                opens = Gate::opens(&mut user.day_gate, fit, f64::INFINITY, need, total, q);
            }
            if !opens
                && let (Some(i), Some((fit, support))) = (pair_idx, pair_fit)
                && let Some(pair) = user.pairs.get_mut(i)
            {
                let need = need(pair.reported);
                opens = Gate::opens(&mut pair.gate, fit, support - 1.0, need, pair.today, q);
            }
            if !opens && extra.is_empty() {
                return;
            }
        }
        let buckets = Buckets {
            read,
            hour,
            hour_fit,
            day_fit,
            pair_fit,
            pair_idx,
            pair_tests: tests.map_or(1.0, |t| t.day),
            min,
            usual_log,
        };
        let ratios = &self.ratios;
        Self::report(user, symbols, e, buckets, extra, (&self.kinds, ratios), out);
    }

    /// Score every bucket of an event that may report (few get this far:
    /// the gates stop the rest), and report the best one. Kept out of the
    /// per-event path's code.
    #[inline(never)]
    fn report(
        user: &mut User,
        symbols: &Symbols,
        e: &Event,
        buckets: Buckets,
        mut extra: Vec<Scored>,
        (kinds, ratios): (&Kinds, &ReadRatios),
        out: &mut Vec<Finding>,
    ) {
        let Buckets {
            read,
            hour,
            hour_fit,
            day_fit,
            pair_fit,
            pair_idx,
            pair_tests,
            min,
            usual_log,
        } = buckets;
        let mut candidates: Vec<Scored> = Vec::with_capacity(3 + extra.len());
        if let Some(fit) = hour_fit {
            candidates.extend(score(
                Bucket::Hour,
                user.hours[hour],
                fit,
                user.hours_seen,
                f64::INFINITY,
                1.0,
            ));
        }
        if let Some(fit) = day_fit {
            candidates.extend(score(
                Bucket::Day,
                user.day_total,
                fit,
                user.days_seen,
                f64::INFINITY,
                1.0,
            ));
        }
        if let Some((fit, support)) = pair_fit
            && let Some(pair) = pair_idx.map(|i| &user.pairs[i])
        {
            candidates.extend(score(
                Bucket::Pair,
                pair.today,
                fit,
                pair.days_seen,
                support,
                pair_tests,
            ));
        }

        // Row buckets first: on a tie they are the finding.
        candidates.append(&mut extra);
        if let Some(usual) = usual_log {
            bound_outsized(&mut candidates, user, e, pair_idx, (read, usual), ratios);
        }
        let mut best: Option<&Scored> = None;
        // Bounded buckets whose own score is fresh: what the gates, which
        // judge own scores, would have opened for.
        let mut fresh_own = vec![false; candidates.len()];
        for (c, fresh_own) in candidates.iter().zip(fresh_own.iter_mut()) {
            let pair = pair_idx.map(|i| &user.pairs[i]);
            let reported = match c.bucket {
                Bucket::Hour => user.hour_reported[hour],
                Bucket::Day => user.day_reported,
                Bucket::DayTrend => user.slow_day_reported,
                Bucket::Pair => pair.map_or(u8::MAX, |p| p.reported),
                Bucket::PairEvents => pair.map_or(u8::MAX, |p| p.events_reported),
                Bucket::PairHourEvents => pair.map_or(u8::MAX, |p| p.hour_events_reported),
                Bucket::PairRecentEvents => pair.map_or(u8::MAX, |p| p.recent_reported),
                Bucket::PairTrend => pair.map_or(u8::MAX, |p| p.slow_rows_reported),
                Bucket::PairEventsTrend => pair.map_or(u8::MAX, |p| p.slow_events_reported),
            };
            let fresh = |score: f32| {
                score >= min
                    && (reported == 0 || score >= f32::from(reported) + RESCORE_STEP)
                    && score >= f32::from(user.today_max_reported)
            };
            if fresh(c.score) && best.is_none_or(|b| c.score > b.score) {
                best = Some(c);
            }
            *fresh_own = c.outsized.is_some_and(|o| fresh(score_from_p(o.own_p)));
        }
        if let Some(best) = best {
            user.today_max_reported = user
                .today_max_reported
                .max(best.score.floor().clamp(1.0, 100.0) as u8);
        }
        // A bucket an outsized read bounded counts as reported at its own
        // score, whether or not anything reports now (when that score is
        // fresh): a later ordinary read adds nothing to what carried it,
        // and must not report the same total unbounded.
        let marked = |c: &Scored| {
            c.outsized
                .map_or(c.score, |o| score_from_p(o.own_p).max(c.score))
        };
        let marks = candidates
            .iter()
            .zip(&fresh_own)
            .filter(|(c, own)| marked(c) >= min && (best.is_some() || **own))
            .map(|(c, _)| c);
        for c in marks {
            let slot = match (c.bucket, pair_idx) {
                (Bucket::Hour, _) => &mut user.hour_reported[hour],
                (Bucket::Day, _) => &mut user.day_reported,
                (Bucket::DayTrend, _) => &mut user.slow_day_reported,
                (Bucket::Pair, Some(i)) => &mut user.pairs[i].reported,
                (Bucket::PairEvents, Some(i)) => &mut user.pairs[i].events_reported,
                (Bucket::PairHourEvents, Some(i)) => &mut user.pairs[i].hour_events_reported,
                (Bucket::PairRecentEvents, Some(i)) => &mut user.pairs[i].recent_reported,
                (Bucket::PairTrend, Some(i)) => &mut user.pairs[i].slow_rows_reported,
                (Bucket::PairEventsTrend, Some(i)) => &mut user.pairs[i].slow_events_reported,
                (_, None) => continue,
            };
            *slot = (*slot).max(marked(c).floor().clamp(1.0, 100.0) as u8);
        }
        let Some(best) = best else { return };
        let mut f = finding(symbols, e, best, read);
        if let Some((rest, unbounded)) = best.rest {
            f = rest_bounded(f, rest, unbounded, kinds.name(rest.kind));
        }
        if let Some(why) = best.outsized {
            f = outsized_read(f, why);
        }
        out.push(f);
    }
}

/// Bound the row buckets among `candidates` that the event's read mostly
/// carries by how often the log's reads are as outsized (`outsize`):
/// `read` is how the read counted and `usual` the logarithm of the user's
/// usual read. The user's hour and day count all their reads in them, a
/// resource's buckets its own.
fn bound_outsized(
    candidates: &mut [Scored],
    user: &User,
    e: &Event,
    pair_idx: Option<usize>,
    (read, usual): (Counted, f64),
    ratios: &ReadRatios,
) {
    let pair = pair_idx.and_then(|i| user.pairs.get(i));
    let abs_hour = e.local_ms().div_euclid(HOUR_MS);
    let (day_reads, hour_reads) = user.fold_today((0u64, 0u64), |(d, h), p| {
        let this_hour = if p.hour == abs_hour { p.hour_events } else { 0 };
        (d + u64::from(p.events_today), h + u64::from(this_hour))
    });
    // The user's hour and day count a read as it counted (`reads`), a
    // resource's buckets its rows.
    let pair_reads = pair.map_or(1, |p| u64::from(p.events_today));
    for c in candidates.iter_mut() {
        let (median, counted, reads) = match (c.bucket, c.baseline) {
            (Bucket::Hour, Baseline::Rows(fit)) => (fit.median_rows(), read.rows, hour_reads),
            (Bucket::Day, Baseline::Rows(fit)) => (fit.median_rows(), read.rows, day_reads),
            (Bucket::DayTrend, Baseline::Slow(slow)) => {
                (f64::from(slow.mean).exp_m1(), read.rows, day_reads)
            }
            (Bucket::Pair, Baseline::Rows(fit)) => (fit.median_rows(), e.rows, pair_reads),
            (Bucket::PairTrend, Baseline::Slow(slow)) => {
                (f64::from(slow.mean).exp_m1(), e.rows, pair_reads)
            }
            _ => continue,
        };
        let carried = (median, counted, e.rows);
        if let Some((p, why)) = ratios.bound(c.p, c.total, carried, usual, reads) {
            c.outsized = Some(why);
            c.p = p;
            c.score = score_from_p(p);
        }
    }
}

/// Score a bucket's running total against its baseline; `None` when the
/// total is not above the fitted mean (nothing to say, and the tail would
/// be computed for nothing).
/// `support` is how many buckets the baseline rests on (own, up to what the
/// history holds, plus the prior's weight).
/// `tests` multiplies the tail: how many such buckets are judged at once
/// ([`Tests`]; 1 for the user's own hour and day).
fn score(
    bucket: Bucket,
    total: u64,
    fit: Fit,
    history: u32,
    support: f64,
    tests: f64,
) -> Option<Scored> {
    let mean = fit.mean();
    if (total as f64) <= mean {
        return None;
    }
    let p = (fit.tail(total, support - 1.0) * tests).min(1.0);
    Some(Scored {
        bucket,
        total,
        baseline: Baseline::Rows(fit),
        history,
        p,
        score: score_from_p(p),
        rest: None,
        outsized: None,
    })
}

/// Score a total against a slow reference (its spread at least `min_sd`),
/// if it reaches `need`; the tail is multiplied by `tests`, the buckets
/// judged at once ([`Tests`]).
fn judge_slow(
    bucket: Bucket,
    slow: Slow,
    min_sd: f64,
    total: u64,
    need: f32,
    tests: f64,
) -> Option<Scored> {
    let p = (slow.tail(total, min_sd) * tests).min(1.0);
    let score = score_from_p(p);
    (score >= need).then_some(Scored {
        bucket,
        total,
        baseline: Baseline::Slow(slow),
        history: slow.n as u32,
        p,
        score,
        rest: None,
        outsized: None,
    })
}

/// How many resources the user's per-resource buckets (event counts and
/// slow references) are judging at once: those with events today, and this
/// hour. Each is a test; the chance that one of `k` ordinary buckets looks
/// as extreme as `p` is about `k · p`, so their tails are multiplied by
/// them (Bonferroni): someone who works on eight tables a day has eight
/// chances a day of one busy table. The user's own hour and day are one
/// test each and are not multiplied.
#[derive(Clone, Copy)]
struct Tests {
    day: f64,
    hour: f64,
    /// The rest of the user's days on the pair's kind (`kinds`), which
    /// bounds how sure a count of the pair can be.
    rest: Option<KindRest>,
}

impl Tests {
    /// The tests of `user` in the local hour `hour`: the pairs with
    /// events today, and this hour ([`User::fold_today`]).
    fn of(user: &User, hour: i64, kind: Option<u32>) -> Self {
        let (day, this_hour) = user.fold_today((0u32, 0u32), |(d, h), p| {
            (
                d + u32::from(p.events_today > 0),
                h + u32::from(p.hour == hour && p.hour_events > 0),
            )
        });
        Tests {
            day: f64::from(day.max(1)),
            hour: f64::from(this_hour.max(1)),
            rest: kind.and_then(|kind| {
                let moments = kinds::rest(&user.kinds, kind)?;
                Some(KindRest { kind, moments })
            }),
        }
    }

    /// A pair count's tail `p` over `days` days, `excess` events above
    /// what the pair expected, bounded by the swing of the user's other
    /// resources of its kind (`kinds`), and the tail it had when that
    /// bound it.
    fn bound(&self, p: f64, excess: f64, days: u8) -> (f64, Option<(KindRest, f64)>) {
        let (bounded, by) = kinds::bound(p, excess, self.rest.map(|r| r.moments), days);
        (bounded, by.and(self.rest).map(|r| (r, p)))
    }
}

/// The count and slow buckets of a pair that reach what they need to
/// report. Count tails are computed only from a count a couple of spreads
/// above the mean, and then every sixteenth of the count, so a busy day
/// costs a handful of tails; slow references cost a logarithm.
/// Counts and the slow reference of rows are judged no more narrowly than
/// the user's day (`day_sd`, on the log scale), as the row baselines are:
/// parts vary at least as much as their sum.
fn pair_candidates(
    pair: &mut Pair,
    slow_z: f64,
    day_sd: f64,
    dispersions: &Dispersions,
    tests: Tests,
    need: &impl Fn(u8) -> f32,
    out: &mut Vec<Scored>,
) {
    count_candidate(
        Bucket::PairEvents,
        pair.day_counts,
        pair.events_today,
        &mut pair.next_day_events,
        need(pair.events_reported),
        MIN_PAIR_HISTORY as f32,
        day_sd,
        (tests.day, Some(&tests)),
        out,
    );
    rate_candidate(
        pair,
        dispersions,
        day_sd,
        &tests,
        need(pair.recent_reported),
        out,
    );
    count_candidate(
        Bucket::PairHourEvents,
        pair.hour_counts,
        pair.hour_events,
        &mut pair.next_hour_events,
        need(pair.hour_events_reported),
        MIN_PAIR_HOURS,
        day_sd,
        (tests.hour, None),
        out,
    );
    let rows = pair.today;
    if rows > 0
        && pair
            .slow_rows
            .reaches_rows(rows, day_sd, slow_z, &mut pair.slow_rows_gate)
    {
        let need = need(pair.slow_rows_reported);
        out.extend(judge_slow(
            Bucket::PairTrend,
            pair.slow_rows,
            pair.slow_rows.rows_sd(day_sd),
            rows,
            need,
            tests.day,
        ));
    }
    let events = u64::from(pair.events_today);
    if events > 0
        && pair
            .slow_events
            .reaches_counts(events, slow_z, &mut pair.slow_events_gate)
    {
        let need = need(pair.slow_events_reported);
        out.extend(judge_slow(
            Bucket::PairEventsTrend,
            pair.slow_events,
            pair.slow_events.count_sd(),
            events,
            need,
            tests.day,
        ));
    }
}

/// A pair's rate change (`rate`): judged once today's count reaches the
/// earlier days' mean plus two spreads, and then every sixteenth of the
/// count, as the count buckets are. `dispersions` gives the typical
/// dispersion of the pair's resource, looked up only for an event that
/// sets the gate or passes it; `day_sd` is the user's day spread on the
/// log scale, `tests` the pair's day tests.
fn rate_candidate(
    pair: &mut Pair,
    dispersions: &Dispersions,
    day_sd: f64,
    tests: &Tests,
    need: f32,
    out: &mut Vec<Scored>,
) {
    let count = pair.events_today;
    let resource = pair.resource;
    let org = || dispersions.prior(resource);
    if pair.next_recent_events == 0 {
        pair.next_recent_events = pair.recent.cheap_bound(org(), day_sd).max(2);
    }
    if count < pair.next_recent_events {
        return;
    }
    pair.next_recent_events = count.saturating_add((count / 16).max(1));
    let Some(change) = pair.recent.change(count, org(), day_sd) else {
        return;
    };
    let expected = change.before_events / change.before_days.max(1.0) * f64::from(change.days);
    let excess = f64::from(change.events) - expected;
    let (p, rest) = tests.bound((change.p * tests.day).min(1.0), excess, change.days);
    let score = score_from_p(p);
    if score >= need {
        out.push(Scored {
            bucket: Bucket::PairRecentEvents,
            total: u64::from(change.events),
            baseline: Baseline::Rate(change),
            history: change.before_days.round() as u32,
            p,
            score,
            rest,
            outsized: None,
        });
    }
}

/// One count bucket of a pair (see [`pair_candidates`]): its tail is
/// computed once the count reaches `next`, which then moves a sixteenth
/// of the count on.
#[allow(clippy::too_many_arguments)]
#[inline]
fn count_candidate(
    bucket: Bucket,
    moments: Moments,
    count: u32,
    next: &mut u32,
    need: f32,
    min_n: f32,
    day_sd: f64,
    (tests, swing): (f64, Option<&Tests>),
    out: &mut Vec<Scored>,
) {
    if moments.n < min_n {
        return;
    }
    if *next == 0 {
        *next = moments.cheap_bound(2.0).max(2);
    }
    if count < *next {
        return;
    }
    *next = count.saturating_add((count / 16).max(1));
    if moments.surely_below(count, day_sd, need) {
        return;
    }
    let excess = f64::from(count) - f64::from(moments.mean);
    let p = (moments.tail(count, day_sd) * tests).min(1.0);
    let (p, rest) = swing.map_or((p, None), |swing| swing.bound(p, excess, 1));
    let score = score_from_p(p);
    if score >= need {
        out.push(Scored {
            bucket,
            total: u64::from(count),
            baseline: Baseline::Counts(moments),
            history: moments.n as u32,
            p,
            score,
            rest,
            outsized: None,
        });
    }
}

/// What the event read, for a finding's reason: its rows and, when they
/// were scaled in the hour and day totals, what they counted as.
fn what_was_read(resource: &str, e: &Event, read: Counted) -> String {
    match read.scaled {
        Some((usual, mine)) => format!(
            "read {} rows of {resource}, which the user's group reads ~{usual:.0} rows at a time: counted as {} row(s), as the user's own reads are ~{mine:.0}",
            e.rows, read.rows
        ),
        None => format!("read {} rows of {resource}", e.rows),
    }
}

fn finding(symbols: &Symbols, e: &Event, s: &Scored, read: Counted) -> Finding {
    let resource = symbols.resource(e.resource);
    let fit = match s.baseline {
        Baseline::Rows(fit) => fit,
        Baseline::Counts(m) => return count_finding(resource, e, s, m),
        Baseline::Slow(slow) => return slow_finding(resource, e, s, slow, read),
        Baseline::Rate(change) => return rate_finding(resource, e, s, change),
    };
    let usual = fit.median_rows().round();
    let context = match s.bucket {
        Bucket::Hour => format!(
            "{} rows this hour; usual active hour is ~{usual} rows",
            s.total
        ),
        Bucket::Day => format!("{} rows today; usual day is ~{usual} rows", s.total),
        _ => format!(
            "{} rows of it today; usual day is ~{usual} rows of it",
            s.total
        ),
    };
    let (mean, r) = fit.negative_binomial();
    let mut f = Finding::new(
        e.seq,
        s.score,
        format!("{}; {context}", what_was_read(resource, e, read)),
    );
    if let (Bucket::Hour | Bucket::Day, Some((usual, mine))) = (s.bucket, read.scaled) {
        f = f
            .with("counted_rows", read.rows)
            .with("group_usual_read_rows", usual)
            .with("user_usual_read_rows", mine);
    }
    f.with("bucket", s.bucket.name())
        .with("resource", resource)
        .with("rows", e.rows)
        .with("bucket_total", s.total)
        .with("baseline_p50", usual)
        .with("fitted_mean", mean.round())
        .with("dispersion_r", r)
        .with("history_buckets", s.history)
        .with("p", s.p)
}

fn rate_finding(resource: &str, e: &Event, s: &Scored, c: RateChange) -> Finding {
    // Windows are of two days or more.
    let window = match c.days {
        2 => "over today and the user's active day before".to_owned(),
        d => format!("over today and the user's {} active days before", d - 1),
    };
    let recent = f64::from(c.events) / f64::from(c.days).max(1.0);
    let before = c.before_events / c.before_days.max(1.0);
    Finding::new(
        e.seq,
        s.score,
        format!(
            "{} events on {resource} {window} ({recent:.1} a day); {before:.1} a day over the {:.0} active days before (rate {:.1}×, counts judged at dispersion {:.1})",
            c.events,
            c.before_days,
            recent / before.max(1e-9),
            c.dispersion
        ),
    )
    .with("bucket", s.bucket.name())
    .with("resource", resource)
    .with("bucket_total", s.total)
    .with("window_days", i64::from(c.days))
    .with("before_events", c.before_events)
    .with("before_days", c.before_days)
    .with("dispersion", c.dispersion)
    .with("history_buckets", s.history)
    .with("p", s.p)
}

/// A pair count's finding whose tail the rest of the user's days on the
/// kind bounded (`kinds`) says so: the reason how far those days swing,
/// the evidence the rest and the pair's own tail.
fn rest_bounded(mut f: Finding, rest: KindRest, unbounded_p: f64, kind: &str) -> Finding {
    let (mean, sd) = (rest.moments.mean, rest.moments.var.sqrt());
    f.reason.push_str(&format!(
        "; their days on other {kind} resources run ~{mean:.1} events give or take {sd:.1}, so this may be where a day went"
    ));
    f.with("kind", kind)
        .with("kind_rest_mean", f64::from(mean))
        .with("kind_rest_sd", f64::from(sd))
        .with("pair_p", unbounded_p)
}

/// Say that one outsized read carried the total and how often the log's
/// reads are as outsized (`outsize`).
fn outsized_read(mut f: Finding, why: Outsized) -> Finding {
    let one_in = (1.0 / why.share).max(1.0);
    let reads = match why.reads {
        1 => "the bucket's only read".to_owned(),
        n => format!("one of {n} reads in the bucket"),
    };
    f.reason.push_str(&format!(
        "; one read of {:.0}× the user's usual read carried it ({reads}), and 1 in {one_in:.0} of this log's reads is as outsized",
        why.ratio
    ));
    f.with("outsized_ratio", why.ratio)
        .with("outsized_share", why.share)
        .with("bucket_reads", why.reads)
        .with("bucket_p", why.own_p)
}

fn count_finding(resource: &str, e: &Event, s: &Scored, m: Moments) -> Finding {
    let (per, usual) = match s.bucket {
        Bucket::PairHourEvents => ("this hour", "active hour"),
        _ => ("today", "active day"),
    };
    let sd = f64::from(m.var).sqrt();
    Finding::new(
        e.seq,
        s.score,
        format!(
            "{} events on {resource} {per}; a usual {usual} has ~{:.1} (sd {sd:.1})",
            s.total, m.mean
        ),
    )
    .with("bucket", s.bucket.name())
    .with("resource", resource)
    .with("bucket_total", s.total)
    .with("baseline_mean", f64::from(m.mean))
    .with("baseline_sd", sd)
    .with("history_buckets", s.history)
    .with("p", s.p)
}

fn slow_finding(resource: &str, e: &Event, s: &Scored, slow: Slow, read: Counted) -> Finding {
    let reference = f64::from(slow.mean).exp_m1().round();
    let what = match s.bucket {
        // A scaled read says so; otherwise the day's rows say it all.
        Bucket::DayTrend if read.scaled.is_some() => format!(
            "{}; {} rows today",
            what_was_read(resource, e, read),
            s.total
        ),
        Bucket::DayTrend => format!("{} rows today", s.total),
        Bucket::PairEventsTrend => format!("{} events on {resource} today", s.total),
        _ => format!("{} rows of {resource} today", s.total),
    };
    Finding::new(
        e.seq,
        s.score,
        format!(
            "{what}; {:.1}× the slow reference (~{reference} a day over {:.0} earlier active days, learning slowly)",
            s.total as f64 / reference.max(1.0),
            slow.n
        ),
    )
    .with("bucket", s.bucket.name())
    .with("resource", resource)
    .with("rows", e.rows)
    .with("bucket_total", s.total)
    .with("reference", reference)
    .with("reference_log_mean", f64::from(slow.mean))
    .with("history_buckets", s.history)
    .with("p", s.p)
}

impl Detector for Volume {
    fn info() -> Info {
        Info {
            name: "volume",
            version: env!("CARGO_PKG_VERSION"),
            description: "rows read per user per hour, day and table-day far above the user's own (or peer group's) usual",
            config: vec![
                ConfigKey {
                    name: "learning_days",
                    default: "7",
                    description: "days of event time, from the first event seen, that only build baselines (no findings)",
                },
                ConfigKey {
                    name: "min_score",
                    default: "20.0",
                    description: "findings scoring below this (0-100) are dropped as noise",
                },
                ConfigKey {
                    name: "prior_weight",
                    default: "5.0",
                    description: "how many of a user's own active buckets the peer-group baseline is worth at most (less where the group's members differ far more than each member's own buckets vary); higher trusts the peers longer",
                },
                ConfigKey {
                    name: "kinds",
                    default: "[]",
                    description: "[glob, kind] pairs, e.g. [[\"patient/*\", \"charts\"]]; a resource's kind is that of the first glob it matches, else its shape, as in novel-table ([resources] kinds in the host's config sets it for every detector that keeps kinds); a jump of events on one resource is judged no more surely than the swing of the user's other resources of its kind",
                },
                ConfigKey {
                    name: "ignore_actions",
                    default: "[\"vacuum\", \"analyze\", \"reindex\", \"insert\", \"update\", \"delete\", \"create\", \"drop\", \"alter\", \"grant\", \"revoke\", \"truncate\"]",
                    description: "actions (case-insensitive) that return no data to the user; their events are skipped, as are failed events",
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
            "prior_weight" => {
                self.config.prior_weight = config::parse_in_range(key, value, 0.0, 1000.0)?
            }
            "ignore_actions" => {
                let actions: Vec<String> = config::parse(key, value)?;
                self.config.ignore_actions = actions.iter().map(|a| a.to_lowercase()).collect();
                self.ignored_actions.clear();
            }
            "kinds" => {
                let kinds = config::parse(key, value)?;
                if kinds != self.config.kinds {
                    self.config.kinds = kinds;
                    self.kinds.forget_resources();
                }
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        if !self.pair_count.known {
            self.pair_count = PairCount::of(&self.users);
        }
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }

    /// 0.3.0 to 0.8.0 snapshots carry over (`upgrade`'s module docs).
    fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Self)> {
        upgrade::upgrade(version, state)
    }

    /// The recent values of the pools of this instance's own users: the
    /// organisation's and each peer group's.
    fn population(&self) -> Vec<u8> {
        let share = Share {
            org: self.org.share(),
            groups: self
                .groups
                .iter()
                .filter_map(|(g, pool)| {
                    let share = pool.share();
                    (!share.is_empty()).then_some((g, share))
                })
                .collect(),
            reads: self.reads.share(),
            ratios: self.ratios.share_own(),
        };
        population::encode(&share)
    }

    /// Replace the other instances' part of every pool by what `others`
    /// hold of it.
    fn absorb(&mut self, others: &[&[u8]]) -> Result<(), String> {
        let shares: Vec<Share> = population::decode_all(others)?;
        shares.iter().try_for_each(Share::check)?;
        let mut by_group: BTreeMap<u32, Vec<&PoolShare>> = BTreeMap::new();
        for share in &shares {
            for (g, p) in &share.groups {
                by_group.entry(*g).or_default().push(p);
            }
        }
        let org: Vec<&PoolShare> = shares.iter().map(|s| &s.org).collect();
        self.org.set_shared(&org);
        self.reads
            .set_shared(shares.iter().map(|s| s.reads.as_slice()));
        self.ratios.set_shared(shares.iter().map(|s| &s.ratios));
        for (g, pool) in self.groups.iter_mut() {
            pool.set_shared(&by_group.remove(&g).unwrap_or_default());
        }
        for (g, sources) in by_group {
            self.groups
                .get_or_insert_with(g, Pool::default)
                .set_shared(&sources);
        }
        Ok(())
    }
}

ueba_sdk::export_detector!(Volume);

#[cfg(test)]
mod tests;
