//! Accepting connections, and closing them when clients misbehave.
//!
//! The service runs its own accept loop over hyper (`axum::serve` offers no
//! timeouts), so that a hostile or broken client cannot take it down:
//!
//! - At most `serve.max_connections` are open; past it the loop waits for
//!   one to close before accepting another (the kernel's backlog holds the
//!   rest), so clients cannot use up the process's file descriptors.
//! - A failed accept (out of descriptors, `EMFILE`, when the limit is lower
//!   than the cap) is counted, warned about at most every ten seconds, and
//!   retried after a growing pause of up to a second; it never stops the
//!   service, since connections closing will free descriptors again.
//! - A connection must send a request's complete headers within
//!   `serve.header_read_timeout_ms` of opening or of its previous response
//!   (hyper enforces it), and one on which no byte moves either way for
//!   `serve.idle_timeout_ms` is closed, whatever it is doing. The whole
//!   request is bounded by `serve.request_timeout_ms` in the handlers.
//! - hyper's read buffer per connection is kept to about [`MAX_BUF`], so
//!   open connections cannot pin much memory with long headers. hyper
//!   checks the limit between reads, so headers arriving in one burst may
//!   pass it by up to one read (about 112 KiB in all was accepted); past
//!   that the request gets 431.
//!
//! At shutdown the listener is closed, every connection is told to finish
//! its request in flight and close, and the loop waits at most
//! `serve.shutdown_timeout_ms` for them; connections still open then (a
//! client that stalled mid-request) are closed, so the caller can go on to
//! score and checkpoint what was accepted.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::http::{App, router};
use super::metrics::Closed;

/// hyper's read buffer per connection, at most, bytes: request headers
/// longer than this are refused.
pub const MAX_BUF: usize = 64 << 10;

/// Longest pause between two failed accepts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accept failures are warned about at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// How serving ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Connections still open when `serve.shutdown_timeout_ms` ran out,
    /// closed then with their requests unfinished.
    pub cut_off: usize,
}

/// Accept connections on `listener` and serve `app` on them until
/// `shutdown` resolves; then let requests in flight finish, for at most
/// `serve.shutdown_timeout_ms`.
pub async fn run<F>(listener: TcpListener, app: Arc<App>, shutdown: F) -> Stopped
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let limits = app.limits().clone();
    let routes = router(app.clone());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_buf_size(MAX_BUF);
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let mut tasks = JoinSet::new();
    let mut failures = AcceptFailures::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                failures.succeeded();
                app.counters().connection_opened();
                let open = Open {
                    app: app.clone(),
                    _permit: permit,
                };
                tasks.spawn(connection(
                    stream,
                    http.clone(),
                    routes.clone(),
                    open,
                    stop_rx.clone(),
                    idle,
                ));
            }
            Err(e) => {
                app.counters().accept_error();
                if let Some(pause) = failures.failed(&e) {
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }
    // New connections are refused from here on.
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Duration::from_millis(limits.shutdown_timeout_ms);
    let drained = tokio::time::timeout(deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let mut stopped = Stopped::default();
    if drained.is_err() {
        stopped.cut_off = tasks.len();
        for _ in 0..stopped.cut_off {
            app.counters().close(Closed::Shutdown);
        }
        tasks.shutdown().await;
    }
    stopped
}

/// An open connection's hold on the cap and on the gauge, released however
/// its task ends (aborted at the shutdown deadline included).
struct Open {
    app: Arc<App>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.app.counters().connection_closed();
    }
}

async fn connection(
    stream: TcpStream,
    http: http1::Builder,
    routes: axum::Router,
    open: Open,
    mut stop: watch::Receiver<bool>,
    idle: Duration,
) {
    // Answers are small and written whole: no reason to delay them.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let conn = http.serve_connection(io, TowerToHyperService::new(routes));
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served
                    && e.is_timeout()
                {
                    open.app.counters().close(Closed::HeaderTimeout);
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                // Finish the request in flight, if any, then close.
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = activity.idle_for(idle) => {
                open.app.counters().close(Closed::IdleTimeout);
                return;
            }
        }
    }
}

/// When bytes last moved on a connection.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.last_ms.load(Ordering::Relaxed);
            tokio::time::sleep_until(self.start + Duration::from_millis(last) + idle).await;
            if self.last_ms.load(Ordering::Relaxed) == last {
                return;
            }
        }
    }
}

/// A connection's socket, noting every read or write that moved bytes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Failed accepts in a row: how long to pause, and when to warn.
#[derive(Default)]
struct AcceptFailures {
    in_a_row: u32,
    unreported: u64,
    warned_at: Option<Instant>,
}

impl AcceptFailures {
    fn succeeded(&mut self) {
        self.in_a_row = 0;
    }

    /// Note a failure; the pause before accepting again, or `None` to try
    /// again at once (the peer gave up before it was accepted).
    fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        if matches!(
            e.kind(),
            ConnectionAborted | ConnectionRefused | ConnectionReset
        ) {
            return None;
        }
        let pause = (Duration::from_millis(10) * 2u32.pow(self.in_a_row.min(7))).min(MAX_BACKOFF);
        self.in_a_row += 1;
        self.unreported += 1;
        if self.warned_at.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            tracing::warn!(
                failures = self.unreported,
                retry_ms = pause.as_millis() as u64,
                error = %e,
                "accepting a connection failed ({} times since the last warning): {e}; retrying in {} ms. If the process is out of file descriptors, raise its limit (ulimit -n, LimitNOFILE) or lower serve.max_connections",
                self.unreported,
                pause.as_millis()
            );
            self.unreported = 0;
            self.warned_at = Some(Instant::now());
        }
        Some(pause)
    }
}

#[cfg(test)]
#[path = "listen_tests.rs"]
mod tests;
