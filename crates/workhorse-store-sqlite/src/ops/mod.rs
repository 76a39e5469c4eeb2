//! The store operations, one module per family. Each runs on the writer's [`WriteTx`]
//! (inside the group transaction; every job it inserts, deletes or moves is counted there)
//! or on a reader's connection.

pub(crate) mod admin;
pub(crate) mod cancel_many;
pub(crate) mod fan_in;
pub(crate) mod fetch;
pub(crate) mod insert;
pub(crate) mod lease;
pub(crate) mod list;
pub(crate) mod queues;
pub(crate) mod schedule;
pub(crate) mod schedule_fire;
pub(crate) mod time;
pub(crate) mod workflow;

use crate::counts::{JobSql, JobStatement, WriteTx};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode, micros, uuid_blob};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Params, Statement};
use std::sync::LazyLock;
use workhorse_core::{AttemptError, Job, JobId, JobState, LeaseId, Outcome, Timestamp};
use workhorse_store::plan::attempt::run_at_after;

static BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"));

/// One job by id, in any state.
pub(crate) fn job_by_id(conn: &Connection, id: JobId) -> Result<Option<Job>, Error> {
    let mut by_id = conn.prepare_cached(&BY_ID)?;
    read_job(&mut by_id, id)
}

fn read_job(by_id: &mut Statement<'_>, id: JobId) -> Result<Option<Job>, Error> {
    Ok(by_id.query_row([uuid_blob(&id.0)], decode).optional()?)
}

/// A guarded `UPDATE` of one job at a time and the read-back of the job it changed,
/// prepared once and reused for every item of a command.
///
/// Not `UPDATE … RETURNING`: SQLite buffers returned rows in a temporary table, which costs
/// more than reading the row again through the `id` index.
pub(crate) struct JobUpdate<'c> {
    update: JobStatement<'c>,
    by_id: CachedStatement<'c>,
}

impl<'c> JobUpdate<'c> {
    pub fn new(tx: &WriteTx<'c>, sql: &JobSql) -> Result<Self, Error> {
        Ok(JobUpdate {
            update: tx.prepare(sql)?,
            by_id: tx.conn().prepare_cached(&BY_ID)?,
        })
    }

    /// Runs the update of job `id`, which is in state `from` if the guard lets it change;
    /// the job as it is now (its move counted), or `None` when the guard held.
    pub fn run(
        &mut self,
        tx: &mut WriteTx<'_>,
        id: JobId,
        from: JobState,
        params: impl Params,
    ) -> Result<Option<Job>, Error> {
        let by_id = &mut self.by_id;
        tx.update_job(&mut self.update, params, from, || read_job(by_id, id))
    }
}

/// The job's error history with one more attempt's error, as the `errors` column stores it.
pub(crate) fn errors_with(job: &Job, error: AttemptError) -> Result<String, Error> {
    let mut errors = Vec::with_capacity(job.errors.len() + 1);
    errors.extend_from_slice(&job.errors);
    errors.push(error);
    Ok(serde_json::to_string(&errors)?)
}

/// `finished_at` for a job entering `state`: now for a terminal state, none otherwise.
pub(crate) fn finished_at(state: JobState, now: Timestamp) -> Option<i64> {
    state.is_terminal().then(|| micros(now))
}

/// Carries out `outcome` for the running `job` under `lease`: its error recorded, its lease
/// cleared, `run_at` and `finished_at` as the outcome's target state needs. `None` if the
/// job no longer runs under that lease. A workflow job that finished here releases or
/// cancels its dependants in the same transaction; they are added to `dependants`.
pub(crate) fn settle(
    tx: &mut WriteTx<'_>,
    job: &Job,
    lease: LeaseId,
    outcome: Outcome,
    error: AttemptError,
    now: Timestamp,
    dependants: &mut Vec<Job>,
) -> Result<Option<Job>, Error> {
    let run_at = run_at_after(job, outcome, now);
    let target = outcome.transition().target();
    let settled = JobUpdate::new(tx, crate::sql::SQL.settle(outcome))?.run(
        tx,
        job.id,
        JobState::Running,
        rusqlite::params![
            uuid_blob(&job.id.0),
            uuid_blob(&lease.0),
            micros(run_at),
            errors_with(job, error)?,
            finished_at(target, now),
        ],
    )?;
    if let Some(job) = &settled
        && job.state.is_terminal()
    {
        dependants.extend(fan_in::finished(tx, job, now)?);
    }
    Ok(settled)
}
