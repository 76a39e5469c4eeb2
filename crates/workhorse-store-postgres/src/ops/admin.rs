//! Operator actions: cancel and redrive.

use super::{Db, notify_ready};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode, decode_all};
use crate::sql::{guard, quote, target};
use crate::types::Ts;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use workhorse_core::{Job, JobId, JobState, Transition};
use workhorse_store::plan::checks::redrive_state;
use workhorse_store::{CancelOutcome, JobCancelParams, JobRedriveParams, RedriveSelector};

static LOCK_ONE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE id = $1 FOR UPDATE"));

/// Flags a running job for cancellation: `$1` id.
static REQUEST_CANCEL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET cancel_requested = true WHERE id = $1 AND state = {} \
         RETURNING {JOB_COLUMNS}",
        quote(JobState::Running)
    )
});

/// Cancels a waiting job at once: `$1` id, `$2` now.
static CANCEL_WAITING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET state = {}, finished_at = $2 WHERE id = $1 AND state IN ({}) \
         RETURNING {JOB_COLUMNS}",
        target(Transition::Cancel),
        crate::sql::list(Transition::Cancel.sources(), |s| *s != JobState::Running)
    )
});

/// Redrive: a fresh set of attempts, errors kept; an `expires_at` already past is dropped
/// (the job would expire again at once). `$1` now; the jobs are chosen by `selection`,
/// after the CTE `chosen` if given.
fn redrive_sql(chosen: &str, selection: &str) -> String {
    format!(
        "{chosen}UPDATE workhorse_jobs SET state = {target}, attempt = 0, run_at = $1, finished_at = NULL, \
         cancel_requested = false, progress_fraction = NULL, progress_message = NULL, \
         expires_at = CASE WHEN expires_at <= $1 THEN NULL ELSE expires_at END \
         WHERE {selection} AND {guard} RETURNING {JOB_COLUMNS}",
        target = target(Transition::Redrive),
        guard = guard(Transition::Redrive),
    )
}

/// Redrive by ids: `$2` ids.
static REDRIVE_IDS: LazyLock<String> = LazyLock::new(|| redrive_sql("", "id = ANY($2)"));

/// Redrive by filter: `$2` state, `$3` queue or NULL, `$4` task or NULL, `$5` limit; oldest
/// first.
static REDRIVE_FILTER: LazyLock<String> = LazyLock::new(|| {
    // Chosen in a materialized CTE, so that the limit holds (see `time.rs`).
    redrive_sql(
        "WITH chosen AS MATERIALIZED (SELECT id FROM workhorse_jobs WHERE state = $2 \
         AND ($3::text IS NULL OR queue = $3) AND ($4::text IS NULL OR task = $4) \
         ORDER BY seq LIMIT $5 FOR UPDATE SKIP LOCKED) ",
        "id IN (SELECT id FROM chosen)",
    )
});

/// Cancels a waiting job at once, flags a running one, returns a finished one unchanged.
pub(crate) async fn cancel(
    db: &Db,
    params: &JobCancelParams,
) -> Result<Option<CancelOutcome>, Error> {
    let mut tx = db.pool.begin().await?;
    let Some(row) = sqlx::query(LOCK_ONE.as_str())
        .bind(params.id.0)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let job = decode(&row)?.job;
    let changed = if job.state == JobState::Running {
        sqlx::query(REQUEST_CANCEL.as_str())
            .bind(params.id.0)
            .fetch_optional(&mut *tx)
            .await?
    } else if Transition::Cancel.allowed_from(job.state) {
        sqlx::query(CANCEL_WAITING.as_str())
            .bind(params.id.0)
            .bind(Ts(params.now))
            .fetch_optional(&mut *tx)
            .await?
    } else {
        None
    };
    let changed = changed.map(|row| decode(&row)).transpose()?.map(|r| r.job);
    let mut finished = super::fan_in::Finished::default();
    if let Some(cancelled) = &changed {
        finished.note(cancelled);
    }
    let job = changed.unwrap_or(job);
    let dependants = finished.apply(&mut tx, params.now).await?;
    notify_ready(
        &mut tx,
        &db.channel,
        super::fan_in::ready_queues(&dependants),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(CancelOutcome { job, dependants }))
}

/// Redrives the selected jobs that are in a redrivable state; returns them in the order
/// asked (by ids) or oldest first (by filter).
pub(crate) async fn redrive(db: &Db, params: JobRedriveParams) -> Result<Vec<Job>, Error> {
    let mut tx = db.pool.begin().await?;
    let redriven = match params.selector {
        RedriveSelector::Ids(ids) => {
            let uuids: Vec<_> = ids.iter().map(|id| id.0).collect();
            let rows = sqlx::query(REDRIVE_IDS.as_str())
                .bind(Ts(params.now))
                .bind(uuids)
                .fetch_all(&mut *tx)
                .await?;
            let mut by_id: HashMap<JobId, Job> = decode_all(&rows)?
                .into_iter()
                .map(|row| (row.job.id, row.job))
                .collect();
            ids.iter().filter_map(|id| by_id.remove(id)).collect()
        }
        RedriveSelector::Filter {
            queue,
            task,
            state,
            limit,
        } => {
            let state = redrive_state(state)?;
            let rows = sqlx::query(REDRIVE_FILTER.as_str())
                .bind(Ts(params.now))
                .bind(state.as_str())
                .bind(queue)
                .bind(task)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let mut jobs = decode_all(&rows)?;
            jobs.sort_by_key(|row| row.seq);
            jobs.into_iter().map(|row| row.job).collect::<Vec<_>>()
        }
    };
    let queues: BTreeSet<&str> = redriven.iter().map(|j| j.queue.as_str()).collect();
    notify_ready(&mut tx, &db.channel, queues).await?;
    tx.commit().await?;
    Ok(redriven)
}
