//! Enqueue throughput: single jobs from many concurrent producers, and batches.

use super::report::Throughput;
use super::{Bench, progress};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::task::JoinSet;
use workhorse_protocol::EnqueueRequest;

/// Jobs per batch in the batch phase.
pub const BATCH: u64 = 1_000;
/// Batches in flight at once in the batch phase.
const BATCHES_IN_FLIGHT: usize = 4;

/// `jobs` single enqueues from `clients` concurrent producers sharing one connection pool.
pub async fn single(bench: &Bench, jobs: u64, clients: usize) -> anyhow::Result<Throughput> {
    let queue = bench.queue("single");
    let bar = progress("single enqueue", jobs);
    let next = Arc::new(AtomicU64::new(0));
    let request = Arc::new(Bench::job(&queue));
    let started = Instant::now();
    let mut producers = JoinSet::new();
    for _ in 0..clients {
        let (client, next, request, bar) = (
            bench.client.clone(),
            next.clone(),
            request.clone(),
            bar.clone(),
        );
        producers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                client.enqueue(request.as_ref()).await?;
                bar.inc(1);
            }
            anyhow::Ok(())
        });
    }
    join_all(producers).await?;
    let elapsed = started.elapsed();
    bar.finish();
    Ok(Throughput::new(jobs, elapsed, clients))
}

/// `jobs` enqueued in batches of [`BATCH`], a few batches in flight.
pub async fn batch(bench: &Bench, jobs: u64) -> anyhow::Result<Throughput> {
    let queue = bench.queue("batch");
    let bar = progress("batch enqueue", jobs);
    let started = Instant::now();
    enqueue_batches(bench, &queue, jobs, Some(bar.clone())).await?;
    let elapsed = started.elapsed();
    bar.finish();
    Ok(Throughput::new(jobs, elapsed, BATCHES_IN_FLIGHT))
}

/// Enqueues `jobs` no-op jobs on `queue` in batches (also used to fill a queue untimed).
pub async fn enqueue_batches(
    bench: &Bench,
    queue: &str,
    jobs: u64,
    bar: Option<indicatif::ProgressBar>,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let batch: Arc<Vec<EnqueueRequest>> = Arc::new((0..BATCH).map(|_| Bench::job(queue)).collect());
    let mut senders = JoinSet::new();
    for _ in 0..BATCHES_IN_FLIGHT {
        let (client, next, batch, bar) = (
            bench.client.clone(),
            next.clone(),
            batch.clone(),
            bar.clone(),
        );
        senders.spawn(async move {
            loop {
                let start = next.fetch_add(BATCH, Ordering::Relaxed);
                if start >= jobs {
                    return anyhow::Ok(());
                }
                let size = (jobs - start).min(BATCH) as usize;
                client.enqueue_many(&batch[..size]).await?;
                if let Some(bar) = &bar {
                    bar.inc(size as u64);
                }
            }
        });
    }
    join_all(senders).await
}

/// Waits for every task; the first error wins.
pub async fn join_all(mut set: JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    while let Some(joined) = set.join_next().await {
        joined??;
    }
    Ok(())
}
