//! Workhorse services over a [`Store`]: the dispatcher (readiness signals and long-poll
//! fetch), the scheduler, the rescuer (lease reaper), the cleaner, and job events.
//!
//! [`Engine`] is what HTTP handlers and worker sessions call: each method validates its
//! input, makes one store call, then announces what changed. Announcing is what keeps job
//! start latency low: whatever makes a job fetchable (an insert, a promotion, a retry, a
//! rescue, a release, a redrive, a queue resumed, a running job finishing) wakes the waiting
//! fetchers of that queue at once, so no fetch ever sleeps on a timer when work is ready.
//!
//! The background services ([`Scheduler`], [`Rescuer`], [`Cleaner`], [`ScheduleFirer`])
//! each have `run(shutdown)` and a `run_once(now)` that tests call with a manual clock. They
//! are leader-only: an [`Elector`] runs them while its [`LeaderBackend`] says this node
//! leads. [`Engine::start`] runs a single node (always the leader);
//! [`Engine::start_elected`] runs a cluster node.
//!
//! In a cluster, other nodes' commits make jobs ready too: [`Engine::attach_ready_feed`]
//! turns the queue names the database announces (PostgreSQL `NOTIFY`) into the same local
//! wake-ups, so a job enqueued on one node reaches a worker waiting on another at once.

mod config;
mod error;
mod events;
mod jobs;
mod leader;
mod metrics;
mod schedules;
mod services;
mod signal;
mod work;
mod workflows;

pub use config::EngineConfig;
pub use error::EngineError;
pub use events::JobEvent;
pub use leader::{ELECT_INTERVAL, ELECT_TIMEOUT, Elector};
pub use metrics::{EngineMetrics, StoreCounts, names as metric_names};
pub use schedules::{DEFAULT_HISTORY, next_fires, schedule_invalid};
pub use services::{Cleaner, FIRER_MAX_SLEEP, Rescuer, ScheduleFirer, Scheduler};
pub use signal::{ANY_QUEUE, ReadyWaiter};
pub use work::{FetchSpec, WorkerSpec};
pub use workflows::WORKFLOW_FIELD;
// The store's types that callers of the engine name: the parameters they build, the
// outcomes they match on, and the election contract a node hands to `start_elected`.
// Re-exported so that the HTTP layer depends on the engine alone, not on the store.
pub use workhorse_store::{
    Ack, AckKind, AckOutcome, AckRefusal, Beat, CancelFilter, CancelManyOutcome, Fire, FireOutcome,
    HeartbeatOutcome, JobListParams, LeaderBackend, MAX_SCHEDULES_PER_SET, QueueInfo,
    QueueUpdateParams, RedriveSelector, Schedule, ScheduleDefinition, ScheduleJob,
    ScheduleUpserted, SetSchedule, SingleNode, StoreError, Workflow,
};

use signal::{FinishWaiters, ReadySignal, ScheduleHint};
use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workhorse_core::{Clock, Job, JobId, JobState, Timestamp};
use workhorse_store::{RescueOutcome, Store};

/// The engine: a cheap-to-clone handle on the store, the clock and the wake-up signals.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    /// Shared with the ready-feed forwarder, which must not keep the engine alive.
    ready: Arc<ReadySignal>,
    schedule: ScheduleHint,
    /// A schedule was declared, changed or resumed: the firer re-plans its sleep.
    schedules_changed: tokio::sync::Notify,
    finished: FinishWaiters,
    events: broadcast::Sender<JobEvent>,
    /// Queues with `max_running`: a job of theirs finishing makes room for another.
    limited_queues: RwLock<HashSet<String>>,
    metrics: EngineMetrics,
    /// Whether this node's elector holds leadership (its leader-only services run).
    leader: AtomicBool,
    /// What kind of store this is (`sqlite`, `postgres`), for readiness answers.
    store_name: OnceLock<&'static str>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `store`, reading time from `clock`. Call [`Engine::start`] to run its
    /// background services.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: EngineConfig) -> Self {
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        Engine {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                ready: Arc::default(),
                schedule: ScheduleHint::default(),
                schedules_changed: tokio::sync::Notify::new(),
                finished: FinishWaiters::default(),
                events,
                limited_queues: RwLock::new(HashSet::new()),
                metrics: EngineMetrics::new(),
                leader: AtomicBool::new(false),
                store_name: OnceLock::new(),
            }),
        }
    }

    /// Runs the background services of a node alone on its store (it always leads): the
    /// leader-only services, until `shutdown` is cancelled. Await the returned
    /// tracker's `wait()` for a graceful end.
    pub fn start(&self, shutdown: &CancellationToken) -> TaskTracker {
        self.start_elected(shutdown, Arc::new(SingleNode))
    }

    /// Runs an [`Elector`] on `backend` until `shutdown`: the leader-only services run
    /// while this node leads. Await the returned tracker's `wait()` for a graceful end
    /// (services stopped, leadership resigned).
    pub fn start_elected(
        &self,
        shutdown: &CancellationToken,
        backend: Arc<dyn LeaderBackend>,
    ) -> TaskTracker {
        let tracker = TaskTracker::new();
        tracker.spawn(self.elector(backend).run(shutdown.clone()));
        tracker.close();
        tracker
    }

    /// An elector on `backend` for this engine (what [`Engine::start_elected`] runs).
    pub fn elector(&self, backend: Arc<dyn LeaderBackend>) -> Elector {
        Elector::new(self.clone(), backend)
    }

    /// Whether this node leads: its leader-only services run.
    pub fn is_leader(&self) -> bool {
        self.inner.leader.load(Ordering::Relaxed)
    }

    fn set_leader(&self, leader: bool) {
        self.inner.leader.store(leader, Ordering::Relaxed);
    }

    /// Wakes this node's waiting fetchers for each queue name `feed` yields ([`ANY_QUEUE`]:
    /// every queue): jobs other nodes made ready. The forwarder ends when the feed closes;
    /// it holds no reference to the engine.
    pub fn attach_ready_feed(&self, feed: broadcast::Receiver<String>) -> JoinHandle<()> {
        tokio::spawn(signal::forward_feed(Arc::clone(&self.inner.ready), feed))
    }

    /// Names the kind of store (`"sqlite"`, `"postgres"`) for readiness answers. The
    /// first name given sticks.
    pub fn set_store_name(&self, name: &'static str) {
        let _ = self.inner.store_name.set(name);
    }

    /// The kind of store, as named by [`Engine::set_store_name`] (`"unnamed"` before).
    pub fn store_name(&self) -> &'static str {
        self.inner.store_name.get().copied().unwrap_or("unnamed")
    }

    /// The scheduler service (promotes due jobs, expires stale ones).
    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.clone())
    }

    /// The rescuer service (takes back expired leases).
    pub fn rescuer(&self) -> Rescuer {
        Rescuer::new(self.clone())
    }

    /// The cleaner service (deletes finished jobs past retention).
    pub fn cleaner(&self) -> Cleaner {
        Cleaner::new(self.clone())
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The store the engine works on.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// This engine's metrics (its own registry, not the process-global one).
    pub fn metrics(&self) -> &EngineMetrics {
        &self.inner.metrics
    }

    /// Reads every queue's counts and sets the queue gauges of [`Engine::metrics`].
    pub async fn refresh_queue_metrics(&self) -> Result<(), EngineError> {
        let queues = self.queues().await?;
        self.inner.metrics.queues(&queues, self.now());
        Ok(())
    }

    /// Awaits a state-changing store call, timing it until its commit was answered.
    async fn write<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let result = call.await;
        if result.is_ok() {
            self.inner.metrics.store_call(started.elapsed());
        }
        result
    }

    /// Every job state change from now on. A receiver that falls more than
    /// [`EngineConfig::event_capacity`] events behind skips ahead (`Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.events.subscribe()
    }

    /// A waiter that wakes when one of `queues` may have a job to fetch.
    pub fn ready_waiter(&self, queues: &[String]) -> ReadyWaiter {
        self.inner.ready.waiter(queues)
    }

    /// How many fetchers wait on `queue` right now.
    pub fn ready_waiters(&self, queue: &str) -> usize {
        self.inner.ready.waiters(queue)
    }

    /// How many result long-polls wait on job `id` right now.
    pub fn result_waiters(&self, id: JobId) -> usize {
        self.inner.finished.count(id)
    }

    /// Announces jobs whose state a committed store call changed: broadcasts events and
    /// wakes whoever can act on the new states.
    fn observe<'a>(&self, jobs: impl IntoIterator<Item = &'a Job>) {
        let broadcast = self.inner.events.receiver_count() > 0;
        let at = self.now();
        let mut wake = BTreeSet::new();
        for job in jobs {
            if broadcast {
                // No receiver left is not an error: events are for whoever listens.
                let _ = self.inner.events.send(JobEvent::of(job, at));
            }
            match job.state {
                JobState::Ready => {
                    wake.insert(job.queue.as_str());
                }
                JobState::Scheduled => self.inner.schedule.due_at(job.run_at),
                state if state.is_terminal() => {
                    self.inner.finished.finished(job.id);
                    if job.concurrency_key.is_some() || self.is_limited(&job.queue) {
                        wake.insert(job.queue.as_str());
                    }
                }
                _ => {}
            }
        }
        for queue in wake {
            self.inner.ready.notify(queue);
        }
    }

    /// Announces jobs whose lease was taken back, counting each as a rescue, and the
    /// workflow jobs the same transaction unblocked or cancelled in turn.
    fn rescued(&self, rescue: &RescueOutcome) {
        for job in &rescue.jobs {
            self.inner.metrics.rescued(job);
        }
        self.observe(rescue.jobs.iter().chain(&rescue.dependants));
    }

    fn is_limited(&self, queue: &str) -> bool {
        self.inner
            .limited_queues
            .read()
            .is_ok_and(|set| set.contains(queue))
    }

    fn set_limited(&self, queue: &str, limited: bool) {
        let Ok(mut set) = self.inner.limited_queues.write() else {
            return;
        };
        if limited {
            set.insert(queue.to_owned());
        } else {
            set.remove(queue);
        }
    }
}
