//! Micro-benchmark of the SQLite store: insert, fetch and ack throughput.
//!
//! ```text
//! cargo run --release -p workhorse-store-sqlite --example store_bench -- [JOBS] [CONCURRENCY]
//! ```
//!
//! Inserts JOBS jobs (default 100,000) in batches of 1,000, fetches them in batches of 500
//! and acks them in batches of 500, with CONCURRENCY callers at once (default 1), on a
//! database in a temporary directory (WAL, `synchronous=FULL`). Prints rows/s per phase.
#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::sync::Arc;
use std::time::{Duration, Instant};
use workhorse_core::retry::Jitter;
use workhorse_core::{Clock, NewJob, SystemClock};
use workhorse_store::{Ack, AckKind, JobAckManyParams, JobFetchParams, JobInsertManyParams, Store};
use workhorse_store_sqlite::SqliteStore;

const INSERT_BATCH: usize = 1_000;
const FETCH_BATCH: u32 = 500;

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (jobs, callers) = (arg(1, 100_000), arg(2, 1).max(1));
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db"))?);
    println!("{jobs} jobs, {callers} concurrent caller(s), SQLite WAL synchronous=FULL");
    println!(
        "{:<8} {:>10} {:>12} {:>9} {:>9}",
        "phase", "rows", "rows/s", "commands", "commits"
    );

    let per_caller = jobs / callers;
    let inserted = phase(&store, "insert", callers, move |store| async move {
        let mut done = 0;
        while done < per_caller {
            let n = INSERT_BATCH.min(per_caller - done);
            let jobs = (0..n).map(|_| NewJob::new("bench")).collect();
            let params = JobInsertManyParams {
                now: SystemClock.now(),
                jobs,
            };
            done += store.job_insert_many(params).await?.len();
        }
        Ok(done)
    })
    .await?;

    let leased = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(inserted)));
    let sink = Arc::clone(&leased);
    phase(&store, "fetch", callers, move |store| {
        let sink = Arc::clone(&sink);
        async move {
            let mut done = 0;
            loop {
                let params = JobFetchParams {
                    now: SystemClock.now(),
                    worker: "bench".to_owned(),
                    queues: vec!["default".to_owned()],
                    max: FETCH_BATCH,
                    lease: Duration::from_mins(10),
                };
                let jobs = store.job_fetch_available(params).await?;
                if jobs.is_empty() {
                    return Ok(done);
                }
                done += jobs.len();
                sink.lock().await.extend(jobs);
            }
        }
    })
    .await?;

    let acks: Vec<(Ack, Jitter)> = std::mem::take(&mut *leased.lock().await)
        .into_iter()
        .map(|job| {
            let ack = Ack {
                id: job.id,
                lease_id: job.lease.map(|l| l.id).unwrap_or_default(),
                kind: AckKind::Complete { result: None },
            };
            (ack, Jitter::NONE)
        })
        .collect();
    let chunks: Vec<Vec<(Ack, Jitter)>> = acks
        .chunks(FETCH_BATCH as usize)
        .map(<[(Ack, Jitter)]>::to_vec)
        .collect();
    let queue = Arc::new(tokio::sync::Mutex::new(chunks));
    phase(&store, "ack", callers, move |store| {
        let queue = Arc::clone(&queue);
        async move {
            let mut done = 0;
            loop {
                // Popped in its own statement: the lock must not be held across the ack.
                let next = queue.lock().await.pop();
                let Some(acks) = next else {
                    return Ok(done);
                };
                let params = JobAckManyParams {
                    now: SystemClock.now(),
                    acks,
                };
                done += store.job_ack_many(params).await?.outcomes.len();
            }
        }
    })
    .await?;
    store.close().await;
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs `work` on `callers` tasks at once and prints the phase's throughput.
async fn phase<F, Fut>(
    store: &Arc<SqliteStore>,
    name: &str,
    callers: usize,
    work: F,
) -> Result<usize, BoxError>
where
    F: Fn(Arc<SqliteStore>) -> Fut,
    Fut: Future<Output = Result<usize, BoxError>> + Send + 'static,
{
    let before = store.stats();
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| tokio::spawn(work(Arc::clone(store))))
        .collect();
    let mut rows = 0;
    for task in tasks {
        rows += task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = store.stats();
    println!(
        "{name:<8} {rows:>10} {:>12.0} {:>9} {:>9}",
        rows as f64 / elapsed,
        after.commands - before.commands,
        after.commits - before.commits
    );
    Ok(rows)
}
