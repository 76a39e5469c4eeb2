//! Reading jobs: a filtered page, newest first.
//!
//! Every page reads about one page of an index, whatever the store holds: by queue (and
//! state) through `workhorse_jobs_queue_state (queue, state, id)`, by task through
//! `workhorse_jobs_task (task, id)`, by key through `workhorse_jobs_key`, unfiltered through
//! the primary key. A page by state alone merges the state's per-queue slices of
//! `workhorse_jobs_queue_state`, one page of each, over the queues the counts (see
//! [`super::counts`]) say may hold that state: walking ids and skipping other states would
//! read every newer job.

use super::Db;
use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode_all};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgRow;
use std::sync::LazyLock;
use workhorse_core::{JobId, JobState};
use workhorse_store::plan::checks::check_page_limit;
use workhorse_store::{JobListParams, JobPage};

/// A page of jobs matching the filters, newest (highest id: ids are UUID v7) first. Each
/// combination of filters is its own (cached) statement, so every one can use its index.
pub(crate) async fn list(db: &Db, params: JobListParams) -> Result<JobPage, Error> {
    check_page_limit(params.limit)?;
    if let Some(state) = params.state
        && params.queue.is_none()
        && params.task.is_none()
        && params.key.is_none()
    {
        return by_state(db, state, params.cursor, params.limit).await;
    }
    let filters = [
        ("queue = ", params.queue.is_some()),
        ("state = ", params.state.is_some()),
        ("task = ", params.task.is_some()),
        ("key = ", params.key.is_some()),
        ("id < ", params.cursor.is_some()),
    ];
    let mut clauses = Vec::new();
    for (clause, given) in filters {
        if given {
            clauses.push(format!("{clause}${}", clauses.len() + 1));
        }
    }
    let where_ = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    // Built only from the fixed fragments above; every value is a bind parameter.
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM workhorse_jobs{where_} ORDER BY id DESC LIMIT ${}",
        clauses.len() + 1
    );
    let limit = params.limit as usize;
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some(queue) = params.queue {
        query = query.bind(queue);
    }
    if let Some(state) = params.state {
        query = query.bind(state.as_str());
    }
    if let Some(task) = params.task {
        query = query.bind(task);
    }
    if let Some(key) = params.key {
        query = query.bind(key);
    }
    if let Some(cursor) = params.cursor {
        query = query.bind(cursor.0);
    }
    // One more than the page, to learn whether another page follows.
    let rows = query.bind(limit as i64 + 1).fetch_all(&db.pool).await?;
    page(&rows, limit)
}

/// The queues that may hold jobs in state `$1` (a queue holds some only if its total or its
/// unfolded changes for that state say so, in the same snapshot), and up to `$2` of each
/// one's jobs in that state, newest first, older than `cursor` (`$3`) if asked.
fn by_state_sql(cursor: &str) -> String {
    format!(
        "WITH queues AS (SELECT DISTINCT queue FROM ( \
           SELECT queue FROM workhorse_queue_counts WHERE state = $1 AND jobs <> 0 \
           UNION ALL SELECT queue FROM workhorse_queue_count_changes WHERE state = $1) known) \
         SELECT slice.* FROM queues CROSS JOIN LATERAL ( \
           SELECT {JOB_COLUMNS} FROM workhorse_jobs \
           WHERE queue = queues.queue AND state = $1{cursor} ORDER BY id DESC LIMIT $2) slice \
         ORDER BY slice.id DESC LIMIT $2"
    )
}

static BY_STATE: LazyLock<String> = LazyLock::new(|| by_state_sql(""));
static BY_STATE_AFTER: LazyLock<String> = LazyLock::new(|| by_state_sql(" AND id < $3"));

/// A page of the jobs in `state`, merged from its per-queue slices.
async fn by_state(
    db: &Db,
    state: JobState,
    cursor: Option<JobId>,
    limit: u32,
) -> Result<JobPage, Error> {
    let sql = if cursor.is_some() {
        &BY_STATE_AFTER
    } else {
        &BY_STATE
    };
    let mut query = sqlx::query(sql.as_str())
        .bind(state.as_str())
        .bind(i64::from(limit) + 1);
    if let Some(cursor) = cursor {
        query = query.bind(cursor.0);
    }
    let rows = query.fetch_all(&db.pool).await?;
    page(&rows, limit as usize)
}

/// The jobs of `rows` (at most `limit + 1`) as a page: the extra one says another follows.
fn page(rows: &[PgRow], limit: usize) -> Result<JobPage, Error> {
    let mut jobs: Vec<_> = decode_all(rows)?.into_iter().map(|row| row.job).collect();
    let next_cursor = if jobs.len() > limit {
        jobs.truncate(limit);
        jobs.last().map(|job| job.id)
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}
