//! Workflows: insert one whole, read one back, cancel one.

use super::insert::{INSERT, insert_row};
use crate::counts::WriteTx;
use crate::error::{Error, invalid};
use crate::row::{JOB_COLUMNS, Micros, Uuid16, decode, micros, uuid_blob};
use crate::sql::SQL;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::sync::LazyLock;
use workhorse_core::{Job, JobId, JobState, Json, ResultPassing, WorkflowId};
use workhorse_store::plan::checks::check_workflow_size;
use workhorse_store::{Workflow, WorkflowCancelParams, WorkflowInsertParams, WorkflowMember};

const INSERT_WORKFLOW: &str = "INSERT INTO workflows \
    (id, created_at, on_parent_failure, outputs, output, shape) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const INSERT_EDGE: &str =
    "INSERT INTO job_dependencies (job, parent, position) VALUES (?1, ?2, ?3)";

/// A waiting job's count of parents and how it receives their results: `?1` id, `?2`
/// count, `?3` passing.
const SET_WAITING: &str = "UPDATE jobs SET pending_parents = ?2, pass_results = ?3 WHERE id = ?1";

static JOBS_OF: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM jobs WHERE workflow_id = ?1 ORDER BY seq"));

const EDGES_OF: &str = "SELECT d.job, d.parent FROM job_dependencies d \
    JOIN jobs j ON j.id = d.job WHERE j.workflow_id = ?1 ORDER BY d.job, d.position";

/// Inserts the workflow row, every job (those with parents `waiting`) and every edge.
pub(crate) fn insert(
    tx: &mut WriteTx<'_>,
    params: WorkflowInsertParams,
) -> Result<Workflow, Error> {
    let conn = tx.conn();
    let compiled = params.compiled;
    check_workflow_size(compiled.jobs.len())?;
    conn.prepare_cached(INSERT_WORKFLOW)?.execute(params![
        uuid_blob(&params.id.0),
        micros(params.now),
        params.on_parent_failure.as_str(),
        serde_json::to_string(&compiled.outputs)?,
        compiled.output.as_str(),
        params.shape.get(),
    ])?;
    let mut insert_job = tx.prepare(&INSERT)?;
    let mut insert_edge = conn.prepare_cached(INSERT_EDGE)?;
    let mut set_waiting = conn.prepare_cached(SET_WAITING)?;
    for member in compiled.jobs {
        let mut job = member.job.into_job(params.now);
        job.workflow = Some(params.id);
        if !member.parents.is_empty() {
            job.state = JobState::Waiting;
        }
        insert_row(tx, &mut insert_job, &job)?;
        if member.parents.is_empty() {
            continue;
        }
        set_waiting.execute(params![
            uuid_blob(&job.id.0),
            member.parents.len() as i64,
            member.passing.map(ResultPassing::as_str),
        ])?;
        for (position, parent) in member.parents.iter().enumerate() {
            insert_edge.execute(params![
                uuid_blob(&job.id.0),
                uuid_blob(&parent.0),
                position as i64
            ])?;
        }
    }
    get(conn, params.id)?.ok_or_else(|| invalid("the workflow vanished while inserted"))
}

/// A workflow with every job and edge.
pub(crate) fn get(conn: &Connection, id: WorkflowId) -> Result<Option<Workflow>, Error> {
    let row = conn
        .prepare_cached(
            "SELECT created_at, on_parent_failure, outputs, output, shape FROM workflows \
             WHERE id = ?1",
        )?
        .query_row([uuid_blob(&id.0)], |row| {
            Ok((
                row.get::<_, Micros>(0)?.0,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })
        .optional()?;
    let Some((created_at, policy, outputs, output, shape)) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str, e: String| {
        Error::Store(workhorse_store::StoreError::Internal(format!(
            "stored workflow {id}: {what}: {e}"
        )))
    };
    Ok(Some(Workflow {
        id,
        created_at,
        on_parent_failure: policy.parse().map_err(|e| corrupt("policy", e))?,
        shape: Json::from_raw(&shape)?,
        outputs: serde_json::from_str(&outputs)?,
        output: output.parse().map_err(|e| corrupt("output", e))?,
        jobs: members(conn, id)?,
    }))
}

fn members(conn: &Connection, id: WorkflowId) -> Result<Vec<WorkflowMember>, Error> {
    let mut parents: HashMap<JobId, Vec<JobId>> = HashMap::new();
    let mut edges = conn.prepare_cached(EDGES_OF)?;
    let rows = edges.query_map([uuid_blob(&id.0)], |row| {
        Ok((row.get::<_, Uuid16>(0)?.0, row.get::<_, Uuid16>(1)?.0))
    })?;
    for row in rows {
        let (job, parent) = row?;
        parents.entry(JobId(job)).or_default().push(JobId(parent));
    }
    let mut jobs = conn.prepare_cached(&JOBS_OF)?;
    let jobs = jobs
        .query_map([uuid_blob(&id.0)], decode)?
        .collect::<Result<Vec<Job>, _>>()?;
    Ok(jobs
        .into_iter()
        .map(|job| WorkflowMember {
            parents: parents.remove(&job.id).unwrap_or_default(),
            job,
        })
        .collect())
}

/// Cancels every unfinished job: waiting ones at once, running ones flagged.
pub(crate) fn cancel(
    tx: &mut WriteTx<'_>,
    params: &WorkflowCancelParams,
) -> Result<Option<Workflow>, Error> {
    let conn = tx.conn();
    let Some(workflow) = get(conn, params.id)? else {
        return Ok(None);
    };
    let mut cancel_waiting = tx.prepare(&SQL.cancel_waiting)?;
    let mut request_cancel = conn.prepare_cached(&SQL.request_cancel)?;
    for member in &workflow.jobs {
        let id = uuid_blob(&member.job.id.0);
        match member.job.state {
            JobState::Running => {
                request_cancel.execute(params![id])?;
            }
            state if state.is_live() => {
                let values = params![id, micros(params.now)];
                let queue = &member.job.queue;
                tx.move_job(
                    &mut cancel_waiting,
                    values,
                    queue,
                    state,
                    JobState::Cancelled,
                )?;
            }
            _ => {}
        }
    }
    get(conn, params.id)
}
