//! Operator actions: cancel and redrive.

use super::{
    DEFAULT, ack, applied, assert_transition, at, complete, fetch, get, insert_one, job_in,
    make_dead, promote, run_one, t0,
};
use workhorse_core::{Job, JobId, JobState, Timestamp, Transition};
use workhorse_store::{JobCancelParams, JobRedriveParams, RedriveSelector, Store, StoreError};

async fn cancel(store: &dyn Store, now: Timestamp, id: JobId) -> Option<Job> {
    store
        .job_cancel(JobCancelParams { now, id })
        .await
        .expect("cancel")
        .map(|cancelled| cancelled.job)
}

async fn redrive(store: &dyn Store, now: Timestamp, selector: RedriveSelector) -> Vec<Job> {
    store
        .job_redrive(JobRedriveParams { now, selector })
        .await
        .expect("redrive")
}

/// Ready and scheduled jobs are cancelled at once.
pub async fn cancel_waiting_job_at_once(store: &dyn Store) {
    let ready = insert_one(store, t0(), job_in(DEFAULT, "t")).await;
    let mut delayed = job_in(DEFAULT, "t");
    delayed.run_at = Some(at(60));
    let scheduled = insert_one(store, t0(), delayed).await;

    let cancelled = cancel(store, at(1), ready.id).await.expect("exists");
    assert_transition(Transition::Cancel, JobState::Ready, &cancelled);
    assert_eq!(cancelled.finished_at, Some(at(1)));
    let cancelled = cancel(store, at(1), scheduled.id).await.expect("exists");
    assert_transition(Transition::Cancel, JobState::Scheduled, &cancelled);
    assert_eq!(get(store, scheduled.id).await, cancelled);

    assert!(fetch(store, at(2), &[DEFAULT], 10).await.is_empty());
    assert_eq!(promote(store, at(61)).await.promoted, 0);
}

/// A running job is only flagged; it keeps running under its lease.
pub async fn cancel_running_job_requests_only(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let flagged = cancel(store, at(1), running.id).await.expect("exists");
    assert_eq!(flagged.state, JobState::Running);
    assert!(flagged.cancel_requested);
    assert_eq!(flagged.lease, running.lease);
    assert!(flagged.finished_at.is_none());
}

/// A finished job comes back unchanged; an unknown one gives `None`.
pub async fn cancel_finished_or_unknown_job(store: &dyn Store) {
    let running = run_one(store, t0(), job_in(DEFAULT, "t")).await;
    let done = applied(
        ack(store, at(1), vec![complete(&running, None)])
            .await
            .remove(0),
    );
    assert_eq!(cancel(store, at(2), done.id).await, Some(done.clone()));
    assert_eq!(get(store, done.id).await, done);
    assert_eq!(cancel(store, at(2), JobId::new()).await, None);
}

/// Redrive by id: dead and cancelled jobs run again with fresh attempts and their errors
/// kept; jobs in other states are skipped.
pub async fn redrive_by_ids(store: &dyn Store) {
    let dead = make_dead(store, t0(), vec![job_in(DEFAULT, "t")])
        .await
        .remove(0);
    let waiting = insert_one(store, at(1), job_in(DEFAULT, "t")).await;
    let cancelled = cancel(store, at(1), waiting.id).await.expect("exists");
    let ready = insert_one(store, at(2), job_in("other", "t")).await;

    let selector = RedriveSelector::Ids(vec![dead.id, cancelled.id, ready.id]);
    let redriven = redrive(store, at(5), selector).await;
    assert_eq!(redriven.len(), 2);
    for (job, before) in redriven.iter().zip([&dead, &cancelled]) {
        assert_eq!(job.id, before.id);
        assert_transition(Transition::Redrive, before.state, job);
        assert_eq!(job.attempt, 0);
        assert!(job.finished_at.is_none());
        assert_eq!(job.errors, before.errors, "errors are kept");
        assert_eq!(get(store, job.id).await, *job);
    }
    assert_eq!(get(store, ready.id).await, ready);
    let fetched = fetch(store, at(6), &[DEFAULT], 10).await;
    assert_eq!(fetched.len(), 2);
    assert!(fetched.iter().all(|j| j.attempt == 1));
}

/// Redrive by filter: queue, task and state (`dead` by default), oldest first, up to `limit`.
pub async fn redrive_by_filter(store: &dyn Store) {
    let dead = make_dead(
        store,
        t0(),
        vec![
            job_in("q1", "a"),
            job_in("q1", "a"),
            job_in("q1", "b"),
            job_in("q2", "a"),
        ],
    )
    .await;
    let mut stale = job_in("q1", "a");
    stale.expires_at = Some(at(1));
    let stale = insert_one(store, t0(), stale).await;
    assert_eq!(promote(store, at(2)).await.expired, 1);

    let filter = |queue: Option<&str>, task: Option<&str>, state, limit| RedriveSelector::Filter {
        queue: queue.map(str::to_owned),
        task: task.map(str::to_owned),
        state,
        limit,
    };
    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let first = redrive(store, at(3), filter(Some("q1"), Some("a"), None, 1)).await;
    assert_eq!(ids(first), [dead[0].id]);
    let rest = redrive(store, at(3), filter(Some("q1"), None, None, 10)).await;
    assert_eq!(ids(rest), [dead[1].id, dead[2].id]);
    let by_task = redrive(store, at(3), filter(None, Some("a"), None, 10)).await;
    assert_eq!(ids(by_task), [dead[3].id]);
    let expired = redrive(
        store,
        at(3),
        filter(None, None, Some(JobState::Expired), 10),
    )
    .await;
    assert_eq!(expired.len(), 1);
    assert_transition(Transition::Redrive, JobState::Expired, &expired[0]);
    assert_eq!(expired[0].id, stale.id);

    let err = store
        .job_redrive(JobRedriveParams {
            now: at(4),
            selector: filter(None, None, Some(JobState::Running), 10),
        })
        .await
        .expect_err("running jobs cannot be redriven");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}
