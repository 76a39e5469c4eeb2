//! Inserting jobs: round-trips, batches, delays, limits and unique keys.

use super::{
    DEFAULT, ack, applied, at, complete, fetch, get, insert, insert_one, job_in, json, later, t0,
};
use std::time::Duration;
use workhorse_core::retry::Backoff;
use workhorse_core::{JobState, NewJob, limits};
use workhorse_store::{
    Inserted, JobFetchParams, JobInsertManyParams, JobListParams, Store, StoreError,
};

/// Every field a producer sets comes back as it was sent: JSON byte for byte, timestamps to
/// the microsecond.
pub async fn insert_round_trips_every_field(store: &dyn Store) {
    let now = later(t0(), Duration::from_micros(1_234_567));
    let mut new = job_in("emails", "emails.send");
    new.priority = 7;
    new.args = json(r#"[1, "two" ,{"x": 3.50}]"#);
    new.kwargs = json(r#"{"b":1,  "a":[true,null]}"#);
    new.metadata = Some(json(r#"{ "trace": "abc" }"#));
    new.max_attempts = 4;
    new.backoff = Backoff {
        base_ms: 250,
        max_ms: 9_000,
    };
    new.timeout = Some(Duration::from_millis(1_500));
    new.key = Some("welcome:a@example.com".to_owned());
    new.key_window = Some(Duration::from_mins(1));
    new.concurrency_key = Some("customer-7".to_owned());
    new.concurrency_limit = 3;
    new.expires_at = Some(later(now, Duration::from_micros(3_600_000_001)));
    new.schedule = Some("nightly-digest".to_owned());
    new.scheduled_for = Some(later(t0(), Duration::from_micros(7)));
    let expected = new.clone().into_job(now);

    let inserted = store
        .job_insert_many(JobInsertManyParams {
            now,
            jobs: vec![new.clone()],
        })
        .await
        .expect("insert");
    assert_eq!(
        inserted,
        vec![Inserted {
            job: expected.clone(),
            created: true
        }]
    );
    let stored = get(store, new.id).await;
    assert_eq!(stored, expected);
    assert_eq!(stored.args.get(), r#"[1, "two" ,{"x": 3.50}]"#);
    assert_eq!(stored.kwargs.get(), r#"{"b":1,  "a":[true,null]}"#);
    assert_eq!(stored.created_at, now);
    assert_eq!(stored.state, JobState::Ready);
    assert_eq!(stored.attempt, 0);
}

/// A batch comes back in the order it was sent.
pub async fn insert_batch_keeps_order(store: &dyn Store) {
    let jobs: Vec<NewJob> = (0..20)
        .map(|i| job_in(DEFAULT, &format!("task-{i}")))
        .collect();
    let ids: Vec<_> = jobs.iter().map(|j| j.id).collect();
    let inserted = insert(store, t0(), jobs).await;
    assert_eq!(inserted.iter().map(|j| j.id).collect::<Vec<_>>(), ids);
    for (i, job) in inserted.iter().enumerate() {
        assert_eq!(job.task, format!("task-{i}"));
        assert_eq!(get(store, job.id).await, *job);
    }
}

/// A future `run_at` makes the job `scheduled`; a past one is ready at once.
pub async fn insert_with_delay_is_scheduled(store: &dyn Store) {
    let run_at = later(at(10), Duration::from_micros(1));
    let mut delayed = job_in(DEFAULT, "later");
    delayed.run_at = Some(run_at);
    let mut past = job_in(DEFAULT, "past");
    past.run_at = Some(t0());
    let [delayed, past] =
        <[_; 2]>::try_from(insert(store, at(1), vec![delayed, past]).await).expect("two jobs");
    assert_eq!(delayed.state, JobState::Scheduled);
    assert_eq!(get(store, delayed.id).await.run_at, run_at);
    assert_eq!(past.state, JobState::Ready);
    assert_eq!(get(store, past.id).await.run_at, at(1));
    assert!(
        fetch(store, at(2), &[DEFAULT], 10)
            .await
            .iter()
            .all(|j| j.id == past.id)
    );
}

/// Requests over the named limits are refused with `Invalid` and change nothing.
pub async fn limits_are_refused(store: &dyn Store) {
    let jobs = (0..=limits::MAX_BATCH).map(|_| NewJob::new("t")).collect();
    let err = store
        .job_insert_many(JobInsertManyParams { now: t0(), jobs })
        .await
        .expect_err("an oversized batch");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let all = JobListParams {
        limit: 10,
        ..JobListParams::default()
    };
    assert!(store.job_list(all).await.expect("list").jobs.is_empty());

    insert_one(store, t0(), NewJob::new("t")).await;
    let err = store
        .job_fetch_available(JobFetchParams {
            now: t0(),
            worker: "w".to_owned(),
            queues: vec![DEFAULT.to_owned()],
            max: limits::MAX_FETCH + 1,
            lease: Duration::from_secs(30),
        })
        .await
        .expect_err("an oversized fetch");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = store
        .job_list(JobListParams::default())
        .await
        .expect_err("a zero limit");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

/// A job on the default queue with unique key `key`.
pub(crate) fn keyed(key: &str) -> NewJob {
    let mut job = job_in(DEFAULT, "keyed");
    job.key = Some(key.to_owned());
    job
}

/// Inserts `jobs` as they are, holders returned.
pub(crate) async fn insert_raw(
    store: &dyn Store,
    now: workhorse_core::Timestamp,
    jobs: Vec<NewJob>,
) -> Vec<Inserted> {
    store
        .job_insert_many(JobInsertManyParams { now, jobs })
        .await
        .expect("insert")
}

/// A key held by a live job returns that job, not a new one.
pub async fn unique_key_returns_live_holder(store: &dyn Store) {
    let first = insert_one(store, t0(), keyed("k")).await;
    let again = insert_raw(store, at(1), vec![keyed("k")]).await;
    assert_eq!(again.len(), 1);
    assert!(!again[0].created);
    assert_eq!(again[0].job, first);
    let with_key = JobListParams {
        key: Some("k".to_owned()),
        limit: 10,
        ..JobListParams::default()
    };
    assert_eq!(store.job_list(with_key).await.expect("list").jobs.len(), 1);
}

/// The same key twice in one batch: the first wins, the second gets it back.
pub async fn unique_key_twice_in_one_batch(store: &dyn Store) {
    let (a, b, c) = (keyed("k"), keyed("k"), keyed("other"));
    let (a_id, c_id) = (a.id, c.id);
    let inserted = insert_raw(store, t0(), vec![a, b, c]).await;
    let summary: Vec<_> = inserted.iter().map(|i| (i.job.id, i.created)).collect();
    assert_eq!(summary, vec![(a_id, true), (a_id, false), (c_id, true)]);
}

/// Without a key window, a job that succeeded keeps its key: enqueueing the key again
/// returns it, however long after. (Before keys outlived success, this case asserted the
/// opposite: a finished job freed its key at once.)
pub async fn unique_key_held_after_success(store: &dyn Store) {
    let first = insert_one(store, t0(), keyed("k")).await;
    let running = fetch(store, at(1), &[DEFAULT], 1).await;
    applied(
        ack(store, at(2), vec![complete(&running[0], None)])
            .await
            .remove(0),
    );
    for now in [at(3), at(400 * 24 * 3_600)] {
        let again = insert_raw(store, now, vec![keyed("k")]).await;
        assert!(!again[0].created);
        assert_eq!(again[0].job.id, first.id);
        assert_eq!(again[0].job.state, JobState::Succeeded);
    }
}

/// A finished job keeps its key for its key window, and no longer.
pub async fn unique_key_held_within_window(store: &dyn Store) {
    let mut new = keyed("k");
    new.key_window = Some(Duration::from_mins(1));
    let first = insert_one(store, t0(), new).await;
    let running = fetch(store, at(1), &[DEFAULT], 1).await;
    applied(
        ack(store, at(10), vec![complete(&running[0], None)])
            .await
            .remove(0),
    );

    let within = insert_raw(store, at(69), vec![keyed("k")]).await;
    assert!(!within[0].created);
    assert_eq!(within[0].job.id, first.id);
    assert_eq!(within[0].job.state, JobState::Succeeded);

    let after = insert_raw(store, at(70), vec![keyed("k")]).await;
    assert!(after[0].created);
    assert_ne!(after[0].job.id, first.id);
}
