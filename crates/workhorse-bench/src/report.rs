//! The bench's results: a table for people, JSON for tools.

use super::{Bench, BenchArgs};
use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// A throughput figure.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Jobs enqueued or run.
    pub jobs: u64,
    /// How long they took.
    pub seconds: f64,
    /// `jobs` over `seconds`.
    pub jobs_per_second: f64,
    /// Concurrent producers, batches in flight, or worker slots.
    pub concurrency: usize,
    /// When the timed part ended, in seconds since the Unix epoch: lets a tool combine
    /// several bench processes run at once (`bench/cluster.sh`) into one span.
    pub ended_at_unix: f64,
}

impl Throughput {
    /// `jobs` done in `elapsed` (ending now) with `concurrency`.
    pub fn new(jobs: u64, elapsed: Duration, concurrency: usize) -> Self {
        let seconds = elapsed.as_secs_f64();
        let ended_at_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        Throughput {
            jobs,
            seconds,
            jobs_per_second: jobs as f64 / seconds.max(f64::EPSILON),
            concurrency,
            ended_at_unix,
        }
    }
}

/// Start-latency percentiles, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Jobs measured.
    pub jobs: u64,
    /// The enqueue rate asked for, jobs per second.
    pub target_rate: u64,
    /// The enqueue rate reached, jobs per second.
    pub achieved_rate: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of `micros` (latencies in microseconds) for `jobs` enqueued at `rate`.
    pub fn new(jobs: u64, rate: u64, enqueue_time: Duration, micros: &Histogram<u64>) -> Self {
        let ms = |quantile: f64| micros.value_at_quantile(quantile) as f64 / 1_000.0;
        Latency {
            jobs,
            target_rate: rate,
            achieved_rate: jobs as f64 / enqueue_time.as_secs_f64().max(f64::EPSILON),
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: micros.max() as f64 / 1_000.0,
        }
    }
}

/// How late work came due after its set time, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct FireLateness {
    /// Jobs measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Latest.
    pub max_ms: f64,
}

impl FireLateness {
    /// Percentiles of `millis` (lateness in milliseconds).
    pub fn new(millis: &Histogram<u64>) -> Self {
        let ms = |quantile: f64| millis.value_at_quantile(quantile) as f64;
        FireLateness {
            count: millis.len(),
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: millis.max() as f64,
        }
    }
}

/// Response times of one dashboard read, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct PageTime {
    /// The read: the dashboard view and the request it makes.
    pub page: String,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl PageTime {
    /// Percentiles of `micros` (response times in microseconds) of `page`.
    pub fn new(page: &str, micros: &Histogram<u64>) -> Self {
        let ms = |quantile: f64| micros.value_at_quantile(quantile) as f64 / 1_000.0;
        PageTime {
            page: page.to_owned(),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: micros.max() as f64 / 1_000.0,
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server measured.
    pub url: String,
    /// This run's id, part of every queue name it used.
    pub run_id: String,
    /// Worker sessions.
    pub workers: usize,
    /// Tasks each worker ran at once.
    pub concurrency: usize,
    /// Concurrent producers of the single-enqueue phase.
    pub clients: usize,
    /// Jobs enqueued one by one.
    pub single_enqueue: Option<Throughput>,
    /// Jobs enqueued in batches.
    pub batch_enqueue: Option<Throughput>,
    /// Jobs enqueued, then drained by the workers.
    pub end_to_end: Option<Throughput>,
    /// Enqueue to task start, at a fixed rate.
    pub start_latency: Option<Latency>,
    /// Delayed jobs: started minus `run_at`.
    pub delayed_lateness: Option<FireLateness>,
    /// Schedule fires: job created minus `scheduled_for`.
    pub fire_lateness: Option<FireLateness>,
    /// Dashboard reads with a big store.
    pub dashboard: Option<Vec<PageTime>>,
    /// Jobs in the store during the dashboard phase.
    pub dashboard_jobs: u64,
}

impl Report {
    /// The titles of the columns of [`Report::rows`].
    pub const COLUMNS: [&'static str; 3] = ["MEASURE", "RESULT", "DETAIL"];

    /// An empty report of a run with these settings.
    pub(crate) fn new(bench: &Bench, args: &BenchArgs) -> Self {
        Report {
            url: bench.client.url().to_owned(),
            run_id: bench.run_id.clone(),
            workers: bench.workers,
            concurrency: bench.concurrency,
            clients: args.clients,
            single_enqueue: None,
            batch_enqueue: None,
            end_to_end: None,
            start_latency: None,
            delayed_lateness: None,
            fire_lateness: None,
            dashboard: None,
            dashboard_jobs: args.dashboard_jobs,
        }
    }

    /// The results as table rows, one cell per [`Report::COLUMNS`] entry.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let phases = [
            ("single enqueue", &self.single_enqueue, "concurrent clients"),
            (
                "batch enqueue",
                &self.batch_enqueue,
                "batches of 1000 in flight",
            ),
            ("end to end", &self.end_to_end, "worker slots"),
        ];
        for (name, result, unit) in phases {
            if let Some(t) = result {
                rows.push(vec![
                    name.to_owned(),
                    format!("{:.0} jobs/s", t.jobs_per_second),
                    format!(
                        "{} jobs in {:.2} s, {} {unit}",
                        t.jobs, t.seconds, t.concurrency
                    ),
                ]);
            }
        }
        if let Some(l) = &self.start_latency {
            let detail = format!(
                "{} jobs at {:.0}/s (target {}/s)",
                l.jobs, l.achieved_rate, l.target_rate
            );
            rows.push(vec![
                "start latency".to_owned(),
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms",
                    l.p50_ms, l.p95_ms, l.p99_ms
                ),
                format!("{detail}, max {:.2} ms", l.max_ms),
            ]);
        }
        let lateness = [
            (
                "delayed jobs",
                &self.delayed_lateness,
                "started minus run_at",
            ),
            (
                "schedule fires",
                &self.fire_lateness,
                "created minus fire time",
            ),
        ];
        for (name, result, detail) in lateness {
            if let Some(l) = result {
                rows.push(vec![
                    name.to_owned(),
                    format!(
                        "p50 {:.0} ms  p95 {:.0} ms  p99 {:.0} ms",
                        l.p50_ms, l.p95_ms, l.p99_ms
                    ),
                    format!("{} jobs, {detail}, max {:.0} ms", l.count, l.max_ms),
                ]);
            }
        }
        for page in self.dashboard.iter().flatten() {
            rows.push(vec![
                format!("dashboard: {}", page.page),
                format!("p50 {:.1} ms  p99 {:.1} ms", page.p50_ms, page.p99_ms),
                format!(
                    "{} jobs in the store, max {:.1} ms",
                    self.dashboard_jobs, page.max_ms
                ),
            ]);
        }
        rows
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}
