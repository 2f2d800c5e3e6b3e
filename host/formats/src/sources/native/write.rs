//! Writing the native format: an event as the JSON line [`super::parse_line`]
//! reads back as the same event. Whatever format `ueba publish` read, a
//! stream of events holds native lines, so its readers need one parser and
//! `ueba score` reads a dump of the stream as it is.

use ueba_engine::event::{AccessEvent, Outcome};

/// One event as a native JSON line (without the newline). The time is
/// written as epoch milliseconds, which the native parser reads back
/// exactly; optional fields that are absent are left out.
pub fn to_line(ev: &AccessEvent) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("timestamp".into(), ev.time_ms.into());
    obj.insert("user".into(), ev.user.as_str().into());
    obj.insert("action".into(), ev.action.as_str().into());
    obj.insert("resource".into(), ev.resource.as_str().into());
    obj.insert("rows".into(), ev.rows.into());
    if let Some(b) = ev.bytes {
        obj.insert("bytes".into(), b.into());
    }
    if let Some(s) = &ev.source {
        obj.insert("source".into(), s.as_str().into());
    }
    if let Some(g) = &ev.peer_group {
        obj.insert("peer_group".into(), g.as_str().into());
    }
    match ev.outcome {
        Outcome::Unknown => {}
        Outcome::Success => {
            obj.insert("outcome".into(), "success".into());
        }
        Outcome::Failure => {
            obj.insert("outcome".into(), "failure".into());
        }
    }
    serde_json::Value::Object(obj).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::native::parse_line;

    #[test]
    fn native_lines_read_back_as_the_same_event() {
        let lines = [
            r#"{"timestamp":"2026-01-05T14:03:11.250Z","user":"mreyes","action":"select","resource":"support.customers","rows":12}"#,
            r#"{"timestamp":"2026-01-05T14:03:11Z","user":"a \"q\" é","action":"copy","resource":"x.y","rows":0,"bytes":99,"source":"10.0.0.1","peer_group":"dba","outcome":"failure"}"#,
            r#"{"timestamp":1767621791000,"user":"u","action":"a","resource":"r","outcome":"success"}"#,
        ];
        for (i, line) in lines.iter().enumerate() {
            let ev = parse_line(line, i as u64 + 1).expect("fixture parses");
            let again = parse_line(&to_line(&ev), 1).expect("native line parses");
            assert_eq!(again, ev, "{line}");
        }
    }
}
