//! Running the server: on a listener ([`run`]), or the whole `workhorse serve` ([`serve`],
//! or [`serve_listener`] on a listener bound by the caller), on the embedded SQLite store
//! or, as one node of a cluster, on PostgreSQL (`database`).

mod database;

use crate::auth::{Secret, TokenFileError, Tokens, tokens_path};
use crate::tls::{TlsFiles, TlsListener};
use crate::{ServerConfig, router_with_shutdown};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workhorse_core::{SystemClock, limits};
use workhorse_engine::{Engine, EngineConfig};
use workhorse_store::StoreError;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file or socket operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token file could not be read.
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    /// Auth is on but no token would be accepted: nobody could use the server.
    #[error(
        "auth is on (it is by default when --listen is not a loopback address) but no API token is configured: \
         create one with `workhorse tokens create --role admin --data-dir {}`, \
         or set WORKHORSE_ADMIN_TOKEN (or pass --auth=false to serve without tokens)",
        data_dir.display()
    )]
    NoTokens { data_dir: PathBuf },
    /// The TLS certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

/// What `workhorse serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Directory of the SQLite database (`<data_dir>/workhorse.db`) and of the token
    /// file; created if missing.
    pub data_dir: PathBuf,
    /// A `postgres://` URL: run as one node of a cluster on that database instead of on
    /// the SQLite database in `data_dir`. Migrated at start.
    pub database: Option<String>,
    /// Pooled PostgreSQL connections of this node (the ready listener and the leader
    /// election hold one more each).
    pub database_max_connections: u32,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Lease length; workers heartbeat every third of it.
    pub lease: Duration,
    /// How long finished jobs are kept.
    pub retention: Duration,
    /// Fallback re-check of waiting fetches (see [`EngineConfig::recheck`]); signals, and
    /// in a cluster the database's notifications, wake them before it.
    pub recheck: Duration,
    /// When set, the bound address (`127.0.0.1:PORT`) is written to this file once the
    /// server listens, so a test or script that passed port 0 can learn the port.
    pub port_file: Option<PathBuf>,
    /// Require API tokens. `None`: on unless `listen` is a loopback address.
    pub auth: Option<bool>,
    /// A bootstrap admin token (`WORKHORSE_ADMIN_TOKEN`), accepted beside the token file.
    pub admin_token: Option<Secret>,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsFiles>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        let engine = EngineConfig::default();
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 7431)),
            data_dir: PathBuf::from("./workhorse-data"),
            database: None,
            database_max_connections: 10,
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            lease: engine.lease,
            retention: engine.retention,
            recheck: engine.recheck,
            port_file: None,
            auth: None,
            admin_token: None,
            tls: None,
        }
    }
}

impl ServeOptions {
    /// Whether requests need a token: as asked, else on off loopback.
    pub fn auth_enabled(&self) -> bool {
        self.auth.unwrap_or(!self.listen.ip().is_loopback())
    }

    /// The accepted tokens when auth is on; refuses to start with none.
    fn tokens(&self) -> Result<Option<Tokens>, ServerError> {
        if !self.auth_enabled() {
            if !self.listen.ip().is_loopback() {
                tracing::warn!(listen = %self.listen, "auth is off on a non-loopback address: anyone who can reach it may use this server");
            }
            return Ok(None);
        }
        let path = tokens_path(&self.data_dir);
        let tokens = Tokens::load(Some(path), self.admin_token.as_ref())?;
        if tokens.is_empty() {
            return Err(ServerError::NoTokens {
                data_dir: self.data_dir.clone(),
            });
        }
        tracing::info!(tokens = tokens.len(), "auth on: API tokens required");
        Ok(Some(tokens))
    }
}

/// Serves the API on `listener` until `shutdown` is cancelled, then finishes the requests
/// in flight (long-polls answer early, worker sessions close) and returns.
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
/// (see [`TlsFiles::acceptor`]) first.
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

/// `workhorse serve`: opens the store (`<data_dir>/workhorse.db`, or the PostgreSQL
/// `database`, migrated), starts the elector (whose leader runs the leader-only
/// services: scheduler, rescuer, cleaner, schedule firer), binds, logs `workhorse listening on http://ADDR`, and serves until `shutdown`
/// is cancelled.
pub async fn serve(opts: ServeOptions, shutdown: CancellationToken) -> Result<(), ServerError> {
    serve_with(opts, None, shutdown).await
}

/// [`serve`] on a `listener` the caller bound, so that it knows the address (port 0) before
/// the server starts; `opts.listen` is replaced by that address. Connections wait in the
/// listener's backlog until the store is open. The Python package's embedded server runs
/// on this.
pub async fn serve_listener(
    listener: TcpListener,
    mut opts: ServeOptions,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    opts.listen = listener
        .local_addr()
        .map_err(io("reading the bound address"))?;
    serve_with(opts, Some(listener), shutdown).await
}

/// [`serve`], binding `opts.listen` once the store is open unless a listener is given.
async fn serve_with(
    opts: ServeOptions,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(io(format!("creating {}", opts.data_dir.display())))?;
    let auth = opts.tokens()?;
    let tls = opts.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
    let config = EngineConfig {
        retention: opts.retention,
        recheck: opts.recheck,
        ..EngineConfig::with_lease(opts.lease)
    };
    let node = database::Database::open(&opts)
        .await?
        .node(Arc::new(SystemClock), config);
    let engine = node.engine.clone();
    tracing::info!(store = engine.store_name(), "store open");
    let services = engine.start_elected(&shutdown, Arc::clone(&node.leader));

    let listener = match listener {
        Some(listener) => listener,
        None => TcpListener::bind(opts.listen)
            .await
            .map_err(io(format!("binding {}", opts.listen)))?,
    };
    let addr = listener
        .local_addr()
        .map_err(io("reading the bound address"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, "workhorse listening on {scheme}://{addr}");
    if let Some(path) = &opts.port_file {
        write_port_file(path, addr)?;
    }
    let http = ServerConfig {
        max_body_bytes: opts.max_body_bytes,
        auth,
    };
    let served = match tls {
        Some(acceptor) => run_tls(listener, acceptor, engine, http, shutdown.clone()).await,
        None => run(listener, engine, http, shutdown.clone()).await,
    };
    // Also stop the services when serving failed on its own.
    shutdown.cancel();
    services.wait().await;
    node.close().await;
    served
}

/// Writes the address atomically (temp file, then rename): a reader never sees half of it.
fn write_port_file(path: &std::path::Path, addr: SocketAddr) -> Result<(), ServerError> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, addr.to_string()).map_err(io(format!("writing {}", temp.display())))?;
    std::fs::rename(&temp, path).map_err(io(format!("writing {}", path.display())))
}
