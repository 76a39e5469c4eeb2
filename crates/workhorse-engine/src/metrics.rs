//! The engine's Prometheus metrics, counted where transitions happen (the engine methods
//! know each call's outcome), not in HTTP handlers.
//!
//! Every [`Engine`](crate::Engine) owns its own recorder and registry, never the global one,
//! so several engines (servers) in one process — as in tests — keep separate numbers.
//! [`EngineMetrics::render`] gives the Prometheus text format.

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use workhorse_core::{Job, JobState, Timestamp};
use workhorse_store::QueueInfo;

/// Every metric name, for dashboards and tests.
pub mod names {
    /// Jobs inserted (a key that returned an existing job is not counted).
    pub const ENQUEUED: &str = "workhorse_jobs_enqueued_total";
    /// Attempts that completed.
    pub const SUCCEEDED: &str = "workhorse_jobs_succeeded_total";
    /// Attempts that failed: reported by their worker, or their lease lost.
    pub const FAILED: &str = "workhorse_jobs_failed_total";
    /// Failed attempts after which the job will run again.
    pub const RETRIED: &str = "workhorse_jobs_retried_total";
    /// Jobs that entered the dead-letter set.
    pub const DEAD: &str = "workhorse_jobs_dead_total";
    /// Jobs that became `cancelled`.
    pub const CANCELLED: &str = "workhorse_jobs_cancelled_total";
    /// Jobs that expired before they started (not labelled: the store reports a count).
    pub const EXPIRED: &str = "workhorse_jobs_expired_total";
    /// Leases taken back (expired, or their worker's session closed).
    pub const RESCUED: &str = "workhorse_jobs_rescued_total";
    /// Jobs per queue and state, from the last queue refresh.
    pub const QUEUE_DEPTH: &str = "workhorse_queue_depth";
    /// How long the oldest ready job of a queue has waited.
    pub const OLDEST_READY_AGE: &str = "workhorse_queue_oldest_ready_age_seconds";
    /// Open WebSocket worker sessions.
    pub const WORKERS_CONNECTED: &str = "workhorse_workers_connected";
    /// From ready to started (`started_at - run_at`).
    pub const JOB_WAIT: &str = "workhorse_job_wait_seconds";
    /// From started to acked.
    pub const JOB_RUN: &str = "workhorse_job_run_seconds";
    /// How late the scheduler's last pass ran after the earliest job due at it.
    pub const SCHEDULER_LAG: &str = "workhorse_scheduler_lag_seconds";
    /// Time from a state-changing store call to its commit being answered.
    pub const STORE_COMMIT: &str = "workhorse_store_commit_seconds";
    /// Mean store calls per commit since the previous sample (group commit).
    pub const STORE_BATCH_SIZE: &str = "workhorse_store_batch_size";
    /// Store calls run by the store's writer.
    pub const STORE_CALLS: &str = "workhorse_store_calls_total";
    /// Transactions committed by the store's writer.
    pub const STORE_COMMITS: &str = "workhorse_store_commits_total";
}

/// Latency buckets, in seconds: 1 ms to 10 min.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 600.0,
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Cumulative counts a store's writer reports (see [`EngineMetrics::set_store_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// State-changing calls run so far.
    pub calls: u64,
    /// Transactions committed so far.
    pub commits: u64,
}

type StoreStatsSource = Box<dyn Fn() -> StoreCounts + Send + Sync>;

/// One engine's metrics: a private recorder and the handle that renders it.
pub struct EngineMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    store_stats: OnceLock<StoreStatsSource>,
    last_store: Mutex<StoreCounts>,
    queues_refreshed: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for EngineMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineMetrics").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64().max(0.0)
}

impl Default for EngineMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineMetrics {
    /// A fresh registry with every metric described.
    pub fn new() -> Self {
        let mut builder = PrometheusBuilder::new();
        for name in [names::JOB_WAIT, names::JOB_RUN, names::STORE_COMMIT] {
            // Only a non-empty bucket list or an invalid matcher fail; neither is possible.
            builder = match builder
                .set_buckets_for_metric(Matcher::Full(name.to_owned()), SECONDS_BUCKETS)
            {
                Ok(builder) => builder,
                Err(_) => unreachable!("constant, non-empty buckets"),
            };
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = EngineMetrics {
            recorder,
            handle,
            store_stats: OnceLock::new(),
            last_store: Mutex::new(StoreCounts::default()),
            queues_refreshed: Mutex::new(None),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        use names::{
            CANCELLED, DEAD, ENQUEUED, EXPIRED, FAILED, JOB_RUN, JOB_WAIT, OLDEST_READY_AGE,
            QUEUE_DEPTH, RESCUED, RETRIED, SCHEDULER_LAG, STORE_BATCH_SIZE, STORE_CALLS,
            STORE_COMMIT, STORE_COMMITS, SUCCEEDED, WORKERS_CONNECTED,
        };
        let counters = [
            (ENQUEUED, "Jobs enqueued"),
            (SUCCEEDED, "Attempts that succeeded"),
            (
                FAILED,
                "Attempts that failed (reported by the worker, or the lease lost)",
            ),
            (RETRIED, "Failed attempts after which the job runs again"),
            (DEAD, "Jobs moved to the dead-letter set"),
            (CANCELLED, "Jobs cancelled"),
            (EXPIRED, "Jobs expired before they started"),
            (RESCUED, "Leases taken back from lost or silent workers"),
            (STORE_CALLS, "State-changing calls run by the store writer"),
            (STORE_COMMITS, "Transactions committed by the store writer"),
        ];
        for (name, help) in counters {
            self.recorder
                .describe_counter(name.into(), None, help.into());
        }
        let gauges = [
            (QUEUE_DEPTH, None, "Jobs per queue and state"),
            (
                OLDEST_READY_AGE,
                Some(Unit::Seconds),
                "Age of the oldest ready job",
            ),
            (WORKERS_CONNECTED, None, "Open WebSocket worker sessions"),
            (
                SCHEDULER_LAG,
                Some(Unit::Seconds),
                "Lateness of the last scheduler pass",
            ),
            (
                STORE_BATCH_SIZE,
                None,
                "Mean store calls per commit since the last sample",
            ),
        ];
        for (name, unit, help) in gauges {
            self.recorder.describe_gauge(name.into(), unit, help.into());
        }
        let histograms = [
            (JOB_WAIT, "Time from ready to started"),
            (JOB_RUN, "Time from started to acked"),
            (
                STORE_COMMIT,
                "Time until a state-changing store call committed",
            ),
        ];
        for (name, help) in histograms {
            let unit = Some(Unit::Seconds);
            self.recorder
                .describe_histogram(name.into(), unit, help.into());
        }
    }

    /// The Prometheus text exposition of every metric, store counts sampled first.
    pub fn render(&self) -> String {
        self.sample_store();
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; call every few seconds so memory stays
    /// bounded between scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Where store commit counts come from (e.g. `SqliteStore::stats`). Set once; `false`
    /// if a source was already set.
    pub fn set_store_stats(
        &self,
        source: impl Fn() -> StoreCounts + Send + Sync + 'static,
    ) -> bool {
        self.store_stats.set(Box::new(source)).is_ok()
    }

    /// Sets how many WebSocket worker sessions are open.
    pub fn set_workers_connected(&self, count: usize) {
        self.gauge(names::WORKERS_CONNECTED, Vec::new())
            .set(count as f64);
    }

    /// How long ago the queue gauges were last refreshed; `None` if never.
    pub fn queues_age(&self) -> Option<Duration> {
        lock(&self.queues_refreshed).map(|at| at.elapsed())
    }

    fn job_labels(job: &Job) -> Vec<Label> {
        vec![
            Label::new("queue", job.queue.clone()),
            Label::new("task", job.task.clone()),
        ]
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    fn count(&self, name: &'static str, job: &Job) {
        self.counter(name, Self::job_labels(job)).increment(1);
    }

    /// A job was inserted.
    pub(crate) fn enqueued(&self, job: &Job) {
        self.count(names::ENQUEUED, job);
    }

    /// A job was leased: how long it waited since it became ready.
    pub(crate) fn started(&self, job: &Job) {
        if let Some(started) = job.started_at {
            self.histogram(names::JOB_WAIT, Self::job_labels(job))
                .record(seconds(job.run_at, started));
        }
    }

    /// A worker's ack was applied at `now`; `job` is as it is after it.
    pub(crate) fn acked(&self, job: &Job, failed: bool, now: Timestamp) {
        if let Some(started) = job.started_at {
            self.histogram(names::JOB_RUN, Self::job_labels(job))
                .record(seconds(started, now));
        }
        if failed {
            self.count(names::FAILED, job);
            self.after_failure(job);
        } else if job.state == JobState::Succeeded {
            self.count(names::SUCCEEDED, job);
        }
    }

    /// A lease was taken back; the attempt counts as failed.
    pub(crate) fn rescued(&self, job: &Job) {
        self.count(names::RESCUED, job);
        self.count(names::FAILED, job);
        self.after_failure(job);
    }

    fn after_failure(&self, job: &Job) {
        match job.state {
            JobState::Scheduled | JobState::Ready => self.count(names::RETRIED, job),
            JobState::Dead => self.count(names::DEAD, job),
            JobState::Cancelled => self.count(names::CANCELLED, job),
            _ => {}
        }
    }

    /// A waiting job was cancelled.
    pub(crate) fn cancelled(&self, job: &Job) {
        self.count(names::CANCELLED, job);
    }

    /// The scheduler expired `count` jobs.
    pub(crate) fn expired(&self, count: u64) {
        if count > 0 {
            self.counter(names::EXPIRED, Vec::new()).increment(count);
        }
    }

    /// How late the scheduler ran.
    pub(crate) fn scheduler_lag(&self, lag: f64) {
        self.gauge(names::SCHEDULER_LAG, Vec::new()).set(lag);
    }

    /// A state-changing store call took `elapsed` until its commit was answered.
    pub(crate) fn store_call(&self, elapsed: Duration) {
        self.histogram(names::STORE_COMMIT, Vec::new())
            .record(elapsed.as_secs_f64());
    }

    /// Sets the queue gauges from a fresh `queue_list` read at `now`.
    pub(crate) fn queues(&self, queues: &[QueueInfo], now: Timestamp) {
        for queue in queues {
            let name = &queue.config.name;
            for state in JobState::ALL {
                let labels = vec![
                    Label::new("queue", name.clone()),
                    Label::new("state", state.as_str()),
                ];
                let count = queue.counts.get(&state).copied().unwrap_or(0);
                self.gauge(names::QUEUE_DEPTH, labels).set(count as f64);
            }
            let age = queue.oldest_ready_at.map_or(0.0, |at| seconds(at, now));
            let labels = vec![Label::new("queue", name.clone())];
            self.gauge(names::OLDEST_READY_AGE, labels).set(age);
        }
        *lock(&self.queues_refreshed) = Some(Instant::now());
    }

    /// Reads the store's counts, if a source is set, and updates the store metrics.
    fn sample_store(&self) {
        let Some(source) = self.store_stats.get() else {
            return;
        };
        let now = source();
        let mut last = lock(&self.last_store);
        self.counter(names::STORE_CALLS, Vec::new())
            .absolute(now.calls);
        self.counter(names::STORE_COMMITS, Vec::new())
            .absolute(now.commits);
        let commits = now.commits.saturating_sub(last.commits);
        if commits > 0 {
            let calls = now.calls.saturating_sub(last.calls);
            self.gauge(names::STORE_BATCH_SIZE, Vec::new())
                .set(calls as f64 / commits as f64);
        }
        *last = now;
    }
}
