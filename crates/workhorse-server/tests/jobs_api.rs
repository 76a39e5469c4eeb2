//! Happy paths of the producer routes, queues, health and the `OpenAPI` document.

mod common;

use common::{SIGNAL_ONLY, Server, start};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn enqueue_creates_then_a_matching_key_returns_the_same_job() {
    let server = start().await;
    let body = json!({
        "task": "emails.send", "queue": "emails", "args": [1, "two"], "kwargs": {"a": true},
        "priority": 5, "max_attempts": 3, "backoff": {"base_ms": 10, "max_ms": 100},
        "timeout_ms": 5000, "key": "welcome:1", "concurrency_key": "user:1",
        "metadata": {"trace": "x"}
    });
    let created = server.post("/v1/jobs", &body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let job = &created.body;
    assert_eq!(job["state"], "ready");
    assert_eq!(job["queue"], "emails");
    assert_eq!(job["args"], json!([1, "two"]));
    assert_eq!(job["kwargs"], json!({"a": true}));
    assert_eq!(job["attempt"], 0);
    assert_eq!(job["errors"], json!([]));
    for field in ["id", "created_at", "run_at", "progress", "result"] {
        assert!(job.get(field).is_some(), "{field} in {job:#}");
    }

    let again = server.post("/v1/jobs", &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], job["id"]);

    let id = job["id"].as_str().expect("id");
    let read = server.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["task"], "emails.send");
    server.stop().await;
}

/// Enqueues a job with `key` on queue `queue`, leases it and settles it with `route`
/// (`complete` or `fail`, the failure not retryable); returns the job's id.
async fn run_keyed(server: &Server, key: &str, queue: &str, route: &str) -> String {
    let body = json!({"task": "t", "queue": queue, "key": key});
    let created = server.post("/v1/jobs", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:#}", created.body);
    let leased = server.fetch_one(queue).await;
    let id = leased["id"].as_str().expect("id").to_owned();
    let settle = if route == "complete" {
        json!({"lease_id": leased["lease_id"]})
    } else {
        json!({
            "lease_id": leased["lease_id"], "retryable": false,
            "error": {"type": "ValueError", "message": "bad", "traceback": ""}
        })
    };
    let settled = server
        .post(&format!("/v1/jobs/{id}/{route}"), &settle)
        .await;
    assert_eq!(settled.status, StatusCode::OK, "{:#}", settled.body);
    id
}

#[tokio::test]
async fn a_key_outlives_its_succeeded_job_but_not_a_dead_one() {
    let server = start().await;
    let done = run_keyed(&server, "welcome:a", "keys", "complete").await;
    let again = server
        .post(
            "/v1/jobs",
            &json!({"task": "t", "queue": "keys", "key": "welcome:a"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:#}", again.body);
    assert_eq!(again.body["id"], done.as_str());
    assert_eq!(again.body["state"], "succeeded");

    let dead = run_keyed(&server, "welcome:b", "keys", "fail").await;
    assert_eq!(
        server.get(&format!("/v1/jobs/{dead}")).await.body["state"],
        "dead"
    );
    let fresh = server
        .post(
            "/v1/jobs",
            &json!({"task": "t", "queue": "keys", "key": "welcome:b"}),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{:#}", fresh.body);
    assert_ne!(fresh.body["id"], dead.as_str());
    server.stop().await;
}

#[tokio::test]
async fn a_delayed_job_is_scheduled() {
    let server = start().await;
    let job = server
        .enqueue(json!({"task": "t", "delay_ms": 60_000}))
        .await;
    assert_eq!(job["state"], "scheduled");
    server.stop().await;
}

#[tokio::test]
async fn batch_enqueue_is_atomic_and_takes_10_000_jobs() {
    let server = start().await;
    let jobs: Vec<_> = (0..10_000)
        .map(|i| json!({"task": "bulk", "args": [i]}))
        .collect();
    let answer = server
        .post("/v1/jobs/batch", &json!({ "jobs": jobs }))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let created = answer.body["jobs"].as_array().expect("jobs");
    assert_eq!(created.len(), 10_000);
    assert_eq!(created[9_999]["args"], json!([9_999]));
    let queues = server.get("/v1/queues").await.body;
    assert_eq!(queues["queues"][0]["counts"]["ready"], 10_000);
    server.stop().await;
}

#[tokio::test]
async fn list_filters_and_pages_with_a_cursor() {
    let server = start().await;
    for i in 0..5 {
        server
            .enqueue(json!({"task": "a", "queue": "q1", "args": [i]}))
            .await;
    }
    server
        .enqueue(json!({"task": "b", "queue": "q2", "key": "k"}))
        .await;

    let first = server.get("/v1/jobs?queue=q1&limit=3").await;
    assert_eq!(first.status, StatusCode::OK);
    let page = first.body["jobs"].as_array().expect("jobs");
    assert_eq!(page.len(), 3);
    assert_eq!(page[0]["args"], json!([4]), "newest first");
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let second = server
        .get(&format!("/v1/jobs?queue=q1&limit=3&cursor={cursor}"))
        .await;
    assert_eq!(second.body["jobs"].as_array().expect("jobs").len(), 2);
    assert!(
        second
            .body
            .get("next_cursor")
            .is_none_or(serde_json::Value::is_null)
    );

    let by_task = server.get("/v1/jobs?task=b&state=ready&key=k").await;
    assert_eq!(by_task.body["jobs"].as_array().expect("jobs").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn cancel_retry_and_redrive() {
    let server = start().await;
    let job = server.enqueue(json!({"task": "t", "queue": "c"})).await;
    let id = job["id"].as_str().expect("id");
    let not_dead = server
        .post(&format!("/v1/jobs/{id}/retry"), &json!({}))
        .await;
    not_dead.problem(409);

    let cancelled = server
        .post(&format!("/v1/jobs/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.body["state"], "cancelled");
    let retried = server
        .post(&format!("/v1/jobs/{id}/retry"), &json!({}))
        .await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(retried.body["state"], "ready");

    // Dead-letter a job: one attempt, failed.
    let doomed = server
        .enqueue(json!({"task": "t", "queue": "d", "max_attempts": 1}))
        .await;
    let leased = server.fetch_one("d").await;
    let fail = json!({"lease_id": leased["lease_id"], "error": {"type": "E", "message": "boom"}});
    let doomed_id = doomed["id"].as_str().expect("id");
    let dead = server
        .post(&format!("/v1/jobs/{doomed_id}/fail"), &fail)
        .await;
    assert_eq!(dead.body["state"], "dead");
    let redriven = server
        .post("/v1/jobs/redrive", &json!({"queue": "d"}))
        .await;
    assert_eq!(redriven.status, StatusCode::OK);
    assert_eq!(redriven.body["count"], 1);
    assert_eq!(redriven.body["jobs"][0]["state"], "ready");
    assert_eq!(redriven.body["jobs"][0]["errors"][0]["type"], "E");
    server.stop().await;
}

#[tokio::test]
async fn jobs_are_cancelled_by_filter_in_batches() {
    let server = start().await;
    for _ in 0..3 {
        server
            .enqueue(json!({"task": "wrong", "queue": "bulk"}))
            .await;
    }
    let kept = server
        .enqueue(json!({"task": "right", "queue": "bulk"}))
        .await;
    let running = server.fetch_one("bulk").await;
    let later = server
        .enqueue(json!({"task": "wrong", "queue": "bulk", "delay_ms": 60_000}))
        .await;
    let cancel = |body: serde_json::Value| {
        let server = &server;
        async move { server.post("/v1/jobs/cancel", &body).await }
    };

    let nothing = cancel(json!({"task": "no-such-task"})).await;
    assert_eq!(nothing.status, StatusCode::OK);
    assert_eq!(
        nothing.body,
        json!({"cancelled": 0, "cancel_requested": 0, "more": false})
    );
    let ready = cancel(json!({"task": "wrong", "state": "ready", "limit": 1})).await;
    assert_eq!(
        ready.body,
        json!({"cancelled": 1, "cancel_requested": 0, "more": true})
    );
    let rest = cancel(json!({"queue": "bulk", "task": "wrong"})).await;
    assert_eq!(
        rest.body,
        json!({"cancelled": 2, "cancel_requested": 1, "more": false}),
        "the other ready one and the scheduled one at once; the running one told"
    );
    let flagged = server
        .get(&format!("/v1/jobs/{}", running["id"].as_str().expect("id")))
        .await;
    assert_eq!(flagged.body["state"], "running");
    assert_eq!(flagged.body["cancel_requested"], true);
    let later = server
        .get(&format!("/v1/jobs/{}", later["id"].as_str().expect("id")))
        .await;
    assert_eq!(later.body["state"], "cancelled");
    let kept = server
        .get(&format!("/v1/jobs/{}", kept["id"].as_str().expect("id")))
        .await;
    assert_eq!(kept.body["state"], "ready", "another task is left alone");
    server.stop().await;
}

#[tokio::test]
async fn result_answers_202_while_running_and_200_once_finished() {
    let server = start().await;
    let job = server.enqueue(json!({"task": "t", "queue": "r"})).await;
    let id = job["id"].as_str().expect("id");
    let pending = server
        .get(&format!("/v1/jobs/{id}/result?timeout_ms=0"))
        .await;
    assert_eq!(pending.status, StatusCode::ACCEPTED);
    assert_eq!(pending.body["state"], "ready");

    server
        .post(&format!("/v1/jobs/{id}/cancel"), &json!({}))
        .await;
    let wait = SIGNAL_ONLY.as_millis();
    let done = server
        .get(&format!("/v1/jobs/{id}/result?timeout_ms={wait}"))
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body["state"], "cancelled");
    server.stop().await;
}

#[tokio::test]
async fn queues_are_listed_and_controlled() {
    let server = start().await;
    server.enqueue(json!({"task": "t", "queue": "ctl"})).await;
    let patch =
        json!({"paused": true, "max_running": 4, "rate_limit": {"limit": 10, "period_ms": 1000}});
    let updated = server.patch("/v1/queues/ctl", &patch).await;
    assert_eq!(updated.status, StatusCode::OK, "{:#}", updated.body);
    assert_eq!(updated.body["paused"], true);
    assert_eq!(updated.body["max_running"], 4);
    assert_eq!(updated.body["rate_limit"]["limit"], 10);

    let cleared = server
        .patch(
            "/v1/queues/ctl",
            &json!({"paused": false, "max_running": null}),
        )
        .await;
    assert_eq!(cleared.body["paused"], false);
    assert!(cleared.body["max_running"].is_null());
    assert_eq!(
        cleared.body["rate_limit"]["period_ms"], 1000,
        "absent fields stay"
    );

    let listed = server.get("/v1/queues").await;
    let queue = &listed.body["queues"][0];
    assert_eq!(queue["name"], "ctl");
    assert_eq!(queue["counts"]["ready"], 1);
    server.stop().await;
}

#[tokio::test]
async fn health_readiness_and_the_openapi_document() {
    let server = start().await;
    assert_eq!(server.get("/healthz").await.body["status"], "ok");
    assert_eq!(server.get("/readyz").await.body["status"], "ready");
    let doc = server.get("/openapi.json").await.body;
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/v1/jobs",
        "/v1/jobs/batch",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/result",
        "/v1/jobs/{id}/cancel",
        "/v1/jobs/{id}/retry",
        "/v1/jobs/redrive",
        "/v1/jobs/cancel",
        "/v1/fetch",
        "/v1/jobs/{id}/heartbeat",
        "/v1/jobs/{id}/complete",
        "/v1/jobs/{id}/fail",
        "/v1/ack",
        "/v1/queues",
        "/v1/queues/{name}",
        "/v1/workers/connect",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "EnqueueRequest",
        "JobView",
        "CancelManyRequest",
        "CancelManyResponse",
        "Problem",
        "ClientMessage",
        "ServerMessage",
    ] {
        assert!(schemas.contains_key(schema), "{schema} documented");
    }
    server.stop().await;
}
