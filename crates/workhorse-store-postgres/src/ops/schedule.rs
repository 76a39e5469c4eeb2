//! Schedules: upsert, declare a set, read, delete, pause. Firing lives in `schedule_fire.rs`.

use super::Db;
use crate::error::{Error, internal};
use crate::types::{Ts, duration, micros, ts};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use workhorse_core::{Backoff, JobId, Json, Overlap, Timestamp};
use workhorse_store::plan::schedule::{
    UpsertPlan, UpsertState, check_set, left_out, plan_upsert, set_conflict, set_upsert, upserted,
};
use workhorse_store::{
    Schedule, ScheduleDeclareSetParams, ScheduleDefinition, ScheduleJob, ScheduleSetDeclared,
    ScheduleSetPausedParams, ScheduleUpsertParams, ScheduleUpserted,
};

/// Every column of a schedule, in the order [`decode`] reads them.
pub(crate) const SCHEDULE_COLUMNS: &str = "name, spec, task, queue, priority, args, kwargs, \
    max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, last_fire_at, \
    last_job, created_at, updated_at, owner, backoff, expires_us, concurrency_key, \
    concurrency_limit, metadata";

/// An existing schedule keeps its owner: only a new one takes `$16`.
const UPSERT: &str = "INSERT INTO workhorse_schedules (name, spec, task, queue, priority, args, \
    kwargs, max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, \
    created_at, updated_at, owner, backoff, expires_us, concurrency_key, concurrency_limit, \
    metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
    $14, $15, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT (name) DO UPDATE SET spec = $2, \
    task = $3, queue = $4, priority = $5, args = $6, kwargs = $7, max_attempts = $8, \
    timeout_us = $9, misfire = $10, grace_us = $11, overlap = $12, paused = $13, \
    next_fire_at = $14, updated_at = $15, backoff = $17, expires_us = $18, \
    concurrency_key = $19, concurrency_limit = $20, metadata = $21";

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
                backoff: row
                    .try_get::<Option<&str>, _>(19)?
                    .map_or(Ok(Backoff::default()), serde_json::from_str)?,
                timeout: row.try_get::<Option<i64>, _>(8)?.map(duration),
                expires: row.try_get::<Option<i64>, _>(20)?.map(duration),
                concurrency_key: row.try_get(21)?,
                concurrency_limit: u32::try_from(row.try_get::<i32, _>(22)?)
                    .map_err(|e| internal(format!("stored concurrency_limit: {e}")))?,
                metadata: row
                    .try_get::<Option<&str>, _>(23)?
                    .map(Json::from_raw)
                    .transpose()?,
            },
            misfire: serde_json::from_str(row.try_get(9)?)?,
            grace: duration(row.try_get(10)?),
            overlap: if overlap == "skip" {
                Overlap::Skip
            } else {
                Overlap::Allow
            },
        },
        owner: row.try_get(18)?,
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

/// Inserts or updates; an identical definition is left as it is. A new schedule has no
/// owner.
pub(crate) async fn upsert(
    db: &Db,
    params: ScheduleUpsertParams,
) -> Result<ScheduleUpserted, Error> {
    let mut tx = db.pool.begin().await?;
    lock_name(&mut tx, &params.definition.name).await?;
    let upserted = upsert_in(&mut tx, &params, None).await?;
    tx.commit().await?;
    Ok(upserted)
}

/// Declares `params.owner`'s set in one transaction: refused whole on a conflict (nothing
/// written), else every schedule upserted and the left-out ones deleted.
pub(crate) async fn declare_set(
    db: &Db,
    params: ScheduleDeclareSetParams,
) -> Result<ScheduleSetDeclared, Error> {
    check_set(&params).map_err(crate::error::invalid)?;
    let mut tx = db.pool.begin().await?;
    // Two declarations of one owner take turns; names are locked in order, so sets of
    // different owners sharing a name cannot deadlock.
    lock(&mut tx, &format!("workhorse:schedule-set:{}", params.owner)).await?;
    let mut names: Vec<&str> = params
        .schedules
        .iter()
        .map(|s| s.definition.name.as_str())
        .collect();
    names.sort_unstable();
    let mut existing = Vec::new();
    for name in names {
        lock_name(&mut tx, name).await?;
        existing.extend(get_in(&mut tx, name, true).await?);
    }
    if let Some(conflict) = set_conflict(&params.owner, &existing) {
        return Ok(conflict);
    }
    let mut upserted = Vec::with_capacity(params.schedules.len());
    for index in 0..params.schedules.len() {
        let one = set_upsert(&params, index);
        upserted.push(upsert_in(&mut tx, &one, Some(&params.owner)).await?);
    }
    let owned: Vec<String> =
        sqlx::query_scalar("SELECT name FROM workhorse_schedules WHERE owner = $1")
            .bind(&params.owner)
            .fetch_all(&mut *tx)
            .await?;
    let deleted = left_out(&params, owned);
    for name in &deleted {
        delete_in(&mut tx, name).await?;
    }
    tx.commit().await?;
    Ok(ScheduleSetDeclared::Declared { upserted, deleted })
}

/// Takes the transaction-scoped advisory lock of `key`.
async fn lock(conn: &mut PgConnection, key: &str) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Serializes declarations of one schedule, first ones too (no row to lock yet).
async fn lock_name(conn: &mut PgConnection, name: &str) -> Result<(), Error> {
    lock(conn, &format!("workhorse:schedule:{name}")).await
}

/// Inserts (owned by `owner`) or updates (keeping its owner) under the caller's name lock;
/// the existing row is locked first.
async fn upsert_in(
    conn: &mut PgConnection,
    params: &ScheduleUpsertParams,
    owner: Option<&str>,
) -> Result<ScheduleUpserted, Error> {
    let existing = get_in(conn, &params.definition.name, true).await?;
    let UpsertState {
        next_fire_at,
        paused,
    } = match plan_upsert(existing.as_ref(), params) {
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
        .bind(owner)
        .bind(serde_json::to_string(&job.backoff)?)
        .bind(job.expires.map(micros))
        .bind(job.concurrency_key.as_deref())
        .bind(i32::try_from(job.concurrency_limit).unwrap_or(i32::MAX))
        .bind(job.metadata.as_ref().map(Json::get))
        .execute(&mut *conn)
        .await?;
    let schedule = get_in(conn, &def.name, false)
        .await?
        .ok_or_else(|| internal(format!("schedule {:?} vanished while stored", def.name)))?;
    Ok(upserted(schedule, existing.is_some()))
}

/// Deletes a schedule and its history.
pub(crate) async fn delete(db: &Db, name: &str) -> Result<bool, Error> {
    let mut tx = db.pool.begin().await?;
    let deleted = delete_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Deletes a schedule and its history in the caller's transaction.
async fn delete_in(conn: &mut PgConnection, name: &str) -> Result<bool, Error> {
    sqlx::query("DELETE FROM workhorse_schedule_fires WHERE schedule = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    let deleted = sqlx::query("DELETE FROM workhorse_schedules WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?
        .rows_affected();
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
