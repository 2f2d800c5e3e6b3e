//! Connecting, and the streams and buckets every command needs.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, Context, kv, object_store, stream};
use bytes::Bytes;

use crate::NatsError;
use crate::names::*;

/// How long connecting may take before the URL is called unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a JetStream request (a publish ack, a KV write, a chunk of a
/// checkpoint) may take: longer than the client's 5 s, as a busy server
/// storing large checkpoints is slow rather than gone.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `url` as messages and logs may show it: a NATS URL may carry a user and
/// password or a token (`nats://alice:secret@host:4222`), which must not
/// end up in a terminal, a log file or an HTTP answer, so the user information
/// of each server in the list is shown as `***`. Everything else, the
/// scheme, host and port an operator needs to tell servers apart, is kept.
pub fn shown_url(url: &str) -> String {
    url.split(',')
        .map(|server| {
            let (scheme, rest) = match server.find("://") {
                Some(i) => server.split_at(i + 3),
                None => ("", server),
            };
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}***{}", &rest[at..]),
                None => server.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// How ueba proves itself to the server besides credentials in the URL,
/// which every user of the machine can read in `ps`: NATS's own ways, each
/// read from a file or the environment by the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// None beyond the URL's.
    #[default]
    None,
    /// A `.creds` file: a user JWT and its NKey seed (NATS decentralised
    /// authentication, as `nsc` and Synadia Cloud issue them).
    CredsFile(PathBuf),
    /// A token (the server's `authorization { token }`).
    Token(String),
    /// A user and password (the server's `authorization { user, password }`).
    UserPassword(String, String),
}

/// TLS beyond what a `tls://` URL gives (the system's root certificates,
/// no client certificate). Either setting makes TLS required, whatever the
/// URL's scheme.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// PEM file of the certificate authorities to trust instead of the
    /// system's (a private CA that signed the server's certificate).
    pub ca: Option<PathBuf>,
    /// PEM files of a client certificate and its key, for a server that
    /// verifies its clients (`verify: true`).
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A NATS server to connect to: its URL (or a comma-separated list of
/// them), how to authenticate and how to use TLS. Shown, it is the URL
/// with any user information hidden ([`shown_url`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Server {
    /// The URL as given.
    pub url: String,
    /// Authentication besides the URL's.
    pub auth: Auth,
    /// TLS settings besides the URL's.
    pub tls: Tls,
}

impl Server {
    /// The server at `url`, authenticating by what the URL carries only,
    /// with TLS as its scheme says.
    pub fn new(url: impl Into<String>) -> Server {
        Server {
            url: url.into(),
            ..Server::default()
        }
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&shown_url(&self.url))
    }
}

/// A JetStream context on `server`.
///
/// Connecting is tried once: an unreachable or wrong URL, or credentials
/// the server refuses, is an error naming it at once, rather than a
/// process that waits forever. Once connected the client reconnects by
/// itself if the server restarts.
pub async fn connect(server: &Server) -> Result<Context, NatsError> {
    let url = server.url.as_str();
    let unreachable = |message: String| NatsError::Unreachable {
        url: shown_url(url),
        message,
    };
    let mut options = match &server.auth {
        Auth::None => async_nats::ConnectOptions::new(),
        Auth::CredsFile(path) => async_nats::ConnectOptions::new()
            .credentials_file(path)
            .await
            .map_err(|e| {
                unreachable(format!(
                    "reading the credentials file {}: {e}",
                    path.display()
                ))
            })?,
        Auth::Token(token) => async_nats::ConnectOptions::new().token(token.clone()),
        Auth::UserPassword(user, password) => {
            async_nats::ConnectOptions::new().user_and_password(user.clone(), password.clone())
        }
    };
    if let Some(ca) = &server.tls.ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &server.tls.client {
        options = options
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    let server = shown_url(url);
    let client = options
        .connection_timeout(CONNECT_TIMEOUT)
        .event_callback(move |event| {
            let server = server.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::debug!(url = server, "connected to {server}")
                    }
                    // The client was dropped: ueba is done with the server.
                    async_nats::Event::Closed => {
                        tracing::debug!(url = server, "closed the connection to {server}")
                    }
                    async_nats::Event::Disconnected => tracing::warn!(
                        url = server,
                        "lost the connection to {server}; reconnecting"
                    ),
                    other => tracing::warn!(url = server, "NATS {server}: {other}"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    Ok(jetstream::ContextBuilder::new()
        .timeout(REQUEST_TIMEOUT)
        .build(client))
}

/// Whether a JetStream error is the server saying "no such stream".
fn stream_missing(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(j)
            if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// The events stream and its partition count.
///
/// With `create = Some(P)` (the publisher) a missing stream is created with
/// P partitions, and an existing one must have P; with `None` (a worker) a
/// missing stream is an error telling to publish first. The count lives in
/// the [`CONFIG_BUCKET`] KV bucket, written before the stream is created,
/// so a stream never exists without it.
pub async fn events_stream(
    js: &Context,
    url: &str,
    create: Option<u32>,
) -> Result<(stream::Stream, u32), NatsError> {
    match js.get_stream(EVENTS_STREAM).await {
        Ok(s) => {
            let found = stored_partitions(js).await?;
            match (found, create) {
                (None, _) => Err(NatsError::NoPartitionCount {
                    stream: EVENTS_STREAM.into(),
                    bucket: CONFIG_BUCKET.into(),
                    key: PARTITIONS_KEY.into(),
                }),
                (Some(found), Some(asked)) if found != asked => Err(NatsError::PartitionMismatch {
                    stream: EVENTS_STREAM.into(),
                    found,
                    asked,
                }),
                (Some(found), _) => Ok((s, found)),
            }
        }
        Err(e) if stream_missing(&e) => {
            let Some(partitions) = create else {
                return Err(NatsError::NoStream {
                    stream: EVENTS_STREAM.into(),
                    url: shown_url(url),
                });
            };
            let config = key_value(js, CONFIG_BUCKET, Duration::ZERO).await?;
            config
                .put(PARTITIONS_KEY, Bytes::from(partitions.to_string()))
                .await
                .map_err(|e| {
                    NatsError::js(
                        format!("recording the partition count in {CONFIG_BUCKET}"),
                        e,
                    )
                })?;
            let s = js
                .get_or_create_stream(stream::Config {
                    name: EVENTS_STREAM.into(),
                    subjects: vec![EVENTS_SUBJECTS.into()],
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| NatsError::js(format!("creating stream {EVENTS_STREAM}"), e))?;
            Ok((s, partitions))
        }
        Err(e) => Err(NatsError::js(
            format!("looking up stream {EVENTS_STREAM}"),
            e,
        )),
    }
}

/// The partition count recorded in [`CONFIG_BUCKET`], if any.
pub(crate) async fn stored_partitions(js: &Context) -> Result<Option<u32>, NatsError> {
    let Ok(config) = js.get_key_value(CONFIG_BUCKET).await else {
        return Ok(None);
    };
    let value = config
        .get(PARTITIONS_KEY)
        .await
        .map_err(|e| NatsError::js(format!("reading {CONFIG_BUCKET}/{PARTITIONS_KEY}"), e))?;
    Ok(value.and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse().ok()))
}

/// A KV bucket, created when missing. `max_age` zero keeps values forever;
/// otherwise it is how long a value lives unless written again (a lease).
///
/// The bucket's stream is created here, with the settings the client's
/// own `create_key_value` gives a one-value-per-key bucket, because that
/// call first asks for account details in a shape 2.9 servers do not send
/// (`reserved_memory`) and fails there.
pub async fn key_value(
    js: &Context,
    bucket: &str,
    max_age: Duration,
) -> Result<kv::Store, NatsError> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(format!("ueba KV bucket {bucket}")),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| NatsError::js(format!("creating KV bucket {bucket}"), e))?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| NatsError::js(format!("opening KV bucket {bucket}"), e))
}

/// How long a lease in [`OWNERS_BUCKET`] lives: the bucket stream's
/// `max_age`, `None` when values never expire.
pub async fn lease_lifetime(js: &Context) -> Result<Option<Duration>, NatsError> {
    let name = format!("KV_{OWNERS_BUCKET}");
    let stream = js
        .get_stream(&name)
        .await
        .map_err(|e| NatsError::js(format!("reading stream {name}"), e))?;
    let max_age = stream.cached_info().config.max_age;
    Ok((!max_age.is_zero()).then_some(max_age))
}

/// The checkpoint object store, created when missing.
pub async fn checkpoints(js: &Context) -> Result<object_store::ObjectStore, NatsError> {
    if let Ok(store) = js.get_object_store(CHECKPOINTS_BUCKET).await {
        return Ok(store);
    }
    let created = js
        .create_object_store(object_store::Config {
            bucket: CHECKPOINTS_BUCKET.into(),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        Err(e) => js
            .get_object_store(CHECKPOINTS_BUCKET)
            .await
            .map_err(|_| NatsError::js(format!("creating object store {CHECKPOINTS_BUCKET}"), e)),
    }
}

/// The stream of `output`, created when missing, with a duplicate window
/// of [`ALERT_DEDUP_WINDOW`] so a re-emitted record is dropped.
pub async fn output_stream(js: &Context, output: Output) -> Result<stream::Stream, NatsError> {
    js.get_or_create_stream(stream::Config {
        name: output.stream().into(),
        subjects: vec![output.subject().into()],
        storage: stream::StorageType::File,
        duplicate_window: ALERT_DEDUP_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(|e| NatsError::js(format!("creating stream {}", output.stream()), e))
}

/// Reads a stream's messages one by one, in stream order, from a given
/// sequence to the last one there when it was opened.
pub struct Reader {
    stream: stream::Stream,
    name: String,
    next: u64,
    last: u64,
}

impl Reader {
    /// Stream `name` from sequence `from` (at least 1), or `None` when the
    /// server has no such stream.
    pub async fn open(js: &Context, name: &str, from: u64) -> Result<Option<Reader>, NatsError> {
        let mut stream = match js.get_stream(name).await {
            Ok(s) => s,
            Err(e) if stream_missing(&e) => return Ok(None),
            Err(e) => return Err(NatsError::js(format!("looking up stream {name}"), e)),
        };
        let state = stream
            .info()
            .await
            .map_err(|e| NatsError::js(format!("reading stream {name}"), e))?
            .state
            .clone();
        let empty = state.messages == 0;
        Ok(Some(Reader {
            stream,
            name: name.to_string(),
            next: from.max(state.first_sequence).max(1),
            last: if empty { 0 } else { state.last_sequence },
        }))
    }

    /// The next message: its sequence, subject and payload; `None` past the
    /// last. Sequences the server no longer holds are skipped.
    pub async fn next(&mut self) -> Result<Option<(u64, String, Bytes)>, NatsError> {
        while self.next <= self.last {
            let seq = self.next;
            self.next += 1;
            match self.stream.get_raw_message(seq).await {
                Ok(m) => return Ok(Some((seq, m.subject.to_string(), m.payload))),
                Err(e) if e.to_string().contains("not found") => continue,
                Err(e) => {
                    return Err(NatsError::js(
                        format!("reading {} message {seq}", self.name),
                        e,
                    ));
                }
            }
        }
        Ok(None)
    }
}

/// Every message of `output`'s stream, in stream order, as JSON lines
/// written to `out`; returns how many. The stream holds each record once
/// (the server dropped re-emitted ones), so this is the deduplicated output
/// of all workers.
pub async fn dump(
    server: &Server,
    output: Output,
    out: &mut dyn std::io::Write,
) -> Result<u64, NatsError> {
    let name = output.stream();
    let js = connect(server).await?;
    let Some(mut reader) = Reader::open(&js, name, 1).await? else {
        return Ok(0);
    };
    let writing = |e: std::io::Error| NatsError::Input(format!("writing {name}: {e}"));
    let mut written = 0;
    while let Some((_, _, payload)) = reader.next().await? {
        out.write_all(&payload)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(writing)?;
        written += 1;
    }
    out.flush().map_err(writing)?;
    Ok(written)
}

/// The verdicts stream, created when missing, with the same duplicate
/// window as the outputs so a verdict sent twice is stored once.
pub async fn verdicts_stream(js: &Context) -> Result<stream::Stream, NatsError> {
    js.get_or_create_stream(stream::Config {
        name: VERDICTS_STREAM.into(),
        subjects: vec![VERDICTS_SUBJECTS.into()],
        storage: stream::StorageType::File,
        duplicate_window: ALERT_DEDUP_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(|e| NatsError::js(format!("creating stream {VERDICTS_STREAM}"), e))
}

/// Every stream and bucket ueba keeps on a server, by the name JetStream
/// lists it under (a KV bucket is the stream `KV_<bucket>`, an object store
/// `OBJ_<bucket>`).
fn ueba_streams() -> [String; 12] {
    [
        EVENTS_STREAM.to_string(),
        ALERTS_STREAM.to_string(),
        INCIDENTS_STREAM.to_string(),
        FINDINGS_STREAM.to_string(),
        VERDICTS_STREAM.to_string(),
        format!("KV_{CONFIG_BUCKET}"),
        format!("KV_{OWNERS_BUCKET}"),
        format!("KV_{ALERT_INDEX_BUCKET}"),
        format!("KV_{USERS_BUCKET}"),
        format!("KV_{INCIDENTS_BUCKET}"),
        format!("KV_{VERDICT_TIMES_BUCKET}"),
        format!("OBJ_{CHECKPOINTS_BUCKET}"),
    ]
}

/// The first of ueba's streams and buckets the server already holds, if
/// any: a benchmark that creates and removes them refuses a server where
/// they hold someone's events.
pub async fn ueba_state_present(js: &Context) -> Result<Option<String>, NatsError> {
    for name in ueba_streams() {
        match js.get_stream(&name).await {
            Ok(_) => return Ok(Some(name)),
            Err(e) if stream_missing(&e) => {}
            Err(e) => return Err(NatsError::js(format!("looking up stream {name}"), e)),
        }
    }
    Ok(None)
}

/// Delete every stream and bucket of ueba's on the server (events, alerts,
/// partition count, leases, checkpoints), so the next publish starts from
/// nothing. Only for throwaway servers: `ueba bench --nats` between runs.
pub async fn remove_ueba_state(js: &Context) -> Result<(), NatsError> {
    for name in ueba_streams() {
        match js.get_stream(&name).await {
            Ok(_) => {
                js.delete_stream(&name)
                    .await
                    .map_err(|e| NatsError::js(format!("deleting stream {name}"), e))?;
            }
            Err(e) if stream_missing(&e) => {}
            Err(e) => return Err(NatsError::js(format!("looking up stream {name}"), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_url_s_credentials_are_never_shown() {
        assert_eq!(
            shown_url("nats://alice:s3cret@10.0.0.5:4222"),
            "nats://***@10.0.0.5:4222"
        );
        assert_eq!(shown_url("tls://t0ken@nats.corp"), "tls://***@nats.corp");
        assert_eq!(shown_url("bob:pw@127.0.0.1:4222"), "***@127.0.0.1:4222");
        // Each server of a list; an '@' past the host is not user information.
        assert_eq!(
            shown_url("nats://a:b@h1:4222,nats://h2:4222/x@y"),
            "nats://***@h1:4222,nats://h2:4222/x@y"
        );
        assert_eq!(shown_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(shown_url(""), "");
    }
}
