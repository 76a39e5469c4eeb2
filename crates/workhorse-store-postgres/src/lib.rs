//! The cluster Workhorse store: PostgreSQL, shared by any number of server nodes.
//!
//! [`PgStore`] implements [`workhorse_store::Store`] with the same semantics as the SQLite
//! store and passes the same conformance suite. What PostgreSQL adds:
//!
//! - **Fetch** claims a batch with `SELECT … FOR UPDATE SKIP LOCKED` and one
//!   `UPDATE … FROM unnest(…)`: fetchers on many nodes never wait on each other's rows and
//!   never lease a job twice. Queues with `max_running` or a rate limit take turns on their
//!   queue row, concurrency keys on an advisory lock, so limits hold across nodes
//!   (`ops/fetch.rs`).
//! - **Batches**: inserts, acks, heartbeats and releases are one statement per batch over
//!   `unnest` arrays.
//! - **Wake-ups across nodes**: every commit that makes jobs ready sends
//!   `NOTIFY workhorse_ready, '<queue>'`; [`PgStore::subscribe_ready`] hears them, whichever
//!   node committed (`notify.rs`).
//! - **Leader election**: [`PgStore::leader_attempt_elect`] holds a session-level advisory
//!   lock on a dedicated connection; it is released the moment the leader's session ends
//!   (`leader.rs`). `PgStore` is the [`LeaderBackend`](workhorse_store::LeaderBackend) of
//!   the nodes on one database, on the lock [`SERVICES_LEADER`].
//! - **Migrations**: [`PgStore::migrate`] applies `migrations/*.sql` under an advisory lock,
//!   so several nodes may start at once (`migrate.rs`).
//!
//! Durability: every method that changes state returns after its transaction committed.
//! Queries are built at run time from fixed fragments (no compile-time `query!` macros), so
//! building this crate needs no database.

mod error;
mod leader;
mod migrate;
mod notify;
mod ops;
mod row;
mod sql;
mod store;
mod types;

pub use leader::SERVICES_LEADER;
pub use notify::ANY_QUEUE;

use error::from_sqlx;
use futures_util::FutureExt;
use ops::Db;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use workhorse_store::StoreError;

/// Tunables of [`PgStore::connect_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most pooled connections. The ready listener and the leader each hold one more
    /// connection of their own, opened on first use.
    pub max_connections: u32,
    /// How long a call waits for a free pooled connection before failing with
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// Keep Workhorse's tables in this schema (created by [`PgStore::migrate`]) instead of
    /// the connection's default one: several deployments, or tests, in one database.
    /// Lowercase ASCII letters, digits and `_`, starting with a letter or `_`.
    pub schema: Option<String>,
    /// `application_name` of the pooled connections, as `pg_stat_activity` shows it.
    pub application_name: String,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            schema: None,
            application_name: "workhorse".to_owned(),
        }
    }
}

/// The PostgreSQL store. Cheap to clone: clones share the pool, the ready listener and the
/// leader connection, which close when the last clone is dropped.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    schema: Option<String>,
    ready: notify::ReadyListener,
    leader: leader::Leader,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?…`) with default
    /// options. Call [`PgStore::migrate`] before first use.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// Connects with `options`; fails with [`StoreError::Unavailable`] when the server
    /// cannot be reached and [`StoreError::Invalid`] for a malformed URL or schema name.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let connect = connect_options(url, &options)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // A ping before every borrow costs a round trip per call; only connections idle
            // long enough to have been cut (a server restart) are checked. Connections that
            // fail mid-call are dropped by the pool when they are returned.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                async move {
                    if meta.idle_for > Duration::from_secs(1) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                }
                .boxed()
            })
            .connect_with(connect.clone())
            .await
            .map_err(|e| from_sqlx(&e))?;
        let channel = notify::channel(options.schema.as_deref());
        Ok(PgStore {
            inner: Arc::new(Inner {
                db: Db {
                    pool,
                    channel: channel.clone(),
                },
                ready: notify::ReadyListener::new(channel, connect.clone()),
                leader: leader::Leader::new(connect, options.schema.as_deref()),
                schema: options.schema,
            }),
        })
    }

    /// Brings the schema up to date. Idempotent, and safe when several nodes start at once
    /// (they take turns on an advisory lock). Returns the versions it applied.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        Ok(migrate::migrate(&self.inner.db.pool, self.inner.schema.as_deref()).await?)
    }

    /// Whether the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.db.pool)
            .await
            .map_err(|e| from_sqlx(&e))?;
        Ok(())
    }

    /// Names of queues that gained ready jobs, as committed by any node on this database
    /// (see the `notify` module docs). [`ANY_QUEUE`] means notifications may have been
    /// missed: poll every queue. The first call starts the listener and returns once it
    /// listens.
    pub async fn subscribe_ready(&self) -> Result<broadcast::Receiver<String>, StoreError> {
        Ok(self.inner.ready.subscribe().await?)
    }

    /// Tries to become (or confirms still being) the leader for `name`. Call it
    /// periodically: a `false` from the holder means its session was lost.
    pub async fn leader_attempt_elect(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.inner.leader.attempt_elect(name).await?)
    }

    /// Gives up leadership of `name`, letting another node win at once.
    pub async fn leader_resign(&self, name: &str) -> Result<(), StoreError> {
        Ok(self.inner.leader.resign(name).await?)
    }

    /// Whether this store held the leadership of `name` at its last check.
    pub async fn leader_holds(&self, name: &str) -> bool {
        self.inner.leader.holds(name).await
    }

    /// Closes every pooled connection (waiting for borrowed ones to come back).
    pub async fn close(&self) {
        self.inner.db.pool.close().await;
    }
}

/// Schema names become part of SQL identifiers and of the notification channel.
fn validate_schema(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && schema.len() <= 40 {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "schema {schema:?} must be 1-40 lowercase ASCII letters, digits or '_', not \
             starting with a digit"
        )))
    }
}

/// The connection options of every session the store opens (pool, ready listener, leader).
fn connect_options(url: &str, options: &PgOptions) -> Result<PgConnectOptions, StoreError> {
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?
        .application_name(&options.application_name);
    // Workhorse's statements are short index lookups; PostgreSQL's JIT can spend tens of
    // milliseconds compiling one when the planner misjudges a fresh table, so the
    // store's own sessions turn it off (other users of the database keep theirs).
    connect = connect.options([("jit", "off")]);
    if let Some(schema) = &options.schema {
        validate_schema(schema)?;
        connect = connect.options([("search_path", schema.as_str())]);
    }
    Ok(connect)
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_names() {
        assert!(super::validate_schema("wh_test_1").is_ok());
        assert!(super::validate_schema("_x").is_ok());
        assert!(super::validate_schema("").is_err());
        assert!(super::validate_schema("1x").is_err());
        assert!(super::validate_schema("Bad").is_err());
        assert!(super::validate_schema("a\"; drop").is_err());
    }

    #[test]
    fn sessions_turn_jit_off_and_keep_the_schema() {
        let options = super::PgOptions {
            schema: Some("wh_a".into()),
            ..super::PgOptions::default()
        };
        let connect = super::connect_options("postgres://u@localhost/db", &options).expect("valid");
        assert_eq!(
            connect.get_options(),
            Some("-c jit=off -c search_path=wh_a")
        );
    }
}
