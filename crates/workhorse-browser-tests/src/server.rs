//! The real server, in-process on 127.0.0.1:0 over a temp `SQLite` store, with the HTTP
//! calls a producer and a worker make.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use workhorse_core::SystemClock;
use workhorse_engine::{Engine, EngineConfig};
use workhorse_server::auth::{Secret, Tokens};
use workhorse_server::{ServerConfig, ServerError};

/// A running server; stop it with [`TestServer::stop`].
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub engine: Engine,
    http: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
    _dir: TempDir,
}

impl TestServer {
    /// Starts the engine's services and serves on a free port, without auth.
    pub async fn start() -> TestServer {
        Self::start_with(ServerConfig::default(), reqwest::Client::new()).await
    }

    /// Like [`TestServer::start`], but every API call needs a token: `admin_token` is the one
    /// accepted (as `WORKHORSE_ADMIN_TOKEN` would be), and this harness's calls send it.
    pub async fn start_with_admin_token(admin_token: &str) -> TestServer {
        let secret = Secret::new(admin_token);
        let tokens = Tokens::load(None, Some(&secret)).expect("tokens");
        let config = ServerConfig {
            auth: Some(tokens),
            ..ServerConfig::default()
        };
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = format!("Bearer {admin_token}")
            .parse()
            .expect("header value");
        headers.insert(reqwest::header::AUTHORIZATION, bearer);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("http client");
        Self::start_with(config, http).await
    }

    async fn start_with(config: ServerConfig, http: reqwest::Client) -> TestServer {
        let (dir, store) = workhorse_testing::temp_sqlite();
        let engine = Engine::new(
            Arc::new(store),
            Arc::new(SystemClock),
            EngineConfig::default(),
        );
        let shutdown = CancellationToken::new();
        // The services' tracker ends with `shutdown`; nothing here waits on it.
        drop(engine.start(&shutdown));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(workhorse_server::run(
            listener,
            engine.clone(),
            config,
            shutdown.clone(),
        ));
        TestServer {
            url,
            engine,
            http,
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// The dashboard at `fragment` (`"/"`, `"/jobs/ID"`, ...).
    pub fn page(&self, fragment: &str) -> String {
        format!("{}/#{fragment}", self.url)
    }

    /// A request; panics unless the answer is 2xx; returns its JSON body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Enqueues a job (`{"task", "queue", ...}`) and returns it.
    pub async fn enqueue(&self, job: Value) -> Value {
        self.post("/v1/jobs", job).await
    }

    /// Leases up to `max` ready jobs of `queue` as the HTTP worker `worker`.
    pub async fn fetch(&self, worker: &str, queue: &str, max: u32) -> Vec<Value> {
        let body = json!({"worker": worker, "queues": [queue], "max": max, "wait_ms": 0});
        let answer = self.post("/v1/fetch", body).await;
        answer["jobs"].as_array().cloned().unwrap_or_default()
    }

    /// Completes a leased job with `result`.
    pub async fn complete(&self, job: &Value, result: Value) -> Value {
        let body = json!({"lease_id": job["lease_id"], "result": result});
        self.post(&format!("/v1/jobs/{}/complete", job_id(job)), body)
            .await
    }

    /// Fails a leased job's attempt; `retryable: false` sends it straight to `dead`.
    pub async fn fail(&self, job: &Value, error: Value, retryable: bool) -> Value {
        let body = json!({"lease_id": job["lease_id"], "error": error, "retryable": retryable});
        self.post(&format!("/v1/jobs/{}/fail", job_id(job)), body)
            .await
    }

    /// Extends a leased job's lease, optionally reporting progress; returns the answer
    /// (`lease_expires_at`, `cancel_requested`).
    pub async fn heartbeat(&self, job: &Value, progress: Option<Value>) -> Value {
        let mut body = json!({"lease_id": job["lease_id"]});
        if let Some(progress) = progress {
            body["progress"] = progress;
        }
        self.post(&format!("/v1/jobs/{}/heartbeat", job_id(job)), body)
            .await
    }

    /// The job as the API shows it now.
    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/v1/jobs/{id}")).await
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("server task").expect("server");
    }
}

/// The `id` of a job value.
pub fn job_id(job: &Value) -> &str {
    job["id"].as_str().expect("job id")
}

/// A worker connected over the WebSocket protocol: it holds the jobs pushed to it until it
/// acks them, so it shows on the workers page with jobs in flight.
pub struct SocketWorker {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl SocketWorker {
    /// Connects and says hello; returns once the server answered `welcome`.
    pub async fn connect(server: &TestServer, name: &str, queues: &[&str], credit: u32) -> Self {
        let url = format!(
            "{}/v1/workers/connect",
            server.url.replacen("http", "ws", 1)
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let hello = json!({"type": "hello", "worker": name, "queues": queues, "credit": credit});
        socket
            .send(Message::text(hello.to_string()))
            .await
            .expect("hello");
        let mut worker = SocketWorker { socket };
        let welcome = worker.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        worker
    }

    /// The next message from the server.
    pub async fn next(&mut self) -> Value {
        loop {
            let frame = self.socket.next().await.expect("open").expect("frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).expect("JSON");
            }
        }
    }

    /// Waits for a `jobs` push and returns its jobs.
    pub async fn jobs(&mut self) -> Vec<Value> {
        loop {
            let message = self.next().await;
            if message["type"] == "jobs" {
                return message["jobs"].as_array().cloned().unwrap_or_default();
            }
        }
    }

    /// Sends a heartbeat for `jobs` with `progress` (`{"fraction", "message"}`).
    pub async fn heartbeat(&mut self, jobs: &[Value], progress: &Value) {
        let beats: Vec<Value> = jobs
            .iter()
            .map(|job| json!({"id": job["id"], "lease_id": job["lease_id"], "progress": progress}))
            .collect();
        let message = json!({"type": "heartbeat", "beats": beats});
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("heartbeat");
    }
}
