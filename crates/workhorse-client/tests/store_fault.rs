//! A store that fails for a moment under a connected worker (an injected fault over SQLite,
//! or PostgreSQL stopped): its acks are refused as retryable meanwhile, the worker keeps its
//! one session (its jobs are not rescued) and sends them again, and every job runs once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use workhorse_client::{Client, JobContext, Task, TaskError, Worker};
use workhorse_core::{JobId, JobState, SystemClock};
use workhorse_engine::{Engine, EngineConfig};
use workhorse_protocol::{JobView, WorkerListResponse};
use workhorse_server::ServerConfig;
use workhorse_store::Store;
use workhorse_store_postgres::PgStore;
use workhorse_store_sqlite::SqliteStore;
use workhorse_testing::postgres::TempPostgres;
use workhorse_testing::{FaultSwitch, FaultyStore, wait_until};

const JOBS: usize = 20;
/// Long enough that no lease runs out during the test: a rescue would be the rescuer's,
/// not the session's, and is not what this test is about.
const LEASE: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(20);

struct Gated;
impl Task for Gated {
    const NAME: &'static str = "test.gated";
    type Args = usize;
    type Output = usize;
}

/// A server on a real socket over `store`, whose writes fail while `fault` is on.
struct Node {
    url: String,
    fault: FaultSwitch,
    shutdown: CancellationToken,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start<S: Store>(store: S) -> Node {
    let (store, fault) = FaultyStore::new(store);
    let config = EngineConfig::with_lease(LEASE);
    let engine = Engine::new(Arc::new(store), Arc::new(SystemClock), config);
    let shutdown = CancellationToken::new();
    // The leader's services run too: the rescuer's writes meet the fault as well.
    let _services = engine.start(&shutdown);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let config = ServerConfig::default();
    tokio::spawn(workhorse_server::run(
        listener,
        engine,
        config,
        shutdown.clone(),
    ));
    Node {
        url,
        fault,
        shutdown,
    }
}

/// The worker ids of the sessions the server holds now.
async fn sessions(url: &str) -> Vec<String> {
    let list: WorkerListResponse = reqwest::get(format!("{url}/v1/workers"))
        .await
        .expect("list workers")
        .json()
        .await
        .expect("worker list");
    list.workers.into_iter().map(|w| w.worker_id).collect()
}

/// The worker's tasks, held at a gate until the test opens it.
struct Gate {
    permits: Arc<Semaphore>,
    started: Arc<AtomicUsize>,
}

impl Gate {
    fn worker(&self, url: &str) -> Worker {
        let (gate, started) = (Arc::clone(&self.permits), Arc::clone(&self.started));
        Worker::builder(url)
            .concurrency(JOBS)
            .task::<Gated>(move |_ctx: JobContext, n: usize| {
                let (gate, started) = (Arc::clone(&gate), Arc::clone(&started));
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let permit = gate.acquire().await;
                    permit
                        .map_err(|e| TaskError::new("GateClosed", e.to_string()))?
                        .forget();
                    Ok::<_, TaskError>(n)
                }
            })
            .build()
            .expect("worker")
    }
}

/// Runs `JOBS` gated jobs on one worker; `fail` makes the store fail and `heal` ends that,
/// between them every task finishes and acks. Then every job must have run once, with no
/// lost-worker error, and the worker must have kept its one session all along.
async fn survives(node: &Node, fail: impl FnOnce(), heal: impl FnOnce()) {
    let client = Client::new(&node.url).expect("client");
    let mut ids: Vec<JobId> = Vec::new();
    for i in 0..JOBS {
        ids.push(
            client
                .enqueue_task::<Gated>(&i)
                .await
                .expect("enqueue")
                .job
                .id,
        );
    }
    let gate = Gate {
        permits: Arc::new(Semaphore::new(0)),
        started: Arc::new(AtomicUsize::new(0)),
    };
    let worker = gate.worker(&node.url);
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    wait_until("every job to start", WAIT, || async {
        (gate.started.load(Ordering::SeqCst) == JOBS).then_some(())
    })
    .await;
    let session = sessions(&node.url).await;
    assert_eq!(session.len(), 1, "one worker session: {session:?}");

    fail();
    gate.permits.add_permits(JOBS);
    let deadline = Instant::now() + WAIT;
    while node.fault.refused("job_ack_many") < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker did not retry its acks"
        );
        assert_eq!(sessions(&node.url).await, session, "the session stays");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    heal();

    for id in &ids {
        let job = finished(&client, *id).await;
        assert_eq!(job.state, JobState::Succeeded, "job {id}");
        assert_eq!(job.attempt, 1, "job {id} ran once");
        assert!(job.errors.is_empty(), "no WorkerLost: {:?}", job.errors);
    }
    assert_eq!(
        gate.started.load(Ordering::SeqCst),
        JOBS,
        "no job ran again"
    );
    assert_eq!(sessions(&node.url).await, session, "still the one session");
    stop.cancel();
    running.await.expect("worker task").expect("worker ran");
}

/// Job `id` once finished. A read may meet the store still recovering (a pooled
/// connection the restart broke): that answer is transient, and the wait goes on.
async fn finished(client: &Client, id: JobId) -> JobView {
    wait_until("the job to finish", WAIT, || async {
        match client.wait_for_result(id, Duration::from_secs(1)).await {
            Ok(job) => job.state.is_terminal().then_some(job),
            Err(err) if err.is_transient() => None,
            Err(err) => panic!("job {id}: {err}"),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_store_failure_keeps_the_session_and_its_jobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&dir.path().join("workhorse.db")).expect("sqlite");
    let node = start(sqlite).await;
    survives(&node, || node.fault.set(true), || node.fault.set(false)).await;
}

/// The same with PostgreSQL itself stopped and started again (its own cluster, as this
/// test restarts it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_keeps_the_session_and_its_jobs() {
    let cluster = TempPostgres::start();
    cluster.create_database("workhorse");
    let store = PgStore::connect(&cluster.url("workhorse"))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let node = start(store).await;
    survives(&node, || cluster.stop(), || cluster.start_again()).await;
}
