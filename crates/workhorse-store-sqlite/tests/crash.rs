//! `kill -9` while writing: every write the store answered is in the database afterwards.
//!
//! The test binary runs itself as the writer process: `crash_child_writer` does nothing
//! unless started by `answered_writes_survive_kill_9` with the database path in its
//! environment.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use workhorse_core::{JobId, NewJob};
use workhorse_store::{JobInsertManyParams, Store};
use workhorse_store_conformance::t0;
use workhorse_store_sqlite::SqliteStore;

const CHILD_DB: &str = "WORKHORSE_CRASH_CHILD_DB";
/// Answered writes to see before the kill.
const ANSWERED: usize = 2_000;

/// The writer process: eight concurrent producers insert jobs one by one, and every id is
/// printed only once its insert was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return; // not started by the crash test
    };
    let store = SqliteStore::open(Path::new(&path)).expect("open");
    let (answered, mut ids) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..8 {
        let (store, answered) = (store.clone(), answered.clone());
        tokio::spawn(async move {
            loop {
                let job = NewJob::new("crash");
                let id = job.id;
                let params = JobInsertManyParams {
                    now: t0(),
                    jobs: vec![job],
                };
                store.job_insert_many(params).await.expect("insert");
                if answered.send(id).is_err() {
                    return;
                }
            }
        });
    }
    let mut out = std::io::stdout();
    while let Some(id) = ids.recv().await {
        writeln!(out, "{id}")
            .and_then(|()| out.flush())
            .expect("stdout");
    }
}

#[test]
fn answered_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the writer process");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let answered: Vec<JobId> = lines
        .map_while(Result::ok)
        .filter_map(|line| line.trim().parse().ok())
        .take(ANSWERED)
        .collect();
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    assert_eq!(answered.len(), ANSWERED, "the writer process stopped early");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&path).expect("reopen after the crash");
        for id in answered {
            let job = store.job_get(id).await.expect("get");
            assert!(job.is_some(), "answered job {id} was lost");
        }
    });
}
