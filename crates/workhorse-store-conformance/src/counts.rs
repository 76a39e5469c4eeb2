//! Queue counts and filtered pages stay exact whatever moved the jobs: every transition,
//! retention, a reopened store, and jobs old and rare enough that a store would be tempted to
//! read around them.
//!
//! The oracle is the jobs themselves: every job read back page by page, then counted and
//! filtered here.

use super::{
    DEFAULT, ack, applied, assert_transition, at, complete, fail, failure, fetch, fetch_as, insert,
    insert_one, job_in, lease_of, make_dead, promote, run_one, t0,
};
use std::collections::BTreeMap;
use std::future::Future;
use workhorse_core::{Job, JobState, NewJob, Timestamp, Transition, limits};
use workhorse_store::{
    JobCancelParams, JobDeleteFinishedParams, JobListParams, JobRedriveParams,
    JobReleaseManyParams, JobRescueParams, QueueListParams, RedriveSelector, Store,
};

type Counts = BTreeMap<(String, JobState), u64>;

/// Every job, newest first, read page by page.
async fn every_job(store: &dyn Store) -> Vec<Job> {
    list_all(store, JobListParams::default(), limits::MAX_PAGE).await
}

/// Every job matching `params`, read in pages of `limit`.
async fn list_all(store: &dyn Store, params: JobListParams, limit: u32) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .job_list(JobListParams {
                limit,
                cursor,
                ..params.clone()
            })
            .await
            .expect("list");
        assert!(page.jobs.len() <= limit as usize);
        jobs.extend(page.jobs);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return jobs,
        }
    }
}

/// The store's counts (only the non-zero ones).
async fn kept_counts(store: &dyn Store) -> Counts {
    let queues = store
        .queue_list(QueueListParams { now: t0() })
        .await
        .expect("queue list");
    queues
        .into_iter()
        .flat_map(|info| {
            let queue = info.config.name;
            info.counts
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(move |(state, n)| ((queue.clone(), state), n))
        })
        .collect()
}

fn recount(jobs: &[Job]) -> Counts {
    let mut counts = Counts::new();
    for job in jobs {
        *counts.entry((job.queue.clone(), job.state)).or_insert(0) += 1;
    }
    counts
}

/// The store's counts are the jobs' own, and a page filtered by queue and state (or state
/// alone) holds exactly the jobs those counts promise, newest first.
async fn assert_counts_exact(store: &dyn Store, step: &str) {
    let jobs = every_job(store).await;
    let counts = recount(&jobs);
    assert_eq!(kept_counts(store).await, counts, "after {step}");
    for state in JobState::ALL {
        let of_state = |job: &&Job| job.state == state;
        let expected: Vec<_> = jobs.iter().filter(of_state).map(|j| j.id).collect();
        let by_state = JobListParams {
            state: Some(state),
            ..JobListParams::default()
        };
        let listed: Vec<_> = list_all(store, by_state, 3)
            .await
            .iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(listed, expected, "{state} jobs after {step}");
    }
    for (queue, state) in counts.keys() {
        let params = JobListParams {
            queue: Some(queue.clone()),
            state: Some(*state),
            ..JobListParams::default()
        };
        let listed = list_all(store, params, limits::MAX_PAGE).await.len() as u64;
        assert_eq!(
            listed,
            counts[&(queue.clone(), *state)],
            "{queue}/{state} after {step}"
        );
    }
}

fn delayed(queue: &str, run_at: Timestamp) -> NewJob {
    let mut job = job_in(queue, "t");
    job.run_at = Some(run_at);
    job
}

fn with_attempts(queue: &str, max_attempts: u32) -> NewJob {
    let mut job = job_in(queue, "t");
    job.max_attempts = max_attempts;
    job
}

async fn cancel(store: &dyn Store, now: Timestamp, job: &Job) -> Job {
    store
        .job_cancel(JobCancelParams { now, id: job.id })
        .await
        .expect("cancel")
        .expect("the job exists")
        .job
}

async fn rescue(store: &dyn Store, now: Timestamp, worker: Option<&str>) -> Vec<Job> {
    store
        .job_rescue_expired(JobRescueParams {
            now,
            worker: worker.map(str::to_owned),
            limit: 1_000,
        })
        .await
        .expect("rescue")
        .jobs
}

/// Every move of a job between states (and in and out of the store) changes the counts of
/// its queue by exactly that move: enqueue, start, complete, retry, promote, bury, cancel
/// (waiting and running), expire (by the clock and at fetch), redrive (by id and by filter),
/// release, rescue (back to ready, and buried), and retention.
pub async fn queue_counts_follow_every_transition(store: &dyn Store) {
    insert(store, t0(), vec![job_in("q1", "t"), job_in("q1", "t")]).await;
    insert_one(store, t0(), delayed("q1", at(500))).await;
    assert_counts_exact(store, "enqueue").await;

    let done = run_one(store, at(1), job_in("q2", "t")).await;
    assert_counts_exact(store, "start").await;
    applied(
        ack(store, at(2), vec![complete(&done, None)])
            .await
            .remove(0),
    );
    assert_counts_exact(store, "complete").await;

    let failing = run_one(store, at(3), job_in("q3", "t")).await;
    let retried = applied(
        ack(store, at(4), vec![fail(&failing, failure("Boom"))])
            .await
            .remove(0),
    );
    assert_transition(Transition::Retry, JobState::Running, &retried);
    assert_counts_exact(store, "retry").await;
    assert_eq!(promote(store, at(400)).await.promoted, 1);
    assert_counts_exact(store, "promote").await;

    let dead = make_dead(store, at(5), vec![job_in("q4", "t")])
        .await
        .remove(0);
    assert_counts_exact(store, "bury").await;

    let waiting = insert_one(store, at(6), job_in("q5", "t")).await;
    cancel(store, at(6), &waiting).await;
    let running = run_one(store, at(6), job_in("q6", "t")).await;
    cancel(store, at(7), &running).await;
    applied(
        ack(store, at(7), vec![fail(&running, failure("Stopped"))])
            .await
            .remove(0),
    );
    assert_counts_exact(store, "cancel").await;

    let mut expiring = job_in("q7", "t");
    expiring.expires_at = Some(at(8));
    insert_one(store, at(7), expiring.clone()).await;
    assert_eq!(promote(store, at(9)).await.expired, 1);
    expiring.id = workhorse_core::JobId::new();
    insert_one(store, at(7), expiring).await;
    assert!(fetch(store, at(9), &["q7"], 1).await.is_empty());
    assert_counts_exact(store, "expire").await;

    let by_ids = RedriveSelector::Ids(vec![dead.id, waiting.id]);
    let by_filter = RedriveSelector::Filter {
        queue: Some("q7".to_owned()),
        task: None,
        state: Some(JobState::Expired),
        limit: 10,
    };
    for selector in [by_ids, by_filter] {
        let redriven = store
            .job_redrive(JobRedriveParams {
                now: at(10),
                selector,
            })
            .await
            .expect("redrive");
        assert_eq!(redriven.len(), 2);
    }
    assert_counts_exact(store, "redrive").await;

    let held = run_one(store, at(11), job_in("q8", "t")).await;
    let released = store
        .job_release_many(JobReleaseManyParams {
            now: at(11),
            releases: vec![(held.id, lease_of(&held))],
        })
        .await
        .expect("release");
    assert_eq!(released.len(), 1);
    assert_counts_exact(store, "release").await;

    run_one(store, at(12), job_in("q9", "t")).await;
    run_one(store, at(12), with_attempts("q10", 1)).await;
    insert_one(store, at(12), job_in("q11", "t")).await;
    fetch_as(store, at(12), "worker-2", &["q11"], 1).await;
    assert_eq!(rescue(store, at(12), Some("worker-2")).await.len(), 1);
    assert_eq!(rescue(store, at(100), None).await.len(), 2);
    assert_counts_exact(store, "rescue").await;

    let deleted = store
        .job_delete_finished(JobDeleteFinishedParams {
            finished_before: at(1_000),
            limit: 1_000,
        })
        .await
        .expect("delete finished");
    assert!(deleted >= 3, "{deleted} deleted");
    assert_counts_exact(store, "retention").await;
}

/// Pages filtered by state, queue or task find jobs that are few and old behind many newer
/// ones (dead letters made before a backlog), and page through them exactly.
pub async fn lists_find_old_rare_jobs(store: &dyn Store) {
    let old = (0..3).map(|_| job_in("old", "old.fail")).collect();
    let dead = make_dead(store, t0(), old).await;
    insert_one(store, t0(), delayed("old", at(3_600))).await;
    for batch in 0..3 {
        let jobs = (0..100).map(|_| job_in(DEFAULT, "new")).collect();
        insert(store, at(batch + 1), jobs).await;
    }
    let started = fetch(store, at(10), &[DEFAULT], 120).await;
    let acks = started
        .iter()
        .take(100)
        .map(|job| complete(job, None))
        .collect();
    ack(store, at(11), acks).await;
    let newer_dead = (0..2).map(|_| job_in("other", "t")).collect();
    make_dead(store, at(12), newer_dead).await;

    let everything = every_job(store).await;
    let filters = [
        (Some("old"), None, None),
        (None, Some(JobState::Dead), None),
        (None, Some(JobState::Succeeded), None),
        (None, Some(JobState::Running), None),
        (None, Some(JobState::Ready), None),
        (None, Some(JobState::Scheduled), None),
        (None, Some(JobState::Cancelled), None),
        (Some("old"), Some(JobState::Dead), None),
        (Some(DEFAULT), Some(JobState::Dead), None),
        (Some(DEFAULT), Some(JobState::Ready), None),
        (None, None, Some("old.fail")),
        (None, None, Some("new")),
        (None, Some(JobState::Dead), Some("old.fail")),
        (Some("nowhere"), None, None),
    ];
    for (queue, state, task) in filters {
        let params = JobListParams {
            queue: queue.map(str::to_owned),
            state,
            task: task.map(str::to_owned),
            ..JobListParams::default()
        };
        let described = format!("{params:?}");
        let expected: Vec<_> = everything
            .iter()
            .filter(|j| queue.is_none_or(|q| j.queue == q))
            .filter(|j| state.is_none_or(|s| j.state == s))
            .filter(|j| task.is_none_or(|t| j.task == t))
            .map(|j| j.id)
            .collect();
        let listed: Vec<_> = list_all(store, params, 2)
            .await
            .iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(listed, expected, "{described}");
    }
    let old_dead_letters = JobListParams {
        queue: Some("old".to_owned()),
        state: Some(JobState::Dead),
        ..JobListParams::default()
    };
    let listed: Vec<_> = list_all(store, old_dead_letters, 2).await;
    let newest_first: Vec<_> = dead.iter().rev().map(|j| j.id).collect();
    assert_eq!(
        listed.iter().map(|j| j.id).collect::<Vec<_>>(),
        newest_first
    );
}

/// Counts stay exact while writers race with the reads and the retention that keep them (a
/// store may fold a log of count changes when it lists queues or deletes finished jobs):
/// three writers insert, start and finish jobs while queues are listed and finished jobs
/// deleted, all at once.
pub async fn queue_counts_exact_under_concurrent_writes(store: &dyn Store) {
    let write = |queue: &'static str| async move {
        for round in 0..10 {
            insert(
                store,
                at(round),
                (0..5).map(|_| job_in(queue, "t")).collect(),
            )
            .await;
            let started = fetch(store, at(round), &[queue], 3).await;
            let acks = started
                .iter()
                .take(2)
                .map(|job| complete(job, None))
                .collect();
            ack(store, at(round), acks).await;
        }
    };
    let upkeep = async {
        for _ in 0..20 {
            kept_counts(store).await;
            store
                .job_delete_finished(JobDeleteFinishedParams {
                    finished_before: at(1_000),
                    limit: 3,
                })
                .await
                .expect("retention");
        }
    };
    tokio::join!(write("race-a"), write("race-b"), write("race-c"), upkeep);
    assert_counts_exact(store, "writes racing with reads and retention").await;
}

/// A store opened again on the same database reports the same counts and keeps counting
/// exactly. Not run by [`crate::conformance_tests!`]: each store runs it with a way to
/// reopen itself (`reopen` closes the first store and opens the database again).
pub async fn queue_counts_survive_reopen<S, F, Fut>(first: S, reopen: F)
where
    S: Store,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = S>,
{
    insert(&first, t0(), (0..5).map(|_| job_in("q1", "t")).collect()).await;
    let running = fetch(&first, at(1), &["q1"], 2).await;
    applied(
        ack(&first, at(2), vec![complete(&running[0], None)])
            .await
            .remove(0),
    );
    make_dead(&first, at(3), vec![job_in("q2", "t")]).await;
    assert_counts_exact(&first, "the first opening").await;
    let before = kept_counts(&first).await;

    let second = reopen(first).await;
    assert_eq!(
        kept_counts(&second).await,
        before,
        "counts after the reopen"
    );
    applied(
        ack(&second, at(4), vec![complete(&running[1], None)])
            .await
            .remove(0),
    );
    insert_one(&second, at(5), job_in("q3", "t")).await;
    assert_counts_exact(&second, "the reopen").await;
}
