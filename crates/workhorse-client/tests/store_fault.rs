//! A store that fails for a moment under a connected worker: its acks are refused as
//! retryable while the fault is on, the worker keeps its one session (its jobs are not
//! rescued) and sends them again, and every job runs exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use workhorse_client::{Client, JobContext, Task, TaskError, Worker};
use workhorse_core::{JobId, JobState, SystemClock};
use workhorse_engine::{Engine, EngineConfig};
use workhorse_protocol::WorkerListResponse;
use workhorse_server::ServerConfig;
use workhorse_store_sqlite::SqliteStore;
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

/// A server on a real socket over a SQLite store whose writes fail while the switch is on.
struct Node {
    url: String,
    fault: FaultSwitch,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn start() -> Node {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&dir.path().join("workhorse.db")).expect("sqlite");
    let (store, fault) = FaultyStore::new(sqlite);
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
        _dir: dir,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_store_failure_keeps_the_session_and_its_jobs() {
    let node = start().await;
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
    let gate = Arc::new(Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (task_gate, task_started) = (Arc::clone(&gate), Arc::clone(&started));
    let worker = Worker::builder(&node.url)
        .concurrency(JOBS)
        .task::<Gated>(move |_ctx: JobContext, n: usize| {
            let (gate, started) = (Arc::clone(&task_gate), Arc::clone(&task_started));
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
        .expect("worker");
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    wait_until("every job to start", WAIT, || async {
        (started.load(Ordering::SeqCst) == JOBS).then_some(())
    })
    .await;
    let session = sessions(&node.url).await;
    assert_eq!(session.len(), 1, "one worker session: {session:?}");

    // The store fails; every task finishes and acks into it.
    node.fault.set(true);
    gate.add_permits(JOBS);
    let deadline = Instant::now() + WAIT;
    while node.fault.refused("job_ack_many") < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker did not retry its acks"
        );
        assert_eq!(sessions(&node.url).await, session, "the session stays");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.fault.set(false);

    for id in &ids {
        let job = client.wait_for_result(*id, WAIT).await.expect("wait");
        assert_eq!(job.state, JobState::Succeeded, "job {id}");
        assert_eq!(job.attempt, 1, "job {id} ran once");
        assert!(job.errors.is_empty(), "no WorkerLost: {:?}", job.errors);
    }
    assert_eq!(started.load(Ordering::SeqCst), JOBS, "no job ran again");
    assert_eq!(sessions(&node.url).await, session, "still the one session");
    stop.cancel();
    running.await.expect("worker task").expect("worker ran");
    node.shutdown.cancel();
}
