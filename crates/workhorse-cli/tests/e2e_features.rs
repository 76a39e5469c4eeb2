//! The job features end to end, against the real `workhorse serve` binary over HTTP:
//! retry → backoff → dead letter → redrive, unique keys, cancelling a running job, pause,
//! `max_running`, rate limit and expiry.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use workhorse_testing::{ServerProcess, wait_until};

struct Api {
    http: reqwest::Client,
    url: String,
    _server: ServerProcess,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().expect("temp dir");
        let server =
            ServerProcess::start(env!("CARGO_BIN_EXE_workhorse").as_ref(), dir.path(), &[]).await;
        Api {
            http: reqwest::Client::new(),
            url: server.url(),
            _server: server,
            _dir: dir,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn enqueue(&self, body: Value) -> Value {
        let (status, job) = self.post("/v1/jobs", body).await;
        assert_eq!(status, 201, "{job}");
        job
    }

    async fn fetch(&self, queue: &str, max: u32, wait_ms: u64) -> Vec<Value> {
        let body = json!({"worker": "e2e", "queues": [queue], "max": max, "wait_ms": wait_ms});
        let (status, resp) = self.post("/v1/fetch", body).await;
        assert_eq!(status, 200, "{resp}");
        resp["jobs"].as_array().expect("jobs").clone()
    }

    async fn fail(&self, job: &Value) -> (u16, Value) {
        let body = json!({"lease_id": job["lease_id"], "error": {"type": "ValueError", "message": "boom", "traceback": "Traceback: line 1"}});
        self.post(
            &format!("/v1/jobs/{}/fail", job["id"].as_str().expect("id")),
            body,
        )
        .await
    }

    async fn complete(&self, job: &Value, result: Value) -> (u16, Value) {
        let body = json!({"lease_id": job["lease_id"], "result": result});
        self.post(
            &format!("/v1/jobs/{}/complete", job["id"].as_str().expect("id")),
            body,
        )
        .await
    }

    async fn patch_queue(&self, name: &str, body: Value) -> Value {
        let (status, queue) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/queues/{name}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{queue}");
        queue
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_backoff_dead_letter_and_redrive() {
    let api = Api::start().await;
    let job = api.enqueue(json!({"task": "flaky", "queue": "retry", "max_attempts": 3, "backoff": {"base_ms": 20, "max_ms": 50}})).await;
    let id = job["id"].as_str().expect("id").to_owned();
    for attempt in 1..=3 {
        // Each retry waits out its backoff (≤ 50 ms) before it can be fetched again.
        let jobs = api.fetch("retry", 1, 5_000).await;
        assert_eq!(jobs[0]["attempt"], attempt);
        let (status, failed) = api.fail(&jobs[0]).await;
        assert_eq!(status, 200, "{failed}");
        let expected = if attempt < 3 { "scheduled" } else { "dead" };
        assert_eq!(failed["state"], expected);
    }
    let dead = api.get(&format!("/v1/jobs/{id}")).await;
    let errors = dead["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[2]["traceback"], "Traceback: line 1");
    let dlq = api.get("/v1/jobs?state=dead&queue=retry").await;
    assert_eq!(dlq["jobs"].as_array().expect("jobs").len(), 1);

    let (status, redriven) = api
        .post("/v1/jobs/redrive", json!({"queue": "retry"}))
        .await;
    assert_eq!(
        (status, redriven["count"].as_u64()),
        (200, Some(1)),
        "{redriven}"
    );
    let jobs = api.fetch("retry", 1, 5_000).await;
    assert_eq!(jobs[0]["id"], id.as_str());
    let (status, done) = api.complete(&jobs[0], json!({"ok": true})).await;
    assert_eq!(status, 200, "{done}");
    let job = api.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        (job["state"].as_str(), &job["result"]),
        (Some("succeeded"), &json!({"ok": true}))
    );
    assert_eq!(
        job["errors"].as_array().map(Vec::len),
        Some(3),
        "history kept after redrive"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unique_key_returns_the_live_job() {
    let api = Api::start().await;
    let first = api
        .enqueue(json!({"task": "welcome", "key": "welcome:a@b.c"}))
        .await;
    let (status, again) = api
        .post(
            "/v1/jobs",
            json!({"task": "welcome", "key": "welcome:a@b.c"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], first["id"]);
    let listed = api.get("/v1/jobs?key=welcome:a@b.c").await;
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_reaches_a_running_job_through_its_heartbeat() {
    let api = Api::start().await;
    let job = api
        .enqueue(json!({"task": "report", "queue": "cancel"}))
        .await;
    let id = job["id"].as_str().expect("id");
    let leased = api.fetch("cancel", 1, 1_000).await.remove(0);
    let (status, cancelled) = api.post(&format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("running"))
    );
    assert_eq!(cancelled["cancel_requested"], true);
    let (status, beat) = api
        .post(
            &format!("/v1/jobs/{id}/heartbeat"),
            json!({"lease_id": leased["lease_id"]}),
        )
        .await;
    assert_eq!(
        (status, beat["cancel_requested"].as_bool()),
        (200, Some(true)),
        "{beat}"
    );
    let (status, stopped) = api.fail(&leased).await;
    assert_eq!(
        (status, stopped["state"].as_str()),
        (200, Some("cancelled")),
        "{stopped}"
    );

    let waiting = api
        .enqueue(json!({"task": "report", "queue": "cancel", "delay_ms": 60_000}))
        .await;
    let (_, cancelled) = api
        .post(
            &format!("/v1/jobs/{}/cancel", waiting["id"].as_str().expect("id")),
            json!({}),
        )
        .await;
    assert_eq!(
        cancelled["state"], "cancelled",
        "a waiting job is cancelled at once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_queue_starts_nothing_until_resumed() {
    let api = Api::start().await;
    api.patch_queue("paused", json!({"paused": true})).await;
    api.enqueue(json!({"task": "t", "queue": "paused"})).await;
    assert!(api.fetch("paused", 10, 0).await.is_empty());
    let queues = api.get("/v1/queues").await;
    let queue = queues["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["name"] == "paused")
        .expect("queue listed")
        .clone();
    assert_eq!(
        (queue["paused"].as_bool(), queue["counts"]["ready"].as_u64()),
        (Some(true), Some(1))
    );
    let started = Instant::now();
    let resume = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        api.patch_queue("paused", json!({"paused": false})).await;
    };
    let (jobs, ()) = tokio::join!(api.fetch("paused", 10, 10_000), resume);
    assert_eq!(jobs.len(), 1, "a waiting fetch is woken by the resume");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn max_running_bounds_jobs_across_workers() {
    let api = Api::start().await;
    api.patch_queue("bounded", json!({"max_running": 2})).await;
    for _ in 0..5 {
        api.enqueue(json!({"task": "t", "queue": "bounded"})).await;
    }
    let first = api.fetch("bounded", 5, 0).await;
    assert_eq!(first.len(), 2);
    assert!(
        api.fetch("bounded", 5, 0).await.is_empty(),
        "another worker gets nothing"
    );
    api.complete(&first[0], json!(null)).await;
    assert_eq!(
        api.fetch("bounded", 5, 0).await.len(),
        1,
        "a finished job frees one slot"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_caps_starts_per_window() {
    let api = Api::start().await;
    api.patch_queue(
        "limited",
        json!({"rate_limit": {"limit": 3, "period_ms": 1000}}),
    )
    .await;
    for _ in 0..7 {
        api.enqueue(json!({"task": "t", "queue": "limited"})).await;
    }
    let mut starts: Vec<Instant> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while starts.len() < 7 && Instant::now() < deadline {
        let jobs = api.fetch("limited", 10, 2_000).await;
        starts.extend(jobs.iter().map(|_| Instant::now()));
        for job in &jobs {
            api.complete(job, json!(null)).await;
        }
    }
    assert_eq!(starts.len(), 7, "all jobs start eventually");
    // At most 3 starts in any one window: the 4th start comes at least ~1 s after the 1st.
    for window in starts.windows(4) {
        assert!(
            window[3] - window[0] >= Duration::from_millis(900),
            "{:?}",
            window[3] - window[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_not_started_before_expires_at_expires_and_never_runs() {
    let api = Api::start().await;
    api.patch_queue("expiring", json!({"paused": true})).await;
    let expires_at = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(300);
    let job = api
        .enqueue(json!({"task": "t", "queue": "expiring", "expires_at": expires_at.to_string()}))
        .await;
    let path = format!("/v1/jobs/{}", job["id"].as_str().expect("id"));
    wait_until("the job to expire", Duration::from_secs(10), || async {
        (api.get(&path).await["state"] == "expired").then_some(())
    })
    .await;
    api.patch_queue("expiring", json!({"paused": false})).await;
    assert!(api.fetch("expiring", 10, 200).await.is_empty());
}
