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
