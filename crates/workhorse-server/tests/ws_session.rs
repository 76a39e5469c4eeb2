//! The WebSocket worker session: credit-based push, acks freeing slots, heartbeats,
//! releases, rescue on disconnect, and refusal of garbage.

mod common;

use common::{GUARD, Server, eventually, start};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use workhorse_core::JobState;
use workhorse_protocol::{ClientMessage, FetchedJob, ServerMessage};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(server: &Server) -> Socket {
    let (socket, _) = connect_async(server.ws_url.as_str())
        .await
        .expect("connect");
    socket
}

async fn say(socket: &mut Socket, message: &ClientMessage) {
    let text = serde_json::to_string(message).expect("json");
    socket.send(Message::text(text)).await.expect("send");
}

/// The next server message, or `None` once the socket closed.
async fn hear(socket: &mut Socket) -> Option<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(GUARD, socket.next())
            .await
            .expect("a message in time");
        match frame {
            None | Some(Err(_) | Ok(Message::Close(_))) => return None,
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(text.as_str()).expect("server message"));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Says hello and returns the worker id.
async fn hello(socket: &mut Socket, queue: &str, credit: u32) -> String {
    let hello = ClientMessage::Hello {
        worker: "ws-worker".to_owned(),
        queues: vec![queue.to_owned()],
        credit,
    };
    say(socket, &hello).await;
    match hear(socket).await {
        Some(ServerMessage::Welcome {
            worker_id,
            lease_ms,
            heartbeat_ms,
        }) => {
            assert!(worker_id.starts_with("ws-worker-"), "{worker_id}");
            assert!(heartbeat_ms < lease_ms);
            worker_id
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// Collects pushed jobs until `n` arrived.
async fn pushed(socket: &mut Socket, n: usize) -> Vec<FetchedJob> {
    let mut all = Vec::new();
    while all.len() < n {
        match hear(socket).await {
            Some(ServerMessage::Jobs { jobs }) => all.extend(jobs),
            other => panic!("expected jobs, got {other:?}"),
        }
    }
    assert_eq!(all.len(), n, "no more than asked for");
    all
}

async fn enqueue_n(server: &Server, queue: &str, n: usize) -> Vec<Value> {
    let mut jobs = Vec::new();
    for _ in 0..n {
        jobs.push(server.enqueue(json!({"task": "t", "queue": queue})).await);
    }
    jobs
}

fn complete(job: &FetchedJob) -> ClientMessage {
    let ack = json!({"outcome": "complete", "id": job.id, "lease_id": job.lease_id});
    ClientMessage::Ack {
        acks: vec![serde_json::from_value(ack).expect("ack item")],
    }
}

#[tokio::test]
async fn pushes_within_credit_and_an_ack_frees_a_slot() {
    let server = start().await;
    enqueue_n(&server, "ws", 3).await;
    let mut socket = connect(&server).await;
    hello(&mut socket, "ws", 2).await;
    let held = pushed(&mut socket, 2).await;

    // A heartbeat round trip: had the server pushed beyond credit, it would come first.
    let beats = held
        .iter()
        .map(|job| json!({"id": job.id, "lease_id": job.lease_id}));
    let beat: ClientMessage =
        serde_json::from_value(json!({"type": "heartbeat", "beats": beats.collect::<Vec<_>>()}))
            .expect("heartbeat");
    say(&mut socket, &beat).await;
    match hear(&mut socket).await {
        Some(ServerMessage::Heartbeat { results }) => {
            assert_eq!(results.len(), 2);
            assert!(results.iter().all(|r| r.lease_expires_at.is_some()));
        }
        other => panic!("expected heartbeat results, got {other:?}"),
    }
    let ready = server.get("/v1/jobs?queue=ws&state=ready").await.body;
    assert_eq!(
        ready["jobs"].as_array().expect("jobs").len(),
        1,
        "third job not pushed"
    );

    say(&mut socket, &complete(&held[0])).await;
    match hear(&mut socket).await {
        Some(ServerMessage::Acked { results }) => {
            assert_eq!(results[0].state.map(JobState::as_str), Some("succeeded"));
        }
        other => panic!("expected acked, got {other:?}"),
    }
    let third = pushed(&mut socket, 1).await;
    assert!(held.iter().all(|job| job.id != third[0].id));
    server.stop().await;
}

#[tokio::test]
async fn a_job_is_pushed_the_moment_it_is_ready_and_credit_can_grow() {
    let server = start().await;
    let mut socket = connect(&server).await;
    hello(&mut socket, "live", 0).await;
    let first = enqueue_n(&server, "live", 1).await;
    say(&mut socket, &ClientMessage::Credit { n: 1 }).await;
    assert_eq!(
        pushed(&mut socket, 1).await[0].id.to_string(),
        first[0]["id"]
    );

    say(&mut socket, &ClientMessage::Credit { n: 1 }).await;
    eventually(|| server.engine.ready_waiters("live") > 0).await;
    let second = enqueue_n(&server, "live", 1).await;
    assert_eq!(
        pushed(&mut socket, 1).await[0].id.to_string(),
        second[0]["id"]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_closed_socket_puts_its_jobs_back_at_once() {
    let server = start().await;
    let job = enqueue_n(&server, "lost", 1).await.remove(0);
    let mut socket = connect(&server).await;
    hello(&mut socket, "lost", 1).await;
    pushed(&mut socket, 1).await;
    drop(socket);

    let id = job["id"].as_str().expect("id");
    let back = server.job_until(id, |job| job["state"] == "ready").await;
    assert_eq!(back["errors"][0]["type"], "WorkerLost");
    let again = server.fetch_one("lost").await;
    assert_eq!(again["id"], job["id"]);
    assert_eq!(again["attempt"], 2);
    server.stop().await;
}

#[tokio::test]
async fn release_hands_jobs_back_uncounted() {
    let server = start().await;
    enqueue_n(&server, "rel", 1).await;
    let mut socket = connect(&server).await;
    hello(&mut socket, "rel", 1).await;
    let job = pushed(&mut socket, 1).await.remove(0);
    let release: ClientMessage = serde_json::from_value(
        json!({"type": "release", "jobs": [{"id": job.id, "lease_id": job.lease_id}]}),
    )
    .expect("release");
    say(&mut socket, &release).await;
    match hear(&mut socket).await {
        Some(ServerMessage::Released { count }) => assert_eq!(count, 1),
        other => panic!("expected released, got {other:?}"),
    }
    // The released job is ready again, but a worker that hands jobs back gets nothing more
    // until it grants credit again; then it takes the job straight back.
    let job_state: serde_json::Value = reqwest::get(format!("{}/v1/jobs/{}", server.url, job.id))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(job_state["state"], "ready");
    let credit: ClientMessage =
        serde_json::from_value(json!({"type": "credit", "n": 1})).expect("credit");
    say(&mut socket, &credit).await;
    let again = pushed(&mut socket, 1).await.remove(0);
    assert_eq!(again.id, job.id);
    assert_eq!(again.attempt, 1, "a release does not count the attempt");
    server.stop().await;
}

#[tokio::test]
async fn garbage_gets_an_error_and_the_session_closes() {
    let server = start().await;
    let mut socket = connect(&server).await;
    socket
        .send(Message::text("{\"type\":\"hello\""))
        .await
        .expect("send");
    assert!(matches!(
        hear(&mut socket).await,
        Some(ServerMessage::Error { .. })
    ));
    assert!(hear(&mut socket).await.is_none(), "closed after the error");

    let mut socket = connect(&server).await;
    hello(&mut socket, "g", 1).await;
    socket
        .send(Message::text("{\"type\":\"dance\"}"))
        .await
        .expect("send");
    match hear(&mut socket).await {
        Some(ServerMessage::Error { problem, .. }) => {
            assert!(problem.detail.contains("dance"), "{problem:?}");
        }
        other => panic!("expected error, got {other:?}"),
    }
    assert!(hear(&mut socket).await.is_none(), "closed after the error");
    server.stop().await;
}
