//! Cancel by filter: every unfinished job a filter matches, bounded, in one transaction.

use super::{
    DEFAULT, ack, assert_transition, at, complete, fetch, get, insert, insert_one, insert_workflow,
    job_in, job_of, make_dead, run_one, step, t0,
};
use workhorse_core::{Job, JobId, JobState, OnParentFailure, Step, Transition};
use workhorse_store::{CancelFilter, CancelManyOutcome, JobCancelManyParams, Store, StoreError};

/// A filter on `queue` and `task`, every cancellable state, the largest limit.
pub fn cancel_filter(queue: Option<&str>, task: Option<&str>) -> CancelFilter {
    CancelFilter {
        queue: queue.map(str::to_owned),
        task: task.map(str::to_owned),
        state: None,
        all: false,
        limit: 10_000,
    }
}

async fn cancel_many(store: &dyn Store, now: u64, filter: CancelFilter) -> CancelManyOutcome {
    store
        .job_cancel_many(JobCancelManyParams {
            now: at(now),
            filter,
        })
        .await
        .expect("cancel many")
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    let mut ids: Vec<JobId> = jobs.iter().map(|job| job.id).collect();
    ids.sort();
    ids
}

/// Scheduled and ready jobs of the queue asked are cancelled at once, running ones only
/// flagged; jobs of other queues and finished jobs are untouched.
pub async fn cancel_many_by_queue(store: &dyn Store) {
    let dead = make_dead(store, t0(), vec![job_in("bulk", "t")])
        .await
        .remove(0);
    let running = run_one(store, t0(), job_in("bulk", "t")).await;
    let ready = insert_one(store, t0(), job_in("bulk", "t")).await;
    let mut delayed = job_in("bulk", "u");
    delayed.run_at = Some(at(60));
    let scheduled = insert_one(store, t0(), delayed).await;
    let other = insert_one(store, t0(), job_in(DEFAULT, "t")).await;

    let outcome = cancel_many(store, 1, cancel_filter(Some("bulk"), None)).await;
    assert_eq!(
        ids(&outcome.cancelled),
        ids(&[ready.clone(), scheduled.clone()])
    );
    for (job, before) in [(&ready, JobState::Ready), (&scheduled, JobState::Scheduled)] {
        let now = get(store, job.id).await;
        assert_transition(Transition::Cancel, before, &now);
        assert_eq!(now.finished_at, Some(at(1)));
        assert!(outcome.cancelled.contains(&now), "reported as stored");
    }
    assert_eq!(ids(&outcome.cancel_requested), vec![running.id]);
    let flagged = get(store, running.id).await;
    assert_eq!(flagged.state, JobState::Running);
    assert!(flagged.cancel_requested);
    assert_eq!(
        flagged.lease, running.lease,
        "it keeps running under its lease"
    );
    assert!(!outcome.more);
    assert!(outcome.dependants.is_empty());
    assert_eq!(get(store, other.id).await, other, "another queue");
    assert_eq!(get(store, dead.id).await, dead, "a finished job");

    let again = cancel_many(store, 2, cancel_filter(Some("bulk"), None)).await;
    assert!(
        again.cancelled.is_empty() && again.cancel_requested.is_empty() && !again.more,
        "a flagged job is not flagged again: {again:?}"
    );
}

/// The task and state filters narrow what is cancelled.
pub async fn cancel_many_by_task_and_state(store: &dyn Store) {
    let wrong = insert(
        store,
        t0(),
        vec![job_in("a", "wrong"), job_in("b", "wrong")],
    )
    .await;
    let right = insert_one(store, t0(), job_in("a", "right")).await;
    let mut delayed = job_in("a", "wrong");
    delayed.run_at = Some(at(60));
    let later = insert_one(store, t0(), delayed).await;

    let mut ready_only = cancel_filter(None, Some("wrong"));
    ready_only.state = Some(JobState::Ready);
    let outcome = cancel_many(store, 1, ready_only).await;
    assert_eq!(
        ids(&outcome.cancelled),
        ids(&wrong),
        "both queues, ready only"
    );
    assert_eq!(get(store, right.id).await, right, "another task");
    assert_eq!(get(store, later.id).await, later, "another state");

    let outcome = cancel_many(store, 2, cancel_filter(Some("a"), Some("wrong"))).await;
    assert_eq!(ids(&outcome.cancelled), vec![later.id]);
    assert_eq!(get(store, right.id).await, right);
}

/// At most `limit` jobs, oldest first; `more` says the filter matched more.
pub async fn cancel_many_honours_its_limit(store: &dyn Store) {
    let mut jobs = insert(store, t0(), (0..5).map(|_| job_in("bulk", "t")).collect()).await;
    // Ids are UUID v7: their order is the order of creation.
    jobs.sort_by_key(|job| job.id);
    let mut filter = cancel_filter(Some("bulk"), None);
    filter.limit = 2;
    let first = cancel_many(store, 1, filter.clone()).await;
    assert_eq!(ids(&first.cancelled), ids(&jobs[..2]), "oldest first");
    assert!(first.more);
    let second = cancel_many(store, 2, filter.clone()).await;
    assert_eq!(ids(&second.cancelled), ids(&jobs[2..4]));
    assert!(second.more);
    let last = cancel_many(store, 3, filter).await;
    assert_eq!(ids(&last.cancelled), ids(&jobs[4..]));
    assert!(!last.more, "exactly the limit left is not more");
    for job in &jobs {
        assert_eq!(get(store, job.id).await.state, JobState::Cancelled);
    }
}

/// A filter that matches nothing changes nothing; a finished state, a limit out of range or
/// an empty filter without `all` is refused.
pub async fn cancel_many_refuses_and_matches_nothing(store: &dyn Store) {
    let ready = insert_one(store, t0(), job_in("bulk", "t")).await;
    let running = run_one(store, t0(), job_in("busy", "t")).await;
    let done = super::applied(
        ack(store, at(1), vec![complete(&running, None)])
            .await
            .remove(0),
    );
    let outcome = cancel_many(store, 2, cancel_filter(Some("bulk"), Some("nope"))).await;
    assert_eq!(outcome, CancelManyOutcome::default());
    let finished = cancel_many(store, 2, cancel_filter(Some("busy"), None)).await;
    assert_eq!(finished, CancelManyOutcome::default(), "a finished job");

    let mut succeeded = cancel_filter(Some("bulk"), None);
    succeeded.state = Some(JobState::Succeeded);
    let mut zero = cancel_filter(Some("bulk"), None);
    zero.limit = 0;
    let mut over = cancel_filter(Some("bulk"), None);
    over.limit = 10_001;
    for filter in [succeeded, zero, over, cancel_filter(None, None)] {
        let refused = store
            .job_cancel_many(JobCancelManyParams { now: at(2), filter })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
    }
    assert_eq!(get(store, ready.id).await, ready);
    assert_eq!(get(store, done.id).await, done);

    let mut all = cancel_filter(None, None);
    all.all = true;
    let everything = cancel_many(store, 3, all).await;
    assert_eq!(ids(&everything.cancelled), vec![ready.id]);
}

/// Workflow jobs cancelled by filter apply their workflow's policy to the jobs waiting on
/// them, in the same transaction, and report them as dependants.
pub async fn cancel_many_workflow_dependants_follow_the_policy(store: &dyn Store) {
    for policy in [OnParentFailure::Cancel, OnParentFailure::RunAnyway] {
        let tree = Step::Chain(vec![step("a"), step("b"), step("c")]);
        let workflow = insert_workflow(store, t0(), tree, policy).await;
        let b = job_of(store, &workflow, "b").await;
        let outcome = cancel_many(store, 1, cancel_filter(None, Some("b"))).await;
        assert_eq!(ids(&outcome.cancelled), vec![b.id]);
        assert_transition(Transition::Cancel, JobState::Waiting, &outcome.cancelled[0]);
        let c = job_of(store, &workflow, "c").await;
        assert_eq!(
            outcome.dependants,
            std::slice::from_ref(&c),
            "reported as moved"
        );
        if policy == OnParentFailure::Cancel {
            assert_transition(Transition::Cancel, JobState::Waiting, &c);
        } else {
            assert_transition(Transition::Unblock, JobState::Waiting, &c);
        }
        // Clear the queue for the next round: a, and c when it was released.
        let rest = cancel_many(store, 2, cancel_filter(Some(DEFAULT), None)).await;
        assert!(rest.dependants.is_empty(), "b was already cancelled");
        assert!(fetch(store, at(3), &[DEFAULT], 10).await.is_empty());
    }
}
