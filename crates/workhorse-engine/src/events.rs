//! Job state changes, broadcast to whoever listens (the SSE endpoint, dashboards, tests).

use serde::Serialize;
use workhorse_core::{Job, JobId, JobState};

/// A job entered `state`. Sent after the change committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobEvent {
    pub id: JobId,
    pub queue: String,
    pub task: String,
    pub state: JobState,
}

impl JobEvent {
    /// The event for `job` as it is now.
    pub fn of(job: &Job) -> Self {
        JobEvent {
            id: job.id,
            queue: job.queue.clone(),
            task: job.task.clone(),
            state: job.state,
        }
    }
}
