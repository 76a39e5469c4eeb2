//! `schedule_fire_due`, `schedule_trigger` and `schedule_history`.
//!
//! All of a `schedule_fire_due` call runs inside one writer command, so inside one
//! transaction: the jobs of the fires, the advanced `next_fire_at` and the history commit
//! together or not at all. The single writer already serializes firers within a process;
//! the `next_fire_at` guard also stops a second process sharing the file.

use super::schedule::{SCHEDULE_COLUMNS, decode, job_blob};
use super::{insert, job_by_id};
use crate::counts::WriteTx;
use crate::error::Error;
use crate::row::{Micros, micros};
use rusqlite::{Connection, params};
use uuid::Uuid;
use workhorse_core::{Overlap, Timestamp, due_fires};
use workhorse_store::plan::schedule::{job_fire, skipped_fire, still_active};
use workhorse_store::{
    Fire, FireOutcome, HISTORY_KEPT, JobInsertManyParams, Schedule, ScheduleFireDueParams,
    ScheduleHistoryParams, ScheduleTriggerParams,
};

/// Fires every due schedule, up to `limit` of them.
pub(crate) fn fire_due(
    tx: &mut WriteTx<'_>,
    params: &ScheduleFireDueParams,
) -> Result<Vec<Fire>, Error> {
    let conn = tx.conn();
    let due: Vec<Schedule> = {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE paused = 0 \
             AND next_fire_at IS NOT NULL AND next_fire_at <= ?1 \
             ORDER BY next_fire_at LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![micros(params.now), params.limit], decode)?;
        rows.collect::<Result<_, _>>()?
    };
    let mut fires = Vec::new();
    for schedule in due {
        fires.extend(fire_one(tx, schedule, params.now)?);
    }
    Ok(fires)
}

/// Fires one due schedule and advances it; nothing if another firer advanced it first.
fn fire_one(
    tx: &mut WriteTx<'_>,
    mut schedule: Schedule,
    now: Timestamp,
) -> Result<Vec<Fire>, Error> {
    let conn = tx.conn();
    let Some(next) = schedule.next_fire_at else {
        return Ok(Vec::new());
    };
    let def = &schedule.definition;
    let decided = due_fires(&def.spec, next, now, def.misfire, def.grace);
    let advanced = conn
        .prepare_cached(
            "UPDATE schedules SET next_fire_at = ?1 WHERE name = ?2 AND next_fire_at = ?3",
        )?
        .execute(params![
            decided.next_fire_at.map(micros),
            &def.name,
            micros(next)
        ])?;
    if advanced == 0 {
        return Ok(Vec::new());
    }
    let mut fires = Vec::with_capacity(decided.fire.len());
    for fire_at in decided.fire {
        let overlap = schedule.definition.overlap;
        let blocked = overlap == Overlap::Skip && previous_active(conn, &schedule)?;
        let fire = if blocked {
            skipped_fire(&schedule.definition.name, fire_at)
        } else {
            make_job(tx, &mut schedule, fire_at, now, false)?
        };
        record(conn, &fire)?;
        fires.push(fire);
    }
    Ok(fires)
}

/// Whether the job of the schedule's previous fire still waits or runs.
fn previous_active(conn: &Connection, schedule: &Schedule) -> Result<bool, Error> {
    let Some(id) = schedule.last_job else {
        return Ok(false);
    };
    Ok(job_by_id(conn, id)?.is_some_and(|job| still_active(job.state)))
}

/// Inserts the fire's job (or finds the job its key already made) and makes it the
/// schedule's last job.
fn make_job(
    tx: &mut WriteTx<'_>,
    schedule: &mut Schedule,
    fire_at: Timestamp,
    now: Timestamp,
    triggered: bool,
) -> Result<Fire, Error> {
    let name = schedule.definition.name.clone();
    let new = schedule.definition.job.new_job(&name, fire_at);
    let inserted = insert::insert_many(
        tx,
        JobInsertManyParams {
            now,
            jobs: vec![new],
        },
    )?;
    let job = inserted
        .into_iter()
        .next()
        .map(|i| i.job)
        .ok_or_else(|| crate::error::invalid("the fire's job was not inserted"))?;
    tx.conn()
        .prepare_cached("UPDATE schedules SET last_fire_at = ?1, last_job = ?2 WHERE name = ?3")?
        .execute(params![micros(fire_at), job_blob(Some(job.id)), name])?;
    schedule.last_fire_at = Some(fire_at);
    schedule.last_job = Some(job.id);
    Ok(job_fire(name, fire_at, job.id, triggered))
}

/// Appends a fire to its schedule's history and drops what is beyond [`HISTORY_KEPT`].
fn record(conn: &Connection, fire: &Fire) -> Result<(), Error> {
    let (job, skipped) = match &fire.outcome {
        FireOutcome::Job(id) => (job_blob(Some(*id)), None),
        FireOutcome::Skipped(why) => (job_blob(None), Some(why.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO schedule_fires (schedule, fire_at, job_id, skipped, triggered) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        fire.schedule,
        micros(fire.fire_at),
        job,
        skipped,
        fire.triggered
    ])?;
    conn.prepare_cached(
        "DELETE FROM schedule_fires WHERE schedule = ?1 AND seq <= \
         (SELECT seq FROM schedule_fires WHERE schedule = ?1 ORDER BY seq DESC \
          LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![fire.schedule, HISTORY_KEPT])?;
    Ok(())
}

/// A fire by hand, now.
pub(crate) fn trigger(
    tx: &mut WriteTx<'_>,
    params: &ScheduleTriggerParams,
) -> Result<Option<Fire>, Error> {
    let conn = tx.conn();
    let Some(mut schedule) = super::schedule::get(conn, &params.name)? else {
        return Ok(None);
    };
    let fire = make_job(tx, &mut schedule, params.now, params.now, true)?;
    record(conn, &fire)?;
    Ok(Some(fire))
}

/// Recent fires, newest first.
pub(crate) fn history(
    conn: &Connection,
    params: &ScheduleHistoryParams,
) -> Result<Vec<Fire>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT schedule, fire_at, job_id, skipped, triggered FROM schedule_fires \
         WHERE schedule = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![params.name, params.limit], |row| {
        let job: Option<[u8; 16]> = row.get(2)?;
        let outcome = match job {
            Some(bytes) => FireOutcome::Job(workhorse_core::JobId(Uuid::from_bytes(bytes))),
            None => FireOutcome::Skipped(row.get::<_, Option<String>>(3)?.unwrap_or_default()),
        };
        Ok(Fire {
            schedule: row.get(0)?,
            fire_at: row.get::<_, Micros>(1)?.0,
            outcome,
            triggered: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
