//! Running the server: on a listener ([`run`]), or the whole `workhorse serve` ([`serve`]).

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
use workhorse_store_sqlite::SqliteStore;

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
    /// Directory of the database (`<data_dir>/workhorse.db`); created if missing.
    pub data_dir: PathBuf,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Lease length; workers heartbeat every third of it.
    pub lease: Duration,
    /// How long finished jobs are kept.
    pub retention: Duration,
    /// When set, the bound address (`127.0.0.1:PORT`) is written to this file once the
    /// server listens, so a test or script that passed port 0 can learn the port.
    pub port_file: Option<PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        let engine = EngineConfig::default();
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 7431)),
            data_dir: PathBuf::from("./workhorse-data"),
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            lease: engine.lease,
            retention: engine.retention,
            port_file: None,
        }
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
    let app = router_with_shutdown(engine, config, shutdown.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(io("serving HTTP"))
}

/// `workhorse serve`: opens `<data_dir>/workhorse.db`, starts the engine's services, binds,
/// logs `workhorse listening on http://ADDR`, and serves until `shutdown` is cancelled.
pub async fn serve(opts: ServeOptions, shutdown: CancellationToken) -> Result<(), ServerError> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(io(format!("creating {}", opts.data_dir.display())))?;
    let store = SqliteStore::open(&opts.data_dir.join("workhorse.db"))?;
    let config = EngineConfig {
        retention: opts.retention,
        ..EngineConfig::with_lease(opts.lease)
    };
    let engine = Engine::new(Arc::new(store), Arc::new(SystemClock), config);
    let services = engine.start(&shutdown);

    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(io(format!("binding {}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(io("reading the bound address"))?;
    tracing::info!(%addr, "workhorse listening on http://{addr}");
    if let Some(path) = &opts.port_file {
        write_port_file(path, addr)?;
    }
    let http = ServerConfig {
        max_body_bytes: opts.max_body_bytes,
    };
    let served = run(listener, engine, http, shutdown.clone()).await;
    // Also stop the services when serving failed on its own.
    shutdown.cancel();
    services.wait().await;
    served
}

/// Writes the address atomically (temp file, then rename): a reader never sees half of it.
fn write_port_file(path: &std::path::Path, addr: SocketAddr) -> Result<(), ServerError> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, addr.to_string()).map_err(io(format!("writing {}", temp.display())))?;
    std::fs::rename(&temp, path).map_err(io(format!("writing {}", path.display())))
}
