//! The Client against a real server started in-process: producer calls, the plain-HTTP
//! worker calls, and how errors read.

mod common;

use common::TestServer;
use std::time::Duration;
use workhorse_client::{Client, ClientError};
use workhorse_core::{JobId, JobState, Json, Progress};
use workhorse_protocol::{
    AckItem, AckOutcomeView, CompleteRequest, EnqueueRequest, FetchRequest, HeartbeatRequest,
    JobListQuery, QueuePatch, RedriveRequest,
};

const LEASE: Duration = Duration::from_secs(5);

fn job(queue: &str) -> EnqueueRequest {
    EnqueueRequest {
        queue: Some(queue.to_owned()),
        ..EnqueueRequest::new("t")
    }
}

fn fetch(queue: &str, max: u32) -> FetchRequest {
    FetchRequest {
        worker: "http-worker".into(),
        queues: vec![queue.into()],
        max,
        wait_ms: 2_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_calls_round_trip() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let keyed = EnqueueRequest {
        key: Some("k".into()),
        ..job("q")
    };
    let first = client.enqueue(&keyed).await.expect("enqueue");
    let again = client.enqueue(&keyed).await.expect("enqueue again");
    assert!(first.created && !again.created);
    assert_eq!(first.job.id, again.job.id);

    let jobs = client
        .enqueue_many(vec![job("q"), job("q")])
        .await
        .expect("batch");
    assert_eq!(jobs.len(), 2);
    let query = JobListQuery {
        queue: Some("q".into()),
        ..JobListQuery::default()
    };
    assert_eq!(client.list(&query).await.expect("list").jobs.len(), 3);
    assert_eq!(client.get(jobs[0].id).await.expect("get").id, jobs[0].id);

    let paused = QueuePatch {
        paused: Some(true),
        ..QueuePatch::default()
    };
    assert!(
        client
            .update_queue("q", paused)
            .await
            .expect("pause")
            .paused
    );
    let queues = client.queues().await.expect("queues");
    let q = queues.iter().find(|q| q.name == "q").expect("listed");
    assert_eq!(q.counts.get("ready"), Some(&3));

    let cancelled = client.cancel(jobs[1].id).await.expect("cancel");
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(
        client.retry(jobs[1].id).await.expect("retry").state,
        JobState::Ready
    );
    client.cancel(jobs[1].id).await.expect("cancel");
    let redrive = RedriveRequest {
        state: Some(JobState::Cancelled),
        ..RedriveRequest::default()
    };
    assert_eq!(client.redrive(redrive).await.expect("redrive").count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_worker_calls_fetch_heartbeat_and_ack() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let ids: Vec<JobId> = client
        .enqueue_many(vec![job("w"), job("w")])
        .await
        .expect("enqueue")
        .iter()
        .map(|j| j.id)
        .collect();
    let leased = client.fetch(fetch("w", 2)).await.expect("fetch");
    assert_eq!(leased.len(), 2);

    let beat = HeartbeatRequest {
        lease_id: leased[0].lease_id,
        progress: Some(Progress {
            fraction: 0.25,
            message: None,
        }),
    };
    let answer = client
        .heartbeat(leased[0].id, beat)
        .await
        .expect("heartbeat");
    assert!(!answer.cancel_requested);

    let done = CompleteRequest {
        lease_id: leased[0].lease_id,
        result: Some(Json::from_raw("42").expect("json")),
    };
    assert_eq!(
        client
            .complete(leased[0].id, done)
            .await
            .expect("complete")
            .state,
        JobState::Succeeded
    );
    let acks = vec![
        AckItem::Complete {
            id: leased[1].id,
            lease_id: leased[1].lease_id,
            result: None,
        },
        // Already completed: its lease is gone.
        AckItem::Complete {
            id: leased[0].id,
            lease_id: leased[0].lease_id,
            result: None,
        },
    ];
    let results = client.ack(acks).await.expect("ack");
    let outcomes: Vec<AckOutcomeView> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [AckOutcomeView::Applied, AckOutcomeView::LeaseLost]
    );
    for id in ids {
        let job = client
            .wait_for_result(id, Duration::from_secs(5))
            .await
            .expect("wait");
        assert_eq!(job.state, JobState::Succeeded);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_read_well() {
    let server = TestServer::start(LEASE).await;
    let client = server.client();
    let err = client
        .enqueue(EnqueueRequest {
            priority: Some(12),
            ..EnqueueRequest::new("t")
        })
        .await
        .expect_err("refused");
    assert!(
        err.status().is_some_and(|s| (400..500).contains(&s)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "priority 12 is out of range 0-9");
    let ClientError::Api { problem, .. } = &err else {
        panic!("expected problem details: {err:?}");
    };
    assert_eq!(problem.field.as_deref(), Some("priority"));

    let missing = client.get(JobId::new()).await.expect_err("unknown job");
    assert_eq!(missing.status(), Some(404));

    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let err = Client::new(&down)
        .expect("client")
        .queues()
        .await
        .expect_err("down");
    assert_eq!(
        err.to_string(),
        format!("cannot reach Workhorse at {down}: connection refused")
    );
    assert!(err.is_transient());
}
