//! Operator actions: cancel and redrive.

use super::list::{Filter, state_clause};
use super::{JobUpdate, job_by_id};
use crate::counts::WriteTx;
use crate::error::Error;
use crate::row::{State, micros, uuid_blob};
use crate::sql::SQL;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use workhorse_core::{Job, JobId, JobState, Transition};
use workhorse_store::plan::checks::redrive_state;
use workhorse_store::{CancelOutcome, JobCancelParams, JobRedriveParams, RedriveSelector};

/// Cancels a waiting job at once, flags a running one, returns a finished one unchanged.
pub(crate) fn cancel(
    tx: &mut WriteTx<'_>,
    params: &JobCancelParams,
) -> Result<Option<CancelOutcome>, Error> {
    let conn = tx.conn();
    let Some(job) = job_by_id(conn, params.id)? else {
        return Ok(None);
    };
    let id = uuid_blob(&params.id.0);
    let changed = if job.state == JobState::Running {
        request_cancel(conn, params.id)?
    } else if Transition::Cancel.allowed_from(job.state) {
        JobUpdate::new(tx, &SQL.cancel_waiting)?.run(
            tx,
            params.id,
            job.state,
            params![id, micros(params.now)],
        )?
    } else {
        None
    };
    let dependants = match changed.as_ref().filter(|j| j.state.is_terminal()) {
        Some(cancelled) => super::fan_in::finished(tx, cancelled, params.now)?,
        None => Vec::new(),
    };
    Ok(Some(CancelOutcome {
        job: changed.unwrap_or(job),
        dependants,
    }))
}

/// Flags running job `id` for cancellation (it stays `running`, so no count changes); the
/// job as it is now, or `None` if it no longer runs.
pub(crate) fn request_cancel(conn: &Connection, id: JobId) -> Result<Option<Job>, Error> {
    let flagged = conn
        .prepare_cached(&SQL.request_cancel)?
        .execute([uuid_blob(&id.0)])?;
    if flagged == 0 {
        return Ok(None);
    }
    job_by_id(conn, id)
}

/// Redrives the selected jobs that are in a redrivable state; returns them.
pub(crate) fn redrive(tx: &mut WriteTx<'_>, params: JobRedriveParams) -> Result<Vec<Job>, Error> {
    let conn = tx.conn();
    let ids = match params.selector {
        RedriveSelector::Ids(ids) => ids,
        RedriveSelector::Filter {
            queue,
            task,
            state,
            limit,
        } => select(conn, queue, task, redrive_state(state)?, limit)?,
    };
    let mut redrive = JobUpdate::new(tx, &SQL.redrive)?;
    let mut redriven = Vec::with_capacity(ids.len());
    for id in ids {
        // Its state before, for the counts (the update's guard admits three).
        let Some(from) = state_of(conn, id)? else {
            continue;
        };
        let job = redrive.run(tx, id, from, params![uuid_blob(&id.0), micros(params.now)])?;
        redriven.extend(job);
    }
    Ok(redriven)
}

fn state_of(conn: &Connection, id: JobId) -> Result<Option<JobState>, Error> {
    let state = conn
        .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
        .query_row([uuid_blob(&id.0)], |row| row.get::<_, State>(0))
        .optional()?;
    Ok(state.map(|s| s.0))
}

/// Ids of jobs in `state` matching the filters, oldest first.
fn select(
    conn: &Connection,
    queue: Option<String>,
    task: Option<String>,
    state: JobState,
    limit: u32,
) -> Result<Vec<JobId>, Error> {
    let mut filter = Filter::default();
    filter
        .always(state_clause(state))
        .when("queue = ?", queue)
        .when("task = ?", task);
    // Redrivable states are terminal: `jobs_terminal` holds them in id (creation) order.
    let sql = format!("SELECT id FROM jobs{} ORDER BY id LIMIT ?", filter.sql());
    let values = filter.values([Value::Integer(i64::from(limit))]);
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids = stmt
        .query_map(params_from_iter(values), |row| {
            row.get::<_, [u8; 16]>(0)
                .map(|bytes| JobId(uuid::Uuid::from_bytes(bytes)))
        })?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}
