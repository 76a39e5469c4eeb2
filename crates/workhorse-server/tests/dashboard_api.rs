//! The dashboard as HTTP sees it: the page and every asset it loads are served from the
//! binary, and `GET /v1/workers` lists the connected WebSocket sessions.

mod common;

use common::{GUARD, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tokio_tungstenite::tungstenite::Message;

async fn fetch_text(server: &Server, path: &str) -> (u16, String, String) {
    let response = server
        .http
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .expect("get");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

fn is_script(path: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|ext| ext == "js")
}

/// Every `/ui/...` path in the page, and every relative module import in the scripts.
fn references(base: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for part in text.split(['"', '\'']) {
        if part.starts_with("/ui/") {
            found.push(part.to_owned());
        } else if part.starts_with("./") || part.starts_with("../") {
            if !is_script(part) {
                continue;
            }
            let mut dir: Vec<&str> = base.split('/').collect();
            dir.pop();
            for piece in part.split('/') {
                match piece {
                    "." => {}
                    ".." => {
                        dir.pop();
                    }
                    name => dir.push(name),
                }
            }
            found.push(dir.join("/"));
        }
    }
    found
}

#[tokio::test]
async fn the_page_and_everything_it_loads_are_served_from_the_binary() {
    let server = common::start().await;
    let (status, content_type, page) = fetch_text(&server, "/").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(page.contains(r#"<script type="module" src="/ui/js/app.js">"#));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no CDN"
    );

    let mut pending = references("/", &page);
    let mut seen = BTreeSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (status, content_type, text) = fetch_text(&server, &path).await;
        assert_eq!(status, 200, "{path}");
        if is_script(&path) {
            assert_eq!(content_type, "text/javascript; charset=utf-8", "{path}");
            pending.extend(references(&path, &text));
        }
    }
    assert!(seen.len() >= 15, "only {seen:?}");
    assert!(seen.contains("/ui/js/views/job.js"), "{seen:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_asset_is_a_problem_404() {
    let server = common::start().await;
    server.get("/ui/js/nope.js").await.problem(404);
    server.get("/ui/../Cargo.toml").await.problem(404);
    server.stop().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(GUARD, socket.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("JSON");
        }
    }
}

async fn send(socket: &mut Socket, message: &Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

async fn workers_until(server: &Server, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let answer = server.get("/v1/workers").await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        let workers = answer.body["workers"].as_array().expect("workers").clone();
        if check(&workers) {
            return workers;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "workers never matched: {workers:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn connected_workers_are_listed_with_their_jobs_until_they_leave() {
    let server = common::start().await;
    assert_eq!(server.get("/v1/workers").await.body, json!({"workers": []}));
    let job = server.enqueue(json!({"task": "t", "queue": "pdf"})).await;

    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url.as_str())
        .await
        .expect("connect");
    send(
        &mut socket,
        &json!({"type": "hello", "worker": "renderer", "queues": ["pdf"], "credit": 2}),
    )
    .await;
    let welcome = next_json(&mut socket).await;
    let worker_id = welcome["worker_id"].as_str().expect("worker_id").to_owned();
    let pushed = next_json(&mut socket).await;
    assert_eq!(pushed["type"], "jobs");
    let leased = pushed["jobs"][0].clone();
    assert_eq!(leased["id"], job["id"]);

    let workers = workers_until(&server, |w| w.len() == 1).await;
    let worker = &workers[0];
    assert_eq!(worker["worker_id"], worker_id.as_str());
    assert_eq!(worker["name"], "renderer");
    assert_eq!(worker["queues"], json!(["pdf"]));
    assert_eq!(worker["credit"], 2);
    assert_eq!(worker["in_flight"], json!([job["id"]]));
    assert!(worker["heartbeat_age_ms"].as_u64().is_some());

    let beat = json!({"type": "heartbeat", "beats": [{"id": leased["id"], "lease_id": leased["lease_id"]}]});
    send(&mut socket, &beat).await;
    assert_eq!(next_json(&mut socket).await["type"], "heartbeat");
    let ack = json!({"type": "ack", "acks": [{"outcome": "complete", "id": leased["id"], "lease_id": leased["lease_id"]}]});
    send(&mut socket, &ack).await;
    assert_eq!(next_json(&mut socket).await["type"], "acked");
    workers_until(&server, |w| w.len() == 1 && w[0]["in_flight"] == json!([])).await;

    socket.close(None).await.expect("close");
    workers_until(&server, <[Value]>::is_empty).await;
    server.stop().await;
}
