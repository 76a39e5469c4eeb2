//! Crash safety of the real binary: producers enqueue and workers ack without pause while the
//! server is killed with SIGKILL and restarted ten times. Every enqueue and every ack that was
//! answered 2xx must still be there afterwards, and every acknowledged job must finally run.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workhorse_testing::{ServerProcess, wait_until};

const QUEUE: &str = "crash";
const KILLS: usize = 10;

#[derive(Default)]
struct Ledger {
    enqueued: Mutex<HashSet<String>>,
    completed: Mutex<HashSet<String>>,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client")
}

async fn produce(url: String, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) {
    let http = http();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body = json!({"task": "crash.noop", "queue": QUEUE, "args": [n], "max_attempts": 1000});
        match http.post(format!("{url}/v1/jobs")).json(&body).send().await {
            Ok(resp) if resp.status() == 201 => {
                let job: Value = resp.json().await.expect("job body after 201");
                let id = job["id"].as_str().expect("id").to_owned();
                ledger.enqueued.lock().expect("lock").insert(id);
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// One fetch + ack round; returns how many jobs were acknowledged as applied.
async fn work_once(
    http: &reqwest::Client,
    url: &str,
    ledger: &Ledger,
) -> Result<usize, reqwest::Error> {
    let fetch = json!({"worker": "crash-worker", "queues": [QUEUE], "max": 50, "wait_ms": 100});
    let resp: Value = http
        .post(format!("{url}/v1/fetch"))
        .json(&fetch)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let acks: Vec<Value> = resp["jobs"]
        .as_array()
        .expect("jobs array")
        .iter()
        .map(|job| json!({"outcome": "complete", "id": job["id"], "lease_id": job["lease_id"], "result": job["args"][0]}))
        .collect();
    if acks.is_empty() {
        return Ok(0);
    }
    let resp = http
        .post(format!("{url}/v1/ack"))
        .json(&json!({"acks": acks}))
        .send()
        .await?
        .error_for_status()?;
    let body: Value = resp.json().await?;
    let mut applied = 0;
    for result in body["results"].as_array().expect("results") {
        if result["outcome"] == "applied" {
            ledger
                .completed
                .lock()
                .expect("lock")
                .insert(result["id"].as_str().expect("id").to_owned());
            applied += 1;
        }
    }
    Ok(applied)
}

async fn work(url: String, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) {
    let http = http();
    while !stop.load(Ordering::Relaxed) {
        if work_once(&http, &url, &ledger).await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn job_state(http: &reqwest::Client, url: &str, id: &str) -> Option<String> {
    let resp = http.get(format!("{url}/v1/jobs/{id}")).send().await.ok()?;
    assert_eq!(
        resp.status(),
        200,
        "acknowledged job {id} is missing after the crashes"
    );
    let job: Value = resp.json().await.ok()?;
    job["state"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_enqueues_and_acks_survive_repeated_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ServerProcess::start(
        env!("CARGO_BIN_EXE_workhorse").as_ref(),
        dir.path(),
        &["--lease-ms", "1500"],
    )
    .await;
    let url = server.url();
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(produce(
            url.clone(),
            ledger.clone(),
            stop.clone(),
        )));
    }
    for _ in 0..2 {
        tasks.push(tokio::spawn(work(
            url.clone(),
            ledger.clone(),
            stop.clone(),
        )));
    }

    for kill in 0..KILLS {
        let (enqueued, completed) = counts(&ledger);
        wait_until("traffic between kills", Duration::from_secs(30), || {
            let ledger = ledger.clone();
            async move {
                let (e, c) = counts(&ledger);
                (e >= enqueued + 200 && c >= completed + 100).then_some(())
            }
        })
        .await;
        server.kill9();
        server.restart().await;
        eprintln!(
            "kill {}: {enqueued} enqueued, {completed} completed so far",
            kill + 1
        );
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("traffic task");
    }

    let http = http();
    let enqueued: Vec<String> = ledger
        .enqueued
        .lock()
        .expect("lock")
        .iter()
        .cloned()
        .collect();
    let completed: Vec<String> = ledger
        .completed
        .lock()
        .expect("lock")
        .iter()
        .cloned()
        .collect();
    assert!(
        enqueued.len() >= KILLS * 200,
        "too little traffic: {}",
        enqueued.len()
    );
    for id in &completed {
        assert_eq!(
            job_state(&http, &url, id).await.as_deref(),
            Some("succeeded"),
            "acked job {id}"
        );
    }

    // Nothing acknowledged is lost: drain until every acknowledged enqueue has succeeded
    // (jobs leased by a worker at a crash come back when their lease expires; an ack whose
    // answer was lost in a crash may have been applied all the same).
    let mut pending: Vec<String> = {
        let done = ledger.completed.lock().expect("lock");
        enqueued
            .iter()
            .filter(|id| !done.contains(*id))
            .cloned()
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} acknowledged jobs never ran",
            pending.len()
        );
        if work_once(&http, &url, &ledger).await.expect("drain") > 0 {
            continue;
        }
        let mut still = Vec::new();
        for id in pending {
            if job_state(&http, &url, &id).await.as_deref() != Some("succeeded") {
                still.push(id);
            }
        }
        pending = still;
    }
}

fn counts(ledger: &Ledger) -> (usize, usize) {
    (
        ledger.enqueued.lock().expect("lock").len(),
        ledger.completed.lock().expect("lock").len(),
    )
}
