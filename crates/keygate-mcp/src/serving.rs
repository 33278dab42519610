//! The thread agents' requests are served on: a single-threaded tokio runtime of its own,
//! running the accept loop, every connection, and every task a request spawns (upstream
//! connections, rmcp's session workers, the rest of a call whose agent hung up).
//!
//! On tokio's multi-threaded runtime, one agent calling in a row bounced each call between the
//! two workers (the upstream's answer, the agent's next request and their tasks woken on
//! whichever thread was parked in the reactor): at one connection that cost 38–58 µs of CPU
//! and 22–46 µs of latency per call, and at eight connections it gave no more calls per
//! second than this one thread does (`tools/load/run`, BENCHMARKS.md). The work that need
//! not wait for a call (outcomes, checkpoints, the team sync, sweepers, the agent socket)
//! stays on the caller's runtime and threads, so it runs beside the calls, not between them.

use std::io;

use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Serve `app` on `listener` on a thread of its own until `stop`, then let open connections
/// finish. The answer says how serving ended; a closed channel means the thread panicked.
pub(crate) fn spawn(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: CancellationToken,
) -> io::Result<oneshot::Receiver<io::Result<()>>> {
    // The listener moves to the serving thread's reactor.
    let listener = listener.into_std()?;
    let (done, served) = oneshot::channel();
    std::thread::Builder::new().name("keygate-serve".into()).spawn(move || {
        let _ = done.send(serve(listener, app, stop));
    })?;
    Ok(served)
}

fn serve(listener: std::net::TcpListener, app: Router, stop: CancellationToken) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        // MCP answers in small writes (SSE events); without TCP_NODELAY each one can wait
        // ~40 ms for the client's delayed ACK.
        let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await
    })
}
