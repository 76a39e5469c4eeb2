use super::pause;
use crate::{Engine, EngineError};
use tokio_util::sync::CancellationToken;
use workhorse_core::{Job, Timestamp};
use workhorse_store::JobRescueParams;

/// Takes back expired leases (a worker died or stopped heartbeating, or an attempt ran
/// past its time limit): the job runs again elsewhere, the attempt counted, or goes to the
/// dead-letter set when none are left. Runs every [`crate::EngineConfig::rescue_interval`].
#[derive(Debug, Clone)]
pub struct Rescuer {
    engine: Engine,
}

impl Rescuer {
    pub(crate) fn new(engine: Engine) -> Self {
        Rescuer { engine }
    }

    /// Rescues every lease that ended at or before `now`, in batches; returns the jobs.
    pub async fn run_once(&self, now: Timestamp) -> Result<Vec<Job>, EngineError> {
        let limit = self.engine.config().rescue_batch.max(1);
        let mut all = Vec::new();
        loop {
            let params = JobRescueParams {
                now,
                worker: None,
                limit,
            };
            let store = &self.engine.inner.store;
            let rescue = self.engine.write(store.job_rescue_expired(params)).await?;
            self.engine.rescued(&rescue);
            let full = rescue.jobs.len() >= limit as usize;
            all.extend(rescue.jobs);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let period = self.engine.config().rescue_interval;
        loop {
            match self.run_once(self.engine.now()).await {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in &jobs {
                        tracing::info!(job_id = %job.id, state = %job.state, "lease expired");
                    }
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "rescuer pass failed"),
            }
            if !pause(&shutdown, period).await {
                break;
            }
        }
    }
}
