//! How a running attempt ends: the decision of `workhorse_core::retry`, the error recorded
//! for the attempt, and the job as the store writes it.

use crate::JobRescueParams;
use workhorse_core::retry::{FailureReport, Jitter, LeaseLoss, on_failure, on_lease_lost};
use workhorse_core::{AttemptError, Job, JobState, Json, LeaseId, Outcome, Timestamp, Transition};

/// Whether `job` runs under `lease`: what core's retry decisions assume of the job they
/// judge, and what every lease-guarded write checks.
pub fn runs_under(job: &Job, lease: LeaseId) -> bool {
    job.state == JobState::Running && job.lease.as_ref().is_some_and(|l| l.id == lease)
}

/// What follows the failed attempt `report` describes of the running `job` (a retry after
/// the backoff waits the `jitter` fraction of its ceiling), and the error recorded for it.
pub fn failed(
    job: &Job,
    report: FailureReport,
    now: Timestamp,
    jitter: Jitter,
) -> (Outcome, AttemptError) {
    let outcome = on_failure(job, &report, now, jitter);
    let error = AttemptError {
        attempt: job.attempt,
        at: now,
        kind: report.kind,
        message: report.message,
        traceback: report.traceback,
    };
    (outcome, error)
}

/// What follows the lost lease of the running `job` found by a rescue, and the error
/// recorded for it: `WorkerLost` when the rescue names the worker whose session closed,
/// `TimeLimitExceeded` or `LeaseExpired` otherwise.
pub fn lease_lost(job: &Job, params: &JobRescueParams) -> (Outcome, AttemptError) {
    let loss = match params.worker {
        Some(_) => LeaseLoss::WorkerGone,
        None => LeaseLoss::of_expired(job, params.now),
    };
    let error = AttemptError {
        attempt: job.attempt,
        at: params.now,
        kind: loss.kind().to_owned(),
        message: loss.message(job),
        traceback: None,
    };
    (on_lease_lost(job), error)
}

/// The `run_at` of `job` once `outcome` settled its attempt: the retry's, now for a rescue
/// (ready at once), unchanged for a job that finishes.
pub fn run_at_after(job: &Job, outcome: Outcome, now: Timestamp) -> Timestamp {
    match outcome {
        Outcome::Retry { run_at } => run_at,
        Outcome::Rescue => now,
        Outcome::Bury | Outcome::Cancel => job.run_at,
    }
}

/// The job after `outcome` settled its running attempt: the error recorded, the lease
/// cleared, `run_at` and `finished_at` as the target state needs.
pub fn settled(job: &Job, outcome: Outcome, error: AttemptError, now: Timestamp) -> Job {
    let mut next = job.clone();
    next.state = outcome.transition().target();
    next.run_at = run_at_after(job, outcome, now);
    next.errors.push(error);
    next.finished_at = next.state.is_terminal().then_some(now);
    next.lease = None;
    next
}

/// The job after its worker reported a result (Complete).
pub fn completed(job: &Job, result: Option<Json>, now: Timestamp) -> Job {
    let mut next = job.clone();
    next.state = Transition::Complete.target();
    next.result = result;
    next.finished_at = Some(now);
    next.lease = None;
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use workhorse_core::{Lease, NewJob, clock};

    fn at(secs: u64) -> Timestamp {
        clock::add(Timestamp::UNIX_EPOCH, Duration::from_secs(secs))
    }

    fn running(attempt: u32, max_attempts: u32) -> Job {
        let mut job = NewJob::new("t").into_job(at(0));
        job.state = JobState::Running;
        job.attempt = attempt;
        job.max_attempts = max_attempts;
        job.started_at = Some(at(1));
        job.lease = Some(Lease {
            id: LeaseId::new(),
            worker: "w".to_owned(),
            expires_at: at(30),
        });
        job
    }

    fn report(retry_in: Option<Duration>) -> FailureReport {
        FailureReport {
            kind: "ValueError".to_owned(),
            message: "bad".to_owned(),
            traceback: Some("line 1".to_owned()),
            retry_in,
            retryable: true,
        }
    }

    #[test]
    fn runs_under_needs_running_and_the_same_lease() {
        let job = running(1, 3);
        let lease = job.lease.as_ref().map(|l| l.id).expect("leased");
        assert!(runs_under(&job, lease));
        assert!(!runs_under(&job, LeaseId::new()));
        let mut done = job.clone();
        done.state = JobState::Succeeded;
        assert!(!runs_under(&done, lease));
    }

    #[test]
    fn a_failure_records_the_report_as_the_attempts_error() {
        let job = running(2, 3);
        let (outcome, error) = failed(&job, report(None), at(5), Jitter::FULL);
        // The second failure of the default backoff: a ceiling of 2 s.
        assert_eq!(outcome, Outcome::Retry { run_at: at(7) });
        assert_eq!(error.attempt, 2);
        assert_eq!(error.at, at(5));
        assert_eq!(error.kind, "ValueError");
        assert_eq!(error.message, "bad");
        assert_eq!(error.traceback.as_deref(), Some("line 1"));
        let (outcome, _) = failed(&job, report(None), at(5), Jitter::NONE);
        assert_eq!(outcome, Outcome::Retry { run_at: at(5) });
    }

    #[test]
    fn a_lost_lease_names_why_it_was_lost() {
        let job = running(1, 3);
        let rescue = |worker: Option<&str>, now| JobRescueParams {
            now,
            worker: worker.map(str::to_owned),
            limit: 10,
        };
        let (outcome, error) = lease_lost(&job, &rescue(Some("w"), at(2)));
        assert_eq!(outcome, Outcome::Rescue);
        assert_eq!((error.kind.as_str(), error.at), ("WorkerLost", at(2)));
        assert_eq!(error.traceback, None);
        let (_, error) = lease_lost(&job, &rescue(None, at(40)));
        assert_eq!(error.kind, "LeaseExpired");
        let mut limited = job.clone();
        limited.timeout = Some(Duration::from_secs(10));
        let (_, error) = lease_lost(&limited, &rescue(None, at(40)));
        assert_eq!(error.kind, "TimeLimitExceeded");
        let (outcome, _) = lease_lost(&running(3, 3), &rescue(None, at(40)));
        assert_eq!(outcome, Outcome::Bury);
    }

    #[test]
    fn settling_moves_run_at_as_the_outcome_needs() {
        let job = running(1, 3);
        assert_eq!(
            run_at_after(&job, Outcome::Retry { run_at: at(9) }, at(5)),
            at(9)
        );
        assert_eq!(run_at_after(&job, Outcome::Rescue, at(5)), at(5));
        assert_eq!(run_at_after(&job, Outcome::Bury, at(5)), job.run_at);
        assert_eq!(run_at_after(&job, Outcome::Cancel, at(5)), job.run_at);
    }

    #[test]
    fn a_settled_job_has_its_error_and_no_lease() {
        let job = running(3, 3);
        let (outcome, error) = failed(&job, report(None), at(5), Jitter::NONE);
        let next = settled(&job, outcome, error.clone(), at(5));
        assert_eq!(next.state, JobState::Dead);
        assert_eq!(next.errors, vec![error]);
        assert_eq!(next.finished_at, Some(at(5)));
        assert_eq!(next.lease, None);
        let retried = settled(
            &running(1, 3),
            Outcome::Retry { run_at: at(9) },
            next.errors[0].clone(),
            at(5),
        );
        assert_eq!(retried.state, JobState::Scheduled);
        assert_eq!((retried.run_at, retried.finished_at), (at(9), None));
    }

    #[test]
    fn a_completed_job_keeps_its_result() {
        let result = Json::from_raw("[1]").expect("json");
        let next = completed(&running(1, 3), Some(result.clone()), at(5));
        assert_eq!(next.state, JobState::Succeeded);
        assert_eq!(next.result, Some(result));
        assert_eq!((next.finished_at, next.lease), (Some(at(5)), None));
    }
}
