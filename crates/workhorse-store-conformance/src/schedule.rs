//! Schedules: upsert semantics, firing exactly once, misfire and overlap policies, pause,
//! trigger and history.

use super::{at, fetch, get, json, t0};
use std::time::Duration;
use workhorse_core::{Backoff, Job, JobState, Misfire, Overlap, ScheduleSpec, Timestamp};
use workhorse_store::{
    Fire, FireOutcome, JobListParams, SKIPPED_OVERLAP, ScheduleDefinition, ScheduleFireDueParams,
    ScheduleHistoryParams, ScheduleJob, ScheduleSetPausedParams, ScheduleTriggerParams,
    ScheduleUpsertParams, ScheduleUpserted, Store, fire_key,
};

/// A schedule `name` firing every 10 s from [`t0`], making `tick` jobs on `default`.
pub(crate) fn every_ten(name: &str) -> ScheduleDefinition {
    ScheduleDefinition {
        name: name.to_owned(),
        spec: ScheduleSpec::every(Duration::from_secs(10), t0()).expect("a valid interval"),
        job: ScheduleJob {
            task: "tick".to_owned(),
            queue: super::DEFAULT.to_owned(),
            priority: 3,
            args: json("[1]"),
            kwargs: json("{}"),
            max_attempts: 2,
            backoff: Backoff::default(),
            timeout: None,
            expires: None,
            concurrency_key: None,
            concurrency_limit: 1,
            metadata: None,
        },
        misfire: Misfire::Coalesce,
        grace: Duration::from_secs(1),
        overlap: Overlap::Allow,
    }
}

pub(crate) async fn upsert(
    store: &dyn Store,
    now: Timestamp,
    def: ScheduleDefinition,
) -> ScheduleUpserted {
    store
        .schedule_upsert(ScheduleUpsertParams {
            now,
            definition: def,
            paused: None,
        })
        .await
        .expect("upsert")
}

pub(crate) async fn fire_due(store: &dyn Store, now: Timestamp) -> Vec<Fire> {
    store
        .schedule_fire_due(ScheduleFireDueParams { now, limit: 100 })
        .await
        .expect("fire due")
}

fn fire_times(fires: &[Fire]) -> Vec<Timestamp> {
    fires.iter().map(|f| f.fire_at).collect()
}

pub(crate) async fn job_of_fire(store: &dyn Store, fire: &Fire) -> Job {
    match fire.outcome {
        FireOutcome::Job(id) => get(store, id).await,
        FireOutcome::Skipped(ref why) => panic!("the fire was skipped: {why}"),
    }
}

async fn all_jobs(store: &dyn Store) -> Vec<Job> {
    let params = JobListParams {
        limit: 1_000,
        ..JobListParams::default()
    };
    store.job_list(params).await.expect("list").jobs
}

/// Declaring the same schedule again changes nothing; a new definition updates it and
/// recomputes its next fire; delete removes it.
pub async fn schedule_upsert_is_idempotent(store: &dyn Store) {
    let first = upsert(store, at(1), every_ten("s")).await;
    assert!(first.created && first.changed);
    assert_eq!(first.schedule.next_fire_at, Some(at(10)));
    assert!(!first.schedule.paused);

    let again = upsert(store, at(5), every_ten("s")).await;
    assert!(!again.created && !again.changed);
    assert_eq!(again.schedule, first.schedule);

    let mut changed = every_ten("s");
    changed.spec = ScheduleSpec::every(Duration::from_secs(7), t0()).expect("interval");
    let updated = upsert(store, at(15), changed.clone()).await;
    assert!(!updated.created && updated.changed);
    assert_eq!(updated.schedule.definition, changed);
    assert_eq!(updated.schedule.next_fire_at, Some(at(21)));

    upsert(store, at(15), every_ten("other")).await;
    let names: Vec<String> = store
        .schedule_list()
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.definition.name)
        .collect();
    assert_eq!(names, ["other", "s"]);
    assert_eq!(
        store.schedule_get("s").await.expect("get"),
        Some(updated.schedule)
    );
    assert!(store.schedule_delete("s").await.expect("delete"));
    assert!(!store.schedule_delete("s").await.expect("delete again"));
    assert_eq!(store.schedule_get("s").await.expect("get"), None);
}

/// Each due fire makes one job carrying `schedule`, `scheduled_for` and the fire key;
/// firing again at the same moment makes nothing; the history records the fire.
pub async fn schedule_fire_makes_one_job_per_fire(store: &dyn Store) {
    upsert(store, t0(), every_ten("s")).await;
    assert!(fire_due(store, at(9)).await.is_empty());
    let fires = fire_due(store, at(10)).await;
    assert_eq!(fire_times(&fires), [at(10)]);
    let job = job_of_fire(store, &fires[0]).await;
    assert_eq!(job.state, JobState::Ready);
    assert_eq!(job.task, "tick");
    assert_eq!(job.priority, 3);
    assert_eq!(job.schedule.as_deref(), Some("s"));
    assert_eq!(job.scheduled_for, Some(at(10)));
    assert_eq!(job.key, Some(fire_key("s", at(10))));
    assert!(fire_due(store, at(10)).await.is_empty());
    assert_eq!(store.schedule_next_due().await.expect("next"), Some(at(20)));

    let schedule = store.schedule_get("s").await.expect("get").expect("exists");
    assert_eq!(schedule.last_job, Some(job.id));
    assert_eq!(schedule.last_fire_at, Some(at(10)));
    let history = store
        .schedule_history(ScheduleHistoryParams {
            name: "s".to_owned(),
            limit: 10,
        })
        .await
        .expect("history");
    assert_eq!(history, fires);
    assert_eq!(all_jobs(store).await.len(), 1);
}

/// Fires missed by more than the grace period follow the misfire policy.
pub async fn schedule_misfire_policies(store: &dyn Store) {
    let mut all = every_ten("all");
    all.misfire = Misfire::All { max: 3 };
    let mut skip = every_ten("skip");
    skip.misfire = Misfire::Skip;
    upsert(store, t0(), every_ten("coalesce")).await;
    upsert(store, t0(), all).await;
    upsert(store, t0(), skip).await;

    // Down from 10 s to 65 s: fires 10…60 are missed, none on time.
    let fires = fire_due(store, at(65)).await;
    let of = |name: &str| -> Vec<Timestamp> {
        fires
            .iter()
            .filter(|f| f.schedule == name)
            .map(|f| f.fire_at)
            .collect()
    };
    assert_eq!(of("coalesce"), [at(60)]);
    assert_eq!(of("all"), [at(40), at(50), at(60)]);
    assert!(of("skip").is_empty());
    assert_eq!(all_jobs(store).await.len(), 4);
    for name in ["coalesce", "all", "skip"] {
        let s = store
            .schedule_get(name)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(s.next_fire_at, Some(at(70)), "{name}");
    }
}

/// `overlap: skip` skips a fire while the previous fire's job waits or runs, and records
/// why; once that job finished, fires make jobs again.
pub async fn schedule_overlap_skip(store: &dyn Store) {
    let mut def = every_ten("s");
    def.overlap = Overlap::Skip;
    upsert(store, t0(), def).await;
    let first = fire_due(store, at(10)).await;
    let job = job_of_fire(store, &first[0]).await;
    let skipped = fire_due(store, at(20)).await;
    assert_eq!(
        skipped[0].outcome,
        FireOutcome::Skipped(SKIPPED_OVERLAP.to_owned())
    );
    let running = fetch(store, at(21), &[super::DEFAULT], 1).await;
    assert_eq!(running[0].id, job.id);
    let ack = super::complete(&running[0], None);
    super::ack(store, at(22), vec![ack]).await;
    let third = fire_due(store, at(30)).await;
    assert!(matches!(third[0].outcome, FireOutcome::Job(_)));
    let history = store
        .schedule_history(ScheduleHistoryParams {
            name: "s".to_owned(),
            limit: 2,
        })
        .await
        .expect("history");
    assert_eq!(fire_times(&history), [at(30), at(20)]);
}

/// A paused schedule does not fire; a trigger fires it by hand anyway; on resume the fires
/// it missed follow its misfire policy (coalesce: one).
pub async fn schedule_pause_trigger_resume(store: &dyn Store) {
    upsert(store, t0(), every_ten("s")).await;
    let pause = |paused| ScheduleSetPausedParams {
        now: at(2),
        name: "s".to_owned(),
        paused,
    };
    let paused = store.schedule_set_paused(pause(true)).await.expect("pause");
    assert!(paused.expect("exists").paused);
    assert!(fire_due(store, at(35)).await.is_empty());
    assert_eq!(store.schedule_next_due().await.expect("next"), None);

    let trigger = |name: &str| ScheduleTriggerParams {
        now: at(36),
        name: name.to_owned(),
    };
    let fire = store.schedule_trigger(trigger("s")).await.expect("trigger");
    let fire = fire.expect("the schedule exists");
    assert!(fire.triggered);
    assert_eq!(job_of_fire(store, &fire).await.scheduled_for, Some(at(36)));
    let none = store
        .schedule_trigger(trigger("nope"))
        .await
        .expect("trigger");
    assert_eq!(none, None);

    let resumed = store
        .schedule_set_paused(pause(false))
        .await
        .expect("resume");
    assert!(!resumed.expect("exists").paused);
    let fires = fire_due(store, at(45)).await;
    assert_eq!(fire_times(&fires), [at(40)]);
    assert_eq!(all_jobs(store).await.len(), 2);
}

/// Two firers at once (two nodes, or a failover mid-way) never make two jobs for a fire.
pub async fn concurrent_fire_due_never_duplicates(store: &dyn Store) {
    upsert(store, t0(), every_ten("s")).await;
    for round in 1..=5 {
        let now = at(round * 10);
        let (a, b) = tokio::join!(fire_due(store, now), fire_due(store, now));
        assert_eq!(a.len() + b.len(), 1, "round {round}");
    }
    let jobs = all_jobs(store).await;
    let mut times: Vec<_> = jobs.iter().filter_map(|j| j.scheduled_for).collect();
    times.sort();
    times.dedup();
    assert_eq!(times.len(), 5);
    assert_eq!(jobs.len(), 5);
}
