//! `/metrics`: scraped after a known sequence of jobs, parsed, and the numbers checked.
#![expect(
    clippy::float_cmp,
    reason = "the samples compared are whole counts, exact in f64"
)]

mod common;

use common::GUARD;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workhorse_node::{NodeError, ServeOptions, serve};

/// A parsed exposition: (name, labels) → value.
#[derive(Debug, Default)]
struct Scrape(HashMap<(String, BTreeMap<String, String>), f64>);

impl Scrape {
    /// Parses the Prometheus text format: `name{k="v",…} value` lines, comments skipped.
    fn parse(text: &str) -> Self {
        let mut samples = HashMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
                None => (series, BTreeMap::new()),
            };
            samples.insert((name.to_owned(), labels), value);
        }
        Scrape(samples)
    }

    /// The value of `name` with exactly these labels, if present.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0.get(&(name.to_owned(), labels)).copied()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in the scrape"))
    }
}

/// `k="v",k2="v\"2"` into a map, honouring the format's escapes.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "a quoted label value");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => panic!("dangling escape"),
                },
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

#[test]
fn the_parser_reads_labels_and_escapes() {
    let scrape = Scrape::parse("# HELP x y\na{q=\"a\\\"b\",t=\"c\"} 2\nb 1.5\n");
    assert_eq!(scrape.get("a", &[("q", "a\"b"), ("t", "c")]), Some(2.0));
    assert_eq!(scrape.get("b", &[]), Some(1.5));
}

struct Running {
    url: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), NodeError>>,
}

/// `workhorse serve` itself, so the store's commit counts are wired in as in production.
async fn serve_in(dir: &Path) -> Running {
    let port_file = dir.join("port");
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.join("data"),
        port_file: Some(port_file.clone()),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(options, shutdown.clone()));
    let addr = common::announced_address(&port_file, &task).await;
    Running {
        url: format!("http://{addr}"),
        http: reqwest::Client::new(),
        shutdown,
        task,
    }
}

impl Running {
    /// Stops the node gracefully; it must have served without error.
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(GUARD, self.task)
            .await
            .expect("stops")
            .expect("task")
            .expect("served");
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    async fn scrape(&self) -> Scrape {
        let response = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert!(
            content_type
                .to_str()
                .expect("ascii")
                .starts_with("text/plain")
        );
        Scrape::parse(&response.text().await.expect("text"))
    }

    /// Leases `max` jobs of `mq`, waiting for them.
    async fn fetch(&self, max: u32) -> Vec<Value> {
        let body = json!({"worker": "w", "queues": ["mq"], "max": max, "wait_ms": 10_000});
        let jobs = self.post("/v1/fetch", &body).await["jobs"]
            .as_array()
            .expect("jobs")
            .clone();
        assert_eq!(jobs.len(), max as usize, "{jobs:?}");
        jobs
    }

    async fn fail(&self, job: &Value, retryable: bool) -> Value {
        let body = json!({
            "lease_id": job["lease_id"],
            "error": {"type": "Boom", "message": "failed"},
            "retry_in_ms": 0,
            "retryable": retryable,
        });
        self.post(
            &format!("/v1/jobs/{}/fail", job["id"].as_str().expect("id")),
            &body,
        )
        .await
    }
}

#[tokio::test]
async fn a_scrape_after_a_known_sequence_has_the_exact_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve_in(dir.path()).await;
    for _ in 0..5 {
        let body = json!({"task": "email", "queue": "mq", "max_attempts": 2});
        server.post("/v1/jobs", &body).await;
    }
    let report = server
        .post(
            "/v1/jobs",
            &json!({"task": "report", "queue": "mq", "delay_ms": 600_000}),
        )
        .await;
    server
        .post(
            &format!("/v1/jobs/{}/cancel", report["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;

    let jobs = server.fetch(5).await;
    for job in &jobs[..3] {
        let id = job["id"].as_str().expect("id");
        let body = json!({"lease_id": job["lease_id"], "result": {"ok": true}});
        server.post(&format!("/v1/jobs/{id}/complete"), &body).await;
    }
    // Job 4 fails, runs again, fails again: dead. Job 5 fails for good at once.
    assert_eq!(server.fail(&jobs[3], true).await["state"], "scheduled");
    let again = server.fetch(1).await;
    assert_eq!(again[0]["id"], jobs[3]["id"]);
    assert_eq!(server.fail(&again[0], true).await["state"], "dead");
    assert_eq!(server.fail(&jobs[4], false).await["state"], "dead");

    let email = [("queue", "mq"), ("task", "email")];
    let report = [("queue", "mq"), ("task", "report")];
    let scrape = server.scrape().await;
    assert_eq!(scrape.value("workhorse_jobs_enqueued_total", &email), 5.0);
    assert_eq!(scrape.value("workhorse_jobs_enqueued_total", &report), 1.0);
    assert_eq!(scrape.value("workhorse_jobs_succeeded_total", &email), 3.0);
    assert_eq!(scrape.value("workhorse_jobs_failed_total", &email), 3.0);
    assert_eq!(scrape.value("workhorse_jobs_retried_total", &email), 1.0);
    assert_eq!(scrape.value("workhorse_jobs_dead_total", &email), 2.0);
    assert_eq!(scrape.value("workhorse_jobs_cancelled_total", &report), 1.0);
    assert_eq!(scrape.get("workhorse_jobs_rescued_total", &email), None);
    // Six starts (five, and job 4 again) and six acks, each timed.
    assert_eq!(
        scrape.value("workhorse_job_wait_seconds_count", &email),
        6.0
    );
    assert_eq!(scrape.value("workhorse_job_run_seconds_count", &email), 6.0);
    let le_inf = [("queue", "mq"), ("task", "email"), ("le", "+Inf")];
    assert_eq!(
        scrape.value("workhorse_job_run_seconds_bucket", &le_inf),
        6.0
    );
    // Store: every state change was timed; the writer's commit counts are wired in.
    assert!(scrape.value("workhorse_store_commit_seconds_count", &[]) >= 14.0);
    let calls = scrape.value("workhorse_store_calls_total", &[]);
    let commits = scrape.value("workhorse_store_commits_total", &[]);
    assert!(
        calls >= 14.0 && commits >= 1.0 && commits <= calls,
        "{calls} {commits}"
    );
    assert!(scrape.value("workhorse_store_batch_size", &[]) >= 1.0);
    assert_eq!(scrape.value("workhorse_workers_connected", &[]), 0.0);
    assert!(scrape.get("workhorse_scheduler_lag_seconds", &[]).is_some());

    // The queue gauges come from a refresh at most a couple of seconds old.
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let scrape = server.scrape().await;
        let depth = |state| {
            scrape.get(
                "workhorse_queue_depth",
                &[("queue", "mq"), ("state", state)],
            )
        };
        let expected = [
            ("succeeded", 3.0),
            ("dead", 2.0),
            ("cancelled", 1.0),
            ("ready", 0.0),
            ("running", 0.0),
        ];
        if expected.iter().all(|(state, n)| depth(*state) == Some(*n)) {
            let age = scrape.value(
                "workhorse_queue_oldest_ready_age_seconds",
                &[("queue", "mq")],
            );
            assert_eq!(age, 0.0, "no ready job");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue depth never matched"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    server.stop().await;
}

#[tokio::test]
async fn servers_in_one_process_keep_their_own_numbers() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let a = serve_in(dir_a.path()).await;
    let b = serve_in(dir_b.path()).await;
    a.post("/v1/jobs", &json!({"task": "t", "queue": "only-a"}))
        .await;
    let only_a = [("queue", "only-a"), ("task", "t")];
    assert_eq!(
        b.scrape()
            .await
            .get("workhorse_jobs_enqueued_total", &only_a),
        None
    );
    assert_eq!(
        a.scrape()
            .await
            .value("workhorse_jobs_enqueued_total", &only_a),
        1.0
    );
    a.stop().await;
    b.stop().await;
}
