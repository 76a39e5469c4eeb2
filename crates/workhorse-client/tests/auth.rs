//! Servers that require API tokens: the Client and the Worker send theirs, and a missing
//! one is a clear, immediate error rather than an endless retry.

mod common;

use common::TestServer;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workhorse_client::{JobContext, Task, TaskError, Worker};
use workhorse_core::JobState;
use workhorse_node::Secret;

const ADMIN: &str = "wh_test-admin-token-for-the-client-tests-000";
const WAIT: Duration = Duration::from_secs(20);

struct Echo;
impl Task for Echo {
    const NAME: &'static str = "test.echo";
    type Args = String;
    type Output = String;
}

async fn echo(_: JobContext, text: String) -> Result<String, TaskError> {
    Ok(text)
}

async fn server() -> TestServer {
    TestServer::start_with(Duration::from_secs(5), |options| {
        options.auth = Some(true);
        options.admin_token = Some(Secret::new(ADMIN));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_and_worker_send_their_token() {
    let server = server().await;
    let client = server.client().with_token(ADMIN);
    let id = client
        .enqueue_task::<Echo>(&"hi".to_owned())
        .await
        .expect("enqueue")
        .job
        .id;

    let shutdown = CancellationToken::new();
    let worker = Worker::builder_for(&client)
        .task::<Echo>(echo)
        .build()
        .expect("worker");
    let token = shutdown.clone();
    let running = tokio::spawn(async move { worker.run(token).await });
    let output = client
        .wait_for_output::<Echo>(id, WAIT)
        .await
        .expect("output");
    assert_eq!(output, "hi");
    shutdown.cancel();
    running.await.expect("join").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_refused_clearly() {
    let server = server().await;
    let err = server.client().queues().await.expect_err("no token");
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("requires an API token"), "{err}");

    let worker = Worker::builder(&server.url)
        .task::<Echo>(echo)
        .build()
        .expect("worker");
    let result = tokio::time::timeout(WAIT, worker.run(CancellationToken::new()))
        .await
        .expect("the worker gives up at once");
    let err = result.expect_err("refused");
    assert_eq!(err.status(), Some(401), "{err}");

    let job = server
        .client()
        .with_token(ADMIN)
        .enqueue_task::<Echo>(&"x".to_owned())
        .await
        .expect("enqueue with the token");
    assert_eq!(job.job.state, JobState::Ready);
}
