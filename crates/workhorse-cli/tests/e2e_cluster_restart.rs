//! PostgreSQL restarts under three busy `workhorse serve --database` nodes: while it is
//! down every node answers `/readyz` 503 with `ready: false`; once it is back they recover
//! by themselves (ready again, one leader, `NOTIFY` wake-ups across nodes resumed), and
//! nothing the cluster acknowledged before, during or after the outage is lost.
//! (Its own binary: it stops its PostgreSQL, which no other test may share.)

mod e2e_cluster_support;

use e2e_cluster_support::traffic::Traffic;
use e2e_cluster_support::{Cluster, http, one_leader, wait_all_ready, ws_cross_node_wake};
use std::time::Duration;
use workhorse_testing::postgres::TempPostgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_recover_from_a_postgres_restart_and_lose_nothing() {
    let cluster = Cluster::start(3).await;
    let urls = cluster.urls();
    let http = http();
    wait_all_ready(&http, &urls, true, Duration::from_secs(15)).await;
    one_leader(&http, &urls, Duration::from_secs(15)).await;
    let traffic = Traffic::start(&urls, 3, 3);
    traffic
        .wait_progress(300, 150, Duration::from_mins(1))
        .await;

    cluster.postgres_blocking(TempPostgres::stop);
    wait_all_ready(&http, &urls, false, Duration::from_secs(15)).await;
    eprintln!("PostgreSQL stopped: every node answers /readyz 503");
    cluster.postgres_blocking(TempPostgres::start_again);
    wait_all_ready(&http, &urls, true, Duration::from_secs(30)).await;
    let leader = one_leader(&http, &urls, Duration::from_secs(15)).await;
    eprintln!("PostgreSQL back: every node ready, node {leader} leads");

    traffic
        .wait_progress(300, 150, Duration::from_mins(1))
        .await;
    // Each node's ready listener reconnected: cross-node wake-ups work again.
    let slowest = ws_cross_node_wake(&urls[2], &urls[0], "wake-after-restart", 5).await;
    eprintln!("cross-node wake after the restart: slowest of 5 took {slowest:?}");

    let (enqueued, completed) = traffic
        .drain_and_verify(&urls[0], Duration::from_mins(1))
        .await;
    eprintln!("{enqueued} enqueues and {completed} acks acknowledged; none lost");
}
