//! `ueba serve`: flags, the token, signals and the summary around the
//! library's HTTP service (`ueba_serve`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use ueba_engine::identity::Identities;
use ueba_engine::pipeline::Scorer;
use ueba_formats::sources::{InputFormat, parser_for};
use ueba_serve::metrics::Rejection;
use ueba_serve::{self as serve, App, Queue, Token, reload};

use ueba_engine::state::StateDir;

use crate::{OutputArgs, alert_sink_at, load_config, runtime_for, secret};

/// The environment variable read for the token when there is no `--token-file`.
const TOKEN_ENV: &str = "UEBA_TOKEN";

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. Once bound,
    /// `listening on ADDR` is printed to stderr.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: String,
    /// File holding the token clients must send as `Authorization: Bearer
    /// <token>` or `Authorization: Splunk <token>`; else the UEBA_TOKEN
    /// environment variable. There is no token flag: arguments are visible
    /// to every user in `ps`. Without a token only a loopback address is
    /// allowed.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Identity CSV: columns `user`, `peer_group`, `timezone` (IANA), optionally `criticality`, `watchlists`, found by name (README "Identity file").
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    /// Configuration file (TOML); `[serve]` sets the request limits and the
    /// queue size, and `ueba config` prints every key with its default.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Directory of extra detector plugins (`*.wasm` components); a plugin
    /// with the name of a built-in one replaces it. The directory is
    /// watched: a new or changed plugin is loaded between two batches (its
    /// state carried over when it accepts it), a removed one stops, and one
    /// that fails to load leaves the running version scoring; each change
    /// is a health event on stderr.
    #[arg(long, short = 'p')]
    plugins: Option<PathBuf>,
    #[command(flatten)]
    shards: crate::ShardArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Format of the records POSTed (and of HEC events sent as strings);
    /// `auto` decides per request (README "Formats").
    #[arg(long, value_parser = crate::input_format(), default_value = "auto")]
    format: InputFormat,
    /// Users shown in the summary printed at shutdown.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// No summary at shutdown.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Keep durable state in DIR: baselines, risk and symbols are restored
    /// from it at start, checkpointed while serving, and saved at shutdown
    /// after every accepted event has been scored. A request is answered
    /// only once a checkpoint holds its events, so what a client was told is
    /// taken survives a kill, and what it was not told it sends again; the
    /// alert file (`--output`) is appended to, cut back on resume to its
    /// length at the checkpoint so no alert is written twice.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Analysts' verdicts on alerts (JSON lines: time, id, verdict benign or
    /// malicious, note, analyst; README "Verdicts"). Read at start, each
    /// applied at its event time (a resumed service skips those its
    /// checkpoint already applied; a bad line stops start-up naming
    /// FILE:LINE), and `POST /v1/feedback` appends to it, fsynced before it
    /// answers. With --state, default DIR/verdicts.jsonl; without either,
    /// the service refuses verdicts (409), since it would lose them.
    #[arg(long, value_name = "FILE")]
    verdicts: Option<PathBuf>,
    /// With --state: checkpoint after this many events.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    checkpoint_events: u64,
    /// With --state: checkpoint at least this often (seconds) while events arrive.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    checkpoint_secs: u64,
    /// With --state: requests waiting for their answer share one checkpoint,
    /// taken at most once per this many milliseconds (and never more than a
    /// fifth of the time, however large the state). Lower answers sooner;
    /// higher saves less often under many small requests.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    ack_interval_ms: u64,
    /// Forward instead of scoring: store every accepted event in the NATS
    /// JetStream events stream at URL, as `ueba publish` does, for `ueba
    /// worker`s to score (README "Scale out"). A request is answered once
    /// the server has stored its events. POST /v1/feedback publishes the
    /// verdict for the alert's worker, as `ueba feedback --nats` does;
    /// GET /v1/users/{user} and /v1/incidents answer from what the workers
    /// wrote at their last checkpoints.
    /// Scoring options (--state, --plugins, --verdicts, -i, alert outputs,
    /// --shards) belong to the workers then and are refused here.
    #[arg(long, value_name = "URL", requires = "partitions")]
    nats: Option<String>,
    #[command(flatten)]
    nats_auth: crate::cmd_nats::NatsAuthArgs,
    /// With --nats: partitions users are split into, as `ueba publish
    /// --partitions` (fixed when the stream is created).
    #[arg(long, value_name = "P", requires = "nats",
          value_parser = clap::value_parser!(u32).range(1..=ueba_engine::pipeline::MAX_SHARDS as i64))]
    partitions: Option<u32>,
}

/// Run the service until SIGINT or SIGTERM (or until scoring fails), then
/// score everything accepted, flush the sink and print the summary.
pub(crate) fn run(a: ServeArgs) -> Result<()> {
    let cfg = load_config(a.config.as_deref())?;
    let token = read_token(a.token_file.as_deref())?;
    let addr = resolve(&a.listen)?;
    serve::check_exposure(addr, token.as_ref())?;
    // A bad `pg_log_line_prefix` is a start-up error, not one per request.
    parser_for(a.format, &cfg.formats)?;
    if let (Some(url), Some(partitions)) = (&a.nats, a.partitions) {
        return forward(&a, url, partitions, cfg, token, addr);
    }
    let identities = match &a.identities {
        Some(p) => Identities::load(p)?,
        None => Identities::default(),
    };
    identities.check_watchlists(&cfg.watchlists)?;
    let runtime = runtime_for(&cfg)?;
    // What DIR holds is noted before loading, so that a file changed while
    // loading looks changed to the watcher and is loaded again.
    let baseline = a.plugins.as_deref().map(reload::Baseline::scan);
    let plugins = crate::load_detectors(&runtime, &cfg, a.config.as_deref(), a.plugins.as_deref())?;
    let baseline = baseline.map(|b| b.loaded(&plugins));
    let (durable, saved, cut_at) = match &a.state {
        Some(dir) => {
            let dir = StateDir::open(dir)?;
            // Events arrive over HTTP: no input to reposition, only the
            // alert file to cut back to its length at the checkpoint.
            let plan = crate::durable::plan(&dir, None, a.out.file(), true)?;
            let durable = serve::queue::Durable {
                dir,
                every_events: a.checkpoint_events.max(1),
                every: Duration::from_secs(a.checkpoint_secs.max(1)),
                ack_interval: Duration::from_millis(a.ack_interval_ms),
                output: a.out.file().map(crate::durable::absolute),
            };
            (Some(durable), plan.checkpoint, plan.output_len)
        }
        None => (None, None, None),
    };
    // A resumed service appends: the alerts already written up to the
    // checkpoint stay (those after it are written again as the clients
    // resend their unanswered requests); an alert file the checkpoint does
    // not know is appended to as it is.
    let append_at = match (&saved, a.out.file()) {
        (Some(_), Some(p)) => cut_at.or_else(|| std::fs::metadata(p).ok().map(|m| m.len())),
        _ => None,
    };
    let sink = alert_sink_at(&a.out, append_at)?;
    let quiet = a.quiet;
    let where_saved = durable.as_ref().map(|d| d.dir.checkpoint_path());
    let verdicts_path = a
        .verdicts
        .clone()
        .or_else(|| {
            a.state
                .as_ref()
                .map(|d| d.join(ueba_engine::risk::verdicts::FILE_NAME))
        })
        .map(|p| crate::durable::absolute(&p));
    // POST /v1/feedback creates the file, not its directory: a missing one
    // is found now rather than at the first verdict.
    if let Some(parent) = verdicts_path.as_deref().and_then(Path::parent)
        && !parent.is_dir()
    {
        bail!(
            "--verdicts: the directory {} does not exist",
            parent.display()
        );
    }
    let verdicts_read = verdicts_path.clone();
    let scorer_cfg = cfg.clone();
    let shards = a.shards.shards.into();
    // The scorer lives on the worker thread (its health sink need not be
    // Send), so the saved state is restored there; a failure stops start-up.
    let build = move || {
        let mut scorer = Scorer::new(scorer_cfg, identities, plugins, sink)
            .with_shards(shards)
            .map_err(|e| e.to_string())?;
        if let (Some(cp), Some(path)) = (saved, where_saved) {
            if !quiet {
                tracing::info!(
                    "resuming from {} (written {}): {} events scored so far",
                    path.display(),
                    cp.written,
                    ueba_lab::bench::group(cp.scorer.events() as f64)
                );
            }
            scorer
                .restore_state(cp.scorer)
                .map_err(|e| format!("resuming from {}: {e}", path.display()))?;
        }
        // After the restore, so the verdicts the checkpoint already applied
        // are skipped.
        if let Some(path) = &verdicts_read {
            let all = ueba_engine::risk::verdicts::read(path)
                .map_err(|e| format!("reading the verdicts: {e}"))?;
            scorer.sync_verdicts(all);
        }
        Ok(scorer)
    };
    let limits = cfg.serve.clone();
    let formats = cfg.formats.clone();
    let reload_cfg = cfg.clone();
    let (queue, mut worker) = serve::start(
        build,
        limits.queue_events,
        Duration::from_millis(limits.idle_flush_ms),
        durable,
        verdicts_path,
    )?;
    worker.ready()?;
    let watcher = match (a.plugins.as_deref(), baseline) {
        (Some(dir), Some(baseline)) => {
            match reload::watch(dir, baseline, runtime.clone(), reload_cfg, queue.clone()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!("{e}; the plugins loaded at start stay until a restart");
                    None
                }
            }
        }
        _ => None,
    };
    let app = Arc::new(App::new(queue.clone(), a.format, formats, limits, token));
    let served = serve_http(addr, &app, &queue);
    // No plugin change after this point: the state saved at shutdown is
    // that of the detectors the summary names.
    if let Some(w) = watcher {
        w.stop();
    }
    queue.close();
    let pending = queue.depth();
    if pending > 0 && !a.quiet {
        tracing::info!("scoring the {pending} queued events");
    }
    let joined = worker.join();
    served?;
    let (report, _sink) = joined.context("scoring")?;
    if !a.quiet {
        eprint!("{}", report.render(a.top));
        print_requests(&app);
    }
    Ok(())
}

/// `ueba serve --nats`: the HTTP side as always, with the events stored in
/// the NATS events stream instead of scored (`ueba_serve::forward`).
fn forward(
    a: &ServeArgs,
    url: &str,
    partitions: u32,
    cfg: ueba_engine::config::Config,
    token: Option<Token>,
    addr: SocketAddr,
) -> Result<()> {
    let scoring: Vec<&str> = [
        (a.state.is_some(), "--state"),
        (a.plugins.is_some(), "--plugins"),
        (a.verdicts.is_some(), "--verdicts"),
        (a.identities.is_some(), "--identities"),
        (a.out.output.is_some(), "--output"),
        (a.out.hec_url.is_some(), "--hec-url"),
        (a.out.syslog.is_some(), "--syslog"),
        (a.shards.shards > 1, "--shards"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    if !scoring.is_empty() {
        bail!(
            "--nats forwards events for `ueba worker`s to score, so {} belong{} to the workers, not here",
            scoring.join(", "),
            if scoring.len() == 1 { "s" } else { "" }
        );
    }
    let limits = cfg.serve.clone();
    let to = a.nats_auth.server(url)?;
    let shown = to.to_string();
    let (queue, mut forwarder) = serve::forward::start(
        move || crate::cmd_nats::NatsForward::connect(&to, partitions),
        limits.queue_events,
    )?;
    forwarder.ready()?;
    if !a.quiet {
        tracing::info!(
            "forwarding events to {} on {} in {partitions} partitions",
            ueba_nats::names::EVENTS_STREAM,
            shown
        );
    }
    let app = Arc::new(App::new(
        queue.clone(),
        a.format,
        cfg.formats,
        limits,
        token,
    ));
    let served = serve_http(addr, &app, &queue);
    queue.close();
    let pending = queue.depth();
    if pending > 0 && !a.quiet {
        tracing::info!("storing the {pending} queued events");
    }
    let joined = forwarder.join();
    served?;
    let done = joined.context("forwarding")?;
    if !a.quiet {
        eprintln!(
            "forwarded {} events to {} in {} rounds ({} invalid records refused; {} events in {} failed rounds refused for their clients to send again)",
            done.events,
            done.destination,
            done.rounds,
            done.invalid,
            done.refused,
            done.failed_rounds
        );
        print_requests(&app);
    }
    Ok(())
}

/// Make room for the connections, then serve HTTP on `addr` until SIGINT,
/// SIGTERM or the queue's worker failing. Whatever happens on the HTTP
/// side, what was accepted is still handled by the caller afterwards.
fn serve_http(addr: SocketAddr, app: &Arc<App>, queue: &Queue) -> Result<serve::Stopped> {
    let max_connections = app.limits().max_connections;
    let wanted = max_connections as u64 + serve::SPARE_DESCRIPTORS;
    if let Some(limit) = serve::raise_descriptor_limit(max_connections)
        && limit < wanted
    {
        tracing::warn!(
            "the process may open {limit} files, fewer than serve.max_connections ({}) plus {} for its own files; accepting will fail (and be retried) once they are used up. Raise the limit (ulimit -n, LimitNOFILE) or lower serve.max_connections",
            max_connections,
            serve::SPARE_DESCRIPTORS
        );
    }
    // Timers as well as I/O: header, idle and request timeouts, the
    // shutdown deadline and the pause after a failed accept need them.
    let served = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("starting the HTTP runtime")
        .and_then(|rt| {
            let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(listen_and_serve(addr, app.clone(), queue.clone()))
            }))
            .unwrap_or_else(|_| Err(anyhow!("the HTTP server stopped unexpectedly")));
            // Parsing still running on a blocking thread is not waited for.
            rt.shutdown_timeout(Duration::from_millis(100));
            served
        });
    if let Ok(stopped) = &served
        && stopped.cut_off > 0
    {
        tracing::info!(
            "closed {} connections whose requests did not finish within serve.shutdown_timeout_ms",
            stopped.cut_off
        );
    }
    served
}

/// The requests refused, by reason, and the records skipped, for the
/// summary at shutdown.
fn print_requests(app: &App) {
    let c = app.counters();
    eprintln!(
        "requests refused: queue full {}, unauthorized {}, too large {}, bad request {}, unavailable {}, body budget full {}, timed out {}",
        c.rejected(Rejection::QueueFull),
        c.rejected(Rejection::Unauthorized),
        c.rejected(Rejection::TooLarge),
        c.rejected(Rejection::BadRequest),
        c.rejected(Rejection::Unavailable),
        c.rejected(Rejection::BodyBudget),
        c.rejected(Rejection::Timeout),
    );
    if c.skipped() > 0 {
        eprintln!(
            "records skipped as not data access (connects, other log lines, statements naming no table): {}",
            c.skipped()
        );
    }
}

async fn listen_and_serve(addr: SocketAddr, app: Arc<App>, queue: Queue) -> Result<serve::Stopped> {
    // Handlers are installed before anyone is told the address, so a
    // signal sent right after `listening on` is never the default action.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    tracing::info!("listening on {bound}");
    let stop = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: no longer accepting requests"),
            _ = int.recv() => tracing::info!("SIGINT: no longer accepting requests"),
            _ = queue.failed() => tracing::warn!("scoring stopped; no longer accepting requests"),
        }
    };
    Ok(serve::serve(listener, app, stop).await)
}

fn resolve(listen: &str) -> Result<SocketAddr> {
    listen
        .to_socket_addrs()
        .with_context(|| format!("--listen {listen}: expected HOST:PORT, e.g. 127.0.0.1:8088"))?
        .next()
        .ok_or_else(|| anyhow!("--listen {listen}: the name resolves to no address"))
}

/// The token from `--token-file` or `$UEBA_TOKEN`; both at once is an
/// error, since it is unclear which one clients were given.
fn read_token(file: Option<&Path>) -> Result<Option<Token>> {
    let Some(text) = secret::from_file_or_env(file, "--token-file", TOKEN_ENV)? else {
        return Ok(None);
    };
    let source = match file {
        Some(path) => format!("the token in {}", path.display()),
        None => TOKEN_ENV.to_string(),
    };
    Token::new(&text).map(Some).context(source)
}
