//! The schedule firer: turns due schedule fires into jobs (see
//! [`workhorse_store::Store::schedule_fire_due`] for the exactly-once rules).

use crate::{Engine, EngineError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workhorse_core::Timestamp;
use workhorse_store::{Fire, ScheduleFireDueParams};

/// Longest sleep between passes: a schedule upserted on another node (which cannot wake
/// this one) is seen within it.
pub const FIRER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// Schedules handled per store call; a pass repeats while calls come back full.
const FIRE_BATCH: u32 = 500;

/// Fires due schedules. Sleeps until the earliest next fire (at most [`FIRER_MAX_SLEEP`]),
/// or less when a schedule is declared, resumed or changed meanwhile.
#[derive(Debug, Clone)]
pub struct ScheduleFirer {
    engine: Engine,
}

impl ScheduleFirer {
    pub(crate) fn new(engine: Engine) -> Self {
        ScheduleFirer { engine }
    }

    /// Fires everything due at `now` and wakes the workers; returns the fires.
    pub async fn run_once(&self, now: Timestamp) -> Result<Vec<Fire>, EngineError> {
        let store = &self.engine.inner.store;
        let mut fires = Vec::new();
        loop {
            let params = ScheduleFireDueParams {
                now,
                limit: FIRE_BATCH,
            };
            let batch = self.engine.write(store.schedule_fire_due(params)).await?;
            let schedules: std::collections::BTreeSet<&str> =
                batch.iter().map(|f| f.schedule.as_str()).collect();
            let full = schedules.len() >= FIRE_BATCH as usize;
            fires.extend(batch);
            if !full {
                break;
            }
        }
        if !fires.is_empty() {
            // Fires name schedules, not queues: wake every fetcher to look.
            self.engine.inner.ready.notify_all();
        }
        Ok(fires)
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let now = self.engine.now();
            match self.run_once(now).await {
                Ok(fires) if !fires.is_empty() => {
                    tracing::debug!(fires = fires.len(), "schedule firer pass");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "schedule firer pass failed"),
            }
            let sleep = self.sleep_after().await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.engine.inner.schedules_changed.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Until the earliest next fire, at most [`FIRER_MAX_SLEEP`].
    async fn sleep_after(&self) -> Duration {
        let next = self
            .engine
            .inner
            .store
            .schedule_next_due()
            .await
            .ok()
            .flatten();
        next.map_or(FIRER_MAX_SLEEP, |due| {
            let wait = due.duration_since(self.engine.now());
            Duration::try_from(wait)
                .unwrap_or(Duration::ZERO)
                .min(FIRER_MAX_SLEEP)
        })
    }
}
