//! Dashboard responsiveness with a big store: makes dead letters first, then fills the
//! server with `--dashboard-jobs` jobs over eight queues (half of them run to `succeeded`,
//! the rest left `ready`), then times every read the dashboard's pages make, one at a time,
//! each `SAMPLES` times. Times are measured here, on loopback, so they bound the server's own
//! time from above.
//!
//! The layout puts the hard cases under load: the dead letters (and so their rare task) are
//! older than every other job, and the queue whose ready jobs are listed is the oldest of the
//! ready ones, with hundreds of thousands of newer jobs in other queues.
//!
//! Its jobs are left in the store (the point is a big store): run it on a throwaway data
//! directory.

use super::enqueue::enqueue_batches;
use super::report::PageTime;
use super::workers::{Recorder, Workers, wait_drained};
use super::{Bench, progress};
use hdrhistogram::Histogram;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use workhorse_client::{Client, TaskError, Worker};
use workhorse_protocol::{EnqueueRequest, JobListQuery};

/// Queues the jobs are spread over.
const QUEUES: u64 = 8;
/// Dead letters made for the dead-letter page.
const DEAD: u64 = 1_000;
/// Requests timed per page.
const SAMPLES: usize = 50;
/// The task of the dead letters: it always fails.
const FAILING_TASK: &str = "bench.fail";

/// Fills the store, then times the dashboard's reads.
pub async fn measure(bench: &Bench, jobs: u64) -> anyhow::Result<Vec<PageTime>> {
    let queues: Vec<String> = (0..QUEUES)
        .map(|i| bench.queue(&format!("dash{i}")))
        .collect();
    let dead_queue = bench.queue("dashdead");
    make_dead_letters(bench, &dead_queue).await?;
    fill(bench, &queues, jobs).await?;
    // The first queue left ready: the later ones hold newer jobs.
    let ready_queue = &queues[queues.len() / 2];
    time_pages(&bench.client, ready_queue).await
}

/// `jobs` jobs over `queues`; the first half of the queues is run to `succeeded`.
async fn fill(bench: &Bench, queues: &[String], jobs: u64) -> anyhow::Result<()> {
    let bar = progress("dashboard fill", jobs);
    for queue in queues {
        enqueue_batches(bench, queue, jobs / QUEUES, Some(bar.clone())).await?;
    }
    bar.finish();
    let run = &queues[..queues.len() / 2];
    let recorder = Arc::new(Recorder::default());
    let bar = progress("dashboard run", jobs / 2);
    let workers = Workers::start(bench, run, &recorder);
    recorder
        .wait_for(jobs / QUEUES * run.len() as u64, &bar)
        .await;
    for queue in run {
        wait_drained(&bench.client, queue).await?;
    }
    workers.stop().await?;
    bar.finish();
    Ok(())
}

/// `DEAD` jobs of a task that always fails, with one attempt each.
async fn make_dead_letters(bench: &Bench, queue: &str) -> anyhow::Result<()> {
    let requests: Vec<EnqueueRequest> = (0..DEAD)
        .map(|_| EnqueueRequest {
            queue: Some(queue.to_owned()),
            max_attempts: Some(1),
            ..EnqueueRequest::new(FAILING_TASK)
        })
        .collect();
    for batch in requests.chunks(1_000) {
        bench.client.enqueue_many(batch).await?;
    }
    let shutdown = CancellationToken::new();
    let worker = Worker::builder_for(&bench.client)
        .queues([queue])
        .concurrency(bench.concurrency)
        .raw_task(FAILING_TASK, |_ctx, _args| {
            std::future::ready(Err(TaskError::fatal("made to fail by the bench")))
        })
        .build()?;
    let token = shutdown.clone();
    let running = tokio::spawn(async move { worker.run(token).await });
    wait_drained(&bench.client, queue).await?;
    shutdown.cancel();
    running.await??;
    Ok(())
}

/// Times each read of the dashboard's pages; `queue` holds many ready jobs.
async fn time_pages(client: &Client, queue: &str) -> anyhow::Result<Vec<PageTime>> {
    let page = |query: JobListQuery| JobListQuery {
        limit: Some(50),
        ..query
    };
    let newest = client.list(page(JobListQuery::default())).await?;
    let some_id = newest
        .jobs
        .first()
        .map(|job| job.id)
        .ok_or_else(|| anyhow::anyhow!("the store is empty"))?;
    let second_page = newest.next_cursor.map(|c| c.to_string());
    let by = |queue: Option<&str>, state: Option<&str>, task: Option<&str>| {
        page(JobListQuery {
            queue: queue.map(str::to_owned),
            state: state.map(str::to_owned),
            task: task.map(str::to_owned),
            ..JobListQuery::default()
        })
    };
    let mut times = vec![
        time("overview: GET /v1/queues", || client.queues()).await?,
        time("jobs: newest 50", || client.list(by(None, None, None))).await?,
        time("jobs: next page", || {
            client.list(JobListQuery {
                cursor: second_page.clone(),
                ..by(None, None, None)
            })
        })
        .await?,
        time("jobs: one queue, ready", || {
            client.list(by(Some(queue), Some("ready"), None))
        })
        .await?,
        time("jobs: succeeded", || {
            client.list(by(None, Some("succeeded"), None))
        })
        .await?,
        time("jobs: by rare task", || {
            client.list(by(None, None, Some(FAILING_TASK)))
        })
        .await?,
        time("dead letters: newest 50", || {
            client.list(by(None, Some("dead"), None))
        })
        .await?,
        time("job detail", || client.get(some_id)).await?,
    ];
    times.push(time("schedules", || client.schedules()).await?);
    Ok(times)
}

/// `SAMPLES` sequential calls of `call`, after one untimed warm-up call.
async fn time<F, Fut, T, E>(page: &str, call: F) -> anyhow::Result<PageTime>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    call().await?;
    let mut micros = Histogram::<u64>::new(3)?;
    for _ in 0..SAMPLES {
        let started = Instant::now();
        call().await?;
        micros.record(started.elapsed().as_micros() as u64)?;
    }
    Ok(PageTime::new(page, &micros))
}
