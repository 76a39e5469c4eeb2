//! `GET /v1/events`: a real HTTP client reads the Server-Sent Events stream.

mod common;

use common::GUARD;
use serde_json::{Value, json};
use workhorse_engine::EngineConfig;
use workhorse_server::ServerConfig;

/// One event off the wire: its `event:` name and `data:` JSON.
#[derive(Debug)]
struct SseEvent {
    name: String,
    data: Value,
}

/// Reads an SSE response chunk by chunk and splits it into events (comments skipped).
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(server: &common::Server, query: &str) -> Stream {
        let response = server
            .http
            .get(format!("{}/v1/events{query}", server.url))
            .send()
            .await
            .expect("subscribe");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert_eq!(content_type, "text/event-stream");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, failing after [`GUARD`].
    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..at + 2).collect();
                if let Some(event) = parse(&frame) {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(GUARD, self.response.chunk())
                .await
                .expect("an event in time")
                .expect("read")
                .expect("the stream stays open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }
}

/// An event frame, or `None` for a comment-only frame (keep-alive).
fn parse(frame: &str) -> Option<SseEvent> {
    let mut name = None;
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    Some(SseEvent {
        name: name?,
        data: serde_json::from_str(&data).expect("JSON data"),
    })
}

#[tokio::test]
async fn job_changes_stream_to_a_filtered_subscriber() {
    let server = common::start().await;
    let mut stream = Stream::open(&server, "?queue=ev").await;
    server
        .enqueue(json!({"task": "other", "queue": "elsewhere"}))
        .await;
    let job = server.enqueue(json!({"task": "send", "queue": "ev"})).await;
    let leased = server.fetch_one("ev").await;
    let id = job["id"].as_str().expect("id");
    let body = json!({"lease_id": leased["lease_id"]});
    let done = server.post(&format!("/v1/jobs/{id}/complete"), &body).await;
    assert_eq!(done.status, 200);

    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = stream.next().await;
        assert_eq!(event.name, "job");
        assert_eq!(event.data["id"], job["id"]);
        assert_eq!(event.data["queue"], "ev");
        assert_eq!(event.data["task"], "send");
        assert!(event.data["at"].as_str().is_some_and(|at| at.contains('T')));
        seen.push((event.data["state"].clone(), event.data["attempt"].clone()));
    }
    assert_eq!(
        seen,
        [
            (json!("ready"), json!(0)),
            (json!("running"), json!(1)),
            (json!("succeeded"), json!(1)),
        ]
    );
    // The open stream does not hold up a graceful shutdown.
    server.stop().await;
}

#[tokio::test]
async fn filters_take_repeated_and_comma_separated_values() {
    let server = common::start().await;
    let a = server.enqueue(json!({"task": "a", "queue": "f"})).await;
    let b = server.enqueue(json!({"task": "b", "queue": "f"})).await;
    let c = server.enqueue(json!({"task": "c", "queue": "f"})).await;
    let query = format!(
        "?job={},{}&job={}&task=b,c",
        a["id"].as_str().expect("id"),
        b["id"].as_str().expect("id"),
        c["id"].as_str().expect("id"),
    );
    let mut stream = Stream::open(&server, &query).await;
    for job in [&a, &b, &c] {
        let id = job["id"].as_str().expect("id");
        let answer = server
            .post(&format!("/v1/jobs/{id}/cancel"), &json!({}))
            .await;
        assert_eq!(answer.status, 200);
    }
    // `a` matches the job filter but not the task filter: only b and c come through.
    for expected in [&b, &c] {
        let event = stream.next().await;
        assert_eq!(
            (event.data["id"].clone(), event.data["state"].clone()),
            (expected["id"].clone(), json!("cancelled"))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_filters_are_refused_as_problems() {
    let server = common::start().await;
    server.get("/v1/events?job=nope").await.problem(422);
    let unknown = server.get("/v1/events?state=dead").await;
    assert_eq!(unknown.problem(422)["field"], "state");
    server.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_much_it_missed() {
    let config = EngineConfig {
        event_capacity: 2,
        recheck: common::SIGNAL_ONLY,
        ..EngineConfig::default()
    };
    let server = common::start_with(config, ServerConfig::default()).await;
    let mut stream = Stream::open(&server, "").await;
    let jobs: Vec<Value> = (0..10).map(|i| json!({"task": format!("t{i}")})).collect();
    // Ten events are sent in one go, with no await between them: the subscriber cannot keep up.
    let answer = server.post("/v1/jobs/batch", &json!({"jobs": jobs})).await;
    assert_eq!(answer.status, 201);
    let lagged = stream.next().await;
    assert_eq!(lagged.name, "lagged");
    assert_eq!(lagged.data["skipped"], 8);
    for task in ["t8", "t9"] {
        let event = stream.next().await;
        assert_eq!(
            (event.name.as_str(), event.data["task"].as_str()),
            ("job", Some(task))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_traceparent_on_enqueue_reaches_the_worker_in_metadata() {
    let server = common::start().await;
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let request = server
        .http
        .post(format!("{}/v1/jobs", server.url))
        .header("traceparent", parent)
        .header("tracestate", "vendor=1")
        .json(&json!({"task": "traced", "queue": "tr", "metadata": {"user": 7}}));
    let answer = server.send(request).await;
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    let leased = server.fetch_one("tr").await;
    assert_eq!(
        leased["metadata"],
        json!({"user": 7, "traceparent": parent, "tracestate": "vendor=1"})
    );
    server.stop().await;
}
