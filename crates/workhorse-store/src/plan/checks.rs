//! The size and limit checks of requests, each refusing with a message for people.

use crate::StoreError;
use workhorse_core::{Job, JobState, NewJob, Transition, limits};

/// An insert holds at most [`limits::MAX_BATCH`] jobs.
pub fn check_insert_batch(jobs: usize) -> Result<(), StoreError> {
    if jobs > limits::MAX_BATCH {
        return Err(StoreError::Invalid(format!(
            "a batch holds at most {} jobs; got {jobs}",
            limits::MAX_BATCH
        )));
    }
    Ok(())
}

/// A new job whose id is already used by `existing` may only be a repeat of it (a
/// producer's retried enqueue): the same task. Anything else is a conflict.
pub fn check_id_reuse(existing: &Job, new: &NewJob) -> Result<(), StoreError> {
    if existing.task == new.task {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "job id {} is already used by a job of task {:?}, not {:?}",
        new.id, existing.task, new.task
    )))
}

/// A fetch takes at most [`limits::MAX_FETCH`] jobs.
pub fn check_fetch_max(max: u32) -> Result<(), StoreError> {
    if max > limits::MAX_FETCH {
        return Err(StoreError::Invalid(format!(
            "a fetch takes at most {} jobs; asked for {max}",
            limits::MAX_FETCH
        )));
    }
    Ok(())
}

/// A page holds 1 to [`limits::MAX_PAGE`] jobs.
pub fn check_page_limit(limit: u32) -> Result<(), StoreError> {
    if !(1..=limits::MAX_PAGE).contains(&limit) {
        return Err(StoreError::Invalid(format!(
            "limit must be between 1 and {}; got {limit}",
            limits::MAX_PAGE
        )));
    }
    Ok(())
}

/// A workflow holds at most [`limits::MAX_WORKFLOW_JOBS`] jobs.
pub fn check_workflow_size(jobs: usize) -> Result<(), StoreError> {
    if jobs > limits::MAX_WORKFLOW_JOBS {
        return Err(StoreError::Invalid(format!(
            "a workflow holds at most {} jobs; got {jobs}",
            limits::MAX_WORKFLOW_JOBS
        )));
    }
    Ok(())
}

/// The state a redrive by filter takes its jobs from: the one asked (`dead` by default), if
/// Redrive leaves it.
pub fn redrive_state(asked: Option<JobState>) -> Result<JobState, StoreError> {
    let state = asked.unwrap_or(JobState::Dead);
    if !Transition::Redrive.allowed_from(state) {
        return Err(StoreError::Invalid(format!(
            "only dead, cancelled or expired jobs can be redriven, not {state} ones"
        )));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<impl std::fmt::Debug, StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_insert_batch_is_bounded() {
        assert!(check_insert_batch(limits::MAX_BATCH).is_ok());
        assert_eq!(
            refusal(check_insert_batch(limits::MAX_BATCH + 1)),
            format!(
                "a batch holds at most {} jobs; got {}",
                limits::MAX_BATCH,
                limits::MAX_BATCH + 1
            )
        );
    }

    #[test]
    fn a_fetch_is_bounded() {
        assert!(check_fetch_max(0).is_ok());
        assert!(check_fetch_max(limits::MAX_FETCH).is_ok());
        assert!(refusal(check_fetch_max(limits::MAX_FETCH + 1)).starts_with("a fetch takes"));
    }

    #[test]
    fn a_page_holds_at_least_one_job() {
        assert!(refusal(check_page_limit(0)).starts_with("limit must be between 1"));
        assert!(check_page_limit(1).is_ok());
        assert!(check_page_limit(limits::MAX_PAGE).is_ok());
        assert!(check_page_limit(limits::MAX_PAGE + 1).is_err());
    }

    #[test]
    fn a_workflow_is_bounded() {
        assert!(check_workflow_size(limits::MAX_WORKFLOW_JOBS).is_ok());
        assert!(
            refusal(check_workflow_size(limits::MAX_WORKFLOW_JOBS + 1))
                .starts_with("a workflow holds at most")
        );
    }

    #[test]
    fn a_redrive_takes_dead_jobs_unless_told() {
        assert_eq!(redrive_state(None).ok(), Some(JobState::Dead));
        assert_eq!(
            redrive_state(Some(JobState::Expired)).ok(),
            Some(JobState::Expired)
        );
        assert_eq!(
            refusal(redrive_state(Some(JobState::Ready))),
            "only dead, cancelled or expired jobs can be redriven, not ready ones"
        );
    }
}
