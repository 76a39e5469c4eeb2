//! Schedules: upsert, read, delete, pause. Firing lives in `schedule_fire.rs`.

use crate::error::{Error, invalid};
use crate::row::{Micros, duration_micros, micros, uuid_blob};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, named_params};
use std::time::Duration;
use uuid::Uuid;
use workhorse_core::{JobId, Json, Misfire, Overlap, Timestamp};
use workhorse_store::plan::schedule::{UpsertPlan, UpsertState, plan_upsert, upserted};
use workhorse_store::{
    Schedule, ScheduleDefinition, ScheduleJob, ScheduleSetPausedParams, ScheduleUpsertParams,
    ScheduleUpserted,
};

/// Every column of a schedule, in the order [`decode`] reads them.
pub(crate) const SCHEDULE_COLUMNS: &str = "name, spec, task, queue, priority, args, kwargs, \
    max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, last_fire_at, \
    last_job, created_at, updated_at";

const UPSERT: &str = "INSERT INTO schedules (name, spec, task, queue, priority, args, kwargs, \
    max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, created_at, \
    updated_at) VALUES (:name, :spec, :task, :queue, :priority, :args, :kwargs, \
    :max_attempts, :timeout_us, :misfire, :grace_us, :overlap, :paused, :next_fire_at, :now, \
    :now) ON CONFLICT (name) DO UPDATE SET spec = :spec, task = :task, queue = :queue, \
    priority = :priority, args = :args, kwargs = :kwargs, max_attempts = :max_attempts, \
    timeout_us = :timeout_us, misfire = :misfire, grace_us = :grace_us, overlap = :overlap, \
    paused = :paused, next_fire_at = :next_fire_at, updated_at = :now";

/// Reads a schedule from a row that starts with [`SCHEDULE_COLUMNS`].
pub(crate) fn decode(row: &Row<'_>) -> rusqlite::Result<Schedule> {
    let spec: String = row.get(1)?;
    let misfire: String = row.get(9)?;
    let overlap: String = row.get(11)?;
    let last_job: Option<[u8; 16]> = row.get(15)?;
    Ok(Schedule {
        definition: ScheduleDefinition {
            name: row.get(0)?,
            spec: parse(1, &spec)?,
            job: ScheduleJob {
                task: row.get(2)?,
                queue: row.get(3)?,
                priority: row.get(4)?,
                args: raw(5, &row.get::<_, String>(5)?)?,
                kwargs: raw(6, &row.get::<_, String>(6)?)?,
                max_attempts: row.get(7)?,
                timeout: row.get::<_, Option<i64>>(8)?.map(duration),
            },
            misfire: parse(9, &misfire)?,
            grace: duration(row.get(10)?),
            overlap: parse(11, &format!("\"{overlap}\""))?,
        },
        paused: row.get(12)?,
        next_fire_at: row.get::<_, Option<Micros>>(13)?.map(|t| t.0),
        last_fire_at: row.get::<_, Option<Micros>>(14)?.map(|t| t.0),
        last_job: last_job.map(|b| JobId(Uuid::from_bytes(b))),
        created_at: row.get::<_, Micros>(16)?.0,
        updated_at: row.get::<_, Micros>(17)?.0,
    })
}

fn parse<T: serde::de::DeserializeOwned>(column: usize, text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn raw(column: usize, text: &str) -> rusqlite::Result<Json> {
    Json::from_raw(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn duration(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// The `overlap` column value.
fn overlap_text(overlap: Overlap) -> &'static str {
    match overlap {
        Overlap::Allow => "allow",
        Overlap::Skip => "skip",
    }
}

/// One schedule by name.
pub(crate) fn get(conn: &Connection, name: &str) -> Result<Option<Schedule>, Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1"
    ))?;
    Ok(stmt.query_row([name], decode).optional()?)
}

/// Every schedule, by name.
pub(crate) fn list(conn: &Connection) -> Result<Vec<Schedule>, Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"
    ))?;
    let rows = stmt.query_map([], decode)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Inserts or updates; an identical definition is left as it is.
pub(crate) fn upsert(
    conn: &Connection,
    params: &ScheduleUpsertParams,
) -> Result<ScheduleUpserted, Error> {
    let existing = get(conn, &params.definition.name)?;
    let UpsertState {
        next_fire_at,
        paused,
    } = match plan_upsert(existing.as_ref(), params) {
        UpsertPlan::Unchanged(answer) => return Ok(*answer),
        UpsertPlan::Store(state) => state,
    };
    let def = &params.definition;
    let job = &def.job;
    conn.prepare_cached(UPSERT)?.execute(named_params! {
        ":name": def.name,
        ":spec": serde_json::to_string(&def.spec)?,
        ":task": job.task,
        ":queue": job.queue,
        ":priority": job.priority,
        ":args": job.args.get(),
        ":kwargs": job.kwargs.get(),
        ":max_attempts": job.max_attempts,
        ":timeout_us": job.timeout.map(duration_micros),
        ":misfire": misfire_text(def.misfire)?,
        ":grace_us": duration_micros(def.grace),
        ":overlap": overlap_text(def.overlap),
        ":paused": paused,
        ":next_fire_at": next_fire_at.map(micros),
        ":now": micros(params.now),
    })?;
    let schedule = get(conn, &def.name)?
        .ok_or_else(|| invalid(format!("schedule {:?} vanished while stored", def.name)))?;
    Ok(upserted(schedule, existing.is_some()))
}

fn misfire_text(misfire: Misfire) -> Result<String, Error> {
    Ok(serde_json::to_string(&misfire)?)
}

/// Deletes a schedule and its history.
pub(crate) fn delete(conn: &Connection, name: &str) -> Result<bool, Error> {
    conn.prepare_cached("DELETE FROM schedule_fires WHERE schedule = ?1")?
        .execute([name])?;
    Ok(conn
        .prepare_cached("DELETE FROM schedules WHERE name = ?1")?
        .execute([name])?
        > 0)
}

/// Pauses or resumes.
pub(crate) fn set_paused(
    conn: &Connection,
    params: &ScheduleSetPausedParams,
) -> Result<Option<Schedule>, Error> {
    conn.prepare_cached("UPDATE schedules SET paused = ?1, updated_at = ?2 WHERE name = ?3")?
        .execute(rusqlite::params![
            params.paused,
            micros(params.now),
            params.name
        ])?;
    get(conn, &params.name)
}

/// The earliest next fire of an unpaused schedule.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<Timestamp>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT min(next_fire_at) FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL",
    )?;
    Ok(stmt
        .query_row([], |row| row.get::<_, Option<Micros>>(0))?
        .map(|t| t.0))
}

/// A job id as the `last_job` / `job_id` columns store it.
pub(crate) fn job_blob(id: Option<JobId>) -> Value {
    match id {
        Some(id) => Value::Blob(uuid_blob(&id.0).to_vec()),
        None => Value::Null,
    }
}
