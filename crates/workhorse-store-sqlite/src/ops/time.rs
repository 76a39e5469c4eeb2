//! Time-driven moves: promote and expire, the next wake time, lost leases, retention.

use super::settle;
use crate::error::Error;
use crate::row::{JOB_COLUMNS, Micros, decode, micros};
use crate::sql::{SQL, guard};
use rusqlite::{Connection, params};
use std::collections::BTreeSet;
use std::sync::LazyLock;
use workhorse_core::retry::{LeaseLoss, on_lease_lost};
use workhorse_core::{AttemptError, Job, Timestamp, Transition};
use workhorse_store::{
    JobDeleteFinishedParams, JobPromoteDueParams, JobRescueParams, PromoteOutcome,
};

/// Running jobs whose lease ended by `?1`, soonest first; `?2` limit.
static LEASE_ENDED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE {} AND lease_expires_at <= ?1 \
         ORDER BY lease_expires_at LIMIT ?2",
        guard(Transition::Rescue)
    )
});

/// Running jobs of worker `?1`; `?2` limit.
static OF_WORKER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE {} AND lease_worker = ?1 \
         ORDER BY lease_expires_at LIMIT ?2",
        guard(Transition::Rescue)
    )
});

/// Expires waiting jobs past `expires_at`, then promotes scheduled jobs now due (expiry
/// first: a job due and expired at once never becomes ready).
pub(crate) fn promote_due(
    conn: &Connection,
    params: &JobPromoteDueParams,
) -> Result<PromoteOutcome, Error> {
    let now = micros(params.now);
    let expired = conn
        .prepare_cached(&SQL.expire_due)?
        .execute(params![now, params.limit])?;
    let mut stmt = conn.prepare_cached(&SQL.promote_due)?;
    let mut rows = stmt.query(params![now, params.limit])?;
    let mut promoted = 0;
    let mut queues = BTreeSet::new();
    while let Some(row) = rows.next()? {
        promoted += 1;
        queues.insert(row.get::<_, String>(0)?);
    }
    Ok(PromoteOutcome {
        promoted,
        expired: expired as u64,
        queues: queues.into_iter().collect(),
    })
}

/// The soonest `run_at` of a scheduled job, and the soonest `expires_at` of a waiting one.
static NEXT_DUE: LazyLock<[String; 2]> = LazyLock::new(|| {
    [
        format!(
            "SELECT run_at FROM jobs WHERE {} ORDER BY run_at LIMIT 1",
            guard(Transition::Promote)
        ),
        format!(
            "SELECT expires_at FROM jobs WHERE expires_at IS NOT NULL AND {} \
             ORDER BY expires_at LIMIT 1",
            guard(Transition::Expire)
        ),
    ]
});

/// Retention: up to `?2` jobs finished before `?1`, oldest first.
const DELETE_FINISHED: &str = "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs \
    WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2)";

/// These statements, with the index each must use.
#[cfg(test)]
pub(crate) fn statements_sql() -> [(&'static str, &'static str); 5] {
    [
        (&NEXT_DUE[0], "jobs_scheduled"),
        (&NEXT_DUE[1], "jobs_expiring"),
        (&LEASE_ENDED, "jobs_leases"),
        (&OF_WORKER, "jobs_leases"),
        (DELETE_FINISHED, "jobs_finished"),
    ]
}

/// The earliest `run_at` of a scheduled job or `expires_at` of a waiting one.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<Timestamp>, Error> {
    let mut earliest: Option<Timestamp> = None;
    for sql in NEXT_DUE.iter() {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query([])?;
        if let Some(row) = rows.next()? {
            let at = row.get::<_, Micros>(0)?.0;
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
    }
    Ok(earliest)
}

/// Lost leases: each job follows [`on_lease_lost`], its loss recorded as the attempt's error.
pub(crate) fn rescue_expired(
    conn: &Connection,
    params: &JobRescueParams,
) -> Result<Vec<Job>, Error> {
    let candidates = if let Some(worker) = &params.worker {
        let mut stmt = conn.prepare_cached(&OF_WORKER)?;
        let rows = stmt.query_map(params![worker, params.limit], decode)?;
        rows.collect::<Result<Vec<_>, _>>()?
    } else {
        let mut stmt = conn.prepare_cached(&LEASE_ENDED)?;
        let rows = stmt.query_map(params![micros(params.now), params.limit], decode)?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let mut rescued = Vec::with_capacity(candidates.len());
    for job in candidates {
        let Some(lease) = job.lease.as_ref().map(|l| l.id) else {
            continue;
        };
        let loss = match params.worker {
            Some(_) => LeaseLoss::WorkerGone,
            None => LeaseLoss::of_expired(&job, params.now),
        };
        let error = AttemptError {
            attempt: job.attempt,
            at: params.now,
            kind: loss.kind().to_owned(),
            message: loss.message(&job),
            traceback: None,
        };
        let outcome = on_lease_lost(&job);
        rescued.extend(settle(conn, &job, lease, outcome, error, params.now)?);
    }
    Ok(rescued)
}

/// Deletes up to `limit` jobs that finished before the cutoff, oldest first.
pub(crate) fn delete_finished(
    conn: &Connection,
    params: &JobDeleteFinishedParams,
) -> Result<u64, Error> {
    let deleted = conn
        .prepare_cached(DELETE_FINISHED)?
        .execute(params![micros(params.finished_before), params.limit])?;
    Ok(deleted as u64)
}
