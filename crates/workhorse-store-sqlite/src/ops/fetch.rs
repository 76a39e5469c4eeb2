//! `job_fetch_available`: starts the best ready jobs of the named queues under every guard.
//!
//! Candidates are read per queue in fetch order from the `jobs_fetch` index (a merge across
//! queues keeps priority order, then FIFO); the guards (pause, `max_running`, rate limit,
//! concurrency keys, expiry) are applied here, counting the jobs this same call has started;
//! each start is a guarded update.

use super::queues::{controls, record_starts};
use crate::counts::{JobStatement, WriteTx};
use crate::error::Error;
use crate::row::{JOB_COLUMNS, SEQ_AFTER_JOB, decode, micros, uuid_blob};
use crate::sql::{SQL, guard, quote};
use rusqlite::{Connection, params};
use std::collections::{HashMap, VecDeque};
use std::sync::LazyLock;
use workhorse_core::{Job, JobState, Lease, LeaseId, Timestamp, Transition, limits};
use workhorse_store::JobFetchParams;
use workhorse_store::plan::checks::check_fetch_max;
use workhorse_store::plan::queue::QueueControls;

/// Most candidates one fetch examines: bounds the time the writer spends on a queue whose
/// head is blocked (e.g. thousands of jobs waiting on one concurrency key).
const MAX_SCAN: usize = 10_000;

/// Ready jobs of `?1` after position (`?2` priority, `?3` seq), in fetch order; `?4` limit.
static CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {JOB_COLUMNS}, seq FROM jobs WHERE queue = ?1 AND {} \
         AND (priority < ?2 OR (priority = ?2 AND seq > ?3)) \
         ORDER BY priority DESC, seq LIMIT ?4",
        guard(Transition::Start)
    )
});

/// Running jobs with concurrency key `?1`.
static RUNNING_WITH_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT count(*) FROM jobs WHERE concurrency_key = ?1 AND state = {}",
        quote(JobState::Running)
    )
});

/// The fetch's reads, with the index each must use.
#[cfg(test)]
pub(crate) fn reads_sql() -> [(&'static str, &'static str); 2] {
    [
        (&CANDIDATES, "jobs_fetch"),
        (&RUNNING_WITH_KEY, "jobs_concurrency"),
    ]
}

/// One queue's ready jobs, read ahead in fetch order.
struct Lane {
    controls: QueueControls,
    /// How many more may start (`max_running` and rate limit); `None`: no limit.
    room: Option<u32>,
    started: u32,
    buffer: VecDeque<(Job, i64)>,
    /// The (priority, seq) of the last row read.
    after: (i64, i64),
    exhausted: bool,
}

impl Lane {
    fn has_room(&self) -> bool {
        self.room.is_none_or(|room| self.started < room)
    }

    fn refill(&mut self, conn: &Connection, want: usize) -> Result<(), Error> {
        let room = self.room.map_or(want, |r| (r - self.started) as usize);
        // A little slack beyond the need, for candidates a guard may skip.
        let chunk = want.min(room) + 8;
        let mut stmt = conn.prepare_cached(&CANDIDATES)?;
        let mut rows = stmt.query(params![
            self.controls.config.name,
            self.after.0,
            self.after.1,
            chunk as i64
        ])?;
        let mut read = 0;
        while let Some(row) = rows.next()? {
            let job = decode(row)?;
            let seq: i64 = row.get(SEQ_AFTER_JOB)?;
            self.after = (i64::from(job.priority), seq);
            self.buffer.push_back((job, seq));
            read += 1;
        }
        self.exhausted = read < chunk;
        Ok(())
    }

    /// Fetch order: higher priority, then lower seq.
    fn head_key(&self) -> Option<(std::cmp::Reverse<u8>, i64)> {
        self.buffer
            .front()
            .map(|(job, seq)| (std::cmp::Reverse(job.priority), *seq))
    }
}

/// Starts up to `max` jobs; see [`workhorse_store::Store::job_fetch_available`].
pub(crate) fn fetch(tx: &mut WriteTx<'_>, params: &JobFetchParams) -> Result<Vec<Job>, Error> {
    check_fetch_max(params.max)?;
    let conn = tx.conn();
    let max = params.max as usize;
    let mut lanes = open_lanes(tx, &params.queues, params.now)?;
    let mut start_one = tx.prepare(&SQL.start)?;
    let mut running_per_key = HashMap::new();
    let mut started = Vec::with_capacity(max);
    let mut scanned = 0;
    while started.len() < max && scanned < MAX_SCAN {
        let Some(lane) = next_lane(conn, &mut lanes, max - started.len())? else {
            break;
        };
        let Some((mut job, seq)) = lanes[lane].buffer.pop_front() else {
            break;
        };
        scanned += 1;
        if job.expires_at.is_some_and(|at| at <= params.now) {
            expire(tx, &job, seq, params.now)?;
            continue;
        }
        if !key_has_room(conn, &mut running_per_key, &job)? {
            continue;
        }
        if start(tx, &mut start_one, &mut job, seq, params)? {
            if let Some(key) = &job.concurrency_key {
                *running_per_key.entry(key.clone()).or_insert(0) += 1;
            }
            lanes[lane].started += 1;
            started.push(job);
        }
    }
    for lane in &lanes {
        record_starts(conn, &lane.controls, lane.started, params.now)?;
    }
    Ok(started)
}

/// A lane per named queue that is not paused and has room.
fn open_lanes(tx: &WriteTx<'_>, queues: &[String], now: Timestamp) -> Result<Vec<Lane>, Error> {
    let mut lanes: Vec<Lane> = Vec::with_capacity(queues.len());
    for name in queues {
        if lanes.iter().any(|l| &l.controls.config.name == name) {
            continue;
        }
        let controls = controls(tx.conn(), name)?;
        if controls.config.paused {
            continue;
        }
        let running = match controls.config.max_running {
            Some(_) => running_in_queue(tx, name)?,
            None => 0,
        };
        let room = controls.room(now, running);
        if room == Some(0) {
            continue;
        }
        lanes.push(Lane {
            controls,
            room,
            started: 0,
            buffer: VecDeque::new(),
            after: (i64::from(limits::MAX_PRIORITY) + 1, 0),
            exhausted: false,
        });
    }
    Ok(lanes)
}

/// The lane whose head comes first in fetch order, reading ahead where a buffer ran dry.
fn next_lane(conn: &Connection, lanes: &mut [Lane], want: usize) -> Result<Option<usize>, Error> {
    for lane in lanes.iter_mut() {
        if lane.buffer.is_empty() && !lane.exhausted && lane.has_room() {
            lane.refill(conn, want)?;
        }
    }
    Ok(lanes
        .iter()
        .enumerate()
        .filter(|(_, lane)| lane.has_room())
        .filter_map(|(i, lane)| lane.head_key().map(|key| (key, i)))
        .min()
        .map(|(_, i)| i))
}

/// The queue's running jobs, from its counts (exact within the group transaction).
fn running_in_queue(tx: &WriteTx<'_>, queue: &str) -> Result<u32, Error> {
    let running = tx.count(queue, JobState::Running)?;
    Ok(u32::try_from(running).unwrap_or(u32::MAX))
}

/// Whether the job's concurrency key has room, counting jobs started earlier in this call.
fn key_has_room(
    conn: &Connection,
    running_per_key: &mut HashMap<String, u32>,
    job: &Job,
) -> Result<bool, Error> {
    let Some(key) = &job.concurrency_key else {
        return Ok(true);
    };
    if let Some(&running) = running_per_key.get(key) {
        return Ok(running < job.concurrency_limit);
    }
    let running: u32 = conn
        .prepare_cached(&RUNNING_WITH_KEY)?
        .query_row([key], |r| r.get(0))?;
    running_per_key.insert(key.clone(), running);
    Ok(running < job.concurrency_limit)
}

/// Expires `job`, a ready candidate at `seq`.
fn expire(tx: &mut WriteTx<'_>, job: &Job, seq: i64, now: Timestamp) -> Result<(), Error> {
    let mut expire = tx.prepare(&SQL.expire_one)?;
    let to = Transition::Expire.target();
    let values = params![seq, micros(now)];
    tx.move_job(&mut expire, values, &job.queue, JobState::Ready, to)?;
    Ok(())
}

/// Start: a new lease, the attempt counted, `started_at = now`. `false` if the guard held.
fn start(
    tx: &mut WriteTx<'_>,
    start_one: &mut JobStatement<'_>,
    job: &mut Job,
    seq: i64,
    params: &JobFetchParams,
) -> Result<bool, Error> {
    job.started_at = Some(params.now);
    let lease = Lease {
        id: LeaseId::new(),
        worker: params.worker.clone(),
        expires_at: job.lease_deadline(params.now, params.lease),
    };
    let values = params![
        seq,
        uuid_blob(&lease.id.0),
        lease.worker,
        micros(lease.expires_at),
        micros(params.now),
    ];
    let to = Transition::Start.target();
    let started = tx.move_job(start_one, values, &job.queue, job.state, to)?;
    job.state = Transition::Start.target();
    job.attempt += 1;
    job.progress = None;
    job.lease = Some(lease);
    Ok(started)
}
