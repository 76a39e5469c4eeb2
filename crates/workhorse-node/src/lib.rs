//! One Workhorse node: what `workhorse serve` (and the Python package's embedded server)
//! runs.
//!
//! A node is one process serving the API over one store. [`serve`] assembles it:
//!
//! 1. opens the store: the embedded SQLite database at `<data_dir>/workhorse.db`, or, with
//!    [`ServeOptions::database`], a PostgreSQL database shared with the other nodes of a
//!    cluster (migrated, its ready notifications attached);
//! 2. starts the engine under its leader elector: alone on SQLite the node always leads;
//!    on PostgreSQL it competes for the store's advisory lock, and only the leader runs the
//!    scheduler, rescuer, cleaner and schedule firer;
//! 3. binds, writes the port file, and runs the HTTP server (`workhorse_server::run`, or
//!    `run_tls`) with the API tokens it loaded, until shutdown;
//! 4. stops gracefully: requests in flight finish, the services stop, leadership is
//!    resigned, the database connections close.
//!
//! This is the one crate that knows every store and the server; the server knows only the
//! engine, so the HTTP layer never chooses or opens a store.

mod database;
mod error;
mod options;

pub use error::NodeError;
pub use options::ServeOptions;
pub use workhorse_server::TlsFiles;
pub use workhorse_server::auth::Secret;

use error::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workhorse_core::SystemClock;
use workhorse_server::ServerConfig;

/// `workhorse serve`: opens the store (`<data_dir>/workhorse.db`, or the PostgreSQL
/// `database`, migrated), starts the elector (whose leader runs the leader-only
/// services: scheduler, rescuer, cleaner, schedule firer), binds, logs `workhorse listening
/// on http://ADDR`, and serves until `shutdown` is cancelled.
pub async fn serve(opts: ServeOptions, shutdown: CancellationToken) -> Result<(), NodeError> {
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
) -> Result<(), NodeError> {
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
) -> Result<(), NodeError> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(io(format!("creating {}", opts.data_dir.display())))?;
    let auth = opts.tokens()?;
    let tls = opts.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
    let node = database::Database::open(&opts)
        .await?
        .node(Arc::new(SystemClock), opts.engine_config());
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
        Some(acceptor) => {
            workhorse_server::run_tls(listener, acceptor, engine, http, shutdown.clone()).await
        }
        None => workhorse_server::run(listener, engine, http, shutdown.clone()).await,
    };
    // Also stop the services when serving failed on its own.
    shutdown.cancel();
    services.wait().await;
    node.close().await;
    Ok(served?)
}

/// Writes the address atomically (temp file, then rename): a reader never sees half of it.
fn write_port_file(path: &std::path::Path, addr: SocketAddr) -> Result<(), NodeError> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, addr.to_string()).map_err(io(format!("writing {}", temp.display())))?;
    std::fs::rename(&temp, path).map_err(io(format!("writing {}", path.display())))
}
