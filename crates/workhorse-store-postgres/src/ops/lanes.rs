//! The queues a fetch may start jobs from: their controls, locked when a limit spans all
//! fetchers, and how many more jobs each may start.

use super::queues::decode_controls;
use crate::error::Error;
use crate::sql::quote;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::sync::LazyLock;
use workhorse_core::JobState;
use workhorse_store::JobFetchParams;
use workhorse_store::plan::queue::QueueControls;

const CONTROLS: &str = "SELECT name, paused, max_running, rate_limit, rate_period_us, \
    window_start, window_count FROM workhorse_queues WHERE name = ANY($1)";

const LOCK_CONTROLS: &str = "SELECT name, paused, max_running, rate_limit, rate_period_us, \
    window_start, window_count FROM workhorse_queues WHERE name = ANY($1) ORDER BY name FOR UPDATE";

static RUNNING_PER_QUEUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT queue, count(*) FROM workhorse_jobs WHERE state = {} AND queue = ANY($1) \
         GROUP BY queue",
        quote(JobState::Running)
    )
});

/// One named queue that may start jobs in this call.
pub(crate) struct Lane {
    pub controls: QueueControls,
    /// How many more may start (`max_running` and rate limit); `None`: no limit.
    pub room: Option<u32>,
    pub started: u32,
}

impl Lane {
    pub fn left(&self) -> Option<u32> {
        self.room.map(|room| room.saturating_sub(self.started))
    }
}

/// A lane per named queue that is not paused and has room.
pub(crate) async fn open_lanes(
    conn: &mut PgConnection,
    params: &JobFetchParams,
) -> Result<Vec<Lane>, Error> {
    let mut names: Vec<&str> = Vec::with_capacity(params.queues.len());
    for name in &params.queues {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let rows = sqlx::query(CONTROLS)
        .bind(&names)
        .fetch_all(&mut *conn)
        .await?;
    let mut controls: HashMap<String, QueueControls> = rows
        .iter()
        .map(decode_controls)
        .map(|c| c.map(|c| (c.config.name.clone(), c)))
        .collect::<Result<_, _>>()?;
    let limited: Vec<String> = controls
        .values()
        .filter(|c| !c.config.paused && c.is_limited())
        .map(|c| c.config.name.clone())
        .collect();
    let mut running = HashMap::new();
    if !limited.is_empty() {
        // Locked, then read again: the first read may predate the last holder's commit.
        let rows = sqlx::query(LOCK_CONTROLS)
            .bind(&limited)
            .fetch_all(&mut *conn)
            .await?;
        for row in &rows {
            let fresh = decode_controls(row)?;
            controls.insert(fresh.config.name.clone(), fresh);
        }
        let limited: Vec<&str> = limited.iter().map(String::as_str).collect();
        running = running_per(conn, RUNNING_PER_QUEUE.as_str(), &limited).await?;
    }
    let mut lanes = Vec::with_capacity(names.len());
    for name in names {
        let controls = controls
            .remove(name)
            .unwrap_or_else(|| QueueControls::defaults(name));
        if controls.config.paused {
            continue;
        }
        let room = controls.room(params.now, running.get(name).copied().unwrap_or(0));
        if room != Some(0) {
            lanes.push(Lane {
                controls,
                room,
                started: 0,
            });
        }
    }
    Ok(lanes)
}

/// `(name, running count)` rows of a `GROUP BY` over running jobs.
pub(crate) async fn running_per(
    conn: &mut PgConnection,
    sql: &'static str,
    names: &[&str],
) -> Result<HashMap<String, u32>, Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sql).bind(names).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(name, count)| (name, u32::try_from(count).unwrap_or(u32::MAX)))
        .collect())
}
