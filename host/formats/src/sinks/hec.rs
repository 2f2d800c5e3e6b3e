//! Splunk HTTP Event Collector: the event envelope, to a file or POSTed.
//!
//! Each alert becomes `{"time": <epoch seconds>, "host", "source": "ueba",
//! "sourcetype": "ueba:alert", "event": <the native alert>}`; the native
//! alert is the event so Splunk searches see exactly what `jsonl` writes,
//! evidence included. Posting batches envelopes (HEC accepts several JSON
//! objects in one body) and sends them when the scorer flushes (after each
//! batch of events) or when [`MAX_BATCH_BYTES`] have accumulated, so a
//! burst of alerts is a few requests, not one per alert.

use std::time::Duration;

use serde_json::{Value, json};

use super::{SinkError, alert_ms};
use ueba_engine::pipeline::AlertSink;
use ueba_engine::risk::aggregate::Alert;

/// Body size that triggers a POST before the next flush.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// Longest a POST may take, connection and response included.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The collector path appended when `--hec-url` has none.
pub const DEFAULT_PATH: &str = "/services/collector/event";

/// The HEC envelope of one alert.
pub fn envelope(alert: &Alert, host: &str) -> Value {
    json!({
        "time": alert_ms(alert) as f64 / 1000.0,
        "host": host,
        "source": "ueba",
        "sourcetype": "ueba:alert",
        "event": alert,
    })
}

/// POSTs batches of envelopes to a HEC endpoint with `Authorization: Splunk <token>`.
pub struct HecPost {
    agent: ureq::Agent,
    url: String,
    auth: String,
    host: String,
    body: Vec<u8>,
}

impl HecPost {
    /// A sender to `url` (`http(s)://host:port[/path]`; without a path the
    /// standard `/services/collector/event` is used) with `token`.
    pub fn new(url: &str, token: &str, host: String) -> Result<Self, SinkError> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(SinkError::Address(format!(
                "--hec-url `{url}` must start with http:// or https://"
            )));
        };
        if !matches!(scheme, "http" | "https") || rest.is_empty() {
            return Err(SinkError::Address(format!(
                "--hec-url `{url}` must start with http:// or https:// and name a host"
            )));
        }
        let url = match rest.find('/') {
            None => format!("{url}{DEFAULT_PATH}"),
            Some(i) if &rest[i..] == "/" => format!("{scheme}://{}{DEFAULT_PATH}", &rest[..i]),
            Some(_) => url.to_string(),
        };
        if token.trim().is_empty() {
            return Err(SinkError::Address("the HEC token must not be empty".into()));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(HecPost {
            agent,
            url,
            auth: format!("Splunk {}", token.trim()),
            host,
            body: Vec::new(),
        })
    }

    /// The endpoint posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn post(&mut self) -> Result<(), SinkError> {
        if self.body.is_empty() {
            return Ok(());
        }
        let res = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .send(&self.body[..])
            .map_err(|e| SinkError::Http {
                url: self.url.clone(),
                message: e.to_string(),
            })?;
        let status = res.status().as_u16();
        if !(200..300).contains(&status) {
            let body = res
                .into_body()
                .with_config()
                .limit(4096)
                .read_to_string()
                .unwrap_or_default();
            return Err(SinkError::HttpStatus {
                url: self.url.clone(),
                status,
                body: ueba_engine::event::clip(body.trim()),
            });
        }
        self.body.clear();
        Ok(())
    }
}

impl AlertSink for HecPost {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        ueba_engine::json::to_writer(&mut self.body, &envelope(alert, &self.host))?;
        self.body.push(b'\n');
        if self.body.len() >= MAX_BATCH_BYTES {
            self.post()?;
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(self.post()?)
    }
}

#[cfg(test)]
#[path = "hec_tests.rs"]
mod tests;
