//! Workflows end to end: the real binary, real Rust workers in separate processes.
//!
//! A chord of 1,000 members runs across three workers; a fourth worker takes some members
//! and is killed with SIGKILL while it holds them. Nothing is lost: its members run again
//! elsewhere, and the callback runs once, after the last member, receiving all 1,000 results
//! in group order.
//!
//! The workers are this test binary re-executed with `WORKHORSE_TEST_CHILD` set (see
//! `child_process_entry`).

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workhorse_client::worker::{JobContext, RawArgs, TaskError};
use workhorse_client::{Client, Worker, Workflow};
use workhorse_core::{JobId, JobState};
use workhorse_protocol::{EnqueueRequest, WorkflowState, WorkflowView};
use workhorse_testing::{ServerProcess, wait_until};

const CHILD_ENV: &str = "WORKHORSE_TEST_CHILD";
const QUEUE: &str = "chord";
const MEMBERS: usize = 1_000;
const DOOMED: &str = "doomed";

/// Entry point of a child worker process; a no-op when run as an ordinary test.
#[tokio::test(flavor = "multi_thread")]
async fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (name, url) = spec.split_once(' ').expect("name and url");
    let doomed = name == DOOMED;
    let worker = Worker::builder(url)
        .name(name)
        .queues([QUEUE])
        .concurrency(4)
        .prefetch(4)
        .raw_task(
            "chord.member",
            move |_: JobContext, args: RawArgs| async move {
                if doomed {
                    // Holds every job it takes until the process is killed.
                    std::future::pending::<()>().await;
                }
                let n = args.args.first().and_then(Value::as_i64).unwrap_or(-1);
                Ok::<_, TaskError>(json!(n * 2))
            },
        )
        .raw_task("chord.collect", |_: JobContext, args: RawArgs| async move {
            Ok::<_, TaskError>(args.args.first().cloned().unwrap_or(Value::Null))
        })
        .build()
        .expect("worker");
    worker
        .run(CancellationToken::new())
        .await
        .expect("worker run");
}

fn spawn_worker(name: &str, url: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_process_entry", "--test-threads", "1"])
        .env(CHILD_ENV, format!("{name} {url}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a worker")
}

/// Worker processes, killed (SIGKILL) and reaped when dropped, so that a failing test
/// leaves none behind.
struct Workers(Vec<Child>);

impl Workers {
    fn kill9(&mut self) {
        for child in &mut self.0 {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
            // Already gone is fine: the point is that it is gone.
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
        self.0.clear();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn chord_of_members() -> Workflow {
    let member = |i: usize| {
        let mut request = EnqueueRequest::new("chord.member");
        request.queue = Some(QUEUE.to_owned());
        request.args = Some(workhorse_core::Json::from_value(&[i]).expect("args"));
        Workflow::job(request)
    };
    let mut callback = EnqueueRequest::new("chord.collect");
    callback.queue = Some(QUEUE.to_owned());
    Workflow::chord((0..MEMBERS).map(member), Workflow::job(callback))
}

fn count(workflow: &WorkflowView, task: &str, state: JobState) -> usize {
    workflow
        .jobs
        .iter()
        .filter(|j| j.job.task == task && j.job.state == state)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn chord_of_a_thousand_survives_a_killed_worker_and_calls_back_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        ServerProcess::start(env!("CARGO_BIN_EXE_workhorse").as_ref(), dir.path(), &[]).await;
    let url = server.url();
    let client = Client::new(&url).expect("client");
    let enqueued = client
        .enqueue_workflow(chord_of_members())
        .await
        .expect("enqueue the chord");
    assert_eq!(enqueued.jobs.len(), MEMBERS + 1);
    let id = enqueued.id;
    let read = || async { client.workflow(id).await.expect("read the workflow") };

    let mut doomed = Workers(vec![spawn_worker(DOOMED, &url)]);
    let held_by_doomed = |workflow: &WorkflowView| -> Vec<JobId> {
        workflow
            .jobs
            .iter()
            .filter(|j| {
                // The server names a session `<worker name>-<8 hex digits>`.
                let doomed = j
                    .job
                    .worker
                    .as_deref()
                    .is_some_and(|w| w.starts_with("doomed-"));
                j.job.state == JobState::Running && doomed
            })
            .map(|j| j.job.id)
            .collect()
    };
    wait_until(
        "the doomed worker to hold members",
        Duration::from_secs(30),
        || async { (held_by_doomed(&read().await).len() >= 4).then_some(()) },
    )
    .await;
    let workers = Workers(
        (0..3)
            .map(|i| spawn_worker(&format!("w{i}"), &url))
            .collect(),
    );
    wait_until(
        "a fifth of the members to finish",
        Duration::from_secs(60),
        || async {
            let done = count(&read().await, "chord.member", JobState::Succeeded);
            (done >= MEMBERS / 5).then_some(())
        },
    )
    .await;
    // The doomed worker never finishes a job: what it holds now, it holds when killed.
    let held = held_by_doomed(&read().await);
    assert!(!held.is_empty());
    doomed.kill9();

    let finished = client
        .wait_for_workflow(id, Duration::from_secs(120))
        .await
        .expect("wait");
    drop(workers);
    assert_eq!(
        finished.state,
        WorkflowState::Succeeded,
        "{:?}",
        finished.state
    );
    assert_eq!(
        count(&finished, "chord.member", JobState::Succeeded),
        MEMBERS
    );
    let expected: Vec<i64> = (0..MEMBERS as i64).map(|i| i * 2).collect();
    let callback = finished
        .jobs
        .iter()
        .find(|j| j.job.task == "chord.collect")
        .expect("the callback");
    assert_eq!(callback.job.attempt, 1, "the callback ran once");
    assert_eq!(callback.parents.len(), MEMBERS);
    let received: Vec<i64> = callback
        .job
        .result
        .as_ref()
        .expect("a result")
        .parse()
        .expect("a list");
    assert_eq!(received, expected, "1,000 results, in group order");
    let result: Vec<i64> = finished
        .result
        .as_ref()
        .expect("the workflow's result")
        .parse()
        .expect("list");
    assert_eq!(result, expected);
    for id in held {
        let member = finished
            .jobs
            .iter()
            .find(|j| j.job.id == id)
            .expect("held member");
        assert_eq!(member.job.attempt, 2, "the killed worker's attempt counts");
        assert_eq!(member.job.errors[0].kind, "WorkerLost");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_workflows_are_refused_and_nothing_is_enqueued() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        ServerProcess::start(env!("CARGO_BIN_EXE_workhorse").as_ref(), dir.path(), &[]).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let too_many: Vec<Value> = (0..=workhorse_core::limits::MAX_WORKFLOW_JOBS)
        .map(|_| json!({"job": {"task": "t"}}))
        .collect();
    let cases = [
        (
            json!({"workflow": {"group": too_many}}),
            "workflow",
            "at most 10000 jobs",
        ),
        (
            json!({"workflow": {"chain": []}}),
            "workflow.chain",
            "at least one step",
        ),
        (
            json!({"workflow": {"chain": [{"job": {"task": "a"}}, {"job": {"task": "b", "priority": 12}}]}}),
            "workflow.chain[1].job.priority",
            "out of range",
        ),
        (
            json!({"workflow": {"chian": []}}),
            "workflow",
            "unknown variant",
        ),
    ];
    for (body, field, message) in cases {
        let response = http
            .post(format!("{url}/v1/workflows"))
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 422, "{field}");
        let problem: Value = response.json().await.expect("problem");
        assert!(
            problem["field"]
                .as_str()
                .is_some_and(|f| f.starts_with(field)),
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(message)),
            "{problem}"
        );
    }
    let jobs: Value = http
        .get(format!("{url}/v1/jobs"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        jobs["jobs"].as_array().map(Vec::len),
        Some(0),
        "nothing enqueued"
    );
    let unknown = http
        .get(format!("{url}/v1/workflows/{}", uuid::Uuid::now_v7()))
        .send()
        .await
        .expect("get");
    assert_eq!(unknown.status(), 404);
}
