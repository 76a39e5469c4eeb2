//! `NativeWorker`: a Rust worker session whose tasks run in Python.
//!
//! Each registered task name gets a raw handler that hands the job to Python through a
//! channel and awaits the outcome Python gives. Python takes jobs in batches
//! (`next_batch`): one await per batch, not per job, is what lets one Python process run
//! thousands of jobs a second. Heartbeats, acks, reconnects, time limits and graceful
//! shutdown all stay in the Rust worker.

use crate::bridge::{awaitable, resolved};
use crate::client::env_var;
use crate::errors::{WorkhorseError, client_error};
use crate::job::{HandedJob, NativeJob, Outcome};
use crate::runtime::{runtime, seconds};
use pyo3::prelude::*;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workhorse_client::{
    ClientError, DEFAULT_URL, JobContext, StopReason, TOKEN_ENV, TaskError, URL_ENV, Worker,
    WorkerBuilder, worker::default_name,
};

/// After its run, how long a worker waits for the handlers of stopped jobs to be dropped.
const HANDLERS_GONE: Duration = Duration::from_secs(1);

/// A worker session (over WebSocket) that hands jobs of the registered task names to
/// Python and sends back their outcomes.
#[pyclass(frozen, module = "workhorse._native")]
pub struct NativeWorker {
    name: String,
    /// Taken by `start`.
    worker: Mutex<Option<Worker>>,
    shutdown: CancellationToken,
    handouts: Arc<Handouts>,
}

/// The Python side of the channels, and how the run ended.
struct Handouts {
    receivers: tokio::sync::Mutex<Receivers>,
    handlers: TaskTracker,
    /// Cancelled when the worker's run is over (or it was shut down before it started).
    finished: CancellationToken,
    /// The run's result, set before `finished` is cancelled.
    result: OnceLock<Result<(), ClientError>>,
}

struct Receivers {
    jobs: UnboundedReceiver<NativeJob>,
    stops: UnboundedReceiver<Arc<HandedJob>>,
}

/// The Rust side of the channels, cloned into every handler.
#[derive(Clone)]
struct Senders {
    jobs: UnboundedSender<NativeJob>,
    stops: UnboundedSender<Arc<HandedJob>>,
    /// Tracks the running handlers, so the run ends only after their last stop notices.
    handlers: TaskTracker,
}

/// What `next_batch` returns: new jobs, and `(job_id, reason)` stop notices.
type Batch = (Vec<NativeJob>, Vec<(String, &'static str)>);

/// How a `NativeWorker` is configured (the constructor's keyword arguments).
struct Settings {
    url: Option<String>,
    token: Option<String>,
    tasks: Vec<String>,
    queues: Vec<String>,
    concurrency: usize,
    prefetch: Option<usize>,
    grace: f64,
    cancel_grace: f64,
}

#[pymethods]
impl NativeWorker {
    #[new]
    #[pyo3(signature = (
        url=None, token=None, *, tasks, queues, concurrency=10, prefetch=None,
        grace=30.0, cancel_grace=1.0, name=None
    ))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python constructor's keywords"
    )]
    fn new(
        url: Option<String>,
        token: Option<String>,
        tasks: Vec<String>,
        queues: Vec<String>,
        concurrency: usize,
        prefetch: Option<usize>,
        grace: f64,
        cancel_grace: f64,
        name: Option<String>,
    ) -> PyResult<Self> {
        let settings = Settings {
            url,
            token,
            tasks,
            queues,
            concurrency,
            prefetch,
            grace,
            cancel_grace,
        };
        let (senders, receivers) = channels();
        let name = name.unwrap_or_else(default_name);
        let worker = settings
            .builder(&name, &senders)?
            .build()
            .map_err(|e| client_error(&e))?;
        Ok(NativeWorker {
            name,
            worker: Mutex::new(Some(worker)),
            shutdown: CancellationToken::new(),
            handouts: Arc::new(Handouts {
                receivers: tokio::sync::Mutex::new(receivers),
                handlers: senders.handlers,
                finished: CancellationToken::new(),
                result: OnceLock::new(),
            }),
        })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    fn start(&self) -> PyResult<()> {
        let worker = self
            .take_worker()
            .ok_or_else(|| WorkhorseError::new_err("this worker was already started"))?;
        let (shutdown, handouts) = (self.shutdown.clone(), Arc::clone(&self.handouts));
        runtime().spawn(async move {
            // Also on a panic of the run: nobody waits forever.
            let _finished = handouts.finished.clone().drop_guard();
            let result = worker.run(shutdown).await;
            // Stopped handlers were aborted: wait until they are dropped (and sent their
            // notices), but not for handlers the run gave up on.
            handouts.handlers.close();
            let _ = tokio::time::timeout(HANDLERS_GONE, handouts.handlers.wait()).await;
            let _ = handouts.result.set(result);
        });
        Ok(())
    }

    fn next_batch<'py>(&self, py: Python<'py>, max_jobs: usize) -> PyResult<Bound<'py, PyAny>> {
        self.check_started()?;
        let max_jobs = max_jobs.max(1);
        // Jobs already waiting: no thread needs to wake for them.
        if let Some(batch) = self.handouts.try_next_batch(max_jobs) {
            return resolved(py, batch);
        }
        let handouts = Arc::clone(&self.handouts);
        awaitable(py, async move { Ok(handouts.next_batch(max_jobs).await) })
    }

    fn shutdown(&self) {
        self.shutdown.cancel();
        // Never started: there is no run to end, so end it here.
        if self.take_worker().is_some() {
            let _ = self.handouts.result.set(Ok(()));
            self.handouts.finished.cancel();
        }
    }

    fn wait_closed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check_started()?;
        let handouts = Arc::clone(&self.handouts);
        awaitable(py, async move {
            handouts.finished.cancelled().await;
            match handouts.result.get() {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(client_error(e)),
                None => Err(WorkhorseError::new_err(
                    "the worker stopped unexpectedly (see the logs)",
                )),
            }
        })
    }

    fn __repr__(&self) -> String {
        format!("NativeWorker(name={:?})", self.name)
    }
}

impl NativeWorker {
    fn take_worker(&self) -> Option<Worker> {
        self.worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Waiting for a worker that never runs would never end.
    fn check_started(&self) -> PyResult<()> {
        let not_started = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if not_started {
            return Err(WorkhorseError::new_err("call start() first"));
        }
        Ok(())
    }
}

impl Drop for NativeWorker {
    /// A worker Python let go of shuts down gracefully rather than running on unseen.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Settings {
    fn builder(&self, name: &str, senders: &Senders) -> PyResult<WorkerBuilder> {
        let url = self.url.clone().or_else(|| env_var(URL_ENV));
        let mut builder = Worker::builder(url.as_deref().unwrap_or(DEFAULT_URL))
            .name(name)
            .queues(self.queues.iter().cloned())
            .concurrency(self.concurrency)
            .grace_period(seconds("grace", self.grace)?)
            .cancel_grace(seconds("cancel_grace", self.cancel_grace)?);
        if let Some(token) = self.token.clone().or_else(|| env_var(TOKEN_ENV)) {
            builder = builder.token(token.trim());
        }
        if let Some(prefetch) = self.prefetch {
            builder = builder.prefetch(prefetch);
        }
        for task in &self.tasks {
            let senders = senders.clone();
            builder = builder.raw_task(task.clone(), move |context, _args| {
                run_in_python(context, senders.clone())
            });
        }
        Ok(builder)
    }
}

fn channels() -> (Senders, Receivers) {
    let (jobs, jobs_out) = unbounded_channel();
    let (stops, stops_out) = unbounded_channel();
    (
        Senders {
            jobs,
            stops,
            handlers: TaskTracker::new(),
        },
        Receivers {
            jobs: jobs_out,
            stops: stops_out,
        },
    )
}

/// The handler of every Python task: hands the job over and waits for its outcome. If
/// the job is told to stop meanwhile, Python gets a stop notice (the Rust worker reports
/// the attempt stopped by itself; a later outcome is ignored).
async fn run_in_python(context: JobContext, senders: Senders) -> Outcome {
    let _running = senders.handlers.token();
    let job = HandedJob::new(context.clone());
    let (outcome, mut answer) = oneshot::channel();
    if senders
        .jobs
        .send(NativeJob::new(Arc::clone(&job), outcome))
        .is_err()
    {
        return Err(dropped());
    }
    let mut notice = StopNotice {
        job,
        stops: senders.stops,
        sent: false,
    };
    tokio::select! {
        biased;
        answered = &mut answer => {
            notice.sent = true;
            return answered.unwrap_or_else(|_| Err(dropped()));
        }
        () = context.cancelled() => notice.send(),
    }
    answer.await.unwrap_or_else(|_| Err(dropped()))
}

/// The stop notice of one job, sent at most once: when its handler sees the stop, or else
/// when the handler is dropped stopped (at shutdown the worker aborts stopped handlers at
/// once, possibly before they run again).
struct StopNotice {
    job: Arc<HandedJob>,
    stops: UnboundedSender<Arc<HandedJob>>,
    sent: bool,
}

impl StopNotice {
    fn send(&mut self) {
        if !self.sent && self.job.context.is_cancelled() {
            self.sent = true;
            let _ = self.stops.send(Arc::clone(&self.job));
        }
    }
}

impl Drop for StopNotice {
    fn drop(&mut self) {
        self.send();
    }
}

fn dropped() -> TaskError {
    TaskError::new(
        "WorkerError",
        "the Python worker dropped the job without an outcome",
    )
}

impl Handouts {
    /// Waits for something to hand out, then takes up to `max_jobs` jobs and every stop
    /// notice without waiting more. Once the run is over, only the notices left, then
    /// nothing.
    async fn next_batch(&self, max_jobs: usize) -> Batch {
        let mut receivers = self.receivers.lock().await;
        let receivers = &mut *receivers;
        let mut batch = Batch::default();
        while !self.fill(receivers, &mut batch, max_jobs) {
            tokio::select! {
                Some(job) = receivers.jobs.recv() => push_job(&mut batch, job),
                Some(stop) = receivers.stops.recv() => push_stop(&mut batch, &stop),
                () = self.finished.cancelled() => {}
            }
        }
        batch
    }

    /// The batch `next_batch` would return at once, if there is one (and no other call
    /// is waiting).
    fn try_next_batch(&self, max_jobs: usize) -> Option<Batch> {
        let mut receivers = self.receivers.try_lock().ok()?;
        let mut batch = Batch::default();
        self.fill(&mut receivers, &mut batch, max_jobs)
            .then_some(batch)
    }

    /// Adds what is ready to `batch`; whether the batch is to be returned now.
    fn fill(&self, receivers: &mut Receivers, batch: &mut Batch, max_jobs: usize) -> bool {
        let finished = self.finished.is_cancelled();
        // Once the run is over, jobs still queued were stopped: none is handed out.
        receivers.drain(batch, if finished { 0 } else { max_jobs });
        finished || !batch.0.is_empty() || !batch.1.is_empty()
    }
}

impl Receivers {
    /// Takes what is ready: jobs first, so that a notice about a job in this batch
    /// comes with it.
    fn drain(&mut self, batch: &mut Batch, max_jobs: usize) {
        while batch.0.len() < max_jobs {
            match self.jobs.try_recv() {
                Ok(job) => push_job(batch, job),
                Err(_) => break,
            }
        }
        while let Ok(stop) = self.stops.try_recv() {
            push_stop(batch, &stop);
        }
    }
}

/// A job already told to stop is not handed out: its attempt is already reported
/// stopped, and running it would be wasted (dropping it ends its handler).
fn push_job(batch: &mut Batch, job: NativeJob) {
    if !job.handed().context.is_cancelled() {
        job.handed().mark_handed_out();
        batch.0.push(job);
    }
}

/// Notices only about jobs Python holds.
fn push_stop(batch: &mut Batch, job: &HandedJob) {
    if job.is_handed_out() {
        let reason = job
            .context
            .stop_reason()
            .map_or("WorkerShutdown", StopReason::kind);
        batch.1.push((job.context.id().to_string(), reason));
    }
}
