//! Leased jobs: heartbeats, acks (complete or fail) and releases, each guarded by its lease.

use super::{JobUpdate, job_by_id, settle};
use crate::counts::WriteTx;
use crate::error::Error;
use crate::row::{json_text, micros, uuid_blob};
use crate::sql::SQL;
use rusqlite::{Connection, Statement, params};
use workhorse_core::retry::{FailureReport, Jitter};
use workhorse_core::{Job, JobId, JobState, Json, LeaseId, Timestamp};
use workhorse_store::plan::attempt::{failed, runs_under};
use workhorse_store::{
    Ack, AckKind, AckManyOutcome, AckOutcome, AckRefusal, Beat, HeartbeatOutcome, JobAckManyParams,
    JobHeartbeatManyParams, JobReleaseManyParams,
};

/// Extends each beat's lease (never past the job's time limit) and records its progress.
pub(crate) fn heartbeat_many(
    conn: &Connection,
    params: &JobHeartbeatManyParams,
) -> Result<Vec<Option<HeartbeatOutcome>>, Error> {
    let mut extend = conn.prepare_cached(&SQL.heartbeat)?;
    params
        .beats
        .iter()
        .map(|beat| heartbeat(conn, &mut extend, beat, params.now, params.lease))
        .collect()
}

fn heartbeat(
    conn: &Connection,
    extend: &mut Statement<'_>,
    beat: &Beat,
    now: Timestamp,
    lease: std::time::Duration,
) -> Result<Option<HeartbeatOutcome>, Error> {
    let Some(job) = job_by_id(conn, beat.id)? else {
        return Ok(None);
    };
    let deadline = job.lease_deadline(now, lease);
    let progress = beat
        .progress
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let changed = extend.execute(params![
        uuid_blob(&beat.id.0),
        uuid_blob(&beat.lease_id.0),
        micros(deadline),
        progress,
    ])?;
    Ok((changed == 1).then_some(HeartbeatOutcome {
        lease_expires_at: deadline,
        cancel_requested: job.cancel_requested,
    }))
}

/// Settles each ack on its own: a refused one changes nothing and stops nothing.
pub(crate) fn ack_many(
    tx: &mut WriteTx<'_>,
    params: JobAckManyParams,
) -> Result<AckManyOutcome, Error> {
    let mut completion = JobUpdate::new(tx, &SQL.complete)?;
    let now = params.now;
    let mut dependants = Vec::new();
    let outcomes = params
        .acks
        .into_iter()
        .map(|(Ack { id, lease_id, kind }, jitter)| match kind {
            AckKind::Complete { result } => {
                let ack = (id, lease_id, result.as_ref());
                complete(tx, &mut completion, ack, now, &mut dependants)
            }
            AckKind::Fail(report) => fail(tx, (id, lease_id), report, now, jitter, &mut dependants),
        })
        .collect::<Result<_, _>>()?;
    Ok(AckManyOutcome {
        outcomes,
        dependants,
    })
}

fn complete(
    tx: &mut WriteTx<'_>,
    completion: &mut JobUpdate<'_>,
    (id, lease, result): (JobId, LeaseId, Option<&Json>),
    now: Timestamp,
    dependants: &mut Vec<Job>,
) -> Result<AckOutcome, Error> {
    let done = completion.run(
        tx,
        id,
        JobState::Running,
        params![
            uuid_blob(&id.0),
            uuid_blob(&lease.0),
            json_text(result),
            micros(now)
        ],
    )?;
    match done {
        Some(job) => {
            dependants.extend(super::fan_in::finished(tx, &job, now)?);
            Ok(AckOutcome::Applied(job))
        }
        None => refusal(tx.conn(), id),
    }
}

fn fail(
    tx: &mut WriteTx<'_>,
    (id, lease): (JobId, LeaseId),
    report: FailureReport,
    now: Timestamp,
    jitter: Jitter,
    dependants: &mut Vec<Job>,
) -> Result<AckOutcome, Error> {
    let Some(job) = job_by_id(tx.conn(), id)? else {
        return Ok(AckOutcome::Refused(AckRefusal::UnknownJob));
    };
    if !runs_under(&job, lease) {
        return Ok(AckOutcome::Refused(AckRefusal::LeaseLost));
    }
    let (outcome, error) = failed(&job, report, now, jitter);
    Ok(
        match settle(tx, &job, lease, outcome, error, now, dependants)? {
            Some(job) => AckOutcome::Applied(job),
            None => AckOutcome::Refused(AckRefusal::LeaseLost),
        },
    )
}

fn refusal(conn: &Connection, id: JobId) -> Result<AckOutcome, Error> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?
        .exists([uuid_blob(&id.0)])?;
    Ok(AckOutcome::Refused(if exists {
        AckRefusal::LeaseLost
    } else {
        AckRefusal::UnknownJob
    }))
}

/// Hands jobs back to `ready` with their attempt uncounted; returns those released.
pub(crate) fn release_many(
    tx: &mut WriteTx<'_>,
    params: &JobReleaseManyParams,
) -> Result<Vec<Job>, Error> {
    let mut release = JobUpdate::new(tx, &SQL.release)?;
    let mut released = Vec::with_capacity(params.releases.len());
    for (id, lease) in &params.releases {
        let job = release.run(
            tx,
            *id,
            JobState::Running,
            params![uuid_blob(&id.0), uuid_blob(&lease.0), micros(params.now)],
        )?;
        released.extend(job);
    }
    Ok(released)
}
