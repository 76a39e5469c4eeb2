//! The worker: runs tasks for jobs the server pushes over a WebSocket session.
//!
//! ```no_run
//! use workhorse_client::{JobContext, Task, TaskError, Worker};
//! use tokio_util::sync::CancellationToken;
//!
//! struct Add;
//! impl Task for Add {
//!     const NAME: &'static str = "math.add";
//!     type Args = (i64, i64);
//!     type Output = i64;
//! }
//!
//! async fn add(_ctx: JobContext, (a, b): (i64, i64)) -> Result<i64, TaskError> {
//!     Ok(a + b)
//! }
//!
//! # async fn run() -> Result<(), workhorse_client::ClientError> {
//! Worker::builder("http://127.0.0.1:7431")
//!     .concurrency(8)
//!     .task::<Add>(add)
//!     .run(CancellationToken::new())
//!     .await
//! # }
//! ```
//!
//! The session grants the server credit for `concurrency + prefetch` jobs; each ack frees a
//! slot. Heartbeats for every held job go out at the interval the server asks for, carrying
//! progress; acks are batched (a full batch at once, otherwise within about 1 ms). When the
//! socket drops, the worker reconnects with backoff; running tasks go on, and their
//! outcomes are sent on the next session (the server refuses those whose lease it took
//! back, and they are dropped). Acks and releases the server could not record for a moment
//! (a retryable `error`: its store was unavailable) are sent again with backoff on the same
//! session, which keeps its jobs meanwhile.

mod context;
mod error;
mod handler;
mod pool;
mod runner;
mod schedules;
mod session;
mod socket;
mod stops;
mod trace;

pub use context::{JobContext, StopReason};
pub use error::TaskError;
pub use handler::RawArgs;
pub use trace::TraceParent;
pub(crate) use trace::outgoing_traceparent;

use crate::client::Client;
use crate::error::ClientError;
use crate::task::Task;
use handler::{Handler, Raw, Typed};
use pool::Pool;
use runner::RunnerEvent;
use serde_json::Value;
use session::{End, Parts, Session};
use socket::Socket;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use stops::Stops;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workhorse_protocol::{ClientMessage, ScheduleRequest};

/// Default time in-flight tasks get to finish after shutdown is asked for.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// Default time a task told to stop (cancel, time limit, lost lease) gets to wind down
/// before it is aborted.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(1);
/// Default number of tasks run at once.
pub const DEFAULT_CONCURRENCY: usize = 10;

const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// A typed handler for task `T`: any `Fn(JobContext, T::Args) -> impl Future<Output =
/// Result<T::Output, TaskError>>`, such as an `async fn`.
pub trait TaskHandler<T: Task>: Send + Sync + 'static {
    /// The future a call returns.
    type Future: Future<Output = Result<T::Output, TaskError>> + Send + 'static;
    /// Runs the task for one job.
    fn call(&self, ctx: JobContext, args: T::Args) -> Self::Future;
}

impl<T, F, Fut> TaskHandler<T> for F
where
    T: Task,
    F: Fn(JobContext, T::Args) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T::Output, TaskError>> + Send + 'static,
{
    type Future = Fut;
    fn call(&self, ctx: JobContext, args: T::Args) -> Fut {
        self(ctx, args)
    }
}

/// What every session of a worker shares.
pub(crate) struct Shared {
    pub url: String,
    pub token: Option<String>,
    /// The roots trusted for `wss://` (see [`WorkerBuilder::ca_file`]).
    pub tls: Arc<tokio_rustls::rustls::ClientConfig>,
    pub name: String,
    pub queues: Vec<String>,
    pub concurrency: usize,
    pub prefetch: usize,
    pub grace: Duration,
    pub cancel_grace: Duration,
    pub handlers: HashMap<String, Arc<dyn Handler>>,
    pub schedules: Vec<(String, ScheduleRequest)>,
}

/// Configures a [`Worker`]; see [`Worker::builder`].
#[must_use]
pub struct WorkerBuilder {
    url: String,
    token: Option<String>,
    ca_file: Option<std::path::PathBuf>,
    name: Option<String>,
    queues: Vec<String>,
    task_queues: Vec<String>,
    concurrency: usize,
    prefetch: Option<usize>,
    grace: Duration,
    cancel_grace: Duration,
    handlers: HashMap<String, Arc<dyn Handler>>,
    schedules: Vec<(String, ScheduleRequest)>,
}

impl WorkerBuilder {
    /// The worker's name, shown on the dashboard (default `<host>-<pid>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A PEM bundle of extra roots to trust for `wss://` (an internal CA), beside the web
    /// and system roots. Default: the file named by [`crate::CA_FILE_ENV`], if set.
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The API token, for servers that require one (see [`crate::TOKEN_ENV`]).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        let token: String = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// Queues to take jobs from (default: the queues of the registered typed tasks, or
    /// `default`).
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.queues = queues.into_iter().map(Into::into).collect();
        self
    }

    /// Tasks run at once (default 10).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Jobs held ready beyond the concurrency, so a finishing task finds its successor
    /// already here (default a quarter of the concurrency, 1 to 64).
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = Some(prefetch);
        self
    }

    /// Time in-flight tasks get to finish after shutdown is asked for (default 30 s).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Time a task told to stop gets to wind down before it is aborted (default 1 s).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// Registers the typed handler of task `T`.
    pub fn task<T: Task>(mut self, handler: impl TaskHandler<T>) -> Self {
        self.handlers
            .insert(T::NAME.to_owned(), Arc::new(Typed::<T, _>::new(handler)));
        self.task_queues.push(T::options().queue_name().to_owned());
        self
    }

    /// Registers an untyped handler for task `name`, over JSON values.
    pub fn raw_task<F, Fut>(mut self, name: impl Into<String>, handler: F) -> Self
    where
        F: Fn(JobContext, RawArgs) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.handlers.insert(name.into(), Arc::new(Raw(handler)));
        self
    }

    /// Declares schedule `name` when the worker starts (see [`Worker::declare_schedules`]).
    /// Every replica may declare the same schedules: an unchanged definition changes
    /// nothing, and the server fires each once however many declare it.
    pub fn schedule(mut self, name: impl Into<String>, schedule: ScheduleRequest) -> Self {
        self.schedules.push((name.into(), schedule));
        self
    }

    /// The configured worker; fails on an invalid URL.
    pub fn build(self) -> Result<Worker, ClientError> {
        let url = Client::new(&self.url)?.url().to_owned();
        let mut queues = if self.queues.is_empty() {
            self.task_queues
        } else {
            self.queues
        };
        queues.sort();
        queues.dedup();
        if queues.is_empty() {
            queues.push(workhorse_core::queue::DEFAULT_QUEUE.to_owned());
        }
        let prefetch = self
            .prefetch
            .unwrap_or_else(|| (self.concurrency / 4).clamp(1, 64));
        Ok(Worker {
            shared: Arc::new(Shared {
                url,
                token: self.token,
                tls: crate::tls::client_config(
                    crate::tls::ca_file_or_env(self.ca_file.as_deref()).as_deref(),
                )?,
                name: self.name.unwrap_or_else(default_name),
                queues,
                concurrency: self.concurrency,
                prefetch,
                grace: self.grace,
                cancel_grace: self.cancel_grace,
                handlers: self.handlers,
                schedules: self.schedules,
            }),
        })
    }

    /// Builds the worker and runs it until `shutdown` (see [`Worker::run`]).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ClientError> {
        self.build()?.run(shutdown).await
    }
}

/// Runs registered tasks for the jobs of its queues.
#[derive(Clone)]
pub struct Worker {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("url", &self.shared.url)
            .field("name", &self.shared.name)
            .field("queues", &self.shared.queues)
            .field("concurrency", &self.shared.concurrency)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A builder for a worker of the server at `url`.
    pub fn builder(url: impl Into<String>) -> WorkerBuilder {
        WorkerBuilder {
            url: url.into(),
            token: None,
            ca_file: None,
            name: None,
            queues: Vec::new(),
            task_queues: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            prefetch: None,
            grace: DEFAULT_GRACE,
            cancel_grace: DEFAULT_CANCEL_GRACE,
            handlers: HashMap::new(),
            schedules: Vec::new(),
        }
    }

    /// A builder for a worker of the server `client` talks to, with its token and the
    /// roots it trusts.
    pub fn builder_for(client: &Client) -> WorkerBuilder {
        let mut builder = Self::builder(client.url());
        builder.ca_file = client.ca_file().map(std::path::Path::to_path_buf);
        match client.token() {
            Some(token) => builder.token(token),
            None => builder,
        }
    }

    /// The queues this worker takes jobs from.
    pub fn queues(&self) -> &[String] {
        &self.shared.queues
    }

    /// Runs until `shutdown` is cancelled, then shuts down gracefully: takes no new job,
    /// hands back the jobs not yet started, lets running tasks finish within the grace
    /// period, stops and fails what is left, and returns once every ack was answered.
    /// Reconnects with backoff whenever the session drops; returns an error only when the
    /// server refuses the session itself (a missing or bad token, an invalid queue name)
    /// or one of the worker's schedules (see [`Worker::declare_schedules`]).
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), ClientError> {
        if !self.declare_schedules(&shutdown).await? {
            return Ok(());
        }
        let (stops, _stop_phases) =
            Stops::follow(shutdown, self.shared.grace, stops::ANSWER_TIMEOUT);
        let (sender, mut events) = mpsc::unbounded_channel();
        let mut pool = Pool::new(self.shared.concurrency);
        let mut delay = RECONNECT_MIN;
        loop {
            if stops.shutdown.is_cancelled() && pool.is_idle() {
                return Ok(());
            }
            if stops.give_up.is_cancelled() {
                tracing::warn!(url = %self.shared.url, "worker stopped without reaching the server; its leases will expire");
                return Ok(());
            }
            match self.open(&pool, stops.shutdown.is_cancelled()).await {
                Ok((socket, heartbeat, deferred_credit)) => {
                    delay = RECONNECT_MIN;
                    let parts = Parts {
                        shared: &self.shared,
                        pool: &mut pool,
                        events: &mut events,
                        sender: sender.clone(),
                    };
                    match Session::new(parts, socket, heartbeat, deferred_credit)
                        .run(&stops)
                        .await
                    {
                        End::Shutdown => return Ok(()),
                        End::Dropped(e) => {
                            tracing::warn!(error = %e, "worker session dropped; reconnecting");
                        }
                    }
                }
                // Refused (bad token, bad queue name): retrying would not help.
                Err(e @ ClientError::Api { status, .. }) if status < 500 => return Err(e),
                Err(e) => tracing::warn!(error = %e, retry_in = ?delay, "worker cannot connect"),
            }
            pool.session_lost();
            wait_disconnected(&mut pool, &mut events, &stops, delay).await;
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }

    /// Connects and says hello, granting credit for the free slots (none when shutting
    /// down: the session then only delivers what is left). When a lost session left jobs
    /// to hand back, the credit is granted only after that release (returned here), so a
    /// release never cancels it.
    async fn open(
        &self,
        pool: &Pool,
        stopping: bool,
    ) -> Result<(Socket, Duration, u32), ClientError> {
        let capacity = self.shared.concurrency + self.shared.prefetch;
        let credit = if stopping {
            0
        } else {
            u32::try_from(capacity.saturating_sub(pool.busy())).unwrap_or(u32::MAX)
        };
        let deferred = if pool.has_carried_releases() {
            credit
        } else {
            0
        };
        let hello = ClientMessage::Hello {
            worker: self.shared.name.clone(),
            queues: self.shared.queues.clone(),
            credit: credit - deferred,
        };
        let token = self.shared.token.as_deref();
        let (socket, welcome) =
            Socket::open(&self.shared.url, token, &self.shared.tls, &hello).await?;
        tracing::info!(url = %self.shared.url, queues = ?self.shared.queues, credit, "worker connected");
        Ok((socket, welcome.heartbeat, deferred))
    }
}

/// Between sessions: waits out the reconnect delay while tasks run on and report; returns
/// early when shutdown leaves nothing to deliver, or gives up.
async fn wait_disconnected(
    pool: &mut Pool,
    events: &mut mpsc::UnboundedReceiver<RunnerEvent>,
    stops: &Stops,
    delay: Duration,
) {
    let until = tokio::time::Instant::now() + delay;
    loop {
        if stops.shutdown.is_cancelled() && pool.is_idle() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(until) => return,
            () = stops.give_up.cancelled() => return,
            () = stops.shutdown.cancelled(), if !stops.shutdown.is_cancelled() => {}
            () = stops.hard_stop.cancelled(), if !stops.hard_stop.is_cancelled() => {}
            Some(event) = events.recv() => match event {
                RunnerEvent::Settled { id, ack } => pool.settle(id, ack),
                RunnerEvent::Exited { id } => {
                    pool.exit(id);
                }
            },
        }
        if stops.hard_stop.is_cancelled() {
            pool.stop_all(StopReason::Shutdown);
        }
    }
}

/// `<host>-<pid>`: the name a worker goes by unless given one, so it is recognizable on
/// the dashboard.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}
