use super::*;

#[test]
fn header_and_extension_escapes() {
    let (h, ext) = split_header(r"0|Ven\|dor|P\\r|1|id|Name|5|a=b", 7).unwrap();
    assert_eq!(h[1], "Ven|dor");
    assert_eq!(h[2], r"P\r");
    assert_eq!(ext, "a=b");
    let f = extension(r"msg=a b\=c d\\e\nf suser=bob  cs1Label=table cs1=support.customers");
    assert_eq!(f.key("msg"), Some("a b=c d\\e\nf"));
    assert_eq!(f.key("suser"), Some("bob"));
    assert_eq!(f.label("table"), Some(("cs1", "support.customers")));
}

#[test]
fn cef_times() {
    let want = 1_767_621_791_000;
    assert_eq!(parse_time("1767621791000"), Ok(want));
    assert_eq!(parse_time("Jan 05 2026 14:03:11"), Ok(want));
    assert_eq!(parse_time("Jan 05 2026 14:03:11 UTC"), Ok(want));
    assert_eq!(parse_time("Jan 05 2026 15:03:11 +0100"), Ok(want));
    assert_eq!(parse_time("Jan 05 2026 14:03:11.000"), Ok(want));
    assert!(parse_time("soon").is_err());
}

#[test]
fn cef_line_with_labels_maps_to_event() {
    let p = CefParser::new(FieldMapping::default());
    let ev = p
        .parse(
            "<134>1 2026-01-05T14:03:11Z dbhost dam - - - CEF:0|Acme|DAM|1.0|100|Query|3|rt=1767621791250 suser=mreyes src=10.0.0.1 act=select cs1Label=table cs1=support.customers cn1Label=rows cn1=12 msg=select * from customers where a = 1",
            2,
        )
        .unwrap();
    assert_eq!(ev.user, "mreyes");
    assert_eq!(ev.resource, "support.customers");
    assert_eq!(ev.rows, 12);
    assert_eq!(ev.time_ms, 1_767_621_791_250);
    let err = p
        .parse("CEF:0|Acme|DAM|1.0|100|Query|3|suser=a", 7)
        .unwrap_err();
    assert_eq!(err.line, 7);
    assert_eq!(err.field.as_deref(), Some("rt"));
}

/// A key given twice reads as its first value, exactly or case-insensitively,
/// and a label naming a key that is missing is passed over for the next: as
/// the CEF spec reads a line, whatever the number of pairs (a line of tens
/// of thousands of `xLabel=table` pairs is looked up through an index, a
/// short one by scanning).
#[test]
fn keys_read_their_first_value_and_labels_skip_missing_keys() {
    let f = extension(
        "suser=bob suser=eve Act=select act=update cs1Label=table cs2Label=table cs2=t.two",
    );
    assert_eq!(f.key("suser"), Some("bob"));
    assert_eq!(f.key("act"), Some("update"));
    assert_eq!(f.key("ACT"), Some("select"));
    assert_eq!(f.label("TABLE"), Some(("cs2", "t.two")));

    let many = format!(
        "{}cs3Label=table cs3=t.three",
        "aLabel=table ".repeat(50_000)
    );
    let f = extension(&many);
    assert_eq!(f.label("table"), Some(("cs3", "t.three")));
    assert_eq!(f.key("CS3"), Some("t.three"));
    assert_eq!(f.key("aLabel"), Some("table"));
}

/// A Windows logon or file access from an ArcSight connector names no
/// table: it is access to the file, else to the machine logged on to.
#[test]
fn logon_and_file_events_are_access_to_the_machine_or_file() {
    let p = CefParser::new(FieldMapping::default());
    let logon = p
        .parse(
            "CEF:0|Microsoft|Microsoft Windows||Microsoft-Windows-Security-Auditing:4624|An account was successfully logged on|Low|rt=Jan 05 2026 10:00:00 UTC duser=alice dhost=WS-0042 src=10.1.2.3 act=Logon",
            1,
        )
        .unwrap();
    assert_eq!(
        (
            logon.user.as_str(),
            logon.action.as_str(),
            logon.resource.as_str()
        ),
        ("alice", "logon", "WS-0042")
    );
    // A connector that also fills `suser` with the reporting machine's
    // account (or Windows' `-`) still gives the person who logged on.
    for subject in ["WS-0042$", "-"] {
        let line = format!(
            "CEF:0|Microsoft|Microsoft Windows||Microsoft-Windows-Security-Auditing:4624|An account was successfully logged on|Low|rt=Jan 05 2026 10:00:00 UTC suser={subject} duser=alice dhost=WS-0042 act=Logon"
        );
        assert_eq!(p.parse(&line, 1).unwrap().user.as_str(), "alice");
    }
    // A machine account alone is still the actor.
    let machine = p
        .parse(
            "CEF:0|Microsoft|Microsoft Windows||4624|Logon|Low|rt=Jan 05 2026 10:00:00 UTC suser=WS-0042$ dhost=WS-0042 act=Logon",
            1,
        )
        .unwrap();
    assert_eq!(machine.user.as_str(), "WS-0042$");
    let file = p
        .parse(
            r"CEF:0|Microsoft|Microsoft Windows||Microsoft-Windows-Security-Auditing:4663|An attempt was made to access an object|Low|rt=Jan 05 2026 10:05:00 UTC suser=alice fname=payroll.xlsx filePath=\\\\FS-01\\finance\\payroll.xlsx dhost=FS-01 act=Read",
            2,
        )
        .unwrap();
    assert_eq!(file.resource, r"\\FS-01\finance\payroll.xlsx");
    // A table, where there is one, is still what was read.
    let db = p
        .parse(
            "CEF:0|Acme|DAM|1.0|100|Query|3|rt=1767621791250 suser=a dhost=db01 cs1Label=table cs1=crm.customers",
            3,
        )
        .unwrap();
    assert_eq!(db.resource, "crm.customers");
}
