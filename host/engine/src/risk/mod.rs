//! From findings to risk and alerts: per-user risk that decays
//! ([`aggregate`]), the threshold an alert budget steers ([`budget`]),
//! analysts' exceptions ([`exceptions`]) and verdicts ([`verdicts`]),
//! alert episodes as incidents ([`incidents`]), each detector's tail on
//! the organisation's ordinary days ([`tails`]), risk per resource and
//! source ([`entities`]) and the record of every
//! finding ([`findings`]).

pub mod aggregate;
pub mod budget;
pub mod entities;
pub mod exceptions;
pub mod findings;
pub mod incidents;
pub mod tails;
pub mod verdicts;

/// What a score is worth `age_ms` of event time after it was found: it
/// halves every `half_life_ms` (a negative age counts as none). The one
/// decay behind users' components, the findings they keep and entities'
/// contributions.
pub(crate) fn decay_factor(age_ms: i64, half_life_ms: f64) -> f32 {
    0.5f64.powf(age_ms.max(0) as f64 / half_life_ms) as f32
}

/// `score`, found at `at_ms`, decayed to `now_ms` ([`decay_factor`]).
pub(crate) fn decayed(score: f32, at_ms: i64, now_ms: i64, half_life_ms: f64) -> f32 {
    score * decay_factor(now_ms - at_ms, half_life_ms)
}

/// Writes records (`--findings`, `--incidents`) as JSON lines, one per
/// record: the one writer behind both record sinks. Their names come from
/// the log, so they are written with [`crate::json`], hidden characters
/// escaped.
pub struct JsonLines<W: std::io::Write + Send>(pub W);

impl<W: std::io::Write + Send> JsonLines<W> {
    /// Write `record` as one JSON line.
    fn line(&mut self, record: &impl serde::Serialize) -> std::io::Result<()> {
        crate::json::to_writer(&mut self.0, record)?;
        self.0.write_all(b"\n")
    }
}

/// Keeps a field as its JSON text in checkpoints (`#[serde(with =
/// "crate::risk::json_text")]`). Checkpoints are postcard, which writes no
/// field names: a type whose JSON form skips fields (`skip_serializing_if`,
/// for the records users read) or holds JSON values cannot be decoded from
/// it, so such a field goes in as text its own serde reads back.
pub(crate) mod json_text {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(v).map_err(S::Error::custom)?)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}
