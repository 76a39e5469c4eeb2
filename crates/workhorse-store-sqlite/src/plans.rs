//! Query plans of the hot statements: each must use its index, never scan `jobs`, and the
//! per-job writes must not build a temporary table at every execution.

use crate::schema::open_writer;
use crate::sql::SQL;
use rusqlite::Connection;
use std::time::Duration;
use workhorse_core::Outcome;

fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    // Parameters stay unbound (NULL): the plan does not depend on their values.
    let mut rows = stmt.raw_query();
    let mut steps = Vec::new();
    while let Some(row) = rows.next().expect("plan row") {
        steps.push(row.get::<_, String>(3).expect("plan detail"));
    }
    steps
}

fn assert_uses(conn: &Connection, sql: &str, index: &str) {
    let steps = plan(conn, sql);
    let described = format!("{steps:?}\nfor: {sql}");
    assert!(
        steps.iter().any(|s| s.contains(index)),
        "expected {index} in {described}"
    );
    assert!(
        !steps.iter().any(|s| s == "SCAN jobs"),
        "a table scan in {described}"
    );
}

/// Whether running `sql` opens a temporary B-tree (an `IN` list of three or more values, a
/// `RETURNING` buffer, a sort…).
fn opens_temp_table(conn: &Connection, sql: &str) -> bool {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN {sql}"))
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    let mut rows = stmt.raw_query();
    let mut found = false;
    while let Some(row) = rows.next().expect("opcode") {
        found |= row.get::<_, String>(1).expect("opcode name") == "OpenEphemeral";
    }
    found
}

#[test]
fn per_job_writes_build_no_temporary_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open_writer(&dir.path().join("p.db"), Duration::from_secs(1)).expect("open");
    let settles = [
        Outcome::Rescue,
        Outcome::Bury,
        Outcome::Cancel,
        Outcome::Retry {
            run_at: workhorse_core::Timestamp::UNIX_EPOCH,
        },
    ]
    .map(|o| SQL.settle(o).text());
    let statements = [
        crate::ops::insert::INSERT.text(),
        SQL.start.text(),
        SQL.expire_one.text(),
        SQL.complete.text(),
        SQL.release.text(),
        SQL.cancel_waiting.text(),
        &SQL.request_cancel,
        SQL.redrive.text(),
        &SQL.heartbeat,
        &SQL.key_candidates,
    ];
    for sql in statements.into_iter().chain(settles) {
        assert!(!opens_temp_table(&conn, sql), "a temporary table in: {sql}");
    }
}

#[test]
fn hot_statements_use_their_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open_writer(&dir.path().join("p.db"), Duration::from_secs(1)).expect("open");
    let [(candidates, _), ..] = crate::ops::fetch::reads_sql();
    let sorts = plan(&conn, candidates)
        .iter()
        .any(|s| s.contains("TEMP B-TREE"));
    assert!(!sorts, "the index gives fetch order without a sort");
    for (sql, index) in crate::ops::fetch::reads_sql() {
        assert_uses(&conn, sql, index);
    }
    assert_uses(&conn, SQL.start.text(), "INTEGER PRIMARY KEY");
    assert_uses(&conn, SQL.complete.text(), "sqlite_autoindex_jobs_1");
    assert_uses(
        &conn,
        SQL.settle(Outcome::Rescue).text(),
        "sqlite_autoindex_jobs_1",
    );
    assert_uses(&conn, SQL.promote_due.text(), "jobs_scheduled");
    assert_uses(&conn, &SQL.key_candidates, "jobs_key");
    for (sql, index) in crate::ops::time::statements_sql() {
        assert_uses(&conn, sql, index);
    }
}

#[test]
fn dashboard_reads_use_their_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open_writer(&dir.path().join("p.db"), Duration::from_secs(1)).expect("open");
    for (sql, index, _) in crate::ops::list::reads_sql() {
        assert_uses(&conn, &sql, index);
    }
    let by_task = crate::ops::list::task_walk_sql();
    assert_eq!(
        plan(&conn, &by_task),
        ["SEARCH jobs USING INDEX jobs_task (task=? AND id<?)"],
        "a task's jobs come newest first from its index, unsorted"
    );
    let oldest = plan(&conn, crate::ops::queues::OLDEST_READY);
    assert_eq!(
        oldest,
        ["SEARCH jobs USING COVERING INDEX jobs_fetch (queue=?)"],
        "the oldest ready job is read from the index alone"
    );
    let pages: Vec<String> = crate::ops::list::reads_sql()
        .into_iter()
        .filter(|(_, _, in_id_order)| *in_id_order)
        .flat_map(|(sql, _, _)| plan(&conn, &sql))
        .collect();
    assert!(
        pages.iter().all(|step| !step.contains("TEMP B-TREE")),
        "finished and ready jobs come newest first from their indexes, unsorted: {pages:?}"
    );
}
