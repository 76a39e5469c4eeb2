//! Job state changes, broadcast to whoever listens (the SSE endpoint, dashboards, tests).

use serde::Serialize;
use workhorse_core::{Job, JobId, JobState, Timestamp};

/// A job entered `state`. Sent after the change committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobEvent {
    pub id: JobId,
    pub queue: String,
    pub task: String,
    pub state: JobState,
    /// Attempts started so far (0 before the first).
    pub attempt: u32,
    /// When the engine announced the change (its clock's time).
    pub at: Timestamp,
}

impl JobEvent {
    /// The event for `job` as it is now, announced at `at`.
    pub fn of(job: &Job, at: Timestamp) -> Self {
        JobEvent {
            id: job.id,
            queue: job.queue.clone(),
            task: job.task.clone(),
            state: job.state,
            attempt: job.attempt,
            at,
        }
    }
}
