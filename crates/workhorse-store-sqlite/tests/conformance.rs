//! The store conformance suite against a fresh SQLite database per case.

use tempfile::TempDir;
use workhorse_store_sqlite::SqliteStore;

#[expect(
    clippy::unused_async,
    reason = "conformance_tests! awaits the factory (other stores open asynchronously)"
)]
async fn fresh() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open");
    (store, dir)
}

workhorse_store::conformance_tests!(fresh);
