//! Queue controls (pause, max running, rate limit and its current window) and counts.

use super::{Db, counts};
use crate::error::{Error, internal, invalid};
use crate::sql::quote;
use crate::types::{Ts, duration, micros};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use workhorse_core::queue::validate_queue_name;
use workhorse_core::{JobState, QueueConfig, RateLimit, Timestamp};
use workhorse_store::plan::queue::QueueControls;
use workhorse_store::{QueueInfo, QueueUpdateParams};

const CONTROLS: &str = "SELECT name, paused, max_running, rate_limit, rate_period_us, \
    window_start, window_count FROM workhorse_queues";

const CONTROL_OF: &str = "SELECT name, paused, max_running, rate_limit, rate_period_us, \
    window_start, window_count FROM workhorse_queues WHERE name = $1";

/// Sets the controls the params name and keeps the others: `$1` name, then for each
/// control whether to set it and its value.
const UPSERT: &str = "INSERT INTO workhorse_queues (name, paused, max_running, rate_limit, \
    rate_period_us) VALUES ($1, coalesce($3, false), $5, $7, $8) ON CONFLICT (name) DO UPDATE SET \
    paused = CASE WHEN $2 THEN excluded.paused ELSE workhorse_queues.paused END, \
    max_running = CASE WHEN $4 THEN excluded.max_running ELSE workhorse_queues.max_running END, \
    rate_limit = CASE WHEN $6 THEN excluded.rate_limit ELSE workhorse_queues.rate_limit END, \
    rate_period_us = CASE WHEN $6 THEN excluded.rate_period_us ELSE workhorse_queues.rate_period_us END";

/// The `run_at` of each listed queue's (`$1`) oldest ready job: one entry of
/// `workhorse_jobs_ready_since` per queue.
static OLDEST_READY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT q.name, oldest.run_at FROM unnest($1::text[]) AS q(name) \
         CROSS JOIN LATERAL (SELECT run_at FROM workhorse_jobs \
         WHERE queue = q.name AND state = {} ORDER BY run_at LIMIT 1) oldest",
        quote(JobState::Ready)
    )
});

/// Counts `started` more starts of the queue at `now` against its rate limit.
pub(crate) async fn record_starts(
    conn: &mut PgConnection,
    controls: &QueueControls,
    started: u32,
    now: Timestamp,
) -> Result<(), Error> {
    let Some(window) = controls.window_after(started, now) else {
        return Ok(());
    };
    sqlx::query("UPDATE workhorse_queues SET window_start = $2, window_count = $3 WHERE name = $1")
        .bind(&controls.config.name)
        .bind(Ts(window.start))
        .bind(i32::try_from(window.count).unwrap_or(i32::MAX))
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads a row of [`CONTROLS`].
pub(crate) fn decode_controls(row: &PgRow) -> Result<QueueControls, Error> {
    let rate_limit = match (
        row.try_get::<Option<i32>, _>(3)?,
        row.try_get::<Option<i64>, _>(4)?,
    ) {
        (Some(limit), Some(period)) => Some(RateLimit {
            limit: non_negative(limit)?,
            period: duration(period),
        }),
        _ => None,
    };
    Ok(QueueControls {
        config: QueueConfig {
            name: row.try_get(0)?,
            paused: row.try_get(1)?,
            max_running: row
                .try_get::<Option<i32>, _>(2)?
                .map(non_negative)
                .transpose()?,
            rate_limit,
        },
        window_start: row.try_get::<Option<Ts>, _>(5)?.map(|t| t.0),
        window_count: non_negative(row.try_get(6)?)?,
    })
}

fn non_negative(value: i32) -> Result<u32, Error> {
    u32::try_from(value).map_err(|e| internal(format!("stored queue control: {e}")))
}

/// Every queue with jobs or settings, by name. Folds the count log first (see
/// [`counts`]), so the counts read stay a few rows.
pub(crate) async fn list(db: &Db) -> Result<Vec<QueueInfo>, Error> {
    let mut conn = db.pool.acquire().await?;
    let mut infos = BTreeMap::new();
    for row in sqlx::query(CONTROLS).fetch_all(&mut *conn).await? {
        let config = decode_controls(&row)?.config;
        infos.insert(config.name.clone(), QueueInfo::empty(config));
    }
    counts::fold(&mut conn).await?;
    for (queue, state, count) in counts::read(&mut conn, None).await? {
        let state = state_of(&state)?;
        infos
            .entry(queue.clone())
            .or_insert_with(|| QueueInfo::empty(QueueControls::defaults(&queue).config))
            .counts
            .insert(state, count as u64);
    }
    let mut infos: Vec<QueueInfo> = infos.into_values().collect();
    fill_oldest_ready(&mut conn, &mut infos).await?;
    Ok(infos)
}

/// One queue's controls and counts.
async fn info(conn: &mut PgConnection, name: &str) -> Result<QueueInfo, Error> {
    let controls = sqlx::query(CONTROL_OF)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(decode_controls)
        .transpose()?
        .unwrap_or_else(|| QueueControls::defaults(name));
    let mut info = QueueInfo::empty(controls.config);
    for (_, state, count) in counts::read(&mut *conn, Some(name)).await? {
        info.counts.insert(state_of(&state)?, count as u64);
    }
    let mut infos = [info];
    fill_oldest_ready(conn, &mut infos).await?;
    let [info] = infos;
    Ok(info)
}

async fn fill_oldest_ready(conn: &mut PgConnection, infos: &mut [QueueInfo]) -> Result<(), Error> {
    let with_ready: Vec<&str> = infos
        .iter()
        .filter(|info| info.counts.contains_key(&JobState::Ready))
        .map(|info| info.config.name.as_str())
        .collect();
    if with_ready.is_empty() {
        return Ok(());
    }
    let oldest: Vec<(String, Ts)> = sqlx::query_as(OLDEST_READY.as_str())
        .bind(with_ready)
        .fetch_all(conn)
        .await?;
    for (queue, at) in oldest {
        if let Some(info) = infos.iter_mut().find(|info| info.config.name == queue) {
            info.oldest_ready_at = Some(at.0);
        }
    }
    Ok(())
}

fn state_of(name: &str) -> Result<JobState, Error> {
    name.parse().map_err(|e| internal(format!("{e}")))
}

/// Applies the changes the params ask for, creating the queue if needed.
pub(crate) async fn update(db: &Db, params: QueueUpdateParams) -> Result<QueueInfo, Error> {
    validate_queue_name(&params.name).map_err(|e| invalid(e.to_string()))?;
    if let Some(Some(rate)) = &params.rate_limit {
        rate.validate().map_err(|e| invalid(e.to_string()))?;
    }
    let mut conn = db.pool.acquire().await?;
    let max_running = params
        .max_running
        .flatten()
        .map(|m| i32::try_from(m).unwrap_or(i32::MAX));
    let rate = params.rate_limit.flatten();
    sqlx::query(UPSERT)
        .bind(&params.name)
        .bind(params.paused.is_some())
        .bind(params.paused)
        .bind(params.max_running.is_some())
        .bind(max_running)
        .bind(params.rate_limit.is_some())
        .bind(rate.map(|r| i32::try_from(r.limit).unwrap_or(i32::MAX)))
        .bind(rate.map(|r| micros(r.period)))
        .execute(&mut *conn)
        .await?;
    info(&mut conn, &params.name).await
}
