//! The gate between a plugin and everything downstream of it.
//!
//! A detector is code nobody on the host's side wrote, so every value it
//! hands back is hostile input: what it says about itself in `describe`
//! (name, version, description, config keys), and every finding it returns
//! from `observe`. This module is the one place where those values are
//! checked, bounded and escaped, before aggregation, sinks, the terminal or
//! a generated config file see them:
//!
//! - **Scores** must be finite; a non-finite score drops the finding (a NaN
//!   would sort above every real score, an infinity would never decay).
//!   Finite scores outside 0–100 are clamped. Both are counted.
//! - **Evidence** floats must be finite (a non-finite one is dropped);
//!   reasons, evidence keys and text values are cut to byte budgets; a
//!   finding keeps at most so many evidence items; a batch's findings share
//!   one byte budget. Every cut is counted, never silent.
//! - **Text** has control characters (C0, DEL, C1) and invisible or bidi
//!   format characters escaped as visible `\u{..}` sequences, so no plugin
//!   can clear a terminal, set its title, break a table, split a CEF header
//!   or a syslog record, or make two names look alike.
//! - **Findings** must name an event of their batch, and a finding equal
//!   to one already kept from the batch (same event, score, reason and
//!   evidence) is dropped: a repeat says nothing new, and would add its
//!   detector's repeat weight to the user's risk.
//! - **Names** are short, of a safe character set, with no path parts, and
//!   not confusable with a built-in detector's name; config keys may not use
//!   the names the host keeps for itself (sandbox limits), and a key's
//!   default must be exactly one TOML value, so `ueba config --plugins`
//!   output always parses and never carries a plugin's own settings.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::SandboxConfig;
use crate::sandbox::{PluginInfo, wit};

/// Longest detector name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Longest version, description or config-key text kept from `describe`, in
/// bytes; longer text is cut.
pub const MAX_DESCRIBE_TEXT_BYTES: usize = 512;

/// Most config keys one detector may declare.
pub const MAX_CONFIG_KEYS: usize = 256;

/// Keys of `[detectors.NAME]` that the host reads itself: whether the
/// detector runs, its weight, and its sandbox limits. A plugin may not
/// declare them, or `ueba config --plugins` would write the plugin's own
/// value for its own limits into that section.
pub const RESERVED_KEYS: &[&str] = &[
    "enabled",
    "weight",
    "memory_mib",
    "batch_timeout_ms",
    "max_findings_per_batch",
    "max_snapshot_mib",
    "max_us_per_event",
];

/// What the gate allows one batch's findings to carry, from `[sandbox]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    /// Longest reason kept, in bytes.
    pub max_reason_bytes: usize,
    /// Most evidence items kept per finding.
    pub max_evidence_items: usize,
    /// Longest evidence key or text value kept, in bytes.
    pub max_evidence_text_bytes: usize,
    /// Bytes of text (reasons, keys and text values) one batch's findings
    /// may carry in all; findings past it are dropped.
    pub max_batch_text_bytes: usize,
}

impl OutputLimits {
    /// The budgets `[sandbox]` sets.
    pub fn of(sandbox: &SandboxConfig) -> Self {
        OutputLimits {
            max_reason_bytes: sandbox.max_reason_bytes,
            max_evidence_items: sandbox.max_evidence_items,
            max_evidence_text_bytes: sandbox.max_evidence_text_bytes,
            max_batch_text_bytes: sandbox.max_batch_text_kib << 10,
        }
    }
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_reason_bytes: 1024,
            max_evidence_items: 32,
            max_evidence_text_bytes: 256,
            max_batch_text_bytes: 4 << 20,
        }
    }
}

/// What the gate did to one detector's findings: every drop and cut is
/// counted here, reported as a health event, and shown in the summary and
/// `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GateCounts {
    /// Findings dropped for a NaN or infinite score.
    pub non_finite_score: u64,
    /// Findings whose finite score was outside 0–100 and was clamped.
    pub clamped_score: u64,
    /// Findings dropped because they named an event not in their batch.
    pub stray: u64,
    /// Evidence items dropped for a NaN or infinite float.
    pub non_finite_evidence: u64,
    /// Evidence items dropped past the per-finding count.
    pub evidence_over_count: u64,
    /// Reasons, keys or text values cut to their byte budget.
    pub text_cut: u64,
    /// Findings dropped because the batch's text budget was spent.
    pub over_batch_budget: u64,
    /// Findings dropped for repeating one kept from the same batch.
    pub duplicate: u64,
}

impl GateCounts {
    /// Whether nothing was dropped or changed.
    pub fn is_clean(&self) -> bool {
        *self == GateCounts::default()
    }

    /// Findings dropped in all (not counting items cut from kept findings).
    pub fn findings_dropped(&self) -> u64 {
        self.non_finite_score + self.stray + self.over_batch_budget + self.duplicate
    }

    /// Add `other`'s counts to these.
    pub fn add(&mut self, other: &GateCounts) {
        self.non_finite_score += other.non_finite_score;
        self.clamped_score += other.clamped_score;
        self.stray += other.stray;
        self.non_finite_evidence += other.non_finite_evidence;
        self.evidence_over_count += other.evidence_over_count;
        self.text_cut += other.text_cut;
        self.over_batch_budget += other.over_batch_budget;
        self.duplicate += other.duplicate;
    }

    /// The counts as (metric label, value) pairs, for `/metrics` and the
    /// summary; the labels are stable.
    pub fn labelled(&self) -> [(&'static str, u64); 8] {
        [
            ("non_finite_score", self.non_finite_score),
            ("clamped_score", self.clamped_score),
            ("stray_event", self.stray),
            ("non_finite_evidence", self.non_finite_evidence),
            ("evidence_over_count", self.evidence_over_count),
            ("text_cut", self.text_cut),
            ("over_batch_budget", self.over_batch_budget),
            ("duplicate", self.duplicate),
        ]
    }
}

impl std::fmt::Display for GateCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (label, n) in self.labelled() {
            if n == 0 {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            let what = match label {
                "non_finite_score" => "findings dropped for a non-finite score",
                "clamped_score" => "scores clamped to 0-100",
                "stray_event" => "findings dropped for naming an event not in their batch",
                "non_finite_evidence" => "evidence values dropped for being non-finite",
                "evidence_over_count" => "evidence items dropped past the per-finding limit",
                "text_cut" => "texts cut to their byte limit",
                "duplicate" => "findings dropped for repeating one of their batch",
                _ => "findings dropped past the batch's text budget",
            };
            write!(f, "{n} {what}")?;
        }
        if first {
            f.write_str("nothing dropped")?;
        }
        Ok(())
    }
}

/// Check and bound one batch's findings. `sent` says whether an event
/// (by seq) was in the batch the detector was sent: a finding about any
/// other is stray. Returns
/// the findings that pass, with scores clamped and text escaped and cut;
/// what was dropped or changed is added to `counts`.
pub fn admit(
    findings: Vec<wit::Finding>,
    sent: impl Fn(u64) -> bool,
    limits: &OutputLimits,
    counts: &mut GateCounts,
) -> Vec<wit::Finding> {
    let mut budget = limits.max_batch_text_bytes;
    let mut out: Vec<wit::Finding> = Vec::with_capacity(findings.len());
    // Kept findings by fingerprint (positions in `out`).
    let mut seen: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    for mut f in findings {
        if !sent(f.event) {
            counts.stray += 1;
            continue;
        }
        if !f.score.is_finite() {
            counts.non_finite_score += 1;
            continue;
        }
        if !(0.0..=100.0).contains(&f.score) {
            counts.clamped_score += 1;
            f.score = f.score.clamp(0.0, 100.0);
        }
        f.reason = bounded(&f.reason, limits.max_reason_bytes, counts);
        let mut evidence = Vec::with_capacity(f.evidence.len().min(limits.max_evidence_items));
        for e in f.evidence {
            if let wit::EvidenceValue::Float(x) = e.value
                && !x.is_finite()
            {
                counts.non_finite_evidence += 1;
                continue;
            }
            if evidence.len() == limits.max_evidence_items {
                counts.evidence_over_count += 1;
                continue;
            }
            let key = bounded(&e.key, limits.max_evidence_text_bytes, counts);
            let value = match e.value {
                wit::EvidenceValue::Text(t) => {
                    wit::EvidenceValue::Text(bounded(&t, limits.max_evidence_text_bytes, counts))
                }
                other => other,
            };
            evidence.push(wit::Evidence { key, value });
        }
        f.evidence = evidence;
        let print = fingerprint(&f);
        let kept = seen.entry(print).or_default();
        if kept.iter().any(|&i| out[i] == f) {
            counts.duplicate += 1;
            continue;
        }
        let size = text_bytes(&f);
        if size > budget {
            counts.over_batch_budget += 1;
            continue;
        }
        budget -= size;
        kept.push(out.len());
        out.push(f);
    }
    out
}

/// A hash of everything a finding says, so that repeats are found without
/// comparing every pair; equal hashes are then compared in full.
fn fingerprint(f: &wit::Finding) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f.event.hash(&mut h);
    f.score.to_bits().hash(&mut h);
    f.reason.hash(&mut h);
    for e in &f.evidence {
        e.key.hash(&mut h);
        match &e.value {
            wit::EvidenceValue::Integer(i) => (0u8, *i).hash(&mut h),
            wit::EvidenceValue::Float(x) => (1u8, x.to_bits()).hash(&mut h),
            wit::EvidenceValue::Text(t) => (2u8, t).hash(&mut h),
        }
    }
    h.finish()
}

/// An evidence value as JSON, for alerts and authoring output. Past the
/// gate a float is finite; one that is not (a caller that skipped the gate)
/// becomes `null` rather than a string, so a field keeps one JSON type.
pub fn evidence_json(v: wit::EvidenceValue) -> serde_json::Value {
    match v {
        wit::EvidenceValue::Integer(i) => i.into(),
        wit::EvidenceValue::Float(x) => serde_json::Number::from_f64(x)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        wit::EvidenceValue::Text(t) => t.into(),
    }
}

/// Bytes of text one finding carries.
fn text_bytes(f: &wit::Finding) -> usize {
    f.reason.len()
        + f.evidence
            .iter()
            .map(|e| {
                e.key.len()
                    + match &e.value {
                        wit::EvidenceValue::Text(t) => t.len(),
                        _ => 8,
                    }
            })
            .sum::<usize>()
}

/// `text` escaped, then cut to `max` bytes (counted when cut).
fn bounded(text: &str, max: usize, counts: &mut GateCounts) -> String {
    let escaped = escape_text(text);
    if escaped.len() <= max {
        return escaped.into_owned();
    }
    counts.text_cut += 1;
    cut(&escaped, max)
}

/// The most bytes of a message a plugin returns with an error (from
/// `configure`, `observe`, `restore`, `absorb`) or of a contract string it
/// claims, once escaped: they end up in log lines and error messages,
/// where a plugin must neither flood the log nor write terminal escapes.
pub const MAX_PLUGIN_MESSAGE_BYTES: usize = 1024;

/// A text a plugin sent outside its findings and `describe` (an error's
/// message, a config key it complains about): escaped ([`escape_text`])
/// and cut to [`MAX_PLUGIN_MESSAGE_BYTES`].
pub fn plugin_message(text: &str) -> String {
    cut(&escape_text(text), MAX_PLUGIN_MESSAGE_BYTES)
}

/// `text` cut to at most `max` bytes at a character boundary, ending in `…`
/// when anything was cut, so a reader sees that it was.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let ellipsis = '…';
    let room = max.saturating_sub(ellipsis.len_utf8());
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = String::with_capacity(end + ellipsis.len_utf8());
    s.push_str(&text[..end]);
    if max >= ellipsis.len_utf8() {
        s.push(ellipsis);
    }
    s
}

/// Whether `c` must not reach a terminal, a log line or a name raw:
/// control characters, and the invisible and direction-changing format
/// characters that make text display other than it reads.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

/// `text` with every [`is_unsafe_char`] written as a visible `\u{..}`
/// escape (and backslashes left as they are), borrowed when there is
/// nothing to escape. Used for every plugin text at the gate, and for text
/// from the log itself (user and resource names) where it reaches a
/// terminal.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            let _ = write!(s, "\\u{{{:x}}}", c as u32);
        } else {
            s.push(c);
        }
    }
    Cow::Owned(s)
}

/// Why a plugin's `describe` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    /// The name is empty, too long, or has characters outside the safe set.
    #[error(
        "its name {0:?} is not a valid detector name: use 1 to {MAX_NAME_BYTES} lower-case ASCII letters, digits, `-` or `_`, starting with a letter"
    )]
    Name(String),
    /// A config key's name is not a valid key.
    #[error(
        "config key {0:?} is not a valid key name: use 1 to 64 lower-case ASCII letters, digits or `_`, starting with a letter"
    )]
    KeyName(String),
    /// A config key uses a name the host keeps for itself.
    #[error(
        "config key `{0}` is reserved for the host (one of: {keys}); a detector may not declare it",
        keys = RESERVED_KEYS.join(", ")
    )]
    ReservedKey(String),
    /// A config key is declared twice.
    #[error("config key `{0}` is declared twice")]
    DuplicateKey(String),
    /// A config key's default is not one TOML value.
    #[error("config key `{key}` has default {default:?}, which is not one TOML value")]
    Default {
        /// The key.
        key: String,
        /// Its default, escaped and cut for the message.
        default: String,
    },
    /// More config keys than allowed.
    #[error("it declares {0} config keys; at most {MAX_CONFIG_KEYS} are allowed")]
    TooManyKeys(usize),
}

/// Check what a plugin said about itself: the name and config keys must be
/// valid (refused otherwise), and the free text (version, description, key
/// descriptions) is escaped and cut to [`MAX_DESCRIBE_TEXT_BYTES`].
pub fn check_info(mut info: PluginInfo) -> Result<PluginInfo, InfoError> {
    if !is_valid_name(&info.name, MAX_NAME_BYTES, true) {
        return Err(InfoError::Name(cut(&escape_text(&info.name), 80)));
    }
    if info.config.len() > MAX_CONFIG_KEYS {
        return Err(InfoError::TooManyKeys(info.config.len()));
    }
    let clean = |t: &str| cut(&escape_text(t), MAX_DESCRIBE_TEXT_BYTES);
    info.version = clean(&info.version);
    info.description = clean(&info.description);
    let mut seen: Vec<&str> = Vec::with_capacity(info.config.len());
    for (key, default, _) in &info.config {
        if !is_valid_name(key, 64, false) {
            return Err(InfoError::KeyName(cut(&escape_text(key), 80)));
        }
        if RESERVED_KEYS.contains(&key.as_str()) {
            return Err(InfoError::ReservedKey(key.clone()));
        }
        if seen.contains(&key.as_str()) {
            return Err(InfoError::DuplicateKey(key.clone()));
        }
        seen.push(key);
        if !is_one_toml_value(default) {
            return Err(InfoError::Default {
                key: key.clone(),
                default: cut(&escape_text(default), 120),
            });
        }
    }
    for (_, default, description) in &mut info.config {
        *description = clean(description);
        // A valid TOML value may still span lines (a multi-line string or
        // array); written on one line it is the same value.
        if default.contains(['\n', '\r']) {
            *default = one_line_toml(default);
        }
    }
    Ok(info)
}

/// Whether `name` is of the safe set: lower-case ASCII letters and digits
/// plus `_` (and `-` for detector names), starting with a letter, at most
/// `max` bytes. This rules out path parts, whitespace, control and
/// invisible characters, and every non-ASCII look-alike at once.
fn is_valid_name(name: &str, max: usize, dash: bool) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= max
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (dash && c == '-'))
}

/// Whether `text` is exactly one TOML value (what `key = text` parses to
/// as a one-key table).
fn is_one_toml_value(text: &str) -> bool {
    let doc = format!("v = {text}");
    toml::from_str::<toml::Table>(&doc).is_ok_and(|t| t.len() == 1 && t.contains_key("v"))
}

/// A valid TOML value written on one line.
fn one_line_toml(text: &str) -> String {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|t| t.get("v").map(|v| v.to_string()))
        .unwrap_or_default()
}

/// The built-in name `name` could be mistaken for, if any: names that read
/// the same once digits that look like letters (`0`→`o`, `1`→`l`, `5`→`s`),
/// `rn`→`m`, `vv`→`w`, `-`/`_` and repeated letters are folded, but are not
/// the same name. A plugin that *is* named like a built-in replaces it
/// (and is reported); one that merely looks like it is refused, so two
/// columns can never read alike.
pub fn confusable_with<'a>(name: &str, builtins: &[&'a str]) -> Option<&'a str> {
    let own = skeleton(name);
    builtins
        .iter()
        .copied()
        .find(|b| *b != name && skeleton(b) == own)
}

fn skeleton(name: &str) -> String {
    let folded: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            '5' => 's',
            '3' => 'e',
            '8' => 'b',
            c => c,
        })
        .collect();
    let folded = folded.replace("rn", "m").replace("vv", "w");
    let mut s = String::with_capacity(folded.len());
    for c in folded.chars() {
        if !s.ends_with(c) {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
