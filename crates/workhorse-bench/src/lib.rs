//! `workhorse bench`: measures a running server with real Rust clients and workers.
//!
//! A crate of its own so the product does not carry it: the `workhorse` binary runs it
//! behind `workhorse-cli`'s `bench` feature (on by default), and the Python package, which
//! builds the command line without that feature, leaves it out. [`run`] measures and returns
//! the [`Report`]; the command line prints its rows as a table and writes it as JSON.
//!
//! Phases, each on its own queue (`bench-<run>-<phase>`) so they never mix:
//! 1. single enqueue: `--clients` concurrent producers enqueue `--jobs` jobs one by one;
//! 2. batch enqueue: `--batch-jobs` jobs in batches of 1,000;
//! 3. end to end: `--jobs` no-op jobs enqueued first, then drained by `--workers` real
//!    workers (WebSocket sessions) of `--concurrency` each; timed from the workers' start
//!    until the queue has nothing ready or running;
//! 4. start latency: jobs enqueued at a fixed `--rate` for `--latency-secs` to idle
//!    workers; each job's latency is its task's start minus the moment its enqueue was
//!    sent, both read from this process's monotonic clock.
//! 5. fire precision (`fire`, not run by default): delayed jobs and every-second schedules,
//!    each one's lateness after its set time by the server's clock (see [`fire`]).
//! 6. dashboard (`dashboard`, not run by default): fills the store with
//!    `--dashboard-jobs` jobs and times the dashboard's reads (see [`dashboard`]); its jobs
//!    stay, so run it against a throwaway data directory.
//!
//! The jobs of phases 1 and 2 are drained afterwards (untimed) unless `--keep-jobs`.

mod dashboard;
mod enqueue;
mod fire;
mod latency;
pub mod report;
mod workers;

pub use report::Report;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;
use workhorse_client::Client;
use workhorse_protocol::EnqueueRequest;

/// The no-op task every bench job runs.
const TASK: &str = "bench.noop";

/// `workhorse bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Jobs for the single-enqueue and end-to-end phases.
    #[arg(long, default_value_t = 50_000)]
    jobs: u64,
    /// Jobs for the batch-enqueue phase (batches of 1,000).
    #[arg(long, default_value_t = 200_000)]
    batch_jobs: u64,
    /// Concurrent producers in the single-enqueue phase.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Worker sessions (real Workers over WebSocket).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Tasks each worker runs at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Enqueue rate of the start-latency phase, jobs per second.
    #[arg(long, default_value_t = 5_000)]
    rate: u64,
    /// Length of the start-latency phase, in seconds.
    #[arg(long, default_value_t = 4)]
    latency_secs: u64,
    /// Delayed jobs of the fire-precision phase.
    #[arg(long, default_value_t = 5_000)]
    fire_jobs: u64,
    /// Every-second schedules of the fire-precision phase.
    #[arg(long, default_value_t = 20)]
    fire_schedules: usize,
    /// Length of the fire-precision phase's two runs, in seconds.
    #[arg(long, default_value_t = 10)]
    fire_secs: u64,
    /// Jobs in the store for the dashboard phase.
    #[arg(long, default_value_t = 1_000_000)]
    dashboard_jobs: u64,
    /// Phases to run (comma-separated): single, batch, e2e, latency, fire, dashboard.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "single,batch,e2e,latency"
    )]
    phases: Vec<Phase>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Leave the enqueue phases' jobs in their queues instead of draining them.
    #[arg(long)]
    keep_jobs: bool,
}

/// A bench phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    Single,
    Batch,
    E2e,
    Latency,
    Fire,
    Dashboard,
}

/// What every phase needs.
pub(crate) struct Bench {
    pub client: Client,
    pub run_id: String,
    pub workers: usize,
    pub concurrency: usize,
}

impl Bench {
    /// The queue of one phase of this run.
    pub fn queue(&self, phase: &str) -> String {
        format!("bench-{}-{phase}", self.run_id)
    }

    /// One no-op job on `queue`.
    pub fn job(queue: &str) -> EnqueueRequest {
        EnqueueRequest {
            queue: Some(queue.to_owned()),
            ..EnqueueRequest::new(TASK)
        }
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{prefix:>16} [{bar:40.cyan/blue}] {human_pos}/{human_len} {per_sec} {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Runs the selected phases against the server `client` talks to and returns what they
/// measured.
pub async fn run(client: &Client, args: &BenchArgs) -> anyhow::Result<Report> {
    let client = client.clone();
    client
        .health()
        .await
        .context("bench needs a running server (start one with `workhorse serve`)")?;
    let bench = Bench {
        client,
        run_id: run_id(),
        workers: args.workers.max(1),
        concurrency: args.concurrency.max(1),
    };
    let mut report = Report::new(&bench, args);
    let has = |phase| args.phases.contains(&phase);
    if has(Phase::Single) {
        report.single_enqueue =
            Some(enqueue::single(&bench, args.jobs, args.clients.max(1)).await?);
    }
    if has(Phase::Batch) {
        report.batch_enqueue = Some(enqueue::batch(&bench, args.batch_jobs).await?);
    }
    if has(Phase::E2e) {
        report.end_to_end = Some(workers::end_to_end(&bench, args.jobs).await?);
    }
    if has(Phase::Latency) {
        let jobs = args.rate.saturating_mul(args.latency_secs).max(1);
        report.start_latency = Some(latency::measure(&bench, args.rate.max(1), jobs).await?);
    }
    if has(Phase::Fire) {
        report.delayed_lateness =
            Some(fire::delayed_jobs(&bench, args.fire_jobs, args.fire_secs).await?);
        report.fire_lateness =
            Some(fire::schedules(&bench, args.fire_schedules, args.fire_secs).await?);
    }
    if has(Phase::Dashboard) {
        report.dashboard = Some(dashboard::measure(&bench, args.dashboard_jobs).await?);
    }
    if !args.keep_jobs && (has(Phase::Single) || has(Phase::Batch)) {
        workers::drain_leftovers(&bench).await?;
    }
    Ok(report)
}

/// This run's id: the time (readable order in queue lists) and the process id, so bench
/// processes started together against one cluster never share a queue.
fn run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{}",
        now.as_millisecond() % 100_000_000,
        std::process::id()
    )
}
