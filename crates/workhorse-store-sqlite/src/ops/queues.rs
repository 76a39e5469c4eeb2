//! Queue controls (pause, max running, rate limit and its current window) and counts.

use crate::error::{Error, invalid};
use crate::row::{Micros, duration_micros, micros};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::BTreeMap;
use std::time::Duration;
use workhorse_core::queue::validate_queue_name;
use workhorse_core::{JobState, QueueConfig, RateLimit, Timestamp};
use workhorse_store::plan::queue::QueueControls;
use workhorse_store::{QueueInfo, QueueUpdateParams};

/// The `run_at` of queue `?1`'s oldest ready job: a walk of its entries in `jobs_fetch`,
/// which carries `run_at`, never reading the table.
pub(crate) const OLDEST_READY: &str =
    "SELECT min(run_at) FROM jobs WHERE queue = ?1 AND state = 'ready'";

const CONTROLS: &str = "SELECT name, paused, max_running, rate_limit, rate_period_us, \
    window_start, window_count FROM queues";

/// Counts `started` more starts of the queue at `now` against its rate limit.
pub(crate) fn record_starts(
    conn: &Connection,
    controls: &QueueControls,
    started: u32,
    now: Timestamp,
) -> Result<(), Error> {
    let Some(window) = controls.window_after(started, now) else {
        return Ok(());
    };
    conn.prepare_cached("UPDATE queues SET window_start = ?2, window_count = ?3 WHERE name = ?1")?
        .execute(params![
            controls.config.name,
            micros(window.start),
            window.count
        ])?;
    Ok(())
}

fn decode_controls(row: &Row<'_>) -> rusqlite::Result<QueueControls> {
    let rate_limit = match (row.get::<_, Option<u32>>(3)?, row.get::<_, Option<i64>>(4)?) {
        (Some(limit), Some(period)) => Some(RateLimit {
            limit,
            period: Duration::from_micros(period.max(0) as u64),
        }),
        _ => None,
    };
    Ok(QueueControls {
        config: QueueConfig {
            name: row.get(0)?,
            paused: row.get(1)?,
            max_running: row.get(2)?,
            rate_limit,
        },
        window_start: row.get::<_, Option<Micros>>(5)?.map(|t| t.0),
        window_count: row.get(6)?,
    })
}

/// The controls of `name`; a queue with no settings has the defaults.
pub(crate) fn controls(conn: &Connection, name: &str) -> Result<QueueControls, Error> {
    let found = conn
        .prepare_cached(&format!("{CONTROLS} WHERE name = ?1"))?
        .query_row([name], decode_controls)
        .optional()?;
    Ok(found.unwrap_or_else(|| QueueControls::defaults(name)))
}

/// Every queue with jobs or settings, by name: a few rows of `queue_counts` per queue (kept
/// by the writer, see `counts.rs`), never a count over `jobs`.
pub(crate) fn list(conn: &Connection) -> Result<Vec<QueueInfo>, Error> {
    let mut infos = BTreeMap::new();
    let mut stmt = conn.prepare_cached(CONTROLS)?;
    for controls in stmt.query_map([], decode_controls)? {
        let config = controls?.config;
        infos.insert(config.name.clone(), QueueInfo::empty(config));
    }
    let mut stmt =
        conn.prepare_cached("SELECT queue, state, jobs FROM queue_counts WHERE jobs > 0")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let queue = text(row, 0)?;
        let info = match infos.get_mut(queue) {
            Some(info) => info,
            None => infos
                .entry(queue.to_owned())
                .or_insert_with(|| QueueInfo::empty(QueueControls::defaults(queue).config)),
        };
        info.counts.insert(state_of(text(row, 1)?)?, count(row, 2)?);
    }
    for info in infos.values_mut() {
        info.oldest_ready_at = oldest_ready(conn, &info.config.name, &info.counts)?;
    }
    Ok(infos.into_values().collect())
}

/// One queue's counts and oldest ready job, around the controls `config`.
pub(crate) fn info(conn: &Connection, config: QueueConfig) -> Result<QueueInfo, Error> {
    let mut info = QueueInfo::empty(config);
    let mut stmt =
        conn.prepare_cached("SELECT state, jobs FROM queue_counts WHERE queue = ?1 AND jobs > 0")?;
    let mut rows = stmt.query([&info.config.name])?;
    while let Some(row) = rows.next()? {
        info.counts.insert(state_of(text(row, 0)?)?, count(row, 1)?);
    }
    info.oldest_ready_at = oldest_ready(conn, &info.config.name, &info.counts)?;
    Ok(info)
}

fn text<'r>(row: &'r Row<'_>, index: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(index)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A count of `queue_counts` (the queries read only positive ones).
fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let jobs: i64 = row.get(index)?;
    u64::try_from(jobs).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Integer,
            Box::new(e),
        )
    })
}

fn state_of(name: &str) -> Result<JobState, Error> {
    name.parse()
        .map_err(|e| Error::Store(workhorse_store::StoreError::Internal(format!("{e}"))))
}

fn oldest_ready(
    conn: &Connection,
    queue: &str,
    counts: &BTreeMap<JobState, u64>,
) -> Result<Option<Timestamp>, Error> {
    if !counts.contains_key(&JobState::Ready) {
        return Ok(None);
    }
    let oldest: Option<Micros> = conn
        .prepare_cached(OLDEST_READY)?
        .query_row([queue], |r| r.get(0))?;
    Ok(oldest.map(|t| t.0))
}

/// Applies the changes the params ask for, creating the queue if needed; returns the new
/// controls.
pub(crate) fn update(conn: &Connection, params: &QueueUpdateParams) -> Result<QueueConfig, Error> {
    validate_queue_name(&params.name).map_err(|e| invalid(e.to_string()))?;
    if let Some(Some(rate)) = &params.rate_limit {
        rate.validate().map_err(|e| invalid(e.to_string()))?;
    }
    let mut config = controls(conn, &params.name)?.config;
    if let Some(paused) = params.paused {
        config.paused = paused;
    }
    if let Some(max_running) = params.max_running {
        config.max_running = max_running;
    }
    if let Some(rate_limit) = params.rate_limit {
        config.rate_limit = rate_limit;
    }
    conn.prepare_cached(
        "INSERT INTO queues (name, paused, max_running, rate_limit, rate_period_us) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, \
         max_running = excluded.max_running, rate_limit = excluded.rate_limit, \
         rate_period_us = excluded.rate_period_us",
    )?
    .execute(params![
        config.name,
        config.paused,
        config.max_running,
        config.rate_limit.map(|r| r.limit),
        config.rate_limit.map(|r| duration_micros(r.period)),
    ])?;
    Ok(config)
}
