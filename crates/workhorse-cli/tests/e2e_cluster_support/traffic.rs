//! Producers and workers spread over the nodes, over plain HTTP, each recording what the
//! cluster acknowledged: every enqueue answered 201 and every ack answered `applied`. A
//! request to a dead or unready node fails, and its caller moves on to the next node.

use super::{http, succeeded, unfinished};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use workhorse_testing::wait_until;

/// The queue all traffic uses.
pub const QUEUE: &str = "cluster";

/// What the cluster acknowledged.
#[derive(Default)]
pub struct Ledger {
    enqueued: Mutex<HashSet<String>>,
    completed: Mutex<HashSet<String>>,
}

impl Ledger {
    /// (acknowledged enqueues, applied acks) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.enqueued.lock().expect("lock").len(),
            self.completed.lock().expect("lock").len(),
        )
    }
}

/// Running producers and workers.
pub struct Traffic {
    pub ledger: Arc<Ledger>,
    producing: Arc<AtomicBool>,
    working: Arc<AtomicBool>,
    producers: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// `producers` producers and `workers` workers; the i-th of each starts on node
    /// `i % urls.len()`.
    pub fn start(urls: &[String], producers: usize, workers: usize) -> Traffic {
        let ledger = Arc::new(Ledger::default());
        let producing = Arc::new(AtomicBool::new(true));
        let working = Arc::new(AtomicBool::new(true));
        let producers = (0..producers)
            .map(|i| {
                let run = produce(urls.to_vec(), i, ledger.clone(), producing.clone());
                tokio::spawn(run)
            })
            .collect();
        let workers = (0..workers)
            .map(|i| tokio::spawn(work(urls.to_vec(), i, ledger.clone(), working.clone())))
            .collect();
        Traffic {
            ledger,
            producing,
            working,
            producers,
            workers,
        }
    }

    /// Waits until `enqueued` more enqueues and `completed` more acks were acknowledged.
    pub async fn wait_progress(&self, enqueued: usize, completed: usize, timeout: Duration) {
        let (e0, c0) = self.ledger.counts();
        wait_until("traffic progress", timeout, || async {
            let (e, c) = self.ledger.counts();
            (e >= e0 + enqueued && c >= c0 + completed).then_some(())
        })
        .await;
    }

    /// Stops the producers, lets the workers drain the queue (through `url`), stops them,
    /// and checks that nothing acknowledged was lost: every acknowledged enqueue and every
    /// applied ack is a succeeded job. Returns (enqueued, completed) counts.
    pub async fn drain_and_verify(self, url: &str, timeout: Duration) -> (usize, usize) {
        self.producing.store(false, Ordering::Relaxed);
        for producer in self.producers {
            producer.await.expect("producer");
        }
        let http = http();
        // Leases lost with a killed node or a failed answer come back when they expire.
        wait_until("the queue drained", timeout, || async {
            (unfinished(&http, url, QUEUE).await? == 0).then_some(())
        })
        .await;
        self.working.store(false, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.expect("worker");
        }
        let done = succeeded(&http, url, QUEUE).await;
        let enqueued = self.ledger.enqueued.lock().expect("lock").clone();
        let completed = self.ledger.completed.lock().expect("lock").clone();
        let lost: Vec<&String> = enqueued.difference(&done).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged enqueues never succeeded: {lost:?}",
            lost.len()
        );
        let undone: Vec<&String> = completed.difference(&done).collect();
        assert!(
            undone.is_empty(),
            "{} applied acks are not succeeded jobs: {undone:?}",
            undone.len()
        );
        (enqueued.len(), completed.len())
    }
}

async fn produce(urls: Vec<String>, first: usize, ledger: Arc<Ledger>, producing: Arc<AtomicBool>) {
    let http = http();
    let mut node = first;
    let mut n = 0u64;
    while producing.load(Ordering::Relaxed) {
        n += 1;
        let url = &urls[node % urls.len()];
        let body =
            json!({"task": "cluster.noop", "queue": QUEUE, "args": [n], "max_attempts": 1000});
        match http.post(format!("{url}/v1/jobs")).json(&body).send().await {
            Ok(resp) if resp.status() == 201 => {
                let job: Value = resp.json().await.expect("job body after 201");
                let id = job["id"].as_str().expect("id").to_owned();
                ledger.enqueued.lock().expect("lock").insert(id);
            }
            _ => {
                node += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

async fn work(urls: Vec<String>, first: usize, ledger: Arc<Ledger>, working: Arc<AtomicBool>) {
    let http = http();
    let worker = format!("cluster-worker-{first}");
    let mut node = first;
    while working.load(Ordering::Relaxed) {
        let url = &urls[node % urls.len()];
        if work_once(&http, url, &worker, &ledger).await.is_err() {
            node += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// One fetch (long-poll up to 500 ms) and the ack of what it got.
async fn work_once(
    http: &reqwest::Client,
    url: &str,
    worker: &str,
    ledger: &Ledger,
) -> Result<(), reqwest::Error> {
    let fetch = json!({"worker": worker, "queues": [QUEUE], "max": 50, "wait_ms": 500});
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
        return Ok(());
    }
    let body: Value = http
        .post(format!("{url}/v1/ack"))
        .json(&json!({"acks": acks}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut completed = ledger.completed.lock().expect("lock");
    for result in body["results"].as_array().expect("results") {
        if result["outcome"] == "applied" {
            completed.insert(result["id"].as_str().expect("id").to_owned());
        }
    }
    Ok(())
}
