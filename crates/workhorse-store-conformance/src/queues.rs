//! Queues: counts per state and controls.

use super::{ack, applied, at, complete, fetch, insert_one, job_in, run_one, t0};
use std::collections::BTreeMap;
use std::time::Duration;
use workhorse_core::{JobState, QueueConfig, RateLimit};
use workhorse_store::{QueueInfo, QueueListParams, QueueUpdateParams, Store, StoreError};

async fn queues(store: &dyn Store) -> BTreeMap<String, QueueInfo> {
    store
        .queue_list(QueueListParams { now: at(100) })
        .await
        .expect("queue list")
        .into_iter()
        .map(|info| (info.config.name.clone(), info))
        .collect()
}

fn nonzero(counts: &BTreeMap<JobState, u64>) -> BTreeMap<JobState, u64> {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (*s, *n))
        .collect()
}

/// Every queue with jobs or settings, its jobs counted per state and the `run_at` of its
/// oldest ready job.
pub async fn queue_list_counts_states(store: &dyn Store) {
    insert_one(store, t0(), job_in("q1", "t")).await;
    assert_eq!(fetch(store, t0(), &["q1"], 1).await.len(), 1);
    insert_one(store, at(1), job_in("q1", "t")).await;
    insert_one(store, at(2), job_in("q1", "t")).await;
    let mut delayed = job_in("q1", "t");
    delayed.run_at = Some(at(50));
    insert_one(store, at(2), delayed).await;
    let done = run_one(store, at(3), job_in("q2", "t")).await;
    applied(
        ack(store, at(4), vec![complete(&done, None)])
            .await
            .remove(0),
    );
    store
        .queue_update(QueueUpdateParams {
            name: "q3".to_owned(),
            paused: Some(true),
            ..QueueUpdateParams::default()
        })
        .await
        .expect("update");

    let list = queues(store).await;
    assert_eq!(list.keys().collect::<Vec<_>>(), ["q1", "q2", "q3"]);
    let q1 = &list["q1"];
    let expected = [
        (JobState::Ready, 2),
        (JobState::Running, 1),
        (JobState::Scheduled, 1),
    ];
    assert_eq!(nonzero(&q1.counts), BTreeMap::from(expected));
    assert_eq!(q1.oldest_ready_at, Some(at(1)));
    assert!(!q1.config.paused);
    let q2 = &list["q2"];
    assert_eq!(
        nonzero(&q2.counts),
        BTreeMap::from([(JobState::Succeeded, 1)])
    );
    assert_eq!(q2.oldest_ready_at, None);
    let q3 = &list["q3"];
    assert!(q3.config.paused);
    assert!(nonzero(&q3.counts).is_empty());
}

/// Updates create the queue, change only what they name, and clear limits on request;
/// bad controls are refused.
pub async fn queue_update_sets_and_clears_controls(store: &dyn Store) {
    let update = |params: QueueUpdateParams| async move {
        store.queue_update(params).await.map(|info| info.config)
    };
    let name = || "mail".to_owned();
    let rate = RateLimit {
        limit: 10,
        period: Duration::from_secs(1),
    };
    let set = update(QueueUpdateParams {
        name: name(),
        paused: Some(true),
        max_running: Some(Some(5)),
        rate_limit: Some(Some(rate)),
    })
    .await
    .expect("update");
    let mut expected = QueueConfig {
        name: name(),
        paused: true,
        max_running: Some(5),
        rate_limit: Some(rate),
    };
    assert_eq!(set, expected);

    let resume = QueueUpdateParams {
        name: name(),
        paused: Some(false),
        ..QueueUpdateParams::default()
    };
    expected.paused = false;
    assert_eq!(update(resume).await.expect("update"), expected);
    let unlimit = QueueUpdateParams {
        name: name(),
        max_running: Some(None),
        ..QueueUpdateParams::default()
    };
    expected.max_running = None;
    assert_eq!(update(unlimit).await.expect("update"), expected);
    let unrate = QueueUpdateParams {
        name: name(),
        rate_limit: Some(None),
        ..QueueUpdateParams::default()
    };
    expected.rate_limit = None;
    assert_eq!(update(unrate).await.expect("update"), expected);
    assert_eq!(queues(store).await["mail"].config, expected);

    let zero_rate = QueueUpdateParams {
        name: name(),
        rate_limit: Some(Some(RateLimit { limit: 0, ..rate })),
        ..QueueUpdateParams::default()
    };
    let bad_name = QueueUpdateParams {
        name: "has space".to_owned(),
        paused: Some(true),
        ..QueueUpdateParams::default()
    };
    for bad in [zero_rate, bad_name] {
        let err = update(bad).await.expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(queues(store).await["mail"].config, expected);
}
