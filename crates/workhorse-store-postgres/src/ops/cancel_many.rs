//! Cancel by filter: the unfinished jobs a filter matches, at most its limit, in one
//! transaction.

use super::fan_in::{Finished, ready_queues};
use super::{Db, notify_ready};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode_all};
use crate::sql::{list, quote, target};
use crate::types::Ts;
use sqlx::Row;
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::{Job, JobState, Transition};
use workhorse_store::plan::checks::cancel_states;
use workhorse_store::{CancelManyOutcome, JobCancelManyParams};

/// Locks the matching jobs, oldest first, in id order (the order of every multi-row lock in
/// this crate): `$1` states, `$2` queue or NULL, `$3` task or NULL, `$4` how many. A running
/// job already flagged does not match. Waits for a job another transaction holds (a fetch
/// leasing it), so that the job is cancelled in the state that transaction left it in.
static CHOOSE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, state FROM workhorse_jobs WHERE state = ANY($1) \
         AND ($2::text IS NULL OR queue = $2) AND ($3::text IS NULL OR task = $3) \
         AND NOT (state = {} AND cancel_requested) ORDER BY id LIMIT $4 FOR UPDATE",
        quote(JobState::Running)
    )
});

/// Flags the running jobs of `$1` for cancellation.
static FLAG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET cancel_requested = true WHERE id = ANY($1) AND state = {} \
         RETURNING {JOB_COLUMNS}",
        quote(JobState::Running)
    )
});

/// Cancels the waiting jobs of `$1` at once: `$2` now.
static CANCEL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET state = {}, finished_at = $2 WHERE id = ANY($1) \
         AND state IN ({}) RETURNING {JOB_COLUMNS}",
        target(Transition::Cancel),
        list(Transition::Cancel.sources(), |s| *s != JobState::Running)
    )
});

/// Cancels the waiting jobs the filter matches and flags the running ones; the dependants
/// of the cancelled workflow jobs follow their policy in the same transaction.
pub(crate) async fn cancel_many(
    db: &Db,
    params: &JobCancelManyParams,
) -> Result<CancelManyOutcome, Error> {
    let filter = &params.filter;
    let states: Vec<&str> = cancel_states(filter)?
        .into_iter()
        .map(JobState::as_str)
        .collect();
    let limit = filter.limit as usize;
    let mut tx = db.pool.begin().await?;
    // One more than the limit, to learn whether more match.
    let rows = sqlx::query(CHOOSE.as_str())
        .bind(states)
        .bind(filter.queue.as_deref())
        .bind(filter.task.as_deref())
        .bind(i64::from(filter.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
    let more = rows.len() > limit;
    let (mut running, mut waiting) = (Vec::new(), Vec::new());
    for row in rows.iter().take(limit) {
        let id: Uuid = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        if state == JobState::Running.as_str() {
            running.push(id);
        } else {
            waiting.push(id);
        }
    }
    let cancel_requested = update(&mut tx, FLAG.as_str(), &running, None).await?;
    let cancelled = update(&mut tx, CANCEL.as_str(), &waiting, Some(params.now)).await?;
    let mut finished = Finished::default();
    for job in &cancelled {
        finished.note(job);
    }
    let dependants = finished.apply(&mut tx, params.now).await?;
    notify_ready(&mut tx, &db.channel, ready_queues(&dependants)).await?;
    tx.commit().await?;
    Ok(CancelManyOutcome {
        cancelled,
        cancel_requested,
        more,
        dependants,
    })
}

/// Runs `sql` on jobs `ids` (with `now` as `$2` when given); the changed jobs, oldest first.
async fn update(
    tx: &mut sqlx::PgConnection,
    sql: &'static str,
    ids: &[Uuid],
    now: Option<workhorse_core::Timestamp>,
) -> Result<Vec<Job>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = sqlx::query(sql).bind(ids);
    if let Some(now) = now {
        query = query.bind(Ts(now));
    }
    let mut jobs = decode_all(&query.fetch_all(tx).await?)?;
    jobs.sort_by_key(|row| row.job.id);
    Ok(jobs.into_iter().map(|row| row.job).collect())
}
