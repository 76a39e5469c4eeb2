//! Fan-in: what finished jobs of workflows do to the jobs waiting on them, inside the
//! transaction that finished them (see `workhorse_store::Workflow` for the rule).
//!
//! Why a chord callback is unblocked exactly once when its last two members are acked at the
//! same instant by different workers or nodes: each ack's transaction first locks the
//! dependants it will touch (in id order, the order every multi-row lock in this crate uses,
//! so two transactions never wait on each other in a cycle), then decrements their
//! `pending_parents` with a guarded update. The second transaction waits on the row lock
//! until the first commits, then reads the committed count (READ COMMITTED re-reads a row it
//! waited for): of the two, only one takes the count from 1 to 0 and unblocks the callback,
//! and the unblock itself is guarded by `state = 'waiting' AND pending_parents = 0`. An edge
//! is counted once (`settled`), so a parent that finishes again after a redrive is not counted
//! twice.

use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode_all, job_columns_of};
use crate::sql::{guard, quote};
use crate::types::Ts;
use sqlx::{PgConnection, Row};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::workflow::args_with_results;
use workhorse_core::{
    Job, JobState, Json, OnParentFailure, ResultPassing, Timestamp, Transition, WorkflowId,
};

/// Locks the dependants of parents `$1`, in id order.
const LOCK_DEPENDANTS: &str = "SELECT id FROM workhorse_jobs WHERE id IN \
    (SELECT job FROM workhorse_job_dependencies WHERE parent = ANY($1)) ORDER BY id FOR UPDATE";

/// Counts parents `$1` finished, once per edge; returns the waiting dependants left with
/// no unfinished parent.
static COUNT_DOWN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH edges AS (UPDATE workhorse_job_dependencies SET settled = true \
         WHERE parent = ANY($1) AND NOT settled RETURNING job), \
         counted AS (SELECT job, count(*)::int AS n FROM edges GROUP BY job) \
         UPDATE workhorse_jobs j SET pending_parents = j.pending_parents - c.n FROM counted c \
         WHERE j.id = c.job AND j.{waiting} AND j.pending_parents >= c.n \
         RETURNING j.id, j.pending_parents",
        waiting = guard(Transition::Unblock)
    )
});

/// What an unblock needs of each job `$1`: its args, how it receives results, its `run_at`.
const UNBLOCKING: &str =
    "SELECT id, args, pass_results, run_at FROM workhorse_jobs WHERE id = ANY($1)";

/// The results of the parents of jobs `$1`, in position order; NULL for a parent that did
/// not succeed (or was deleted by retention).
static PARENT_RESULTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT d.job, p.result FROM workhorse_job_dependencies d \
         LEFT JOIN workhorse_jobs p ON p.id = d.parent AND p.state = {} \
         WHERE d.job = ANY($1) ORDER BY d.job, d.position",
        quote(JobState::Succeeded)
    )
});

/// Unblock: `$1` ids, `$2` target states, `$3` args, `$4` `run_at`. Returns the jobs.
static UNBLOCK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET state = u.state, args = u.args, run_at = u.run_at \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) \
             AS u(id, state, args, run_at) \
         WHERE j.id = u.id AND j.{} AND j.pending_parents = 0 RETURNING {}",
        guard(Transition::Unblock),
        job_columns_of("j")
    )
});

/// Cancels the waiting dependants of parents `$1`: `$2` now. Returns them.
static CANCEL_DEPENDANTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET state = {}, finished_at = $2 WHERE id IN \
         (SELECT job FROM workhorse_job_dependencies WHERE parent = ANY($1)) AND state = {} \
         RETURNING {JOB_COLUMNS}",
        quote(Transition::Cancel.target()),
        quote(JobState::Waiting)
    )
});

/// The queues of `jobs` that hold a `ready` job: what a commit announces.
pub(crate) fn ready_queues(jobs: &[Job]) -> BTreeSet<&str> {
    jobs.iter()
        .filter(|job| job.state == JobState::Ready)
        .map(|job| job.queue.as_str())
        .collect()
}

/// Jobs of workflows that reached a terminal state in the current transaction.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    jobs: Vec<(Uuid, WorkflowId, JobState)>,
}

impl Finished {
    /// Notes `job` if it belongs to a workflow and has just finished.
    pub fn note(&mut self, job: &Job) {
        if let Some(workflow) = job.workflow
            && job.state.is_terminal()
        {
            self.jobs.push((job.id.0, workflow, job.state));
        }
    }

    /// Applies the fan-in rule to every dependant, transitively for cancellations. Returns
    /// the dependants that left `waiting`, as they are now.
    pub async fn apply(self, conn: &mut PgConnection, now: Timestamp) -> Result<Vec<Job>, Error> {
        let mut moved = Vec::new();
        let mut pending = self.jobs;
        while !pending.is_empty() {
            let policies = policies(conn, &pending).await?;
            let (mut releasing, mut cancelling) = (Vec::new(), Vec::new());
            for (id, workflow, state) in pending.drain(..) {
                let run_anyway = policies.get(&workflow) == Some(&OnParentFailure::RunAnyway);
                if state == JobState::Succeeded || run_anyway {
                    releasing.push(id);
                } else {
                    cancelling.push(id);
                }
            }
            let mut parents = releasing.clone();
            parents.extend(&cancelling);
            sqlx::query(LOCK_DEPENDANTS)
                .bind(&parents)
                .execute(&mut *conn)
                .await?;
            if !releasing.is_empty() {
                moved.extend(count_down(conn, &releasing, now).await?);
            }
            if !cancelling.is_empty() {
                let cancelled = cancel_dependants(conn, &cancelling, now).await?;
                let mut next = Finished::default();
                for job in &cancelled {
                    next.note(job);
                }
                pending = next.jobs;
                moved.extend(cancelled);
            }
        }
        Ok(moved)
    }
}

/// The policy of each workflow named in `jobs` (only failures need one).
async fn policies(
    conn: &mut PgConnection,
    jobs: &[(Uuid, WorkflowId, JobState)],
) -> Result<HashMap<WorkflowId, OnParentFailure>, Error> {
    let ids: BTreeSet<Uuid> = jobs
        .iter()
        .filter(|(_, _, state)| *state != JobState::Succeeded)
        .map(|(_, workflow, _)| workflow.0)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, on_parent_failure FROM workhorse_workflows WHERE id = ANY($1)")
            .bind(ids.into_iter().collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, policy)| Some((WorkflowId(id), policy.parse().ok()?)))
        .collect())
}

async fn count_down(
    conn: &mut PgConnection,
    parents: &[Uuid],
    now: Timestamp,
) -> Result<Vec<Job>, Error> {
    let counted: Vec<(Uuid, i32)> = sqlx::query_as(COUNT_DOWN.as_str())
        .bind(parents)
        .fetch_all(&mut *conn)
        .await?;
    let unblocked: Vec<Uuid> = counted
        .into_iter()
        .filter(|(_, left)| *left == 0)
        .map(|(id, _)| id)
        .collect();
    if unblocked.is_empty() {
        return Ok(Vec::new());
    }
    unblock(conn, &unblocked, now).await
}

/// `waiting → ready` (`Unblock`), or `→ scheduled` (`UnblockLater`) while `run_at` is ahead,
/// each with its parents' results written into its args; returns the jobs unblocked.
async fn unblock(conn: &mut PgConnection, ids: &[Uuid], now: Timestamp) -> Result<Vec<Job>, Error> {
    let mut results = parent_results(conn, ids).await?;
    let rows = sqlx::query(UNBLOCKING)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    let (mut states, mut args, mut run_at, mut targets) = (vec![], vec![], vec![], vec![]);
    for row in rows {
        let id: Uuid = row.try_get(0)?;
        let own = Json::from_raw(row.try_get(1)?)?;
        let passing: Option<ResultPassing> = row
            .try_get::<Option<&str>, _>(2)?
            .and_then(|p| p.parse().ok());
        let at: Ts = row.try_get(3)?;
        let new_args = match passing {
            Some(passing) => {
                args_with_results(&own, passing, &results.remove(&id).unwrap_or_default())?
            }
            None => own,
        };
        let (transition, at) = if at.0 > now {
            (Transition::UnblockLater, at.0)
        } else {
            (Transition::Unblock, now)
        };
        targets.push(id);
        states.push(transition.target().as_str());
        args.push(new_args.get().to_owned());
        run_at.push(Ts(at));
    }
    let rows = sqlx::query(UNBLOCK.as_str())
        .bind(targets)
        .bind(states)
        .bind(args)
        .bind(run_at)
        .fetch_all(&mut *conn)
        .await?;
    Ok(decode_all(&rows)?.into_iter().map(|row| row.job).collect())
}

async fn parent_results(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Option<Json>>>, Error> {
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(PARENT_RESULTS.as_str())
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    let mut results: HashMap<Uuid, Vec<Option<Json>>> = HashMap::new();
    for (job, result) in rows {
        let result = result.map(|text| Json::from_raw(&text)).transpose()?;
        results.entry(job).or_default().push(result);
    }
    Ok(results)
}

/// Cancels the waiting dependants of `parents`; returns them.
async fn cancel_dependants(
    conn: &mut PgConnection,
    parents: &[Uuid],
    now: Timestamp,
) -> Result<Vec<Job>, Error> {
    let rows = sqlx::query(CANCEL_DEPENDANTS.as_str())
        .bind(parents)
        .bind(Ts(now))
        .fetch_all(&mut *conn)
        .await?;
    Ok(decode_all(&rows)?.into_iter().map(|row| row.job).collect())
}
