use crate::{Engine, EngineError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workhorse_core::Timestamp;
use workhorse_store::{JobPromoteDueParams, PromoteOutcome};

/// Moves `scheduled` jobs to `ready` when their `run_at` comes, and expires waiting jobs
/// past their `expires_at`. Sleeps until the next job is due (at most
/// [`crate::EngineConfig::scheduler_max_sleep`]), or less when an earlier job is
/// scheduled meanwhile.
#[derive(Debug, Clone)]
pub struct Scheduler {
    engine: Engine,
}

impl Scheduler {
    pub(crate) fn new(engine: Engine) -> Self {
        Scheduler { engine }
    }

    /// Promotes and expires everything due at `now`, in batches, and wakes the workers of
    /// the queues that gained ready jobs.
    pub async fn run_once(&self, now: Timestamp) -> Result<PromoteOutcome, EngineError> {
        let limit = self.engine.config().promote_batch.max(1);
        let mut total = PromoteOutcome::default();
        loop {
            let params = JobPromoteDueParams { now, limit };
            let store = &self.engine.inner.store;
            let outcome = self.engine.write(store.job_promote_due(params)).await?;
            self.engine.inner.metrics.expired(outcome.expired);
            for queue in &outcome.queues {
                self.engine.inner.ready.notify(queue);
            }
            let full = outcome.promoted >= u64::from(limit) || outcome.expired >= u64::from(limit);
            total.promoted += outcome.promoted;
            total.expired += outcome.expired;
            for queue in outcome.queues {
                if !total.queues.contains(&queue) {
                    total.queues.push(queue);
                }
            }
            if !full {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        // Learn which queues have `max_running`, so finishing jobs wake their workers.
        if let Err(err) = self.engine.queues().await {
            tracing::warn!(error = %err, "scheduler: could not read queue settings");
        }
        let mut due = None;
        while !shutdown.is_cancelled() {
            let now = self.engine.now();
            self.record_lag(due, now);
            match self.run_once(now).await {
                Ok(outcome) if outcome.promoted + outcome.expired > 0 => {
                    tracing::debug!(
                        promoted = outcome.promoted,
                        expired = outcome.expired,
                        "scheduler pass"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "scheduler pass failed"),
            }
            let (sleep, next) = self.sleep_after(now).await;
            due = next;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.engine.inner.schedule.earlier() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// How late this pass runs after `due`, the earliest job due when it went to sleep.
    fn record_lag(&self, due: Option<Timestamp>, now: Timestamp) {
        let lag = due
            .filter(|at| *at <= now)
            .map_or(0.0, |at| now.duration_since(at).as_secs_f64());
        self.engine.inner.metrics.scheduler_lag(lag);
    }

    /// How long to sleep: until the next due job, capped; and tell hinting callers. Also
    /// returns that next due time.
    async fn sleep_after(&self, now: Timestamp) -> (Duration, Option<Timestamp>) {
        let cap = self.engine.config().scheduler_max_sleep;
        let next = self.engine.inner.store.job_next_due().await.ok().flatten();
        let sleep = next.map_or(cap, |due| {
            let wait = due.duration_since(self.engine.now());
            Duration::try_from(wait).unwrap_or(Duration::ZERO).min(cap)
        });
        self.engine
            .inner
            .schedule
            .plan(workhorse_core::clock::add(now, sleep));
        (sleep, next)
    }
}
