//! How a [`Job`] maps to a row of `jobs`: column list, decoding, and value conversions.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{Row, ToSql};
use std::time::Duration;
use uuid::Uuid;
use workhorse_core::retry::Backoff;
use workhorse_core::{Job, JobId, JobState, Json, Lease, LeaseId, Timestamp};

/// Every column of a job, in the order [`decode`] reads them. `seq` is not part of a job.
pub(crate) const JOB_COLUMNS: &str = "id, task, queue, state, priority, args, kwargs, metadata, \
    attempt, max_attempts, backoff_base_ms, backoff_max_ms, timeout_us, key, key_window_us, \
    concurrency_key, concurrency_limit, progress, result, errors, cancel_requested, lease_id, \
    lease_worker, lease_expires_at, created_at, run_at, expires_at, started_at, finished_at, \
    schedule, scheduled_for, workflow_id";

/// How many columns [`JOB_COLUMNS`] names; a query that selects `seq` after them reads it here.
pub(crate) const SEQ_AFTER_JOB: usize = 32;

/// Reads a job from a row that starts with [`JOB_COLUMNS`].
pub(crate) fn decode(row: &Row<'_>) -> rusqlite::Result<Job> {
    let lease = match row.get::<_, Option<Uuid16>>(21)? {
        Some(id) => Some(Lease {
            id: LeaseId(id.0),
            worker: row.get(22)?,
            expires_at: row.get::<_, Micros>(23)?.0,
        }),
        None => None,
    };
    Ok(Job {
        id: JobId(row.get::<_, Uuid16>(0)?.0),
        task: row.get(1)?,
        queue: row.get(2)?,
        state: row.get::<_, State>(3)?.0,
        priority: row.get(4)?,
        args: row.get::<_, RawJson>(5)?.0,
        kwargs: row.get::<_, RawJson>(6)?.0,
        metadata: row.get::<_, Option<RawJson>>(7)?.map(|j| j.0),
        attempt: row.get(8)?,
        max_attempts: row.get(9)?,
        backoff: Backoff {
            base_ms: row.get::<_, i64>(10)?.max(0) as u64,
            max_ms: row.get::<_, i64>(11)?.max(0) as u64,
        },
        timeout: row.get::<_, Option<i64>>(12)?.map(duration),
        key: row.get(13)?,
        key_window: row.get::<_, Option<i64>>(14)?.map(duration),
        concurrency_key: row.get(15)?,
        concurrency_limit: row.get(16)?,
        progress: row.get::<_, Option<Parsed<_>>>(17)?.map(|p| p.0),
        result: row.get::<_, Option<RawJson>>(18)?.map(|j| j.0),
        errors: row.get::<_, Parsed<_>>(19)?.0,
        cancel_requested: row.get(20)?,
        lease,
        created_at: row.get::<_, Micros>(24)?.0,
        run_at: row.get::<_, Micros>(25)?.0,
        expires_at: row.get::<_, Option<Micros>>(26)?.map(|t| t.0),
        started_at: row.get::<_, Option<Micros>>(27)?.map(|t| t.0),
        finished_at: row.get::<_, Option<Micros>>(28)?.map(|t| t.0),
        schedule: row.get(29)?,
        scheduled_for: row.get::<_, Option<Micros>>(30)?.map(|t| t.0),
        workflow: row
            .get::<_, Option<Uuid16>>(31)?
            .map(|id| workhorse_core::WorkflowId(id.0)),
    })
}

/// A timestamp as stored: microseconds since the epoch.
pub(crate) fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

/// A duration as stored: microseconds, saturating (no real duration comes near the limit).
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// An unsigned count as SQLite's signed integer, saturating (counts here stay far below).
pub(crate) fn whole(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn duration(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// Binds ids and lease ids as 16-byte blobs (their byte order is their time order).
pub(crate) fn uuid_blob(id: &Uuid) -> &[u8; 16] {
    id.as_bytes()
}

/// Binds an optional JSON document as its verbatim text.
pub(crate) fn json_text(json: Option<&Json>) -> Option<&str> {
    json.map(Json::get)
}

/// A stored timestamp.
pub(crate) struct Micros(pub Timestamp);

impl FromSql for Micros {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Timestamp::from_microsecond(i64::column_result(value)?)
            .map(Micros)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

pub(crate) struct Uuid16(pub Uuid);

impl FromSql for Uuid16 {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        <[u8; 16]>::column_result(value).map(|bytes| Uuid16(Uuid::from_bytes(bytes)))
    }
}

/// A `state` column, read.
pub(crate) struct State(pub JobState);

impl FromSql for State {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map(State)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

struct RawJson(Json);

impl FromSql for RawJson {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Json::from_raw(value.as_str()?)
            .map(RawJson)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A JSON column Workhorse itself wrote (progress, errors), parsed into its type.
struct Parsed<T>(T);

impl<T: serde::de::DeserializeOwned> FromSql for Parsed<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(Parsed)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// The `state` column value of a state.
pub(crate) struct StateSql(pub JobState);

impl ToSql for StateSql {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.as_str().into())
    }
}
