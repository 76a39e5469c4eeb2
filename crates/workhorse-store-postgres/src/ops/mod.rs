//! The store operations, one module per family. Each state change runs in one transaction
//! and is answered only after that transaction committed.

pub(crate) mod admin;
pub(crate) mod cancel_many;
pub(crate) mod counts;
pub(crate) mod fan_in;
pub(crate) mod fetch;
pub(crate) mod insert;
pub(crate) mod lanes;
pub(crate) mod lease;
pub(crate) mod list;
pub(crate) mod queues;
pub(crate) mod schedule;
pub(crate) mod schedule_fire;
pub(crate) mod settle;
pub(crate) mod time;
pub(crate) mod workflow;

use crate::error::Error;
use crate::row::{JOB_COLUMNS, JobRow, decode, decode_all};
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeSet;
use std::sync::LazyLock;
use uuid::Uuid;
use workhorse_core::{Job, JobId};

/// What every operation needs: the pool and the channel that announces ready queues.
pub(crate) struct Db {
    pub pool: PgPool,
    /// `NOTIFY` channel for queues that gained ready jobs (see `notify.rs`).
    pub channel: String,
}

static JOB_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE id = $1"));

static LOCK_BY_IDS: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {JOB_COLUMNS} FROM workhorse_jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE")
});

/// One job by id, in any state.
pub(crate) async fn job_by_id(conn: &mut PgConnection, id: JobId) -> Result<Option<Job>, Error> {
    let row = sqlx::query(JOB_BY_ID.as_str())
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(decode).transpose()?.map(|r| r.job))
}

/// Locks the jobs with these ids (in id order, the one order every multi-row lock in this
/// crate uses, so two transactions never wait on each other in a cycle) and reads them.
pub(crate) async fn lock_jobs(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<JobRow>, Error> {
    let rows = sqlx::query(LOCK_BY_IDS.as_str())
        .bind(ids)
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Announces that `queues` gained ready jobs. PostgreSQL delivers a notification only when
/// the transaction that sent it commits, so listeners never hear of uncommitted jobs.
pub(crate) async fn notify_ready(
    conn: &mut PgConnection,
    channel: &str,
    queues: BTreeSet<&str>,
) -> Result<(), Error> {
    if queues.is_empty() {
        return Ok(());
    }
    let queues: Vec<&str> = queues.into_iter().collect();
    sqlx::query("SELECT pg_notify($1, q) FROM unnest($2::text[]) AS q")
        .bind(channel)
        .bind(&queues)
        .execute(conn)
        .await?;
    Ok(())
}

/// A stable 32-bit hash (FNV-1a) of a key, for advisory locks: the same on every node and
/// every build, unlike `std`'s randomly seeded hasher.
pub(crate) fn stable_hash(key: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash as i32
}

/// Advisory-lock namespaces (the first of the two `int4` keys), so that Workhorse's locks
/// never meet each other's or an application's.
pub(crate) mod lock_space {
    /// Unique keys being inserted, in 1024 stripes.
    pub const UNIQUE_KEY: i32 = 0x5748_0001;
    /// Concurrency keys whose running count a fetch is checking.
    pub const CONCURRENCY_KEY: i32 = 0x5748_0002;
}

#[cfg(test)]
mod tests {
    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(super::stable_hash(""), 0x811c_9dc5_u32 as i32);
        assert_eq!(super::stable_hash("a"), 0xe40c_292c_u32 as i32);
    }
}
