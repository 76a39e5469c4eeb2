//! `schedule_fire_due`, `schedule_trigger` and `schedule_history`.
//!
//! One `schedule_fire_due` call is one transaction: it locks the due schedule rows (`FOR
//! UPDATE SKIP LOCKED`, so a second firer on another node takes other schedules or none),
//! inserts the fires' jobs, advances `next_fire_at` with a guard on its old value, and
//! records the history; all commit together or not at all. A fire's job is found by its
//! key before inserting, so even a replayed fire makes no second job.

use super::schedule::{SCHEDULE_COLUMNS, decode, get_in};
use super::{Db, notify_ready};
use crate::error::{Error, internal};
use crate::types::{Ts, micros, ts};
use sqlx::{AssertSqlSafe, PgConnection, Row};
use std::collections::BTreeSet;
use workhorse_core::{JobId, JobState, Overlap, Timestamp, due_fires};
use workhorse_store::plan::schedule::{job_fire, skipped_fire, still_active};
use workhorse_store::{
    Fire, FireOutcome, HISTORY_KEPT, Schedule, ScheduleFireDueParams, ScheduleHistoryParams,
    ScheduleTriggerParams,
};

const INSERT_JOB: &str = "INSERT INTO workhorse_jobs (id, task, queue, state, priority, args, \
    kwargs, attempt, max_attempts, backoff_base_ms, backoff_max_ms, timeout_us, key, \
    key_window_us, concurrency_limit, created_at, run_at, schedule, scheduled_for, metadata, \
    concurrency_key, expires_at) \
    VALUES ($1, $2, $3, 'ready', $4, $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14, $14, \
    $15, $16, $17, $18, $19)";

/// Fires every due schedule, up to `limit` of them.
pub(crate) async fn fire_due(db: &Db, params: &ScheduleFireDueParams) -> Result<Vec<Fire>, Error> {
    let mut tx = db.pool.begin().await?;
    let sql = format!(
        "SELECT {SCHEDULE_COLUMNS} FROM workhorse_schedules WHERE NOT paused \
         AND next_fire_at IS NOT NULL AND next_fire_at <= $1 \
         ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(Ts(params.now))
        .bind(i64::from(params.limit))
        .fetch_all(&mut *tx)
        .await?;
    let due = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let mut fires = Vec::new();
    let mut queues = BTreeSet::new();
    for schedule in due {
        let made = fire_one(&mut tx, schedule.clone(), params.now).await?;
        if made
            .iter()
            .any(|f| matches!(f.outcome, FireOutcome::Job(_)))
        {
            queues.insert(schedule.definition.job.queue);
        }
        fires.extend(made);
    }
    notify_ready(
        &mut tx,
        &db.channel,
        queues.iter().map(String::as_str).collect(),
    )
    .await?;
    tx.commit().await?;
    Ok(fires)
}

async fn fire_one(
    conn: &mut PgConnection,
    mut schedule: Schedule,
    now: Timestamp,
) -> Result<Vec<Fire>, Error> {
    let Some(next) = schedule.next_fire_at else {
        return Ok(Vec::new());
    };
    let def = &schedule.definition;
    let decided = due_fires(&def.spec, next, now, def.misfire, def.grace);
    let advanced = sqlx::query(
        "UPDATE workhorse_schedules SET next_fire_at = $1 WHERE name = $2 AND next_fire_at = $3",
    )
    .bind(ts(decided.next_fire_at))
    .bind(&def.name)
    .bind(Ts(next))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if advanced == 0 {
        return Ok(Vec::new());
    }
    let mut fires = Vec::with_capacity(decided.fire.len());
    for fire_at in decided.fire {
        let blocked = schedule.definition.overlap == Overlap::Skip
            && previous_active(conn, schedule.last_job).await?;
        let fire = if blocked {
            skipped_fire(&schedule.definition.name, fire_at)
        } else {
            make_job(conn, &mut schedule, fire_at, now, false).await?
        };
        record(conn, &fire).await?;
        fires.push(fire);
    }
    Ok(fires)
}

async fn previous_active(conn: &mut PgConnection, last: Option<JobId>) -> Result<bool, Error> {
    let Some(id) = last else {
        return Ok(false);
    };
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM workhorse_jobs WHERE id = $1")
            .bind(id.0)
            .fetch_optional(conn)
            .await?;
    Ok(state.is_some_and(|s| s.parse::<JobState>().is_ok_and(still_active)))
}

/// Inserts the fire's job, or finds the job its key already made; it becomes the
/// schedule's last job. The schedule's row lock keeps two of these from racing.
async fn make_job(
    conn: &mut PgConnection,
    schedule: &mut Schedule,
    fire_at: Timestamp,
    now: Timestamp,
    triggered: bool,
) -> Result<Fire, Error> {
    let name = schedule.definition.name.clone();
    let mut new = schedule.definition.job.new_job(&name, fire_at);
    new.scheduled_for = new.scheduled_for.map(workhorse_core::clock::truncate);
    let key = new.key.clone().unwrap_or_default();
    let existing: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM workhorse_jobs WHERE key = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&key)
    .fetch_optional(&mut *conn)
    .await?;
    let id = match existing {
        Some(id) => JobId(id),
        None => insert_job(conn, new, now).await?,
    };
    sqlx::query("UPDATE workhorse_schedules SET last_fire_at = $1, last_job = $2 WHERE name = $3")
        .bind(Ts(fire_at))
        .bind(id.0)
        .bind(&name)
        .execute(&mut *conn)
        .await?;
    schedule.last_fire_at = Some(fire_at);
    schedule.last_job = Some(id);
    Ok(job_fire(name, fire_at, id, triggered))
}

/// Inserts a fire's new job, ready at once.
async fn insert_job(
    conn: &mut PgConnection,
    new: workhorse_core::NewJob,
    now: Timestamp,
) -> Result<JobId, Error> {
    let job = new.into_job(now);
    sqlx::query(INSERT_JOB)
        .bind(job.id.0)
        .bind(&job.task)
        .bind(&job.queue)
        .bind(i16::from(job.priority))
        .bind(job.args.get())
        .bind(job.kwargs.get())
        .bind(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
        .bind(i64::try_from(job.backoff.base_ms).unwrap_or(i64::MAX))
        .bind(i64::try_from(job.backoff.max_ms).unwrap_or(i64::MAX))
        .bind(job.timeout.map(micros))
        .bind(&job.key)
        .bind(job.key_window.map(micros))
        .bind(i32::try_from(job.concurrency_limit).unwrap_or(i32::MAX))
        .bind(Ts(now))
        .bind(&job.schedule)
        .bind(ts(job.scheduled_for))
        .bind(job.metadata.as_ref().map(workhorse_core::Json::get))
        .bind(&job.concurrency_key)
        .bind(ts(job.expires_at))
        .execute(conn)
        .await?;
    Ok(job.id)
}

/// Appends a fire to its schedule's history and drops what is beyond [`HISTORY_KEPT`].
async fn record(conn: &mut PgConnection, fire: &Fire) -> Result<(), Error> {
    let (job, skipped) = match &fire.outcome {
        FireOutcome::Job(id) => (Some(id.0), None),
        FireOutcome::Skipped(why) => (None, Some(why.as_str())),
    };
    sqlx::query(
        "INSERT INTO workhorse_schedule_fires (schedule, fire_at, job_id, skipped, triggered) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&fire.schedule)
    .bind(Ts(fire.fire_at))
    .bind(job)
    .bind(skipped)
    .bind(fire.triggered)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM workhorse_schedule_fires WHERE schedule = $1 AND seq <= \
         (SELECT seq FROM workhorse_schedule_fires WHERE schedule = $1 ORDER BY seq DESC \
          LIMIT 1 OFFSET $2)",
    )
    .bind(&fire.schedule)
    .bind(i64::from(HISTORY_KEPT))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A fire by hand, now.
pub(crate) async fn trigger(
    db: &Db,
    params: &ScheduleTriggerParams,
) -> Result<Option<Fire>, Error> {
    let mut tx = db.pool.begin().await?;
    let Some(mut schedule) = get_in(&mut tx, &params.name, true).await? else {
        return Ok(None);
    };
    let now = workhorse_core::clock::truncate(params.now);
    let fire = make_job(&mut tx, &mut schedule, now, now, true).await?;
    record(&mut tx, &fire).await?;
    let queue = BTreeSet::from([schedule.definition.job.queue.as_str()]);
    notify_ready(&mut tx, &db.channel, queue).await?;
    tx.commit().await?;
    Ok(Some(fire))
}

/// Recent fires, newest first.
pub(crate) async fn history(db: &Db, params: &ScheduleHistoryParams) -> Result<Vec<Fire>, Error> {
    let rows = sqlx::query(
        "SELECT schedule, fire_at, job_id, skipped, triggered FROM workhorse_schedule_fires \
         WHERE schedule = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(&params.name)
    .bind(i64::from(params.limit))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let outcome = match row.try_get::<Option<uuid::Uuid>, _>(2)? {
                Some(id) => FireOutcome::Job(JobId(id)),
                None => FireOutcome::Skipped(
                    row.try_get::<Option<String>, _>(3)?
                        .ok_or_else(|| internal("a fire with neither job nor reason"))?,
                ),
            };
            Ok(Fire {
                schedule: row.try_get(0)?,
                fire_at: row.try_get::<Ts, _>(1)?.0,
                outcome,
                triggered: row.try_get(4)?,
            })
        })
        .collect()
}
