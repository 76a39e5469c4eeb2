//! The embedded Workhorse store: SQLite in WAL mode, one writer thread that group-commits.
//!
//! [`SqliteStore`] implements [`workhorse_store::Store`]:
//!
//! - **Writes** go to one writer thread that owns the only write connection. It gathers every
//!   call queued at that moment into one transaction (each call in its own savepoint, so a
//!   failing call rolls back alone), commits once — one fsync with `synchronous=FULL` — and
//!   only then answers them all. See `writer.rs` for the durability boundary.
//! - **Reads** (`job_get`, `job_list`, `queue_list`, `job_next_due`) run on a small pool of
//!   read-only connections on tokio's blocking threads and never wait for the writer.
//! - **Counts**: exact job counts per queue and state, written in each group's transaction
//!   (`counts.rs`), answer the overview, `max_running`, and which index a filtered page of
//!   jobs is read through (`ops/list.rs`).
//! - **Schema**: `migrations/*.sql`, embedded, applied in order and counted by
//!   `PRAGMA user_version`. Every guarded statement is built from the state-machine table
//!   in `workhorse_core::state` (`sql.rs`).

mod counts;
mod error;
mod ops;
#[cfg(test)]
mod plans;
mod reader;
mod row;
mod schema;
mod sql;
mod store;
mod writer;

pub use writer::WriterStats;

use reader::ReadPool;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use workhorse_store::StoreError;
use writer::Writer;

/// Tunables of [`SqliteStore::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Read-only connections for reads (at least 1).
    pub readers: usize,
    /// Most calls the writer groups into one transaction.
    pub max_group: usize,
    /// How long a connection waits for a lock held by another process before `Unavailable`.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            max_group: 256,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite store. Cheap to clone: clones share the writer thread and the read pool.
///
/// The writer thread stops after [`SqliteStore::close`], or by itself once every clone is
/// dropped (after finishing what was queued).
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Writer>,
    readers: Arc<ReadPool>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it if needed, with default options.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path`: WAL mode, `synchronous=FULL`, foreign keys on, a busy
    /// timeout, and the schema migrated to this build's version.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let conn = schema::open_writer(path, options.busy_timeout)?;
        let readers = (0..options.readers.max(1))
            .map(|_| schema::open_reader(path, options.busy_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SqliteStore {
            writer: Arc::new(Writer::spawn(conn, options.max_group)?),
            readers: ReadPool::new(readers),
        })
    }

    /// Finishes the writes queued so far, then stops the writer thread and closes the write
    /// connection. Later writes fail with [`StoreError::Unavailable`]; reads still work
    /// until the last clone is dropped.
    pub async fn close(&self) {
        self.writer.close().await;
    }

    /// Commands run and transactions committed so far by the writer.
    pub fn stats(&self) -> WriterStats {
        self.writer.stats()
    }
}
