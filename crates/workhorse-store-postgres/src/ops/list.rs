//! Reading jobs: a filtered page, newest first.

use super::Db;
use crate::error::{Error, invalid};
use crate::row::{JOB_COLUMNS, decode_all};
use sqlx::AssertSqlSafe;
use workhorse_core::limits;
use workhorse_store::{JobListParams, JobPage};

/// A page of jobs matching the filters, newest (highest id: ids are UUID v7) first. Each
/// combination of filters is its own (cached) statement, so every one can use its index.
pub(crate) async fn list(db: &Db, params: JobListParams) -> Result<JobPage, Error> {
    if !(1..=limits::MAX_PAGE).contains(&params.limit) {
        return Err(invalid(format!(
            "limit must be between 1 and {}; got {}",
            limits::MAX_PAGE,
            params.limit
        )));
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
    let mut jobs: Vec<_> = decode_all(&rows)?.into_iter().map(|row| row.job).collect();
    let next_cursor = if jobs.len() > limit {
        jobs.truncate(limit);
        jobs.last().map(|job| job.id)
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}
