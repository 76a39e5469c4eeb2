//! The store `workhorse serve` runs on, and what each kind needs wired into the engine:
//!
//! - **SQLite** (no `--database`): `<data_dir>/workhorse.db`, migrated on open. The node is
//!   alone on its store, so it always leads ([`SingleNode`]); the writer's commit counts feed
//!   the store metrics.
//! - **PostgreSQL** (`--database postgres://…`): migrated at start under an advisory lock
//!   (several nodes may start at once); the `NOTIFY` feed of ready queues is attached, so
//!   jobs other nodes make ready wake this node's workers; leadership is the store's session
//!   advisory lock (`PgStore` is its own [`LeaderBackend`]).

use crate::{NodeError, ServeOptions};
use std::sync::Arc;
use tokio::sync::broadcast;
use workhorse_core::Clock;
use workhorse_engine::{Engine, EngineConfig, LeaderBackend, SingleNode, StoreCounts, StoreError};
use workhorse_store_postgres::{PgOptions, PgStore};
use workhorse_store_sqlite::SqliteStore;

/// An opened store, migrated and ready to back an engine.
pub(crate) enum Database {
    Sqlite(SqliteStore),
    Postgres {
        store: PgStore,
        /// Subscribed before the engine serves, so no commit after start goes unheard.
        feed: broadcast::Receiver<String>,
    },
}

impl Database {
    /// Opens (and migrates) the store `opts` names.
    pub(crate) async fn open(opts: &ServeOptions) -> Result<Database, NodeError> {
        match &opts.database {
            None => {
                let path = opts.data_dir.join("workhorse.db");
                Ok(Database::Sqlite(SqliteStore::open(&path)?))
            }
            Some(url) => {
                let store = connect_postgres(url, opts.database_max_connections).await?;
                let applied = store.migrate().await?;
                tracing::info!(?applied, "PostgreSQL schema up to date");
                let feed = store.subscribe_ready().await?;
                Ok(Database::Postgres { store, feed })
            }
        }
    }

    /// A node on this store: an engine with the store's metrics source and ready feed
    /// attached, and the backend its elector must use.
    pub(crate) fn node(self, clock: Arc<dyn Clock>, config: EngineConfig) -> Node {
        match self {
            Database::Sqlite(store) => {
                let stats = store.clone();
                let engine = Engine::new(Arc::new(store), clock, config);
                engine.set_store_name("sqlite");
                engine.metrics().set_store_stats(move || {
                    let stats = stats.stats();
                    StoreCounts {
                        calls: stats.commands,
                        commits: stats.commits,
                    }
                });
                Node {
                    engine,
                    leader: Arc::new(SingleNode),
                    postgres: None,
                }
            }
            Database::Postgres { store, feed } => {
                let engine = Engine::new(Arc::new(store.clone()), clock, config);
                engine.set_store_name("postgres");
                // The forwarder ends by itself when the store, and with it the feed, goes.
                drop(engine.attach_ready_feed(feed));
                Node {
                    engine,
                    leader: Arc::new(store.clone()),
                    postgres: Some(store),
                }
            }
        }
    }
}

/// What `serve` runs: the engine, its election backend, and what to close at the end.
pub(crate) struct Node {
    pub(crate) engine: Engine,
    pub(crate) leader: Arc<dyn LeaderBackend>,
    postgres: Option<PgStore>,
}

impl Node {
    /// Closes the PostgreSQL pool, once the services are stopped and leadership resigned,
    /// so the database sees this node leave at once. (SQLite's writer finishes what is
    /// queued and stops when the last engine clone is dropped.)
    pub(crate) async fn close(&self) {
        if let Some(store) = &self.postgres
            && tokio::time::timeout(CLOSE_TIMEOUT, store.close())
                .await
                .is_err()
        {
            tracing::warn!(
                "PostgreSQL connections still borrowed after {CLOSE_TIMEOUT:?}; leaving them"
            );
        }
    }
}

/// Longest a graceful stop waits for borrowed database connections to come back.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects to a `postgres://` or `postgresql://` URL with `max_connections` pooled
/// connections (the ready listener and the leader hold one more each).
async fn connect_postgres(url: &str, max_connections: u32) -> Result<PgStore, NodeError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Invalid(
            "--database takes a postgres:// URL (without it, the SQLite database in --data-dir is used)"
                .to_owned(),
        )
        .into());
    }
    let options = PgOptions {
        max_connections,
        ..PgOptions::default()
    };
    Ok(PgStore::connect_with(url, options).await?)
}
