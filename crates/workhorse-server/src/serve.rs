//! Running the server on a listener the caller bound ([`run`], or [`run_tls`] for HTTPS),
//! over an engine the caller built and started. Opening a store and choosing one is the
//! node's business (`workhorse-node`), not the HTTP layer's.

use crate::tls::TlsListener;
use crate::{ServerConfig, router_with_shutdown};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workhorse_engine::Engine;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A socket operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

/// Serves the API on `listener` until `shutdown` is cancelled, then finishes the requests
/// in flight (long-polls answer early, worker sessions close) and returns. The engine's
/// background services are the caller's to start (`Engine::start`, `Engine::start_elected`).
pub async fn run(
    listener: TcpListener,
    engine: Engine,
    config: ServerConfig,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    use axum::serve::ListenerExt as _;
    // Small frames (a pushed job, an ack answer) must leave at once: without NODELAY,
    // Nagle holds one back until the previous frame's delayed ACK, adding tens of ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    });
    serve_on(listener, engine, config, shutdown).await
}

/// [`run`] over HTTPS: each connection on `listener` is TLS-handshaken with `acceptor`
/// (see [`TlsFiles::acceptor`](crate::TlsFiles::acceptor)) first.
pub async fn run_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    engine: Engine,
    config: ServerConfig,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let listener = TlsListener::new(listener, acceptor).map_err(io("reading the bound address"))?;
    serve_on(listener, engine, config, shutdown).await
}

/// Also runs, until `shutdown`, what the router relies on: the metrics upkeep and,
/// with auth on, the token file watcher.
async fn serve_on<L>(
    listener: L,
    engine: Engine,
    config: ServerConfig,
    shutdown: CancellationToken,
) -> Result<(), ServerError>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    crate::metrics::spawn_upkeep(engine.clone(), shutdown.clone());
    if let Some(tokens) = &config.auth {
        tokens.watch(shutdown.clone());
    }
    let app = router_with_shutdown(engine, config, shutdown.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(io("serving HTTP"))
}
