//! `ueba.toml`: every knob, with its default, in one documented place.
//!
//! Unknown keys are errors naming the key, because a misspelt threshold that
//! silently keeps its default is worse than a refusal to start. Keys under
//! `[detectors.NAME]` other than `enabled` and `weight` belong to that
//! detector and are validated by the plugin itself (see `ueba config`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod context;
mod exceptions;
mod formats;
mod serve;

pub use context::{Criticality, CriticalityConfig, ResourcesConfig, WatchlistsConfig, scale_odds};
pub use exceptions::{Exception, ExceptionError};
pub use formats::{CsvConfig, DEFAULT_PG_PREFIX, FieldMapping, FormatsConfig, WithoutObject};
pub use serve::ServeConfig;

/// The documented default configuration, as printed by `ueba config`.
/// A test checks that it parses to exactly [`Config::default`].
pub const DEFAULT_TOML: &str = r#"# ueba.toml: every key with its default. Unknown keys are an error.

[input]
# Events are sent to detectors in batches of this many (1 to 65536).
# Bigger batches amortise the sandbox call; see BENCHMARKS.md.
batch_size = 1024
# A batch also ends once this many minutes of event time have passed since
# its first event (0: only batch_size ends one). A user whose findings make
# them suspicious is held out of the detectors' learning from the next
# batch, so on a sparse log (a few hundred events an hour) this keeps the
# rest of a night session from being learned as normal (0 to 1440).
block_minutes = 15
# Out-of-order rule: events are held until the newest event time seen is this
# many seconds past theirs, then scored in event-time order. An event older
# than what has already been scored (later than this allows) is scored at
# once, in arrival order, and counted as "late" in the summary.
max_lateness_secs = 120
# At most this many events are held for reordering; beyond it the oldest are
# scored early, which bounds memory on dense logs.
reorder_buffer = 1000000
# Times far from the log's (a device whose clock was reset, a mistyped
# year): a run's start is, of its first 32 events, the group with no gap
# over this many days that spans the most distinct times (a clock never set
# stamps many lines with one); afterwards an event further than this (or
# than 8 times the log's usual spacing) from the newest event time waits
# until 8 events near it at more than one time (a log resuming after an
# outage; 512 if all of one instant), or two users' behind the log (a late
# backlog), confirm its time. One that nothing
# confirms is refused, counted as a "time outlier" in the summary and
# /metrics, and never scored, so it cannot end every detector's learning
# period or make the rest of the log late. 0 turns the guard off.
max_time_jump_days = 7
# Names (users, resources, actions, sources, peer groups) held, MiB of text,
# each counted with 32 bytes of bookkeeping: the host and every detector
# keep every distinct name, so a log or client with endless distinct names
# (a query text or a request id in the resource field) would otherwise grow
# them without bound and push the detectors past sandbox.memory_mib. Past
# it, a new name is scored as "(names over input.max_name_mib)", counted
# in the summary and /metrics. 32 MiB is about 500,000 names of 30 bytes.
# Every detector keeps the names in its memory and its snapshots, so at
# worst (names of a kilobyte) a MiB of names costs about 25 MiB of memory
# with the four built-in detectors; raise sandbox.memory_mib with it.
max_name_mib = 32

[risk]
# A user is alerted when their risk (0-100) reaches this.
threshold = 60.0
# Risk halves every this many hours of event time without new findings.
half_life_hours = 24.0
# Within one detector, findings after the strongest add this fraction of
# their (decayed) score (findings about one resource within one hour restate
# one behaviour: they count once, at their strongest)...
repeat_weight = 0.25
# ...but never more than this many points in all, so one chatty detector's
# many small findings cannot drown the others or alert on their own.
repeat_cap = 15.0
# One detector alone raises risk to at most this; the top of the scale is
# kept for users on whom detectors agree, so they rank first.
detector_cap = 90.0
# An alerted user is alerted again only when their risk has risen by at least
# this many points since the last alert (about one severity level: Medium from
# 40, High from 70, Critical from 90), so an episode says "worse" a few times,
# not at every other finding...
realert_step = 20.0
# ...or after their risk fell below this (the episode ended) and rose again...
rearm_below = 30.0
# While an alert episode is open, the detectors score the user's events but
# do not learn from them (an ongoing attack must not become the new normal),
# for at most this many days of event time from the episode's first alert,
# so that a false alarm cannot freeze a user's baselines. 0: always learn.
hold_days = 7.0
# A user whose risk reaches this without alerting is held out of learning the
# same way until their risk falls below rearm_below (at most hold_days), so a
# suspicious night or a first surge is not learned before it can add up.
# At or above the alert threshold: only alerted users are held.
hold_above = 40.0
# A benign verdict (`ueba feedback`, POST /v1/feedback) closes the user's
# episode, resets their risk and lets the detectors learn again; for this many
# days of event time after it, findings of the same detector about the same
# resource of the user (what the judged incident was made of) add no risk,
# so the detectors learn the behaviour as normal instead of alerting on it
# again. Each is counted and marked with the verdict in --findings.
benign_days = 30.0
# ...or, once per detector per episode, when a detector not yet behind the
# user's alerts (its component below this at each of them) rises at least
# this many points above what they showed of it (new kind of evidence, e.g.
# a novel table read after the bulk read was alerted).
new_evidence_min = 25.0
# Findings listed in an alert, strongest contribution first.
max_findings_per_alert = 10
# The alert budget: alert episodes allowed per 1,000 user-days (a user-day
# is one user active on one UTC day). After a learning period (7 days and
# enough user-days for one alert) the threshold follows the organisation's
# own distribution of daily peak risk: down where the log's shape scores
# everyone low, up where it scores everyone high, by at most 5 points a
# day either way, within the floor and ceiling below; user-days of an
# open alert episode are left out, so an alerted attack is not learned as
# normal. `threshold` above is where it starts. 0: `threshold` stays fixed.
alert_budget_per_1k_user_days = 0.5
# Lowest and highest threshold the budget may set (a `threshold` set outside
# them widens them to include it). The ceiling is the default threshold: the
# budget counts attacks with false alerts, so many attacks at once would
# otherwise lift the threshold above where it was set. It lifts by itself,
# from the first closed day, where ordinary user-days crowd below it (more
# than nine allowances of peaks, and never fewer than ten peaks, in ten
# points); raise it for a log shape whose benign users score high and stay
# under that crowd (the summary says when the budget is overspent at the
# ceiling, and when it has lifted it).
threshold_floor = 35.0
threshold_ceiling = 60.0
# Closed days the budget looks back over.
budget_window_days = 28

[sandbox]
# Defaults for every plugin; [detectors.NAME] may override the first four.
# Linear memory cap per plugin, MiB.
memory_mib = 256
# Time budget for one batch in one plugin, milliseconds (epoch interruption).
batch_timeout_ms = 5000
# Most findings one batch may return; more is treated as a failure.
max_findings_per_batch = 100000
# Largest plugin snapshot accepted, MiB. As large as the memory cap by
# default: a detector's snapshot is bounded by its memory anyway, and one
# refused here is neither a recovery point nor part of a --state checkpoint.
max_snapshot_mib = 256
# Time budget for one snapshot or restore of a plugin's state, milliseconds;
# at least batch_timeout_ms. It grows with what the detector has learned:
# seconds at a million users. A snapshot that runs past it counts as a
# failure toward quarantine, like a failed batch.
snapshot_timeout_ms = 60000
# A plugin's state is snapshotted at most every this many batches of
# batch_size events (a batch cut short by block_minutes counts its events,
# not a whole batch); after a
# trap it is re-instantiated from the last good snapshot, the batches since
# are replayed, and the failed batch is retried once. Snapshots are spaced
# further apart when they are costly: they take at most a tenth of the time
# the plugin spends scoring, and the batches kept for replay are bounded by
# the size of the snapshot they follow.
snapshot_interval_batches = 64
# A plugin that fails this many batches (after its retry) is quarantined:
# it gets no more events, the others keep scoring, and the health stream
# says so.
max_failures = 3
# Time a plugin may take per event of a batch, microseconds (never less
# than 10 ms a batch), before the batch counts as slow; 0 never does. A
# built-in detector takes well under one. A plugin slow on
# max_slow_batches batches in a row is quarantined: under
# batch_timeout_ms on every batch, it would still hold scoring back a
# thousandfold. [detectors.NAME] may override max_us_per_event.
max_us_per_event = 100
max_slow_batches = 8
# Everything a plugin returns passes one gate before risk and output: a
# finding with a NaN or infinite score is dropped, scores are clamped to
# 0-100, non-finite evidence values are dropped, control and invisible
# characters are escaped, findings for events not in their batch are
# dropped, and text is bounded by these budgets. Every drop and cut is
# counted (summary, /metrics) and reported as an `output_rejected` health
# event. Longest reason kept, bytes:
max_reason_bytes = 1024
# Most evidence items kept per finding.
max_evidence_items = 32
# Longest evidence key or text value kept, bytes.
max_evidence_text_bytes = 256
# Text (reasons, evidence keys and values) one plugin's findings may carry
# per batch, KiB; findings past it are dropped.
max_batch_text_kib = 4096

# Plugin files from --plugins DIR may be pinned by sha256 (`ueba plugin
# inspect` or `sha256sum` gives the value); a file that does not match is
# refused, and a pinned file that is missing is an error.
[pins]
# "custom-detector.wasm" = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[engine]
# Where compiled plugins are cached. Empty: $UEBA_CACHE_DIR, else
# $XDG_CACHE_HOME/ueba, else ~/.cache/ueba.
cache_dir = ""
# Set to false to compile plugins on every start.
cache = true

[formats]
# PostgreSQL's log_line_prefix, for `--format pgaudit` (stderr logs). Copy
# yours from postgresql.conf; it needs %m, %t or %n (time) and %u (user);
# %d (database) and %h or %r (client) are used when present. Escapes other
# than %q must be separated by literal text. See README "Formats".
pg_log_line_prefix = "%m [%p] %q%u@%d "
# pgAudit SESSION lines without an object name (SELECT with log_relation
# off): "statement" takes the tables from the statement text, "skip" counts
# and skips them.
pg_session_without_object = "statement"

# Where to find event fields in custom schemas, tried before the built-in
# names: a dotted JSON path for ecs, ocsf and mysql (nested or dotted keys),
# an extension key or custom label (cs1Label=...) for cef and leef, a
# header column for csv.
[formats.mapping]
# time = "event.created"
# user = "labels.db_user"
# action = "db.operation.name"
# resource = "labels.table"
# rows = "labels.rows"
# bytes = "labels.bytes"
# source = "client.ip"
# outcome = "event.outcome"

# `--format csv`: delimited text whose first line names the columns.
[formats.csv]
# One ASCII character; "\t" for tab-separated files.
delimiter = ","
# A strftime format for times in none of the usual forms (RFC 3339, epoch
# ms, YYYY-MM-DD HH:MM:SS), tried first, e.g. "%m/%d/%Y %H:%M:%S".
# time_format = "%m/%d/%Y %H:%M:%S"
# The IANA zone of times without an offset.
time_zone = "UTC"
# A value for a field the file has no column for (a column, when present,
# wins), e.g. a removable-media log that names only the machine.
[formats.csv.fixed]
# resource = "removable-media"

[serve]
# `ueba serve` only. Largest request body, bytes; larger requests get 413.
max_body_bytes = 16777216
# Longest line, or single event of a JSON array or HEC body, bytes; a
# request holding a longer one gets 413.
max_line_bytes = 1048576
# Events accepted but not yet scored, at most: this bounds the service's
# memory. A request that does not fit gets 429 (HEC: 503 "Server is busy")
# with Retry-After; one holding more events than this gets 413.
queue_events = 100000
# Seconds a client refused for a full queue or body budget is told to wait
# (Retry-After).
retry_after_secs = 1
# When no events arrive for this many milliseconds, events held for
# reordering are scored at once, so alerts are not held back.
idle_flush_ms = 1000
# Open connections, at most; past it the service stops accepting until one
# closes. Keep it below the process's file-descriptor limit (ulimit -n).
max_connections = 512
# Bytes of request bodies being read or parsed at once, at most (at least
# max_body_bytes). A request that does not fit gets 429 (HEC: 503 "Server is
# busy") with Retry-After.
body_budget_bytes = 134217728
# A connection must send a request's complete headers within this many
# milliseconds of opening or of its previous response, else it is closed
# (idle keep-alive connections too).
header_read_timeout_ms = 10000
# A connection on which no byte moves either way for this many milliseconds
# is closed, mid-request included.
idle_timeout_ms = 30000
# A request must be received and queued within this many milliseconds of its
# headers, else it gets 408.
request_timeout_ms = 60000
# At SIGTERM or SIGINT, requests in flight get this many milliseconds to
# finish; then their connections are closed and everything accepted is
# scored and checkpointed anyway.
shutdown_timeout_ms = 10000

# Per detector: `enabled` (default true), `weight` (default 1.0: a finding's
# score counts in full), and the detector's own keys (`ueba config` lists them).
# [detectors.volume]
# weight = 1.0
# learning_days = 7

# Analyst exceptions: findings matching one add no risk; each exception's
# matches are counted (summary, /metrics, ueba eval) and marked with its note
# in --findings. Every field given must match: user, peer_group, resource,
# action, source and detector are globs (* any run, ? one character); from
# and until are RFC 3339 event times (from inclusive, until exclusive).
# learn = false also keeps the matching events from the detectors (from the
# named detector only, when one is named). See README "Tuning and feedback".
# [[exceptions]]
# user = "dba*"
# resource = "support.*"
# detector = "volume"
# note = "weekly maintenance"

# Criticality: the identity file's optional `criticality` column (low,
# medium, high, extreme) and [resources] below. A level multiplies the odds
# of a risk, p = s/(100-s), p' = p*m, s' = 100*p'/(1+p'): a user's risk
# by their level's factor, a finding's score by its resource's. Alerts list
# the modifiers that applied.
[criticality]
low = 0.5
medium = 1.0
high = 1.5
extreme = 2.0

# Watchlists: the identity file's optional `watchlists` column (names
# separated by `;`). Each list's odds multiplier; a user on several has
# them all multiplied. A list named in the identity file must be here.
[watchlists]
# vip = 1.5
# departing = 2.0

[resources]
# [glob, level] pairs, first match wins: findings about a matching resource
# count with their score's odds multiplied by the level's factor.
criticality = []
# criticality = [["support.customers", "extreme"], ["hr.*", "high"]]
# [glob, kind] pairs, first match wins: the kinds of resources, for every
# detector that keeps habits per kind (novel-table, volume) and does not set
# its own `kinds`. Unmatched resources take their kind from their shape
# (PC-1234 is PC-#, schema.table a table, a path its share or first folder).
kinds = []
# kinds = [["PC-*", "workstation"], ["\\\\fs*\\home$\\*", "home-folders"]]
"#;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Reading and batching events.
    pub input: InputConfig,
    /// Risk aggregation and alerting.
    pub risk: RiskConfig,
    /// Sandbox limits for plugins.
    pub sandbox: SandboxConfig,
    /// The wasm engine.
    pub engine: EngineConfig,
    /// sha256 pins of plugin files, by file name.
    pub pins: BTreeMap<String, String>,
    /// Per-detector settings, keyed by detector name.
    pub detectors: BTreeMap<String, DetectorConfig>,
    /// Input formats: PostgreSQL log prefix and field-mapping overrides.
    pub formats: FormatsConfig,
    /// `ueba serve`: request limits and the scoring queue.
    pub serve: ServeConfig,
    /// Analyst exceptions (`[[exceptions]]`), in order.
    pub exceptions: Vec<Exception>,
    /// Odds multipliers of criticality levels.
    pub criticality: CriticalityConfig,
    /// Odds multipliers of watchlists, by name.
    pub watchlists: WatchlistsConfig,
    /// Resource criticality.
    pub resources: ResourcesConfig,
}

/// `[input]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Events per detector call.
    pub batch_size: usize,
    /// Minutes of event time after which a batch ends whatever its size
    /// ([`crate::pipeline::block`]); 0 for none.
    pub block_minutes: u32,
    /// Allowed lateness for reordering, seconds.
    pub max_lateness_secs: u64,
    /// Most events held for reordering.
    pub reorder_buffer: usize,
    /// Most MiB of names held ([`crate::pipeline::intern::Interner::set_budget`]).
    pub max_name_mib: u64,
    /// Days from the stream's time past which an event waits for
    /// confirmation ([`crate::pipeline::clock`]); 0 turns the guard off.
    pub max_time_jump_days: u32,
}

impl InputConfig {
    /// `max_name_mib` in bytes.
    pub fn name_budget_bytes(&self) -> usize {
        usize::try_from(self.max_name_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// `block_minutes` in milliseconds (0: no time bound).
    pub fn block_span_ms(&self) -> i64 {
        i64::from(self.block_minutes) * 60_000
    }
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            batch_size: 1024,
            block_minutes: 15,
            max_lateness_secs: 120,
            reorder_buffer: 1_000_000,
            max_name_mib: 32,
            max_time_jump_days: 7,
        }
    }
}

/// The most findings an alert may list (`risk.max_findings_per_alert`):
/// past a thousand an alert is no longer something an analyst reads, and
/// its line outgrows what SIEM inputs take.
pub const MAX_FINDINGS_PER_ALERT: usize = 1000;

/// Largest `max_us_per_event`: one second an event.
pub const MAX_US_PER_EVENT: u64 = 1_000_000;

/// `[risk]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Alert threshold, 0 to 100.
    pub threshold: f64,
    /// Decay half-life in hours of event time.
    pub half_life_hours: f64,
    /// Fraction of repeat findings' scores that adds to a detector's component.
    pub repeat_weight: f64,
    /// Cap on what repeats add, in points.
    pub repeat_cap: f64,
    /// Most risk one detector can contribute, in points.
    pub detector_cap: f64,
    /// Points of escalation needed for a re-alert.
    pub realert_step: f64,
    /// Risk below which an alert episode ends.
    pub rearm_below: f64,
    /// Longest hold, in days of event time, on learning a user's events
    /// while their alert episode is open; 0 never holds.
    pub hold_days: f64,
    /// Risk at which a user not alerted is held out of learning too, so
    /// that suspicious behaviour is not learned before it can add up; at or
    /// above `threshold` only alerted users are held.
    pub hold_above: f64,
    /// Days a benign verdict keeps the judged behaviour from adding risk.
    pub benign_days: f64,
    /// Points a detector not yet behind an episode's alerts must add to
    /// what they showed of it to re-alert.
    pub new_evidence_min: f64,
    /// Findings listed per alert, from 1 (an alert that lists none says
    /// nothing of why) to [`MAX_FINDINGS_PER_ALERT`].
    pub max_findings_per_alert: usize,
    /// Alert episodes allowed per 1,000 user-days; the threshold adapts to
    /// it (the risk stage's alert budget). 0 keeps `threshold` fixed.
    pub alert_budget_per_1k_user_days: f64,
    /// Lowest threshold the budget may set.
    pub threshold_floor: f64,
    /// Highest threshold the budget may set.
    pub threshold_ceiling: f64,
    /// Closed days of event time the budget looks back over.
    pub budget_window_days: usize,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            threshold: 60.0,
            half_life_hours: 24.0,
            repeat_weight: 0.25,
            repeat_cap: 15.0,
            detector_cap: 90.0,
            realert_step: 20.0,
            rearm_below: 30.0,
            hold_days: 7.0,
            hold_above: 40.0,
            benign_days: 30.0,
            new_evidence_min: 25.0,
            max_findings_per_alert: 10,
            alert_budget_per_1k_user_days: 0.5,
            threshold_floor: 35.0,
            threshold_ceiling: 60.0,
            budget_window_days: 28,
        }
    }
}

/// `[sandbox]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Memory cap per plugin, MiB.
    pub memory_mib: usize,
    /// Time budget per batch, ms.
    pub batch_timeout_ms: u64,
    /// Most findings per batch.
    pub max_findings_per_batch: usize,
    /// Largest snapshot, MiB.
    pub max_snapshot_mib: usize,
    /// Time budget for one snapshot or restore, ms.
    pub snapshot_timeout_ms: u64,
    /// Batches between snapshots kept for recovery.
    pub snapshot_interval_batches: usize,
    /// Failures before quarantine.
    pub max_failures: u32,
    /// Time per event of a batch, µs, past which the batch is slow (at
    /// least [`crate::sandbox::plugins::SLOW_FLOOR`] a batch); 0 disables.
    pub max_us_per_event: u64,
    /// Slow batches in a row before quarantine.
    pub max_slow_batches: u32,
    /// Longest finding reason kept, bytes; longer ones are cut and counted.
    pub max_reason_bytes: usize,
    /// Most evidence items kept per finding.
    pub max_evidence_items: usize,
    /// Longest evidence key or text value kept, bytes.
    pub max_evidence_text_bytes: usize,
    /// Text (reasons, evidence keys and values) one detector's findings may
    /// carry per batch, KiB; findings past it are dropped and counted.
    pub max_batch_text_kib: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            memory_mib: 256,
            batch_timeout_ms: 5000,
            max_findings_per_batch: 100_000,
            max_snapshot_mib: 256,
            snapshot_timeout_ms: 60_000,
            snapshot_interval_batches: 64,
            max_failures: 3,
            max_us_per_event: 100,
            max_slow_batches: 8,
            max_reason_bytes: 1024,
            max_evidence_items: 32,
            max_evidence_text_bytes: 256,
            max_batch_text_kib: 4096,
        }
    }
}

/// `[engine]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Compile cache directory; empty for the default.
    pub cache_dir: PathBuf,
    /// Whether to cache compiled plugins.
    pub cache: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: PathBuf::new(),
            cache: true,
        }
    }
}

/// `[detectors.NAME]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct DetectorConfig {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Multiplier on its findings' scores in the aggregate (0 to 10).
    pub weight: f64,
    /// Overrides `sandbox.memory_mib` for this detector.
    pub memory_mib: Option<usize>,
    /// Overrides `sandbox.batch_timeout_ms`.
    pub batch_timeout_ms: Option<u64>,
    /// Overrides `sandbox.max_findings_per_batch`.
    pub max_findings_per_batch: Option<usize>,
    /// Overrides `sandbox.max_snapshot_mib`.
    pub max_snapshot_mib: Option<usize>,
    /// Overrides `sandbox.max_us_per_event`: a detector known to be
    /// costly (a model per event) gets more time before it counts as slow.
    pub max_us_per_event: Option<u64>,
    /// The detector's own keys, passed to its `configure`.
    #[serde(flatten)]
    pub settings: BTreeMap<String, toml::Value>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            enabled: true,
            weight: 1.0,
            memory_mib: None,
            batch_timeout_ms: None,
            max_findings_per_batch: None,
            max_snapshot_mib: None,
            max_us_per_event: None,
            settings: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The `[detectors.NAME]` section a detector that declares the config
    /// keys `declared` runs with: its own, with `[resources] kinds` added
    /// when it declares `kinds` and its section does not set it. `None`
    /// when there is neither.
    pub fn detector(
        &self,
        name: &str,
        declared: &[(String, String, String)],
    ) -> Option<DetectorConfig> {
        let own = self.detectors.get(name);
        let shared = !self.resources.kinds.is_empty()
            && declared.iter().any(|(key, _, _)| key == "kinds")
            && !own.is_some_and(|d| d.settings.contains_key("kinds"));
        if !shared {
            return own.cloned();
        }
        let kinds = self
            .resources
            .kinds
            .iter()
            .map(|(glob, kind)| toml::Value::Array(vec![glob.clone().into(), kind.clone().into()]))
            .collect();
        let mut d = own.cloned().unwrap_or_default();
        d.settings
            .insert("kinds".to_string(), toml::Value::Array(kinds));
        Some(d)
    }
}

impl DetectorConfig {
    /// The detector's own keys as (key, TOML text) pairs for `configure`.
    pub fn plugin_pairs(&self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML, or an unknown key or wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A value is out of its allowed range.
    #[error("{path}{}: `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line the key's value is on, when the text says (a default
        /// value has none).
        line: Option<usize>,
        /// Dotted key, e.g. `risk.threshold` or `exceptions[2].until`.
        key: String,
        /// What is allowed.
        message: String,
    },
}

/// The line (from 1) of the value of `key` in TOML `text`: a dotted key
/// whose parts may end in an array index (`exceptions[2].until`).
fn line_of(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut table = Some(doc.get_ref());
    let mut at: Option<std::ops::Range<usize>> = None;
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let (_, value) = table?.iter().find(|(k, _)| k.get_ref() == name)?;
        let value = match (index, value.get_ref()) {
            (Some(i), DeValue::Array(items)) => items.get(i)?,
            (Some(_), _) => return None,
            (None, _) => value,
        };
        at = Some(value.span());
        table = match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    let start = at?.start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = crate::event::utf8_text(bytes).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        Self::parse(&text, path)
    }

    /// Parse and validate config text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.validate(path).map_err(|e| match e {
            ConfigError::Invalid {
                path,
                line: None,
                key,
                message,
            } => ConfigError::Invalid {
                line: line_of(text, &key),
                path,
                key,
                message,
            },
            e => e,
        })?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: None,
                key: key.into(),
                message: message.into(),
            })
        };
        let r = &self.risk;
        if !(1..=65_536).contains(&self.input.batch_size) {
            return bad("input.batch_size", "must be from 1 to 65536");
        }
        if self.input.block_minutes > 1440 {
            return bad("input.block_minutes", "must be from 0 to 1440");
        }
        if self.input.reorder_buffer == 0 {
            return bad("input.reorder_buffer", "must be at least 1");
        }
        if self.input.max_name_mib == 0 {
            return bad("input.max_name_mib", "must be at least 1");
        }
        if !(r.threshold > 0.0 && r.threshold <= 100.0) {
            return bad("risk.threshold", "must be above 0 and at most 100");
        }
        if !(r.half_life_hours > 0.0 && r.half_life_hours.is_finite()) {
            return bad("risk.half_life_hours", "must be a positive number of hours");
        }
        if !(0.0..=1.0).contains(&r.repeat_weight) {
            return bad("risk.repeat_weight", "must be from 0 to 1");
        }
        if !(0.0..=100.0).contains(&r.repeat_cap) {
            return bad("risk.repeat_cap", "must be from 0 to 100");
        }
        if !(r.detector_cap > 0.0 && r.detector_cap <= 100.0) {
            return bad("risk.detector_cap", "must be above 0 and at most 100");
        }
        if !(0.0..=100.0).contains(&r.realert_step) {
            return bad("risk.realert_step", "must be from 0 to 100");
        }
        if !(0.0..=100.0).contains(&r.new_evidence_min) {
            return bad("risk.new_evidence_min", "must be from 0 to 100");
        }
        if !(0.0..=100.0).contains(&r.rearm_below) {
            return bad("risk.rearm_below", "must be from 0 to 100");
        }
        if !(0.0..=3650.0).contains(&r.hold_days) {
            return bad("risk.hold_days", "must be from 0 to 3650 days");
        }
        if !(0.0..=100.0).contains(&r.hold_above) {
            return bad("risk.hold_above", "must be from 0 to 100");
        }
        if !(0.0..=3650.0).contains(&r.benign_days) {
            return bad("risk.benign_days", "must be from 0 to 3650 days");
        }
        if !(0.0..=1000.0).contains(&r.alert_budget_per_1k_user_days) {
            return bad(
                "risk.alert_budget_per_1k_user_days",
                "must be from 0 (a fixed threshold) to 1000",
            );
        }
        if !(r.threshold_floor > 0.0 && r.threshold_floor <= r.threshold_ceiling) {
            return bad(
                "risk.threshold_floor",
                "must be above 0 and at most risk.threshold_ceiling",
            );
        }
        if r.threshold_ceiling > 100.0 {
            return bad("risk.threshold_ceiling", "must be at most 100");
        }
        if !(1..=MAX_FINDINGS_PER_ALERT).contains(&r.max_findings_per_alert) {
            return bad("risk.max_findings_per_alert", "must be from 1 to 1000");
        }
        if !(1..=366).contains(&r.budget_window_days) {
            return bad("risk.budget_window_days", "must be from 1 to 366");
        }
        if self.sandbox.memory_mib == 0 || self.sandbox.memory_mib > 65_536 {
            return bad("sandbox.memory_mib", "must be from 1 to 65536");
        }
        if self.sandbox.batch_timeout_ms == 0 {
            return bad("sandbox.batch_timeout_ms", "must be at least 1");
        }
        if self.sandbox.max_findings_per_batch == 0 {
            return bad("sandbox.max_findings_per_batch", "must be at least 1");
        }
        if self.sandbox.max_snapshot_mib == 0 || self.sandbox.max_snapshot_mib > 4096 {
            return bad("sandbox.max_snapshot_mib", "must be from 1 to 4096");
        }
        if self.sandbox.snapshot_interval_batches == 0 {
            return bad("sandbox.snapshot_interval_batches", "must be at least 1");
        }
        if self.sandbox.max_failures == 0 {
            return bad("sandbox.max_failures", "must be at least 1");
        }
        if self.sandbox.max_slow_batches == 0 {
            return bad("sandbox.max_slow_batches", "must be at least 1");
        }
        if self.sandbox.max_us_per_event > MAX_US_PER_EVENT {
            return bad(
                "sandbox.max_us_per_event",
                "must be at most 1000000 (one second an event; 0 disables the check)",
            );
        }
        if self.sandbox.snapshot_timeout_ms < self.sandbox.batch_timeout_ms {
            return bad(
                "sandbox.snapshot_timeout_ms",
                "must be at least sandbox.batch_timeout_ms (a snapshot holds everything a batch taught)",
            );
        }
        if !(16..=65_536).contains(&self.sandbox.max_reason_bytes) {
            return bad("sandbox.max_reason_bytes", "must be from 16 to 65536");
        }
        if !(1..=1024).contains(&self.sandbox.max_evidence_items) {
            return bad("sandbox.max_evidence_items", "must be from 1 to 1024");
        }
        if !(16..=65_536).contains(&self.sandbox.max_evidence_text_bytes) {
            return bad(
                "sandbox.max_evidence_text_bytes",
                "must be from 16 to 65536",
            );
        }
        if !(1..=1_048_576).contains(&self.sandbox.max_batch_text_kib) {
            return bad("sandbox.max_batch_text_kib", "must be from 1 to 1048576");
        }
        for (index, exception) in self.exceptions.iter().enumerate() {
            if let Err(e) = exception.window(index) {
                return bad(&format!("exceptions[{}].{}", e.index, e.field), &e.message);
            }
        }
        for level in Criticality::ALL {
            let m = self.criticality.factor(level);
            if !(m > 0.0 && m <= 100.0) {
                return bad(
                    &format!("criticality.{level}"),
                    "must be above 0 and at most 100",
                );
            }
        }
        for (name, m) in &self.watchlists {
            if name.is_empty() || name.contains(';') {
                return bad(
                    &format!("watchlists.{name:?}"),
                    "a watchlist name must be non-empty and without `;`",
                );
            }
            if !(*m > 0.0 && *m <= 100.0) {
                return bad(
                    &format!("watchlists.{name}"),
                    "must be above 0 and at most 100",
                );
            }
        }
        for (i, (glob, _)) in self.resources.criticality.iter().enumerate() {
            if glob.is_empty() {
                return bad(&format!("resources.criticality[{i}]"), "the glob is empty");
            }
        }
        for (i, (glob, kind)) in self.resources.kinds.iter().enumerate() {
            if glob.is_empty() || kind.is_empty() {
                return bad(
                    &format!("resources.kinds[{i}]"),
                    "the glob and the kind must not be empty",
                );
            }
        }
        for (name, d) in &self.detectors {
            if !(0.0..=10.0).contains(&d.weight) {
                return bad(&format!("detectors.{name}.weight"), "must be from 0 to 10");
            }
            if d.memory_mib.is_some_and(|m| m == 0 || m > 65_536) {
                return bad(
                    &format!("detectors.{name}.memory_mib"),
                    "must be from 1 to 65536",
                );
            }
            if d.batch_timeout_ms == Some(0) {
                return bad(
                    &format!("detectors.{name}.batch_timeout_ms"),
                    "must be at least 1",
                );
            }
            if d.batch_timeout_ms
                .is_some_and(|t| t > self.sandbox.snapshot_timeout_ms)
            {
                return bad(
                    &format!("detectors.{name}.batch_timeout_ms"),
                    "must be at most sandbox.snapshot_timeout_ms (raise that too)",
                );
            }
            if d.max_us_per_event.is_some_and(|t| t > MAX_US_PER_EVENT) {
                return bad(
                    &format!("detectors.{name}.max_us_per_event"),
                    "must be at most 1000000 (one second an event; 0 disables the check)",
                );
            }
            if d.max_findings_per_batch == Some(0) {
                return bad(
                    &format!("detectors.{name}.max_findings_per_batch"),
                    "must be at least 1",
                );
            }
            if d.max_snapshot_mib.is_some_and(|m| m == 0 || m > 4096) {
                return bad(
                    &format!("detectors.{name}.max_snapshot_mib"),
                    "must be from 1 to 4096",
                );
            }
        }
        if let Err((key, message)) = self.serve.check() {
            return bad(key, message);
        }
        for (file, hash) in &self.pins {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad(&format!("pins.{file}"), "must be a sha256 as 64 hex digits");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
