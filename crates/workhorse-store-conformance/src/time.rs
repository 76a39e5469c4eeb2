//! Time-driven moves: promote, expire, next due time, lost leases, retention.

use super::{
    DEFAULT, ack, applied, assert_transition, at, complete, fail, failure, fetch, fetch_as, get,
    insert, insert_one, job_in, lease_of, promote, run_one, t0,
};
use std::time::Duration;
use workhorse_core::retry::FailureReport;
use workhorse_core::{Job, JobState, NewJob, Timestamp, Transition};
use workhorse_store::{
    AckOutcome, AckRefusal, JobCancelParams, JobDeleteFinishedParams, JobListParams,
    JobPromoteDueParams, JobRescueParams, PromoteOutcome, Store,
};

fn delayed(queue: &str, run_at: Timestamp) -> NewJob {
    let mut job = job_in(queue, "t");
    job.run_at = Some(run_at);
    job
}

async fn rescue(store: &dyn Store, now: Timestamp, worker: Option<&str>) -> Vec<Job> {
    let rescued = store
        .job_rescue_expired(JobRescueParams {
            now,
            worker: worker.map(str::to_owned),
            limit: 1_000,
        })
        .await
        .expect("rescue")
        .jobs;
    for job in &rescued {
        super::assert_legal(JobState::Running, job);
    }
    rescued
}

/// Due scheduled jobs become ready (their queues reported); waiting jobs past `expires_at`
/// become expired, expiry winning over promotion; `limit` bounds each call.
pub async fn promote_due_moves_scheduled_and_expires_stale(store: &dyn Store) {
    let mut stale_ready = job_in("q1", "t");
    stale_ready.expires_at = Some(at(15));
    let mut short_lived = delayed("q1", at(10));
    short_lived.expires_at = Some(at(12));
    let mut never_ready = delayed("q1", at(40));
    never_ready.expires_at = Some(at(41));
    let jobs = insert(
        store,
        t0(),
        vec![
            delayed("q1", at(10)),
            delayed("q2", at(20)),
            stale_ready,
            short_lived,
            never_ready,
        ],
    )
    .await;

    assert_eq!(promote(store, at(9)).await, PromoteOutcome::default());
    let out = promote(store, at(10)).await;
    assert_eq!(
        (out.promoted, out.expired, out.queues),
        (2, 0, vec!["q1".to_owned()])
    );
    assert_transition(
        Transition::Promote,
        JobState::Scheduled,
        &get(store, jobs[0].id).await,
    );
    assert_eq!(get(store, jobs[3].id).await.state, JobState::Ready);

    let out = promote(store, at(15)).await;
    assert_eq!((out.promoted, out.expired), (0, 2));
    let expired = get(store, jobs[2].id).await;
    assert_transition(Transition::Expire, JobState::Ready, &expired);
    assert_eq!(expired.finished_at, Some(at(15)));
    assert_eq!(get(store, jobs[3].id).await.state, JobState::Expired);

    let out = promote(store, at(20)).await;
    assert_eq!((out.promoted, out.queues), (1, vec!["q2".to_owned()]));
    let out = promote(store, at(41)).await;
    assert_eq!((out.promoted, out.expired), (0, 1), "expiry wins");
    assert_transition(
        Transition::Expire,
        JobState::Scheduled,
        &get(store, jobs[4].id).await,
    );

    insert(
        store,
        at(50),
        (0..3).map(|_| delayed("q3", at(60))).collect(),
    )
    .await;
    let limited = JobPromoteDueParams {
        now: at(60),
        limit: 2,
    };
    assert_eq!(
        store
            .job_promote_due(limited.clone())
            .await
            .expect("promote")
            .promoted,
        2
    );
    assert_eq!(
        store
            .job_promote_due(limited)
            .await
            .expect("promote")
            .promoted,
        1
    );
}

/// The next wake time: the earliest `run_at` of a scheduled job or `expires_at` of a
/// waiting one; running and finished jobs do not count.
pub async fn next_due_is_earliest_wake_time(store: &dyn Store) {
    assert_eq!(store.job_next_due().await.expect("next due"), None);
    let mut running = job_in(DEFAULT, "t");
    running.expires_at = Some(at(5));
    run_one(store, t0(), running).await;
    assert_eq!(store.job_next_due().await.expect("next due"), None);

    insert_one(store, t0(), delayed(DEFAULT, at(30))).await;
    assert_eq!(store.job_next_due().await.expect("next due"), Some(at(30)));
    let mut expiring = job_in("other", "t");
    expiring.expires_at = Some(at(20));
    insert_one(store, t0(), expiring).await;
    assert_eq!(store.job_next_due().await.expect("next due"), Some(at(20)));
}

/// A lease that ended sends the job back to `ready`, the attempt counted and a
/// `LeaseExpired` error recorded; the old lease's late ack is refused.
pub async fn rescue_expired_lease_counts_attempt(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    assert!(rescue(store, at(29), None).await.is_empty());
    let rescued = rescue(store, at(30), None).await;
    assert_eq!(rescued.len(), 1);
    let job = &rescued[0];
    assert_transition(Transition::Rescue, JobState::Running, job);
    assert_eq!(job.attempt, 1);
    assert!(job.lease.is_none());
    assert_eq!(job.errors.len(), 1);
    assert_eq!((job.errors[0].attempt, job.errors[0].at), (1, at(30)));
    assert_eq!(job.errors[0].kind, "LeaseExpired");
    assert_eq!(get(store, job.id).await, *job);

    let late = ack(store, at(31), vec![complete(&running, None)]).await;
    assert_eq!(late, vec![AckOutcome::Refused(AckRefusal::LeaseLost)]);
    assert_eq!(fetch(store, at(31), &[DEFAULT], 1).await[0].attempt, 2);
}

/// A lease held to the time limit is lost as `TimeLimitExceeded`.
pub async fn rescue_past_time_limit_records_time_limit(store: &dyn Store) {
    let mut new = job_in(DEFAULT, "t");
    new.timeout = Some(Duration::from_secs(10));
    run_one(store, t0(), new).await;
    let rescued = rescue(store, at(10), None).await;
    assert_eq!(rescued.len(), 1);
    assert_eq!(rescued[0].errors[0].kind, "TimeLimitExceeded");
}

/// A lost lease on the last attempt buries the job.
pub async fn rescue_on_last_attempt_buries(store: &dyn Store) {
    let mut new = job_in(DEFAULT, "t");
    new.max_attempts = 1;
    run_one(store, t0(), new).await;
    let rescued = rescue(store, at(30), None).await;
    assert_eq!(rescued.len(), 1);
    assert_transition(Transition::Bury, JobState::Running, &rescued[0]);
    assert_eq!(rescued[0].finished_at, Some(at(30)));
}

/// With a worker named, every running job of that worker is rescued at once, whatever its
/// lease says, as `WorkerLost`; other workers' jobs are untouched.
pub async fn rescue_worker_takes_all_its_jobs(store: &dyn Store) {
    insert(store, t0(), (0..3).map(|_| job_in(DEFAULT, "t")).collect()).await;
    let mine = fetch_as(store, t0(), "worker-a", &[DEFAULT], 2).await;
    let theirs = fetch_as(store, t0(), "worker-b", &[DEFAULT], 1).await;
    let rescued = rescue(store, at(1), Some("worker-a")).await;
    let mut ids: Vec<_> = rescued.iter().map(|j| j.id).collect();
    ids.sort();
    let mut expected: Vec<_> = mine.iter().map(|j| j.id).collect();
    expected.sort();
    assert_eq!(ids, expected);
    for job in &rescued {
        assert_transition(Transition::Rescue, JobState::Running, job);
        assert_eq!(job.errors[0].kind, "WorkerLost");
    }
    assert_eq!(get(store, theirs[0].id).await, theirs[0]);
}

/// A lost lease of a job whose cancel was requested cancels it.
pub async fn rescue_cancel_requested_cancels(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    store
        .job_cancel(JobCancelParams {
            now: at(1),
            id: running.id,
        })
        .await
        .expect("cancel");
    let rescued = rescue(store, at(30), None).await;
    assert_eq!(rescued.len(), 1);
    assert_transition(Transition::Cancel, JobState::Running, &rescued[0]);
    assert_eq!(rescued[0].finished_at, Some(at(30)));
}

/// Retention deletes only jobs finished before the cutoff, oldest first, up to `limit`.
pub async fn delete_finished_respects_cutoff_and_limit(store: &dyn Store) {
    insert(store, t0(), (0..5).map(|_| job_in(DEFAULT, "t")).collect()).await;
    let jobs = fetch(store, t0(), &[DEFAULT], 4).await;
    applied(
        ack(store, at(1), vec![complete(&jobs[0], None)])
            .await
            .remove(0),
    );
    applied(
        ack(store, at(2), vec![complete(&jobs[1], None)])
            .await
            .remove(0),
    );
    let fatal = FailureReport {
        retryable: false,
        ..failure("Fatal")
    };
    applied(
        ack(store, at(3), vec![fail(&jobs[2], fatal)])
            .await
            .remove(0),
    );

    let delete = |before, limit| JobDeleteFinishedParams {
        finished_before: before,
        limit,
    };
    let deleted = |params| async move { store.job_delete_finished(params).await.expect("delete") };
    assert_eq!(deleted(delete(at(3), 1)).await, 1);
    assert_eq!(store.job_get(jobs[0].id).await.expect("get"), None);
    assert!(store.job_get(jobs[1].id).await.expect("get").is_some());
    assert_eq!(deleted(delete(at(3), 10)).await, 1);
    assert_eq!(deleted(delete(at(3), 10)).await, 0);
    assert_eq!(deleted(delete(at(4), 10)).await, 1);
    let all = JobListParams {
        limit: 10,
        ..JobListParams::default()
    };
    let left = store.job_list(all).await.expect("list").jobs;
    let mut states: Vec<_> = left.iter().map(|j| j.state).collect();
    states.sort();
    assert_eq!(states, [JobState::Ready, JobState::Running]);
    assert_eq!(lease_of(&get(store, jobs[3].id).await), lease_of(&jobs[3]));
}
