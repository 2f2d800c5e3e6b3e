//! JSON behind a syslog header: rsyslog, syslog-ng and journald forwarders
//! writing JSON messages to a file put their own header before each one
//! (`Jan  5 10:00:01 host app[123]: {...}`, or RFC 5424's `<134>1
//! 2026-01-05T10:00:01Z host app - - - {...}`). The JSON formats read the
//! message and leave the header: the event's own time is in the message,
//! and the header's is the forwarder's.
//!
//! A header is recognised by its start, a priority `<N>` or a month name
//! (`Jan` to `Dec`) then a space, and ends at the first ` {` whose line
//! ends in `}`. Anything else is the line as it is, so a malformed line is
//! still reported whole by the format's parser.

use super::{FormatError, LineParser};
use crate::input::Parsed;

const MONTHS: [&str; 12] = [
    "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ", "Nov ", "Dec ",
];

/// The JSON message of a line that is a syslog header then a JSON object;
/// `None` for any other line (a bare JSON object included).
pub fn json_payload(line: &str) -> Option<&str> {
    let t = line.trim();
    if t.starts_with('{') || !t.ends_with('}') {
        return None;
    }
    let priority = t
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .is_some_and(|(n, _)| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
    if !priority && !MONTHS.iter().any(|m| t.starts_with(m)) {
        return None;
    }
    t.find(" {").map(|i| &t[i + 1..])
}

/// A JSON format's parser reading the message of lines behind a syslog
/// header ([`json_payload`]) and every other line as it is.
pub struct SyslogJson<P>(pub P);

impl<P: LineParser> LineParser for SyslogJson<P> {
    #[inline]
    fn feed(&mut self, text: &str, line: u64, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        self.0.feed(json_payload(text).unwrap_or(text), line, out)
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), FormatError> {
        self.0.finish(out)
    }

    fn skipped(&self) -> u64 {
        self.0.skipped()
    }

    fn pending_line(&self) -> Option<u64> {
        self.0.pending_line()
    }

    fn needs_header(&self) -> bool {
        self.0.needs_header()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_behind_a_syslog_header_is_read_and_other_lines_are_left() {
        let msg = r#"{"timestamp":"2026-01-05T10:00:01Z","user":"b"}"#;
        for header in [
            "Jan  5 10:00:01 host app[123]: ",
            "<134>Jan  5 10:00:01 host app: ",
            "<134>1 2026-01-05T10:00:01Z host app - - - ",
        ] {
            assert_eq!(
                json_payload(&format!("{header}{msg}")),
                Some(msg),
                "{header}"
            );
        }
        assert_eq!(json_payload(msg), None, "a bare object is the line");
        assert_eq!(json_payload("Jan  5 10:00:01 host app: not json"), None);
        assert_eq!(json_payload("2026-01-05 10:00:01 {\"a\":1}"), None);
        assert_eq!(json_payload("<1234>x {\"a\":1}"), None);
    }
}
