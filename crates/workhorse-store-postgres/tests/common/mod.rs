//! Shared by this crate's integration tests: a fresh, migrated store on the test binary's
//! throwaway PostgreSQL cluster, one database per test.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use workhorse_store_postgres::{PgOptions, PgStore};
use workhorse_testing::postgres::TempPostgres;

/// A new empty database on the shared cluster; its URL.
pub fn fresh_database() -> String {
    TempPostgres::shared().fresh_database()
}

/// A migrated store on a new empty database.
pub async fn fresh_store() -> PgStore {
    store_on(&fresh_database()).await
}

/// A migrated store on `url`.
pub async fn store_on(url: &str) -> PgStore {
    let store = PgStore::connect_with(url, PgOptions::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}
