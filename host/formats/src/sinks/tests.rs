use super::*;
use ueba_engine::risk::aggregate::AlertFinding;

pub(crate) fn alert() -> Alert {
    let mut evidence = serde_json::Map::new();
    evidence.insert("rows".into(), json!(50000));
    evidence.insert("baseline_p99".into(), json!(40.5));
    let mut detectors = serde_json::Map::new();
    detectors.insert("volume".into(), json!(82.0));
    Alert {
        id: "0123456789abcdef0123456789abcdef".into(),
        incident: "i-0123456789abcdef0123456789abcdef".into(),
        time: "2026-01-05T14:03:11.250Z".into(),
        user: "mreyes".into(),
        peer_group: Some("tier1".into()),
        score: 82.0,
        base_score: None,
        modifiers: Vec::new(),
        threshold: 60.0,
        kind: "new",
        detectors,
        findings: vec![AlertFinding {
            detector: "volume".into(),
            score: 82.0,
            time: "2026-01-05T14:03:11.250Z".into(),
            reason: "read 50000 rows | 1200x usual = high\nreally".into(),
            evidence,
            resource: "support.customers".into(),
            action: "select".into(),
            source: Some("10.0.0.1".into()),
            event: 7,
            criticality: None,
            tail: None,
        }],
    }
}

#[test]
fn ecs_uses_calculated_risk_and_keeps_findings() {
    let d = ecs_doc(&alert());
    assert_eq!(d["event"]["kind"], "alert");
    assert_eq!(d["user"]["risk"]["calculated_level"], "High");
    assert_eq!(d["user"]["risk"]["calculated_score_norm"], 82.0);
    assert_eq!(d["ueba"]["findings"][0]["evidence"]["rows"], 50000);
    assert_eq!(d["user"]["group"]["name"], "tier1");
}

#[test]
fn ocsf_is_a_detection_finding_with_evidence() {
    let d = ocsf_doc(&alert());
    assert_eq!(d["class_uid"], 2004);
    assert_eq!(d["type_uid"], 200401);
    assert_eq!(d["time"], 1_767_621_791_250i64);
    assert_eq!(d["risk_level_id"], 3);
    assert_eq!(d["severity_id"], 4);
    assert_eq!(d["metadata"]["version"], OCSF_VERSION);
    assert_eq!(d["finding_info"]["types"][0], "volume");
    assert_eq!(d["evidences"][0]["data"]["evidence"]["rows"], 50000);
    assert_eq!(
        d["anomaly_analyses"][0]["anomalies"][0]["observed_pattern"],
        "HIGH_VOLUME"
    );
    let ev = &d["evidences"][0];
    assert_eq!(ev["actor"]["user"]["name"], "mreyes");
    assert_eq!(ev["actor"]["user"]["groups"][0]["name"], "tier1");
    assert_eq!(ev["resources"][0]["name"], "support.customers");
    assert_eq!(ev["src_endpoint"]["ip"], "10.0.0.1");
    // The class has neither a top-level actor nor evidence tables.
    assert!(d.get("actor").is_none(), "{d}");
    assert!(
        ev.get("table").is_none() && ev.get("database").is_none(),
        "{ev}"
    );
    let observed: Vec<(i64, &str)> = d["observables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["type_id"].as_i64().unwrap(), o["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        observed,
        [(4, "mreyes"), (2, "10.0.0.1"), (38, "support.customers")]
    );
    assert_eq!(d["resources"][0]["name"], "support.customers");
    assert_eq!(d["unmapped"]["ueba"]["peer_group"], "tier1");
    assert_eq!(alert_uid(&alert()), d["finding_info"]["uid"]);
}

/// The OCSF `src_endpoint` of each evidence, and the source observables,
/// of an alert whose findings come from `sources`.
fn ocsf_sources(sources: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let mut a = alert();
    let first = a.findings[0].clone();
    a.findings = sources
        .iter()
        .map(|s| AlertFinding {
            source: Some((*s).into()),
            ..first.clone()
        })
        .collect();
    let d = ocsf_doc(&a);
    let endpoints = d["evidences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["src_endpoint"].clone())
        .collect();
    let observed = d["observables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type_id"] != 4 && o["type_id"] != 38)
        .cloned()
        .collect();
    (endpoints, observed)
}

#[test]
fn ocsf_writes_an_address_source_as_an_ip() {
    let (endpoints, observed) = ocsf_sources(&["10.0.0.1", "2001:db8::7"]);
    assert_eq!(
        endpoints,
        [json!({ "ip": "10.0.0.1" }), json!({ "ip": "2001:db8::7" })]
    );
    let ip = |v: &str| {
        json!({
            "name": "evidences.src_endpoint.ip",
            "type_id": 2,
            "type": "IP Address",
            "value": v,
        })
    };
    assert_eq!(observed, [ip("10.0.0.1"), ip("2001:db8::7")]);
}

#[test]
fn ocsf_writes_a_host_name_source_as_a_hostname_not_an_ip() {
    let (endpoints, observed) = ocsf_sources(&["app-host-7.corp.example", "10.0.0.1"]);
    assert_eq!(
        endpoints,
        [
            json!({ "hostname": "app-host-7.corp.example" }),
            json!({ "ip": "10.0.0.1" })
        ]
    );
    assert_eq!(
        observed,
        [
            json!({
                "name": "evidences.src_endpoint.hostname",
                "type_id": 1,
                "type": "Hostname",
                "value": "app-host-7.corp.example",
            }),
            json!({
                "name": "evidences.src_endpoint.ip",
                "type_id": 2,
                "type": "IP Address",
                "value": "10.0.0.1",
            }),
        ]
    );
}

#[test]
fn json_lines_escape_hidden_characters_and_read_back_identically() {
    let mut a = alert();
    a.user = "adm\u{202e}nim\u{85}".into();
    let mut sink = JsonLines(Vec::new());
    sink.emit(&a).unwrap();
    let text = String::from_utf8(sink.0).unwrap();
    assert!(text.contains(r#""user":"adm\u202enim\u0085""#), "{text}");
    assert!(!text.contains(['\u{202e}', '\u{85}']), "{text}");
    assert_eq!(text.lines().count(), 1);
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["user"], "adm\u{202e}nim\u{85}");
    assert_eq!(back, serde_json::to_value(&a).unwrap());
}

#[test]
fn json_documents_escape_hidden_characters_too() {
    let mut a = alert();
    a.user = "adm\u{202e}nim".into();
    a.findings[0].source = Some("host\u{200b}.example".into());
    for kind in [DocKind::Ecs, DocKind::Ocsf, DocKind::Hec("h".into())] {
        let mut sink = JsonDocs::new(Vec::new(), kind.clone());
        sink.emit(&a).unwrap();
        let text = String::from_utf8(sink.out).unwrap();
        assert!(text.contains(r"adm\u202enim"), "{kind:?}: {text}");
        assert!(!text.contains(['\u{202e}', '\u{200b}']), "{kind:?}: {text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        let doc = match &kind {
            DocKind::Ecs => ecs_doc(&a),
            DocKind::Ocsf => ocsf_doc(&a),
            DocKind::Hec(h) => hec::envelope(&a, h),
        };
        assert_eq!(back, doc, "{kind:?}");
    }
}

#[test]
fn levels_follow_the_bands() {
    assert_eq!(risk_level(95.0).0, 4);
    assert_eq!(risk_level(60.0).2, "Moderate");
    assert_eq!(risk_level(5.0).1, "Info");
}
