//! Workflows: insert one whole, read one back, cancel one, and read a job's dependants.

use super::insert::Columns;
use super::{Db, notify_ready};
use crate::error::{Error, internal};
use crate::row::{JOB_COLUMNS, decode_all};
use crate::sql::{list, quote, target};
use crate::types::Ts;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::clock::truncate;
use workhorse_core::{JobId, JobState, Json, ResultPassing, Transition, WorkflowId};
use workhorse_store::plan::checks::check_workflow_size;
use workhorse_store::{Workflow, WorkflowCancelParams, WorkflowInsertParams, WorkflowMember};

const INSERT_WORKFLOW: &str = "INSERT INTO workhorse_workflows \
    (id, created_at, on_parent_failure, outputs, output, shape) VALUES ($1, $2, $3, $4, $5, $6)";

/// Waiting jobs' parent counts and result passing: `$1` ids, `$2` counts, `$3` passing.
const SET_WAITING: &str = "UPDATE workhorse_jobs j SET pending_parents = u.n, pass_results = u.p \
    FROM unnest($1::uuid[], $2::int4[], $3::text[]) AS u(id, n, p) WHERE j.id = u.id";

const INSERT_EDGES: &str = "INSERT INTO workhorse_job_dependencies (job, parent, position) \
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int4[])";

static JOBS_OF: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE workflow_id = $1 ORDER BY seq")
});

const EDGES_OF: &str = "SELECT d.job, d.parent FROM workhorse_job_dependencies d \
    JOIN workhorse_jobs j ON j.id = d.job WHERE j.workflow_id = $1 ORDER BY d.job, d.position";

/// Locks a workflow's jobs in id order.
const LOCK_JOBS_OF: &str =
    "SELECT id FROM workhorse_jobs WHERE workflow_id = $1 ORDER BY id FOR UPDATE";

/// Cancels a workflow's unfinished jobs that are not running: `$1` workflow, `$2` now.
static CANCEL_WAITING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET state = {}, finished_at = $2 WHERE workflow_id = $1 \
         AND state IN ({})",
        target(Transition::Cancel),
        list(Transition::Cancel.sources(), |s| *s != JobState::Running)
    )
});

/// Flags a workflow's running jobs for cancellation: `$1` workflow.
static REQUEST_CANCEL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET cancel_requested = true WHERE workflow_id = $1 AND state = {}",
        quote(JobState::Running)
    )
});

/// Inserts the workflow row, every job (those with parents `waiting`) and every edge, in
/// one transaction.
pub(crate) async fn insert(db: &Db, params: WorkflowInsertParams) -> Result<Workflow, Error> {
    let compiled = params.compiled;
    check_workflow_size(compiled.jobs.len())?;
    let mut tx = db.pool.begin().await?;
    let outputs: Vec<Uuid> = compiled.outputs.iter().map(|id| id.0).collect();
    sqlx::query(INSERT_WORKFLOW)
        .bind(params.id.0)
        .bind(Ts(params.now))
        .bind(params.on_parent_failure.as_str())
        .bind(outputs)
        .bind(compiled.output.as_str())
        .bind(params.shape.get())
        .execute(&mut *tx)
        .await?;
    let mut rows = Columns::default();
    let mut waiting: (Vec<Uuid>, Vec<i32>, Vec<Option<&str>>) = Default::default();
    let mut edges: (Vec<Uuid>, Vec<Uuid>, Vec<i32>) = Default::default();
    let mut ready = BTreeSet::new();
    for mut member in compiled.jobs {
        // Stored timestamps keep microseconds; the job returned must equal the job stored.
        member.job.run_at = member.job.run_at.map(truncate);
        let mut job = member.job.into_job(params.now);
        job.workflow = Some(params.id);
        if member.parents.is_empty() {
            if job.state == JobState::Ready {
                ready.insert(job.queue.clone());
            }
        } else {
            job.state = JobState::Waiting;
            waiting.0.push(job.id.0);
            waiting
                .1
                .push(i32::try_from(member.parents.len()).unwrap_or(i32::MAX));
            waiting.2.push(member.passing.map(ResultPassing::as_str));
            for (position, parent) in member.parents.iter().enumerate() {
                edges.0.push(job.id.0);
                edges.1.push(parent.0);
                edges.2.push(i32::try_from(position).unwrap_or(i32::MAX));
            }
        }
        rows.push(&job);
    }
    rows.insert(&mut tx, params.now).await?;
    sqlx::query(SET_WAITING)
        .bind(waiting.0)
        .bind(waiting.1)
        .bind(waiting.2)
        .execute(&mut *tx)
        .await?;
    sqlx::query(INSERT_EDGES)
        .bind(edges.0)
        .bind(edges.1)
        .bind(edges.2)
        .execute(&mut *tx)
        .await?;
    notify_ready(
        &mut tx,
        &db.channel,
        ready.iter().map(String::as_str).collect(),
    )
    .await?;
    let workflow = read(&mut tx, params.id).await?;
    tx.commit().await?;
    workflow.ok_or_else(|| internal("the workflow vanished while inserted"))
}

/// A workflow with every job and edge.
pub(crate) async fn get(db: &Db, id: WorkflowId) -> Result<Option<Workflow>, Error> {
    let mut conn = db.pool.acquire().await?;
    read(&mut conn, id).await
}

async fn read(conn: &mut sqlx::PgConnection, id: WorkflowId) -> Result<Option<Workflow>, Error> {
    let row: Option<(Ts, String, Vec<Uuid>, String, String)> = sqlx::query_as(
        "SELECT created_at, on_parent_failure, outputs, output, shape FROM workhorse_workflows \
         WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((created_at, policy, outputs, output, shape)) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str, e: String| internal(format!("stored workflow {id}: {what}: {e}"));
    Ok(Some(Workflow {
        id,
        created_at: created_at.0,
        on_parent_failure: policy.parse().map_err(|e| corrupt("policy", e))?,
        shape: Json::from_raw(&shape)?,
        outputs: outputs.into_iter().map(JobId).collect(),
        output: output.parse().map_err(|e| corrupt("output", e))?,
        jobs: members(conn, id).await?,
    }))
}

async fn members(
    conn: &mut sqlx::PgConnection,
    id: WorkflowId,
) -> Result<Vec<WorkflowMember>, Error> {
    let edges: Vec<(Uuid, Uuid)> = sqlx::query_as(EDGES_OF)
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await?;
    let mut parents: HashMap<JobId, Vec<JobId>> = HashMap::new();
    for (job, parent) in edges {
        parents.entry(JobId(job)).or_default().push(JobId(parent));
    }
    let rows = sqlx::query(JOBS_OF.as_str())
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await?;
    Ok(decode_all(&rows)?
        .into_iter()
        .map(|row| WorkflowMember {
            parents: parents.remove(&row.job.id).unwrap_or_default(),
            job: row.job,
        })
        .collect())
}

/// Cancels every unfinished job: waiting ones at once, running ones flagged.
pub(crate) async fn cancel(
    db: &Db,
    params: &WorkflowCancelParams,
) -> Result<Option<Workflow>, Error> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(LOCK_JOBS_OF)
        .bind(params.id.0)
        .execute(&mut *tx)
        .await?;
    sqlx::query(CANCEL_WAITING.as_str())
        .bind(params.id.0)
        .bind(Ts(params.now))
        .execute(&mut *tx)
        .await?;
    sqlx::query(REQUEST_CANCEL.as_str())
        .bind(params.id.0)
        .execute(&mut *tx)
        .await?;
    let workflow = read(&mut tx, params.id).await?;
    tx.commit().await?;
    Ok(workflow)
}
