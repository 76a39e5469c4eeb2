//! Leased jobs: heartbeats, acks (complete or fail) and releases, each guarded by its lease
//! and batched: one statement carries every item of a call.

use super::fan_in::{Finished, ready_queues};
use super::settle::Settlements;
use super::{Db, lock_jobs, notify_ready};
use crate::error::Error;
use crate::row::{decode_all, job_columns_of};
use crate::sql::{LEASE_CLEARED, guard_of, quote, target};
use crate::types::Ts;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::{Job, JobId, JobState, Transition};
use workhorse_store::plan::attempt::{completed, failed, runs_under, settled};
use workhorse_store::{
    AckKind, AckManyOutcome, AckOutcome, AckRefusal, HeartbeatOutcome, JobAckManyParams,
    JobHeartbeatManyParams, JobReleaseManyParams,
};

/// Extends leases (never past the job's time limit, as `Job::lease_deadline` rules) and
/// records progress: `$1` ids, `$2` lease ids, `$3` whether a beat carries progress, `$4`
/// fractions, `$5` messages, `$6` now, `$7` lease length.
static HEARTBEAT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET \
         lease_expires_at = CASE WHEN j.timeout_us IS NULL THEN $6 + $7 \
             ELSE LEAST($6 + $7, j.started_at + j.timeout_us * interval '1 microsecond') END, \
         progress_fraction = CASE WHEN b.has_progress THEN b.fraction ELSE j.progress_fraction END, \
         progress_message = CASE WHEN b.has_progress THEN b.message ELSE j.progress_message END \
         FROM unnest($1::uuid[], $2::uuid[], $3::bool[], $4::float8[], $5::text[]) \
             AS b(id, lease_id, has_progress, fraction, message) \
         WHERE j.id = b.id AND j.state = {running} AND j.lease_id = b.lease_id \
         RETURNING j.id, j.lease_id, j.lease_expires_at, j.cancel_requested",
        running = quote(JobState::Running),
    )
});

/// Complete, returning the jobs: `$1` ids, `$2` lease ids, `$3` results, `$4` now.
static COMPLETE_RETURNING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET state = {target}, result = u.result, finished_at = $4, \
         {LEASE_CLEARED} FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(id, lease_id, result) \
         WHERE j.id = u.id AND {guard} AND j.lease_id = u.lease_id RETURNING {columns}",
        target = target(Transition::Complete),
        guard = guard_of("j", Transition::Complete),
        columns = job_columns_of("j"),
    )
});

/// Release: `$1` ids, `$2` lease ids, `$3` now. The attempt is not counted.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET state = {target}, attempt = j.attempt - 1, run_at = $3, \
         {LEASE_CLEARED} FROM unnest($1::uuid[], $2::uuid[]) AS u(id, lease_id) \
         WHERE j.id = u.id AND {guard} AND j.lease_id = u.lease_id RETURNING {columns}",
        target = target(Transition::Release),
        guard = guard_of("j", Transition::Release),
        columns = job_columns_of("j"),
    )
});

/// Extends each beat's lease and records its progress; `None` for a lost lease.
pub(crate) async fn heartbeat_many(
    db: &Db,
    params: &JobHeartbeatManyParams,
) -> Result<Vec<Option<HeartbeatOutcome>>, Error> {
    if params.beats.is_empty() {
        return Ok(Vec::new());
    }
    // The last beat of a job under a lease carries the progress that counts.
    let mut last: HashMap<(Uuid, Uuid), usize> = HashMap::new();
    for (i, beat) in params.beats.iter().enumerate() {
        last.insert((beat.id.0, beat.lease_id.0), i);
    }
    let beats: Vec<_> = last.values().map(|i| &params.beats[*i]).collect();
    let rows: Vec<(Uuid, Uuid, Ts, bool)> = sqlx::query_as(HEARTBEAT.as_str())
        .bind(beats.iter().map(|b| b.id.0).collect::<Vec<_>>())
        .bind(beats.iter().map(|b| b.lease_id.0).collect::<Vec<_>>())
        .bind(
            beats
                .iter()
                .map(|b| b.progress.is_some())
                .collect::<Vec<_>>(),
        )
        .bind(
            beats
                .iter()
                .map(|b| b.progress.as_ref().map(|p| p.fraction))
                .collect::<Vec<_>>(),
        )
        .bind(
            beats
                .iter()
                .map(|b| b.progress.as_ref().and_then(|p| p.message.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(Ts(params.now))
        .bind(params.lease)
        .fetch_all(&db.pool)
        .await?;
    let held: HashMap<(Uuid, Uuid), HeartbeatOutcome> = rows
        .into_iter()
        .map(|(id, lease, expires, cancel_requested)| {
            let outcome = HeartbeatOutcome {
                lease_expires_at: expires.0,
                cancel_requested,
            };
            ((id, lease), outcome)
        })
        .collect();
    // A job extended under its lease answers every beat that named that lease.
    Ok(params
        .beats
        .iter()
        .map(|beat| held.get(&(beat.id.0, beat.lease_id.0)).copied())
        .collect())
}

/// Settles each ack on its own: a refused one changes nothing and stops nothing.
pub(crate) async fn ack_many(db: &Db, params: JobAckManyParams) -> Result<AckManyOutcome, Error> {
    if params.acks.is_empty() {
        return Ok(AckManyOutcome::default());
    }
    let mut ids: Vec<Uuid> = params.acks.iter().map(|(a, _)| a.id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let only_completes = params
        .acks
        .iter()
        .all(|(a, _)| matches!(a.kind, AckKind::Complete { .. }));
    if only_completes && ids.len() == params.acks.len() {
        return complete_many(db, params).await;
    }
    let mut tx = db.pool.begin().await?;
    let mut jobs: HashMap<JobId, Job> = lock_jobs(&mut tx, &ids)
        .await?
        .into_iter()
        .map(|row| (row.job.id, row.job))
        .collect();
    let now = params.now;
    let mut settlements = Settlements::default();
    let outcomes = decide_acks(params, &mut jobs, &mut settlements)?;
    let dependants = settlements.apply(&mut tx, now).await?;
    notify_ready(&mut tx, &db.channel, ready_queues(&dependants)).await?;
    tx.commit().await?;
    Ok(AckManyOutcome {
        outcomes,
        dependants,
    })
}

/// The common case, results for distinct jobs: no decision needs the job first, so one
/// lease-guarded statement completes them all; the dependants of completed workflow jobs
/// follow in the same transaction.
async fn complete_many(db: &Db, params: JobAckManyParams) -> Result<AckManyOutcome, Error> {
    let mut results = Vec::with_capacity(params.acks.len());
    for (ack, _) in &params.acks {
        if let AckKind::Complete { result } = &ack.kind {
            results.push(result.as_ref().map(workhorse_core::Json::get));
        }
    }
    let mut tx = db.pool.begin().await?;
    let rows = sqlx::query(COMPLETE_RETURNING.as_str())
        .bind(params.acks.iter().map(|(a, _)| a.id.0).collect::<Vec<_>>())
        .bind(
            params
                .acks
                .iter()
                .map(|(a, _)| a.lease_id.0)
                .collect::<Vec<_>>(),
        )
        .bind(results)
        .bind(Ts(params.now))
        .fetch_all(&mut *tx)
        .await?;
    let mut done: HashMap<JobId, Job> = decode_all(&rows)?
        .into_iter()
        .map(|row| (row.job.id, row.job))
        .collect();
    let mut finished = Finished::default();
    for job in done.values() {
        finished.note(job);
    }
    let dependants = finished.apply(&mut tx, params.now).await?;
    notify_ready(&mut tx, &db.channel, ready_queues(&dependants)).await?;
    tx.commit().await?;
    let refused: Vec<Uuid> = params
        .acks
        .iter()
        .filter(|(a, _)| !done.contains_key(&a.id))
        .map(|(a, _)| a.id.0)
        .collect();
    let existing: Vec<Uuid> = if refused.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar("SELECT id FROM workhorse_jobs WHERE id = ANY($1)")
            .bind(&refused)
            .fetch_all(&db.pool)
            .await?
    };
    let outcomes = params
        .acks
        .iter()
        .map(|(a, _)| match done.remove(&a.id) {
            Some(job) => AckOutcome::Applied(job),
            None if existing.contains(&a.id.0) => AckOutcome::Refused(AckRefusal::LeaseLost),
            None => AckOutcome::Refused(AckRefusal::UnknownJob),
        })
        .collect();
    Ok(AckManyOutcome {
        outcomes,
        dependants,
    })
}

/// Decides every ack in order against the locked jobs, updating them as it goes so that a
/// second ack of the same attempt finds its lease gone.
fn decide_acks(
    params: JobAckManyParams,
    jobs: &mut HashMap<JobId, Job>,
    settlements: &mut Settlements,
) -> Result<Vec<AckOutcome>, Error> {
    let now = params.now;
    let mut outcomes = Vec::with_capacity(params.acks.len());
    for (ack, jitter) in params.acks {
        let Some(job) = jobs.get_mut(&ack.id) else {
            outcomes.push(AckOutcome::Refused(AckRefusal::UnknownJob));
            continue;
        };
        if !runs_under(job, ack.lease_id) {
            outcomes.push(AckOutcome::Refused(AckRefusal::LeaseLost));
            continue;
        }
        let next = match ack.kind {
            AckKind::Complete { result } => completed(job, result, now),
            AckKind::Fail(report) => {
                let (outcome, error) = failed(job, report, now, jitter);
                settled(job, outcome, error, now)
            }
        };
        settlements.push(ack.lease_id, &next)?;
        *job = next.clone();
        outcomes.push(AckOutcome::Applied(next));
    }
    Ok(outcomes)
}

/// Hands jobs back to `ready` with their attempt uncounted; returns those released, in the
/// order asked.
pub(crate) async fn release_many(
    db: &Db,
    params: &JobReleaseManyParams,
) -> Result<Vec<Job>, Error> {
    if params.releases.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.pool.begin().await?;
    let rows = sqlx::query(RELEASE.as_str())
        .bind(
            params
                .releases
                .iter()
                .map(|(id, _)| id.0)
                .collect::<Vec<_>>(),
        )
        .bind(
            params
                .releases
                .iter()
                .map(|(_, lease)| lease.0)
                .collect::<Vec<_>>(),
        )
        .bind(Ts(params.now))
        .fetch_all(&mut *tx)
        .await?;
    let mut released: HashMap<JobId, Job> = decode_all(&rows)?
        .into_iter()
        .map(|row| (row.job.id, row.job))
        .collect();
    let queues: BTreeSet<&str> = released.values().map(|j| j.queue.as_str()).collect();
    notify_ready(&mut tx, &db.channel, queues).await?;
    tx.commit().await?;
    Ok(params
        .releases
        .iter()
        .filter_map(|(id, _)| released.remove(id))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_returns_every_column() {
        assert!(super::RELEASE.contains(&super::job_columns_of("j")));
    }
}
