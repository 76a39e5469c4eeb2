//! A schedule upsert's decision, and the fires a firer records.

use crate::{
    Fire, FireOutcome, MAX_SCHEDULES_PER_SET, SKIPPED_OVERLAP, Schedule, ScheduleDeclareSetParams,
    ScheduleSetDeclared, ScheduleUpsertParams, ScheduleUpserted,
};
use workhorse_core::{JobId, JobState, Timestamp};

/// What a [`crate::Store::schedule_upsert`] does, given the schedule of that name (if any).
#[derive(Debug, Clone, PartialEq)]
pub enum UpsertPlan {
    /// The same definition and paused state: nothing changes; answer this.
    Unchanged(Box<ScheduleUpserted>),
    /// Store the definition with this state.
    Store(UpsertState),
}

/// The state an upsert stores with the definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertState {
    /// The first fire after `now` for a new definition; kept for the same one.
    pub next_fire_at: Option<Timestamp>,
    pub paused: bool,
}

/// Decides an upsert: the same definition changes nothing (`next_fire_at` kept, only a new
/// `paused` stored); a new one has its `next_fire_at` recomputed as the first fire after
/// `now`. `paused` is kept unless given (a new schedule starts unpaused).
pub fn plan_upsert(existing: Option<&Schedule>, params: &ScheduleUpsertParams) -> UpsertPlan {
    let def = &params.definition;
    match existing {
        Some(old) if old.definition == *def => {
            let paused = params.paused.unwrap_or(old.paused);
            if paused == old.paused {
                return UpsertPlan::Unchanged(Box::new(ScheduleUpserted {
                    schedule: old.clone(),
                    created: false,
                    changed: false,
                }));
            }
            UpsertPlan::Store(UpsertState {
                next_fire_at: old.next_fire_at,
                paused,
            })
        }
        Some(old) => UpsertPlan::Store(UpsertState {
            next_fire_at: def.spec.next_fire(params.now),
            paused: params.paused.unwrap_or(old.paused),
        }),
        None => UpsertPlan::Store(UpsertState {
            next_fire_at: def.spec.next_fire(params.now),
            paused: params.paused.unwrap_or(false),
        }),
    }
}

/// A set over [`MAX_SCHEDULES_PER_SET`] schedules, or naming one schedule twice, is refused
/// with this message.
pub fn check_set(params: &ScheduleDeclareSetParams) -> Result<(), String> {
    let size = params.schedules.len();
    if size > MAX_SCHEDULES_PER_SET {
        return Err(format!(
            "the schedule set of {:?} holds {size} schedules; the limit is {MAX_SCHEDULES_PER_SET}",
            params.owner
        ));
    }
    let mut names: Vec<&str> = params
        .schedules
        .iter()
        .map(|s| s.definition.name.as_str())
        .collect();
    names.sort_unstable();
    match names.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(format!("the schedule set names {:?} twice", pair[0])),
        None => Ok(()),
    }
}

/// The conflict refusing a set of `owner`: the first schedule of that name in `existing`
/// (the stored schedules named in the set) held without that owner.
pub fn set_conflict(owner: &str, existing: &[Schedule]) -> Option<ScheduleSetDeclared> {
    existing
        .iter()
        .find(|s| s.owner.as_deref() != Some(owner))
        .map(|s| ScheduleSetDeclared::Conflict {
            name: s.definition.name.clone(),
            owner: s.owner.clone(),
        })
}

/// The schedules of `owned` (the names `params.owner` holds) that the set leaves out: the
/// ones it deletes.
pub fn left_out(params: &ScheduleDeclareSetParams, owned: Vec<String>) -> Vec<String> {
    owned
        .into_iter()
        .filter(|name| !params.schedules.iter().any(|s| s.definition.name == *name))
        .collect()
}

/// The upsert of one schedule of a set, at the set's `now`.
pub fn set_upsert(params: &ScheduleDeclareSetParams, index: usize) -> ScheduleUpsertParams {
    let member = &params.schedules[index];
    ScheduleUpsertParams {
        now: params.now,
        definition: member.definition.clone(),
        paused: member.paused,
    }
}

/// The answer to an upsert that stored `schedule`; `existed`: a schedule of that name was
/// there before.
pub fn upserted(schedule: Schedule, existed: bool) -> ScheduleUpserted {
    ScheduleUpserted {
        schedule,
        created: !existed,
        changed: true,
    }
}

/// Whether the job of a schedule's previous fire, in `state`, still waits or runs: under
/// `overlap: skip` the next fire is then skipped.
pub fn still_active(state: JobState) -> bool {
    matches!(
        state,
        JobState::Scheduled | JobState::Ready | JobState::Running
    )
}

/// A due fire skipped because the previous fire's job is still active.
pub fn skipped_fire(schedule: &str, fire_at: Timestamp) -> Fire {
    Fire {
        schedule: schedule.to_owned(),
        fire_at,
        outcome: FireOutcome::Skipped(SKIPPED_OVERLAP.to_owned()),
        triggered: false,
    }
}

/// A fire that made (or found, by its key) `job`.
pub fn job_fire(schedule: String, fire_at: Timestamp, job: JobId, triggered: bool) -> Fire {
    Fire {
        schedule,
        fire_at,
        outcome: FireOutcome::Job(job),
        triggered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SetSchedule;
    use crate::{ScheduleDefinition, ScheduleJob};
    use std::time::Duration;
    use workhorse_core::{Backoff, Json, Misfire, Overlap, ScheduleSpec, clock};

    fn at(secs: u64) -> Timestamp {
        clock::add(Timestamp::UNIX_EPOCH, Duration::from_secs(secs))
    }

    fn every(secs: u64) -> ScheduleDefinition {
        ScheduleDefinition {
            name: "tick".to_owned(),
            spec: ScheduleSpec::every(Duration::from_secs(secs), at(0)).expect("an interval"),
            job: ScheduleJob {
                task: "tick".to_owned(),
                queue: "default".to_owned(),
                priority: 0,
                args: Json::empty_array(),
                kwargs: Json::empty_object(),
                max_attempts: 1,
                backoff: Backoff::default(),
                timeout: None,
                expires: None,
                concurrency_key: None,
                concurrency_limit: 1,
                metadata: None,
            },
            misfire: Misfire::Coalesce,
            grace: Duration::ZERO,
            overlap: Overlap::Allow,
        }
    }

    fn stored(definition: ScheduleDefinition, paused: bool) -> Schedule {
        Schedule {
            definition,
            owner: None,
            paused,
            next_fire_at: Some(at(10)),
            last_fire_at: None,
            last_job: None,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    fn upsert(secs: u64, paused: Option<bool>, now: Timestamp) -> ScheduleUpsertParams {
        ScheduleUpsertParams {
            now,
            definition: every(secs),
            paused,
        }
    }

    #[test]
    fn a_new_schedule_fires_first_after_now_unpaused() {
        assert_eq!(
            plan_upsert(None, &upsert(10, None, at(25))),
            UpsertPlan::Store(UpsertState {
                next_fire_at: Some(at(30)),
                paused: false,
            })
        );
        assert_eq!(
            plan_upsert(None, &upsert(10, Some(true), at(25))),
            UpsertPlan::Store(UpsertState {
                next_fire_at: Some(at(30)),
                paused: true,
            })
        );
    }

    #[test]
    fn the_same_definition_changes_nothing() {
        let old = stored(every(10), true);
        let plan = plan_upsert(Some(&old), &upsert(10, None, at(25)));
        let unchanged = ScheduleUpserted {
            schedule: old.clone(),
            created: false,
            changed: false,
        };
        assert_eq!(plan, UpsertPlan::Unchanged(Box::new(unchanged.clone())));
        let plan = plan_upsert(Some(&old), &upsert(10, Some(true), at(25)));
        assert_eq!(plan, UpsertPlan::Unchanged(Box::new(unchanged)));
    }

    #[test]
    fn the_same_definition_newly_paused_keeps_its_next_fire() {
        let old = stored(every(10), false);
        assert_eq!(
            plan_upsert(Some(&old), &upsert(10, Some(true), at(25))),
            UpsertPlan::Store(UpsertState {
                next_fire_at: Some(at(10)),
                paused: true,
            })
        );
    }

    #[test]
    fn a_new_definition_recomputes_its_next_fire_and_keeps_paused() {
        let old = stored(every(10), true);
        assert_eq!(
            plan_upsert(Some(&old), &upsert(7, None, at(25))),
            UpsertPlan::Store(UpsertState {
                next_fire_at: Some(at(28)),
                paused: true,
            })
        );
    }

    #[test]
    fn an_upsert_that_stored_says_whether_it_created() {
        let schedule = stored(every(10), false);
        let created = upserted(schedule.clone(), false);
        assert!(created.created && created.changed);
        let updated = upserted(schedule, true);
        assert!(!updated.created && updated.changed);
    }

    fn set(names: &[&str]) -> ScheduleDeclareSetParams {
        let schedules = names
            .iter()
            .map(|name| SetSchedule {
                definition: ScheduleDefinition {
                    name: (*name).to_owned(),
                    ..every(10)
                },
                paused: None,
            })
            .collect();
        ScheduleDeclareSetParams {
            now: at(0),
            owner: "app".to_owned(),
            schedules,
        }
    }

    #[test]
    fn a_set_is_bounded_and_names_each_schedule_once() {
        assert_eq!(check_set(&set(&["a", "b"])), Ok(()));
        let twice = check_set(&set(&["a", "b", "a"])).expect_err("a name twice");
        assert!(twice.contains("\"a\" twice"), "{twice}");
        let names: Vec<String> = (0..=MAX_SCHEDULES_PER_SET).map(|i| i.to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let over = check_set(&set(&names)).expect_err("over the limit");
        assert!(over.contains("the limit is 1000"), "{over}");
    }

    #[test]
    fn a_name_held_without_the_owner_is_a_conflict() {
        let mine = Schedule {
            owner: Some("app".to_owned()),
            ..stored(every(10), false)
        };
        assert_eq!(set_conflict("app", std::slice::from_ref(&mine)), None);
        let runtime = stored(every(10), false);
        assert_eq!(
            set_conflict("app", &[mine, runtime]),
            Some(ScheduleSetDeclared::Conflict {
                name: "tick".to_owned(),
                owner: None,
            })
        );
    }

    #[test]
    fn a_set_deletes_the_owned_schedules_it_leaves_out() {
        let owned = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(left_out(&set(&["b"]), owned.clone()), ["a", "c"]);
        assert_eq!(left_out(&set(&[]), owned.clone()), owned);
    }

    #[test]
    fn only_a_waiting_or_running_job_blocks_the_next_fire() {
        let active: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| still_active(*s))
            .collect();
        assert_eq!(
            active,
            vec![JobState::Scheduled, JobState::Ready, JobState::Running]
        );
    }

    #[test]
    fn fires_say_what_they_made() {
        let skipped = skipped_fire("tick", at(10));
        assert_eq!(
            skipped.outcome,
            FireOutcome::Skipped(SKIPPED_OVERLAP.to_owned())
        );
        assert!(!skipped.triggered);
        let id = JobId::new();
        let fire = job_fire("tick".to_owned(), at(10), id, true);
        assert_eq!((fire.outcome, fire.triggered), (FireOutcome::Job(id), true));
        assert_eq!((fire.schedule.as_str(), fire.fire_at), ("tick", at(10)));
    }
}
