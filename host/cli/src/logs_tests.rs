use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use ueba_engine::sandbox::Failure;
use ueba_engine::sandbox::health::{HealthEvent, HealthKind, HealthSink, StderrHealth};

use super::{LogFormat, subscriber};

/// Everything the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Capture {
    type Writer = Capture;

    fn make_writer(&'w self) -> Capture {
        self.clone()
    }
}

/// What `emit` writes in `format`.
fn written(format: LogFormat, emit: impl FnOnce()) -> String {
    let capture = Capture::default();
    tracing::subscriber::with_default(subscriber(format, capture.clone()), emit);
    String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
}

fn health_events() -> Vec<HealthEvent> {
    vec![
        HealthEvent::new(
            "hostile",
            HealthKind::Failed,
            Some(Failure::Time),
            "detector `hostile` failed in observe (time limit): ran past its time limit of 300ms"
                .into(),
        )
        .at_batch(11, 160, 16),
        HealthEvent::new(
            "volume",
            HealthKind::ReplacedBuiltin,
            None,
            "/p/my-volume.wasm replaces the built-in detector `volume`".into(),
        ),
        HealthEvent::new(
            "odd \"name\"",
            HealthKind::Quarantined,
            Some(Failure::Snapshot),
            "quotes \" backslash \\ newline \n tab \t escape \u{1b}[31m é ✓".into(),
        )
        .at_batch(u64::MAX, 0, 1024),
    ]
}

#[test]
fn text_writes_health_events_as_the_json_line_serde_writes() {
    for event in health_events() {
        let text = written(LogFormat::Text, || StderrHealth.report(&event));
        let expected = serde_json::to_string(&event).unwrap() + "\n";
        assert_eq!(text, expected);
    }
}

#[test]
fn text_prefixes_by_level_and_prints_the_message_alone() {
    let text = written(LogFormat::Text, || {
        tracing::error!(path = "/x", "opening /x: gone");
        tracing::warn!(failures = 3u64, "accepting failed");
        tracing::info!("listening on 127.0.0.1:8088");
        tracing::info!("note: reading continues");
        tracing::debug!("not shown");
    });
    assert_eq!(
        text,
        "error: opening /x: gone\nwarning: accepting failed\nlistening on 127.0.0.1:8088\nnote: reading continues\n"
    );
}

#[test]
fn json_writes_one_object_per_event_with_level_target_message_and_fields() {
    let events = health_events();
    let text = written(LogFormat::Json, || {
        tracing::warn!(path = "/plugins", "cannot read the plugins directory");
        StderrHealth.report(&events[0]);
    });
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let warning = &lines[0];
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["message"], "cannot read the plugins directory");
    assert_eq!(warning["path"], "/plugins");
    assert!(warning["target"].as_str().unwrap().starts_with("ueba"));
    assert!(warning["timestamp"].is_string());
    let health = &lines[1];
    assert_eq!(health["level"], "WARN");
    assert_eq!(health["target"], "ueba::health");
    assert_eq!(health["message"], events[0].message);
    assert_eq!(health["plugin"], "hostile");
    assert_eq!(health["event"], "failed");
    assert_eq!(health["limit"], "time");
    assert_eq!(health["batch"], 11);
    assert_eq!(health["first_event"], 160);
    assert_eq!(health["events"], 16);
    assert_eq!(health["time"], events[0].time);
}

#[test]
fn the_nats_clients_chatter_is_left_out_but_its_warnings_are_not() {
    for format in [LogFormat::Text, LogFormat::Json] {
        let text = written(format, || {
            tracing::info!(target: "async_nats", "event: connected");
            tracing::warn!(target: "async_nats", "slow consumer");
            tracing::info!("published 3 events");
        });
        assert!(!text.contains("event: connected"), "{text}");
        assert!(text.contains("slow consumer"), "{text}");
        assert!(text.contains("published 3 events"), "{text}");
    }
}

#[test]
fn an_error_naming_its_source_in_its_message_says_it_once() {
    /// As `#[error("{path}: {source}")]` writes it: the source in the
    /// message and as the source.
    #[derive(Debug)]
    struct Named {
        path: String,
        source: std::io::Error,
    }
    impl std::fmt::Display for Named {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }
    impl std::error::Error for Named {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }
    let named = Named {
        path: "events.jsonl".into(),
        source: std::io::Error::other("line 3: field `rows`"),
    };
    let e = anyhow::Error::new(named).context("reading the input");
    assert_eq!(
        super::error_text(&e),
        "reading the input: events.jsonl: line 3: field `rows`"
    );
    // A cause the message does not repeat is still given.
    let plain = anyhow::Error::new(std::io::Error::other("disk full")).context("saving state");
    assert_eq!(super::error_text(&plain), "saving state: disk full");
}

#[test]
fn control_characters_an_error_quotes_reach_the_terminal_escaped() {
    // A config key, a file name or an alert id given by whoever wrote the
    // input: an escape sequence in it must not act on the terminal.
    let e = anyhow::anyhow!("unknown field `x\u{1b}]0;OWNED\u{7}\u{1b}[2J`\n  |\n1 | x = 1")
        .context("reading c\u{1b}[2J.toml");
    let text = super::error_text(&e);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    assert!(text.contains("x\\u{1b}]0;OWNED\\u{7}\\u{1b}[2J"), "{text}");
    assert!(text.contains("c\\u{1b}[2J.toml"), "{text}");
    // A TOML error still draws the line it points at.
    assert!(text.contains("\n  |\n1 | x = 1"), "{text}");
}
