//! `job_fetch_available`: starts the best ready jobs of the named queues under every guard,
//! safely from any number of nodes at once.
//!
//! One transaction:
//! 1. Queue controls. Queues with `max_running` or a rate limit have their row locked
//!    (`FOR UPDATE`, in name order), so two nodes fetching from such a queue take turns and
//!    cannot overshoot; their running counts are read after the lock. Other queues lock
//!    nothing: their fetchers run side by side.
//! 2. Candidates, per queue in fetch order, `FOR UPDATE SKIP LOCKED`: rows another fetcher
//!    is claiming are skipped, never waited for, never claimed twice.
//! 3. Concurrency keys of the candidates are claimed with `pg_try_advisory_xact_lock` (a
//!    key another fetcher is checking right now is skipped for this fetch), and counted
//!    after the claim, so no two nodes can both start the last free slot of a key.
//! 4. The guards are applied in Rust, in fetch order, counting this call's own starts; then
//!    one `UPDATE … FROM unnest(…)` starts the chosen jobs and one expires those found
//!    expired. When a guard skipped candidates, another round reads past them.

use super::lanes::{Lane, open_lanes, running_per};
use super::queues::record_starts;
use super::{Db, lock_space, stable_hash};
use crate::error::{Error, internal};
use crate::row::{JOB_COLUMNS, JobRow, decode_all};
use crate::sql::{guard, guard_of, quote, target};
use crate::types::Ts;
use sqlx::PgConnection;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::{Job, JobState, Lease, LeaseId, Transition};
use workhorse_store::JobFetchParams;
use workhorse_store::plan::checks::check_fetch_max;

/// Most candidates one fetch examines: bounds the time spent on a queue whose head is
/// blocked (e.g. thousands of jobs waiting on one concurrency key). Same as SQLite's.
const MAX_SCAN: usize = 10_000;

/// Up to `want` ready jobs of each queue (`$1` names, `$2` wants), in fetch order, not
/// among `$3` (read in an earlier round). A job whose key is already full (as this
/// statement sees it) is passed over here; the locked count in [`Fetch::claim_keys`]
/// decides the others.
static CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.* FROM unnest($1::text[], $2::int8[]) AS w(queue, want) CROSS JOIN LATERAL ( \
         SELECT {JOB_COLUMNS} FROM workhorse_jobs j WHERE j.queue = w.queue AND {ready} \
         AND NOT (j.id = ANY($3)) AND (j.concurrency_key IS NULL OR (SELECT count(*) \
         FROM workhorse_jobs r WHERE r.state = {running} AND r.concurrency_key = j.concurrency_key) \
         < j.concurrency_limit) ORDER BY j.priority DESC, j.seq LIMIT w.want \
         FOR UPDATE SKIP LOCKED) c",
        ready = guard_of("j", Transition::Start),
        running = quote(JobState::Running),
    )
});

static RUNNING_PER_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT concurrency_key, count(*) FROM workhorse_jobs WHERE state = {} \
         AND concurrency_key = ANY($1) GROUP BY concurrency_key",
        quote(JobState::Running)
    )
});

/// Start: `$1` ids, `$2` lease ids, `$3` lease deadlines, `$4` worker, `$5` now.
static START: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs j SET state = {}, attempt = j.attempt + 1, lease_id = u.lease_id, \
         lease_worker = $4, lease_expires_at = u.deadline, started_at = $5, \
         progress_fraction = NULL, progress_message = NULL \
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(id, lease_id, deadline) \
         WHERE j.id = u.id AND {}",
        target(Transition::Start),
        guard_of("j", Transition::Start)
    )
});

/// Expire waiting jobs found expired: `$1` ids, `$2` now.
static EXPIRE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE workhorse_jobs SET state = {}, finished_at = $2 WHERE id = ANY($1) AND {}",
        target(Transition::Expire),
        guard(Transition::Expire)
    )
});

/// A concurrency key met in this call.
struct KeySlot {
    /// Claimed by this transaction; `false`: another fetcher holds it, skip its jobs.
    claimed: bool,
    /// Running jobs with the key, this call's starts included.
    running: u32,
}

/// The state of one fetch across its rounds.
struct Fetch<'a> {
    params: &'a JobFetchParams,
    lanes: Vec<Lane>,
    keys: HashMap<String, KeySlot>,
    seen: Vec<Uuid>,
    started: Vec<Job>,
}

/// What one round decided.
#[derive(Default)]
struct Round {
    start: Vec<Job>,
    expire: Vec<Uuid>,
    /// A guard skipped a candidate that a later round might replace.
    again: bool,
}

/// Starts up to `max` jobs; see [`workhorse_store::Store::job_fetch_available`].
pub(crate) async fn fetch(db: &Db, params: &JobFetchParams) -> Result<Vec<Job>, Error> {
    check_fetch_max(params.max)?;
    if params.max == 0 || params.queues.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.pool.begin().await?;
    let lanes = open_lanes(&mut tx, params).await?;
    let mut fetch = Fetch {
        params,
        lanes,
        keys: HashMap::new(),
        seen: Vec::new(),
        started: Vec::new(),
    };
    while fetch.started.len() < params.max as usize && fetch.seen.len() < MAX_SCAN {
        let candidates = fetch.candidates(&mut tx).await?;
        if candidates.is_empty() {
            break;
        }
        fetch.claim_keys(&mut tx, &candidates).await?;
        let round = fetch.pick(candidates);
        let again = round.again;
        fetch.apply(&mut tx, round).await?;
        if !again {
            break;
        }
    }
    for lane in &fetch.lanes {
        record_starts(&mut tx, &lane.controls, lane.started, params.now).await?;
    }
    tx.commit().await?;
    Ok(fetch.started)
}

impl Fetch<'_> {
    fn remaining(&self) -> u32 {
        self.params.max - self.started.len() as u32
    }

    /// The next candidates of every lane with room, in fetch order.
    async fn candidates(&mut self, conn: &mut PgConnection) -> Result<Vec<JobRow>, Error> {
        let remaining = self.remaining();
        let (names, wants): (Vec<&str>, Vec<i64>) = self
            .lanes
            .iter()
            .map(|lane| {
                let want = lane.left().map_or(remaining, |left| left.min(remaining));
                (lane.controls.config.name.as_str(), i64::from(want))
            })
            .filter(|(_, want)| *want > 0)
            .unzip();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(CANDIDATES.as_str())
            .bind(names)
            .bind(wants)
            .bind(&self.seen)
            .fetch_all(conn)
            .await?;
        let mut candidates = decode_all(&rows)?;
        self.seen.extend(candidates.iter().map(|c| c.job.id.0));
        candidates.sort_by_key(|c| (Reverse(c.job.priority), c.seq));
        Ok(candidates)
    }

    /// Claims the concurrency keys met for the first time, then counts their running jobs
    /// (a new statement, so the count sees every commit made before the claim).
    async fn claim_keys(
        &mut self,
        conn: &mut PgConnection,
        candidates: &[JobRow],
    ) -> Result<(), Error> {
        let mut new: HashMap<i32, Vec<String>> = HashMap::new();
        for key in candidates
            .iter()
            .filter_map(|c| c.job.concurrency_key.as_ref())
        {
            if !self.keys.contains_key(key) {
                let same_hash = new.entry(stable_hash(key)).or_default();
                if !same_hash.contains(key) {
                    same_hash.push(key.clone());
                }
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let hashes: Vec<i32> = new.keys().copied().collect();
        let claimed: Vec<i32> = sqlx::query_scalar(
            "SELECT s FROM unnest($2::int4[]) AS s WHERE pg_try_advisory_xact_lock($1, s)",
        )
        .bind(lock_space::CONCURRENCY_KEY)
        .bind(&hashes)
        .fetch_all(&mut *conn)
        .await?;
        let claimed_keys: Vec<&str> = claimed
            .iter()
            .filter_map(|hash| new.get(hash))
            .flatten()
            .map(String::as_str)
            .collect();
        let running = running_per(conn, RUNNING_PER_KEY.as_str(), &claimed_keys).await?;
        for (hash, keys) in &new {
            for key in keys {
                let slot = KeySlot {
                    claimed: claimed.contains(hash),
                    running: running.get(key).copied().unwrap_or(0),
                };
                self.keys.insert(key.clone(), slot);
            }
        }
        Ok(())
    }

    /// Applies the guards to the candidates in fetch order.
    fn pick(&mut self, candidates: Vec<JobRow>) -> Round {
        let now = self.params.now;
        let mut round = Round::default();
        for JobRow { mut job, .. } in candidates {
            if self.started.len() + round.start.len() == self.params.max as usize {
                break;
            }
            let Some(lane) = self
                .lanes
                .iter_mut()
                .find(|lane| lane.controls.config.name == job.queue)
            else {
                continue;
            };
            if lane.left() == Some(0) {
                continue;
            }
            if job.expires_at.is_some_and(|at| at <= now) {
                round.expire.push(job.id.0);
                round.again = true;
                continue;
            }
            if let Some(key) = &job.concurrency_key {
                let slot = self.keys.get_mut(key);
                match slot {
                    Some(slot) if slot.claimed && slot.running < job.concurrency_limit => {
                        slot.running += 1;
                    }
                    _ => {
                        round.again = true;
                        continue;
                    }
                }
            }
            lane.started += 1;
            start(&mut job, self.params);
            round.start.push(job);
        }
        round
    }

    /// Writes one round's decisions.
    async fn apply(&mut self, conn: &mut PgConnection, round: Round) -> Result<(), Error> {
        if !round.expire.is_empty() {
            sqlx::query(EXPIRE.as_str())
                .bind(&round.expire)
                .bind(Ts(self.params.now))
                .execute(&mut *conn)
                .await?;
        }
        if round.start.is_empty() {
            return Ok(());
        }
        let (mut ids, mut leases, mut deadlines) = (Vec::new(), Vec::new(), Vec::new());
        for job in &round.start {
            if let Some(lease) = &job.lease {
                ids.push(job.id.0);
                leases.push(lease.id.0);
                deadlines.push(Ts(lease.expires_at));
            }
        }
        let done = sqlx::query(START.as_str())
            .bind(ids)
            .bind(leases)
            .bind(deadlines)
            .bind(&self.params.worker)
            .bind(Ts(self.params.now))
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() != round.start.len() as u64 {
            return Err(internal(format!(
                "started {} of {} locked ready jobs",
                done.rows_affected(),
                round.start.len()
            )));
        }
        self.started.extend(round.start);
        Ok(())
    }
}

/// Start, as the job reads afterwards: a new lease, the attempt counted, `started_at = now`.
fn start(job: &mut Job, params: &JobFetchParams) {
    job.started_at = Some(params.now);
    job.lease = Some(Lease {
        id: LeaseId::new(),
        worker: params.worker.clone(),
        expires_at: job.lease_deadline(params.now, params.lease),
    });
    job.state = Transition::Start.target();
    job.attempt += 1;
    job.progress = None;
}
