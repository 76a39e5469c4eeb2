//! Client-chosen job ids: a producer retrying an enqueue sends the same id, and the store
//! answers the job it already made instead of making a second one.

use super::{DEFAULT, at, get, insert_one, job_in, t0};
use workhorse_core::NewJob;
use workhorse_store::{JobInsertManyParams, JobListParams, Store, StoreError};

/// Every job in the store (the cases make a handful).
async fn all_jobs(store: &dyn Store) -> usize {
    let all = JobListParams {
        limit: 100,
        ..JobListParams::default()
    };
    store.job_list(all).await.expect("list").jobs.len()
}

/// The same id enqueued again (a retry) answers the first job, `created: false`.
pub async fn job_id_used_twice_answers_the_first(store: &dyn Store) {
    let new = job_in(DEFAULT, "emails.send");
    let first = insert_one(store, t0(), new.clone()).await;
    let again = store
        .job_insert_many(JobInsertManyParams {
            now: at(5),
            jobs: vec![new.clone()],
        })
        .await
        .expect("insert");
    assert_eq!(again.len(), 1);
    assert!(!again[0].created, "a repeated id made a job");
    assert_eq!(again[0].job, first);
    assert_eq!(get(store, new.id).await, first);
    assert_eq!(all_jobs(store).await, 1);
}

/// The same id twice in one batch makes one job; the second gets it back.
pub async fn job_id_twice_in_one_batch(store: &dyn Store) {
    let new = job_in(DEFAULT, "emails.send");
    let inserted = store
        .job_insert_many(JobInsertManyParams {
            now: t0(),
            jobs: vec![new.clone(), new.clone()],
        })
        .await
        .expect("insert");
    assert_eq!(inserted.len(), 2);
    assert!(inserted[0].created);
    assert!(!inserted[1].created);
    assert_eq!(inserted[0].job, inserted[1].job);
    assert_eq!(all_jobs(store).await, 1);
}

/// An id used by a job of another task is a conflict: the batch is refused whole.
pub async fn job_id_of_another_task_is_refused(store: &dyn Store) {
    let first = insert_one(store, t0(), job_in(DEFAULT, "emails.send")).await;
    let mut other = NewJob::new("reports.build");
    other.id = first.id;
    let err = store
        .job_insert_many(JobInsertManyParams {
            now: at(1),
            jobs: vec![NewJob::new("fresh"), other],
        })
        .await
        .expect_err("another task under a used id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("reports.build"), "{err}");
    assert_eq!(get(store, first.id).await, first);
    assert_eq!(all_jobs(store).await, 1, "a refused batch inserted a job");
}
