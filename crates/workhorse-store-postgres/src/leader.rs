//! Leader election with session-level advisory locks.
//!
//! A node is the leader for `name` while its dedicated leader connection holds the advisory
//! lock `hashtextextended('workhorse:leader:<schema>:<name>')`. PostgreSQL releases a session
//! lock the moment that session ends, so when the leader process dies (or its connection
//! is cut) another node's next [`Leader::attempt_elect`] wins. The connection is its own,
//! never a pooled one: a pooled connection would carry the lock to whoever borrows it next.
//!
//! The holder learns that it lost the lock by calling [`Leader::attempt_elect`] again
//! (e.g. every few seconds): it pings its connection first, and a dead connection means the
//! lock is gone, so it tries to win again on a fresh connection.

use crate::PgStore;
use crate::error::Error;
use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::collections::BTreeSet;
use tokio::sync::Mutex;
use workhorse_store::{LeaderBackend, StoreError};

/// This store's leader connection and the names it holds.
pub(crate) struct Leader {
    options: PgConnectOptions,
    /// Keeps the leader locks of different deployments in one database apart.
    scope: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conn: Option<PgConnection>,
    held: BTreeSet<String>,
}

impl Leader {
    pub fn new(options: PgConnectOptions, schema: Option<&str>) -> Leader {
        Leader {
            options: options.application_name("workhorse-leader"),
            scope: schema.unwrap_or("public").to_owned(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock_name(&self, name: &str) -> String {
        format!("workhorse:leader:{}:{name}", self.scope)
    }

    /// Tries to become (or confirms being) the leader for `name`.
    pub async fn attempt_elect(&self, name: &str) -> Result<bool, Error> {
        let mut state = self.state.lock().await;
        if let Some(conn) = state.conn.as_mut()
            && conn.ping().await.is_err()
        {
            // The session is gone, and every lock it held with it.
            tracing::warn!("leader connection lost; leadership released");
            state.conn = None;
            state.held.clear();
        }
        if state.held.contains(name) {
            return Ok(true);
        }
        if state.conn.is_none() {
            state.conn = Some(self.options.connect().await?);
        }
        let Some(conn) = state.conn.as_mut() else {
            return Ok(false);
        };
        let won: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(self.lock_name(name))
            .fetch_one(conn)
            .await?;
        if won {
            state.held.insert(name.to_owned());
        }
        Ok(won)
    }

    /// Gives up leadership of `name` (nothing happens if this store does not hold it).
    pub async fn resign(&self, name: &str) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        if !state.held.remove(name) {
            return Ok(());
        }
        let Some(conn) = state.conn.as_mut() else {
            return Ok(());
        };
        let unlocked =
            sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                .bind(self.lock_name(name))
                .fetch_one(conn)
                .await;
        if unlocked.is_err() {
            // Ending the session releases the lock as surely as unlocking it.
            state.conn = None;
            state.held.clear();
        }
        Ok(())
    }

    /// Whether this store believed itself leader for `name` at its last check.
    pub async fn holds(&self, name: &str) -> bool {
        self.state.lock().await.held.contains(name)
    }
}

/// The leadership every node of one deployment competes for: whoever holds it runs the
/// leader-only services. (The store's other leader names are free for callers of
/// [`PgStore::leader_attempt_elect`].)
pub const SERVICES_LEADER: &str = "services";

/// The nodes on one PostgreSQL database elect through the store's session advisory lock
/// on [`SERVICES_LEADER`], which PostgreSQL frees as soon as the leader's session ends
/// (the process died, or its connection was cut).
#[async_trait]
impl LeaderBackend for PgStore {
    async fn attempt_elect(&self) -> Result<bool, StoreError> {
        self.leader_attempt_elect(SERVICES_LEADER).await
    }

    async fn resign(&self) -> Result<(), StoreError> {
        self.leader_resign(SERVICES_LEADER).await
    }
}
