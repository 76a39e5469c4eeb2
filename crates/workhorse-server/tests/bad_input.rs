//! Every bad input gets a 4xx problem+json naming the fault, and changes nothing.

mod common;

use common::{Server, start};
use serde_json::{Value, json};
use workhorse_core::limits;

/// Expects `status` with `field` named (when given), and checks that the
/// jobs and queues are exactly as before.
fn refused(answer: &common::Answer, status: u16, field: Option<&str>) -> Value {
    let problem = answer.problem(status).clone();
    if let Some(field) = field {
        assert_eq!(problem["field"], field, "{problem:#}");
    }
    problem
}

/// A server with one job in it, so "unchanged" has something to compare.
async fn seeded() -> (Server, (Value, Value)) {
    let server = start().await;
    server
        .enqueue(json!({"task": "seed", "queue": "seed"}))
        .await;
    let before = server.snapshot().await;
    (server, before)
}

#[tokio::test]
async fn bad_enqueue_bodies_are_refused() {
    let (server, before) = seeded().await;
    let post = |body: &'static str| server.post_raw("/v1/jobs", body);
    refused(&post(r#"{"task": "#).await, 400, None);
    refused(&post("not json").await, 400, None);
    refused(&post(r#"{"task":"t"} trailing"#).await, 400, None);
    refused(
        &post(r#"{"task":"t","priorty":3}"#).await,
        422,
        Some("priorty"),
    );
    refused(&post(r#"{"queue":"q"}"#).await, 422, Some("task"));
    refused(&post(r#"{"task":5}"#).await, 422, Some("task"));
    refused(
        &post(r#"{"task":"t","max_attempts":"x"}"#).await,
        422,
        Some("max_attempts"),
    );
    refused(
        &post(r#"{"task":"t","max_attempts":0}"#).await,
        422,
        Some("max_attempts"),
    );
    refused(
        &post(r#"{"task":"t","args":{"a":1}}"#).await,
        422,
        Some("args"),
    );
    refused(
        &post(r#"{"task":"t","queue":"has space"}"#).await,
        422,
        Some("queue"),
    );
    refused(
        &post(r#"{"task":"t","queue":""}"#).await,
        422,
        Some("queue"),
    );
    refused(
        &post(r#"{"task":"t","priority":10}"#).await,
        422,
        Some("priority"),
    );
    refused(
        &post(r#"{"task":"t","priority":-1}"#).await,
        422,
        Some("priority"),
    );
    refused(
        &post(r#"{"task":"t","delay_ms":-5}"#).await,
        422,
        Some("delay_ms"),
    );
    let expired = r#"{"task":"t","expires_at":"2000-01-01T00:00:00Z"}"#;
    refused(&post(expired).await, 422, Some("expires_at"));
    let backoff = r#"{"task":"t","backoff":{"base_ms":10,"max_ms":1}}"#;
    refused(&post(backoff).await, 422, Some("backoff"));
    // 1e15 ms once overflowed `finished_at + key_window` and released the key at once.
    let window = r#"{"task":"t","key":"k","key_window_ms":1000000000000000}"#;
    let problem = refused(&post(window).await, 422, Some("key_window_ms"));
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains(&limits::MAX_KEY_WINDOW_MS.to_string()),
        "{problem:#}"
    );
    let over = format!(
        r#"{{"task":"t","key":"k","key_window_ms":{}}}"#,
        limits::MAX_KEY_WINDOW_MS + 1
    );
    let answer = server.post_raw("/v1/jobs", over).await;
    refused(&answer, 422, Some("key_window_ms"));
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let (server, before) = seeded().await;
    let big = "x".repeat(limits::DEFAULT_MAX_BODY_BYTES + 1);
    let body = serde_json::to_vec(&json!({"task": "t", "args": [big]})).expect("json");
    let problem = refused(&server.post_raw("/v1/jobs", body).await, 413, None);
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("1048576"),
        "{problem:#}"
    );
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}

#[tokio::test]
async fn a_batch_over_10_000_jobs_is_refused_and_batches_are_atomic() {
    let (server, before) = seeded().await;
    let jobs: Vec<_> = (0..=limits::MAX_BATCH)
        .map(|_| json!({"task": "t"}))
        .collect();
    let answer = server
        .post("/v1/jobs/batch", &json!({ "jobs": jobs }))
        .await;
    let problem = refused(&answer, 413, Some("jobs"));
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("10000"),
        "{problem:#}"
    );

    let one_bad = json!({"jobs": [{"task": "ok"}, {"task": "t", "priority": 11}]});
    let answer = server.post("/v1/jobs/batch", &one_bad).await;
    refused(&answer, 422, Some("jobs[1].priority"));
    let typo = json!({"jobs": [{"task": "ok"}, {"task": "t", "kwarg": {}}]});
    let answer = server.post("/v1/jobs/batch", &typo).await;
    refused(&answer, 422, Some("jobs[1].kwarg"));
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}

#[tokio::test]
async fn unknown_jobs_routes_and_methods() {
    let (server, before) = seeded().await;
    let missing = uuid::Uuid::new_v4();
    refused(&server.get(&format!("/v1/jobs/{missing}")).await, 404, None);
    refused(&server.get("/v1/jobs/not-a-uuid").await, 404, None);
    let cancel = server
        .post(&format!("/v1/jobs/{missing}/cancel"), &json!({}))
        .await;
    refused(&cancel, 404, None);
    let retry = server
        .post(&format!("/v1/jobs/{missing}/retry"), &json!({}))
        .await;
    refused(&retry, 404, None);
    let result = server
        .get(&format!("/v1/jobs/{missing}/result?timeout_ms=0"))
        .await;
    refused(&result, 404, None);
    let lease = json!({"lease_id": uuid::Uuid::new_v4()});
    let beat = server
        .post(&format!("/v1/jobs/{missing}/heartbeat"), &lease)
        .await;
    refused(&beat, 404, None);
    let complete = server
        .post(&format!("/v1/jobs/{missing}/complete"), &lease)
        .await;
    refused(&complete, 404, None);
    refused(&server.get("/v1/nothing-here").await, 404, None);
    let wrong_method = server
        .send(server.http.delete(format!("{}/v1/jobs", server.url)))
        .await;
    refused(&wrong_method, 405, None);
    refused(&server.get("/v1/workers/connect").await, 400, None);
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}

#[tokio::test]
async fn a_stale_lease_changes_nothing() {
    let (server, _) = seeded().await;
    let leased = server.fetch_one("seed").await;
    let before = server.snapshot().await;
    let id = leased["id"].as_str().expect("id");
    let wrong = json!({"lease_id": uuid::Uuid::new_v4(), "result": 1});
    let complete = server
        .post(&format!("/v1/jobs/{id}/complete"), &wrong)
        .await;
    refused(&complete, 409, Some("lease_id"));
    let fail = json!({"lease_id": uuid::Uuid::new_v4(), "error": {"type": "E", "message": "m"}});
    refused(
        &server.post(&format!("/v1/jobs/{id}/fail"), &fail).await,
        409,
        None,
    );
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}

#[tokio::test]
async fn bad_queries_and_worker_requests() {
    let (server, before) = seeded().await;
    refused(&server.get("/v1/jobs?limit=abc").await, 422, None);
    refused(&server.get("/v1/jobs?limit=0").await, 422, Some("limit"));
    refused(
        &server.get("/v1/jobs?state=bogus").await,
        422,
        Some("state"),
    );
    refused(
        &server.get("/v1/jobs?cursor=nope").await,
        422,
        Some("cursor"),
    );
    refused(&server.get("/v1/jobs?bogus=1").await, 422, Some("bogus"));
    let seed = before.0["jobs"][0]["id"].as_str().expect("id").to_owned();
    let long = server
        .get(&format!("/v1/jobs/{seed}/result?timeout_ms=60001"))
        .await;
    refused(&long, 422, Some("timeout_ms"));

    let srv = &server;
    let fetch = |body: Value| async move { srv.post("/v1/fetch", &body).await };
    refused(
        &fetch(json!({"worker": "w", "queues": ["a b"]})).await,
        422,
        Some("queue"),
    );
    refused(
        &fetch(json!({"worker": "w", "max": 0})).await,
        422,
        Some("max"),
    );
    refused(
        &fetch(json!({"worker": "w", "wait_ms": 60_001})).await,
        422,
        Some("wait_ms"),
    );
    refused(&fetch(json!({"worker": ""})).await, 422, Some("worker"));
    refused(&fetch(json!({"queues": ["q"]})).await, 422, Some("worker"));
    let ack = json!({"acks": [{"outcome": "explode", "id": seed, "lease_id": seed}]});
    refused(&server.post("/v1/ack", &ack).await, 422, None);

    let patch = |name: &'static str, body: Value| async move {
        srv.patch(&format!("/v1/queues/{name}"), &body).await
    };
    refused(
        &patch("has%20space", json!({"paused": true})).await,
        422,
        Some("queue"),
    );
    let zero_rate = json!({"rate_limit": {"limit": 0, "period_ms": 1000}});
    refused(&patch("seed", zero_rate).await, 422, Some("rate_limit"));
    refused(
        &patch("seed", json!({"max_running": 0})).await,
        422,
        Some("max_running"),
    );
    refused(
        &patch("seed", json!({"pause": true})).await,
        422,
        Some("pause"),
    );
    let redrive = json!({"state": "ready"});
    refused(
        &server.post("/v1/jobs/redrive", &redrive).await,
        422,
        Some("state"),
    );
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}

#[tokio::test]
async fn bad_cancel_filters_are_refused() {
    let (server, before) = seeded().await;
    let srv = &server;
    let cancel = |body: Value| async move { srv.post("/v1/jobs/cancel", &body).await };
    let no_filter = refused(&cancel(json!({})).await, 422, Some("all"));
    assert!(
        no_filter["detail"]
            .as_str()
            .is_some_and(|d| d.contains("queue or a task")),
        "{no_filter:#}"
    );
    refused(&cancel(json!({"state": "ready"})).await, 422, Some("all"));
    refused(
        &cancel(json!({"queue": "seed", "state": "bogus"})).await,
        422,
        Some("state"),
    );
    refused(
        &cancel(json!({"queue": "seed", "state": "succeeded"})).await,
        422,
        Some("state"),
    );
    refused(
        &cancel(json!({"queue": "seed", "limit": 0})).await,
        422,
        Some("limit"),
    );
    let over = limits::MAX_CANCEL_BATCH + 1;
    refused(
        &cancel(json!({"queue": "seed", "limit": over})).await,
        422,
        Some("limit"),
    );
    refused(
        &cancel(json!({"queue": "has space"})).await,
        422,
        Some("queue"),
    );
    refused(
        &cancel(json!({"queue": "seed", "stat": "ready"})).await,
        422,
        Some("stat"),
    );
    refused(&server.post_raw("/v1/jobs/cancel", "{").await, 400, None);
    assert_eq!(server.snapshot().await, before);
    server.stop().await;
}
