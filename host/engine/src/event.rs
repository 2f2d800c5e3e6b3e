//! The access event: the one shape every log source is turned into (who
//! did what to which resource, how many rows, when, from where), with the
//! bounds every source applies and the time helpers they share.

/// Latest accepted event time: year 9999, so arithmetic on times never overflows.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// Earliest accepted event time: year 1970.
pub const MIN_TIME_MS: i64 = 0;
/// Longest accepted string field, in bytes; longer values are an error rather
/// than memory a hostile log could make us keep forever in the symbol table.
pub const MAX_FIELD_LEN: usize = 1024;

/// Longest accepted line of any log, bytes: a longer one is an error
/// naming its line, never a buffer that grows with what a source sends.
pub const MAX_LINE: usize = 1 << 20;

/// Whether an access succeeded: the contract's type, so an outcome is
/// one value from the log line to the detector.
pub use ueba_contract::Outcome;

/// The text of an event's field (user, action, resource, source, peer
/// group). Up to 24 bytes are held inline, which covers nearly every user,
/// table and host name, so reading a line allocates nothing: five heap
/// strings per event were a tenth of the host's time per event.
pub type Text = compact_str::CompactString;

/// One normalised access event, strings still as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEvent {
    /// Event time, milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// Who acted.
    pub user: Text,
    /// What was done, e.g. `select`.
    pub action: Text,
    /// What was touched, e.g. `support.customers`.
    pub resource: Text,
    /// Rows read or written (1 when not stated).
    pub rows: u64,
    /// Bytes transferred, when stated.
    pub bytes: Option<u64>,
    /// IP address or host name, when stated.
    pub source: Option<Text>,
    /// Peer group, when stated in the event (the identity file may also give it).
    pub peer_group: Option<Text>,
    /// Whether it succeeded.
    pub outcome: Outcome,
}

/// Why a line could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct ParseError {
    /// 1-based line number in the input.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Map the many ways logs spell an outcome onto three values.
pub fn parse_outcome(text: &str) -> Option<Outcome> {
    const SUCCESS: [&str; 5] = ["success", "succeeded", "ok", "allowed", "allow"];
    const FAILURE: [&str; 6] = ["failure", "failed", "fail", "denied", "deny", "error"];
    const UNKNOWN: [&str; 2] = ["unknown", ""];
    let is = |words: &[&str]| words.iter().any(|w| text.eq_ignore_ascii_case(w));
    if is(&SUCCESS) {
        Some(Outcome::Success)
    } else if is(&FAILURE) {
        Some(Outcome::Failure)
    } else if is(&UNKNOWN) {
        Some(Outcome::Unknown)
    } else {
        None
    }
}

/// Parse an RFC 3339 timestamp (or an all-digit string of epoch milliseconds).
pub fn parse_timestamp_text(s: &str) -> Result<i64, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map_err(|_| format!("`{}` overflows epoch milliseconds", clip(s)));
    }
    if let Some(ms) = utc_timestamp_ms(s) {
        return Ok(ms);
    }
    match s.parse::<jiff::Timestamp>() {
        Ok(ts) => Ok(ts.as_millisecond()),
        Err(e) => year_9999_ms(s).ok_or_else(|| format!("`{}` is not RFC 3339: {e}", clip(s))),
    }
}

/// Epoch milliseconds of an RFC 3339 time in year 9999 with any offset:
/// accepted times run to the end of 9999, but jiff's timestamps end late
/// on 9999-12-30, so jiff only splits the text into date, time and offset
/// here. The result may lie past the accepted range; the caller checks.
fn year_9999_ms(s: &str) -> Option<i64> {
    let pieces = jiff::fmt::temporal::Pieces::parse(s).ok()?;
    let date = pieces.date();
    if date.year() != 9999 {
        return None;
    }
    let time = pieces.time()?;
    let offset = pieces.to_numeric_offset()?;
    let days = days_from_civil(
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    let local = ((days * 24 + i64::from(time.hour())) * 60 + i64::from(time.minute())) * 60_000
        + i64::from(time.second()) * 1000
        + i64::from(time.millisecond());
    Some(local - i64::from(offset.seconds()) * 1000)
}

/// Days from 1970-01-01 to a valid civil date (Hinnant's algorithm, years
/// starting in March so the leap day is last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Epoch milliseconds of `s` if it is RFC 3339 in the one form nearly every
/// exporter writes, `2026-01-05T14:03:11.250Z` (UTC, upper-case `T` and
/// `Z`, a valid date from 1970 to 9999, no leap second, up to nine fraction
/// digits), else `None`, and jiff parses (or explains) it. For every string
/// this accepts jiff gives the same milliseconds (truncating the fraction)
/// where jiff's timestamps reach (they end late on 9999-12-30);
/// reading the common form directly is several times faster than jiff's
/// general parser, which was a tenth of the time to parse a line.
fn utc_timestamp_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (fields, rest) = b.split_at_checked(19)?;
    let fraction = rest.strip_suffix(b"Z")?;
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
    ] = *fields
    else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let year = number(&[y0, y1, y2, y3])?;
    let month = number(&[m0, m1])?;
    let day = number(&[d0, d1])?;
    let hour = number(&[h0, h1])?;
    let minute = number(&[n0, n1])?;
    let second = number(&[s0, s1])?;
    let millis = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let whole = number(digits)?;
            let width = u32::try_from(digits.len()).ok()?;
            if width >= 3 {
                whole / 10i64.pow(width - 3)
            } else {
                whole * 10i64.pow(3 - width)
            }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=month_days).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Format epoch milliseconds as RFC 3339 UTC with milliseconds. Every
/// accepted event time has that form: jiff's timestamps end late on
/// 9999-12-30, so the last hours up to [`MAX_TIME_MS`] are written from the
/// civil date here (and a time outside any calendar as its number).
pub fn format_time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => format!("{t:.3}"),
        Err(_) if (MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) => {
            let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                in_day / 3_600_000,
                in_day / 60_000 % 60,
                in_day / 1000 % 60,
                in_day % 1000
            )
        }
        Err(_) => ms.to_string(),
    }
}

/// The civil date (year, month, day) of `days` since 1970-01-01: the
/// inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `bytes` as UTF-8 text, or a message naming where its first byte that is
/// not UTF-8 is (`line 3, byte 17: not valid UTF-8`): a file read whole
/// (a configuration, a labels file) is then refused naming the place, as a
/// log read line by line is.
pub fn utf8_text(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        format!("line {line}, byte {col}: not valid UTF-8")
    })
}

/// `s` cut to 60 bytes (on a character boundary) with an ellipsis, and
/// its control and invisible characters written as `\u{..}`: how an error
/// message quotes a value a log sent, so a huge bad value cannot make a
/// huge message, nor a crafted one write terminal escapes or a forged
/// line into the log.
pub fn clip(s: &str) -> String {
    use crate::sandbox::gate::escape_text;
    const MAX: usize = 60;
    if s.len() <= MAX {
        return escape_text(s).into_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", escape_text(&s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that is not UTF-8 is refused naming the line and byte.
    #[test]
    fn text_that_is_not_utf8_names_its_line_and_byte() {
        assert_eq!(utf8_text(b"a\nb".to_vec()).unwrap(), "a\nb");
        assert_eq!(
            utf8_text(b"one\ntwo\nab\xe9cd".to_vec()).unwrap_err(),
            "line 3, byte 3: not valid UTF-8"
        );
        assert_eq!(
            utf8_text(b"\xff".to_vec()).unwrap_err(),
            "line 1, byte 1: not valid UTF-8"
        );
    }

    #[test]
    fn a_quoted_value_is_cut_and_shows_no_control_character_raw() {
        assert_eq!(clip("plain"), "plain");
        assert_eq!(
            clip("\u{1b}]0;pwned\u{7}\r\nerror: forged"),
            "\\u{1b}]0;pwned\\u{7}\\u{d}\\u{a}error: forged"
        );
        let long = format!("{}\u{202e}", "é".repeat(100));
        let quoted = clip(&long);
        assert!(quoted.ends_with('…') && quoted.len() <= 63, "{quoted}");
        let err = parse_timestamp_text("\u{1b}[2J2026").unwrap_err();
        assert!(!err.contains('\u{1b}'), "{err:?}");
    }

    #[test]
    fn every_accepted_time_formats_as_rfc_3339_and_reads_back() {
        for ms in [
            MIN_TIME_MS,
            1_767_571_200_123,
            951_782_400_000, // 2000-02-29
            253_402_207_200_999,
            253_402_207_201_000,
            MAX_TIME_MS - 86_400_000,
            MAX_TIME_MS,
        ] {
            let text = format_time(ms);
            assert!(text.ends_with('Z') && text.len() == 24, "{ms}: {text}");
            assert_eq!(parse_timestamp_text(&text), Ok(ms), "{text}");
        }
        assert_eq!(format_time(MAX_TIME_MS), "9999-12-31T23:59:59.999Z");
        // Past every calendar: its number.
        assert_eq!(format_time(i64::MAX), i64::MAX.to_string());
    }
}
