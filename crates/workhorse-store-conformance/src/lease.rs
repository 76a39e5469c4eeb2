//! Leased jobs: heartbeats, acks and releases.

use super::{
    DEFAULT, LEASE, ack, ack_jittered, applied, assert_transition, at, complete, fail, failure,
    fetch, get, insert, job_in, lease_of, run_one, t0,
};
use std::time::Duration;
use workhorse_core::retry::{Backoff, FailureReport, Jitter};
use workhorse_core::{
    AttemptError, Job, JobId, JobState, LeaseId, Progress, Timestamp, Transition,
};
use workhorse_store::{
    AckOutcome, AckRefusal, Beat, HeartbeatOutcome, JobCancelParams, JobHeartbeatManyParams,
    JobReleaseManyParams, Store,
};

async fn beat(
    store: &dyn Store,
    now: Timestamp,
    beats: Vec<Beat>,
) -> Vec<Option<HeartbeatOutcome>> {
    store
        .job_heartbeat_many(JobHeartbeatManyParams {
            now,
            lease: LEASE,
            beats,
        })
        .await
        .expect("heartbeat")
}

fn beat_of(job: &Job, progress: Option<Progress>) -> Beat {
    Beat {
        id: job.id,
        lease_id: lease_of(job),
        progress,
    }
}

async fn cancel(store: &dyn Store, now: Timestamp, id: JobId) -> Option<Job> {
    store
        .job_cancel(JobCancelParams { now, id })
        .await
        .expect("cancel")
        .map(|cancelled| cancelled.job)
}

/// A heartbeat extends the lease, never past the time limit, and records progress.
pub async fn heartbeat_extends_lease_within_time_limit(store: &dyn Store) {
    let mut new = job_in(DEFAULT, "t");
    new.timeout = Some(Duration::from_mins(1));
    let running = run_one(store, t0(), new).await;
    let half = Progress {
        fraction: 0.5,
        message: Some("half way".to_owned()),
    };
    let outcome = beat(store, at(20), vec![beat_of(&running, Some(half.clone()))]).await;
    let expected = HeartbeatOutcome {
        lease_expires_at: at(50),
        cancel_requested: false,
    };
    assert_eq!(outcome, vec![Some(expected)]);
    let stored = get(store, running.id).await;
    assert_eq!(stored.lease.as_ref().map(|l| l.expires_at), Some(at(50)));
    assert_eq!(stored.progress, Some(half.clone()));

    let outcome = beat(store, at(40), vec![beat_of(&running, None)]).await;
    assert_eq!(
        outcome[0].map(|o| o.lease_expires_at),
        Some(at(60)),
        "time limit"
    );
    let stored = get(store, running.id).await;
    assert_eq!(stored.progress, Some(half), "kept when a beat has none");
    assert_eq!(stored.state, JobState::Running);
}

/// A beat that names another lease, or an unknown or finished job, gets `None`.
pub async fn heartbeat_with_wrong_lease_is_refused(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let wrong = Beat {
        lease_id: LeaseId::new(),
        ..beat_of(&running, None)
    };
    let unknown = Beat {
        id: JobId::new(),
        ..beat_of(&running, None)
    };
    let outcome = beat(store, at(1), vec![wrong, unknown, beat_of(&running, None)]).await;
    assert_eq!(outcome.len(), 3);
    assert_eq!(outcome[..2], [None, None]);
    assert!(outcome[2].is_some());
    applied(
        ack(store, at(2), vec![complete(&running, None)])
            .await
            .remove(0),
    );
    assert_eq!(
        beat(store, at(3), vec![beat_of(&running, None)]).await,
        vec![None]
    );
}

/// A cancel of a running job reaches its worker on the next heartbeat.
pub async fn heartbeat_reports_cancel_request(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    cancel(store, at(1), running.id).await.expect("exists");
    let outcome = beat(store, at(2), vec![beat_of(&running, None)]).await;
    assert_eq!(outcome[0].map(|o| o.cancel_requested), Some(true));
    assert_eq!(get(store, running.id).await.state, JobState::Running);
}

/// Complete: `succeeded`, the result kept verbatim, `finished_at` set, the lease cleared.
pub async fn ack_complete_stores_result(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let done = applied(
        ack(
            store,
            at(2),
            vec![complete(&running, Some(r#"{"sent": true}"#))],
        )
        .await
        .remove(0),
    );
    assert_transition(Transition::Complete, JobState::Running, &done);
    assert_eq!(
        done.result.as_ref().map(workhorse_core::Json::get),
        Some(r#"{"sent": true}"#)
    );
    assert_eq!(done.finished_at, Some(at(2)));
    assert!(done.lease.is_none());
    assert_eq!(done.attempt, 1);
    assert_eq!(get(store, running.id).await, done);

    let other = run_one(store, at(3), job_in(DEFAULT, "t")).await;
    let done = applied(
        ack(store, at(4), vec![complete(&other, None)])
            .await
            .remove(0),
    );
    assert_eq!(done.state, JobState::Succeeded);
    assert!(done.result.is_none());
}

/// An ack under another lease is refused (`LeaseLost`) and changes nothing.
pub async fn ack_with_stale_lease_changes_nothing(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let mut stale_complete = complete(&running, Some("1"));
    stale_complete.lease_id = LeaseId::new();
    let mut stale_fail = fail(&running, failure("E"));
    stale_fail.lease_id = LeaseId::new();
    let outcomes = ack(store, at(1), vec![stale_complete, stale_fail]).await;
    let lost = AckOutcome::Refused(AckRefusal::LeaseLost);
    assert_eq!(outcomes, vec![lost.clone(), lost]);
    assert_eq!(get(store, running.id).await, running);
}

/// An ack for a job that does not exist is refused (`UnknownJob`).
pub async fn ack_unknown_job_is_refused(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let mut unknown_complete = complete(&running, None);
    unknown_complete.id = JobId::new();
    let mut unknown_fail = fail(&running, failure("E"));
    unknown_fail.id = JobId::new();
    let outcomes = ack(store, at(1), vec![unknown_complete, unknown_fail]).await;
    let unknown = AckOutcome::Refused(AckRefusal::UnknownJob);
    assert_eq!(outcomes, vec![unknown.clone(), unknown]);
    assert_eq!(get(store, running.id).await, running);
}

/// A failure with attempts left goes back to `scheduled` after a backoff within bounds,
/// its error kept with the attempt number and traceback.
pub async fn ack_failure_retries_with_backoff(store: &dyn Store) {
    let mut new = job_in(DEFAULT, "t");
    new.max_attempts = 3;
    new.backoff = Backoff {
        base_ms: 1_000,
        max_ms: 4_000,
    };
    let running = run_one(store, t0(), new).await;
    let report = FailureReport {
        traceback: Some("Traceback (most recent call last): ...".to_owned()),
        ..failure("ValueError")
    };
    let retried = applied(
        ack(store, at(1), vec![fail(&running, report.clone())])
            .await
            .remove(0),
    );
    assert_transition(Transition::Retry, JobState::Running, &retried);
    assert!(
        retried.run_at >= at(1) && retried.run_at <= super::later(at(1), Duration::from_secs(1))
    );
    assert_eq!(retried.run_at, at(2), "the whole ceiling at jitter 1");
    let first_error = AttemptError {
        attempt: 1,
        at: at(1),
        kind: report.kind.clone(),
        message: report.message.clone(),
        traceback: report.traceback.clone(),
    };
    assert_eq!(retried.errors, vec![first_error.clone()]);
    assert!(retried.lease.is_none() && retried.finished_at.is_none());
    assert_eq!(get(store, running.id).await, retried);

    super::promote(store, at(3)).await;
    let again = fetch(store, at(3), &[DEFAULT], 1).await.remove(0);
    assert_eq!(again.attempt, 2);
    let retried = applied(
        ack(store, at(4), vec![fail(&again, failure("KeyError"))])
            .await
            .remove(0),
    );
    assert!(
        retried.run_at >= at(4) && retried.run_at <= at(6),
        "ceiling doubles"
    );
    assert_eq!(
        retried.run_at,
        at(6),
        "the whole doubled ceiling at jitter 1"
    );
    assert_eq!(retried.errors.len(), 2);
    assert_eq!(retried.errors[0], first_error);
    assert_eq!(
        (retried.errors[1].attempt, retried.errors[1].kind.as_str()),
        (2, "KeyError")
    );
}

/// A retry after the backoff waits the jitter's fraction of the ceiling, exactly: nothing
/// at jitter 0, half of it (to the millisecond below) at one half, all of it at 1.
pub async fn ack_failure_waits_its_jitter_of_the_backoff(store: &dyn Store) {
    let mut running = Vec::new();
    for _ in 0..3 {
        let mut new = job_in(DEFAULT, "t");
        new.max_attempts = 2;
        new.backoff = Backoff {
            base_ms: 10_000,
            max_ms: 10_000,
        };
        running.push(run_one(store, t0(), new).await);
    }
    let jitters = [Jitter::NONE, Jitter(u32::MAX / 2), Jitter::FULL];
    let acks = running
        .iter()
        .zip(jitters)
        .map(|(job, jitter)| (fail(job, failure("ValueError")), jitter))
        .collect();
    let retried: Vec<Timestamp> = ack_jittered(store, at(1), acks)
        .await
        .into_iter()
        .map(|outcome| applied(outcome).run_at)
        .collect();
    let after = |ms| super::later(at(1), Duration::from_millis(ms));
    assert_eq!(retried, vec![at(1), after(4_999), at(11)]);
    for (job, run_at) in running.iter().zip(&retried) {
        assert_eq!(get(store, job.id).await.run_at, *run_at);
    }
}

/// The last attempt's failure buries the job in the dead-letter set.
pub async fn ack_failure_on_last_attempt_buries(store: &dyn Store) {
    let mut new = job_in(DEFAULT, "t");
    new.max_attempts = 1;
    let running = run_one(store, t0(), new).await;
    let dead = applied(
        ack(store, at(1), vec![fail(&running, failure("E"))])
            .await
            .remove(0),
    );
    assert_transition(Transition::Bury, JobState::Running, &dead);
    assert_eq!(dead.finished_at, Some(at(1)));
    assert_eq!(dead.errors.len(), 1);
    assert!(dead.lease.is_none());
}

/// A failure marked not retryable buries the job whatever attempts are left.
pub async fn ack_non_retryable_failure_buries(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let report = FailureReport {
        retryable: false,
        ..failure("Fatal")
    };
    let dead = applied(
        ack(store, at(1), vec![fail(&running, report)])
            .await
            .remove(0),
    );
    assert_transition(Transition::Bury, JobState::Running, &dead);
    assert_eq!(dead.attempt, 1);
}

/// A worker-requested delay is used exactly, instead of the backoff.
pub async fn ack_retry_in_is_exact(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let report = FailureReport {
        retry_in: Some(Duration::from_secs(42)),
        ..failure("RateLimited")
    };
    let retried = applied(
        ack(store, at(1), vec![fail(&running, report)])
            .await
            .remove(0),
    );
    assert_transition(Transition::Retry, JobState::Running, &retried);
    assert_eq!(retried.run_at, at(43));
}

/// A failure after a cancel request cancels the job.
pub async fn ack_failure_after_cancel_request_cancels(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    cancel(store, at(1), running.id).await.expect("exists");
    let cancelled = applied(
        ack(store, at(2), vec![fail(&running, failure("Cancelled"))])
            .await
            .remove(0),
    );
    assert_transition(Transition::Cancel, JobState::Running, &cancelled);
    assert_eq!(cancelled.finished_at, Some(at(2)));
    assert_eq!(cancelled.errors.len(), 1);
}

/// Each ack of a batch is settled on its own; a refused one stops nothing.
pub async fn ack_batch_settles_each_independently(store: &dyn Store) {
    insert(store, t0(), (0..4).map(|_| job_in(DEFAULT, "t")).collect()).await;
    let jobs = fetch(store, at(1), &[DEFAULT], 4).await;
    let mut stale = complete(&jobs[2], None);
    stale.lease_id = LeaseId::new();
    let mut unknown = complete(&jobs[3], None);
    unknown.id = JobId::new();
    let acks = vec![
        complete(&jobs[0], None),
        fail(&jobs[1], failure("E")),
        stale,
        unknown,
        complete(&jobs[3], None),
        complete(&jobs[0], None),
    ];
    let outcomes = ack(store, at(2), acks).await;
    let states: Vec<_> = outcomes
        .iter()
        .map(|o| match o {
            AckOutcome::Applied(job) => Ok(job.state),
            AckOutcome::Refused(why) => Err(*why),
        })
        .collect();
    assert_eq!(
        states,
        vec![
            Ok(JobState::Succeeded),
            Ok(JobState::Scheduled),
            Err(AckRefusal::LeaseLost),
            Err(AckRefusal::UnknownJob),
            Ok(JobState::Succeeded),
            Err(AckRefusal::LeaseLost),
        ]
    );
    assert_eq!(get(store, jobs[2].id).await, jobs[2]);
}

/// Release: back to `ready` with the attempt not counted and the lease cleared.
pub async fn release_returns_job_uncounted(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let release = |lease| JobReleaseManyParams {
        now: at(1),
        releases: vec![(running.id, lease)],
    };
    let refused = store
        .job_release_many(release(LeaseId::new()))
        .await
        .expect("release");
    assert!(refused.is_empty());
    let released = store
        .job_release_many(release(lease_of(&running)))
        .await
        .expect("release");
    assert_eq!(released.len(), 1);
    assert_transition(Transition::Release, JobState::Running, &released[0]);
    assert_eq!(released[0].attempt, 0);
    assert!(released[0].lease.is_none());
    assert_eq!(get(store, running.id).await, released[0]);
    assert_eq!(fetch(store, at(2), &[DEFAULT], 1).await[0].attempt, 1);
}
