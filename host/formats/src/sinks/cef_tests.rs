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
