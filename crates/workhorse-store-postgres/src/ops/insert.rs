//! `job_insert_many`: new jobs, all or none, honouring unique keys, in one `INSERT … SELECT
//! FROM unnest(…)`.
//!
//! Unique keys cannot be a unique index (a finished job holds its key only if it succeeded
//! or within its window), so the check is a read: to keep two nodes from inserting the same
//! key at once, the transaction first takes advisory locks on the keys' stripes (1024 of
//! them, so a batch of 10,000 keys never exhausts the lock table), then reads the holders.

use super::{Db, lock_space, notify_ready, stable_hash};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, decode_all};
use crate::sql::{live_states, quote};
use crate::types::{Ts, micros, ts};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use workhorse_core::clock::truncate;
use workhorse_core::{Job, JobId, JobState, NewJob, Timestamp};
use workhorse_store::plan::checks::{check_id_reuse, check_insert_batch};
use workhorse_store::{Inserted, JobInsertManyParams, StoreError};

/// Stripes of the unique-key locks.
const KEY_STRIPES: i32 = 1024;

const INSERT: &str = "INSERT INTO workhorse_jobs (id, task, queue, state, priority, args, kwargs, \
    metadata, attempt, max_attempts, backoff_base_ms, backoff_max_ms, timeout_us, key, \
    key_window_us, concurrency_key, concurrency_limit, created_at, run_at, expires_at, \
    schedule, scheduled_for, workflow_id) \
    SELECT id, task, queue, state, priority, args, kwargs, metadata, 0, max_attempts, \
    backoff_base_ms, backoff_max_ms, timeout_us, key, key_window_us, concurrency_key, \
    concurrency_limit, $19, run_at, expires_at, schedule, scheduled_for, workflow_id \
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::text[], \
    $7::text[], $8::text[], $9::int4[], $10::int8[], $11::int8[], $12::int8[], $13::text[], \
    $14::int8[], $15::text[], $16::int4[], $17::timestamptz[], $18::timestamptz[], \
    $20::text[], $21::timestamptz[], $22::uuid[]) \
    AS n(id, task, queue, state, priority, args, kwargs, metadata, max_attempts, \
    backoff_base_ms, backoff_max_ms, timeout_us, key, key_window_us, concurrency_key, \
    concurrency_limit, run_at, expires_at, schedule, scheduled_for, workflow_id) \
    ON CONFLICT (id) DO NOTHING RETURNING id";

/// The jobs already using the ids `$1`.
static BY_IDS: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE id = ANY($1)"));

/// Jobs that may hold one of the keys `$1`, newest first, read through the
/// `workhorse_jobs_key` index. Only jobs that can never hold a key (finished without a
/// window and not succeeded, or with a window of zero) are left out; [`Job::holds_key`]
/// decides the rest.
static KEY_CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE key = ANY($1) \
         AND (state IN ({}) OR (state = {} AND key_window_us IS NULL) OR key_window_us > 0) \
         ORDER BY seq DESC",
        live_states(),
        quote(JobState::Succeeded)
    )
});

/// Inserts the batch in order; a job whose key is held gets the holder back instead.
pub(crate) async fn insert_many(
    db: &Db,
    params: JobInsertManyParams,
) -> Result<Vec<Inserted>, Error> {
    check_insert_batch(params.jobs.len())?;
    if params.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let now = params.now;
    let mut tx = db.pool.begin().await?;
    let ids: Vec<uuid::Uuid> = params.jobs.iter().map(|j| j.id.0).collect();
    let mut used = jobs_by_ids(&mut tx, &ids).await?;
    let mut holders = key_holders(&mut tx, &params.jobs, now).await?;
    let mut inserted = Vec::with_capacity(params.jobs.len());
    let mut rows = Columns::default();
    for mut new in params.jobs {
        if let Some(existing) = used.get(&new.id) {
            check_id_reuse(existing, &new)?;
            inserted.push(Inserted {
                job: existing.clone(),
                created: false,
            });
            continue;
        }
        if let Some(holder) = new.key.as_ref().and_then(|key| holders.get(key)) {
            inserted.push(Inserted {
                job: holder.clone(),
                created: false,
            });
            continue;
        }
        // Stored timestamps keep microseconds; the job returned must equal the job stored.
        new.run_at = new.run_at.map(truncate);
        new.expires_at = new.expires_at.map(truncate);
        let job = new.into_job(now);
        rows.push(&job);
        used.insert(job.id, job.clone());
        if let Some(key) = &job.key {
            holders.insert(key.clone(), job.clone());
        }
        inserted.push(Inserted { job, created: true });
    }
    if !rows.ids.is_empty() {
        let wanted = rows.ids.len();
        if rows.insert(&mut tx, now).await? < wanted {
            // Another transaction committed one of these ids since the read above: the
            // same enqueue sent twice at once. A 503 makes the client retry, and the
            // retry finds that job and answers it.
            return Err(StoreError::Unavailable(
                "a job id was inserted concurrently; retry the enqueue".to_owned(),
            )
            .into());
        }
    }
    let ready: BTreeSet<&str> = inserted
        .iter()
        .filter(|i| i.created && i.job.state == JobState::Ready)
        .map(|i| i.job.queue.as_str())
        .collect();
    notify_ready(&mut tx, &db.channel, ready).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// The jobs already using any of `ids`.
async fn jobs_by_ids(
    conn: &mut sqlx::PgConnection,
    ids: &[uuid::Uuid],
) -> Result<HashMap<JobId, Job>, Error> {
    let rows = sqlx::query(BY_IDS.as_str())
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    Ok(decode_all(&rows)?
        .into_iter()
        .map(|row| (row.job.id, row.job))
        .collect())
}

/// Locks the stripes of the batch's keys, then finds the job holding each key now.
async fn key_holders(
    conn: &mut sqlx::PgConnection,
    jobs: &[NewJob],
    now: Timestamp,
) -> Result<HashMap<String, Job>, Error> {
    let keys: BTreeSet<&str> = jobs.iter().filter_map(|j| j.key.as_deref()).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    // Sorted, so that two batches always lock shared stripes in the same order.
    let stripes: BTreeSet<i32> = keys
        .iter()
        .map(|key| stable_hash(key).rem_euclid(KEY_STRIPES))
        .collect();
    sqlx::query("SELECT pg_advisory_xact_lock($1, s) FROM unnest($2::int4[]) AS s")
        .bind(lock_space::UNIQUE_KEY)
        .bind(stripes.into_iter().collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    let rows = sqlx::query(KEY_CANDIDATES.as_str())
        .bind(keys.into_iter().collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await?;
    let mut holders = HashMap::new();
    for row in decode_all(&rows)? {
        let job = row.job;
        if let Some(key) = job.key.clone()
            && !holders.contains_key(&key)
            && job.holds_key(now)
        {
            holders.insert(key, job);
        }
    }
    Ok(holders)
}

/// The new rows, column by column, for `unnest`.
#[derive(Default)]
pub(crate) struct Columns {
    ids: Vec<uuid::Uuid>,
    tasks: Vec<String>,
    queues: Vec<String>,
    states: Vec<&'static str>,
    priorities: Vec<i16>,
    args: Vec<String>,
    kwargs: Vec<String>,
    metadata: Vec<Option<String>>,
    max_attempts: Vec<i32>,
    backoff_base_ms: Vec<i64>,
    backoff_max_ms: Vec<i64>,
    timeout_us: Vec<Option<i64>>,
    keys: Vec<Option<String>>,
    key_window_us: Vec<Option<i64>>,
    concurrency_keys: Vec<Option<String>>,
    concurrency_limits: Vec<i32>,
    run_at: Vec<Ts>,
    expires_at: Vec<Option<Ts>>,
    schedules: Vec<Option<String>>,
    scheduled_for: Vec<Option<Ts>>,
    workflows: Vec<Option<uuid::Uuid>>,
}

impl Columns {
    /// Adds one job's row.
    pub(crate) fn push(&mut self, job: &Job) {
        self.ids.push(job.id.0);
        self.tasks.push(job.task.clone());
        self.queues.push(job.queue.clone());
        self.states.push(job.state.as_str());
        self.priorities.push(i16::from(job.priority));
        self.args.push(job.args.get().to_owned());
        self.kwargs.push(job.kwargs.get().to_owned());
        self.metadata
            .push(job.metadata.as_ref().map(|m| m.get().to_owned()));
        self.max_attempts.push(saturating_i32(job.max_attempts));
        self.backoff_base_ms
            .push(saturating_i64(job.backoff.base_ms));
        self.backoff_max_ms.push(saturating_i64(job.backoff.max_ms));
        self.timeout_us.push(job.timeout.map(micros));
        self.keys.push(job.key.clone());
        self.key_window_us.push(job.key_window.map(micros));
        self.concurrency_keys.push(job.concurrency_key.clone());
        self.concurrency_limits
            .push(saturating_i32(job.concurrency_limit));
        self.run_at.push(Ts(job.run_at));
        self.expires_at.push(ts(job.expires_at));
        self.schedules.push(job.schedule.clone());
        self.scheduled_for.push(ts(job.scheduled_for));
        self.workflows.push(job.workflow.map(|w| w.0));
    }

    /// Inserts every row pushed, in one statement; returns how many were inserted (fewer
    /// when an id was already used).
    pub(crate) async fn insert(
        self,
        conn: &mut sqlx::PgConnection,
        now: Timestamp,
    ) -> Result<usize, Error> {
        let rows = sqlx::query(INSERT)
            .bind(self.ids)
            .bind(self.tasks)
            .bind(self.queues)
            .bind(self.states)
            .bind(self.priorities)
            .bind(self.args)
            .bind(self.kwargs)
            .bind(self.metadata)
            .bind(self.max_attempts)
            .bind(self.backoff_base_ms)
            .bind(self.backoff_max_ms)
            .bind(self.timeout_us)
            .bind(self.keys)
            .bind(self.key_window_us)
            .bind(self.concurrency_keys)
            .bind(self.concurrency_limits)
            .bind(self.run_at)
            .bind(self.expires_at)
            .bind(Ts(now))
            .bind(self.schedules)
            .bind(self.scheduled_for)
            .bind(self.workflows)
            .fetch_all(conn)
            .await?;
        Ok(rows.len())
    }
}

fn saturating_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
