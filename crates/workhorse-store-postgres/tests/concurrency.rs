//! Several nodes on one database: two `PgStore`s (two pools, as two server processes
//! would have) and many concurrent fetchers. No job is ever leased twice, and limits that
//! span nodes (max running, concurrency keys, unique keys) are never overshot.

mod common;

use sqlx::Connection;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::task::JoinSet;
use workhorse_core::retry::Jitter;
use workhorse_core::{Job, JobId, NewJob};
use workhorse_store::{
    Ack, AckKind, JobAckManyParams, JobFetchParams, JobInsertManyParams, QueueUpdateParams, Store,
};
use workhorse_store_conformance::{LEASE, at, job_in, t0};
use workhorse_store_postgres::{PgOptions, PgStore};

/// Two migrated stores on one fresh database, each with its own pool.
async fn two_nodes() -> (PgStore, PgStore) {
    let url = common::fresh_database();
    let a = common::store_on(&url).await;
    let options = PgOptions {
        max_connections: 8,
        ..PgOptions::default()
    };
    let b = PgStore::connect_with(&url, options).await.expect("connect");
    (a, b)
}

async fn insert_all(store: &PgStore, jobs: Vec<NewJob>) {
    for chunk in jobs.chunks(500) {
        store
            .job_insert_many(JobInsertManyParams {
                now: t0(),
                jobs: chunk.to_vec(),
            })
            .await
            .expect("insert");
    }
}

fn fetch_params(worker: &str, queue: &str, max: u32) -> JobFetchParams {
    JobFetchParams {
        now: at(1),
        worker: worker.to_owned(),
        queues: vec![queue.to_owned()],
        max,
        lease: LEASE,
    }
}

async fn complete_all(store: &PgStore, jobs: &[Job]) {
    let acks = jobs
        .iter()
        .map(|job| {
            let ack = Ack {
                id: job.id,
                lease_id: job.lease.as_ref().expect("leased").id,
                kind: AckKind::Complete { result: None },
            };
            (ack, Jitter::NONE)
        })
        .collect();
    store
        .job_ack_many(JobAckManyParams { now: at(2), acks })
        .await
        .expect("ack");
}

/// Eight fetchers, four per node, drain 1,000 jobs: each job leased exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skip_locked_never_leases_a_job_twice() {
    let (a, b) = two_nodes().await;
    let jobs: Vec<NewJob> = (0..1_000).map(|_| job_in("bulk", "t")).collect();
    let expected: HashSet<JobId> = jobs.iter().map(|j| j.id).collect();
    insert_all(&a, jobs).await;

    let mut fetchers = JoinSet::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        fetchers.spawn(async move {
            let worker = format!("worker-{i}");
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .job_fetch_available(fetch_params(&worker, "bulk", 13))
                    .await
                    .expect("fetch");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|job| (job.id, worker.clone())));
            }
        });
    }
    let mut leased: HashMap<JobId, String> = HashMap::new();
    while let Some(mine) = fetchers.join_next().await {
        for (id, worker) in mine.expect("fetcher") {
            if let Some(first) = leased.insert(id, worker.clone()) {
                panic!("job {id} leased twice: to {first} and to {worker}");
            }
        }
    }
    assert_eq!(leased.keys().copied().collect::<HashSet<_>>(), expected);
    let workers: HashSet<&String> = leased.values().collect();
    assert!(
        workers.len() > 1,
        "one fetcher took everything: {workers:?}"
    );
}

/// `max_running` spans nodes: fetchers on both nodes never hold more than the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_running_holds_across_nodes() {
    let (a, b) = two_nodes().await;
    a.queue_update(QueueUpdateParams {
        name: "limited".to_owned(),
        max_running: Some(Some(5)),
        ..QueueUpdateParams::default()
    })
    .await
    .expect("limit");
    insert_all(&a, (0..200).map(|_| job_in("limited", "t")).collect()).await;

    let mut fetchers = JoinSet::new();
    for i in 0..6 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        fetchers.spawn(async move {
            store
                .job_fetch_available(fetch_params(&format!("w{i}"), "limited", 4))
                .await
                .expect("fetch")
        });
    }
    let mut started = Vec::new();
    while let Some(batch) = fetchers.join_next().await {
        started.extend(batch.expect("fetcher"));
    }
    assert_eq!(started.len(), 5, "exactly max_running jobs start");
    complete_all(&a, &started).await;
    let next = b
        .job_fetch_available(fetch_params("w", "limited", 10))
        .await
        .expect("fetch");
    assert_eq!(next.len(), 5, "room again once they finished");
}

/// A concurrency key's limit spans nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_key_holds_across_nodes() {
    let (a, b) = two_nodes().await;
    let jobs: Vec<NewJob> = (0..60)
        .map(|i| {
            let mut job = job_in("tenants", "t");
            job.concurrency_key = Some(format!("customer-{}", i % 3));
            job.concurrency_limit = 2;
            job
        })
        .collect();
    insert_all(&a, jobs).await;

    let mut fetchers = JoinSet::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        fetchers.spawn(async move {
            store
                .job_fetch_available(fetch_params(&format!("w{i}"), "tenants", 3))
                .await
                .expect("fetch")
        });
    }
    let mut per_key: HashMap<String, usize> = HashMap::new();
    while let Some(batch) = fetchers.join_next().await {
        for job in batch.expect("fetcher") {
            *per_key
                .entry(job.concurrency_key.expect("keyed"))
                .or_default() += 1;
        }
    }
    for (key, running) in &per_key {
        assert!(*running <= 2, "{key} runs {running} jobs; its limit is 2");
    }
}

/// Producers on two nodes enqueue the same unique key at once: one job is created, every
/// other enqueue gets it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unique_key_holds_across_nodes() {
    let (a, b) = two_nodes().await;
    let mut producers = JoinSet::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        producers.spawn(async move {
            let mut job = job_in("emails", "welcome");
            job.key = Some("welcome:ada@example.com".to_owned());
            let inserted = store
                .job_insert_many(JobInsertManyParams {
                    now: t0(),
                    jobs: vec![job],
                })
                .await
                .expect("insert");
            inserted.into_iter().next().expect("one result")
        });
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    while let Some(inserted) = producers.join_next().await {
        let inserted = inserted.expect("producer");
        created += usize::from(inserted.created);
        ids.insert(inserted.job.id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1, "every producer got the same job");
}

/// A row another node holds locked (its fetch is still in flight) is skipped, not waited
/// for; once released it is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fetch_skips_rows_another_node_holds() {
    let url = common::fresh_database();
    let store = common::store_on(&url).await;
    insert_all(&store, vec![job_in("q", "t")]).await;
    let mut other_node = sqlx::PgConnection::connect(&url).await.expect("connect");
    let mut tx = sqlx::Connection::begin(&mut other_node)
        .await
        .expect("begin");
    sqlx::query("SELECT id FROM workhorse_jobs WHERE queue = 'q' FOR UPDATE")
        .execute(&mut *tx)
        .await
        .expect("lock the row");
    let fetched = tokio::time::timeout(
        Duration::from_secs(5),
        store.job_fetch_available(fetch_params("w", "q", 1)),
    )
    .await
    .expect("the fetch did not wait for the lock")
    .expect("fetch");
    assert!(fetched.is_empty(), "a locked row was fetched");
    tx.rollback().await.expect("rollback");
    let fetched = store
        .job_fetch_available(fetch_params("w", "q", 1))
        .await
        .expect("fetch");
    assert_eq!(fetched.len(), 1);
}
