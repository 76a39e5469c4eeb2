//! Reading jobs: a filtered page, newest first.
//!
//! A page must cost about the same with a thousand jobs or ten million, whichever filter the
//! dashboard sends. Walking the `id` index newest first and skipping jobs that do not match
//! is cheap only while matches are dense among the newest jobs. So a page filtered by queue
//! or state is read, when it can be, as the merge of its *slices* — the jobs of one queue in
//! one state, which `queue_counts` lists exactly — each read through an index that holds
//! just that slice:
//!
//! - a terminal state: `jobs_terminal (queue, state, id)`, and `ready`: `jobs_ready
//!   (queue, id)`; one page of index, newest first, however big the slice;
//! - `scheduled`, `running`: that state's partial index, every job of the slice sorted by
//!   id, when the slice holds at most [`SORTED_AT_MOST`] jobs.
//!
//! Any other page walks an index newest first, skipping what does not match: a page with a
//! task walks `jobs_task (task, id)`, which holds only that task's jobs; one without walks the
//! `id` index. A slice too big to sort or a page over too many slices comes to this too.
//! (A task within big slices is read through the slices: a rare task there walks them.)

use crate::error::Error;
use crate::row::{JOB_COLUMNS, State, decode};
use crate::sql::quote;
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use workhorse_core::{Job, JobState};
use workhorse_store::plan::checks::check_page_limit;
use workhorse_store::{JobListParams, JobPage};

/// A live slice of at most this many jobs is read through its state's index and sorted by
/// id: a few milliseconds.
const SORTED_AT_MOST: u64 = 10_000;

/// Most slices one page merges (a state over that many queues is read by walking ids).
const SLICES_AT_MOST: usize = 64;

/// `AND`-joined conditions with their values, for queries whose filters are optional. Each
/// combination of filters is its own (cached) statement, so every one can use its index.
#[derive(Default, Clone)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Filter {
    /// Adds `clause` (with one `?`) when `value` is given.
    pub fn when(&mut self, clause: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.clauses.push(clause.to_owned());
            self.values.push(value.into());
        }
        self
    }

    /// Adds `clause`, which takes no value.
    pub fn always(&mut self, clause: String) -> &mut Self {
        self.clauses.push(clause);
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

/// `state = '…'` as the partial indexes' predicates need it: a literal (a bound value would
/// keep SQLite from using them), with `finished_at IS NOT NULL` for a terminal state (the
/// predicate of `jobs_terminal` and `jobs_finished`, true of every job in such a state).
pub(crate) fn state_clause(state: JobState) -> String {
    if state.is_terminal() {
        format!("finished_at IS NOT NULL AND state = {}", quote(state))
    } else {
        format!("state = {}", quote(state))
    }
}

/// The index that holds a slice of `state` (`None`: no index holds that state alone).
fn slice_index(state: JobState) -> Option<&'static str> {
    match state {
        s if s.is_terminal() => Some("jobs_terminal"),
        JobState::Ready => Some("jobs_ready"),
        JobState::Scheduled => Some("jobs_scheduled"),
        JobState::Running => Some("jobs_leases"),
        _ => None,
    }
}

/// Whether [`slice_index`] keeps a slice of `state` in id order, so that a page of the slice
/// is a page of the index (otherwise the whole slice is read and sorted).
fn in_id_order(state: JobState) -> bool {
    state.is_terminal() || state == JobState::Ready
}

/// The jobs of one queue in one state, and how many there are.
struct Slice {
    queue: String,
    state: JobState,
    jobs: u64,
}

impl Slice {
    /// The index to read the slice through, if reading it costs about one page.
    fn index(&self) -> Option<&'static str> {
        let index = slice_index(self.state)?;
        (in_id_order(self.state) || self.jobs <= SORTED_AT_MOST).then_some(index)
    }
}

/// The non-empty slices within the queue and state asked for.
fn slices(
    conn: &Connection,
    queue: Option<&str>,
    state: Option<JobState>,
) -> Result<Vec<Slice>, Error> {
    let mut filter = Filter::default();
    filter
        .always("jobs > 0".to_owned())
        .when("queue = ?", queue.map(str::to_owned))
        .when("state = ?", state.map(|s| s.as_str().to_owned()));
    let sql = format!(
        "SELECT queue, state, jobs FROM queue_counts{}",
        filter.sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let slices = stmt
        .query_map(params_from_iter(filter.values([])), |row| {
            Ok(Slice {
                queue: row.get(0)?,
                state: row.get::<_, State>(1)?.0,
                jobs: row.get::<_, i64>(2)?.unsigned_abs(),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(slices)
}

/// A page of jobs matching the filters, newest (highest id: ids are UUID v7) first.
pub(crate) fn list(conn: &Connection, params: &JobListParams) -> Result<JobPage, Error> {
    check_page_limit(params.limit)?;
    // One more than the page, to learn whether another page follows.
    let want = params.limit as usize + 1;
    let mut jobs = match by_slices(conn, params)? {
        Some(slices) => {
            let mut jobs = Vec::new();
            for (slice, index) in &slices {
                jobs.extend(read_slice(conn, slice, index, params, want)?);
            }
            jobs.sort_unstable_by_key(|job| std::cmp::Reverse(job.id));
            jobs
        }
        None => walk_ids(conn, params, want)?,
    };
    // Merged slices may bring more than `want`.
    let next_cursor = if jobs.len() >= want {
        jobs.truncate(want - 1);
        jobs.last().map(|job| job.id)
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}

/// The slices a page filtered by queue or state merges, each with the index to read it
/// through; `None` if the page must walk ids instead (no queue or state asked for, a key,
/// a slice too big to sort, or too many slices).
fn by_slices(
    conn: &Connection,
    params: &JobListParams,
) -> Result<Option<Vec<(Slice, &'static str)>>, Error> {
    if params.key.is_some() || (params.queue.is_none() && params.state.is_none()) {
        return Ok(None);
    }
    let slices = slices(conn, params.queue.as_deref(), params.state)?;
    if slices.len() > SLICES_AT_MOST {
        return Ok(None);
    }
    Ok(slices
        .into_iter()
        .map(|slice| slice.index().map(|index| (slice, index)))
        .collect())
}

/// The task and cursor filters every read applies.
fn task_and_cursor(filter: &mut Filter, params: &JobListParams) {
    filter
        .when("task = ?", params.task.clone())
        .when("id < ?", params.cursor.map(|id| id.0.as_bytes().to_vec()));
}

/// Up to `want` jobs of the slice, newest first, through `index`.
fn read_slice(
    conn: &Connection,
    slice: &Slice,
    index: &str,
    params: &JobListParams,
    want: usize,
) -> Result<Vec<Job>, Error> {
    let mut filter = Filter::default();
    filter
        .when("queue = ?", Some(slice.queue.clone()))
        .always(state_clause(slice.state));
    task_and_cursor(&mut filter, params);
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs INDEXED BY {index}{} ORDER BY id DESC LIMIT ?",
        filter.sql()
    );
    read(conn, &sql, filter, want)
}

/// Up to `want` matching jobs, walking newest first the task's jobs in `jobs_task` if a task
/// is given, else the `id` index (or, with a key, reading `jobs_key`: few jobs share a key).
fn walk_ids(conn: &Connection, params: &JobListParams, want: usize) -> Result<Vec<Job>, Error> {
    let (sql, filter) = walk_sql(params);
    read(conn, &sql, filter, want)
}

/// The statement [`walk_ids`] runs, and its filter.
fn walk_sql(params: &JobListParams) -> (String, Filter) {
    // Named, or SQLite may prefer a state's partial index and sort the whole state.
    let table = if params.key.is_some() {
        "jobs"
    } else if params.task.is_some() {
        "jobs INDEXED BY jobs_task"
    } else {
        "jobs INDEXED BY sqlite_autoindex_jobs_1"
    };
    let mut filter = Filter::default();
    filter.when("queue = ?", params.queue.clone());
    if let Some(state) = params.state {
        filter.always(state_clause(state));
    }
    filter.when("key = ?", params.key.clone());
    task_and_cursor(&mut filter, params);
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM {table}{} ORDER BY id DESC LIMIT ?",
        filter.sql()
    );
    (sql, filter)
}

fn read(conn: &Connection, sql: &str, filter: Filter, want: usize) -> Result<Vec<Job>, Error> {
    let values = filter.values([Value::Integer(want as i64)]);
    let jobs = conn
        .prepare_cached(sql)?
        .query_map(params_from_iter(values), decode)?
        .collect::<Result<Vec<Job>, _>>()?;
    Ok(jobs)
}

/// How each state's slice is read, as SQL, with the index it must use and whether that
/// index keeps the slice in id order.
#[cfg(test)]
pub(crate) fn reads_sql() -> Vec<(String, &'static str, bool)> {
    JobState::ALL
        .into_iter()
        .filter_map(|state| {
            let index = slice_index(state)?;
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs INDEXED BY {index} WHERE queue = ?1 AND {} \
                 AND task = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
                state_clause(state)
            );
            Some((sql, index, in_id_order(state)))
        })
        .collect()
}

/// How a page of a task's jobs after a cursor is read when it walks an index, as SQL.
#[cfg(test)]
pub(crate) fn task_walk_sql() -> String {
    let params = JobListParams {
        queue: None,
        state: None,
        task: Some("t".to_owned()),
        key: None,
        limit: 1,
        cursor: Some(workhorse_core::JobId::new()),
    };
    walk_sql(&params).0
}
