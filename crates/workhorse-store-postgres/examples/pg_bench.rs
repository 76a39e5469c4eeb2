//! Micro-benchmark of the PostgreSQL store: batch inserts, then fetch + ack in batches.
//!
//! ```text
//! cargo run --release -p workhorse-store-postgres --example pg_bench [-- JOBS [URL]]
//! ```
//!
//! Without a URL it starts a throwaway cluster (fsync on, as in production). It prints one
//! line per phase with rows per second. A benchmark, not a test: it never fails on a figure.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use workhorse_core::retry::Jitter;
use workhorse_core::{Clock, NewJob, SystemClock};
use workhorse_store::{Ack, AckKind, JobAckManyParams, JobFetchParams, JobInsertManyParams, Store};
use workhorse_store_postgres::{PgOptions, PgStore};
use workhorse_testing::postgres::TempPostgres;

const INSERT_BATCH: usize = 1_000;
const INSERTERS: usize = 4;
const FETCH_BATCH: u32 = 100;
const WORKERS: usize = 8;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("JOBS is a number"));
    // Without a URL, a throwaway cluster; kept alive until the end of `main`.
    let mut cluster = None;
    let url = args.next().unwrap_or_else(|| {
        let started = TempPostgres::start();
        started.create_database("bench");
        let url = started.url("bench");
        cluster = Some(started);
        url
    });
    let options = PgOptions {
        max_connections: 16,
        ..PgOptions::default()
    };
    let store = PgStore::connect_with(&url, options).await.expect("connect");
    store.migrate().await.expect("migrate");
    println!(
        "pg_bench: {jobs} jobs, {INSERTERS} inserters x {INSERT_BATCH}/batch, {WORKERS} workers x {FETCH_BATCH}/fetch"
    );

    let took = insert_all(&store, jobs).await;
    report("insert (batched)", jobs, took);
    let took = fetch_and_ack_all(&store, jobs).await;
    report("fetch + ack (batched)", jobs, took);
    drop(cluster);
}

fn report(phase: &str, rows: usize, took: Duration) {
    let rate = rows as f64 / took.as_secs_f64();
    println!(
        "{phase:<24} {rows:>8} rows in {:>7.2} s = {rate:>9.0} rows/s",
        took.as_secs_f64()
    );
}

async fn insert_all(store: &PgStore, jobs: usize) -> Duration {
    let start = Instant::now();
    let mut inserters = JoinSet::new();
    for i in 0..INSERTERS {
        let store = store.clone();
        let mine = jobs / INSERTERS + usize::from(i < jobs % INSERTERS);
        inserters.spawn(async move {
            let mut left = mine;
            while left > 0 {
                let n = left.min(INSERT_BATCH);
                let batch = (0..n).map(|_| bench_job()).collect();
                store
                    .job_insert_many(JobInsertManyParams {
                        now: SystemClock.now(),
                        jobs: batch,
                    })
                    .await
                    .expect("insert");
                left -= n;
            }
        });
    }
    while let Some(done) = inserters.join_next().await {
        done.expect("inserter");
    }
    start.elapsed()
}

fn bench_job() -> NewJob {
    let mut job = NewJob::new("bench.noop");
    "bench".clone_into(&mut job.queue);
    job
}

async fn fetch_and_ack_all(store: &PgStore, jobs: usize) -> Duration {
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for i in 0..WORKERS {
        let store = store.clone();
        workers.spawn(async move {
            let worker = format!("bench-{i}");
            let mut done = 0;
            loop {
                let fetched = store
                    .job_fetch_available(JobFetchParams {
                        now: SystemClock.now(),
                        worker: worker.clone(),
                        queues: vec!["bench".to_owned()],
                        max: FETCH_BATCH,
                        lease: Duration::from_mins(1),
                    })
                    .await
                    .expect("fetch");
                if fetched.is_empty() {
                    return done;
                }
                done += fetched.len();
                let acks = fetched
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
                    .job_ack_many(JobAckManyParams {
                        now: SystemClock.now(),
                        acks,
                    })
                    .await
                    .expect("ack");
            }
        });
    }
    let mut total = 0;
    while let Some(done) = workers.join_next().await {
        total += done.expect("worker");
    }
    assert_eq!(total, jobs, "every job was fetched and acked once");
    start.elapsed()
}
