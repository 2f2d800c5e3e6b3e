//! The names everything on the server goes by, in one place, so the
//! publisher, the workers, the scripts and the README agree.

/// The stream holding every event, one subject per partition.
pub const EVENTS_STREAM: &str = "UEBA_EVENTS";
/// The events stream's subjects.
pub const EVENTS_SUBJECTS: &str = "ueba.events.>";
/// The stream holding alerts, deduplicated by alert id.
pub const ALERTS_STREAM: &str = "UEBA_ALERTS";
/// The subject alerts are published to.
pub const ALERTS_SUBJECT: &str = "ueba.alerts";
/// The stream holding incident changes (`ueba worker --incidents`).
pub const INCIDENTS_STREAM: &str = "UEBA_INCIDENTS";
/// The subject incident changes are published to.
pub const INCIDENTS_SUBJECT: &str = "ueba.incidents";
/// The stream holding every finding (`ueba worker --findings`).
pub const FINDINGS_STREAM: &str = "UEBA_FINDINGS";
/// The subject findings are published to.
pub const FINDINGS_SUBJECT: &str = "ueba.findings";

/// The stream holding analysts' verdicts, one subject per partition.
pub const VERDICTS_STREAM: &str = "UEBA_VERDICTS";
/// The verdicts stream's subjects.
pub const VERDICTS_SUBJECTS: &str = "ueba.verdicts.>";

/// Subject of the verdicts on partition `p`'s alerts.
pub fn verdicts_subject(p: u32) -> String {
    format!("ueba.verdicts.{p}")
}

/// What workers publish, each to a stream of its own, deduplicated by
/// `Nats-Msg-Id` over [`ALERT_DEDUP_WINDOW`]: alerts by their id, incident
/// changes and findings by a hash of the record (the same input gives the
/// same records, so a worker re-scoring from a checkpoint re-emits them
/// identically).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Alerts, as `ueba score` writes them.
    Alerts,
    /// Incident changes, as `ueba score --incidents` writes them.
    Incidents,
    /// Every finding, as `ueba score --findings` writes them.
    Findings,
}

impl Output {
    /// Every kind, alerts first.
    pub const ALL: [Output; 3] = [Output::Alerts, Output::Incidents, Output::Findings];

    /// Its stream.
    pub fn stream(self) -> &'static str {
        match self {
            Output::Alerts => ALERTS_STREAM,
            Output::Incidents => INCIDENTS_STREAM,
            Output::Findings => FINDINGS_STREAM,
        }
    }

    /// Its subject.
    pub fn subject(self) -> &'static str {
        match self {
            Output::Alerts => ALERTS_SUBJECT,
            Output::Incidents => INCIDENTS_SUBJECT,
            Output::Findings => FINDINGS_SUBJECT,
        }
    }

    /// What one record is, for messages.
    pub fn record(self) -> &'static str {
        match self {
            Output::Alerts => "alert",
            Output::Incidents => "incident change",
            Output::Findings => "finding",
        }
    }
}

/// KV bucket holding the stream's settings (the partition count).
pub const CONFIG_BUCKET: &str = "ueba-config";
/// Key of the partition count in [`CONFIG_BUCKET`].
pub const PARTITIONS_KEY: &str = "partitions";
/// KV bucket of partition leases: key = partition, value = worker name.
pub const OWNERS_BUCKET: &str = "ueba-owners";
/// Object store bucket of checkpoints, one object per partition.
pub const CHECKPOINTS_BUCKET: &str = "ueba-checkpoints";
/// KV bucket indexing alerts: key = alert id, value = `{"user","time"}`.
/// Workers write it beside each alert they publish, so a verdict finds its
/// alert's partition with one lookup instead of reading the alerts stream.
pub const ALERT_INDEX_BUCKET: &str = "ueba-alert-index";

/// KV bucket of what an analyst is shown about each user with a finding
/// (`GET /v1/users/{user}` on `ueba serve --nats`): key = [`user_key`],
/// value = the user's summary as JSON, as `ueba serve` answers it. The
/// worker owning the user's partition rewrites it at each checkpoint after
/// which it changed, so it is as of that checkpoint (its `as_of`).
pub const USERS_BUCKET: &str = "ueba-users";
/// KV bucket of each partition's open and recently closed incidents
/// (`GET /v1/incidents` on `ueba serve --nats`): key = [`incidents_key`],
/// value = `{"partition","as_of","incidents","omitted"}`, rewritten with
/// the users' summaries.
pub const INCIDENTS_BUCKET: &str = "ueba-incidents";

/// The event time at which each verdict applies, once settled by the
/// first worker to read it: key `<partition>.<stream sequence>` of the
/// verdict on [`VERDICTS_STREAM`], value the time in ms since the Unix
/// epoch. A worker that reads a verdict after scoring past the time it was
/// given for applies it later than a replay of the partition's checkpoint
/// would; the settled time makes every owner apply it at the same point.
pub const VERDICT_TIMES_BUCKET: &str = "ueba-verdict-times";
/// The longest user name, in bytes, whose summary is kept in
/// [`USERS_BUCKET`]: the key is the name in hex, and a subject's length is
/// bounded by the server's control line (4 KiB by default). The service
/// refuses longer names in `GET /v1/users/{user}` too.
pub const MAX_KEYED_USER: usize = 256;

/// The key of `user`'s summary in [`USERS_BUCKET`]: `u.` and the name's
/// UTF-8 bytes in lowercase hex (a KV key may hold only letters, digits
/// and `-/_=.`), `None` for a name longer than [`MAX_KEYED_USER`] bytes.
pub fn user_key(user: &str) -> Option<String> {
    use std::fmt::Write;
    if user.len() > MAX_KEYED_USER {
        return None;
    }
    let mut key = String::with_capacity(2 + 2 * user.len());
    key.push_str("u.");
    for b in user.bytes() {
        let _ = write!(key, "{b:02x}");
    }
    Some(key)
}

/// The key of partition `p`'s incidents in [`INCIDENTS_BUCKET`].
pub fn incidents_key(p: u32) -> String {
    format!("p{p}")
}

/// Whether `id` can be a key of [`ALERT_INDEX_BUCKET`]: ueba's alert ids
/// are hex digests; anything else (an id a client made up) is looked for
/// in the alerts stream instead.
pub fn indexable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
/// How long the alerts stream remembers an alert id: a worker that crashed
/// re-emits the alerts since its last checkpoint, which is far less than
/// this behind, so the server drops them as duplicates.
pub const ALERT_DEDUP_WINDOW: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// Subject of partition `p`'s events.
pub fn events_subject(p: u32) -> String {
    format!("ueba.events.{p}")
}

/// Durable consumer of partition `p`: one per partition, whoever owns it.
pub fn consumer_name(p: u32) -> String {
    format!("ueba-p{p}")
}

/// Object name of partition `p`'s checkpoint.
pub fn checkpoint_name(p: u32) -> String {
    format!("p{p}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_key_is_their_name_in_hex_and_long_names_have_none() {
        assert_eq!(user_key("kim").as_deref(), Some("u.6b696d"));
        // Anything a log may hold becomes letters and digits.
        assert_eq!(user_key("a.b c*>").as_deref(), Some("u.612e6220632a3e"));
        assert_eq!(user_key("é").as_deref(), Some("u.c3a9"));
        assert!(user_key(&"x".repeat(MAX_KEYED_USER)).is_some());
        assert_eq!(user_key(&"x".repeat(MAX_KEYED_USER + 1)), None);
    }
}
