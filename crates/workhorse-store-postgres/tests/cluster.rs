//! What several nodes on one database rely on beyond the Store trait: ready notifications
//! across nodes, leader election, concurrent migrations, schema isolation.

mod common;

use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use workhorse_store::{JobInsertManyParams, JobPromoteDueParams, Store};
use workhorse_store_conformance::{at, job_in, t0};
use workhorse_store_postgres::{PgOptions, PgStore};

/// The next queue name a subscription hears, within a deadline.
async fn next_ready(receiver: &mut broadcast::Receiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a notification within 10 s")
        .expect("the listener is running")
}

async fn insert(store: &PgStore, job: workhorse_core::NewJob) {
    store
        .job_insert_many(JobInsertManyParams {
            now: t0(),
            jobs: vec![job],
        })
        .await
        .expect("insert");
}

/// A job enqueued on node A wakes node B's subscription with its queue's name; a delayed
/// job wakes it when it is promoted, not when it is enqueued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_jobs_notify_other_nodes() {
    let url = common::fresh_database();
    let node_a = common::store_on(&url).await;
    let node_b = common::store_on(&url).await;
    let mut heard = node_b.subscribe_ready().await.expect("subscribe");

    insert(&node_a, job_in("emails", "send")).await;
    assert_eq!(next_ready(&mut heard).await, "emails");

    let mut delayed = job_in("reports", "build");
    delayed.run_at = Some(at(60));
    insert(&node_a, delayed).await;
    insert(&node_a, job_in("emails", "send")).await;
    assert_eq!(
        next_ready(&mut heard).await,
        "emails",
        "the delayed job is not ready yet"
    );
    node_a
        .job_promote_due(JobPromoteDueParams {
            now: at(60),
            limit: 100,
        })
        .await
        .expect("promote");
    assert_eq!(next_ready(&mut heard).await, "reports");
}

/// Only one node wins; resigning, dropping the leader, or cutting its connection lets
/// another win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time() {
    let url = common::fresh_database();
    let node_a = common::store_on(&url).await;
    let node_b = common::store_on(&url).await;

    assert!(
        node_a
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );
    assert!(
        !node_b
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );
    assert!(
        node_a
            .leader_attempt_elect("scheduler")
            .await
            .expect("still leader")
    );
    assert!(
        node_b.leader_attempt_elect("reaper").await.expect("elect"),
        "names are independent"
    );

    node_a.leader_resign("scheduler").await.expect("resign");
    assert!(
        node_b
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );
    assert!(
        !node_a
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );

    drop(node_b);
    wait_for_leadership(&node_a, "scheduler").await;
}

/// The leader's session is killed (as when its node loses the network or PostgreSQL
/// restarts that backend): another node wins, and the old leader learns it lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_moves_when_the_leader_session_dies() {
    let url = common::fresh_database();
    let node_a = common::store_on(&url).await;
    let node_b = common::store_on(&url).await;
    assert!(
        node_a
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );
    assert!(
        !node_b
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a JOIN pg_locks l \
         ON l.pid = a.pid WHERE l.locktype = 'advisory' AND l.granted \
         AND a.datname = current_database() AND a.application_name = 'workhorse-leader'",
    )
    .fetch_all(&mut connect(&url).await)
    .await
    .expect("terminate the leader's backend");
    assert_eq!(killed, vec![true]);

    wait_for_leadership(&node_b, "scheduler").await;
    assert!(
        !node_a
            .leader_attempt_elect("scheduler")
            .await
            .expect("elect")
    );
    assert!(!node_a.leader_holds("scheduler").await);
}

async fn connect(url: &str) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect")
}

/// Polls `attempt_elect` (as a node's elector does) until it wins.
async fn wait_for_leadership(store: &PgStore, name: &str) {
    workhorse_testing::wait_until("leadership", Duration::from_secs(10), || async {
        store
            .leader_attempt_elect(name)
            .await
            .expect("elect")
            .then_some(())
    })
    .await;
}

/// Eight nodes start at once on an empty database: every migration succeeds, the schema
/// is applied once, and migrating again does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_once() {
    let url = common::fresh_database();
    let mut nodes = JoinSet::new();
    for _ in 0..8 {
        let url = url.clone();
        nodes.spawn(async move {
            let store = PgStore::connect(&url).await.expect("connect");
            store.migrate().await.expect("migrate")
        });
    }
    let mut applied = Vec::new();
    while let Some(versions) = nodes.join_next().await {
        applied.extend(versions.expect("node"));
    }
    assert_eq!(
        applied,
        vec![1, 2, 4, 5, 6],
        "one node applied every migration, the others nothing"
    );
    let store = PgStore::connect(&url).await.expect("connect");
    assert!(store.migrate().await.expect("migrate again").is_empty());
}

/// Two deployments in two schemas of one database do not see each other's jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_isolate_deployments() {
    let url = common::fresh_database();
    let in_schema = |schema: &str| PgOptions {
        schema: Some(schema.to_owned()),
        ..PgOptions::default()
    };
    let blue = PgStore::connect_with(&url, in_schema("blue"))
        .await
        .expect("connect");
    let green = PgStore::connect_with(&url, in_schema("green"))
        .await
        .expect("connect");
    blue.migrate().await.expect("migrate");
    green.migrate().await.expect("migrate");
    let mut green_heard = green.subscribe_ready().await.expect("subscribe");

    let job = job_in("q", "t");
    let id = job.id;
    insert(&blue, job).await;
    assert!(blue.job_get(id).await.expect("get").is_some());
    assert!(green.job_get(id).await.expect("get").is_none());

    insert(&green, job_in("green-q", "t")).await;
    assert_eq!(
        next_ready(&mut green_heard).await,
        "green-q",
        "blue's notification went to blue's channel"
    );
}
