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
/// KV bucket holding the stream's settings (the partition count).
pub const CONFIG_BUCKET: &str = "ueba-config";
/// Key of the partition count in [`CONFIG_BUCKET`].
pub const PARTITIONS_KEY: &str = "partitions";
/// KV bucket of partition leases: key = partition, value = worker name.
pub const OWNERS_BUCKET: &str = "ueba-owners";
/// Object store bucket of checkpoints, one object per partition.
pub const CHECKPOINTS_BUCKET: &str = "ueba-checkpoints";
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
