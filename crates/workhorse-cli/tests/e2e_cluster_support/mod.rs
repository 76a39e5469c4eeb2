//! Shared by the cluster end-to-end tests: a throwaway PostgreSQL with several
//! `workhorse serve --database` nodes (the real binary), HTTP producers and workers spread
//! over the nodes that keep a ledger of every acknowledged enqueue and ack, `/readyz`
//! probes, and a probe of how fast a job enqueued on one node reaches a worker on another.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod traffic;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use workhorse_testing::postgres::TempPostgres;
use workhorse_testing::{ServerProcess, wait_until};

/// Every node runs with this lease, so jobs of a lost fetch come back within seconds.
pub const LEASE_MS: &str = "2000";
/// Every node's fallback re-check: a minute, so a job that reaches a waiting worker on
/// another node within a second was announced by PostgreSQL `NOTIFY`, not found by polling.
pub const RECHECK_MS: &str = "60000";
/// How fast a job enqueued on one node must reach a worker waiting on another.
pub const CROSS_NODE_WAKE: Duration = Duration::from_secs(1);

/// A PostgreSQL cluster and the nodes serving from it.
pub struct Cluster {
    // Dropped in this order: the nodes are killed before their database and directories go.
    pub nodes: Vec<ServerProcess>,
    pub postgres: TempPostgres,
    dirs: Vec<TempDir>,
}

impl Cluster {
    /// A fresh PostgreSQL and `n` nodes on it, started all at once (so their start-up
    /// migrations race, as in a real rollout).
    pub async fn start(n: usize) -> Cluster {
        let postgres = tokio::task::spawn_blocking(TempPostgres::start)
            .await
            .expect("start PostgreSQL");
        postgres.create_database("workhorse");
        let url = postgres.url("workhorse");
        let dirs: Vec<TempDir> = (0..n)
            .map(|_| tempfile::tempdir().expect("node dir"))
            .collect();
        let args = [
            "--database",
            url.as_str(),
            "--lease-ms",
            LEASE_MS,
            "--recheck-ms",
            RECHECK_MS,
        ];
        let binary = env!("CARGO_BIN_EXE_workhorse").as_ref();
        let starting = dirs
            .iter()
            .map(|dir| ServerProcess::start(binary, dir.path(), &args));
        let nodes = futures_util::future::join_all(starting).await;
        Cluster {
            nodes,
            postgres,
            dirs,
        }
    }

    /// Every node's base URL, dead or alive, by index.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(ServerProcess::url).collect()
    }

    /// Runs a blocking `pg_ctl` call (stop, start) without stalling the runtime.
    pub fn postgres_blocking(&self, action: impl FnOnce(&TempPostgres)) {
        tokio::task::block_in_place(|| action(&self.postgres));
    }
}

impl Drop for Cluster {
    /// A failing test shows the nodes' logs: the temporary directories go with the test.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (i, dir) in self.dirs.iter().enumerate() {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- node {i} log (last 40 lines, newest first) ----");
            for line in tail {
                eprintln!("{line}");
            }
        }
    }
}

/// An HTTP client that never reuses a connection (nodes die and come back).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client")
}

/// `GET /readyz`: its status code and body, or `None` when the node does not answer.
pub async fn readyz(http: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let resp = http.get(format!("{url}/readyz")).send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.ok()?))
}

/// The indices (into `urls`) of the nodes that answer ready and say they lead.
pub async fn leaders(http: &reqwest::Client, urls: &[String]) -> Vec<usize> {
    let mut leading = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        if let Some((200, body)) = readyz(http, url).await
            && body["leader"] == true
        {
            leading.push(i);
        }
    }
    leading
}

/// Waits until exactly one of `urls` leads; returns its index.
pub async fn one_leader(http: &reqwest::Client, urls: &[String], timeout: Duration) -> usize {
    wait_until("exactly one leader", timeout, || async {
        match leaders(http, urls).await.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    })
    .await
}

/// Waits until every node of `urls` answers `/readyz` with `ready` equal to `ready`
/// (200 when ready, 503 when not).
pub async fn wait_all_ready(
    http: &reqwest::Client,
    urls: &[String],
    ready: bool,
    timeout: Duration,
) {
    let what = if ready {
        "every node ready"
    } else {
        "every node not ready"
    };
    wait_until(what, timeout, || async {
        for url in urls {
            let (status, body) = readyz(http, url).await?;
            let expected = if ready { 200 } else { 503 };
            if status != expected || body["ready"] != ready || body["store"] != "postgres" {
                return None;
            }
        }
        Some(())
    })
    .await;
}

/// Enqueues one job on `url` and returns its id.
pub async fn enqueue(http: &reqwest::Client, url: &str, queue: &str) -> String {
    let body = json!({"task": "cluster.probe", "queue": queue});
    let resp = http
        .post(format!("{url}/v1/jobs"))
        .json(&body)
        .send()
        .await
        .expect("enqueue");
    assert_eq!(resp.status(), 201, "enqueue on {url}");
    let job: Value = resp.json().await.expect("job");
    job["id"].as_str().expect("id").to_owned()
}

/// A job enqueued on `producer` reaches a WebSocket worker session on `worker` within
/// [`CROSS_NODE_WAKE`], `rounds` times in a row; returns the slowest delivery. The nodes
/// re-check only every [`RECHECK_MS`], so only a `NOTIFY` can have woken the session.
pub async fn ws_cross_node_wake(
    producer: &str,
    worker: &str,
    queue: &str,
    rounds: usize,
) -> Duration {
    let ws_url = format!("{}/v1/workers/connect", worker.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("connect the worker session");
    let hello = json!({"type": "hello", "worker": "wake-probe", "queues": [queue], "credit": 1000});
    socket.send(hello.to_string().into()).await.expect("hello");
    let welcome = next_frame(&mut socket).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let http = http();
    let mut slowest = Duration::ZERO;
    for round in 0..rounds {
        let sent = Instant::now();
        let id = enqueue(&http, producer, queue).await;
        loop {
            let frame = tokio::time::timeout(CROSS_NODE_WAKE * 10, next_frame(&mut socket))
                .await
                .unwrap_or_else(|_| panic!("round {round}: job {id} never pushed"));
            let pushed = frame["jobs"].as_array().into_iter().flatten();
            if pushed.map(|job| &job["id"]).any(|pushed| *pushed == id) {
                break;
            }
        }
        let took = sent.elapsed();
        assert!(
            took < CROSS_NODE_WAKE,
            "round {round}: job {id} took {took:?} to reach the other node's worker"
        );
        slowest = slowest.max(took);
    }
    slowest
}

async fn next_frame<S>(socket: &mut S) -> Value
where
    S: StreamExt<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    let message = socket.next().await.expect("socket open").expect("frame");
    let text = message.into_text().expect("text frame");
    serde_json::from_str(&text).expect("json frame")
}

/// A job enqueued on `producer` ends the HTTP long-poll (`/v1/fetch`) of a worker on
/// `worker` within [`CROSS_NODE_WAKE`] of its enqueue.
pub async fn http_cross_node_wake(producer: &str, worker: &str, queue: &str) -> Duration {
    let http = http();
    let fetch = json!({"worker": "poll-probe", "queues": [queue], "max": 1, "wait_ms": 20_000});
    let poll = {
        let http = reqwest::Client::new();
        let url = format!("{worker}/v1/fetch");
        tokio::spawn(async move {
            let resp = http.post(url).json(&fetch).send().await.expect("fetch");
            let body: Value = resp.json().await.expect("fetch body");
            (Instant::now(), body)
        })
    };
    let sent = Instant::now();
    let id = enqueue(&http, producer, queue).await;
    let (answered, body) = tokio::time::timeout(Duration::from_secs(30), poll)
        .await
        .expect("the long-poll answers")
        .expect("poll task");
    assert_eq!(body["jobs"][0]["id"], id.as_str(), "{body}");
    let took = answered.duration_since(sent);
    assert!(
        took < CROSS_NODE_WAKE,
        "job {id} took {took:?} to end the other node's long-poll"
    );
    took
}

/// Every succeeded job id of `queue`, read page by page from `url`.
pub async fn succeeded(http: &reqwest::Client, url: &str, queue: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![
            ("queue", queue.to_owned()),
            ("state", "succeeded".to_owned()),
            ("limit", "1000".to_owned()),
        ];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let page: Value = http
            .get(format!("{url}/v1/jobs"))
            .query(&query)
            .send()
            .await
            .expect("list jobs")
            .error_for_status()
            .expect("list ok")
            .json()
            .await
            .expect("page");
        for job in page["jobs"].as_array().expect("jobs") {
            ids.insert(job["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

/// How many jobs of `queue` still wait or run, per `GET /v1/queues` on `url`.
pub async fn unfinished(http: &reqwest::Client, url: &str, queue: &str) -> Option<u64> {
    let body: Value = http
        .get(format!("{url}/v1/queues"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let queues = body["queues"].as_array()?;
    let Some(info) = queues.iter().find(|q| q["name"] == queue) else {
        return Some(0);
    };
    let counts = &info["counts"];
    Some(
        ["scheduled", "ready", "running"]
            .iter()
            .map(|state| counts[state].as_u64().unwrap_or(0))
            .sum(),
    )
}
