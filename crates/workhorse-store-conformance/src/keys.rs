//! How long a job holds its unique key once it finished: a success until retention deletes
//! it, a failure not at all, and with a key window that long whatever the end.

use super::insert::{insert_raw, keyed};
use super::{DEFAULT, ack, applied, at, complete, fetch, insert_one, job_in, make_dead, t0};
use std::time::Duration;
use workhorse_core::{Job, JobState, Timestamp};
use workhorse_store::{JobCancelParams, JobDeleteFinishedParams, Store};

/// Runs the one ready job of the default queue to success at `done`.
async fn succeed(store: &dyn Store, done: Timestamp) -> Job {
    let running = fetch(store, at(1), &[DEFAULT], 1).await;
    applied(
        ack(store, done, vec![complete(&running[0], None)])
            .await
            .remove(0),
    )
}

/// Whether enqueueing `key` at `now` makes a new job; if not, it returned `holder`.
async fn makes_new(store: &dyn Store, now: Timestamp, key: &str, holder: &Job) -> bool {
    let again = insert_raw(store, now, vec![keyed(key)]).await.remove(0);
    assert_eq!(again.created, again.job.id != holder.id, "{again:?}");
    again.created
}

/// A job that ended `dead`, `cancelled` or `expired` did not do its work: it releases its
/// key at once, and enqueueing the key again makes a new job.
pub async fn unique_key_released_by_dead_cancelled_expired(store: &dyn Store) {
    let dead = make_dead(store, t0(), vec![keyed("dead")]).await.remove(0);
    assert_eq!(dead.state, JobState::Dead);
    assert!(makes_new(store, at(1), "dead", &dead).await);

    let waiting = insert_one(store, t0(), keyed("cancelled")).await;
    let cancelled = store
        .job_cancel(JobCancelParams {
            now: at(1),
            id: waiting.id,
        })
        .await
        .expect("cancel")
        .expect("a cancelled job")
        .job;
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(makes_new(store, at(2), "cancelled", &cancelled).await);

    let mut stale = job_in("stale", "keyed");
    stale.key = Some("expired".to_owned());
    stale.expires_at = Some(at(5));
    let stale = insert_one(store, t0(), stale).await;
    assert!(fetch(store, at(5), &["stale"], 1).await.is_empty());
    assert!(makes_new(store, at(6), "expired", &stale).await);
}

/// A key window of zero: the key is held while the job is live, and released the moment
/// it succeeds.
pub async fn unique_key_window_zero_is_live_only(store: &dyn Store) {
    let mut new = keyed("k");
    new.key_window = Some(Duration::ZERO);
    let live = insert_one(store, t0(), new).await;
    assert!(!makes_new(store, at(0), "k", &live).await);
    let done = succeed(store, at(2)).await;
    assert!(makes_new(store, at(2), "k", &done).await);
}

/// A key window holds the key that long after the job finished, however it finished (a
/// dead job included), and no longer.
pub async fn unique_key_window_covers_every_end(store: &dyn Store) {
    let mut new = keyed("k");
    new.key_window = Some(Duration::from_secs(60));
    let dead = make_dead(store, at(10), vec![new]).await.remove(0);
    assert_eq!(dead.finished_at, Some(at(10)));
    assert!(!makes_new(store, at(69), "k", &dead).await);
    assert!(makes_new(store, at(70), "k", &dead).await);
}

/// Retention deleting the job that succeeded releases its key.
pub async fn unique_key_released_by_retention(store: &dyn Store) {
    insert_one(store, t0(), keyed("k")).await;
    let done = succeed(store, at(2)).await;
    assert!(!makes_new(store, at(3), "k", &done).await);
    let deleted = store
        .job_delete_finished(JobDeleteFinishedParams {
            finished_before: at(3),
            limit: 10,
        })
        .await
        .expect("retention");
    assert_eq!(deleted, 1);
    assert!(makes_new(store, at(4), "k", &done).await);
}
