use super::*;
use crate::sources::MAX_EVENTS_PER_RECORD;

#[test]
fn datastore_activity_maps_enum_and_qualifies_table() {
    let p = OcsfParser::new(FieldMapping::default());
    let ev = p
        .parse(
            r#"{"class_uid":6005,"activity_id":1,"time":1767621791250,"actor":{"user":{"name":"mreyes"}},"src_endpoint":{"ip":"10.0.0.1"},"database":{"name":"support"},"table":{"name":"customers"},"query_info":{"query_string":"select * from customers","bytes":5120},"status_id":1}"#,
            1,
        )
        .unwrap();
    assert_eq!(ev.len(), 1);
    let ev = &ev[0];
    assert_eq!(ev.action, "read");
    assert_eq!(ev.resource, "support.customers");
    assert_eq!(ev.bytes, Some(5120));
    assert_eq!(ev.outcome, Outcome::Success);
}

#[test]
fn api_activity_gives_one_event_per_resource() {
    let p = OcsfParser::new(FieldMapping::default());
    let evs = p
        .parse(
            r#"{"class_uid":6003,"time":1,"actor":{"user":{"name":"a"}},"api":{"operation":"GetObject"},"resources":[{"name":"b1"},{"name":"b2"}]}"#,
            1,
        )
        .unwrap();
    assert_eq!(
        evs.iter().map(|e| e.resource.as_str()).collect::<Vec<_>>(),
        ["b1", "b2"]
    );
    assert_eq!(evs[0].action, "getobject");
    let err = p.parse(r#"{"class_uid":4001,"time":1}"#, 5).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("class_uid"));
}

/// An API call naming more resources than one event may become is refused
/// by line and field, so its resources are counted as an invalid line
/// instead of the ones past the bound vanishing.
#[test]
fn api_activity_with_too_many_resources_is_refused_not_cut() {
    let p = OcsfParser::new(FieldMapping::default());
    let line = |n: usize| {
        let rs: Vec<String> = (0..n).map(|i| format!(r#"{{"name":"b{i}"}}"#)).collect();
        format!(
            r#"{{"class_uid":6003,"time":1,"actor":{{"user":{{"name":"a"}}}},"api":{{"operation":"GetObject"}},"resources":[{}]}}"#,
            rs.join(",")
        )
    };
    assert_eq!(
        p.parse(&line(MAX_EVENTS_PER_RECORD), 1).unwrap().len(),
        MAX_EVENTS_PER_RECORD
    );
    let err = p.parse(&line(MAX_EVENTS_PER_RECORD + 1), 4).unwrap_err();
    assert_eq!((err.line, err.field.as_deref()), (4, Some("resources")));
    assert!(err.message.contains("65 resources"), "{}", err.message);
}

#[test]
fn logons_and_file_activity_are_read_as_access_to_the_machine_or_file() {
    let p = OcsfParser::new(FieldMapping::default());
    let logon = p
        .parse(
            r#"{"class_uid":3002,"activity_id":1,"time":1767607200000,"user":{"name":"alice"},"actor":{"user":{"name":"SYSTEM"}},"dst_endpoint":{"hostname":"WS-0042","ip":"10.9.9.9"},"src_endpoint":{"ip":"10.1.2.3"},"status_id":1}"#,
            1,
        )
        .unwrap();
    assert_eq!(logon.len(), 1);
    let l = &logon[0];
    assert_eq!(
        (
            l.user.as_str(),
            l.action.as_str(),
            l.resource.as_str(),
            l.rows
        ),
        ("alice", "logon", "WS-0042", 1),
        "who logged on, not the process that logged them on"
    );
    assert_eq!(l.source.as_deref(), Some("10.1.2.3"));
    let file = p
        .parse(
            r#"{"class_uid":1001,"activity_id":14,"time":1767607300000,"actor":{"user":{"name":"alice"}},"file":{"path":"/srv/finance/payroll.xlsx","name":"payroll.xlsx"},"status_id":2}"#,
            2,
        )
        .unwrap();
    let f = &file[0];
    assert_eq!(
        (f.action.as_str(), f.resource.as_str()),
        ("open", "/srv/finance/payroll.xlsx")
    );
    assert_eq!(f.outcome, ueba_engine::event::Outcome::Failure);
    // An id the class does not define, with no name, says which ids it has.
    let err = p
        .parse(
            r#"{"class_uid":3002,"activity_id":42,"time":1,"user":{"name":"a"},"dst_endpoint":{"hostname":"h"}}"#,
            3,
        )
        .unwrap_err();
    assert!(err.to_string().contains("not one of 1-6"), "{err}");
    let err = p
        .parse(
            r#"{"class_uid":4001,"time":1,"actor":{"user":{"name":"a"}}}"#,
            4,
        )
        .unwrap_err();
    assert!(err.to_string().contains("Authentication (3002)"), "{err}");
}
