use super::*;

#[test]
fn leef_1_and_2_with_custom_delimiters() {
    let p = LeefParser::new(FieldMapping::default());
    let one = p
        .parse(
            "LEEF:1.0|Acme|DAM|1.0|SELECT|devTime=1767621791250\tusrName=mreyes\tsrc=10.0.0.1\tresource=support.customers\trows=12",
            1,
        )
        .unwrap();
    assert_eq!(one.action, "select");
    assert_eq!(one.rows, 12);
    let caret = p
        .parse(
            "LEEF:2.0|Acme|DAM|1.0|SELECT|^|devTime=1767621791250^usrName=mreyes^src=10.0.0.1^resource=support.customers^rows=12",
            2,
        )
        .unwrap();
    assert_eq!(one, caret);
    let hex = p
        .parse(
            "<13>Jan  5 14:03:11 host LEEF:2.0|Acme|DAM|1.0|SELECT|x09|devTime=1767621791250\tusrName=mreyes\tsrc=10.0.0.1\tresource=support.customers\trows=12",
            3,
        )
        .unwrap();
    assert_eq!(one, hex);
    let err = p
        .parse("LEEF:2.0|Acme|DAM|1.0|SELECT|xZZ|a=b", 4)
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("delimiter"));
}

/// QRadar's logon and web events name no table: they are access to the
/// URL, else the machine logged on to.
#[test]
fn logon_and_web_events_are_access_to_the_machine_or_url() {
    let p = LeefParser::new(FieldMapping::default());
    let logon = p
        .parse(
            "LEEF:2.0|Microsoft|Windows|10|4624|^|devTime=1767607200000^usrName=alice^src=10.1.2.3^dstHostName=WS-0042^dst=10.9.9.9",
            1,
        )
        .unwrap();
    assert_eq!(
        (logon.action.as_str(), logon.resource.as_str()),
        ("4624", "WS-0042")
    );
    let web = p
        .parse(
            "LEEF:1.0|Acme|Proxy|1.0|GET|devTime=1767607200000\tusrName=bob\tsrc=10.1.2.4\turl=https://crm/api/customers\tdst=10.9.9.8",
            2,
        )
        .unwrap();
    assert_eq!(web.resource, "https://crm/api/customers");
}
