//! `workhorse serve`: the server, until SIGTERM or ctrl-c. On the SQLite database in
//! `--data-dir` by default; with `--database postgres://…`, one node of a cluster.

use anyhow::Context as _;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use workhorse_node::{Secret, ServeOptions, TlsFiles};

/// `workhorse serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (see --port-file).
    #[arg(long, env = "WORKHORSE_LISTEN", default_value = "127.0.0.1:7431")]
    listen: SocketAddr,
    /// Directory of the SQLite database and the token file; created if missing.
    #[arg(long, env = "WORKHORSE_DATA_DIR", default_value = "./workhorse-data")]
    data_dir: PathBuf,
    /// Run as one node of a cluster on this PostgreSQL database (`postgres://user:password@host:port/db`)
    /// instead of on SQLite; the schema is migrated at start.
    #[arg(long, env = "WORKHORSE_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Pooled PostgreSQL connections of this node (two more are held for the ready
    /// listener and the leader election).
    #[arg(long, env = "WORKHORSE_DATABASE_MAX_CONNECTIONS", default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..))]
    database_max_connections: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = workhorse_core::limits::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Lease length in milliseconds; workers heartbeat every third of it.
    #[arg(long, default_value_t = 8_000, value_parser = clap::value_parser!(u64).range(1..))]
    lease_ms: u64,
    /// How long finished jobs are kept, in hours.
    #[arg(long, default_value_t = 7 * 24, value_parser = clap::value_parser!(u64).range(1..))]
    retention_hours: u64,
    /// Fallback re-check of waiting fetches, in milliseconds. New work wakes them at once
    /// (in a cluster through PostgreSQL notifications); this only bounds what nothing
    /// announces, such as a rate-limit window opening.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    recheck_ms: u64,
    /// Write the bound address (`127.0.0.1:PORT`) to this file once listening.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// Require API tokens (`--auth`, `--auth=false`); on by default when --listen is not a
    /// loopback address. Tokens: `workhorse tokens create`, or `WORKHORSE_ADMIN_TOKEN`.
    #[arg(long, env = "WORKHORSE_AUTH", num_args = 0..=1, default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    auth: Option<bool>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "WORKHORSE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "WORKHORSE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// The bootstrap admin token: read from the environment only, never a flag, so it does not
/// show in the process list.
const ADMIN_TOKEN_ENV: &str = "WORKHORSE_ADMIN_TOKEN";

/// Serves until SIGTERM or ctrl-c, then shuts down gracefully.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let options = ServeOptions {
        listen: args.listen,
        data_dir: args.data_dir,
        database: args.database,
        database_max_connections: args.database_max_connections,
        max_body_bytes: args.max_body_bytes,
        lease: Duration::from_millis(args.lease_ms),
        retention: Duration::from_secs(args.retention_hours.saturating_mul(3600)),
        recheck: Duration::from_millis(args.recheck_ms),
        port_file: args.port_file,
        auth: args.auth,
        admin_token: std::env::var(ADMIN_TOKEN_ENV).ok().map(Secret::new),
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
    };
    let shutdown = crate::shutdown::on_signal();
    workhorse_node::serve(options, shutdown)
        .await
        .context("workhorse serve")?;
    tracing::info!("workhorse stopped");
    Ok(())
}
