//! A small pool of read-only connections. Reads run on tokio's blocking threads and never
//! wait for the writer: in WAL mode a reader sees the last committed state.

use crate::error::Error;
use rusqlite::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use workhorse_store::StoreError;

/// Read-only connections, handed out round-robin.
pub(crate) struct ReadPool {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReadPool {
    pub fn new(conns: Vec<Connection>) -> Arc<ReadPool> {
        Arc::new(ReadPool {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `op` on a free connection (or, if all are busy, waits for the next in turn).
    pub async fn read<T, F>(self: &Arc<Self>, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.run(op))
            .await
            .map_err(|e| StoreError::Internal(format!("a read task failed: {e}")))?
            .map_err(StoreError::from)
    }

    fn run<T>(&self, op: impl FnOnce(&Connection) -> Result<T, Error>) -> Result<T, Error> {
        let count = self.conns.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            if let Ok(conn) = self.conns[(first + offset) % count].try_lock() {
                return op(&conn);
            }
        }
        // A poisoned connection is still usable: a panic cannot leave it mid-statement.
        let conn = self.conns[first % count]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        op(&conn)
    }
}
