//! Worker routes over HTTP: fetch (long-poll), heartbeat, complete, fail, ack, and the
//! result long-poll.

mod common;

use common::{GUARD, SIGNAL_ONLY, eventually, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn fetch_heartbeat_complete() {
    let server = start().await;
    let job = server.enqueue(json!({"task": "t", "queue": "w"})).await;
    let leased = server.fetch_one("w").await;
    assert_eq!(leased["id"], job["id"]);
    assert_eq!(leased["attempt"], 1);
    assert!(leased["lease_expires_at"].is_string());
    let id = leased["id"].as_str().expect("id");

    let beat =
        json!({"lease_id": leased["lease_id"], "progress": {"fraction": 0.5, "message": "half"}});
    let answer = server
        .post(&format!("/v1/jobs/{id}/heartbeat"), &beat)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:#}", answer.body);
    assert_eq!(answer.body["cancel_requested"], false);
    let running = server.get(&format!("/v1/jobs/{id}")).await.body;
    assert_eq!(running["progress"]["fraction"], 0.5);
    assert_eq!(running["state"], "running");

    let complete = json!({"lease_id": leased["lease_id"], "result": {"sent": true}});
    let done = server
        .post(&format!("/v1/jobs/{id}/complete"), &complete)
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body["state"], "succeeded");
    assert_eq!(done.body["result"], json!({"sent": true}));
    server.stop().await;
}

#[tokio::test]
async fn fail_retries_then_the_heartbeat_tells_of_a_cancel() {
    let server = start().await;
    server.enqueue(json!({"task": "t", "queue": "f"})).await;
    let leased = server.fetch_one("f").await;
    let id = leased["id"].as_str().expect("id");
    let fail = json!({
        "lease_id": leased["lease_id"], "retry_in_ms": 0,
        "error": {"type": "ValueError", "message": "bad", "traceback": "line 1"}
    });
    let failed = server.post(&format!("/v1/jobs/{id}/fail"), &fail).await;
    assert_eq!(failed.status, StatusCode::OK, "{:#}", failed.body);
    assert_eq!(failed.body["state"], "scheduled");
    assert_eq!(failed.body["errors"][0]["traceback"], "line 1");

    // Promote it (retry_in_ms 0 means due now), lease it again and cancel it meanwhile.
    server
        .engine
        .scheduler()
        .run_once(server.engine.now())
        .await
        .expect("promote");
    let again = server.fetch_one("f").await;
    assert_eq!(again["attempt"], 2);
    server
        .post(&format!("/v1/jobs/{id}/cancel"), &json!({}))
        .await;
    let beat = json!({"lease_id": again["lease_id"]});
    let told = server
        .post(&format!("/v1/jobs/{id}/heartbeat"), &beat)
        .await;
    assert_eq!(told.body["cancel_requested"], true);
    server.stop().await;
}

#[tokio::test]
async fn ack_settles_many_and_refuses_a_stale_lease() {
    let server = start().await;
    for _ in 0..3 {
        server.enqueue(json!({"task": "t", "queue": "a"})).await;
    }
    let fetched = server
        .post(
            "/v1/fetch",
            &json!({"worker": "w", "queues": ["a"], "max": 3}),
        )
        .await;
    let jobs = fetched.body["jobs"].as_array().expect("jobs").clone();
    assert_eq!(jobs.len(), 3);
    let item = |job: &Value, outcome: &str| {
        let mut item = json!({"outcome": outcome, "id": job["id"], "lease_id": job["lease_id"]});
        if outcome == "complete" {
            item["result"] = json!({"rows": [1, 2]});
        }
        if outcome == "fail" {
            item["error"] = json!({"type": "E", "message": "m"});
            item["retryable"] = json!(false);
        }
        item
    };
    let acks = json!({"acks": [item(&jobs[0], "complete"), item(&jobs[1], "fail")]});
    let answer = server.post("/v1/ack", &acks).await;
    assert_eq!(answer.status, StatusCode::OK, "{:#}", answer.body);
    let results = &answer.body["results"];
    assert_eq!(results[0]["outcome"], "applied");
    assert_eq!(results[0]["state"], "succeeded");
    assert_eq!(results[1]["state"], "dead");
    let first = jobs[0]["id"].as_str().expect("id");
    let stored = server.get(&format!("/v1/jobs/{first}")).await.body;
    assert_eq!(stored["result"], json!({"rows": [1, 2]}));

    // The same ack again: the lease is gone; nothing changes.
    let stale = server
        .post("/v1/ack", &json!({"acks": [item(&jobs[0], "complete")]}))
        .await;
    assert_eq!(stale.body["results"][0]["outcome"], "lease_lost");
    let id = jobs[0]["id"].as_str().expect("id");
    let complete = json!({"lease_id": jobs[0]["lease_id"]});
    let refused = server
        .post(&format!("/v1/jobs/{id}/complete"), &complete)
        .await;
    assert_eq!(refused.problem(409)["field"], "lease_id");

    // A lease taken back by a rescue is stale too: the ack is refused, the job unchanged.
    let third = &jobs[2];
    let third_id = third["id"].as_str().expect("id");
    server.engine.rescue_worker("w").await.expect("rescue");
    let late = json!({"lease_id": third["lease_id"]});
    server
        .post(&format!("/v1/jobs/{third_id}/complete"), &late)
        .await
        .problem(409);
    let beat = server
        .post(&format!("/v1/jobs/{third_id}/heartbeat"), &late)
        .await;
    beat.problem(409);
    assert_eq!(
        server.get(&format!("/v1/jobs/{third_id}")).await.body["state"],
        "ready"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_long_poll_fetch_is_woken_by_an_enqueue() {
    let server = std::sync::Arc::new(start().await);
    let waiting = server.clone();
    let wait_ms = SIGNAL_ONLY.as_millis();
    let fetch = tokio::spawn(async move {
        let body = json!({"worker": "w", "queues": ["lp"], "wait_ms": wait_ms});
        waiting.post("/v1/fetch", &body).await
    });
    eventually(|| server.engine.ready_waiters("lp") > 0).await;
    let job = server.enqueue(json!({"task": "t", "queue": "lp"})).await;
    let answer = tokio::time::timeout(GUARD, fetch)
        .await
        .expect("woken")
        .expect("task");
    assert_eq!(answer.body["jobs"][0]["id"], job["id"]);
    stop(server).await;
}

#[tokio::test]
async fn a_fetch_that_waits_for_nothing_returns_empty() {
    let server = start().await;
    let answer = server
        .post("/v1/fetch", &json!({"worker": "w", "wait_ms": 0}))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["jobs"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn a_result_long_poll_is_woken_by_completion() {
    let server = std::sync::Arc::new(start().await);
    let job = server.enqueue(json!({"task": "t", "queue": "res"})).await;
    let id = job["id"].as_str().expect("id").to_owned();
    let leased = server.fetch_one("res").await;

    let waiting = server.clone();
    let path = format!(
        "/v1/jobs/{id}/result?timeout_ms={}",
        SIGNAL_ONLY.as_millis()
    );
    let result = tokio::spawn(async move { waiting.get(&path).await });
    let job_id = id.parse().expect("job id");
    eventually(|| server.engine.result_waiters(job_id) > 0).await;

    let complete = json!({"lease_id": leased["lease_id"], "result": 42});
    server
        .post(&format!("/v1/jobs/{id}/complete"), &complete)
        .await;
    let answer = tokio::time::timeout(GUARD, result)
        .await
        .expect("woken")
        .expect("task");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["state"], "succeeded");
    assert_eq!(answer.body["result"], 42);
    stop(server).await;
}

async fn stop(server: std::sync::Arc<common::Server>) {
    let server = std::sync::Arc::into_inner(server).expect("last handle");
    server.stop().await;
}
