//! The store conformance suite against a fresh SQLite database per case. After each case,
//! the per-(queue, state) job counts the store keeps (see `src/counts.rs`) must equal a
//! recount of the jobs: whatever path a case took, no state change went uncounted. And a job
//! has `finished_at` exactly while it is in a terminal state, which the `jobs_terminal`
//! index (lists of finished jobs by state) relies on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use tempfile::TempDir;
use workhorse_core::JobState;
use workhorse_store_sqlite::SqliteStore;

/// The case's database, checked when the case ends.
struct CheckedDatabase {
    dir: TempDir,
}

impl CheckedDatabase {
    fn path(&self) -> PathBuf {
        self.dir.path().join("workhorse.db")
    }
}

impl Drop for CheckedDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // the case failed already; say nothing more
        }
        let conn = rusqlite::Connection::open(self.path()).expect("open the case's database");
        let read = |sql: &str| -> BTreeMap<(String, String), i64> {
            let mut stmt = conn.prepare(sql).expect("prepare");
            stmt.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        let kept = read("SELECT queue, state, jobs FROM queue_counts WHERE jobs <> 0");
        let recounted = read("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state");
        assert_eq!(kept, recounted, "queue_counts drifted from the jobs");

        let terminal: Vec<String> = JobState::ALL
            .iter()
            .filter(|state| state.is_terminal())
            .map(|state| format!("'{state}'"))
            .collect();
        let misfiled: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM jobs WHERE (finished_at IS NOT NULL) <> (state IN ({}))",
                    terminal.join(", ")
                ),
                [],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(
            misfiled, 0,
            "jobs whose finished_at disagrees with their state"
        );
    }
}

#[expect(
    clippy::unused_async,
    reason = "conformance_tests! awaits the factory (other stores open asynchronously)"
)]
async fn fresh() -> (SqliteStore, CheckedDatabase) {
    let database = CheckedDatabase {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    let store = SqliteStore::open(&database.path()).expect("open");
    (store, database)
}

workhorse_store_conformance::conformance_tests!(fresh);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_counts_survive_reopen() {
    let (store, database) = fresh().await;
    let path = database.path();
    workhorse_store_conformance::queue_counts_survive_reopen(store, |first| async move {
        first.close().await;
        drop(first);
        SqliteStore::open(&path).expect("reopen")
    })
    .await;
}
