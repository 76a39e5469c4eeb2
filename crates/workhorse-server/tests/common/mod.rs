//! A real server on 127.0.0.1:0 over a real `SQLite` store in a temp dir, and HTTP helpers.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workhorse_core::SystemClock;
use workhorse_engine::{Engine, EngineConfig};
use workhorse_server::{ServerConfig, ServerError};
use workhorse_store_sqlite::SqliteStore;

/// Long enough that an answer within it proves a signal woke the waiter, not a timer.
pub const SIGNAL_ONLY: Duration = Duration::from_mins(1);
/// A guard against hanging forever if a wake-up is lost.
pub const GUARD: Duration = Duration::from_secs(10);

pub struct Server {
    pub url: String,
    pub ws_url: String,
    pub engine: Engine,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
    _dir: TempDir,
}

/// An HTTP answer: status, content type and JSON body (`null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Answer {
    /// Asserts a problem+json answer with `status`; returns the problem.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{:#}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(self.body["type"].as_str().is_some());
        &self.body
    }
}

/// A server whose waits are woken only by signals (re-checks stretched to a minute).
pub async fn start() -> Server {
    let config = EngineConfig {
        recheck: SIGNAL_ONLY,
        ..EngineConfig::default()
    };
    start_with(config, ServerConfig::default()).await
}

pub async fn start_with(engine_config: EngineConfig, config: ServerConfig) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open store");
    let engine = Engine::new(Arc::new(store), Arc::new(SystemClock), engine_config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(workhorse_server::run(
        listener,
        engine.clone(),
        config,
        shutdown.clone(),
    ));
    Server {
        url: format!("http://{addr}"),
        ws_url: format!("ws://{addr}/v1/workers/connect"),
        engine,
        http: reqwest::Client::new(),
        shutdown,
        task,
        _dir: dir,
    }
}

impl Server {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(GUARD, self.task)
            .await
            .expect("graceful shutdown")
            .expect("task")
            .expect("server");
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            content_type,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.url)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.url)).json(body))
            .await
    }

    /// A POST with a raw body, for malformed input.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(request).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.send(self.http.patch(format!("{}{path}", self.url)).json(body))
            .await
    }

    /// Enqueues one job and returns its view.
    pub async fn enqueue(&self, body: Value) -> Value {
        let answer = self.post("/v1/jobs", &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:#}", answer.body);
        answer.body
    }

    /// Leases one job of `queue` over HTTP.
    pub async fn fetch_one(&self, queue: &str) -> Value {
        let body = json!({"worker": "http-worker", "queues": [queue], "max": 1});
        let answer = self.post("/v1/fetch", &body).await;
        assert_eq!(answer.status, StatusCode::OK, "{:#}", answer.body);
        let jobs = answer.body["jobs"].as_array().expect("jobs").clone();
        assert_eq!(jobs.len(), 1, "one job fetched: {jobs:?}");
        jobs[0].clone()
    }

    /// Everything a bad request must leave unchanged: every job and every queue.
    pub async fn snapshot(&self) -> (Value, Value) {
        let jobs = self.get("/v1/jobs?limit=1000").await.body;
        let queues = self.get("/v1/queues").await.body;
        (jobs, queues)
    }

    /// Polls `GET /v1/jobs/{id}` until `check` holds, failing after [`GUARD`].
    pub async fn job_until(&self, id: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            let job = self.get(&format!("/v1/jobs/{id}")).await.body;
            if check(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job never matched: {job:#}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Polls `check` until it holds, failing after [`GUARD`].
pub async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + GUARD;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
