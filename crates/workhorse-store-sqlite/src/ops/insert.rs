//! `job_insert_many`: new jobs, all or none, honouring unique keys.

use super::job_by_id;
use crate::counts::{JobSql, JobStatement, WriteTx};
use crate::error::Error;
use crate::row::{StateSql, decode, duration_micros, json_text, micros, uuid_blob, whole};
use crate::sql::SQL;
use rusqlite::{Connection, params};
use std::sync::LazyLock;
use workhorse_core::{Job, Timestamp};
use workhorse_store::plan::checks::{check_id_reuse, check_insert_batch};
use workhorse_store::{Inserted, JobInsertManyParams};

/// Inserts one job: every column of [`crate::row::JOB_COLUMNS`].
pub(crate) static INSERT: LazyLock<JobSql> = LazyLock::new(|| {
    JobSql::new(
        "INSERT INTO jobs (id, task, queue, state, priority, args, kwargs, metadata, \
         attempt, max_attempts, backoff_base_ms, backoff_max_ms, timeout_us, key, key_window_us, \
         concurrency_key, concurrency_limit, progress, result, errors, cancel_requested, lease_id, \
         lease_worker, lease_expires_at, created_at, run_at, expires_at, started_at, finished_at, \
         schedule, scheduled_for, workflow_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, NULL, NULL, \
         '[]', 0, NULL, NULL, NULL, ?17, ?18, ?19, NULL, NULL, ?20, ?21, ?22)"
            .to_owned(),
    )
});

/// Inserts the batch in order; a job whose id is used, or whose key is held, gets that job
/// back instead.
/// Runs inside one savepoint, so an error leaves nothing behind.
pub(crate) fn insert_many(
    tx: &mut WriteTx<'_>,
    params: JobInsertManyParams,
) -> Result<Vec<Inserted>, Error> {
    check_insert_batch(params.jobs.len())?;
    let now = params.now;
    let mut insert = tx.prepare(&INSERT)?;
    let mut inserted = Vec::with_capacity(params.jobs.len());
    for new in params.jobs {
        // The batch's own earlier jobs are read back too: same savepoint, same connection.
        if let Some(existing) = job_by_id(tx.conn(), new.id)? {
            check_id_reuse(&existing, &new)?;
            inserted.push(Inserted {
                job: existing,
                created: false,
            });
            continue;
        }
        if let Some(key) = &new.key
            && let Some(holder) = key_holder(tx.conn(), key, now)?
        {
            inserted.push(Inserted {
                job: holder,
                created: false,
            });
            continue;
        }
        let job = new.into_job(now);
        insert_row(tx, &mut insert, &job)?;
        inserted.push(Inserted { job, created: true });
    }
    Ok(inserted)
}

/// The newest job that holds `key` at `now` ([`Job::holds_key`] decides). The query only
/// skips jobs that can never hold it (finished without a window and not succeeded, or with
/// a window of zero); it reads the `jobs_key` index, so the cost is the jobs sharing `key`,
/// not the jobs kept.
fn key_holder(conn: &Connection, key: &str, now: Timestamp) -> Result<Option<Job>, Error> {
    let mut stmt = conn.prepare_cached(&SQL.key_candidates)?;
    let mut rows = stmt.query([key])?;
    while let Some(row) = rows.next()? {
        let job = decode(row)?;
        if job.holds_key(now) {
            return Ok(Some(job));
        }
    }
    Ok(None)
}

/// Inserts one job row (with its `workflow_id`, if it has one).
pub(crate) fn insert_row(
    tx: &mut WriteTx<'_>,
    insert: &mut JobStatement<'_>,
    job: &Job,
) -> Result<(), Error> {
    let values = params![
        uuid_blob(&job.id.0),
        job.task,
        job.queue,
        StateSql(job.state),
        job.priority,
        job.args.get(),
        job.kwargs.get(),
        json_text(job.metadata.as_ref()),
        job.max_attempts,
        whole(job.backoff.base_ms),
        whole(job.backoff.max_ms),
        job.timeout.map(duration_micros),
        job.key,
        job.key_window.map(duration_micros),
        job.concurrency_key,
        job.concurrency_limit,
        micros(job.created_at),
        micros(job.run_at),
        job.expires_at.map(micros),
        job.schedule,
        job.scheduled_for.map(micros),
        job.workflow.as_ref().map(|w| uuid_blob(&w.0)),
    ];
    tx.insert_job(insert, values, &job.queue, job.state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn insert_names_every_column() {
        let columns = super::INSERT
            .text()
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(cols, _)| cols.split(',').map(str::trim).collect::<Vec<_>>())
            .expect("column list");
        let expected: Vec<_> = crate::row::JOB_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(columns, expected);
    }
}
