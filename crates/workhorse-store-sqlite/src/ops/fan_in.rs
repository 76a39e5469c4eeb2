//! Fan-in: what a finished job of a workflow does to the jobs waiting on it, inside the
//! transaction that finished it (see `workhorse_store::Workflow` for the rule).
//!
//! SQLite has one writer, so the decrement of a dependant's `pending_parents` and the
//! unblock that follows are never interleaved with another parent's: the callback of a chord
//! whose last two members are acked at once is unblocked by whichever ack commits second,
//! once. The guards (`state = 'waiting'`, `pending_parents = 0`, `settled = 0`) keep each
//! statement correct on its own all the same.

use super::job_by_id;
use crate::counts::{JobSql, WriteTx};
use crate::error::Error;
use crate::row::{Uuid16, micros, uuid_blob};
use crate::sql::{guard, quote};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::workflow::args_with_results;
use workhorse_core::{
    Job, JobId, JobState, Json, OnParentFailure, ResultPassing, Timestamp, Transition,
};

/// Marks the edge `?1` (job) ← `?2` (parent) counted; changes nothing if it already was.
const SETTLE_EDGE: &str =
    "UPDATE job_dependencies SET settled = 1 WHERE job = ?1 AND parent = ?2 AND settled = 0";

/// Counts one parent of waiting job `?1` finished; returns how many are left.
static COUNT_DOWN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET pending_parents = pending_parents - 1 \
         WHERE id = ?1 AND {} AND pending_parents > 0 RETURNING pending_parents",
        guard(Transition::Unblock)
    )
});

/// Unblocks waiting job `?1` whose parents all finished: `?2` target state, `?3` args,
/// `?4` `run_at`.
static UNBLOCK: LazyLock<JobSql> = LazyLock::new(|| {
    JobSql::new(format!(
        "UPDATE jobs SET state = ?2, args = ?3, run_at = ?4 \
         WHERE id = ?1 AND {} AND pending_parents = 0",
        guard(Transition::Unblock)
    ))
});

/// Cancels waiting job `?1` (a parent failed under the `cancel` policy): `?2` now.
static CANCEL_WAITING: LazyLock<JobSql> = LazyLock::new(|| {
    JobSql::new(format!(
        "UPDATE jobs SET state = {}, finished_at = ?2 WHERE id = ?1 AND state = {}",
        quote(Transition::Cancel.target()),
        quote(JobState::Waiting)
    ))
});

/// The results of job `?1`'s parents in position order: NULL for one that did not succeed
/// (or was deleted by retention).
static PARENT_RESULTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT p.result FROM job_dependencies d \
         LEFT JOIN jobs p ON p.id = d.parent AND p.state = {} \
         WHERE d.job = ?1 ORDER BY d.position",
        quote(JobState::Succeeded)
    )
});

/// `job`, a job of a workflow, has just reached a terminal state: its dependants (and, for
/// cancellations, theirs) follow the fan-in rule. Returns those that left `waiting`, as they
/// are now.
pub(crate) fn finished(tx: &mut WriteTx<'_>, job: &Job, now: Timestamp) -> Result<Vec<Job>, Error> {
    let Some(workflow) = job.workflow else {
        return Ok(Vec::new());
    };
    let conn = tx.conn();
    let policy = policy_of(conn, workflow.0)?;
    let mut moved = Vec::new();
    let mut finished = vec![(job.id, job.state)];
    while let Some((parent, state)) = finished.pop() {
        let counts_as_success =
            state == JobState::Succeeded || policy == OnParentFailure::RunAnyway;
        for child in dependants_of(conn, parent)? {
            if counts_as_success {
                moved.extend(count_down(tx, child, parent, now)?);
            } else if let Some(cancelled) = cancel_waiting(tx, child, now)? {
                finished.push((child, JobState::Cancelled));
                moved.push(cancelled);
            }
        }
    }
    Ok(moved)
}

fn policy_of(conn: &Connection, workflow: Uuid) -> Result<OnParentFailure, Error> {
    let policy: Option<String> = conn
        .prepare_cached("SELECT on_parent_failure FROM workflows WHERE id = ?1")?
        .query_row([uuid_blob(&workflow)], |row| row.get(0))
        .optional()?;
    // A workflow row outlives its jobs, so one is always found; the default is the safe one.
    Ok(policy
        .and_then(|p| p.parse().ok())
        .unwrap_or(OnParentFailure::Cancel))
}

/// The ids of the jobs that wait (or waited) on `parent`.
fn dependants_of(conn: &Connection, parent: JobId) -> Result<Vec<JobId>, Error> {
    let mut stmt = conn.prepare_cached("SELECT job FROM job_dependencies WHERE parent = ?1")?;
    let ids = stmt
        .query_map([uuid_blob(&parent.0)], |row| row.get::<_, Uuid16>(0))?
        .map(|id| id.map(|id| JobId(id.0)))
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Counts `parent` finished for `child` (once per edge); unblocks `child` at zero and
/// returns it.
fn count_down(
    tx: &mut WriteTx<'_>,
    child: JobId,
    parent: JobId,
    now: Timestamp,
) -> Result<Option<Job>, Error> {
    let conn = tx.conn();
    let edge = conn
        .prepare_cached(SETTLE_EDGE)?
        .execute(params![uuid_blob(&child.0), uuid_blob(&parent.0)])?;
    if edge == 0 {
        return Ok(None);
    }
    let left: Option<i64> = conn
        .prepare_cached(&COUNT_DOWN)?
        .query_row([uuid_blob(&child.0)], |row| row.get(0))
        .optional()?;
    if left == Some(0) {
        return unblock(tx, child, now);
    }
    Ok(None)
}

/// `waiting → ready` (`Unblock`), or `→ scheduled` (`UnblockLater`) while `run_at` is ahead,
/// with the parents' results written into the args; the job as it is then.
fn unblock(tx: &mut WriteTx<'_>, id: JobId, now: Timestamp) -> Result<Option<Job>, Error> {
    let conn = tx.conn();
    let Some(mut job) = job_by_id(conn, id)? else {
        return Ok(None);
    };
    let args = match passing_of(conn, id)? {
        Some(passing) => args_with_results(&job.args, passing, &parent_results(conn, id)?)?,
        None => job.args.clone(),
    };
    let (transition, run_at) = if job.run_at > now {
        (Transition::UnblockLater, job.run_at)
    } else {
        (Transition::Unblock, now)
    };
    let values = params![
        uuid_blob(&id.0),
        transition.target().as_str(),
        args.get(),
        micros(run_at),
    ];
    let mut unblock = tx.prepare(&UNBLOCK)?;
    let to = transition.target();
    if !tx.move_job(&mut unblock, values, &job.queue, JobState::Waiting, to)? {
        return Ok(None);
    }
    // The columns the update wrote: the job as stored, without reading it again.
    job.state = to;
    job.args = args;
    job.run_at = run_at;
    Ok(Some(job))
}

fn passing_of(conn: &Connection, id: JobId) -> Result<Option<ResultPassing>, Error> {
    let passing: Option<String> = conn
        .prepare_cached("SELECT pass_results FROM jobs WHERE id = ?1")?
        .query_row([uuid_blob(&id.0)], |row| row.get(0))?;
    Ok(passing.and_then(|p| p.parse().ok()))
}

fn parent_results(conn: &Connection, id: JobId) -> Result<Vec<Option<Json>>, Error> {
    let mut stmt = conn.prepare_cached(&PARENT_RESULTS)?;
    let texts = stmt
        .query_map([uuid_blob(&id.0)], |row| row.get::<_, Option<String>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    texts
        .into_iter()
        .map(|text| text.map(|t| Json::from_raw(&t)).transpose())
        .collect::<Result<_, _>>()
        .map_err(Error::from)
}

/// `waiting → cancelled`; the job as it is then, if it was waiting (rare, so reading it
/// back costs nothing that matters here).
fn cancel_waiting(tx: &mut WriteTx<'_>, id: JobId, now: Timestamp) -> Result<Option<Job>, Error> {
    let conn = tx.conn();
    let mut cancel = tx.prepare(&CANCEL_WAITING)?;
    let values = params![uuid_blob(&id.0), micros(now)];
    tx.update_job(&mut cancel, values, JobState::Waiting, || {
        job_by_id(conn, id)
    })
}
