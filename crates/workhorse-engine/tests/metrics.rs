//! Engine metrics counted where transitions happen: rescues, expiries, cancels, waits,
//! with a manual clock so the histograms' sums are exact.

use std::sync::Arc;
use std::time::Duration;
use workhorse_core::{Clock as _, ManualClock, NewJob, Timestamp, clock};
use workhorse_engine::{Engine, EngineConfig, FetchSpec, StoreCounts};
use workhorse_store_sqlite::SqliteStore;

/// The value of the sample line that starts with `series ` (name and labels exactly).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a number"))
}

fn fixture() -> (Engine, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open store");
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).expect("valid"));
    let config = EngineConfig::with_lease(Duration::from_secs(10));
    let engine = Engine::new(Arc::new(store), Arc::new(clock.clone()), config);
    (engine, clock, dir)
}

fn job(task: &str) -> NewJob {
    let mut job = NewJob::new(task);
    "m".clone_into(&mut job.queue);
    job.max_attempts = 2;
    job
}

async fn fetch(engine: &Engine) -> usize {
    let spec = FetchSpec {
        worker: "w".to_owned(),
        queues: vec!["m".to_owned()],
        max: 10,
        wait: Duration::ZERO,
    };
    engine.fetch(spec).await.expect("fetch").len()
}

#[tokio::test]
async fn rescues_expiries_cancels_and_waits_are_counted() {
    let (engine, clock, _dir) = fixture();
    // On a queue nobody fetches from: it waits, ready, until it expires.
    let mut expiring = job("expires");
    "idle".clone_into(&mut expiring.queue);
    expiring.expires_at = Some(clock::add(clock.now(), Duration::from_secs(30)));
    let mut cancelled = job("cancelled");
    cancelled.run_at = Some(clock::add(clock.now(), Duration::from_secs(60)));
    let inserted = engine
        .enqueue(vec![job("lost"), expiring, cancelled])
        .await
        .expect("enqueue");
    engine.cancel(inserted[2].job.id).await.expect("cancel");
    // A later cancel of the finished job changes nothing and counts nothing. (The engine
    // tells the two apart by `finished_at`, so the clock must have moved.)
    clock.advance(Duration::from_millis(1));
    engine.cancel(inserted[2].job.id).await.expect("cancel");

    clock.advance(Duration::from_millis(2_999));
    assert_eq!(fetch(&engine).await, 1);
    clock.advance(Duration::from_secs(40));
    assert_eq!(
        engine
            .rescuer()
            .run_once(engine.now())
            .await
            .expect("rescue")
            .len(),
        1
    );
    let outcome = engine
        .scheduler()
        .run_once(engine.now())
        .await
        .expect("promote");
    assert_eq!(outcome.expired, 1);

    let text = engine.metrics().render();
    let lost = "{queue=\"m\",task=\"lost\"}";
    assert_eq!(
        sample(&text, &format!("workhorse_jobs_rescued_total{lost}")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("workhorse_jobs_failed_total{lost}")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("workhorse_jobs_retried_total{lost}")),
        Some(1.0)
    );
    assert_eq!(sample(&text, "workhorse_jobs_expired_total"), Some(1.0));
    let cancelled = "workhorse_jobs_cancelled_total{queue=\"m\",task=\"cancelled\"}";
    assert_eq!(sample(&text, cancelled), Some(1.0));
    // The job waited the 3 s the clock moved between enqueue and fetch.
    assert_eq!(
        sample(&text, &format!("workhorse_job_wait_seconds_sum{lost}")),
        Some(3.0)
    );
    assert!(text.contains("# HELP workhorse_jobs_enqueued_total"));
}

#[tokio::test]
async fn queue_gauges_and_store_counts_are_sampled() {
    let (engine, _clock, _dir) = fixture();
    assert!(engine.metrics().queues_age().is_none());
    engine
        .enqueue(vec![job("a"), job("b")])
        .await
        .expect("enqueue");
    engine.refresh_queue_metrics().await.expect("refresh");
    assert!(engine.metrics().queues_age().is_some());
    let calls = std::sync::atomic::AtomicU64::new(10);
    assert!(engine.metrics().set_store_stats(move || StoreCounts {
        calls: calls.fetch_add(10, std::sync::atomic::Ordering::Relaxed),
        commits: 5,
    }));
    assert!(
        !engine.metrics().set_store_stats(StoreCounts::default),
        "set once"
    );
    engine.metrics().set_workers_connected(3);
    let text = engine.metrics().render();
    let ready = "workhorse_queue_depth{queue=\"m\",state=\"ready\"}";
    assert_eq!(sample(&text, ready), Some(2.0));
    assert_eq!(
        sample(&text, "workhorse_queue_depth{queue=\"m\",state=\"dead\"}"),
        Some(0.0)
    );
    assert_eq!(sample(&text, "workhorse_store_calls_total"), Some(10.0));
    assert_eq!(sample(&text, "workhorse_store_batch_size"), Some(2.0));
    assert_eq!(sample(&text, "workhorse_workers_connected"), Some(3.0));
}
