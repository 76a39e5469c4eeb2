//! `PUT /v1/schedule-sets/{owner}`: an app declares its whole set; what it leaves out is
//! deleted, schedules made at run time and other owners' survive, a name it does not own is
//! a 409 that changes nothing, and the set is bounded. The task's options reach the jobs.

mod common;

use common::{Answer, Server};
use serde_json::{Value, json};

async fn declare(server: &Server, owner: &str, schedules: Value) -> Answer {
    let url = format!("{}/v1/schedule-sets/{owner}", server.url);
    let body = json!({ "schedules": schedules });
    server.send(server.http.put(url).json(&body)).await
}

fn nightly(task: &str) -> Value {
    json!({"cron": "0 3 * * *", "task": task})
}

async fn owners(server: &Server) -> Vec<(String, Value)> {
    let list = server.get("/v1/schedules").await;
    let all = list.body["schedules"]
        .as_array()
        .expect("schedules")
        .clone();
    all.into_iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_owned(),
                s["owner"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_set_replaces_its_owners_schedules_and_nothing_else() {
    let server = common::start().await;
    let url = format!("{}/v1/schedules/runtime", server.url);
    let made = server.send(server.http.put(url).json(&nightly("t"))).await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    let other = declare(&server, "billing", json!({"invoices": nightly("t")})).await;
    assert_eq!(other.status, 200, "{:#}", other.body);

    let first = declare(
        &server,
        "app",
        json!({"a": nightly("t"), "b": nightly("t")}),
    )
    .await;
    assert_eq!(first.status, 200, "{:#}", first.body);
    assert_eq!(first.body["schedules"][0]["created"], true);
    assert_eq!(first.body["schedules"][0]["schedule"]["owner"], "app");
    let again = declare(&server, "app", json!({"b": nightly("t")})).await;
    assert_eq!(again.body["schedules"][0]["changed"], false);
    assert_eq!(again.body["deleted"], json!(["a"]));
    assert_eq!(
        owners(&server).await,
        [
            ("b".to_owned(), json!("app")),
            ("invoices".to_owned(), json!("billing")),
            ("runtime".to_owned(), Value::Null),
        ]
    );

    let before = owners(&server).await;
    let refused = declare(
        &server,
        "app",
        json!({"c": nightly("t"), "invoices": nightly("t")}),
    )
    .await;
    let problem = refused.problem(409);
    assert_eq!(
        problem["detail"],
        "schedule \"invoices\" is declared by \"billing\"; no schedule of this set was stored"
    );
    declare(&server, "app", json!({"runtime": nightly("t")}))
        .await
        .problem(409);
    assert_eq!(owners(&server).await, before);

    let emptied = declare(&server, "app", json!({})).await;
    assert_eq!(emptied.body["deleted"], json!(["b"]));
    assert_eq!(owners(&server).await.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn a_set_is_bounded_and_validated_whole() {
    let server = common::start().await;
    let many: serde_json::Map<String, Value> = (0..=1_000)
        .map(|i| (format!("s{i}"), nightly("t")))
        .collect();
    let problem = declare(&server, "app", Value::Object(many))
        .await
        .problem(413)
        .clone();
    assert_eq!(problem["field"], "schedules");
    let bad = json!({"good": nightly("t"), "bad": {"cron": "0 8 * * 8", "task": "t"}});
    declare(&server, "app", bad).await.problem(422);
    assert!(owners(&server).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_jobs_a_schedule_makes_carry_the_tasks_options() {
    let server = common::start().await;
    let definition = json!({
        "cron": "0 3 * * *",
        "task": "report",
        "backoff": {"base_ms": 2000, "max_ms": 60000},
        "expires_ms": 600_000,
        "concurrency_key": "reports",
        "concurrency_limit": 2,
        "metadata": {"team": "billing"},
    });
    let declared = declare(&server, "app", json!({ "report": definition })).await;
    assert_eq!(declared.status, 200, "{:#}", declared.body);
    let shown = &declared.body["schedules"][0]["schedule"]["definition"];
    assert_eq!(shown["backoff"], json!({"base_ms": 2000, "max_ms": 60000}));
    assert_eq!(shown["expires_ms"], 600_000);
    assert_eq!(shown["concurrency_limit"], 2);

    let fire = server
        .post("/v1/schedules/report/trigger", &json!({}))
        .await;
    let id = fire.body["job_id"].as_str().expect("job id");
    let job = server.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(job.body["concurrency_key"], "reports");
    assert_eq!(job.body["metadata"], json!({"team": "billing"}));
    assert!(job.body["expires_at"].is_string(), "{:#}", job.body);
    server.stop().await;
}
