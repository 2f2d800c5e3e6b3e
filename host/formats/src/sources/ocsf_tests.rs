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
    let err = p.parse(r#"{"class_uid":3002,"time":1}"#, 5).unwrap_err();
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
