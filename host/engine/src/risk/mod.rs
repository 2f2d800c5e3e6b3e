//! From findings to risk and alerts: per-user risk that decays
//! ([`aggregate`]), the threshold an alert budget steers ([`budget`]),
//! analysts' exceptions ([`exceptions`]) and verdicts ([`verdicts`]),
//! alert episodes as incidents ([`incidents`]), risk per resource and
//! source ([`entities`]) and the record of every
//! finding ([`findings`]).

pub mod aggregate;
pub mod budget;
pub mod entities;
pub mod exceptions;
pub mod findings;
pub mod incidents;
pub mod verdicts;

/// Writes records (`--findings`, `--incidents`) as JSON lines, one per
/// record: the one writer behind both record sinks.
pub struct JsonLines<W: std::io::Write + Send>(pub W);

impl<W: std::io::Write + Send> JsonLines<W> {
    /// Write `record` as one JSON line.
    fn line(&mut self, record: &impl serde::Serialize) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, record)?;
        self.0.write_all(b"\n")
    }
}
