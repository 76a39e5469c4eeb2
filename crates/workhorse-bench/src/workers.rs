//! Real workers for the bench, the end-to-end phase, and draining leftovers.

use super::enqueue::{enqueue_batches, join_all};
use super::report::Throughput;
use super::{Bench, TASK, progress};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use workhorse_client::{Client, Worker};
use workhorse_core::{JobId, JobState};
use workhorse_protocol::JobListQuery;

/// How often a phase looks at its counters or the server while waiting.
const POLL: Duration = Duration::from_millis(2);

/// What the workers' no-op task records: how many ran, and optionally when each started.
#[derive(Default)]
pub struct Recorder {
    runs: AtomicU64,
    starts: Option<Mutex<Vec<(JobId, Instant)>>>,
}

impl Recorder {
    /// A recorder that also keeps each job's start instant.
    pub fn with_starts() -> Self {
        Recorder {
            runs: AtomicU64::new(0),
            starts: Some(Mutex::new(Vec::new())),
        }
    }

    fn record(&self, id: JobId) {
        if let Some(starts) = &self.starts {
            let now = Instant::now();
            starts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((id, now));
        }
        self.runs.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets what was recorded so far.
    pub fn reset(&self) {
        self.take_starts();
        self.runs.store(0, Ordering::Relaxed);
    }

    /// Tasks run so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// The recorded start instants.
    pub fn take_starts(&self) -> Vec<(JobId, Instant)> {
        self.starts.as_ref().map_or_else(Vec::new, |starts| {
            std::mem::take(
                &mut *starts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        })
    }

    /// Waits until `target` tasks ran, advancing `bar`.
    pub async fn wait_for(&self, target: u64, bar: &indicatif::ProgressBar) {
        loop {
            let runs = self.runs();
            bar.set_position(runs.min(target));
            if runs >= target {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Running bench workers.
pub struct Workers {
    shutdown: CancellationToken,
    running: JoinSet<anyhow::Result<()>>,
}

impl Workers {
    /// Starts the bench's workers on `queues`, running the no-op task into `recorder`.
    pub fn start(bench: &Bench, queues: &[String], recorder: &Arc<Recorder>) -> Self {
        let shutdown = CancellationToken::new();
        let mut running = JoinSet::new();
        for i in 0..bench.workers {
            let recorder = recorder.clone();
            let worker = Worker::builder_for(&bench.client)
                .name(format!("bench-{}-{i}", bench.run_id))
                .queues(queues.iter().cloned())
                .concurrency(bench.concurrency)
                .prefetch(bench.concurrency)
                .raw_task(TASK, move |ctx, _args| {
                    recorder.record(ctx.id());
                    std::future::ready(Ok(Value::Null))
                });
            let token = shutdown.clone();
            running.spawn(async move { Ok(worker.run(token).await?) });
        }
        Workers { shutdown, running }
    }

    /// Shuts the workers down gracefully.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        join_all(self.running).await
    }
}

/// Fills a queue with `jobs` no-op jobs, then times real workers draining it.
pub async fn end_to_end(bench: &Bench, jobs: u64) -> anyhow::Result<Throughput> {
    let queue = bench.queue("e2e");
    let fill = progress("e2e enqueue", jobs);
    enqueue_batches(bench, &queue, jobs, Some(fill.clone())).await?;
    fill.finish();

    let bar = progress("end to end", jobs);
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let workers = Workers::start(bench, std::slice::from_ref(&queue), &recorder);
    recorder.wait_for(jobs, &bar).await;
    // Every task ran; the phase ends when the server has settled every ack too.
    wait_drained(&bench.client, &queue).await?;
    let throughput = Throughput::new(jobs, started.elapsed(), bench.workers * bench.concurrency);
    bar.finish();
    workers.stop().await?;
    Ok(throughput)
}

/// Drains (untimed) the jobs the enqueue phases left behind.
pub async fn drain_leftovers(bench: &Bench) -> anyhow::Result<()> {
    let queues = [bench.queue("single"), bench.queue("batch")];
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("draining the enqueue phases' jobs");
    bar.enable_steady_tick(Duration::from_millis(100));
    let recorder = Arc::new(Recorder::default());
    let workers = Workers::start(bench, &queues, &recorder);
    for queue in &queues {
        wait_drained(&bench.client, queue).await?;
    }
    workers.stop().await?;
    bar.finish_and_clear();
    Ok(())
}

/// Waits until `queue` has no job ready or running.
pub async fn wait_drained(client: &Client, queue: &str) -> anyhow::Result<()> {
    loop {
        let mut busy = false;
        for state in [JobState::Ready, JobState::Running] {
            let query = JobListQuery {
                queue: Some(queue.to_owned()),
                state: Some(state.as_str().to_owned()),
                limit: Some(1),
                ..JobListQuery::default()
            };
            busy |= !client.list(query).await?.jobs.is_empty();
        }
        if !busy {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}
