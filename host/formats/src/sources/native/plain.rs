//! The shape nearly every line has, read without serde.
//!
//! A line that is one flat JSON object, with no escapes in its keys or in
//! its strings, whose known fields all hold good values, is read here in
//! one scan; anything else (an escape, a nested value, a duplicate field,
//! an array, a bad value, broken JSON) gives `None`, and the serde_json
//! path in [`super::parse_line`] reads the line again and decides. So this
//! only ever accepts lines that path accepts, with the same event, and
//! every error still comes from that path, in its words.
//!
//! Why a second reader: once fields were no longer parsed twice, serde_json's
//! generic token handling was most of what a line cost, and it is the larger
//! part of the host's work per event; this scan does the same for the usual
//! line in well under half the time (`cargo bench --bench parse`).

use super::{
    AccessEvent, MAX_FIELD_LEN, MAX_TIME_MS, MIN_TIME_MS, Outcome, Text, parse_outcome,
    parse_timestamp_text,
};

/// A JSON value as far as this reader cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value<'a> {
    /// A string without escapes: its text.
    Str(&'a str),
    /// An integer without sign, fraction or exponent: its digits.
    Digits(&'a str),
    /// `null`.
    Null,
    /// `true`, `false`, or any other number: valid, but no known field
    /// takes it without conversion.
    Other,
}

/// The known fields, in [`Fields`] order.
const TIMESTAMP: usize = 0;
const USER: usize = 1;
const ACTION: usize = 2;
const RESOURCE: usize = 3;
const ROWS: usize = 4;
const BYTES: usize = 5;
const SOURCE: usize = 6;
const PEER_GROUP: usize = 7;
const OUTCOME: usize = 8;

/// The value of each known field, `None` while not seen.
type Fields<'a> = [Option<Value<'a>>; 9];

/// Where a known field goes in [`Fields`]; `None` for others, which are
/// skipped as serde skips them.
fn field_index(key: &str) -> Option<usize> {
    Some(match key {
        "timestamp" => TIMESTAMP,
        "user" => USER,
        "action" => ACTION,
        "resource" => RESOURCE,
        "rows" => ROWS,
        "bytes" => BYTES,
        "source" => SOURCE,
        "peer_group" => PEER_GROUP,
        "outcome" => OUTCOME,
        _ => return None,
    })
}

/// The event in `text` if it has the common shape and is good, else `None`
/// (which says nothing about whether the line is good).
pub(super) fn parse(text: &str) -> Option<AccessEvent> {
    let fields = scan(text)?;
    Some(AccessEvent {
        time_ms: timestamp(fields[TIMESTAMP]?)?,
        user: text_field(fields[USER]?)?.into(),
        action: text_field(fields[ACTION]?)?.into(),
        resource: text_field(fields[RESOURCE]?)?.into(),
        rows: optional(fields[ROWS], count)?.unwrap_or(1),
        bytes: optional(fields[BYTES], count)?,
        source: optional(fields[SOURCE], text_field)?.map(Text::from),
        peer_group: optional(fields[PEER_GROUP], text_field)?.map(Text::from),
        outcome: optional(fields[OUTCOME], |v| text_field(v).and_then(parse_outcome))?
            .unwrap_or(Outcome::Unknown),
    })
}

/// The known fields of a flat object with no escapes, or `None` if `text`
/// is anything else or names a known field twice.
fn scan(text: &str) -> Option<Fields<'_>> {
    let mut c = Cursor { text, at: 0 };
    let mut fields: Fields<'_> = [None; 9];
    c.skip_space();
    c.eat(b'{')?;
    c.skip_space();
    if c.peek()? != b'}' {
        loop {
            let key = c.plain_str()?;
            c.skip_space();
            c.eat(b':')?;
            c.skip_space();
            let value = c.value()?;
            if let Some(i) = field_index(key) {
                if fields[i].is_some() {
                    return None;
                }
                fields[i] = Some(value);
            }
            c.skip_space();
            match c.peek()? {
                b',' => {
                    c.at += 1;
                    c.skip_space();
                }
                b'}' => break,
                _ => return None,
            }
        }
    }
    c.at += 1;
    c.skip_space();
    (c.at == text.len()).then_some(fields)
}

/// An absent or `null` optional field is `Some(None)`; a present one is
/// read with `read`, and `None` if it is bad.
fn optional<'a, T>(
    v: Option<Value<'a>>,
    read: impl FnOnce(Value<'a>) -> Option<T>,
) -> Option<Option<T>> {
    match v {
        None | Some(Value::Null) => Some(None),
        Some(v) => read(v).map(Some),
    }
}

/// A string field's text, if it is one the serde path accepts.
fn text_field(v: Value<'_>) -> Option<&str> {
    match v {
        Value::Str(s) if !s.is_empty() && s.len() <= MAX_FIELD_LEN => Some(s),
        _ => None,
    }
}

/// `rows` or `bytes`: digits, or digits in a string (spaces around them
/// allowed), as the serde path reads them.
fn count(v: Value<'_>) -> Option<u64> {
    match v {
        Value::Digits(d) => d.parse().ok(),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn timestamp(v: Value<'_>) -> Option<i64> {
    let ms = match v {
        Value::Digits(d) => d.parse().ok()?,
        Value::Str(s) => parse_timestamp_text(s).ok()?,
        _ => return None,
    };
    (MIN_TIME_MS..=MAX_TIME_MS).contains(&ms).then_some(ms)
}

/// A position in the line.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Skip JSON whitespace.
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Skip a run of ASCII digits; how many there were.
    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A string with no escapes and no control characters, quotes and all;
    /// `None` at anything else, including a string that has them.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let len = plain_len(self.text.as_bytes().get(start..)?);
        self.at = start + len;
        self.eat(b'"')?;
        self.text.get(start..start + len)
    }

    /// One value that is not an object, array or escaped string, checked
    /// against JSON's grammar as serde_json checks it.
    fn value(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => self.plain_str().map(Value::Str),
            b'n' => self.literal("null").map(|()| Value::Null),
            b't' => self.literal("true").map(|()| Value::Other),
            b'f' => self.literal("false").map(|()| Value::Other),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; [`Value::Digits`]
    /// when it is only the integer part without a sign.
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.at;
        let negative = self.eat(b'-').is_some();
        let int_start = self.at;
        if self.digits() == 0 {
            return None;
        }
        if self.text.as_bytes()[int_start] == b'0' && self.at - int_start > 1 {
            return None;
        }
        let mut plain = !negative;
        if self.eat(b'.').is_some() {
            plain = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            plain = false;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        if plain {
            self.text.get(start..self.at).map(Value::Digits)
        } else {
            Some(Value::Other)
        }
    }
}

/// How many bytes of `bytes` come before the first quote, backslash or
/// control character (all of them if there is none).
///
/// Eight bytes at a time: the strings are user, table and host names, and
/// looking for the end of each one byte by byte was half of this reader's
/// time. For each byte `b` of the word, `(b - k) & !b` has its top bit set
/// when `b < k` (for `k = 0x20`) or, after xor with a quote or backslash,
/// `b` was that byte (`k = 1`); a borrow only runs upwards from such a byte,
/// so the lowest flagged byte is the first one sought.
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const TOPS: u64 = ONES << 7;
    let below = |x: u64, k: u64| x.wrapping_sub(ONES * k) & !x;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let found = (below(x, 0x20) | below(quote, 1) | below(backslash, 1)) & TOPS;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

#[cfg(test)]
#[path = "plain_tests.rs"]
mod tests;
