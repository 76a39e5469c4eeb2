use super::pause;
use crate::{Engine, EngineError};
use jiff::SignedDuration;
use tokio_util::sync::CancellationToken;
use workhorse_core::Timestamp;
use workhorse_store::JobDeleteFinishedParams;

/// Deletes jobs that finished longer than [`crate::EngineConfig::retention`] ago, in
/// batches, every [`crate::EngineConfig::cleaner_interval`].
#[derive(Debug, Clone)]
pub struct Cleaner {
    engine: Engine,
}

impl Cleaner {
    pub(crate) fn new(engine: Engine) -> Self {
        Cleaner { engine }
    }

    /// Deletes every job finished before `now - retention`; returns how many.
    pub async fn run_once(&self, now: Timestamp) -> Result<u64, EngineError> {
        let retention =
            SignedDuration::try_from(self.engine.config().retention).unwrap_or(SignedDuration::MAX);
        let finished_before = now.checked_sub(retention).unwrap_or(Timestamp::MIN);
        let limit = self.engine.config().cleaner_batch.max(1);
        let mut total = 0;
        loop {
            let params = JobDeleteFinishedParams {
                finished_before,
                limit,
            };
            let store = &self.engine.inner.store;
            let deleted = self.engine.write(store.job_delete_finished(params)).await?;
            total += deleted;
            if deleted < u64::from(limit) {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let period = self.engine.config().cleaner_interval;
        loop {
            match self.run_once(self.engine.now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "cleaner deleted finished jobs"),
                Err(err) => tracing::warn!(error = %err, "cleaner pass failed"),
            }
            if !pause(&shutdown, period).await {
                break;
            }
        }
    }
}
