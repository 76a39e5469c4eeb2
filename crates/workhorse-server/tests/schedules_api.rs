//! The schedule routes: declare (upsert), show, pause/resume, trigger, delete, and bad
//! input refused with a 422 naming the field, nothing stored.

mod common;

use common::{Answer, Server};
use serde_json::{Value, json};

async fn put(server: &Server, name: &str, body: &Value) -> Answer {
    let url = format!("{}/v1/schedules/{name}", server.url);
    server.send(server.http.put(url).json(body)).await
}

#[tokio::test]
async fn declaring_twice_changes_nothing_and_the_detail_shows_next_fires() {
    let server = common::start().await;
    let body = json!({"cron": "0 8 * * *", "timezone": "Europe/Berlin", "task": "digest"});
    let first = put(&server, "digest", &body).await;
    assert_eq!(first.status, 201, "{:#}", first.body);
    assert_eq!(first.body["changed"], true);
    let again = put(&server, "digest", &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["changed"], false);
    let updated = put(
        &server,
        "digest",
        &json!({"cron": "0 9 * * *", "task": "digest"}),
    )
    .await;
    assert_eq!(
        (updated.status.as_u16(), &updated.body["changed"]),
        (200, &json!(true))
    );

    let detail = server.get("/v1/schedules/digest?count=3").await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["definition"]["cron"], "0 9 * * *");
    assert_eq!(detail.body["definition"]["timezone"], "UTC");
    let next = detail.body["next_fires"].as_array().expect("next fires");
    assert_eq!(next.len(), 3);
    assert!(
        next.iter()
            .all(|t| t.as_str().is_some_and(|t| t.ends_with("T09:00:00Z")))
    );
    let list = server.get("/v1/schedules").await;
    assert_eq!(list.body["schedules"].as_array().map(Vec::len), Some(1));

    let paused = server.post("/v1/schedules/digest/pause", &json!({})).await;
    assert_eq!(paused.body["paused"], true);
    let fire = server
        .post("/v1/schedules/digest/trigger", &json!({}))
        .await;
    assert_eq!(fire.status, 201);
    let job = server
        .get(&format!(
            "/v1/jobs/{}",
            fire.body["job_id"].as_str().expect("job id")
        ))
        .await;
    assert_eq!(job.body["schedule"], "digest");
    assert_eq!(job.body["scheduled_for"], fire.body["fire_at"]);
    let resumed = server.post("/v1/schedules/digest/resume", &json!({})).await;
    assert_eq!(resumed.body["paused"], false);

    let url = format!("{}/v1/schedules/digest", server.url);
    let deleted = server.send(server.http.delete(url.clone())).await;
    assert_eq!(deleted.status, 200);
    server.send(server.http.delete(url)).await.problem(404);
    server.get("/v1/schedules/digest").await.problem(404);
    server.stop().await;
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_the_field() {
    let server = common::start().await;
    let cases = [
        (
            json!({"cron": "0 8 * * 8", "task": "t"}),
            "cron",
            "cron: day-of-week 8 is out of range 0-7",
        ),
        (
            json!({"cron": "0 8 * * *", "timezone": "Mars/Olympus", "task": "t"}),
            "timezone",
            "unknown time zone \"Mars/Olympus\"",
        ),
        (
            json!({"every_ms": 0, "task": "t"}),
            "every_ms",
            "interval must be",
        ),
        (
            json!({"every_ms": 1000, "task": "t", "priority": 12}),
            "priority",
            "",
        ),
    ];
    for (body, field, detail) in cases {
        let answer = put(&server, "bad", &body).await;
        let problem = answer.problem(422);
        assert_eq!(problem["field"], field, "{problem:#}");
        let text = problem["detail"].as_str().expect("detail");
        assert!(text.contains(detail), "{text}");
    }
    let both = put(
        &server,
        "bad",
        &json!({"cron": "* * * * *", "every_ms": 5, "task": "t"}),
    )
    .await;
    both.problem(422);
    let unknown = put(
        &server,
        "bad",
        &json!({"cron": "* * * * *", "task": "t", "when": 1}),
    )
    .await;
    unknown.problem(422);
    let list = server.get("/v1/schedules").await;
    assert_eq!(list.body["schedules"], json!([]), "nothing stored");
    server.stop().await;
}
