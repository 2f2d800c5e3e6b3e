//! ueba's formats: logs in, alerts out.
//!
//! - [`sources`]: one parser per log format (ueba's native JSON lines,
//!   ECS, OCSF, CEF, LEEF, pgAudit, MySQL audit), format detection, and the
//!   field mapping for custom schemas. Every parser turns a line into an
//!   [`AccessEvent`](ueba_engine::event::AccessEvent) or an error naming the
//!   line and the field.
//! - [`input`]: reading a file or stdin on its own thread, in chunks, with
//!   positions a checkpoint can resume from.
//! - [`sinks`]: alerts written as JSON lines, ECS, OCSF, Splunk HEC or CEF
//!   (to a file, stdout, HEC over HTTP, or syslog).
//!
//! Adding a log format: a module in `sources/` implementing
//! [`LineParser`](sources::LineParser), a variant of
//! [`InputFormat`](sources::InputFormat) and its line in
//! [`parser_for`](sources::parser_for). Adding a sink: a module in `sinks/`
//! implementing [`AlertSink`](ueba_engine::pipeline::AlertSink) and a
//! variant of [`OutputFormat`](sinks::OutputFormat).
#![deny(missing_docs)]

pub mod input;
pub mod sinks;
pub mod sources;
