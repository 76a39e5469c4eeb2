//! The job counts per queue and state (`src/counts.rs`) under what only the SQLite store
//! does: many commands in one group transaction, one of them failing, and `max_running`
//! read from the counts while the group has not written them yet.

use std::collections::BTreeMap;
use std::path::Path;
use workhorse_core::JobState;
use workhorse_store::{
    JobFetchParams, JobInsertManyParams, QueueListParams, QueueUpdateParams, Store,
};
use workhorse_store_conformance::{insert, job_in, t0};
use workhorse_store_sqlite::SqliteStore;

type Counts = BTreeMap<(String, String), i64>;

/// The counts the store reports, and a recount of its jobs.
async fn counts_and_recount(store: &SqliteStore, path: &Path) -> (Counts, Counts) {
    let kept = store
        .queue_list(QueueListParams { now: t0() })
        .await
        .expect("queue list")
        .into_iter()
        .flat_map(|info| {
            let queue = info.config.name;
            info.counts.into_iter().map(move |(state, n)| {
                (
                    (queue.clone(), state.to_string()),
                    i64::try_from(n).expect("count"),
                )
            })
        })
        .collect();
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state")
        .expect("prepare");
    let recount = stmt
        .query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    (kept, recount)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_command_leaves_the_counts_of_its_group_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.db");
    let store = SqliteStore::open(&path).expect("open");
    insert(&store, t0(), vec![job_in("q", "t")]).await;
    // A used id of the same task is a repeat, answered without error: break the
    // priority check constraint instead, below the store's own checks.
    let mut clash = job_in("q", "t");
    clash.priority = 200;
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let jobs = if i == 25 {
                vec![job_in("q", "t"), clash.clone()]
            } else {
                vec![job_in("q", "t")]
            };
            tokio::spawn(async move {
                store
                    .job_insert_many(JobInsertManyParams { now: t0(), jobs })
                    .await
            })
        })
        .collect();
    let mut failed = 0;
    for call in calls {
        failed += usize::from(call.await.expect("task").is_err());
    }
    assert_eq!(failed, 1, "only the call with the broken job fails");
    assert!(store.stats().commits < 50, "the calls were grouped");

    let (kept, recount) = counts_and_recount(&store, &path).await;
    assert_eq!(kept, recount);
    assert_eq!(kept[&("q".to_owned(), "ready".to_owned())], 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_running_holds_across_fetches_grouped_in_one_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.db");
    let store = SqliteStore::open(&path).expect("open");
    store
        .queue_update(QueueUpdateParams {
            name: "q".to_owned(),
            max_running: Some(Some(5)),
            ..QueueUpdateParams::default()
        })
        .await
        .expect("limit");
    insert(&store, t0(), (0..50).map(|_| job_in("q", "t")).collect()).await;
    let fetches: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let params = JobFetchParams {
                    now: t0(),
                    worker: format!("worker-{i}"),
                    queues: vec!["q".to_owned()],
                    max: 2,
                    lease: std::time::Duration::from_secs(30),
                };
                store
                    .job_fetch_available(params)
                    .await
                    .expect("fetch")
                    .len()
            })
        })
        .collect();
    let mut started = 0;
    for fetch in fetches {
        started += fetch.await.expect("task");
    }
    assert_eq!(
        started, 5,
        "max_running counted the starts of the same group"
    );

    let (kept, recount) = counts_and_recount(&store, &path).await;
    assert_eq!(kept, recount);
    let running = ("q".to_owned(), JobState::Running.to_string());
    assert_eq!(kept[&running], 5);
}
