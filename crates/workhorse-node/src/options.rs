//! What a node runs with ([`ServeOptions`]: the flags of `workhorse serve`), and the API
//! tokens it accepts.

use crate::NodeError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use workhorse_core::limits;
use workhorse_engine::EngineConfig;
use workhorse_server::TlsFiles;
use workhorse_server::auth::{Secret, Tokens, tokens_path};

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

    /// The engine's settings these options ask for.
    pub(crate) fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            retention: self.retention,
            recheck: self.recheck,
            ..EngineConfig::with_lease(self.lease)
        }
    }

    /// The accepted tokens when auth is on; refuses to start with none.
    pub(crate) fn tokens(&self) -> Result<Option<Tokens>, NodeError> {
        if !self.auth_enabled() {
            if !self.listen.ip().is_loopback() {
                tracing::warn!(listen = %self.listen, "auth is off on a non-loopback address: anyone who can reach it may use this server");
            }
            return Ok(None);
        }
        let path = tokens_path(&self.data_dir);
        let tokens = Tokens::load(Some(path), self.admin_token.as_ref())?;
        if tokens.is_empty() {
            return Err(NodeError::NoTokens {
                data_dir: self.data_dir.clone(),
            });
        }
        tracing::info!(tokens = tokens.len(), "auth on: API tokens required");
        Ok(Some(tokens))
    }
}
