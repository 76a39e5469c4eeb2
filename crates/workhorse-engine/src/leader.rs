//! Leader election: in a cluster, one node at a time runs the leader-only services
//! (scheduler, rescuer, cleaner, schedule firer; see `services::LEADER_ONLY`).
//!
//! The [`Elector`] asks a [`LeaderBackend`] every [`ELECT_INTERVAL`] whether this node leads.
//! On winning it starts the leader-only services under a child of its shutdown token; on
//! losing (or when the backend cannot answer) it cancels that token and waits for them to
//! stop. The backend holds leadership in something every node shares — for PostgreSQL a
//! session advisory lock, which the database frees the moment the leader's session ends —
//! so a survivor's next round wins within about one interval of the leader's death.
//!
//! Leadership is a performance property, not a safety one: every leader-only service works
//! through guarded store transitions, so two nodes that briefly both believe they lead (the
//! old one has not noticed its session is gone yet) do no harm, only duplicate work. Per-fire
//! exactly-once for schedules comes from the fire's unique key, not from the election.

use crate::services::LEADER_ONLY;
use crate::{Engine, EngineError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workhorse_core::Timestamp;
use workhorse_store::{LeaderBackend, StoreError};

/// How often the [`Elector`] asks its backend (default of [`Elector::with_interval`]).
pub const ELECT_INTERVAL: Duration = Duration::from_secs(1);

/// Longest one backend call may take before the node assumes it does not lead: a leader
/// that cannot reach its database must stop acting as one.
pub const ELECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the leader-only services while this node leads. One elector per engine: it sets
/// [`Engine::is_leader`].
pub struct Elector {
    engine: Engine,
    backend: Arc<dyn LeaderBackend>,
    interval: Duration,
    /// Each term's token is a child of this one (the shutdown token, once [`Elector::run`]).
    parent: CancellationToken,
    term: Option<Term>,
}

/// The leader-only services of one term of leadership.
struct Term {
    stop: CancellationToken,
    services: TaskTracker,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("interval", &self.interval)
            .field("leader", &self.term.is_some())
            .finish_non_exhaustive()
    }
}

impl Elector {
    pub(crate) fn new(engine: Engine, backend: Arc<dyn LeaderBackend>) -> Self {
        Elector {
            engine,
            backend,
            interval: ELECT_INTERVAL,
            parent: CancellationToken::new(),
            term: None,
        }
    }

    /// Asks the backend every `interval` instead of every [`ELECT_INTERVAL`].
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Whether this elector's node leads (its services run).
    pub fn is_leader(&self) -> bool {
        self.term.is_some()
    }

    /// One round: asks the backend, starts the leader-only services on winning and stops
    /// them (waiting until they have) on losing. An error means the backend failed or gave
    /// no answer within [`ELECT_TIMEOUT`]; the node then steps down too. Returns whether it
    /// leads.
    pub async fn run_once(&mut self, now: Timestamp) -> Result<bool, EngineError> {
        let answer = tokio::time::timeout(ELECT_TIMEOUT, self.backend.attempt_elect()).await;
        match answer {
            Ok(Ok(true)) => {
                if self.term.is_none() {
                    self.begin(now);
                }
                Ok(true)
            }
            Ok(Ok(false)) => {
                self.step_down("another node leads").await;
                Ok(false)
            }
            Ok(Err(err)) => {
                self.step_down("the election backend failed").await;
                Err(err.into())
            }
            Err(_) => {
                self.step_down("the election backend did not answer").await;
                Err(StoreError::Unavailable(format!(
                    "leader election got no answer within {} s",
                    ELECT_TIMEOUT.as_secs()
                ))
                .into())
            }
        }
    }

    /// Elects every interval until `shutdown`; then stops the leader-only services and
    /// resigns, so another node takes over at once.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.parent = shutdown.clone();
        let mut failing = false;
        loop {
            match self.run_once(self.engine.now()).await {
                Ok(_) => failing = false,
                // Once per outage, not every round: a database restart must not flood logs.
                Err(err) if !failing => {
                    tracing::warn!(error = %err, "leader election failed; retrying every round");
                    failing = true;
                }
                Err(err) => tracing::debug!(error = %err, "leader election failed again"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
        self.step_down("shutting down").await;
        match tokio::time::timeout(ELECT_TIMEOUT, self.backend.resign()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "could not resign leadership"),
            Err(_) => tracing::warn!("resigning leadership timed out"),
        }
    }

    /// Starts a term: every leader-only service, under a fresh child token.
    fn begin(&mut self, now: Timestamp) {
        let stop = self.parent.child_token();
        let services = TaskTracker::new();
        for (_, start) in LEADER_ONLY {
            services.spawn(start(&self.engine, stop.clone()));
        }
        services.close();
        self.term = Some(Term { stop, services });
        self.engine.set_leader(true);
        let names: Vec<&str> = LEADER_ONLY.iter().map(|(name, _)| *name).collect();
        tracing::info!(at = %now, services = ?names, "elected leader; leader-only services started");
    }

    /// Ends the current term, if any, once its services have stopped.
    async fn step_down(&mut self, why: &str) {
        let Some(term) = self.term.take() else {
            return;
        };
        self.engine.set_leader(false);
        term.stop.cancel();
        term.services.wait().await;
        tracing::info!(why, "no longer leader; leader-only services stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;
    use std::sync::Mutex;
    use workhorse_core::{Clock, JobState, ManualClock, NewJob, SystemClock};
    use workhorse_store::SingleNode;
    use workhorse_store_sqlite::SqliteStore;

    /// An in-process election backend: one lock shared by several nodes of one test, with
    /// the semantics of the PostgreSQL advisory lock (held until released or lost).
    #[derive(Clone, Default)]
    struct SharedLock(Arc<Mutex<Option<u32>>>);

    struct Node {
        lock: SharedLock,
        id: u32,
    }

    impl SharedLock {
        fn node(&self, id: u32) -> Arc<Node> {
            Arc::new(Node {
                lock: self.clone(),
                id,
            })
        }

        fn holder(&self) -> Option<u32> {
            *self.0.lock().expect("lock")
        }

        /// The holder's session ends (its process died): the lock is free.
        fn lose(&self) {
            *self.0.lock().expect("lock") = None;
        }
    }

    #[async_trait::async_trait]
    impl LeaderBackend for Node {
        async fn attempt_elect(&self) -> Result<bool, StoreError> {
            let mut holder = self.lock.0.lock().expect("lock");
            Ok(*holder.get_or_insert(self.id) == self.id)
        }

        async fn resign(&self) -> Result<(), StoreError> {
            let mut holder = self.lock.0.lock().expect("lock");
            if *holder == Some(self.id) {
                *holder = None;
            }
            Ok(())
        }
    }

    fn engine(dir: &tempfile::TempDir, clock: Arc<dyn workhorse_core::Clock>) -> Engine {
        let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open store");
        Engine::new(Arc::new(store), clock, EngineConfig::default())
    }

    #[tokio::test]
    async fn a_single_node_leads_and_runs_the_scheduler() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).expect("valid"));
        let engine = engine(&dir, Arc::new(clock.clone()));
        let mut job = NewJob::new("tests.later");
        job.run_at = Some(workhorse_core::clock::add(
            clock.now(),
            Duration::from_secs(5),
        ));
        let id = engine.enqueue(vec![job]).await.expect("enqueue")[0].job.id;
        let mut ready = engine.ready_waiter(&["default".to_owned()]);
        ready.mark_seen();
        let mut elector = engine.elector(Arc::new(SingleNode));
        assert!(!engine.is_leader());
        assert!(elector.run_once(clock.now()).await.expect("elect"));
        assert!(engine.is_leader() && elector.is_leader());
        clock.advance(Duration::from_secs(10));
        // Only the leader's scheduler promotes: the queue's wake-up proves it runs.
        tokio::time::timeout(Duration::from_secs(10), ready.changed())
            .await
            .expect("promoted by the leader's scheduler");
        assert_eq!(engine.get(id).await.expect("get").state, JobState::Ready);
        elector.step_down("test").await;
        assert!(!engine.is_leader());
    }

    #[tokio::test]
    async fn leadership_moves_when_the_leader_loses_its_hold() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = SharedLock::default();
        let (a, b) = (
            engine(&dir, Arc::new(SystemClock)),
            engine(&dir, Arc::new(SystemClock)),
        );
        let mut elector_a = a.elector(lock.node(1));
        let mut elector_b = b.elector(lock.node(2));
        let now = a.now();
        assert!(elector_a.run_once(now).await.expect("a elects"));
        assert!(!elector_b.run_once(now).await.expect("b elects"));
        assert!(a.is_leader() && !b.is_leader());

        // A's session ends; B wins the next round; A learns it lost on its own next round.
        lock.lose();
        assert!(elector_b.run_once(now).await.expect("b elects"));
        assert!(!elector_a.run_once(now).await.expect("a elects"));
        assert!(!a.is_leader() && b.is_leader());
        assert_eq!(lock.holder(), Some(2));
    }

    #[tokio::test]
    async fn run_stops_the_services_and_resigns_on_shutdown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = SharedLock::default();
        let engine = engine(&dir, Arc::new(SystemClock));
        let shutdown = CancellationToken::new();
        let tracker = engine.start_elected(&shutdown, lock.node(7));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !engine.is_leader() {
            assert!(tokio::time::Instant::now() < deadline, "never elected");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), tracker.wait())
            .await
            .expect("the elector ends on shutdown");
        assert!(!engine.is_leader());
        assert_eq!(
            lock.holder(),
            None,
            "resigned, so another node wins at once"
        );
    }
}
