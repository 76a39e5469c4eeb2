//! Time-driven moves: promote and expire, the next wake time, lost leases, retention.

use super::settle;
use crate::counts::{JobSql, WriteTx};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, Micros, State, decode, micros};
use crate::sql::{SQL, guard};
use rusqlite::{Connection, params};
use std::collections::BTreeSet;
use std::sync::LazyLock;
use workhorse_core::{JobState, Timestamp, Transition};
use workhorse_store::plan::attempt::lease_lost;
use workhorse_store::{
    JobDeleteFinishedParams, JobPromoteDueParams, JobRescueParams, PromoteOutcome, RescueOutcome,
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

/// Waiting jobs whose expiry passed by `?1`, soonest first; `?2` limit.
static EXPIRY_PASSED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT seq, queue, state FROM jobs WHERE expires_at <= ?1 AND {} \
         ORDER BY expires_at LIMIT ?2",
        guard(Transition::Expire)
    )
});

/// Expires waiting jobs past `expires_at`, then promotes scheduled jobs now due (expiry
/// first: a job due and expired at once never becomes ready).
pub(crate) fn promote_due(
    tx: &mut WriteTx<'_>,
    params: &JobPromoteDueParams,
) -> Result<PromoteOutcome, Error> {
    let expired = expire_due(tx, params)?;
    let mut promote = tx.prepare(&SQL.promote_due)?;
    let values = params![micros(params.now), params.limit];
    let to = Transition::Promote.target();
    let moved = tx.move_jobs(&mut promote, values, JobState::Scheduled, to)?;
    let promoted = moved.len() as u64;
    let queues: BTreeSet<String> = moved.into_iter().collect();
    Ok(PromoteOutcome {
        promoted,
        expired,
        queues: queues.into_iter().collect(),
    })
}

/// Expires up to `limit` waiting jobs whose expiry passed, one guarded update each (expiry
/// is rare; each job's state before is read for the counts).
fn expire_due(tx: &mut WriteTx<'_>, params: &JobPromoteDueParams) -> Result<u64, Error> {
    let now = micros(params.now);
    let due = tx
        .conn()
        .prepare_cached(&EXPIRY_PASSED)?
        .query_map(params![now, params.limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, State>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut expire = tx.prepare(&SQL.expire_one)?;
    let to = Transition::Expire.target();
    let mut expired = 0;
    for (seq, queue, State(state)) in due {
        if tx.move_job(&mut expire, params![seq, now], &queue, state, to)? {
            expired += 1;
        }
    }
    Ok(expired)
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

/// Retention: up to `?2` jobs finished before `?1`, oldest first; each one's queue and state,
/// for the counts.
static DELETE_FINISHED: LazyLock<JobSql> = LazyLock::new(|| {
    JobSql::new(
        "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs \
         WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2) RETURNING queue, state"
            .to_owned(),
    )
});

/// These statements, with the index each must use.
#[cfg(test)]
pub(crate) fn statements_sql() -> [(&'static str, &'static str); 6] {
    [
        (&EXPIRY_PASSED, "jobs_expiring"),
        (&NEXT_DUE[0], "jobs_scheduled"),
        (&NEXT_DUE[1], "jobs_expiring"),
        (&LEASE_ENDED, "jobs_leases"),
        (&OF_WORKER, "jobs_leases"),
        (DELETE_FINISHED.text(), "jobs_finished"),
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

/// Lost leases: each job follows [`workhorse_core::retry::on_lease_lost`], its loss recorded as the attempt's error.
pub(crate) fn rescue_expired(
    tx: &mut WriteTx<'_>,
    params: &JobRescueParams,
) -> Result<RescueOutcome, Error> {
    let conn = tx.conn();
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
    let mut dependants = Vec::new();
    for job in candidates {
        let Some(lease) = job.lease.as_ref().map(|l| l.id) else {
            continue;
        };
        let (outcome, error) = lease_lost(&job, params);
        let settled = settle(tx, &job, lease, outcome, error, params.now, &mut dependants)?;
        rescued.extend(settled);
    }
    Ok(RescueOutcome {
        jobs: rescued,
        dependants,
    })
}

/// Deletes up to `limit` jobs that finished before the cutoff, oldest first.
pub(crate) fn delete_finished(
    tx: &mut WriteTx<'_>,
    params: &JobDeleteFinishedParams,
) -> Result<u64, Error> {
    let mut delete = tx.prepare(&DELETE_FINISHED)?;
    tx.delete_jobs(
        &mut delete,
        params![micros(params.finished_before), params.limit],
    )
}
