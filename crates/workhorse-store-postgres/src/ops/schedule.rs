//! Schedules: upsert, read, delete, pause. Firing lives in `schedule_fire.rs`.

use super::Db;
use crate::error::{Error, internal};
use crate::types::{Ts, duration, micros, ts};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use workhorse_core::{JobId, Json, Overlap, Timestamp};
use workhorse_store::plan::schedule::{UpsertPlan, UpsertState, plan_upsert, upserted};
use workhorse_store::{
    Schedule, ScheduleDefinition, ScheduleJob, ScheduleSetPausedParams, ScheduleUpsertParams,
    ScheduleUpserted,
};

/// Every column of a schedule, in the order [`decode`] reads them.
pub(crate) const SCHEDULE_COLUMNS: &str = "name, spec, task, queue, priority, args, kwargs, \
    max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, last_fire_at, \
    last_job, created_at, updated_at";

const UPSERT: &str = "INSERT INTO workhorse_schedules (name, spec, task, queue, priority, args, \
    kwargs, max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, \
    created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
    $14, $15, $15) ON CONFLICT (name) DO UPDATE SET spec = $2, task = $3, queue = $4, \
    priority = $5, args = $6, kwargs = $7, max_attempts = $8, timeout_us = $9, misfire = $10, \
    grace_us = $11, overlap = $12, paused = $13, next_fire_at = $14, updated_at = $15";

/// Reads a schedule from a row that selected [`SCHEDULE_COLUMNS`].
pub(crate) fn decode(row: &PgRow) -> Result<Schedule, Error> {
    let overlap: &str = row.try_get(11)?;
    Ok(Schedule {
        definition: ScheduleDefinition {
            name: row.try_get(0)?,
            spec: serde_json::from_str(row.try_get(1)?)?,
            job: ScheduleJob {
                task: row.try_get(2)?,
                queue: row.try_get(3)?,
                priority: u8::try_from(row.try_get::<i16, _>(4)?)
                    .map_err(|e| internal(format!("stored priority: {e}")))?,
                args: Json::from_raw(row.try_get::<&str, _>(5)?)?,
                kwargs: Json::from_raw(row.try_get::<&str, _>(6)?)?,
                max_attempts: u32::try_from(row.try_get::<i32, _>(7)?)
                    .map_err(|e| internal(format!("stored max_attempts: {e}")))?,
                timeout: row.try_get::<Option<i64>, _>(8)?.map(duration),
            },
            misfire: serde_json::from_str(row.try_get(9)?)?,
            grace: duration(row.try_get(10)?),
            overlap: if overlap == "skip" {
                Overlap::Skip
            } else {
                Overlap::Allow
            },
        },
        paused: row.try_get(12)?,
        next_fire_at: row.try_get::<Option<Ts>, _>(13)?.map(|t| t.0),
        last_fire_at: row.try_get::<Option<Ts>, _>(14)?.map(|t| t.0),
        last_job: row.try_get::<Option<uuid::Uuid>, _>(15)?.map(JobId),
        created_at: row.try_get::<Ts, _>(16)?.0,
        updated_at: row.try_get::<Ts, _>(17)?.0,
    })
}

/// One schedule by name; `lock` takes its row lock for the transaction.
pub(crate) async fn get_in(
    conn: &mut PgConnection,
    name: &str,
    lock: bool,
) -> Result<Option<Schedule>, Error> {
    let sql = format!(
        "SELECT {SCHEDULE_COLUMNS} FROM workhorse_schedules WHERE name = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// One schedule by name.
pub(crate) async fn get(db: &Db, name: &str) -> Result<Option<Schedule>, Error> {
    let mut conn = db.pool.acquire().await?;
    get_in(&mut conn, name, false).await
}

/// Every schedule, by name.
pub(crate) async fn list(db: &Db) -> Result<Vec<Schedule>, Error> {
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM workhorse_schedules ORDER BY name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Inserts or updates; an identical definition is left as it is. The existing row is
/// locked first, so concurrent declarations of one schedule take turns.
pub(crate) async fn upsert(
    db: &Db,
    params: ScheduleUpsertParams,
) -> Result<ScheduleUpserted, Error> {
    let mut tx = db.pool.begin().await?;
    // Serializes first declarations too (no row to lock yet).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("workhorse:schedule:{}", params.definition.name))
        .execute(&mut *tx)
        .await?;
    let existing = get_in(&mut tx, &params.definition.name, true).await?;
    let UpsertState {
        next_fire_at,
        paused,
    } = match plan_upsert(existing.as_ref(), &params) {
        UpsertPlan::Unchanged(answer) => return Ok(*answer),
        UpsertPlan::Store(state) => state,
    };
    let def = &params.definition;
    let job = &def.job;
    sqlx::query(UPSERT)
        .bind(&def.name)
        .bind(serde_json::to_string(&def.spec)?)
        .bind(&job.task)
        .bind(&job.queue)
        .bind(i16::from(job.priority))
        .bind(job.args.get())
        .bind(job.kwargs.get())
        .bind(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
        .bind(job.timeout.map(micros))
        .bind(serde_json::to_string(&def.misfire)?)
        .bind(micros(def.grace))
        .bind(if def.overlap == Overlap::Skip {
            "skip"
        } else {
            "allow"
        })
        .bind(paused)
        .bind(ts(next_fire_at))
        .bind(Ts(params.now))
        .execute(&mut *tx)
        .await?;
    let schedule = get_in(&mut tx, &def.name, false)
        .await?
        .ok_or_else(|| internal(format!("schedule {:?} vanished while stored", def.name)))?;
    tx.commit().await?;
    Ok(upserted(schedule, existing.is_some()))
}

/// Deletes a schedule and its history.
pub(crate) async fn delete(db: &Db, name: &str) -> Result<bool, Error> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM workhorse_schedule_fires WHERE schedule = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM workhorse_schedules WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

/// Pauses or resumes.
pub(crate) async fn set_paused(
    db: &Db,
    params: &ScheduleSetPausedParams,
) -> Result<Option<Schedule>, Error> {
    sqlx::query("UPDATE workhorse_schedules SET paused = $1, updated_at = $2 WHERE name = $3")
        .bind(params.paused)
        .bind(Ts(params.now))
        .bind(&params.name)
        .execute(&db.pool)
        .await?;
    get(db, &params.name).await
}

/// The earliest next fire of an unpaused schedule.
pub(crate) async fn next_due(db: &Db) -> Result<Option<Timestamp>, Error> {
    let next: Option<Ts> = sqlx::query_scalar(
        "SELECT min(next_fire_at) FROM workhorse_schedules \
         WHERE NOT paused AND next_fire_at IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(next.map(|t| t.0))
}
