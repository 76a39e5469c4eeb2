//! Engine services against the real `SQLite` store, driven by a manual clock.

use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use workhorse_core::{Job, JobState, ManualClock, NewJob, Timestamp, clock};
use workhorse_engine::{Engine, EngineConfig, EngineError, FetchSpec};
use workhorse_store::{Ack, AckKind};
use workhorse_store_sqlite::SqliteStore;

/// Long enough that a test passing within it proves a signal woke the waiter, not a timer.
const SIGNAL_ONLY: Duration = Duration::from_mins(1);
/// A guard against hanging forever if a wake-up is lost.
const GUARD: Duration = Duration::from_secs(10);

struct Fixture {
    engine: Engine,
    clock: ManualClock,
    _dir: TempDir,
}

fn fixture(config: EngineConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open store");
    let start = Timestamp::from_second(1_700_000_000).expect("valid");
    let clock = ManualClock::new(start);
    let engine = Engine::new(Arc::new(store), Arc::new(clock.clone()), config);
    Fixture {
        engine,
        clock,
        _dir: dir,
    }
}

fn signal_only_config() -> EngineConfig {
    EngineConfig {
        recheck: SIGNAL_ONLY,
        ..EngineConfig::default()
    }
}

fn job_on(queue: &str) -> NewJob {
    let mut job = NewJob::new("tests.task");
    queue.clone_into(&mut job.queue);
    job
}

fn spec(queue: &str, wait: Duration) -> FetchSpec {
    FetchSpec {
        worker: "w1".to_owned(),
        queues: vec![queue.to_owned()],
        max: 10,
        wait,
    }
}

async fn enqueue_one(engine: &Engine, job: NewJob) -> Job {
    let mut inserted = engine.enqueue(vec![job]).await.expect("enqueue");
    inserted.pop().expect("one job").job
}

async fn fetch_one(engine: &Engine, queue: &str) -> Job {
    let mut jobs = engine
        .fetch(spec(queue, Duration::ZERO))
        .await
        .expect("fetch");
    assert_eq!(jobs.len(), 1, "one job fetched");
    jobs.pop().expect("one job")
}

/// Polls `check` until it holds, failing the test after [`GUARD`].
async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + GUARD;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn scheduler_promotes_on_time() {
    let f = fixture(EngineConfig::default());
    let mut job = job_on("q");
    job.run_at = Some(clock::add(f.engine.now(), Duration::from_secs(5)));
    let job = enqueue_one(&f.engine, job).await;
    assert_eq!(job.state, JobState::Scheduled);

    let scheduler = f.engine.scheduler();
    f.clock.advance(Duration::from_millis(4_999));
    let early = scheduler.run_once(f.engine.now()).await.expect("pass");
    assert_eq!(early.promoted, 0);
    assert_eq!(
        f.engine.get(job.id).await.expect("get").state,
        JobState::Scheduled
    );

    f.clock.advance(Duration::from_millis(1));
    let due = scheduler.run_once(f.engine.now()).await.expect("pass");
    assert_eq!(due.promoted, 1);
    assert_eq!(due.queues, vec!["q".to_owned()]);
    assert_eq!(
        f.engine.get(job.id).await.expect("get").state,
        JobState::Ready
    );
}

#[tokio::test]
async fn scheduler_expires_waiting_jobs() {
    let f = fixture(EngineConfig::default());
    let mut job = job_on("q");
    job.expires_at = Some(clock::add(f.engine.now(), Duration::from_secs(1)));
    let job = enqueue_one(&f.engine, job).await;
    f.clock.advance(Duration::from_secs(2));
    let outcome = f
        .engine
        .scheduler()
        .run_once(f.engine.now())
        .await
        .expect("pass");
    assert_eq!(outcome.expired, 1);
    assert_eq!(
        f.engine.get(job.id).await.expect("get").state,
        JobState::Expired
    );
}

#[tokio::test]
async fn rescuer_takes_back_expired_leases() {
    let f = fixture(EngineConfig::default());
    let job = enqueue_one(&f.engine, job_on("q")).await;
    let running = fetch_one(&f.engine, "q").await;
    assert_eq!(running.state, JobState::Running);

    let rescuer = f.engine.rescuer();
    assert!(
        rescuer
            .run_once(f.engine.now())
            .await
            .expect("pass")
            .is_empty()
    );

    f.clock
        .advance(f.engine.config().lease + Duration::from_millis(1));
    let taken_back = rescuer.run_once(f.engine.now()).await.expect("pass");
    assert_eq!(taken_back.len(), 1);
    let after = f.engine.get(job.id).await.expect("get");
    assert_eq!(after.state, JobState::Ready);
    assert_eq!(
        after.errors.last().map(|e| e.kind.as_str()),
        Some("LeaseExpired")
    );
    assert_eq!(fetch_one(&f.engine, "q").await.attempt, 2);
}

#[tokio::test]
async fn rescue_worker_frees_a_lost_workers_jobs_at_once() {
    let f = fixture(EngineConfig::default());
    let job = enqueue_one(&f.engine, job_on("q")).await;
    fetch_one(&f.engine, "q").await;
    let rescued = f.engine.rescue_worker("w1").await.expect("rescue");
    assert_eq!(rescued.len(), 1);
    let after = f.engine.get(job.id).await.expect("get");
    assert_eq!(after.state, JobState::Ready);
    assert_eq!(
        after.errors.last().map(|e| e.kind.as_str()),
        Some("WorkerLost")
    );
}

#[tokio::test]
async fn cleaner_keeps_finished_jobs_for_the_retention_period() {
    let f = fixture(EngineConfig::default());
    let job = enqueue_one(&f.engine, job_on("q")).await;
    let running = fetch_one(&f.engine, "q").await;
    let lease = running.lease.expect("leased");
    let ack = Ack {
        id: job.id,
        lease_id: lease.id,
        kind: AckKind::Complete { result: None },
    };
    f.engine.ack(ack).await.expect("ack");

    let cleaner = f.engine.cleaner();
    f.clock.advance(
        f.engine
            .config()
            .retention
            .saturating_sub(Duration::from_secs(1)),
    );
    assert_eq!(cleaner.run_once(f.engine.now()).await.expect("pass"), 0);
    f.clock.advance(Duration::from_secs(2));
    assert_eq!(cleaner.run_once(f.engine.now()).await.expect("pass"), 1);
    assert!(matches!(
        f.engine.get(job.id).await,
        Err(EngineError::UnknownJob(_))
    ));
}

#[tokio::test]
async fn a_waiting_fetch_is_woken_by_an_enqueue() {
    let f = fixture(signal_only_config());
    let engine = f.engine.clone();
    let fetch = tokio::spawn(async move { engine.fetch(spec("q", SIGNAL_ONLY)).await });
    eventually(|| f.engine.ready_waiters("q") > 0).await;
    let started = tokio::time::Instant::now();
    let job = enqueue_one(&f.engine, job_on("q")).await;

    let jobs = tokio::time::timeout(GUARD, fetch)
        .await
        .expect("woken before the guard")
        .expect("task")
        .expect("fetch");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, job.id);
    assert!(started.elapsed() < SIGNAL_ONLY);
}

#[tokio::test]
async fn a_waiting_fetch_is_woken_by_a_promotion() {
    let f = fixture(signal_only_config());
    let mut job = job_on("q");
    job.run_at = Some(clock::add(f.engine.now(), Duration::from_secs(5)));
    let job = enqueue_one(&f.engine, job).await;
    let engine = f.engine.clone();
    let fetch = tokio::spawn(async move { engine.fetch(spec("q", SIGNAL_ONLY)).await });
    eventually(|| f.engine.ready_waiters("q") > 0).await;

    f.clock.advance(Duration::from_secs(5));
    f.engine
        .scheduler()
        .run_once(f.engine.now())
        .await
        .expect("pass");
    let jobs = tokio::time::timeout(GUARD, fetch)
        .await
        .expect("woken")
        .expect("task")
        .expect("fetch");
    assert_eq!(jobs.first().map(|j| j.id), Some(job.id));
}

#[tokio::test]
async fn wait_finished_is_woken_by_completion() {
    let f = fixture(signal_only_config());
    let job = enqueue_one(&f.engine, job_on("q")).await;
    let running = fetch_one(&f.engine, "q").await;
    let engine = f.engine.clone();
    let id = job.id;
    let wait = tokio::spawn(async move { engine.wait_finished(id, SIGNAL_ONLY).await });
    eventually(|| f.engine.result_waiters(id) > 0).await;

    let result = workhorse_core::Json::from_raw(r#"{"ok":true}"#).expect("json");
    let ack = Ack {
        id,
        lease_id: running.lease.expect("leased").id,
        kind: AckKind::Complete {
            result: Some(result.clone()),
        },
    };
    f.engine.ack(ack).await.expect("ack");
    let finished = tokio::time::timeout(GUARD, wait)
        .await
        .expect("woken")
        .expect("task")
        .expect("wait");
    assert_eq!(finished.state, JobState::Succeeded);
    assert_eq!(finished.result, Some(result));
    assert_eq!(f.engine.result_waiters(id), 0, "waits are cleaned up");
}

#[tokio::test]
async fn wait_finished_times_out_with_the_job_as_it_is() {
    let f = fixture(EngineConfig::default());
    let job = enqueue_one(&f.engine, job_on("q")).await;
    let now = f
        .engine
        .wait_finished(job.id, Duration::ZERO)
        .await
        .expect("wait");
    assert_eq!(now.state, JobState::Ready);
    assert!(matches!(
        f.engine
            .wait_finished(workhorse_core::JobId::new(), Duration::ZERO)
            .await,
        Err(EngineError::UnknownJob(_))
    ));
}

#[tokio::test]
async fn events_report_state_changes() {
    let f = fixture(EngineConfig::default());
    let mut events = f.engine.subscribe();
    let job = enqueue_one(&f.engine, job_on("q")).await;
    fetch_one(&f.engine, "q").await;
    let first = events.recv().await.expect("event");
    let second = events.recv().await.expect("event");
    assert_eq!((first.id, first.state), (job.id, JobState::Ready));
    assert_eq!((second.id, second.state), (job.id, JobState::Running));
    assert_eq!(second.queue, "q");
}

#[tokio::test]
async fn a_failed_attempt_with_a_retry_delay_is_scheduled_then_promoted() {
    let f = fixture(EngineConfig::default());
    let job = enqueue_one(&f.engine, job_on("q")).await;
    let running = fetch_one(&f.engine, "q").await;
    let report = workhorse_core::FailureReport {
        kind: "ValueError".to_owned(),
        message: "bad input".to_owned(),
        traceback: None,
        retry_in: Some(Duration::from_secs(3)),
        retryable: true,
    };
    let ack = Ack {
        id: job.id,
        lease_id: running.lease.expect("leased").id,
        kind: AckKind::Fail(report),
    };
    let failed = f.engine.ack(ack).await.expect("ack");
    assert_eq!(failed.state, JobState::Scheduled);
    f.clock.advance(Duration::from_secs(3));
    let outcome = f
        .engine
        .scheduler()
        .run_once(f.engine.now())
        .await
        .expect("pass");
    assert_eq!(outcome.promoted, 1);
    assert_eq!(fetch_one(&f.engine, "q").await.attempt, 2);
}

#[tokio::test]
async fn limits_and_bad_input_are_refused_before_the_store() {
    let f = fixture(EngineConfig::default());
    let too_many = vec![job_on("q"); workhorse_core::limits::MAX_BATCH + 1];
    assert!(matches!(
        f.engine.enqueue(too_many).await,
        Err(EngineError::TooMany { limit: 10_000, .. })
    ));
    let mut bad = job_on("q");
    bad.priority = 10;
    assert!(matches!(
        f.engine.enqueue(vec![bad]).await,
        Err(EngineError::Invalid(e)) if e.field == "priority"
    ));
    let mut bad_spec = spec("has space", Duration::ZERO);
    assert!(
        matches!(f.engine.fetch(bad_spec.clone()).await, Err(EngineError::Invalid(e)) if e.field == "queue")
    );
    bad_spec.queues = vec!["q".to_owned()];
    bad_spec.max = 0;
    assert!(
        matches!(f.engine.fetch(bad_spec).await, Err(EngineError::Invalid(e)) if e.field == "max")
    );
    let page = f.engine.list(workhorse_store::JobListParams {
        limit: 10,
        ..Default::default()
    });
    assert!(page.await.expect("list").jobs.is_empty());
}

#[tokio::test]
async fn start_runs_the_services_until_shutdown() {
    let f = fixture(EngineConfig::default());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tracker = f.engine.start(&shutdown);
    shutdown.cancel();
    tokio::time::timeout(GUARD, tracker.wait())
        .await
        .expect("services stop on shutdown");
}
