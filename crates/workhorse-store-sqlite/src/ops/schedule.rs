//! Schedules: upsert, declare a set, read, delete, pause. Firing lives in `schedule_fire.rs`.

use crate::error::{Error, invalid};
use crate::row::{Micros, duration_micros, micros, uuid_blob};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, named_params};
use std::time::Duration;
use uuid::Uuid;
use workhorse_core::{Backoff, JobId, Json, Misfire, Overlap, Timestamp};
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

/// An existing schedule keeps its owner: only a new one takes `:owner`.
const UPSERT: &str = "INSERT INTO schedules (name, spec, task, queue, priority, args, kwargs, \
    max_attempts, timeout_us, misfire, grace_us, overlap, paused, next_fire_at, created_at, \
    updated_at, owner, backoff, expires_us, concurrency_key, concurrency_limit, metadata) \
    VALUES (:name, :spec, :task, :queue, :priority, :args, :kwargs, \
    :max_attempts, :timeout_us, :misfire, :grace_us, :overlap, :paused, :next_fire_at, :now, \
    :now, :owner, :backoff, :expires_us, :concurrency_key, :concurrency_limit, :metadata) \
    ON CONFLICT (name) DO UPDATE SET spec = :spec, task = :task, queue = :queue, \
    priority = :priority, args = :args, kwargs = :kwargs, max_attempts = :max_attempts, \
    timeout_us = :timeout_us, misfire = :misfire, grace_us = :grace_us, overlap = :overlap, \
    paused = :paused, next_fire_at = :next_fire_at, updated_at = :now, backoff = :backoff, \
    expires_us = :expires_us, concurrency_key = :concurrency_key, \
    concurrency_limit = :concurrency_limit, metadata = :metadata";

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
                backoff: backoff(19, row.get(19)?)?,
                timeout: row.get::<_, Option<i64>>(8)?.map(duration),
                expires: row.get::<_, Option<i64>>(20)?.map(duration),
                concurrency_key: row.get(21)?,
                concurrency_limit: row.get(22)?,
                metadata: row
                    .get::<_, Option<String>>(23)?
                    .map(|text| raw(23, &text))
                    .transpose()?,
            },
            misfire: parse(9, &misfire)?,
            grace: duration(row.get(10)?),
            overlap: parse(11, &format!("\"{overlap}\""))?,
        },
        owner: row.get(18)?,
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

/// A stored backoff; NULL (a schedule from before backoffs were kept) is the default.
fn backoff(column: usize, text: Option<String>) -> rusqlite::Result<Backoff> {
    text.map_or(Ok(Backoff::default()), |text| parse(column, &text))
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

/// Inserts or updates; an identical definition is left as it is. A new schedule has no
/// owner.
pub(crate) fn upsert(
    conn: &Connection,
    params: &ScheduleUpsertParams,
) -> Result<ScheduleUpserted, Error> {
    upsert_owned(conn, params, None)
}

/// Declares `params.owner`'s set in the caller's transaction: refused whole on a conflict
/// (nothing written yet), else every schedule upserted and the left-out ones deleted.
pub(crate) fn declare_set(
    conn: &Connection,
    params: &ScheduleDeclareSetParams,
) -> Result<ScheduleSetDeclared, Error> {
    check_set(params).map_err(invalid)?;
    let mut existing = Vec::new();
    for member in &params.schedules {
        existing.extend(get(conn, &member.definition.name)?);
    }
    if let Some(conflict) = set_conflict(&params.owner, &existing) {
        return Ok(conflict);
    }
    let mut upserted = Vec::with_capacity(params.schedules.len());
    for index in 0..params.schedules.len() {
        let one = set_upsert(params, index);
        upserted.push(upsert_owned(conn, &one, Some(&params.owner))?);
    }
    let deleted = left_out(params, owned(conn, &params.owner)?);
    for name in &deleted {
        delete(conn, name)?;
    }
    Ok(ScheduleSetDeclared::Declared { upserted, deleted })
}

/// The names of `owner`'s schedules.
fn owned(conn: &Connection, owner: &str) -> Result<Vec<String>, Error> {
    let mut stmt = conn.prepare_cached("SELECT name FROM schedules WHERE owner = ?1")?;
    let rows = stmt.query_map([owner], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Inserts (owned by `owner`) or updates (keeping its owner).
fn upsert_owned(
    conn: &Connection,
    params: &ScheduleUpsertParams,
    owner: Option<&str>,
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
        ":owner": owner,
        ":backoff": serde_json::to_string(&job.backoff)?,
        ":expires_us": job.expires.map(duration_micros),
        ":concurrency_key": job.concurrency_key,
        ":concurrency_limit": job.concurrency_limit,
        ":metadata": job.metadata.as_ref().map(Json::get),
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
