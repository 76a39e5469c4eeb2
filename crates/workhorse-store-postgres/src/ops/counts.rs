//! Exact job counts per (queue, state), read in a few rows however many jobs there are.
//!
//! Triggers on `workhorse_jobs` (migration 0005) append each statement's net change per
//! (queue, state) to `workhorse_queue_count_changes`, in the transaction of the change: an
//! append conflicts with no other writer, where one counter row per (queue, state) would be
//! a lock every writer of a queue waits for. A count is its folded total in
//! `workhorse_queue_counts` plus the sum of its changes not folded yet, read in one
//! statement (one snapshot).
//!
//! [`fold`] moves the log into the totals: one transaction deletes the changes it sees and
//! adds their sums, so a snapshot sees each change either in the log or in the totals, never
//! both, never neither. Retention (run by the leader's cleaner) folds, which bounds the log
//! to the changes of one cleaner interval; the overview folds before it reads, so its sum
//! stays short while someone is looking. Folds take turns through a transaction-level
//! advisory lock; one that finds another folding skips, as that one is doing the work.

use crate::error::Error;
use sqlx::PgConnection;

/// Deletes every change this snapshot sees and adds their sums to the totals.
const FOLD: &str = "WITH folded AS (DELETE FROM workhorse_queue_count_changes \
    RETURNING queue, state, delta) \
    INSERT INTO workhorse_queue_counts (queue, state, jobs) \
    SELECT queue, state, sum(delta) FROM folded GROUP BY queue, state \
    ON CONFLICT (queue, state) DO UPDATE SET jobs = workhorse_queue_counts.jobs + excluded.jobs";

/// Takes the fold turn of this schema if no one holds it, until the transaction ends.
const TRY_FOLD_TURN: &str =
    "SELECT pg_try_advisory_xact_lock(hashtextextended('workhorse:fold:' || current_schema(), 0))";

/// Counts per (queue, state), nonzero ones only: `$1` one queue, or NULL for all.
const COUNTS: &str = "SELECT queue, state, sum(jobs)::bigint FROM ( \
    SELECT queue, state, jobs FROM workhorse_queue_counts WHERE $1::text IS NULL OR queue = $1 \
    UNION ALL \
    SELECT queue, state, delta FROM workhorse_queue_count_changes WHERE $1::text IS NULL OR queue = $1 \
    ) counted GROUP BY queue, state HAVING sum(jobs) <> 0";

/// Folds the change log into the totals, unless another fold is under way. Whether it
/// folded.
pub(crate) async fn fold(conn: &mut PgConnection) -> Result<bool, Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let turn: bool = sqlx::query_scalar(TRY_FOLD_TURN)
        .fetch_one(&mut *tx)
        .await?;
    if turn {
        sqlx::query(FOLD).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(turn)
}

/// The nonzero counts of `queue` (or of every queue) as (queue, state, jobs).
pub(crate) async fn read(
    conn: &mut PgConnection,
    queue: Option<&str>,
) -> Result<Vec<(String, String, i64)>, Error> {
    Ok(sqlx::query_as(COUNTS).bind(queue).fetch_all(conn).await?)
}
