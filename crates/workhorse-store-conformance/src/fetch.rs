//! Fetching: order, limits, guards, leases, and concurrent fetchers.

use super::{
    DEFAULT, LEASE, WORKER, ack, applied, assert_transition, at, complete, fetch, fetch_as, get,
    insert, job_in, t0,
};
use std::collections::HashSet;
use std::time::Duration;
use workhorse_core::{JobId, JobState, NewJob, RateLimit, Transition};
use workhorse_store::{JobFetchParams, JobListParams, QueueUpdateParams, Store};

fn ids(jobs: &[workhorse_core::Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

fn with_priority(queue: &str, priority: u8) -> NewJob {
    let mut job = job_in(queue, "t");
    job.priority = priority;
    job
}

async fn update(store: &dyn Store, params: QueueUpdateParams) {
    store.queue_update(params).await.expect("queue update");
}

/// Priority 9 first, then lower; FIFO among equal priorities.
pub async fn fetch_orders_by_priority_then_fifo(store: &dyn Store) {
    let jobs = insert(
        store,
        t0(),
        [0, 9, 5, 9, 0]
            .into_iter()
            .map(|p| with_priority(DEFAULT, p))
            .collect(),
    )
    .await;
    let fetched = fetch(store, at(1), &[DEFAULT], 10).await;
    let expected = [1, 3, 2, 0, 4].map(|i| jobs[i].id);
    assert_eq!(ids(&fetched), expected);
}

/// At most `max` jobs, only from the named queues, in priority order across them.
pub async fn fetch_respects_max_and_queues(store: &dyn Store) {
    let mut jobs: Vec<NewJob> = (0..3).map(|_| with_priority("q1", 0)).collect();
    jobs.push(with_priority("q2", 0));
    jobs.push(with_priority("q2", 5));
    jobs.extend((0..2).map(|_| with_priority("q3", 9)));
    let jobs = insert(store, t0(), jobs).await;

    let first = fetch(store, at(1), &["q1", "q2"], 4).await;
    assert_eq!(first.len(), 4);
    assert_eq!(first[0].id, jobs[4].id, "q2's priority-5 job leads");
    assert!(first.iter().all(|j| j.queue == "q1" || j.queue == "q2"));
    assert_eq!(fetch(store, at(1), &["q1", "q2"], 4).await.len(), 1);
    assert!(fetch(store, at(1), &["q1", "q2"], 4).await.is_empty());
    let q3 = JobListParams {
        queue: Some("q3".to_owned()),
        state: Some(JobState::Ready),
        limit: 10,
        ..JobListParams::default()
    };
    assert_eq!(store.job_list(q3).await.expect("list").jobs.len(), 2);
}

/// A paused queue gives nothing; resumed, it gives its jobs.
pub async fn fetch_skips_paused_queue(store: &dyn Store) {
    insert(store, t0(), vec![job_in("q1", "t"), job_in("q1", "t")]).await;
    let pause = |paused| QueueUpdateParams {
        name: "q1".to_owned(),
        paused: Some(paused),
        ..QueueUpdateParams::default()
    };
    update(store, pause(true)).await;
    assert!(fetch(store, at(1), &["q1"], 10).await.is_empty());
    update(store, pause(false)).await;
    assert_eq!(fetch(store, at(2), &["q1"], 10).await.len(), 2);
}

/// `max_running` holds across calls and workers; a finished job makes room.
pub async fn fetch_respects_max_running(store: &dyn Store) {
    insert(store, t0(), (0..5).map(|_| job_in("q1", "t")).collect()).await;
    update(
        store,
        QueueUpdateParams {
            name: "q1".to_owned(),
            max_running: Some(Some(2)),
            ..QueueUpdateParams::default()
        },
    )
    .await;
    let running = fetch(store, at(1), &["q1"], 10).await;
    assert_eq!(running.len(), 2);
    assert!(
        fetch_as(store, at(1), "worker-2", &["q1"], 10)
            .await
            .is_empty()
    );
    applied(
        ack(store, at(2), vec![complete(&running[0], None)])
            .await
            .remove(0),
    );
    assert_eq!(
        fetch_as(store, at(3), "worker-2", &["q1"], 10).await.len(),
        1
    );
    assert!(fetch(store, at(3), &["q1"], 10).await.is_empty());
}

/// A fixed window: at most `limit` starts per `period` from the window's first start.
pub async fn fetch_respects_rate_limit(store: &dyn Store) {
    insert(store, t0(), (0..10).map(|_| job_in("q1", "t")).collect()).await;
    update(
        store,
        QueueUpdateParams {
            name: "q1".to_owned(),
            rate_limit: Some(Some(RateLimit {
                limit: 3,
                period: Duration::from_secs(10),
            })),
            ..QueueUpdateParams::default()
        },
    )
    .await;
    assert_eq!(fetch(store, t0(), &["q1"], 2).await.len(), 2);
    assert_eq!(fetch(store, at(1), &["q1"], 5).await.len(), 1);
    assert!(fetch(store, at(9), &["q1"], 5).await.is_empty());
    assert_eq!(
        fetch(store, at(10), &["q1"], 5).await.len(),
        3,
        "next window"
    );
    assert!(fetch(store, at(11), &["q1"], 5).await.is_empty());
}

fn with_key(key: &str, limit: u32) -> NewJob {
    let mut job = job_in(DEFAULT, "t");
    job.concurrency_key = Some(key.to_owned());
    job.concurrency_limit = limit;
    job
}

/// At most `concurrency_limit` running jobs per key, counting those started by the same call.
pub async fn fetch_respects_concurrency_key(store: &dyn Store) {
    let jobs = insert(
        store,
        t0(),
        vec![
            with_key("cust-1", 2),
            with_key("cust-1", 2),
            with_key("cust-1", 2),
            with_key("cust-2", 1),
            with_key("cust-2", 1),
            job_in(DEFAULT, "free"),
        ],
    )
    .await;
    let running = fetch(store, at(1), &[DEFAULT], 10).await;
    let expected = [0, 1, 3, 5].map(|i| jobs[i].id);
    assert_eq!(ids(&running), expected);
    assert!(fetch(store, at(1), &[DEFAULT], 10).await.is_empty());
    applied(
        ack(store, at(2), vec![complete(&running[0], None)])
            .await
            .remove(0),
    );
    assert_eq!(
        ids(&fetch(store, at(3), &[DEFAULT], 10).await),
        [jobs[2].id]
    );
}

/// A ready job past its `expires_at` is expired, never started.
pub async fn fetch_expires_stale_ready_job(store: &dyn Store) {
    let mut stale = job_in(DEFAULT, "stale");
    stale.expires_at = Some(at(5));
    let jobs = insert(store, t0(), vec![stale, job_in(DEFAULT, "fresh")]).await;
    let fetched = fetch(store, at(5), &[DEFAULT], 10).await;
    assert_eq!(ids(&fetched), [jobs[1].id]);
    let expired = get(store, jobs[0].id).await;
    assert_transition(Transition::Expire, JobState::Ready, &expired);
    assert_eq!(expired.finished_at, Some(at(5)));
    assert_eq!(expired.attempt, 0);
    assert!(expired.lease.is_none());
}

/// A started job holds a lease for the worker (bounded by its time limit), its attempt
/// counted and `started_at = now`.
pub async fn fetch_sets_lease_and_counts_attempt(store: &dyn Store) {
    let mut timed = job_in(DEFAULT, "timed");
    timed.timeout = Some(Duration::from_secs(10));
    let jobs = insert(store, t0(), vec![job_in(DEFAULT, "plain"), timed]).await;
    let fetched = fetch_as(store, at(3), "worker-7", &[DEFAULT], 10).await;
    assert_eq!(ids(&fetched), ids(&jobs));
    for (job, deadline) in fetched.iter().zip([at(3 + 30), at(3 + 10)]) {
        assert_eq!(job.attempt, 1);
        assert_eq!(job.started_at, Some(at(3)));
        let lease = job.lease.as_ref().expect("leased");
        assert_eq!(lease.worker, "worker-7");
        assert_eq!(lease.expires_at, deadline);
        assert_eq!(get(store, job.id).await, *job);
    }
}

/// Two fetches at once never lease the same job; together they take every job.
pub async fn concurrent_fetches_never_share_a_job(store: &dyn Store) {
    insert(
        store,
        t0(),
        (0..100).map(|_| job_in(DEFAULT, "t")).collect(),
    )
    .await;
    let params = |worker: &str| JobFetchParams {
        now: at(1),
        worker: worker.to_owned(),
        queues: vec![DEFAULT.to_owned()],
        max: 7,
        lease: LEASE,
    };
    let mut seen = HashSet::new();
    for _round in 0..100 {
        let (a, b) = tokio::join!(
            store.job_fetch_available(params(WORKER)),
            store.job_fetch_available(params("worker-2"))
        );
        let (a, b) = (a.expect("fetch a"), b.expect("fetch b"));
        if a.is_empty() && b.is_empty() {
            break;
        }
        for job in a.iter().chain(&b) {
            assert!(seen.insert(job.id), "job {} was fetched twice", job.id);
        }
    }
    assert_eq!(seen.len(), 100);
}

/// Jobs a guard holds back at the head of a queue do not hide runnable jobs behind them.
pub async fn fetch_reaches_past_blocked_jobs(store: &dyn Store) {
    let mut jobs: Vec<NewJob> = (0..40)
        .map(|i| {
            let mut job = with_key("busy", 1);
            job.priority = (i % 3) as u8;
            job
        })
        .collect();
    jobs.push(job_in(DEFAULT, "free"));
    let jobs = insert(store, t0(), jobs).await;
    let fetched = fetch(store, at(1), &[DEFAULT], 2).await;
    assert_eq!(ids(&fetched), [jobs[2].id, jobs[40].id]);
}
