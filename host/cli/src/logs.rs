//! Where diagnostics go: the `tracing` subscriber of the `ueba` binary.
//!
//! The libraries and the commands emit warnings, notes, errors and plugin
//! health events as `tracing` events; this module is the only place that
//! decides how they are written, always to stderr. Program output (alerts,
//! the summary `score` and `serve` print at the end, reports, `--help`)
//! does not pass through here.
//!
//! Two formats, chosen by `--log-format` (or `UEBA_LOG_FORMAT`):
//!
//! - [`LogFormat::Text`], for people and for the tests that read stderr:
//!   exactly the lines `ueba` has always written. An event's message is
//!   printed after a prefix chosen by its level: ERROR `error: `, WARN
//!   `warning: `, INFO nothing. INFO carries the status lines that scripts
//!   and tests read from the start of the line (`listening on ...`,
//!   `resuming from ...`), so it gets no prefix; a note says `note: ` in
//!   its own message. Fields are not printed: the message must say
//!   everything, and fields repeat its values for machines. Health events
//!   ([`HEALTH_TARGET`]) are written as the JSON line the engine's
//!   `HealthEvent` serializes to, byte for byte. No timestamps, no colours.
//! - [`LogFormat::Json`], for log shippers: one JSON object per line with
//!   `timestamp`, `level`, `target`, `message` and the event's fields at the
//!   top level (so field names `timestamp`, `level` and `target` are not
//!   used by events).
//!
//! Converting an `eprintln!("warning: ...")` is then one line:
//! `tracing::warn!("...")`, the prefix dropped; a plain status line becomes
//! `tracing::info!("...")` unchanged.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use ueba_engine::sandbox::health::HEALTH_TARGET;

/// How diagnostics are written to stderr (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `warning: ...`, `error: ...`, plain status lines and health events
    /// as JSON lines: what a person at a terminal reads.
    Text,
    /// One JSON object per line (timestamp, level, target, message and the
    /// event's fields), for journald, syslog-ng, Filebeat and the like.
    Json,
}

/// Install the process-wide subscriber writing diagnostics to stderr in
/// `format`. Called once, first thing in `main`, so that every thread (the
/// scorer, the plugin reloader) reports through it.
pub(crate) fn init(format: LogFormat) {
    // Only fails if a subscriber is already set, which `main` never does.
    let _ = tracing::subscriber::set_global_default(subscriber(format, std::io::stderr));
}

/// The subscriber writing events at INFO and above to `writer` in
/// `format`; separate from [`init`] so tests can capture what it writes.
///
/// The NATS client's own events count from WARN: its INFO lines ("event:
/// connected", "connected successfully") are its internals, and ueba says
/// what matters of them itself (`ueba_nats::server::connect`).
pub(crate) fn subscriber<W>(format: LogFormat, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let targets = Targets::new()
        .with_default(Level::INFO)
        .with_target("async_nats", Level::WARN);
    let builder = tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.event_format(Text).finish().with(targets)),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish()
                .with(targets),
        ),
    }
}

/// The text format: today's stderr lines (see the module's documentation).
pub(crate) struct Text;

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        if meta.target() == HEALTH_TARGET {
            return writeln!(writer, "{}", fields.health_line());
        }
        let prefix = match *meta.level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            _ => "",
        };
        writeln!(writer, "{prefix}{}", fields.message)
    }
}

/// An event's message and its other fields in the order they were given,
/// each as the JSON value it stands for.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, serde_json::Value)>,
}

impl Fields {
    /// The health event's JSON line: `type` first, then the fields in the
    /// order the engine gives them (which is `HealthEvent`'s), then
    /// `message`, written by serde_json as the engine's own serialization
    /// would write them.
    fn health_line(&self) -> String {
        let mut line = String::from(r#"{"type":"health""#);
        let message = serde_json::Value::from(self.message.as_str());
        for (name, value) in self
            .rest
            .iter()
            .map(|(n, v)| (*n, v))
            .chain([("message", &message)])
        {
            let _ = write!(line, ",{}:{value}", serde_json::Value::from(name));
        }
        line.push('}');
        line
    }

    fn push(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.rest.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }

    /// The message (`format_args!`) and `%`/`?` fields arrive here: their
    /// Debug form is the text they stand for.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}").into());
    }
}

/// An error with its causes, as one line: `context: cause: cause`, as
/// anyhow's alternate format writes it, but with each cause left out
/// when the text so far already says it. Library errors that name their
/// source in their own message (`{path}: {source}`) would otherwise print
/// it twice. Errors quote what they were given (a config key, a file name,
/// an alert id), so control characters are escaped as `\u{..}` here, on
/// the way to the terminal, whichever error carries them; line breaks stay
/// (a TOML error draws the line it points at).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause
            .to_string()
            .split('\n')
            .map(|line| ueba_engine::sandbox::gate::escape_text(line).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        if text.is_empty() {
            text = said;
        } else if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
    }
    text
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;
