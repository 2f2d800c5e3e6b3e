//! The HTTP endpoints: parse, authenticate, enqueue, report.
//!
//! | endpoint | auth | answers |
//! |---|---|---|
//! | `POST /v1/events` | token | `{"accepted","invalid","skipped","errors":[...]}`; 400 when nothing valid, 401, 408, 413, 415, 429 + `Retry-After` (queue or body budget full), 503 |
//! | `POST /services/collector/event` (also `/services/collector`, `.../event/1.0`) | token | Splunk HEC: `{"text":"Success","code":0}` and HEC's error codes |
//! | `GET /services/collector/health` | none | HEC's health answer (code 17 healthy, 18 busy) |
//! | `GET /v1/incidents` (`?user=NAME`) | token | `{"incidents":[...]}`, open and recently closed; 400, 401, 503 |
//! | `GET /v1/users/{user}` | token | the user's risk now, peak, findings kept and incidents; 400 (name over 256 bytes), 401, 404, 503 |
//! | `POST /v1/feedback` | token | `{"time","id","verdict","note","analyst","line"}`; 400 (not JSON), 401, 404 (no such alert), 408, 409 (no verdicts file), 413, 422, 500, 503 |
//! | the same, forwarding to NATS (`ueba serve --nats`) | token | `{"time","id","verdict","note","analyst","partition","subject"}`, the verdict as published for the alert's worker; 404, 422, 503 while the server is away; `GET /v1/incidents` and `/v1/users/...` answer as above from what the workers wrote at their last checkpoints, with `as_of` (and `omitted` for incidents), 503 while the server is away |
//! | `GET /metrics` | token | OpenMetrics text (Prometheus scrapes it) |
//! | `GET /healthz` | none | 200 while the worker runs and no detector is quarantined, else 503; JSON naming them |

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{
    CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, TRANSFER_ENCODING,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::json;

use super::ServeConfig;
use super::analyst::{self, Ask, AskError, RequestError};
use super::auth::{self, Auth, Token};
use super::budget::{Budget, Reservation};
use super::ingest::{self, Batch, IngestError};
use super::metrics::{self, Counters, HttpState, QueueState, Rejection};
use super::queue::{Queue, QueueError, Receipt};
use ueba_formats::sources::{FormatsConfig, InputFormat};

/// Invalid HEC records written to stderr, at most (HEC clients do not read
/// per-record errors; all of them are counted in `/metrics`).
const HEC_ERRORS_LOGGED: u64 = 5;

/// What the handlers share.
pub struct App {
    queue: Queue,
    counters: Counters,
    format: InputFormat,
    formats: FormatsConfig,
    limits: ServeConfig,
    token: Option<Token>,
    hec_errors_logged: AtomicU64,
    budget: Arc<Budget>,
    /// Bodies parsed at once, at most: one per core. Parsing is CPU-bound,
    /// so more at once is no faster, and each holds its request's events
    /// (about as many bytes again as the body) until they are queued.
    parsing: Arc<tokio::sync::Semaphore>,
}

impl App {
    /// Handlers over `queue`, parsing `format` (configured by `formats`)
    /// under `limits`, requiring `token` when there is one.
    pub fn new(
        queue: Queue,
        format: InputFormat,
        formats: FormatsConfig,
        limits: ServeConfig,
        token: Option<Token>,
    ) -> Self {
        App {
            queue,
            counters: Counters::default(),
            format,
            formats,
            budget: Budget::new(limits.body_budget_bytes),
            parsing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            limits,
            token,
            hec_errors_logged: AtomicU64::new(0),
        }
    }

    /// The request counters (for the summary at shutdown).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The limits the service runs under.
    pub fn limits(&self) -> &ServeConfig {
        &self.limits
    }
}

/// The service's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/events", post(events))
        .route("/services/collector", post(hec))
        .route("/services/collector/event", post(hec))
        .route("/services/collector/event/1.0", post(hec))
        .route("/services/collector/health", get(hec_health))
        .route("/services/collector/health/1.0", get(hec_health))
        .route("/v1/incidents", get(incidents))
        .route("/v1/users/{user}", get(user))
        .route("/v1/feedback", post(feedback))
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

/// A failure before parsing: the body could not be taken in.
enum BodyError {
    TooLarge(String),
    Encoding(String),
    Read(String),
    /// The bodies being read already fill the budget.
    Busy(String),
}

/// Refuse a body coded otherwise than `allowed` says in header `name`
/// (shown as `shown`): every such header, and every coding listed in each,
/// so a second header (or `identity, gzip`) cannot slip a compressed body
/// past as plain text. `hint` ends the message.
fn only_codings(
    headers: &HeaderMap,
    (name, shown): (HeaderName, &str),
    allowed: &[&str],
    hint: &str,
) -> Result<(), BodyError> {
    for value in headers.get_all(name) {
        let text = value.to_str().unwrap_or("?");
        let coded = text
            .split(',')
            .map(str::trim)
            .any(|c| !allowed.iter().any(|a| c.eq_ignore_ascii_case(a)));
        if coded {
            return Err(BodyError::Encoding(format!(
                "{shown} `{}` is not supported; send the body uncompressed{hint}",
                ueba_engine::event::clip(text)
            )));
        }
    }
    Ok(())
}

/// Read a body of at most `max` bytes (the limit named `limit` in
/// messages) into memory held from `budget`.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    (max, limit): (usize, &str),
    budget: &Arc<Budget>,
) -> Result<(Vec<u8>, Reservation), BodyError> {
    only_codings(
        headers,
        (CONTENT_ENCODING, "Content-Encoding"),
        &["identity"],
        "",
    )?;
    // hyper takes the chunks apart but leaves any other transfer coding
    // (`gzip, chunked`) to us: that is a compressed body too.
    only_codings(
        headers,
        (TRANSFER_ENCODING, "Transfer-Encoding"),
        &["chunked", "identity"],
        " (chunked is fine)",
    )?;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|&len| len > max as u64) {
        return Err(BodyError::TooLarge(format!(
            "Content-Length of {len} too large (maximum is {max}, {limit})"
        )));
    }
    let busy = |want: usize| {
        BodyError::Busy(format!(
            "the service is reading or parsing {} bytes of other requests and has no room for {want} more (serve.body_budget_bytes is {}); retry later",
            budget.used(),
            budget.limit()
        ))
    };
    // The budget is taken as the body arrives, for the memory that holds
    // it (the buffer's capacity), never for what the client says it will
    // send: a client declaring the largest body and sending a byte a
    // second holds a few bytes of the budget, not the declared length, so
    // a handful of them cannot lock everyone else out. The buffer doubles
    // (up to the declared length) so a large body is not copied at every
    // frame; it holds at most twice what arrived.
    let declared = declared.map_or(0, |l| l as usize);
    let mut held = budget.reserve(0).ok_or_else(|| busy(0))?;
    let mut buf: Vec<u8> = Vec::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(format!("reading the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            let need = buf.len() + data.len();
            if need > max {
                return Err(BodyError::TooLarge(format!(
                    "the body is larger than {max} bytes ({limit})"
                )));
            }
            if need > buf.capacity() {
                let capacity = (buf.capacity() * 2).min(declared.max(need)).max(need);
                if !held.grow_to(capacity) {
                    return Err(busy(capacity - buf.capacity()));
                }
                buf.reserve_exact(capacity - buf.len());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok((buf, held))
}

/// Which endpoint is answering: they differ only in the shape of answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Native,
    Hec,
}

/// A refused request, answered in the endpoint's own dialect.
struct Refusal {
    status: StatusCode,
    why: Rejection,
    message: String,
    hec_code: u16,
    hec_text: &'static str,
    invalid_event: Option<u64>,
    /// Whether `why` is counted in `ueba_requests_rejected_total`: an
    /// unknown user or alert is an answer, not a refused request.
    counted: bool,
}

impl Refusal {
    fn new(status: StatusCode, why: Rejection, message: impl Into<String>) -> Self {
        Refusal {
            status,
            why,
            message: message.into(),
            hec_code: 6,
            hec_text: "Invalid data format",
            invalid_event: None,
            counted: true,
        }
    }

    /// A refusal not counted among rejected requests.
    fn uncounted(mut self) -> Self {
        self.counted = false;
        self
    }

    fn hec(mut self, code: u16, text: &'static str) -> Self {
        self.hec_code = code;
        self.hec_text = text;
        self
    }

    fn respond(self, app: &App, api: Api) -> Response {
        if self.counted {
            app.counters.reject(self.why);
        }
        let (status, body) = match api {
            Api::Native => (self.status, json!({ "error": self.message })),
            Api::Hec => {
                // Splunk answers a full queue with 503 "Server is busy";
                // forwarders retry that, so HEC clients get it here too.
                let status = if self.why.retry_later() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    self.status
                };
                let mut body =
                    json!({ "text": self.hec_text, "code": self.hec_code, "detail": self.message });
                if let Some(n) = self.invalid_event {
                    // Splunk numbers events from 0 here.
                    body["invalid-event-number"] = json!(n.saturating_sub(1));
                }
                (status, body)
            }
        };
        let mut response = json_response(status, &body);
        let headers = response.headers_mut();
        if self.why.retry_later() {
            headers.insert(RETRY_AFTER, HeaderValue::from(app.limits.retry_after_secs));
        }
        if self.why == Rejection::Timeout {
            // The rest of a half-read request may still be on its way.
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The refusal for failed authentication: the native API answers every
/// token problem with 401; HEC answers an unknown token with 403 as Splunk
/// does, which forwarders expect.
fn unauthorized(auth: Auth, api: Api) -> Option<Refusal> {
    let (message, code, text) = match auth {
        Auth::Granted => return None,
        Auth::Missing => (
            "a token is required: Authorization: Bearer <token>",
            2,
            "Token is required",
        ),
        Auth::Malformed => (
            "the Authorization header must be `Bearer <token>` or `Splunk <token>`",
            3,
            "Invalid authorization",
        ),
        Auth::Wrong => ("invalid token", 4, "Invalid token"),
    };
    let status = if api == Api::Hec && auth == Auth::Wrong {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    Some(Refusal::new(status, Rejection::Unauthorized, message).hec(code, text))
}

fn ingest_refusal(e: IngestError) -> Refusal {
    let message = e.to_string();
    match e {
        IngestError::RecordTooLarge { .. } => {
            Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, Rejection::TooLarge, message)
        }
        IngestError::NoData => {
            Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, message).hec(5, "No data")
        }
        IngestError::HecEventMissing { event } => Refusal {
            invalid_event: Some(event),
            ..Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, message)
                .hec(12, "Event field is required")
        },
        IngestError::HecEventBlank { event } => Refusal {
            invalid_event: Some(event),
            ..Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, message)
                .hec(13, "Event field cannot be blank")
        },
        IngestError::HecFormat { event, .. } => Refusal {
            invalid_event: Some(event),
            ..Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, message)
        },
        IngestError::BadArray(_) | IngestError::Format(_) => {
            Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, message)
        }
    }
}

fn queue_refusal(e: QueueError) -> Refusal {
    let message = e.to_string();
    match e {
        QueueError::Full { .. } => {
            Refusal::new(StatusCode::TOO_MANY_REQUESTS, Rejection::QueueFull, message)
                .hec(9, "Server is busy")
        }
        QueueError::TooMany { .. } => {
            Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, Rejection::TooLarge, message)
        }
        QueueError::Closed(_) | QueueError::NotSaved(_) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Unavailable,
            message,
        )
        .hec(9, "Server is busy"),
    }
}

fn body_refusal(e: BodyError) -> Refusal {
    match e {
        BodyError::TooLarge(m) => {
            Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, Rejection::TooLarge, m)
        }
        BodyError::Encoding(m) => {
            Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, Rejection::BadRequest, m)
        }
        BodyError::Read(m) => Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, m),
        BodyError::Busy(m) => Refusal::new(StatusCode::TOO_MANY_REQUESTS, Rejection::BodyBudget, m)
            .hec(9, "Server is busy"),
    }
}

/// What was taken from an accepted request.
struct Accepted {
    accepted: u64,
    invalid: u64,
    skipped: u64,
    errors: Vec<ingest::RecordError>,
}

/// [`take_in`] within `serve.request_timeout_ms`; past it, 408.
async fn take_in_timed(
    app: &Arc<App>,
    api: Api,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Accepted, Receipt), Refusal> {
    let limit = std::time::Duration::from_millis(app.limits.request_timeout_ms);
    match tokio::time::timeout(limit, take_in(app, api, headers, body)).await {
        Ok(taken) => taken,
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            Rejection::Timeout,
            format!(
                "the request was not received within {} ms (serve.request_timeout_ms)",
                app.limits.request_timeout_ms
            ),
        )),
    }
}

/// Authenticate, read, parse on a blocking thread, enqueue.
async fn take_in(
    app: &Arc<App>,
    api: Api,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Accepted, Receipt), Refusal> {
    app.counters.request();
    if let Some(refusal) = unauthorized(auth::check(headers, app.token.as_ref()), api) {
        return Err(refusal);
    }
    let (bytes, held) = read_body(
        headers,
        body,
        (app.limits.max_body_bytes, "serve.max_body_bytes"),
        &app.budget,
    )
    .await
    .map_err(body_refusal)?;
    let turn = app.parsing.clone().acquire_owned().await.map_err(|e| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Unavailable,
            format!("parsing is not available: {e}"),
        )
        .hec(9, "Server is busy")
    })?;
    let parsing = {
        let app = app.clone();
        // The reservation goes along: what parsing holds stays counted even
        // if the request times out meanwhile.
        tokio::task::spawn_blocking(move || {
            let max_line = app.limits.max_line_bytes;
            let parsed = match api {
                Api::Native => ingest::events_body(&bytes, app.format, &app.formats, max_line),
                Api::Hec => ingest::hec_body(&bytes, app.format, &app.formats, max_line),
            };
            drop(turn);
            (parsed, held)
        })
    };
    let (parsed, held) = parsing.await.map_err(|e| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Rejection::Unavailable,
            format!("parsing stopped unexpectedly: {e}"),
        )
        .hec(8, "Internal server error")
    })?;
    let batch: Batch = parsed.map_err(ingest_refusal)?;
    let accepted = batch.events.len() as u64;
    let receipt = app
        .queue
        .offer(batch.events, batch.invalid)
        .map_err(queue_refusal)?;
    drop(held);
    app.counters.accepted(accepted, batch.skipped);
    let taken = Accepted {
        accepted,
        invalid: batch.invalid,
        skipped: batch.skipped,
        errors: batch.errors,
    };
    Ok((taken, receipt))
}

/// [`take_in_timed`], then wait for the queue's receipt: with `--state`,
/// until a checkpoint covers the events. The wait is outside
/// `serve.request_timeout_ms` on purpose: once queued, the events are
/// scored, so answering "timed out" would make the client send them twice.
async fn take_in_settled(
    app: &Arc<App>,
    api: Api,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, Refusal> {
    let (taken, receipt) = take_in_timed(app, api, headers, body).await?;
    receipt.settled().await.map_err(queue_refusal)?;
    Ok(taken)
}

/// Every JSON answer, written with [`ueba_engine::json`]: user names,
/// tables, sources and verdict notes come from logs and analysts, so
/// hidden characters in them are escaped (a parser reads the same text).
fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    // A `Value` written to memory cannot fail: its keys are strings.
    let text = ueba_engine::json::to_vec(body).unwrap_or_default();
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        text,
    )
        .into_response()
}

async fn events(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    match take_in_settled(&app, Api::Native, &headers, body).await {
        Err(r) => r.respond(&app, Api::Native),
        Ok(a) => {
            // Nothing usable at all is the client's error; a partly valid
            // request is accepted, with the bad records named.
            let status = if a.accepted == 0 && a.invalid > 0 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            json_response(
                status,
                &json!({
                    "accepted": a.accepted,
                    "invalid": a.invalid,
                    "skipped": a.skipped,
                    "errors": a.errors,
                }),
            )
        }
    }
}

async fn hec(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    match take_in_settled(&app, Api::Hec, &headers, body).await {
        Err(r) => r.respond(&app, Api::Hec),
        Ok(a) => {
            for e in &a.errors {
                if app.hec_errors_logged.fetch_add(1, Ordering::Relaxed) < HEC_ERRORS_LOGGED {
                    tracing::info!("skipped HEC {e}");
                }
            }
            json_response(StatusCode::OK, &json!({ "text": "Success", "code": 0 }))
        }
    }
}

async fn hec_health(State(app): State<Arc<App>>) -> Response {
    if app.queue.failure().is_some() || app.queue.depth() >= app.queue.capacity() {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "text": "HEC is unhealthy, queues are full", "code": 18 }),
        )
    } else {
        json_response(
            StatusCode::OK,
            &json!({ "text": "HEC is healthy", "code": 17 }),
        )
    }
}

async fn metrics_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let auth = auth::check(&headers, app.token.as_ref());
    if let Some(r) = unauthorized(auth, Api::Native) {
        return r.respond(&app, Api::Native);
    }
    let text = metrics::render(
        &app.queue.snapshot(),
        &app.counters,
        QueueState {
            depth: app.queue.depth(),
            capacity: app.queue.capacity(),
            worker_up: app.queue.failure().is_none(),
        },
        HttpState {
            max_connections: app.limits.max_connections,
            body_bytes: app.budget.used(),
            body_budget: app.budget.limit(),
        },
    );
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let snap = app.queue.snapshot();
    let failure = app.queue.failure();
    let quarantined: Vec<_> = snap
        .detectors
        .iter()
        .filter_map(|d| {
            d.quarantined
                .as_ref()
                .map(|why| json!({ "detector": d.name, "reason": why }))
        })
        .collect();
    let ok = failure.is_none() && quarantined.is_empty();
    let body = json!({
        "status": if ok { "ok" } else { "unhealthy" },
        "worker": match &failure {
            None => "running".to_string(),
            Some(why) => format!("stopped: {why}"),
        },
        "detectors": snap.detectors.iter().map(|d| &d.name).collect::<Vec<_>>(),
        "quarantined": quarantined,
        "queue": { "depth": app.queue.depth(), "capacity": app.queue.capacity() },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &body)
}

fn request_refusal(e: RequestError) -> Refusal {
    let message = e.to_string();
    match e {
        RequestError::Malformed(_) | RequestError::BadUser(_) => {
            Refusal::new(StatusCode::BAD_REQUEST, Rejection::BadRequest, message)
        }
        RequestError::Invalid(_) => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Rejection::BadRequest,
            message,
        ),
    }
}

fn ask_refusal(e: AskError) -> Refusal {
    let message = e.to_string();
    match e {
        AskError::Closed(q) => queue_refusal(q),
        AskError::UnknownUser(_) | AskError::UnknownAlert(_) => {
            Refusal::new(StatusCode::NOT_FOUND, Rejection::BadRequest, message).uncounted()
        }
        AskError::Refused(_) => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Rejection::BadRequest,
            message,
        ),
        AskError::NoVerdictsFile => {
            Refusal::new(StatusCode::CONFLICT, Rejection::Unavailable, message).uncounted()
        }
        AskError::Record(_) => Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Rejection::Unavailable,
            message,
        ),
        AskError::Forwarding(_) => {
            Refusal::new(StatusCode::NOT_IMPLEMENTED, Rejection::Unavailable, message).uncounted()
        }
        AskError::Unavailable(_) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Unavailable,
            message,
        ),
        AskError::Internal(_) => Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Rejection::Unavailable,
            message,
        ),
    }
}

/// The answer to a request without the right token, if it has not.
fn refuse_unauthorized(app: &App, headers: &HeaderMap) -> Option<Response> {
    unauthorized(auth::check(headers, app.token.as_ref()), Api::Native)
        .map(|r| r.respond(app, Api::Native))
}

/// Ask the worker what an authenticated analyst request wants, or refuse
/// it when it did not validate.
async fn ask_worker(app: &App, ask: Result<Ask, RequestError>) -> Response {
    let ask = match ask {
        Ok(ask) => ask,
        Err(e) => return request_refusal(e).respond(app, Api::Native),
    };
    match app.queue.ask(ask).await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(e) => ask_refusal(e).respond(app, Api::Native),
    }
}

async fn incidents(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = refuse_unauthorized(&app, &headers) {
        return refused;
    }
    let ask = analyst::incidents_query(uri.query()).map(|user| Ask::Incidents { user });
    ask_worker(&app, ask).await
}

async fn user(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    user: Result<Path<String>, PathRejection>,
) -> Response {
    if let Some(refused) = refuse_unauthorized(&app, &headers) {
        return refused;
    }
    let ask = match user {
        Ok(Path(user)) => analyst::check_user(&user).map(|()| Ask::User { user }),
        Err(e) => Err(RequestError::BadUser(format!(
            "the user name in the path: {e}"
        ))),
    };
    ask_worker(&app, ask).await
}

async fn feedback(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    // Authenticated before the body is read: an unknown client costs
    // nothing of the body budget.
    if let Some(refused) = refuse_unauthorized(&app, &headers) {
        return refused;
    }
    let limit = std::time::Duration::from_millis(app.limits.request_timeout_ms);
    let read = read_body(
        &headers,
        body,
        (analyst::MAX_FEEDBACK_BYTES, "the most a verdict may take"),
        &app.budget,
    );
    let bytes = match tokio::time::timeout(limit, read).await {
        Ok(Ok((bytes, _held))) => bytes,
        Ok(Err(e)) => return body_refusal(e).respond(&app, Api::Native),
        Err(_) => {
            return Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                Rejection::Timeout,
                format!(
                    "the request was not received within {} ms (serve.request_timeout_ms)",
                    app.limits.request_timeout_ms
                ),
            )
            .respond(&app, Api::Native);
        }
    };
    ask_worker(&app, analyst::parse_feedback(&bytes).map(Ask::Feedback)).await
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({
            "error": "no such endpoint; POST /v1/events, /services/collector/event or /v1/feedback, GET /v1/incidents, /v1/users/{user}, /metrics or /healthz"
        }),
    )
}

/// A known endpoint asked with another method: 405 with the `Allow`
/// header (set by the router) and a JSON body saying so, like every other
/// refusal, rather than an empty answer.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({
            "error": format!(
                "{} is not allowed on {}; the Allow header says which methods are",
                ueba_engine::event::clip(method.as_str()),
                ueba_engine::event::clip(uri.path())
            )
        }),
    )
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
