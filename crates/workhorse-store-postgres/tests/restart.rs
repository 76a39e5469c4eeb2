//! PostgreSQL goes away and comes back: calls fail as `Unavailable` meanwhile, and the
//! store, its ready listener and its leader election recover by themselves. This binary
//! restarts its own cluster, so it shares none with other tests.

use std::time::Duration;
use workhorse_core::JobId;
use workhorse_store::{JobInsertManyParams, Store, StoreError};
use workhorse_store_conformance::{job_in, t0};
use workhorse_store_postgres::{ANY_QUEUE, PgStore};
use workhorse_testing::postgres::TempPostgres;
use workhorse_testing::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_recovers_after_postgres_restarts() {
    let cluster = TempPostgres::start();
    cluster.create_database("workhorse");
    let url = cluster.url("workhorse");
    let store = PgStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let mut heard = store.subscribe_ready().await.expect("subscribe");
    assert!(
        store
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );
    let job = job_in("emails", "send");
    let id = job.id;
    insert(&store, job).await.expect("insert");
    assert_eq!(heard.recv().await.expect("heard"), "emails");

    cluster.stop();
    let err = store.job_get(id).await.expect_err("the server is down");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    cluster.start_again();
    wait_until("the store reconnects", Duration::from_secs(30), || async {
        store.job_get(id).await.ok().flatten()
    })
    .await;
    assert_eq!(
        next_heard(&mut heard).await,
        ANY_QUEUE,
        "after reconnecting, the listener says anything may be ready"
    );
    insert(&store, job_in("reports", "build"))
        .await
        .expect("insert");
    assert_eq!(next_heard(&mut heard).await, "reports");
    assert!(
        store
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect"),
        "leadership is won again on a fresh session"
    );
    assert!(store.job_get(JobId::new()).await.expect("get").is_none());
}

async fn next_heard(heard: &mut tokio::sync::broadcast::Receiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(30), heard.recv())
        .await
        .expect("heard within 30 s")
        .expect("the listener runs")
}

async fn insert(store: &PgStore, job: workhorse_core::NewJob) -> Result<(), StoreError> {
    store
        .job_insert_many(JobInsertManyParams {
            now: t0(),
            jobs: vec![job],
        })
        .await
        .map(drop)
}
