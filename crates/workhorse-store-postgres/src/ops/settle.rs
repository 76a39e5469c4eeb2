//! How a running attempt ends: the batched, lease-guarded updates that write the new jobs
//! `workhorse_store::plan::attempt` computed.
//!
//! Callers lock the jobs first ([`super::lock_jobs`]) and decide each one in Rust with
//! `workhorse_store::plan::attempt`; [`Settlements::apply`] then writes every decision with one
//! statement per kind, each guarded by `state = running` and the lease.

use crate::error::{Error, internal};
use crate::sql::{LEASE_CLEARED, quote};
use crate::types::{Ts, ts};
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::{Job, JobState, LeaseId, Timestamp, Transition};

/// Complete: `$1` ids, `$2` lease ids, `$3` results, `$4` now.
static COMPLETE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET state = {target}, result = u.result, finished_at = $4, \
         {LEASE_CLEARED} FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(id, lease_id, result) \
         WHERE j.id = u.id AND j.state = {running} AND j.lease_id = u.lease_id",
        target = quote(Transition::Complete.target()),
        running = quote(JobState::Running),
    )
});

/// Retry, Rescue, Bury or Cancel of running jobs: `$1` ids, `$2` lease ids, `$3` target
/// states, `$4` `run_at`, `$5` errors (JSON text), `$6` `finished_at`.
static SETTLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET state = u.state, run_at = u.run_at, errors = u.errors::jsonb, \
         finished_at = u.finished_at, {LEASE_CLEARED} \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], \
         $6::timestamptz[]) AS u(id, lease_id, state, run_at, errors, finished_at) \
         WHERE j.id = u.id AND j.state = {running} AND j.lease_id = u.lease_id",
        running = quote(JobState::Running),
    )
});

/// Decisions about running jobs, gathered and then written in one statement per kind.
#[derive(Default)]
pub(crate) struct Settlements {
    complete: (Vec<Uuid>, Vec<Uuid>, Vec<Option<String>>),
    settle: SettleColumns,
    /// Workflow jobs these decisions finish: their dependants follow in the same transaction.
    finished: super::fan_in::Finished,
}

#[derive(Default)]
struct SettleColumns {
    ids: Vec<Uuid>,
    leases: Vec<Uuid>,
    states: Vec<&'static str>,
    run_at: Vec<Ts>,
    errors: Vec<String>,
    finished_at: Vec<Option<Ts>>,
}

impl Settlements {
    /// Records that the job running under `lease` became `next`.
    pub fn push(&mut self, lease: LeaseId, next: &Job) -> Result<(), Error> {
        self.finished.note(next);
        if next.state == Transition::Complete.target() {
            self.complete.0.push(next.id.0);
            self.complete.1.push(lease.0);
            self.complete
                .2
                .push(next.result.as_ref().map(|r| r.get().to_owned()));
            return Ok(());
        }
        let s = &mut self.settle;
        s.ids.push(next.id.0);
        s.leases.push(lease.0);
        s.states.push(next.state.as_str());
        s.run_at.push(Ts(next.run_at));
        s.errors.push(serde_json::to_string(&next.errors)?);
        s.finished_at.push(ts(next.finished_at));
        Ok(())
    }

    /// Writes every decision, then applies the fan-in rule to the dependants of the workflow
    /// jobs it finished; returns the dependants that left `waiting` that way. The jobs are
    /// locked by the caller, so every guard holds; one that did not would mean a bug,
    /// reported as `Internal`.
    pub async fn apply(
        self,
        conn: &mut sqlx::PgConnection,
        now: Timestamp,
    ) -> Result<Vec<Job>, Error> {
        let (ids, leases, results) = self.complete;
        if !ids.is_empty() {
            let expected = ids.len() as u64;
            let done = sqlx::query(COMPLETE.as_str())
                .bind(ids)
                .bind(leases)
                .bind(results)
                .bind(Ts(now))
                .execute(&mut *conn)
                .await?;
            check(done.rows_affected(), expected)?;
        }
        let s = self.settle;
        if !s.ids.is_empty() {
            let expected = s.ids.len() as u64;
            let done = sqlx::query(SETTLE.as_str())
                .bind(s.ids)
                .bind(s.leases)
                .bind(s.states)
                .bind(s.run_at)
                .bind(s.errors)
                .bind(s.finished_at)
                .execute(&mut *conn)
                .await?;
            check(done.rows_affected(), expected)?;
        }
        self.finished.apply(conn, now).await
    }
}

fn check(changed: u64, expected: u64) -> Result<(), Error> {
    if changed == expected {
        Ok(())
    } else {
        Err(internal(format!(
            "a lease-guarded update changed {changed} of {expected} locked jobs"
        )))
    }
}
