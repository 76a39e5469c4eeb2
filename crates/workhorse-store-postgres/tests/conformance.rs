//! The store conformance suite against a fresh PostgreSQL database per case.

mod common;

async fn fresh() -> (workhorse_store_postgres::PgStore, ()) {
    (common::fresh_store().await, ())
}

workhorse_store::conformance_tests!(fresh);
