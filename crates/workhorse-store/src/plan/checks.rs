//! The size and limit checks of requests, each refusing with a message for people.

use crate::{CancelFilter, StoreError};
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

/// The states a cancel by filter takes its jobs from (the one asked, if Cancel leaves it;
/// every state Cancel leaves otherwise), once its limit and scope are checked: 1 to
/// [`limits::MAX_CANCEL_BATCH`] jobs, and a queue or a task unless `all` is set.
pub fn cancel_states(filter: &CancelFilter) -> Result<Vec<JobState>, StoreError> {
    if !(1..=limits::MAX_CANCEL_BATCH).contains(&(filter.limit as usize)) {
        return Err(StoreError::Invalid(format!(
            "limit must be between 1 and {}; got {}",
            limits::MAX_CANCEL_BATCH,
            filter.limit
        )));
    }
    if filter.queue.is_none() && filter.task.is_none() && !filter.all {
        return Err(StoreError::Invalid(
            "a cancel by filter needs a queue or a task, or all to cancel every job".into(),
        ));
    }
    let sources = Transition::Cancel.sources();
    match filter.state {
        None => Ok(sources.to_vec()),
        Some(state) if sources.contains(&state) => Ok(vec![state]),
        Some(state) => Err(StoreError::Invalid(format!(
            "only scheduled, ready, waiting or running jobs can be cancelled, not {state} ones"
        ))),
    }
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
    fn a_cancel_by_filter_is_bounded_scoped_and_takes_unfinished_jobs() {
        let filter = CancelFilter {
            queue: Some("q".into()),
            task: None,
            state: None,
            all: false,
            limit: limits::MAX_CANCEL_BATCH as u32,
        };
        let every = cancel_states(&filter).expect("every unfinished state");
        assert_eq!(every.len(), 4);
        assert!(every.iter().all(|state| !state.is_terminal()));
        let ready = CancelFilter {
            state: Some(JobState::Ready),
            ..filter.clone()
        };
        assert_eq!(cancel_states(&ready).ok(), Some(vec![JobState::Ready]));
        let dead = CancelFilter {
            state: Some(JobState::Dead),
            ..filter.clone()
        };
        assert!(refusal(cancel_states(&dead)).ends_with("not dead ones"));
        for limit in [0, limits::MAX_CANCEL_BATCH as u32 + 1] {
            let bad = CancelFilter {
                limit,
                ..filter.clone()
            };
            assert!(refusal(cancel_states(&bad)).starts_with("limit must be between 1"));
        }
        let unscoped = CancelFilter {
            queue: None,
            ..filter.clone()
        };
        assert!(refusal(cancel_states(&unscoped)).contains("needs a queue or a task"));
        let all = CancelFilter {
            all: true,
            ..unscoped
        };
        assert!(cancel_states(&all).is_ok());
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
