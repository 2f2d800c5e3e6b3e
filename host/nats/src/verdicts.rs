//! Analysts' verdicts for workers.
//!
//! `ueba feedback --nats URL ID VERDICT` finds alert `ID` on the alerts
//! stream, works out its user's partition, and publishes the verdict to
//! `ueba.verdicts.<p>` (stream `UEBA_VERDICTS`). The verdict is timed as
//! `ueba feedback --state` times it, just after the newest event the
//! partition's stored checkpoint has scored (or at `--at`), so a worker
//! resuming from that checkpoint applies it where a run of
//! `ueba score --verdicts` over the same events would. Each worker reads the
//! verdicts of the partitions it owns, from the stream's start when it takes
//! a partition over and then as they come, and applies them in stream
//! order at their event time: a benign verdict closes the episode and
//! forgives the behaviour, a malicious one keeps the user out of learning.
//! A worker may read a verdict only after scoring past its given time;
//! the time it then applies at is recorded in [`VERDICT_TIMES_BUCKET`]
//! before it is queued (`settle`), so that whichever owner of the
//! partition applies it, live or replaying a checkpoint, applies it at the
//! same point.
//!
//! Anyone who can publish to the subject can send a verdict, so what a
//! worker reads is checked: a message that is not a valid verdict is
//! skipped with a warning, and so is one naming no alert of the partition
//! when its time comes (the scorer is lenient here, where a verdicts file
//! read by `ueba score` fails with its line).

use std::path::PathBuf;

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{Context, kv};
use bytes::Bytes;
use ueba_engine::event::{MAX_TIME_MS, format_time, parse_timestamp_text};
use ueba_engine::pipeline::shard_of;
use ueba_engine::risk::verdicts::{self, PendingVerdict, Verdict, VerdictKind};
use ueba_engine::sandbox::sha256_hex;

use crate::names::*;
use crate::server::{self, Reader};
use crate::{NatsError, worker};

/// A verdict as published: the verdict and the partition it went to.
#[derive(Clone, Debug, PartialEq)]
pub struct Given {
    /// The verdict, as a line of a verdicts file.
    pub verdict: Verdict,
    /// The partition of the alert's user.
    pub partition: u32,
}

/// What an analyst says about one alert.
#[derive(Clone, Debug)]
pub struct Judgement<'a> {
    /// The alert's `id`.
    pub id: &'a str,
    /// Benign or malicious.
    pub verdict: VerdictKind,
    /// Why.
    pub note: &'a str,
    /// Who.
    pub analyst: &'a str,
    /// Event time from which it applies (ms), when not the default.
    pub at: Option<i64>,
}

/// Publish a verdict on alert `j.id` to the partition of its user (see the
/// module docs); an alert not on the alerts stream, or a time the
/// partition's checkpoint has already scored past, is an error.
pub async fn give(server: &server::Server, j: &Judgement<'_>) -> Result<Given, NatsError> {
    give_on(&server::connect(server).await?, j).await
}

/// [`give`] on a connection already open (a forwarding service's).
pub async fn give_on(js: &Context, j: &Judgement<'_>) -> Result<Given, NatsError> {
    let Some((user, alert_ms)) = find_alert(js, j.id).await? else {
        return Err(NatsError::UnknownAlert(format!(
            "no alert has id `{}` on {ALERTS_SUBJECT} (an alert's `id` field, as the workers published it)",
            j.id
        )));
    };
    let Some(partitions) = server::stored_partitions(js).await? else {
        return Err(NatsError::NoPartitionCount {
            stream: EVENTS_STREAM.into(),
            bucket: CONFIG_BUCKET.into(),
            key: PARTITIONS_KEY.into(),
        });
    };
    let partition = shard_of(&user, partitions as usize) as u32;
    let store = server::checkpoints(js).await?;
    let scored = worker::load_checkpoint(&store, partition)
        .await?
        .and_then(|(_, cp)| cp.scorer.released_ms());
    // A worker publishes an alert before the checkpoint covering it, so a
    // worker that died in between left an older checkpoint: the verdict
    // never applies before its alert.
    let released = scored.max(Some(alert_ms));
    let verdict = verdicts::admit(j.id, j.verdict, j.note, j.analyst, j.at, released, true)
        .map_err(|m| NatsError::Input(format!("partition {partition}: {m}")))?;
    server::verdicts_stream(js).await?;
    // As `ueba feedback` writes it to a verdicts file: the note's hidden
    // characters escaped.
    let json =
        ueba_engine::json::to_string(&verdict).map_err(|e| NatsError::Input(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", sha256_hex(json.as_bytes()).as_str());
    let subject = verdicts_subject(partition);
    js.send_publish(
        subject.clone(),
        PublishMessage::build()
            .headers(headers)
            .payload(Bytes::from(json)),
    )
    .await
    .map_err(|e| NatsError::js(format!("publishing the verdict to {subject}"), e))?
    .await
    .map_err(|e| {
        NatsError::js(
            format!("waiting for {VERDICTS_STREAM} to store the verdict"),
            e,
        )
    })?;
    Ok(Given { verdict, partition })
}

/// The user and event time (ms) of the alert with this id: from
/// [`ALERT_INDEX_BUCKET`], else (an alert published before the index, or
/// by a worker that stopped before indexing it) from the alerts stream.
async fn find_alert(js: &Context, id: &str) -> Result<Option<(String, i64)>, NatsError> {
    #[derive(serde::Deserialize)]
    struct Indexed {
        user: String,
        time: String,
    }
    #[derive(serde::Deserialize)]
    struct AlertRef {
        id: String,
        user: String,
        time: String,
    }
    let time_of = |text: &str| {
        parse_timestamp_text(text).map_err(|e| {
            NatsError::Input(format!(
                "alert `{id}` on {ALERTS_SUBJECT}: field `time`: {e}"
            ))
        })
    };
    if indexable(id)
        && let Ok(index) = js.get_key_value(ALERT_INDEX_BUCKET).await
        && let Some(value) = index
            .get(id)
            .await
            .map_err(|e| NatsError::js(format!("reading {ALERT_INDEX_BUCKET}/{id}"), e))?
        && let Ok(entry) = serde_json::from_slice::<Indexed>(&value)
    {
        return Ok(Some((entry.user, time_of(&entry.time)?)));
    }
    let Some(mut reader) = Reader::open(js, ALERTS_STREAM, 1).await? else {
        return Ok(None);
    };
    while let Some((_, _, payload)) = reader.next().await? {
        let Ok(a) = serde_json::from_slice::<AlertRef>(&payload) else {
            continue;
        };
        if a.id == id {
            return Ok(Some((a.user, time_of(&a.time)?)));
        }
    }
    Ok(None)
}

/// Settle the event time at which each of `new` (verdicts of partition
/// `p` just read, in stream order) applies, in [`VERDICT_TIMES_BUCKET`]:
/// the time it was given for, or just after `released_ms` (the newest
/// event this worker has scored) when that is later, unless an owner of
/// the partition settled it before, whose time then holds.
///
/// A verdict is timed when given, after what the partition's stored
/// checkpoint had scored; a busy worker may read it only after scoring
/// well past that, and applies it at its next block. Were that not
/// recorded, the next owner, replaying from the checkpoint, would apply it
/// at the given time, earlier, and raise other alerts than the worker it
/// replaced. The time is recorded before the verdict is queued, so
/// whichever owner applies it applies it at the same point.
///
/// On a failure the verdicts settled so far are kept in `new`, the rest
/// dropped (they are read again), and the error returned.
pub(crate) async fn settle(
    times: &kv::Store,
    p: u32,
    new: &mut Vec<PendingVerdict>,
    released_ms: Option<i64>,
) -> Result<(), NatsError> {
    let after = released_ms.map_or(i64::MIN, |t| t.saturating_add(1).min(MAX_TIME_MS));
    for i in 0..new.len() {
        let key = format!("{p}.{}", new[i].line);
        let want = new[i].time_ms.max(after);
        let settled = match times.create(&key, Bytes::from(want.to_string())).await {
            Ok(_) => Ok(want),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                settled_time(times, &key).await
            }
            Err(e) => Err(NatsError::js(
                format!("recording when verdict {key} applies in {VERDICT_TIMES_BUCKET}"),
                e,
            )),
        };
        match settled {
            Ok(t) => {
                // The incident records it as applied then, as a verdicts
                // file timed then would be.
                new[i].time_ms = t;
                new[i].verdict.time = format_time(t);
            }
            Err(e) => {
                new.truncate(i);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The time an earlier owner settled for verdict `key`.
async fn settled_time(times: &kv::Store, key: &str) -> Result<i64, NatsError> {
    let value = times
        .get(key)
        .await
        .map_err(|e| NatsError::js(format!("reading {VERDICT_TIMES_BUCKET}/{key}"), e))?
        .ok_or_else(|| {
            NatsError::Input(format!(
                "{VERDICT_TIMES_BUCKET}/{key} was created and then removed"
            ))
        })?;
    std::str::from_utf8(&value)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| (0..=MAX_TIME_MS).contains(t))
        .ok_or_else(|| {
            NatsError::Input(format!(
                "{VERDICT_TIMES_BUCKET}/{key} holds {:?}, not a time in ms",
                String::from_utf8_lossy(&value)
            ))
        })
}

/// The verdicts on partition `p` stored after stream sequence `after`, in
/// stream order, and the last sequence read. A message that is not a
/// valid verdict is skipped with a warning.
pub(crate) async fn read(
    js: &Context,
    p: u32,
    after: u64,
) -> Result<(Vec<PendingVerdict>, u64), NatsError> {
    let Some(mut reader) = Reader::open(js, VERDICTS_STREAM, after.saturating_add(1)).await? else {
        return Ok((Vec::new(), after));
    };
    let subject = verdicts_subject(p);
    let mut out = Vec::new();
    let mut last = after;
    while let Some((seq, subj, payload)) = reader.next().await? {
        last = seq;
        if subj != subject {
            continue;
        }
        let checked = serde_json::from_slice::<Verdict>(&payload)
            .map_err(|e| e.to_string())
            .and_then(|v| v.check().map(|t| (v, t)));
        match checked {
            Ok((verdict, time_ms)) => out.push(PendingVerdict {
                verdict,
                time_ms,
                path: PathBuf::from(&subject),
                line: seq,
            }),
            Err(e) => tracing::warn!(
                partition = p,
                sequence = seq,
                "{VERDICTS_STREAM} message {seq} on {subject} skipped: {e}"
            ),
        }
    }
    Ok((out, last))
}
