//! Schedules a worker declares when it starts, so the code that runs a task also says when
//! it runs.

use super::{RECONNECT_MAX, RECONNECT_MIN, Worker};
use crate::client::Client;
use crate::error::ClientError;
use tokio_util::sync::CancellationToken;

impl Worker {
    /// Declares the schedules given to [`crate::WorkerBuilder::schedule`] (`run` does this
    /// first). While the server cannot be reached it keeps trying, with backoff, until it
    /// can or `shutdown` is cancelled (then returns `Ok(false)`); a schedule the server
    /// refuses (a bad cron expression, an unknown time zone) is an error, so a typo stops
    /// the worker at start rather than silently never firing.
    pub async fn declare_schedules(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<bool, ClientError> {
        if self.shared.schedules.is_empty() {
            return Ok(true);
        }
        let mut client = Client::new(&self.shared.url)?;
        if let Some(token) = &self.shared.token {
            client = client.with_token(token.clone());
        }
        let mut delay = RECONNECT_MIN;
        for (name, schedule) in &self.shared.schedules {
            loop {
                match client.upsert_schedule(name, schedule).await {
                    Ok(answer) => {
                        tracing::info!(schedule = %name, changed = answer.changed, "schedule declared");
                        break;
                    }
                    Err(e) if e.is_transient() => {
                        tracing::warn!(schedule = %name, error = %e, retry_in = ?delay, "cannot declare schedule yet");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = shutdown.cancelled() => return Ok(false),
                        }
                        delay = (delay * 2).min(RECONNECT_MAX);
                    }
                    Err(e) => {
                        tracing::error!(schedule = %name, error = %e, "schedule refused");
                        return Err(e);
                    }
                }
            }
        }
        Ok(true)
    }
}
