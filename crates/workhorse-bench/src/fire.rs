//! Fire precision: how late work comes due after the time it was set for.
//!
//! - Delayed jobs: `--fire-jobs` jobs with `run_at` spread evenly over the next
//!   `--fire-secs` seconds, run by idle workers; each job's lateness is its `started_at`
//!   minus its `run_at` (what a user waiting for a delayed job sees).
//! - Schedules: `--fire-schedules` every-second schedules running for `--fire-secs`
//!   seconds; each fire's lateness is its job's `created_at` minus its `scheduled_for`.
//!
//! Both times are the server's (millisecond timestamps), so the client's clock plays no
//! part. The schedules are deleted afterwards.

use super::report::FireLateness;
use super::workers::{Recorder, Workers, wait_drained};
use super::{Bench, TASK};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::Duration;
use workhorse_client::Client;
use workhorse_core::Timestamp;
use workhorse_protocol::{EnqueueRequest, JobListQuery, JobView, ScheduleRequest};

/// Jobs per enqueue batch of the delayed-jobs run.
const BATCH: usize = 1_000;
/// The first delayed job comes due this long after the run starts, so enqueueing is over
/// before anything is due.
const LEAD: Duration = Duration::from_secs(2);

/// Lateness of delayed jobs: `jobs` spread over `secs` seconds.
pub async fn delayed_jobs(bench: &Bench, jobs: u64, secs: u64) -> anyhow::Result<FireLateness> {
    let queue = bench.queue("delayed");
    let recorder = Arc::new(Recorder::default());
    let workers = Workers::start(bench, std::slice::from_ref(&queue), &recorder);
    let start = Timestamp::now() + LEAD;
    let spread_ms = secs.max(1) * 1_000;
    let requests: Vec<EnqueueRequest> = (0..jobs)
        .map(|i| EnqueueRequest {
            queue: Some(queue.clone()),
            run_at: Some(start + Duration::from_millis(i * spread_ms / jobs.max(1))),
            ..EnqueueRequest::new(TASK)
        })
        .collect();
    for batch in requests.chunks(BATCH) {
        bench.client.enqueue_many(batch).await?;
    }
    tokio::time::sleep(LEAD + Duration::from_millis(spread_ms)).await;
    wait_drained(&bench.client, &queue).await?;
    workers.stop().await?;
    let jobs = all_jobs(&bench.client, &queue).await?;
    let lateness = jobs
        .iter()
        .filter_map(|job| Some(job.started_at?.duration_since(job.run_at)))
        .map(|late| late.as_millis().max(0) as u64);
    FireLateness::from_millis(lateness)
}

/// Lateness of schedule fires: `schedules` every-second schedules for `secs` seconds.
pub async fn schedules(bench: &Bench, schedules: usize, secs: u64) -> anyhow::Result<FireLateness> {
    let queue = bench.queue("fires");
    let names: Vec<String> = (0..schedules).map(|i| format!("{queue}-{i}")).collect();
    for name in &names {
        let request = ScheduleRequest {
            every_ms: Some(1_000),
            task: TASK.to_owned(),
            queue: Some(queue.clone()),
            ..ScheduleRequest::default()
        };
        bench.client.upsert_schedule(name, &request).await?;
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    for name in &names {
        bench.client.delete_schedule(name).await?;
    }
    let jobs = all_jobs(&bench.client, &queue).await?;
    // Untimed: leave no jobs behind.
    let recorder = Arc::new(Recorder::default());
    let workers = Workers::start(bench, std::slice::from_ref(&queue), &recorder);
    wait_drained(&bench.client, &queue).await?;
    workers.stop().await?;
    let lateness = jobs
        .iter()
        .filter_map(|job| Some(job.created_at.duration_since(job.scheduled_for?)))
        .map(|late| late.as_millis().max(0) as u64);
    FireLateness::from_millis(lateness)
}

/// Every job of `queue`, page by page.
async fn all_jobs(client: &Client, queue: &str) -> anyhow::Result<Vec<JobView>> {
    let mut jobs = Vec::new();
    let mut cursor = None;
    loop {
        let query = JobListQuery {
            queue: Some(queue.to_owned()),
            limit: Some(500),
            cursor: cursor.take(),
            ..JobListQuery::default()
        };
        let page = client.list(query).await?;
        jobs.extend(page.jobs);
        match page.next_cursor {
            Some(next) => cursor = Some(next.to_string()),
            None => return Ok(jobs),
        }
    }
}

impl FireLateness {
    /// Percentiles of lateness values in milliseconds.
    fn from_millis(values: impl Iterator<Item = u64>) -> anyhow::Result<Self> {
        let mut histogram = Histogram::<u64>::new(3)?;
        for value in values {
            histogram.record(value)?;
        }
        Ok(FireLateness::new(&histogram))
    }
}
