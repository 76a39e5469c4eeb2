//! Time-driven moves: promote and expire, the next wake time, lost leases, retention.

use super::fan_in::ready_queues;
use super::settle::Settlements;
use super::{Db, notify_ready};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode_all};
use crate::sql::{guard, target};
use crate::types::Ts;
use std::collections::BTreeSet;
use std::sync::LazyLock;
use workhorse_core::{Timestamp, Transition};
use workhorse_store::plan::attempt::{lease_lost, settled};
use workhorse_store::{
    JobDeleteFinishedParams, JobPromoteDueParams, JobRescueParams, PromoteOutcome, RescueOutcome,
};

/// Expire waiting jobs past `expires_at`, soonest first: `$1` now, `$2` limit.
///
/// The rows are chosen in a materialized CTE: as `id IN (SELECT … LIMIT … SKIP LOCKED)`
/// the subquery may run again while the update proceeds, skip the rows this very statement
/// just changed, and so pick more than the limit.
static EXPIRE_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH due AS MATERIALIZED (SELECT id FROM workhorse_jobs WHERE expires_at <= $1 \
         AND {g} ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE workhorse_jobs j SET state = {t}, finished_at = $1 FROM due \
         WHERE j.id = due.id AND j.{g}",
        t = target(Transition::Expire),
        g = guard(Transition::Expire)
    )
});

/// Promote due scheduled jobs, soonest first: `$1` now, `$2` limit. Returns their queues.
static PROMOTE_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH due AS MATERIALIZED (SELECT id FROM workhorse_jobs WHERE {g} AND run_at <= $1 \
         ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE workhorse_jobs j SET state = {t} FROM due WHERE j.id = due.id AND j.{g} \
         RETURNING j.queue",
        t = target(Transition::Promote),
        g = guard(Transition::Promote)
    )
});

static NEXT_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT least((SELECT min(run_at) FROM workhorse_jobs WHERE {}), \
         (SELECT min(expires_at) FROM workhorse_jobs WHERE expires_at IS NOT NULL AND {}))",
        guard(Transition::Promote),
        guard(Transition::Expire)
    )
});

/// Running jobs whose lease ended by `$1`, soonest first; `$2` limit. Rows being acked at
/// this moment are skipped: their ack settles them.
static LEASE_ENDED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE {} AND lease_expires_at <= $1 \
         ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        guard(Transition::Rescue)
    )
});

/// Running jobs of worker `$1`; `$2` limit.
static OF_WORKER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE {} AND lease_worker = $1 \
         ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        guard(Transition::Rescue)
    )
});

/// Expires waiting jobs past `expires_at`, then promotes scheduled jobs now due (expiry
/// first: a job due and expired at once never becomes ready).
pub(crate) async fn promote_due(
    db: &Db,
    params: &JobPromoteDueParams,
) -> Result<PromoteOutcome, Error> {
    let limit = i64::from(params.limit);
    let mut tx = db.pool.begin().await?;
    let expired = sqlx::query(EXPIRE_DUE.as_str())
        .bind(Ts(params.now))
        .bind(limit)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let promoted: Vec<String> = sqlx::query_scalar(PROMOTE_DUE.as_str())
        .bind(Ts(params.now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let queues: BTreeSet<&str> = promoted.iter().map(String::as_str).collect();
    let outcome = PromoteOutcome {
        promoted: promoted.len() as u64,
        expired,
        queues: queues.iter().map(|q| (*q).to_owned()).collect(),
    };
    notify_ready(&mut tx, &db.channel, queues).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The earliest `run_at` of a scheduled job or `expires_at` of a waiting one.
pub(crate) async fn next_due(db: &Db) -> Result<Option<Timestamp>, Error> {
    let due: Option<Ts> = sqlx::query_scalar(NEXT_DUE.as_str())
        .fetch_one(&db.pool)
        .await?;
    Ok(due.map(|t| t.0))
}

/// Lost leases: each job follows [`workhorse_core::retry::on_lease_lost`], its loss recorded as the attempt's error.
pub(crate) async fn rescue_expired(
    db: &Db,
    params: &JobRescueParams,
) -> Result<RescueOutcome, Error> {
    let limit = i64::from(params.limit);
    let mut tx = db.pool.begin().await?;
    let rows = match &params.worker {
        Some(worker) => {
            sqlx::query(OF_WORKER.as_str())
                .bind(worker)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?
        }
        None => {
            sqlx::query(LEASE_ENDED.as_str())
                .bind(Ts(params.now))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?
        }
    };
    let mut settlements = Settlements::default();
    let mut rescued = Vec::with_capacity(rows.len());
    for row in decode_all(&rows)? {
        let job = row.job;
        let Some(lease) = job.lease.as_ref().map(|l| l.id) else {
            continue;
        };
        let (outcome, error) = lease_lost(&job, params);
        let next = settled(&job, outcome, error, params.now);
        settlements.push(lease, &next)?;
        rescued.push(next);
    }
    let dependants = settlements.apply(&mut tx, params.now).await?;
    let mut ready = ready_queues(&rescued);
    ready.extend(ready_queues(&dependants));
    notify_ready(&mut tx, &db.channel, ready).await?;
    tx.commit().await?;
    Ok(RescueOutcome {
        jobs: rescued,
        dependants,
    })
}

/// Deletes up to `limit` jobs that finished before the cutoff, oldest first; then folds the
/// queue count log, as the leader's periodic upkeep (see [`super::counts`]).
pub(crate) async fn delete_finished(
    db: &Db,
    params: &JobDeleteFinishedParams,
) -> Result<u64, Error> {
    let mut conn = db.pool.acquire().await?;
    let deleted = sqlx::query(
        "WITH old AS MATERIALIZED (SELECT id FROM workhorse_jobs WHERE finished_at < $1 \
         ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         DELETE FROM workhorse_jobs j USING old WHERE j.id = old.id AND j.finished_at < $1",
    )
    .bind(Ts(params.finished_before))
    .bind(i64::from(params.limit))
    .execute(&mut *conn)
    .await?;
    super::counts::fold(&mut conn).await?;
    Ok(deleted.rows_affected())
}
