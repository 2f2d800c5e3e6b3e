//! Where alerts go: the one trait every output implements.

use crate::risk::aggregate::Alert;

/// Where alerts go.
pub trait AlertSink {
    /// Write one alert.
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()>;
    /// Flush buffered alerts (called after each batch and at the end).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps alerts in memory (tests, `ueba demo`).
impl AlertSink for Vec<Alert> {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.push(alert.clone());
        Ok(())
    }
}
