//! Reading jobs: one by id, or a filtered page, newest first.

use crate::error::{Error, invalid};
use crate::row::{JOB_COLUMNS, decode};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use workhorse_core::{Job, limits};
use workhorse_store::{JobListParams, JobPage};

/// `AND`-joined conditions with their values, for queries whose filters are optional. Each
/// combination of filters is its own (cached) statement, so every one can use its index.
#[derive(Default)]
pub(crate) struct Filter {
    clauses: Vec<&'static str>,
    values: Vec<Value>,
}

impl Filter {
    /// Adds `clause` (with one `?`) when `value` is given.
    pub fn when(&mut self, clause: &'static str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.clauses.push(clause);
            self.values.push(value.into());
        }
        self
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The values, followed by `more`.
    pub fn values(self, more: impl IntoIterator<Item = Value>) -> impl Iterator<Item = Value> {
        self.values.into_iter().chain(more)
    }
}

/// A page of jobs matching the filters, newest (highest id: ids are UUID v7) first.
pub(crate) fn list(conn: &Connection, params: JobListParams) -> Result<JobPage, Error> {
    if !(1..=limits::MAX_PAGE).contains(&params.limit) {
        return Err(invalid(format!(
            "limit must be between 1 and {}; got {}",
            limits::MAX_PAGE,
            params.limit
        )));
    }
    let mut filter = Filter::default();
    filter
        .when("queue = ?", params.queue)
        .when("state = ?", params.state.map(|s| s.as_str().to_owned()))
        .when("task = ?", params.task)
        .when("key = ?", params.key)
        .when("id < ?", params.cursor.map(|id| id.0.as_bytes().to_vec()));
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs{} ORDER BY id DESC LIMIT ?",
        filter.sql()
    );
    let limit = params.limit as usize;
    // One more than the page, to learn whether another page follows.
    let values = filter.values([Value::Integer(limit as i64 + 1)]);
    let mut jobs = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), decode)?
        .collect::<Result<Vec<Job>, _>>()?;
    let next_cursor = if jobs.len() > limit {
        jobs.truncate(limit);
        jobs.last().map(|job| job.id)
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}
