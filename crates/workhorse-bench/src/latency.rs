//! Start latency at a fixed enqueue rate: from the moment a job's enqueue is sent to the
//! moment its task starts on a worker, both on this process's monotonic clock.

use super::enqueue::join_all;
use super::report::Latency;
use super::workers::{Recorder, Workers};
use super::{Bench, progress};
use anyhow::Context as _;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use workhorse_core::JobId;

/// Jobs run first so every worker session is connected and warm.
const WARM_UP: u64 = 200;
/// Enqueues in flight at most; past this the producer falls behind its rate (and the
/// report shows the rate achieved).
const MAX_IN_FLIGHT: usize = 512;

type Sent = Arc<Mutex<Vec<(JobId, Instant)>>>;

/// Runs `jobs` jobs enqueued at `rate` per second to idle workers and measures their
/// start latency.
pub async fn measure(bench: &Bench, rate: u64, jobs: u64) -> anyhow::Result<Latency> {
    let queue = bench.queue("latency");
    let recorder = Arc::new(Recorder::with_starts());
    let workers = Workers::start(bench, std::slice::from_ref(&queue), &recorder);
    warm_up(bench, &queue, &recorder).await?;

    let bar = progress("start latency", jobs);
    let sent: Sent = Arc::new(Mutex::new(Vec::new()));
    let enqueue_time = enqueue_at_rate(bench, &queue, rate, jobs, &sent).await?;
    recorder.wait_for(jobs, &bar).await;
    bar.finish();
    workers.stop().await?;

    let sent = std::mem::take(&mut *lock(&sent));
    let histogram = latencies(&sent, &recorder.take_starts())?;
    Ok(Latency::new(jobs, rate, enqueue_time, &histogram))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a few jobs so the sessions are up, then forgets them.
async fn warm_up(bench: &Bench, queue: &str, recorder: &Recorder) -> anyhow::Result<()> {
    let batch: Vec<_> = (0..WARM_UP).map(|_| Bench::job(queue)).collect();
    bench.client.enqueue_many(batch).await?;
    recorder
        .wait_for(WARM_UP, &indicatif::ProgressBar::hidden())
        .await;
    recorder.reset();
    Ok(())
}

/// Enqueues `jobs` single jobs at `rate` per second, recording when each was sent;
/// returns how long that took.
async fn enqueue_at_rate(
    bench: &Bench,
    queue: &str,
    rate: u64,
    jobs: u64,
    sent: &Sent,
) -> anyhow::Result<Duration> {
    let request = Arc::new(Bench::job(queue));
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut issued = 0;
    while issued < jobs {
        ticker.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(jobs);
        while issued < due {
            let permit = permits.clone().acquire_owned().await?;
            let (client, request, sent) = (bench.client.clone(), request.clone(), sent.clone());
            tasks.spawn(async move {
                let at = Instant::now();
                let enqueued = client.enqueue(request.as_ref()).await?;
                lock(&sent).push((enqueued.job.id, at));
                drop(permit);
                anyhow::Ok(())
            });
            issued += 1;
        }
        while let Some(done) = tasks.try_join_next() {
            done??;
        }
    }
    join_all(tasks).await?;
    Ok(started.elapsed())
}

/// Start minus send, per job, in microseconds.
fn latencies(
    sent: &[(JobId, Instant)],
    starts: &[(JobId, Instant)],
) -> anyhow::Result<Histogram<u64>> {
    let mut first_start: HashMap<JobId, Instant> = HashMap::with_capacity(starts.len());
    for (id, at) in starts {
        first_start.entry(*id).or_insert(*at);
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
        .context("creating the latency histogram")?;
    for (id, at) in sent {
        let start = first_start
            .get(id)
            .with_context(|| format!("job {id} was enqueued but never started"))?;
        let micros = start.saturating_duration_since(*at).as_micros() as u64;
        histogram.saturating_record(micros.max(1));
    }
    Ok(histogram)
}
