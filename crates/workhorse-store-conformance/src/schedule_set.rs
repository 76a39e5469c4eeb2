//! Schedule sets: an owner declares all its schedules at once; the ones it leaves out are
//! deleted, while schedules made at run time and other owners' are never touched. And the
//! task's options a schedule keeps for the jobs it makes.

use super::schedule::{every_ten, fire_due, job_of_fire, upsert};
use super::{at, json, t0};
use std::time::Duration;
use workhorse_core::{Backoff, Timestamp, clock};
use workhorse_store::{
    MAX_SCHEDULES_PER_SET, ScheduleDeclareSetParams, ScheduleDefinition, ScheduleSetDeclared,
    SetSchedule, Store, StoreError,
};

fn set(now: Timestamp, owner: &str, defs: Vec<ScheduleDefinition>) -> ScheduleDeclareSetParams {
    ScheduleDeclareSetParams {
        now,
        owner: owner.to_owned(),
        schedules: defs
            .into_iter()
            .map(|definition| SetSchedule {
                definition,
                paused: None,
            })
            .collect(),
    }
}

async fn declare(store: &dyn Store, owner: &str, names: &[&str]) -> ScheduleSetDeclared {
    let defs = names.iter().map(|n| every_ten(n)).collect();
    store
        .schedule_declare_set(set(at(1), owner, defs))
        .await
        .expect("declare set")
}

/// The names and owners of every schedule.
async fn owners(store: &dyn Store) -> Vec<(String, Option<String>)> {
    let all = store.schedule_list().await.expect("list");
    all.into_iter()
        .map(|s| (s.definition.name, s.owner))
        .collect()
}

fn owned(name: &str, owner: &str) -> (String, Option<String>) {
    (name.to_owned(), Some(owner.to_owned()))
}

fn deleted(declared: &ScheduleSetDeclared) -> Vec<String> {
    match declared {
        ScheduleSetDeclared::Declared { deleted, .. } => deleted.clone(),
        ScheduleSetDeclared::Conflict { name, .. } => panic!("conflict on {name}"),
    }
}

/// A set upserts its schedules under its owner (an unchanged one changes nothing) and
/// deletes the owner's schedules it no longer names.
pub async fn schedule_set_deletes_what_it_leaves_out(store: &dyn Store) {
    let first = declare(store, "app", &["a", "b"]).await;
    let ScheduleSetDeclared::Declared { upserted, deleted } = first else {
        panic!("refused: {first:?}");
    };
    assert!(upserted.iter().all(|u| u.created && u.changed));
    assert!(deleted.is_empty());
    assert_eq!(owners(store).await, [owned("a", "app"), owned("b", "app")]);

    let again = declare(store, "app", &["b"]).await;
    let ScheduleSetDeclared::Declared { upserted, deleted } = again else {
        panic!("refused: {again:?}");
    };
    assert!(!upserted[0].changed, "the same definition changes nothing");
    assert_eq!(deleted, ["a"]);
    assert_eq!(owners(store).await, [owned("b", "app")]);
}

/// A set never deletes a schedule made at run time or one of another owner.
pub async fn schedule_set_keeps_runtime_and_other_owners(store: &dyn Store) {
    upsert(store, t0(), every_ten("runtime")).await;
    declare(store, "other", &["theirs"]).await;
    declare(store, "app", &["mine"]).await;
    assert_eq!(deleted(&declare(store, "app", &[]).await), ["mine"]);
    assert_eq!(
        owners(store).await,
        [("runtime".to_owned(), None), owned("theirs", "other")]
    );
    // A runtime upsert of an owned schedule keeps its owner.
    upsert(store, t0(), every_ten("theirs")).await;
    assert_eq!(owners(store).await[1], owned("theirs", "other"));
}

/// A name held by another owner, or made at run time, refuses the whole set: nothing of it
/// is stored and nothing is deleted.
pub async fn schedule_set_conflict_changes_nothing(store: &dyn Store) {
    upsert(store, t0(), every_ten("runtime")).await;
    declare(store, "other", &["theirs"]).await;
    declare(store, "app", &["old"]).await;
    let before = store.schedule_list().await.expect("list");

    let refused = declare(store, "app", &["new", "theirs"]).await;
    let conflict = ScheduleSetDeclared::Conflict {
        name: "theirs".to_owned(),
        owner: Some("other".to_owned()),
    };
    assert_eq!(refused, conflict);
    let refused = declare(store, "app", &["runtime"]).await;
    let conflict = ScheduleSetDeclared::Conflict {
        name: "runtime".to_owned(),
        owner: None,
    };
    assert_eq!(refused, conflict);
    assert_eq!(store.schedule_list().await.expect("list"), before);
}

/// An empty set deletes every schedule of its owner (the last `@cron` removed).
pub async fn schedule_set_empty_deletes_all_of_the_owner(store: &dyn Store) {
    declare(store, "app", &["a", "b", "c"]).await;
    assert_eq!(deleted(&declare(store, "app", &[]).await), ["a", "b", "c"]);
    assert!(owners(store).await.is_empty());
    assert!(deleted(&declare(store, "app", &[]).await).is_empty());
}

/// A set over [`MAX_SCHEDULES_PER_SET`] is refused as invalid; nothing is stored.
pub async fn schedule_set_is_bounded(store: &dyn Store) {
    let defs = (0..=MAX_SCHEDULES_PER_SET)
        .map(|i| every_ten(&format!("s{i}")))
        .collect();
    let refused = store.schedule_declare_set(set(at(1), "app", defs)).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert!(owners(store).await.is_empty());
}

/// The jobs a schedule makes carry its backoff, expiry (after the fire time), concurrency
/// key and limit, and metadata.
pub async fn schedule_job_carries_the_task_options(store: &dyn Store) {
    let backoff = Backoff {
        base_ms: 5_000,
        max_ms: 60_000,
    };
    let mut def = every_ten("s");
    def.job.backoff = backoff;
    def.job.expires = Some(Duration::from_secs(30));
    def.job.concurrency_key = Some("reports".to_owned());
    def.job.concurrency_limit = 2;
    def.job.metadata = Some(json(r#"{"team":"billing"}"#));
    let stored = upsert(store, t0(), def.clone()).await.schedule;
    assert_eq!(stored.definition, def);

    let fires = fire_due(store, at(10)).await;
    let job = job_of_fire(store, &fires[0]).await;
    assert_eq!(job.backoff, backoff);
    assert_eq!(
        job.expires_at,
        Some(clock::add(at(10), Duration::from_secs(30)))
    );
    assert_eq!(job.concurrency_key.as_deref(), Some("reports"));
    assert_eq!(job.concurrency_limit, 2);
    assert_eq!(
        job.metadata.as_ref().map(|m| m.get().to_owned()),
        Some(r#"{"team":"billing"}"#.to_owned())
    );
}
