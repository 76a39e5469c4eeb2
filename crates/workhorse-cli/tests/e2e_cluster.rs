//! Three `workhorse serve --database` nodes (the real binary) on one throwaway PostgreSQL:
//! a job enqueued on one node reaches a worker waiting on another at once (woken by
//! `NOTIFY`, not by polling), and killing the leader with SIGKILL loses nothing while
//! another node takes over its services within 10 s. Also `workhorse migrate`, and the
//! readiness answer of a lone SQLite node.

mod e2e_cluster_support;

use e2e_cluster_support::traffic::Traffic;
use e2e_cluster_support::{
    Cluster, enqueue, http, http_cross_node_wake, one_leader, readyz, ws_cross_node_wake,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use workhorse_testing::postgres::TempPostgres;
use workhorse_testing::{ServerProcess, wait_until};

/// Takeover must happen within this long of the leader's death.
const TAKEOVER: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_enqueued_on_one_node_wakes_a_worker_on_another() {
    let cluster = Cluster::start(3).await;
    let urls = cluster.urls();
    let http = http();
    for url in &urls {
        let (status, body) = readyz(&http, url).await.expect("readyz answers");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["store"], "postgres");
    }
    one_leader(&http, &urls, Duration::from_secs(15)).await;

    let slowest = ws_cross_node_wake(&urls[0], &urls[1], "wake-ws", 10).await;
    eprintln!("WebSocket worker on node 1, producer on node 0: slowest of 10 took {slowest:?}");
    for round in 0..3 {
        // A queue per round: an earlier round's job is never the one fetched.
        let queue = format!("wake-http-{round}");
        let took = http_cross_node_wake(&urls[2], &urls[0], &queue).await;
        eprintln!("HTTP long-poll on node 0, producer on node 2: round {round} took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_loses_nothing_and_another_node_takes_over() {
    let mut cluster = Cluster::start(3).await;
    let urls = cluster.urls();
    let http = http();
    let leader = one_leader(&http, &urls, Duration::from_secs(15)).await;
    let traffic = Traffic::start(&urls, 3, 3);
    traffic
        .wait_progress(300, 150, Duration::from_mins(1))
        .await;

    // A job leased right before the kill and never acked: only a leader's rescuer can
    // bring it back, and the old leader is gone before its lease ends.
    let survivor = &urls[(leader + 1) % urls.len()];
    let abandoned = abandon_one_job(&http, survivor).await;
    let killed_at = Instant::now();
    cluster.nodes[leader].kill9();
    let survivors: Vec<String> = (0..urls.len())
        .filter(|i| *i != leader)
        .map(|i| urls[i].clone())
        .collect();
    let new_leader = one_leader(&http, &survivors, TAKEOVER).await;
    let took = killed_at.elapsed();
    assert!(took < TAKEOVER, "takeover took {took:?}");
    eprintln!(
        "node {leader} (leader) killed; {} leads after {took:?}",
        survivors[new_leader]
    );

    wait_until(
        "the new leader rescues the abandoned job",
        Duration::from_secs(15),
        || async {
            let job = job(&http, survivor, &abandoned).await?;
            (job["state"] == "ready" && job["attempt"] == 1).then_some(())
        },
    )
    .await;

    traffic
        .wait_progress(300, 150, Duration::from_mins(1))
        .await;
    let (enqueued, completed) = traffic
        .drain_and_verify(survivor, Duration::from_mins(1))
        .await;
    eprintln!("{enqueued} enqueues and {completed} acks acknowledged; none lost");
    assert_eq!(
        one_leader(&http, &survivors, Duration::from_secs(5)).await,
        new_leader,
        "leadership stays put"
    );
}

/// Leases one job of its own queue on `url` and drops it; returns its id.
async fn abandon_one_job(http: &reqwest::Client, url: &str) -> String {
    let id = enqueue(http, url, "abandoned").await;
    let fetch = json!({"worker": "vanishing", "queues": ["abandoned"], "max": 1, "wait_ms": 5_000});
    let body: Value = http
        .post(format!("{url}/v1/fetch"))
        .json(&fetch)
        .send()
        .await
        .expect("fetch")
        .json()
        .await
        .expect("fetch body");
    assert_eq!(body["jobs"][0]["id"], id.as_str(), "{body}");
    id
}

async fn job(http: &reqwest::Client, url: &str, id: &str) -> Option<Value> {
    let resp = http.get(format!("{url}/v1/jobs/{id}")).send().await.ok()?;
    resp.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_each_migration_once_and_a_sqlite_node_leads_alone() {
    let postgres = tokio::task::spawn_blocking(TempPostgres::start)
        .await
        .expect("start PostgreSQL");
    postgres.create_database("fresh");
    let url = postgres.url("fresh");
    let first = migrate(&["--database", &url]);
    assert_eq!(first["store"], "postgres");
    assert_eq!(first["applied"][0], 1, "{first}");
    let again = migrate(&["--database", &url]);
    assert_eq!(
        again["applied"],
        json!([]),
        "nothing left to apply: {again}"
    );

    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let sqlite = migrate(&["--data-dir", data_dir]);
    assert_eq!(sqlite["store"], "sqlite", "{sqlite}");
    let server =
        ServerProcess::start(env!("CARGO_BIN_EXE_workhorse").as_ref(), dir.path(), &[]).await;
    let http = http();
    let body = wait_until("the SQLite node leads", Duration::from_secs(10), || async {
        let (status, body) = readyz(&http, &server.url()).await?;
        (status == 200 && body["leader"] == true).then_some(body)
    })
    .await;
    assert_eq!(body["store"], "sqlite", "{body}");
    assert_eq!(body["ready"], true, "{body}");
}

/// `workhorse migrate --json ARGS`, which must succeed; its output.
fn migrate(args: &[&str]) -> Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_workhorse"))
        .arg("migrate")
        .arg("--json")
        .args(args)
        .env_remove("WORKHORSE_DATABASE_URL")
        .output()
        .expect("run workhorse migrate");
    assert!(
        output.status.success(),
        "workhorse migrate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}
