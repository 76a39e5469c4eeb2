//! The Worker against a real server started in-process: typed tasks, retries, dead
//! letters, progress, cancellation, time limits.

mod common;

use common::{TestServer, eventually};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use workhorse_client::{
    Client, ClientError, JobContext, StopReason, Task, TaskError, TaskOptions, Worker,
    WorkerBuilder,
};
use workhorse_core::{JobId, JobState};

const LEASE: Duration = Duration::from_millis(900);
const WAIT: Duration = Duration::from_secs(20);

/// Runs a worker in the background until the returned token is cancelled.
fn spawn(
    builder: WorkerBuilder,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), ClientError>>,
) {
    let shutdown = CancellationToken::new();
    let worker = builder.build().expect("worker");
    let token = shutdown.clone();
    (
        shutdown,
        tokio::spawn(async move { worker.run(token).await }),
    )
}

async fn finished(client: &Client, id: JobId) -> workhorse_protocol::JobView {
    let job = client.wait_for_result(id, WAIT).await.expect("wait");
    assert!(
        job.state.is_terminal(),
        "job {id} still {} after {WAIT:?}",
        job.state
    );
    job
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Greeting {
    name: String,
    times: u32,
}

struct Greet;
impl Task for Greet {
    const NAME: &'static str = "test.greet";
    type Args = Greeting;
    type Output = Vec<String>;
    fn options() -> TaskOptions {
        TaskOptions {
            queue: Some("greetings".into()),
            ..TaskOptions::default()
        }
    }
}

async fn greet(ctx: JobContext, args: Greeting) -> Result<Vec<String>, TaskError> {
    assert_eq!(ctx.task(), Greet::NAME);
    Ok((0..args.times)
        .map(|i| format!("hello {} #{i}", args.name))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_task_runs_and_returns_its_result() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let (shutdown, worker) = spawn(Worker::builder(&server.url).task::<Greet>(greet));
    let args = Greeting {
        name: "ada".into(),
        times: 2,
    };
    let enqueued = client.enqueue_task::<Greet>(&args).await.expect("enqueue");
    assert!(enqueued.created);
    assert_eq!(
        enqueued.job.queue, "greetings",
        "the task's queue option applies"
    );
    let output = client
        .wait_for_output::<Greet>(enqueued.job.id, WAIT)
        .await
        .expect("output");
    assert_eq!(output, vec!["hello ada #0", "hello ada #1"]);
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

struct Flaky;
impl Task for Flaky {
    const NAME: &'static str = "test.flaky";
    type Args = ();
    type Output = u32;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let handler = |ctx: JobContext, (): ()| async move {
        if ctx.attempt() == 1 {
            Err(TaskError::retry_after(Duration::from_millis(400)))
        } else {
            Ok(ctx.attempt())
        }
    };
    let (shutdown, worker) = spawn(Worker::builder(&server.url).task::<Flaky>(handler));
    let id = client
        .enqueue_task::<Flaky>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    let job = finished(&client, id).await;
    assert_eq!(
        workhorse_client::output::<Flaky>(&job).expect("succeeded"),
        2
    );
    let error = &job.errors[0];
    assert_eq!(error.kind, "RetryRequested");
    let started = job.started_at.expect("second attempt started");
    let waited = started.duration_since(error.at);
    assert!(
        waited >= jiff::SignedDuration::from_millis(400),
        "second attempt came {waited:?} after the failure"
    );
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_dead_letters_at_once() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let handler = |_: JobContext, (): ()| async { Err::<u32, _>(TaskError::fatal("bad input")) };
    let (shutdown, worker) = spawn(Worker::builder(&server.url).task::<Flaky>(handler));
    let mut request = workhorse_client::request::<Flaky>(&()).expect("request");
    request.max_attempts = Some(5);
    let id = client.enqueue(request).await.expect("enqueue").job.id;
    let job = finished(&client, id).await;
    assert_eq!((job.state, job.attempt), (JobState::Dead, 1));
    assert_eq!(job.errors[0].kind, "FatalError");
    assert_eq!(job.errors[0].message, "bad input");
    let err = workhorse_client::output::<Flaky>(&job).expect_err("dead");
    assert!(
        err.to_string().contains("is dead: FatalError: bad input"),
        "{err}"
    );
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

struct Slow;
impl Task for Slow {
    const NAME: &'static str = "test.slow";
    type Args = ();
    type Output = ();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_visible_while_the_job_runs() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let handler = move |ctx: JobContext, (): ()| {
        let gate = gate.clone();
        async move {
            ctx.progress(0.5, "halfway");
            gate.notified().await;
            Ok(())
        }
    };
    let (shutdown, worker) = spawn(Worker::builder(&server.url).task::<Slow>(handler));
    let id = client
        .enqueue_task::<Slow>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    let progress = eventually("progress to reach the server", WAIT, || async {
        client.get(id).await.expect("get").progress
    })
    .await;
    assert!((progress.fraction - 0.5).abs() < 1e-9);
    assert_eq!(progress.message.as_deref(), Some("halfway"));
    release.notify_one();
    assert_eq!(finished(&client, id).await.state, JobState::Succeeded);
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_progress_before_returning_is_kept() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    // Returns long before the first heartbeat (a third of the lease): the progress must
    // travel with the outcome.
    let handler = |ctx: JobContext, (): ()| async move {
        ctx.progress(1.0, "done");
        Ok(())
    };
    let (shutdown, worker) = spawn(Worker::builder(&server.url).task::<Slow>(handler));
    let id = client
        .enqueue_task::<Slow>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    let job = finished(&client, id).await;
    assert_eq!(job.state, JobState::Succeeded);
    let progress = job.progress.expect("progress kept");
    assert!((progress.fraction - 1.0).abs() < 1e-9);
    assert_eq!(progress.message.as_deref(), Some("done"));
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

/// A handler that reports when it starts and why it was stopped.
fn stoppable(
    started: mpsc::UnboundedSender<JobId>,
    stopped: mpsc::UnboundedSender<Option<StopReason>>,
) -> impl Fn(
    JobContext,
    (),
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), TaskError>> + Send>>
+ Send
+ Sync
+ 'static {
    move |ctx: JobContext, (): ()| {
        let (started, stopped) = (started.clone(), stopped.clone());
        Box::pin(async move {
            let _ = started.send(ctx.id());
            ctx.cancelled().await;
            let _ = stopped.send(ctx.stop_reason());
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_reaches_its_token() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (stopped_tx, mut stopped) = mpsc::unbounded_channel();
    let builder = Worker::builder(&server.url).task::<Slow>(stoppable(started_tx, stopped_tx));
    let (shutdown, worker) = spawn(builder);
    let id = client
        .enqueue_task::<Slow>(&())
        .await
        .expect("enqueue")
        .job
        .id;
    assert_eq!(started.recv().await, Some(id));
    let job = client.cancel(id).await.expect("cancel");
    assert!(job.cancel_requested);
    let reason = tokio::time::timeout(WAIT, stopped.recv())
        .await
        .expect("stopped in time");
    assert_eq!(reason, Some(Some(StopReason::Cancelled)));
    let job = finished(&client, id).await;
    assert_eq!(job.state, JobState::Cancelled);
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_stops_the_task() {
    let server = TestServer::start(Duration::from_secs(30)).await;
    let client = server.client();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (stopped_tx, mut stopped) = mpsc::unbounded_channel();
    let builder = Worker::builder(&server.url).task::<Slow>(stoppable(started_tx, stopped_tx));
    let (shutdown, worker) = spawn(builder);
    let mut request = workhorse_client::request::<Slow>(&()).expect("request");
    request.timeout_ms = Some(300);
    request.max_attempts = Some(1);
    let id = client.enqueue(request).await.expect("enqueue").job.id;
    assert_eq!(started.recv().await, Some(id));
    let reason = tokio::time::timeout(WAIT, stopped.recv())
        .await
        .expect("stopped in time");
    assert_eq!(reason, Some(Some(StopReason::TimeLimit)));
    let job = finished(&client, id).await;
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.errors[0].kind, "TimeLimitExceeded");
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_declared_by_the_worker_fire_into_its_tasks() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let (ran, mut runs) = mpsc::unbounded_channel();
    let tick = workhorse_protocol::ScheduleRequest {
        every_ms: Some(1_000),
        task: "test.tick".into(),
        queue: Some("ticks".into()),
        ..workhorse_protocol::ScheduleRequest::default()
    };
    let builder = Worker::builder(&server.url)
        .queues(["ticks"])
        .schedule("tick", tick.clone())
        .raw_task("test.tick", move |ctx: JobContext, _args| {
            let ran = ran.clone();
            async move {
                ran.send(ctx.id()).expect("test alive");
                Ok(serde_json::Value::Null)
            }
        });
    let (shutdown, worker) = spawn(builder);
    let id = tokio::time::timeout(WAIT, runs.recv())
        .await
        .expect("a fire within the wait")
        .expect("worker alive");
    let job = finished(&client, id).await;
    assert_eq!(job.schedule.as_deref(), Some("tick"));
    assert!(job.scheduled_for.is_some());
    // A second replica declaring the same schedule changes nothing.
    let again = client.upsert_schedule("tick", &tick).await.expect("upsert");
    assert!(!again.changed);
    shutdown.cancel();
    worker.await.expect("join").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_a_bad_schedule_stops_at_start_and_says_why() {
    let server = TestServer::start(LEASE).await;
    let bad = workhorse_protocol::ScheduleRequest {
        cron: Some("0 8 * * 8".into()),
        task: "test.tick".into(),
        ..workhorse_protocol::ScheduleRequest::default()
    };
    let worker = Worker::builder(&server.url)
        .schedule("digest", bad)
        .build()
        .expect("worker");
    let err = tokio::time::timeout(WAIT, worker.run(CancellationToken::new()))
        .await
        .expect("returns at once")
        .expect_err("the schedule is refused");
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("day-of-week"), "{err}");
    let schedules = server.client().schedules().await.expect("list");
    assert!(schedules.is_empty(), "nothing stored");
}
