//! The schedule firer against the real `SQLite` store, driven by a manual clock: no sleeps.

use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use workhorse_core::{Backoff, Json, ManualClock, Misfire, Overlap, ScheduleSpec, Timestamp};
use workhorse_engine::{Engine, EngineConfig, EngineError, next_fires, schedule_invalid};
use workhorse_store::{
    FireOutcome, JobListParams, MAX_SCHEDULES_PER_SET, ScheduleDefinition, ScheduleJob, SetSchedule,
};
use workhorse_store_sqlite::SqliteStore;

fn fixture() -> (Engine, ManualClock, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open store");
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).expect("valid"));
    let engine = Engine::new(
        Arc::new(store),
        Arc::new(clock.clone()),
        EngineConfig::default(),
    );
    (engine, clock, dir)
}

fn definition(name: &str, spec: ScheduleSpec) -> ScheduleDefinition {
    ScheduleDefinition {
        name: name.to_owned(),
        spec,
        job: ScheduleJob {
            task: "report".to_owned(),
            queue: "default".to_owned(),
            priority: 0,
            args: Json::empty_array(),
            kwargs: Json::empty_object(),
            max_attempts: 3,
            backoff: Backoff::default(),
            timeout: None,
            expires: None,
            concurrency_key: None,
            concurrency_limit: 1,
            metadata: None,
        },
        misfire: Misfire::Coalesce,
        // No grace: a pass after a pause makes one job (the on-time fire), however long.
        grace: Duration::ZERO,
        overlap: Overlap::Allow,
    }
}

fn every_second() -> ScheduleSpec {
    ScheduleSpec::every(Duration::from_secs(1), Timestamp::UNIX_EPOCH).expect("interval")
}

async fn job_count(engine: &Engine) -> usize {
    let params = JobListParams {
        limit: 1_000,
        ..JobListParams::default()
    };
    engine.list(params).await.expect("list").jobs.len()
}

#[tokio::test]
async fn firer_fires_each_second_once_and_coalesces_downtime() {
    let (engine, clock, _dir) = fixture();
    let service = engine.schedule_firer();
    let upserted = engine
        .schedule_upsert(definition("tick", every_second()), None)
        .await
        .expect("upsert");
    assert!(upserted.created);
    for _ in 0..5 {
        clock.advance(Duration::from_secs(1));
        let fires = service.run_once(engine.now()).await.expect("fire");
        assert_eq!(fires.len(), 1);
        assert_eq!(fires[0].fire_at, engine.now());
        assert!(
            service
                .run_once(engine.now())
                .await
                .expect("again")
                .is_empty()
        );
    }
    assert_eq!(job_count(&engine).await, 5);

    // Ten seconds without a pass: the missed fires coalesce into one job.
    clock.advance(Duration::from_secs(10));
    let fires = service.run_once(engine.now()).await.expect("fire");
    assert_eq!(fires.len(), 1);
    assert_eq!(job_count(&engine).await, 6);
    let history = engine.schedule_history("tick", 100).await.expect("history");
    assert_eq!(history.len(), 6);
    assert!(
        history
            .iter()
            .all(|f| matches!(f.outcome, FireOutcome::Job(_)))
    );
}

#[tokio::test]
async fn redeclaring_is_harmless_and_paused_schedules_wait() {
    let (engine, clock, _dir) = fixture();
    let service = engine.schedule_firer();
    for _ in 0..3 {
        engine
            .schedule_upsert(definition("tick", every_second()), None)
            .await
            .expect("upsert");
    }
    assert_eq!(engine.schedule_list().await.expect("list").len(), 1);
    engine
        .schedule_set_paused("tick", true)
        .await
        .expect("pause")
        .expect("exists");
    clock.advance(Duration::from_secs(3));
    assert!(
        service
            .run_once(engine.now())
            .await
            .expect("fire")
            .is_empty()
    );
    let fire = engine.schedule_trigger("tick").await.expect("trigger");
    assert!(fire.expect("exists").triggered);
    // (A fire at the very instant of the trigger would share its key, so its job.)
    clock.advance(Duration::from_secs(1));
    engine
        .schedule_set_paused("tick", false)
        .await
        .expect("resume");
    assert_eq!(service.run_once(engine.now()).await.expect("fire").len(), 1);
    assert_eq!(job_count(&engine).await, 2);
}

#[tokio::test]
async fn next_fires_follow_the_cron_in_its_zone() {
    let (engine, clock, _dir) = fixture();
    clock.set("2026-03-28T12:00:00Z".parse().expect("time"));
    let spec = ScheduleSpec::parse_cron("30 2 * * *", "Europe/Berlin").expect("cron");
    let schedule = engine
        .schedule_upsert(definition("nightly", spec), None)
        .await
        .expect("upsert")
        .schedule;
    let fires: Vec<String> = next_fires(&schedule, engine.now(), 3)
        .iter()
        .map(ToString::to_string)
        .collect();
    // 02:30 does not exist on 29 March (spring forward): it fires at 03:00 CEST instead.
    assert_eq!(
        fires,
        [
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ]
    );
}

#[tokio::test]
async fn bad_definitions_name_the_field_and_store_nothing() {
    let (engine, _clock, _dir) = fixture();
    let err = ScheduleSpec::parse_cron("0 8 * * 8", "UTC").expect_err("bad weekday");
    match schedule_invalid(&err) {
        EngineError::Invalid(invalid) => {
            assert_eq!(invalid.field, "cron");
            assert_eq!(invalid.message, "cron: day-of-week 8 is out of range 0-7");
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut bad_job = definition("bad", every_second());
    bad_job.job.priority = 42;
    let err = engine
        .schedule_upsert(bad_job, None)
        .await
        .expect_err("bad priority");
    assert!(
        matches!(err, EngineError::Invalid(ref i) if i.field == "priority"),
        "{err:?}"
    );
    let err = engine
        .schedule_upsert(definition("has space", every_second()), None)
        .await
        .expect_err("bad name");
    assert!(matches!(err, EngineError::Invalid(ref i) if i.field == "name"));
    assert!(engine.schedule_list().await.expect("list").is_empty());
}

fn set_of(names: &[&str]) -> Vec<SetSchedule> {
    names
        .iter()
        .map(|name| SetSchedule {
            definition: definition(name, every_second()),
            paused: None,
        })
        .collect()
}

#[tokio::test]
async fn a_declared_set_replaces_its_owners_schedules_only() {
    let (engine, _clock, _dir) = fixture();
    engine
        .schedule_upsert(definition("runtime", every_second()), None)
        .await
        .expect("runtime upsert");
    let (upserted, deleted) = engine
        .schedule_declare_set("app".to_owned(), set_of(&["a", "b"]))
        .await
        .expect("declare");
    assert_eq!(upserted.len(), 2);
    assert!(deleted.is_empty());
    let (_, deleted) = engine
        .schedule_declare_set("app".to_owned(), set_of(&["b"]))
        .await
        .expect("declare again");
    assert_eq!(deleted, ["a"]);
    let names: Vec<_> = engine
        .schedule_list()
        .await
        .expect("list")
        .into_iter()
        .map(|s| (s.definition.name, s.owner))
        .collect();
    assert_eq!(
        names,
        [
            ("b".to_owned(), Some("app".to_owned())),
            ("runtime".to_owned(), None)
        ]
    );

    let err = engine
        .schedule_declare_set("other".to_owned(), set_of(&["b"]))
        .await
        .expect_err("b is app's");
    assert_eq!(
        err.to_string(),
        "schedule \"b\" is declared by \"app\"; no schedule of this set was stored"
    );
    let err = engine
        .schedule_declare_set("app".to_owned(), set_of(&["runtime"]))
        .await
        .expect_err("runtime has no owner");
    assert!(matches!(
        err,
        EngineError::ScheduleOwned { owner: None, .. }
    ));
}

#[tokio::test]
async fn a_set_is_validated_before_anything_is_stored() {
    let (engine, _clock, _dir) = fixture();
    let mut set = set_of(&["good"]);
    set.push(SetSchedule {
        definition: definition("has space", every_second()),
        paused: None,
    });
    let err = engine
        .schedule_declare_set("app".to_owned(), set)
        .await
        .expect_err("bad name");
    assert!(matches!(err, EngineError::Invalid(ref i) if i.field == "name"));
    let err = engine
        .schedule_declare_set("bad owner".to_owned(), set_of(&[]))
        .await
        .expect_err("bad owner");
    assert!(
        matches!(err, EngineError::Invalid(ref i) if i.field == "owner"),
        "{err:?}"
    );
    let names: Vec<String> = (0..=MAX_SCHEDULES_PER_SET)
        .map(|i| format!("s{i}"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let err = engine
        .schedule_declare_set("app".to_owned(), set_of(&names))
        .await
        .expect_err("too many");
    assert!(matches!(
        err,
        EngineError::TooMany {
            what: "schedules",
            ..
        }
    ));
    assert!(engine.schedule_list().await.expect("list").is_empty());
}

#[tokio::test]
async fn a_fired_job_carries_the_schedules_task_options() {
    let (engine, clock, _dir) = fixture();
    let service = engine.schedule_firer();
    let mut def = definition("report", every_second());
    def.job.backoff = Backoff {
        base_ms: 2_000,
        max_ms: 20_000,
    };
    def.job.expires = Some(Duration::from_secs(60));
    def.job.concurrency_key = Some("reports".to_owned());
    def.job.concurrency_limit = 3;
    def.job.metadata = Some(Json::from_raw(r#"{"owner":"billing"}"#).expect("json"));
    engine.schedule_upsert(def, None).await.expect("upsert");
    clock.advance(Duration::from_secs(1));
    let fires = service.run_once(engine.now()).await.expect("fire");
    let FireOutcome::Job(id) = fires[0].outcome else {
        panic!("skipped: {:?}", fires[0]);
    };
    let job = engine.get(id).await.expect("the job");
    assert_eq!(job.backoff.base_ms, 2_000);
    assert_eq!(job.backoff.max_ms, 20_000);
    assert_eq!(
        job.expires_at,
        Some(workhorse_core::clock::add(
            fires[0].fire_at,
            Duration::from_secs(60)
        ))
    );
    assert_eq!(job.concurrency_key.as_deref(), Some("reports"));
    assert_eq!(job.concurrency_limit, 3);
    assert_eq!(
        job.metadata.as_ref().map(Json::get),
        Some(r#"{"owner":"billing"}"#)
    );
}
