//! The Worker's life: graceful shutdown (finish in-flight work, hand back the rest, lose
//! nothing) and reconnecting after the server restarts.

mod common;

use common::{TestServer, eventually};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use workhorse_client::{Client, JobContext, Task, TaskError, Worker};
use workhorse_core::{JobId, JobState};
use workhorse_protocol::{EnqueueRequest, JobListQuery, JobView};

const LEASE: Duration = Duration::from_millis(900);
const WAIT: Duration = Duration::from_secs(20);

struct Gated;
impl Task for Gated {
    const NAME: &'static str = "test.gated";
    type Args = ();
    type Output = String;
}

/// A task that reports its start, then waits for a permit.
fn gated(
    started: mpsc::UnboundedSender<JobId>,
    gate: Arc<Semaphore>,
) -> impl Fn(
    JobContext,
    (),
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, TaskError>> + Send>>
+ Send
+ Sync
+ 'static {
    move |ctx: JobContext, (): ()| {
        let (started, gate) = (started.clone(), gate.clone());
        Box::pin(async move {
            let _ = started.send(ctx.id());
            let _permit = gate
                .acquire()
                .await
                .map_err(|e| TaskError::new("Closed", e.to_string()))?;
            Ok("done".to_owned())
        })
    }
}

async fn all_jobs(client: &Client) -> Vec<JobView> {
    let query = JobListQuery {
        limit: Some(1000),
        ..JobListQuery::default()
    };
    client.list(query).await.expect("list").jobs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_running_jobs_and_hands_back_the_rest() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let batch: Vec<EnqueueRequest> = (0..6)
        .map(|_| workhorse_client::request::<Gated>(&()).expect("request"))
        .collect();
    client.enqueue_many(batch).await.expect("enqueue");

    let gate = Arc::new(Semaphore::new(0));
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let worker = Worker::builder(&server.url)
        .concurrency(2)
        .prefetch(2)
        .task::<Gated>(gated(started_tx, gate.clone()))
        .build()
        .expect("worker");
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let running = tokio::spawn(async move { worker.run(token).await });

    let mut in_flight = HashSet::new();
    for _ in 0..2 {
        in_flight.insert(started.recv().await.expect("a job started"));
    }
    // Two more are held unstarted (the prefetch); shutting down must hand them back.
    eventually("the prefetched jobs to be pushed", WAIT, || async {
        let jobs = all_jobs(&client).await;
        (jobs.iter().filter(|j| j.state == JobState::Running).count() == 4).then_some(())
    })
    .await;
    shutdown.cancel();
    // Let the running tasks finish only after shutdown began: they are in flight.
    gate.add_permits(2);
    tokio::time::timeout(WAIT, running)
        .await
        .expect("worker stopped in time")
        .expect("join")
        .expect("clean shutdown");
    assert!(
        started.try_recv().is_err(),
        "no job started after shutdown began"
    );

    // After the release the server pushes nothing more, so nothing is left held.
    let jobs = eventually("no job left running", WAIT, || async {
        let jobs = all_jobs(&client).await;
        jobs.iter()
            .all(|j| j.state != JobState::Running)
            .then_some(jobs)
    })
    .await;
    assert_eq!(jobs.len(), 6, "no job lost");
    for job in &jobs {
        if in_flight.contains(&job.id) {
            assert_eq!(job.state, JobState::Succeeded, "{job:?}");
            assert_eq!(
                job.result.as_ref().map(workhorse_core::Json::get),
                Some("\"done\"")
            );
        } else {
            assert_eq!(job.state, JobState::Ready, "handed back: {job:?}");
            assert_eq!(
                job.attempt, 0,
                "a handed-back job is not charged an attempt: {job:?}"
            );
            assert!(job.errors.is_empty(), "handed back, not lost: {job:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_still_running_after_the_grace_period_are_stopped_and_retried() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let id = client
        .enqueue_task::<Gated>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    let gate = Arc::new(Semaphore::new(0));
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let worker = Worker::builder(&server.url)
        .grace_period(Duration::from_millis(200))
        .task::<Gated>(gated(started_tx, gate))
        .build()
        .expect("worker");
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let running = tokio::spawn(async move { worker.run(token).await });
    assert_eq!(started.recv().await, Some(id));
    shutdown.cancel();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("worker stopped in time")
        .expect("join")
        .expect("clean shutdown");
    let job = client.get(id).await.expect("get");
    assert_ne!(job.state, JobState::Running, "not stuck running: {job:?}");
    assert!(job.state.is_live(), "it runs again: {job:?}");
    assert_eq!(job.errors[0].kind, "WorkerShutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reconnects_after_the_server_restarts() {
    let mut server = TestServer::start(LEASE).await;
    let client = server.client();
    let gate = Arc::new(Semaphore::new(100));
    let (started_tx, _started) = mpsc::unbounded_channel();
    let worker = Worker::builder(&server.url)
        .task::<Gated>(gated(started_tx, gate))
        .build()
        .expect("worker");
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let running = tokio::spawn(async move { worker.run(token).await });

    let first = client
        .enqueue_task::<Gated>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    let job = client.wait_for_result(first, WAIT).await.expect("wait");
    assert_eq!(job.state, JobState::Succeeded);

    server.stop().await;
    server.restart(LEASE).await;
    let second = client
        .enqueue_task::<Gated>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    let job = client.wait_for_result(second, WAIT).await.expect("wait");
    assert_eq!(
        job.state,
        JobState::Succeeded,
        "the reconnected worker ran it"
    );

    shutdown.cancel();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("worker stopped in time")
        .expect("join")
        .expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_running_across_a_server_restart_still_delivers_its_result() {
    let lease = Duration::from_secs(3);
    let mut server = TestServer::start(lease).await;
    let client = server.client();
    let gate = Arc::new(Semaphore::new(0));
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let worker = Worker::builder(&server.url)
        .task::<Gated>(gated(started_tx, gate.clone()))
        .build()
        .expect("worker");
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let running = tokio::spawn(async move { worker.run(token).await });

    let id = client
        .enqueue_task::<Gated>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    assert_eq!(started.recv().await, Some(id));
    // A graceful server restart keeps leases: the task's outcome is accepted afterwards.
    server.stop().await;
    server.restart(lease).await;
    gate.add_permits(1);
    let job = client.wait_for_result(id, WAIT).await.expect("wait");
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(job.errors.is_empty(), "the attempt was not lost: {job:?}");

    shutdown.cancel();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("worker stopped in time")
        .expect("join")
        .expect("clean shutdown");
}
