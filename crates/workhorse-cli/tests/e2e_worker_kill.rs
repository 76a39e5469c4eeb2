//! A worker killed with SIGKILL mid-job: its job runs again, by default within 10 s.
//!
//! The doomed worker is a real separate process: this test binary re-executes itself with
//! `WORKHORSE_TEST_CHILD` set, and the entry point below then acts as a worker that takes
//! one job and hangs until it is killed.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use workhorse_testing::ServerProcess;

const CHILD_ENV: &str = "WORKHORSE_TEST_CHILD";

/// Entry point of the child process; a no-op when run as an ordinary test.
#[tokio::test]
async fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, url) = spec.split_once(' ').expect("mode and url");
    let job_id = match mode {
        "ws" => take_job_over_websocket(url).await,
        "http" => take_job_over_http(url).await,
        other => panic!("unknown child mode {other}"),
    };
    println!("GOT {job_id}");
    std::future::pending::<()>().await;
}

async fn take_job_over_websocket(url: &str) -> String {
    let ws_url = format!("{}/v1/workers/connect", url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("connect");
    let hello = json!({"type": "hello", "worker": "doomed", "queues": ["kill"], "credit": 1});
    socket.send(hello.to_string().into()).await.expect("hello");
    while let Some(message) = socket.next().await {
        let text = message.expect("frame").into_text().expect("text frame");
        let message: Value = serde_json::from_str(&text).expect("json");
        if message["type"] == "jobs" {
            let id = message["jobs"][0]["id"]
                .as_str()
                .expect("job id")
                .to_owned();
            // Keep the socket open (and unread) until the process is killed.
            std::mem::forget(socket);
            return id;
        }
    }
    panic!("socket closed before a job came");
}

async fn take_job_over_http(url: &str) -> String {
    let body = json!({"worker": "doomed-http", "queues": ["kill"], "max": 1, "wait_ms": 10_000});
    let resp: Value = reqwest::Client::new()
        .post(format!("{url}/v1/fetch"))
        .json(&body)
        .send()
        .await
        .expect("fetch")
        .json()
        .await
        .expect("json");
    resp["jobs"][0]["id"].as_str().expect("a job").to_owned()
}

/// Spawns the child worker, waits until it holds `expected`, and returns it for killing.
fn spawn_doomed_worker(mode: &str, url: &str, expected: &str) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, format!("{mode} {url}"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child worker");
    let stdout = child.stdout.take().expect("child stdout");
    let got = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest may print "test child_process_entry ... " on the same line first.
        .find_map(|line| line.split_once("GOT ").map(|(_, id)| id.trim().to_owned()))
        .expect("child took a job");
    assert_eq!(got, expected);
    child
}

async fn run_again_after_kill(mode: &str, extra_args: &[&str]) -> (Duration, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(
        env!("CARGO_BIN_EXE_workhorse").as_ref(),
        dir.path(),
        extra_args,
    )
    .await;
    let url = server.url();
    let http = reqwest::Client::new();
    let job: Value = http
        .post(format!("{url}/v1/jobs"))
        .json(&json!({"task": "kill.me", "queue": "kill"}))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("job");
    let id = job["id"].as_str().expect("id").to_owned();

    let mut child = spawn_doomed_worker(mode, &url, &id);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    child.wait().expect("reap child");
    let killed_at = Instant::now();

    let fetch = json!({"worker": "survivor", "queues": ["kill"], "max": 1, "wait_ms": 15_000});
    let resp: Value = http
        .post(format!("{url}/v1/fetch"))
        .json(&fetch)
        .send()
        .await
        .expect("fetch")
        .json()
        .await
        .expect("json");
    let rerun_after = killed_at.elapsed();
    assert_eq!(
        resp["jobs"][0]["id"],
        id.as_str(),
        "the killed worker's job runs again"
    );
    assert_eq!(resp["jobs"][0]["attempt"], 2, "the lost attempt counts");
    let job: Value = http
        .get(format!("{url}/v1/jobs/{id}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    (rerun_after, job)
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_worker_killed_mid_job_runs_again_at_once() {
    let (after, job) = run_again_after_kill("ws", &[]).await;
    assert!(after < Duration::from_secs(3), "rerun took {after:?}");
    assert_eq!(job["errors"][0]["type"], "WorkerLost", "{job}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_worker_killed_mid_job_runs_again_within_ten_seconds_by_default() {
    let (after, job) = run_again_after_kill("http", &[]).await;
    assert!(after < Duration::from_secs(10), "rerun took {after:?}");
    assert_eq!(job["errors"][0]["type"], "LeaseExpired", "{job}");
}
