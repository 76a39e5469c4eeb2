//! Schedules end to end with the real binary: three clients declare the same every-second
//! schedule at once while a worker (HTTP fetch/ack) runs its jobs; the server is killed with
//! `kill -9` mid-way and restarted. Never two jobs for one fire time; a fire for every second
//! the server was up; the fires missed while it was down coalesce.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use workhorse_testing::{ServerProcess, wait_until};

/// How long the schedule runs in all.
const RUN: Duration = Duration::from_secs(30);
/// When the server is killed, from the first fire.
const KILL_AT: Duration = Duration::from_secs(12);
/// How long it stays down.
const DOWN: Duration = Duration::from_secs(3);
/// Late by at most this much, a fire is on time (the schedule's `grace_ms`).
const GRACE_MS: i64 = 500;
const QUEUE: &str = "sched";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client")
}

fn now_s() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn declare(url: String) -> Value {
    let body = json!({"every_ms": 1000, "task": "tick", "queue": QUEUE, "grace_ms": GRACE_MS});
    let resp = http()
        .put(format!("{url}/v1/schedules/tick"))
        .json(&body)
        .send()
        .await
        .expect("declare");
    assert!(resp.status().is_success(), "declare: {}", resp.status());
    resp.json().await.expect("declare body")
}

/// Fetches and completes jobs until `stop`; errors (the server is down) are retried.
async fn work(url: String, stop: Arc<AtomicBool>) {
    let http = http();
    while !stop.load(Ordering::Relaxed) {
        let fetch = json!({"worker": "w", "queues": [QUEUE], "max": 50, "wait_ms": 200});
        let Ok(resp) = http
            .post(format!("{url}/v1/fetch"))
            .json(&fetch)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(body) = resp.json::<Value>().await else {
            continue;
        };
        let acks: Vec<Value> = body["jobs"]
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .map(|j| json!({"outcome": "complete", "id": j["id"], "lease_id": j["lease_id"]}))
                    .collect()
            })
            .unwrap_or_default();
        if !acks.is_empty() {
            let _ = http
                .post(format!("{url}/v1/ack"))
                .json(&json!({"acks": acks}))
                .send()
                .await;
        }
    }
}

/// Every job of the queue: (`scheduled_for` in seconds, state).
async fn jobs(url: &str) -> Vec<(i64, String)> {
    let body: Value = http()
        .get(format!("{url}/v1/jobs?queue={QUEUE}&limit=1000"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list body");
    body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| {
            assert_eq!(job["schedule"], "tick");
            let at: jiff::Timestamp = job["scheduled_for"]
                .as_str()
                .expect("scheduled_for")
                .parse()
                .expect("a time");
            assert_eq!(at.subsec_nanosecond(), 0, "fires are whole seconds");
            (
                at.as_second(),
                job["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_second_schedule_fires_once_per_second_across_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = env!("CARGO_BIN_EXE_workhorse");
    let mut server = ServerProcess::start(binary.as_ref(), dir.path(), &[]).await;
    let url = server.url();

    let answers = futures_util::future::join_all((0..3).map(|_| declare(url.clone()))).await;
    let created = answers.iter().filter(|a| a["created"] == true).count();
    let changed = answers.iter().filter(|a| a["changed"] == true).count();
    assert_eq!(
        (created, changed),
        (1, 1),
        "one declaration creates; the others change nothing"
    );
    let start = now_s();

    let stop = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(work(url.clone(), stop.clone()));
    tokio::time::sleep(KILL_AT).await;
    server.kill9();
    let killed = now_s();
    // The downtime is the condition under test, not a wait for an event.
    tokio::time::sleep(DOWN).await;
    server.restart().await;
    let restarted = now_s();
    tokio::time::sleep(RUN.saturating_sub(KILL_AT + DOWN)).await;
    let end = now_s();

    // Let the last fires run, then stop the worker.
    let all_done = wait_until("every fired job ran", Duration::from_secs(20), || {
        let url = url.clone();
        async move {
            let jobs = jobs(&url).await;
            jobs.iter()
                .all(|(_, state)| state == "succeeded")
                .then_some(jobs)
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    worker.await.expect("worker");

    let fires: Vec<i64> = all_done.iter().map(|(at, _)| *at).collect();
    let distinct: BTreeSet<i64> = fires.iter().copied().collect();
    assert_eq!(
        fires.len(),
        distinct.len(),
        "two jobs for one fire time: {fires:?}"
    );

    // Up: every second after the declaration and before the kill, and from the restart on
    // (one second of slack at each edge: the process start and death are not instantaneous).
    let up = (start + 1..killed).chain(restarted + 1..=end);
    for second in up {
        assert!(
            distinct.contains(&second),
            "fire at {second} lost; got {distinct:?}"
        );
    }
    // Down: the missed fires are older than the grace period at the restart, so `coalesce`
    // drops them when an on-time fire runs, or runs one of them; never several.
    let missed = distinct
        .iter()
        .filter(|s| **s > killed && **s < restarted - 1)
        .count();
    assert!(missed <= 1, "missed fires ran {missed} times: {distinct:?}");
    let elapsed = end - start;
    let downtime = restarted - killed;
    let expected = elapsed - downtime;
    assert!(
        (expected - 2..=expected + 4).contains(&(fires.len() as i64)),
        "{} jobs in {elapsed} s with {downtime} s down",
        fires.len()
    );
    let _ = server.terminate();
}
