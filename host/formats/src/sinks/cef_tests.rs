use super::*;
use crate::sources::cef::{extension, split_header};

#[test]
fn lines_escape_and_round_trip_through_the_parser() {
    let a = super::super::tests::alert();
    let l = line(&a);
    assert!(l.starts_with("CEF:0|ueba|ueba|"), "{l}");
    let (header, ext) = split_header(&l[4..], 7).unwrap();
    assert_eq!(header[4], "volume");
    assert_eq!(header[5], "read 50000 rows | 1200x usual = high really");
    assert_eq!(header[6], "8");
    let f = extension(ext);
    assert_eq!(f.key("suser"), Some("mreyes"));
    assert_eq!(f.label("risk").map(|(k, _)| k), Some("cn1"));
    assert_eq!(
        f.label("incident"),
        Some(("cs5", "i-0123456789abcdef0123456789abcdef"))
    );
    let findings: serde_json::Value = serde_json::from_str(f.label("findings").unwrap().1).unwrap();
    assert_eq!(findings[0]["evidence"]["rows"], 50000);
    assert_eq!(
        f.key("msg"),
        Some("read 50000 rows | 1200x usual = high\nreally")
    );
}

#[test]
fn severity_is_a_tenth_of_risk() {
    assert_eq!(severity(82.0), 8);
    assert_eq!(severity(100.0), 10);
    assert_eq!(severity(-3.0), 0);
}

#[test]
fn syslog_message_has_rfc5424_header() {
    let m = Syslog::message(&super::super::tests::alert(), "h1");
    assert!(
        m.starts_with("<107>1 2026-01-05T14:03:11.250Z h1 ueba "),
        "{m}"
    );
    assert!(m.contains(" alert - CEF:0|"), "{m}");
}

#[test]
fn a_line_too_long_for_a_datagram_cuts_its_findings_and_says_so() {
    let mut a = super::super::tests::alert();
    // Control characters are escaped to seven bytes each.
    a.findings[0].resource = "\u{1}".repeat(1024);
    a.findings[0].reason = "\u{1}é".repeat(300);
    let findings = a.findings[0].clone();
    a.findings = vec![findings; 12];
    let full = line(&a);
    assert!(full.len() > MAX_UDP_MESSAGE, "{}", full.len());
    assert!(!full.contains("findingsCut"));
    for max in [MAX_UDP_MESSAGE, 20_000, 9_000] {
        let cut = line_within(&a, max);
        assert!(cut.len() <= max, "{} > {max}", cut.len());
        // Still a CEF line a parser reads, with everything but the
        // findings whole.
        let (header, ext) = split_header(&cut[4..], 7).unwrap();
        assert_eq!(header[4], "volume");
        let f = extension(ext);
        assert_eq!(f.key("suser"), Some("mreyes"));
        let whole = serde_json::to_string(&a.findings).unwrap();
        let cut_from = whole.len().to_string();
        assert_eq!(f.label("findingsCut"), Some(("cs6", cut_from.as_str())));
        assert!(whole.starts_with(f.label("findings").unwrap().1));
        // And nearly the whole budget is used.
        assert!(cut.len() + 8 > max, "{} of {max}", cut.len());
    }
    let m = Syslog::message_within(&a, "h1", MAX_UDP_MESSAGE);
    assert!(
        m.len() <= MAX_UDP_MESSAGE && m.starts_with("<107>1 "),
        "{}",
        m.len()
    );
    // A short alert is left whole.
    let short = super::super::tests::alert();
    assert_eq!(line_within(&short, MAX_UDP_MESSAGE), line(&short));
}
