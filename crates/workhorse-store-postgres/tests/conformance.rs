//! The store conformance suite against a fresh PostgreSQL database per case.

mod common;

async fn fresh() -> (workhorse_store_postgres::PgStore, ()) {
    (common::fresh_store().await, ())
}

workhorse_store_conformance::conformance_tests!(fresh);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_counts_survive_reopen() {
    let url = common::fresh_database();
    let store = common::store_on(&url).await;
    workhorse_store_conformance::queue_counts_survive_reopen(store, |first| async move {
        drop(first);
        common::store_on(&url).await
    })
    .await;
}
