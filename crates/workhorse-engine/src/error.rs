//! What an engine call can fail with.

use workhorse_core::job::InvalidJob;
use workhorse_core::{JobId, JobState};
use workhorse_store::StoreError;

/// Why an engine call failed. Every variant but [`EngineError::Store`] is caused by the
/// caller's input and changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A field breaks a rule; `field` names it as the HTTP API spells it.
    #[error(transparent)]
    Invalid(#[from] InvalidJob),
    /// A batch holds more items than the named limit allows.
    #[error("{what} holds {size} items; the limit is {limit}")]
    TooMany {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// No job has this id.
    #[error("no job with id {0}")]
    UnknownJob(JobId),
    /// The job is not running under the lease named (it was rescued, finished or leased
    /// again): the caller must stop working on it.
    #[error(
        "job {0} is not running under this lease_id (the lease expired or the job finished); nothing was changed"
    )]
    LeaseLost(JobId),
    /// A retry (redrive) of a job that is not dead, cancelled or expired.
    #[error("job {id} is {state}; only dead, cancelled or expired jobs can be retried")]
    NotRedrivable { id: JobId, state: JobState },
    /// A workflow breaks a rule; `field` is the path of the offending step.
    #[error(transparent)]
    InvalidWorkflow(#[from] workhorse_core::InvalidWorkflow),
    /// No workflow has this id.
    #[error("no workflow with id {0}")]
    UnknownWorkflow(workhorse_core::WorkflowId),
    /// A schedule set names a schedule held by another owner (`None`: made at run time);
    /// nothing of the set was stored.
    #[error("schedule {name:?} is {}; no schedule of this set was stored", owned_by(.owner.as_deref()))]
    ScheduleOwned { name: String, owner: Option<String> },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who holds a schedule, as an error message says it.
fn owned_by(owner: Option<&str>) -> String {
    match owner {
        Some(owner) => format!("declared by {owner:?}"),
        None => "made at run time (no owner)".to_owned(),
    }
}

/// An [`InvalidJob`] for `field`.
pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid(InvalidJob {
        field,
        message: message.into(),
    })
}
