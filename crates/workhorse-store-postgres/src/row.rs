//! How a [`Job`] maps to a row of `workhorse_jobs`: column list and decoding.

use crate::error::{Error, internal};
use crate::types::{Ts, duration};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;
use workhorse_core::retry::Backoff;
use workhorse_core::{AttemptError, Job, JobId, Json, Lease, LeaseId, Progress};

/// Every column of a job, then `seq`, in the order [`decode`] reads them. `errors` is read
/// as text so that it parses straight into [`AttemptError`]s.
pub(crate) const JOB_COLUMNS: &str = "id, task, queue, state, priority, args, kwargs, metadata, \
    attempt, max_attempts, backoff_base_ms, backoff_max_ms, timeout_us, key, key_window_us, \
    concurrency_key, concurrency_limit, progress_fraction, progress_message, result, \
    errors::text AS errors, cancel_requested, lease_id, lease_worker, lease_expires_at, \
    created_at, run_at, expires_at, started_at, finished_at, schedule, scheduled_for, seq, \
    workflow_id";

/// [`JOB_COLUMNS`] qualified by the table alias `j`, for statements that join.
pub(crate) fn job_columns_of(alias: &str) -> String {
    JOB_COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A job and its insertion order (`seq`: FIFO among equal priorities).
pub(crate) struct JobRow {
    pub job: Job,
    pub seq: i64,
}

/// Reads a job from a row that selected [`JOB_COLUMNS`].
pub(crate) fn decode(row: &PgRow) -> Result<JobRow, Error> {
    let lease = match row.try_get::<Option<Uuid>, _>(22)? {
        Some(id) => Some(Lease {
            id: LeaseId(id),
            worker: row.try_get(23)?,
            expires_at: row.try_get::<Ts, _>(24)?.0,
        }),
        None => None,
    };
    let progress = row
        .try_get::<Option<f64>, _>(17)?
        .map(|fraction| -> Result<Progress, Error> {
            Ok(Progress {
                fraction,
                message: row.try_get(18)?,
            })
        })
        .transpose()?;
    let job = Job {
        id: JobId(row.try_get(0)?),
        task: row.try_get(1)?,
        queue: row.try_get(2)?,
        state: row
            .try_get::<&str, _>(3)?
            .parse()
            .map_err(|e| internal(format!("{e}")))?,
        priority: u8::try_from(row.try_get::<i16, _>(4)?)
            .map_err(|e| internal(format!("stored priority: {e}")))?,
        args: raw_json(row.try_get(5)?)?,
        kwargs: raw_json(row.try_get(6)?)?,
        metadata: row
            .try_get::<Option<&str>, _>(7)?
            .map(raw_json)
            .transpose()?,
        attempt: count(row.try_get(8)?)?,
        max_attempts: count(row.try_get(9)?)?,
        backoff: Backoff {
            base_ms: row.try_get::<i64, _>(10)?.max(0) as u64,
            max_ms: row.try_get::<i64, _>(11)?.max(0) as u64,
        },
        timeout: row.try_get::<Option<i64>, _>(12)?.map(duration),
        key: row.try_get(13)?,
        key_window: row.try_get::<Option<i64>, _>(14)?.map(duration),
        concurrency_key: row.try_get(15)?,
        concurrency_limit: count(row.try_get(16)?)?,
        progress,
        result: row
            .try_get::<Option<&str>, _>(19)?
            .map(raw_json)
            .transpose()?,
        errors: serde_json::from_str::<Vec<AttemptError>>(row.try_get(20)?)?,
        cancel_requested: row.try_get(21)?,
        lease,
        created_at: row.try_get::<Ts, _>(25)?.0,
        run_at: row.try_get::<Ts, _>(26)?.0,
        expires_at: row.try_get::<Option<Ts>, _>(27)?.map(|t| t.0),
        started_at: row.try_get::<Option<Ts>, _>(28)?.map(|t| t.0),
        finished_at: row.try_get::<Option<Ts>, _>(29)?.map(|t| t.0),
        schedule: row.try_get(30)?,
        scheduled_for: row.try_get::<Option<Ts>, _>(31)?.map(|t| t.0),
        workflow: row
            .try_get::<Option<Uuid>, _>(33)?
            .map(workhorse_core::WorkflowId),
    };
    Ok(JobRow {
        job,
        seq: row.try_get(32)?,
    })
}

/// Reads every row as a job.
pub(crate) fn decode_all(rows: &[PgRow]) -> Result<Vec<JobRow>, Error> {
    rows.iter().map(decode).collect()
}

fn raw_json(text: &str) -> Result<Json, Error> {
    Ok(Json::from_raw(text)?)
}

fn count(value: i32) -> Result<u32, Error> {
    u32::try_from(value).map_err(|e| internal(format!("stored count: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn qualified_columns_keep_the_order() {
        let qualified = super::job_columns_of("j");
        assert!(qualified.starts_with("j.id, j.task,"));
        assert!(qualified.contains("j.errors::text AS errors"));
        assert!(qualified.ends_with("j.seq, j.workflow_id"));
    }
}
