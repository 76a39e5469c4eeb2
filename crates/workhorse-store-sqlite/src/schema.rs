//! Opening connections: pragmas, and migrations tracked by `PRAGMA user_version`.

use crate::error::Error;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;
use workhorse_store::StoreError;

/// Every migration, in order, with its version (the number of its file). `user_version` is
/// the version of the last one applied. Versions only increase but may skip a number: a
/// version reserved for work not merged yet is simply absent.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_schedules.sql")),
    (3, include_str!("../migrations/0003_queue_counts.sql")),
    (4, include_str!("../migrations/0004_workflows.sql")),
    (5, include_str!("../migrations/0005_list_indexes.sql")),
    (6, include_str!("../migrations/0006_schedule_sets.sql")),
];

/// Enough for every distinct statement the store prepares, so none is evicted and re-parsed.
const STATEMENT_CACHE: usize = 128;

/// Opens (creating if needed) the database for writing, in WAL mode with `synchronous=FULL`,
/// and brings its schema up to date.
pub(crate) fn open_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let mut conn = connect_writer(path, busy_timeout)?;
    if migrate(&mut conn)? > 0 {
        // A migration may edit the schema text (0004 widens a CHECK constraint); a new
        // connection parses the schema afresh.
        drop(conn);
        conn = connect_writer(path, busy_timeout)?;
    }
    Ok(conn)
}

fn connect_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Store(StoreError::Internal(format!(
            "{} cannot use WAL mode (got {mode})",
            path.display()
        ))));
    }
    // FULL: the WAL is fsynced at every commit, so an answered write survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Opens a read-only connection to a database [`open_writer`] has set up.
pub(crate) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The version of the newest migration this build knows.
fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Applies every migration newer than the database's `user_version`; how many it applied.
fn migrate(conn: &mut Connection) -> Result<usize, Error> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if applied > latest() {
        return Err(Error::Store(StoreError::Internal(format!(
            "the database has schema version {applied}, newer than this build knows ({}); \
             upgrade Workhorse",
            latest()
        ))));
    }
    let mut count = 0;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        count += 1;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::guard;
    use workhorse_core::{JobState, Transition};

    #[test]
    fn versions_only_increase() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} then {}", pair[0].0, pair[1].0);
        }
    }

    #[test]
    fn state_check_lists_exactly_the_job_states() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = open_writer(&dir.path().join("w.db"), Duration::from_secs(1)).expect("open");
        let schema: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'jobs'",
                [],
                |row| row.get(0),
            )
            .expect("the jobs table");
        let start = schema.find("CHECK (state = ").expect("state check") + 7;
        let end = start + schema[start..].find("),").expect("end of the check");
        let listed: Vec<&str> = schema[start..end]
            .split("OR")
            .map(|term| {
                term.trim()
                    .trim_start_matches("state = ")
                    .trim_matches('\'')
            })
            .collect();
        let expected: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn expiring_index_predicate_is_the_expire_guard() {
        // SQLite uses a partial index only when the query repeats its predicate; the expire
        // queries are built from `guard(Transition::Expire)`.
        assert!(MIGRATIONS[0].1.contains(&guard(Transition::Expire)));
    }

    #[test]
    fn reopening_applies_nothing_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        drop(open_writer(&path, Duration::from_secs(1)).expect("first open"));
        let conn = open_writer(&path, Duration::from_secs(1)).expect("second open");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("version");
        assert_eq!(version, latest());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let conn = open_writer(&path, Duration::from_secs(1)).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
        drop(conn);
        let err = open_writer(&path, Duration::from_secs(1)).expect_err("newer schema");
        assert!(format!("{err:?}").contains("schema version 99"));
    }

    /// A version 2 database with jobs: migration 3 counts them.
    #[test]
    fn queue_counts_are_back_filled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let mut conn = Connection::open(&path).expect("open");
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 2) {
            conn.execute_batch(sql).expect("an old migration");
            conn.pragma_update(None, "user_version", version)
                .expect("version");
        }
        let jobs = [
            ("a", "ready"),
            ("a", "ready"),
            ("a", "succeeded"),
            ("b", "dead"),
        ];
        for (seq, (queue, state)) in jobs.iter().enumerate() {
            conn.execute(
                "INSERT INTO jobs (seq, id, task, queue, state, priority, args, kwargs, attempt, \
                 max_attempts, backoff_base_ms, backoff_max_ms, concurrency_limit, errors, \
                 cancel_requested, created_at, run_at) \
                 VALUES (?1, randomblob(16), 't', ?2, ?3, 0, '[]', '{}', 0, 1, 1, 1, 1, '[]', 0, 0, 0)",
                rusqlite::params![seq as i64 + 1, queue, state],
            )
            .expect("an old job");
        }
        migrate(&mut conn).expect("migrate");
        let counts: Vec<(String, String, i64)> = conn
            .prepare("SELECT queue, state, jobs FROM queue_counts ORDER BY queue, state")
            .expect("prepare")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let expected = [("a", "ready", 2), ("a", "succeeded", 1), ("b", "dead", 1)]
            .map(|(q, s, n)| (q.to_owned(), s.to_owned(), n));
        assert_eq!(counts, expected);
    }
}
