//! JSON as ueba writes it for people and other programs: alerts (every
//! JSON alert format), findings, incidents, verdicts and the service's
//! answers all go through [`to_writer`], [`to_vec`] or [`to_string`].
//!
//! Their strings come from the log (user, resource, source, action) and
//! from analysts (verdict notes), so they can hold characters that display
//! other than they read: DEL and the C1 controls, bidirectional overrides
//! and isolates (a right-to-left override shows a name reversed), and
//! zero-width or invisible format characters. serde_json writes those as
//! raw UTF-8, which is valid JSON, but a person reading the file in a
//! terminal, `jq` or a SIEM's UI may then see another name than the one
//! in the log. U+2028 and U+2029 also end a line in JavaScript source,
//! breaking JSON pasted into it. [`VisibleFormatter`] writes each of them
//! as a JSON `\uXXXX` escape instead: every JSON parser reads back the
//! very same string, while a reader sees the escape.
//!
//! The characters are the gate's [`is_unsafe_char`], the one definition
//! of "hidden" the project uses (CEF lines and plugin text escape the same
//! set), which is why this lives in the engine: it is the crate every JSON
//! writer of the workspace already depends on. Ordinary non-ASCII text
//! (`é`, `日本`) stays raw UTF-8. JSON that is only read back by ueba
//! (checkpoints, the NATS workers' own state) does not need it.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use crate::sandbox::gate::is_unsafe_char;

/// serde_json's compact formatter, except that it writes every hidden character
/// ([`is_unsafe_char`]) in a string as a `\uXXXX` escape, so what a person
/// sees in ueba's JSON is what a parser reads (see the [module](self)).
#[derive(Clone, Copy, Debug, Default)]
pub struct VisibleFormatter;

impl Formatter for VisibleFormatter {
    /// serde_json hands over the runs of a string it does not escape
    /// itself (it already escapes `"`, `\` and U+0000 to U+001F); this
    /// writes a run as it is up to each hidden character, which it writes
    /// as an escape.
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        // Every hidden character left to this is U+007F or above (serde_json
        // escaped the lower ones): plain ASCII, nearly all text, goes at once.
        if fragment.bytes().all(|b| b < 0x7f) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe_char(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// `value` as compact JSON into `writer`, hidden characters escaped:
/// [`serde_json::to_writer`] for output people read.
pub fn to_writer<W, T>(writer: W, value: &T) -> serde_json::Result<()>
where
    W: io::Write,
    T: ?Sized + Serialize,
{
    value.serialize(&mut serde_json::Serializer::with_formatter(
        writer,
        VisibleFormatter,
    ))
}

/// `value` as compact JSON bytes, hidden characters escaped:
/// [`serde_json::to_vec`] for output people read.
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// `value` as a compact JSON string, hidden characters escaped:
/// [`serde_json::to_string`] for output people read.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let bytes = to_vec(value)?;
    // serde_json writes UTF-8 and the escapes are ASCII, so this never fails.
    String::from_utf8(bytes).map_err(serde::ser::Error::custom)
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
