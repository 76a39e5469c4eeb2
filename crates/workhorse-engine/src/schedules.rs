//! Schedules: the calls HTTP handlers make. Each validates, makes one store call, and wakes
//! the [`crate::ScheduleFirer`] when its plan may have changed.

use crate::error::invalid;
use crate::{Engine, EngineError, ScheduleFirer};
use workhorse_core::limits::MAX_NAME_LEN;
use workhorse_core::{ScheduleError, Timestamp};
use workhorse_store::{
    Fire, MAX_SCHEDULES_PER_SET, Schedule, ScheduleDeclareSetParams, ScheduleDefinition,
    ScheduleHistoryParams, ScheduleSetDeclared, ScheduleSetPausedParams, ScheduleTriggerParams,
    ScheduleUpsertParams, ScheduleUpserted, SetSchedule,
};

/// Fires a schedule detail shows by default.
pub const DEFAULT_HISTORY: u32 = 20;

/// A refused schedule definition as an [`EngineError::Invalid`] naming the input at fault
/// (`cron`, `timezone` or `every_ms`).
pub fn schedule_invalid(err: &ScheduleError) -> EngineError {
    invalid(err.input(), format!("{}: {err}", err.input()))
}

impl Engine {
    /// The schedule-firing service.
    pub fn schedule_firer(&self) -> ScheduleFirer {
        ScheduleFirer::new(self.clone())
    }

    /// Declares a schedule: inserted, updated, or left alone when unchanged. The job it
    /// makes is validated first; nothing is stored if it breaks a rule.
    pub async fn schedule_upsert(
        &self,
        definition: ScheduleDefinition,
        paused: Option<bool>,
    ) -> Result<ScheduleUpserted, EngineError> {
        check_name(&definition.name)?;
        let now = self.now();
        definition.job.new_job(&definition.name, now).validate()?;
        let params = ScheduleUpsertParams {
            now,
            definition,
            paused,
        };
        let upserted = self.write(self.inner.store.schedule_upsert(params)).await?;
        if upserted.changed {
            self.inner.schedules_changed.notify_one();
        }
        Ok(upserted)
    }

    /// Declares `owner`'s whole set of schedules: each upserted as by
    /// [`Engine::schedule_upsert`], the owner's others deleted, in one store transaction.
    /// Every definition is validated first, and a name held by another owner (or made at
    /// run time) refuses the set ([`EngineError::ScheduleOwned`]): nothing is stored then.
    /// Returns the upserts in the order given and the names deleted.
    pub async fn schedule_declare_set(
        &self,
        owner: String,
        schedules: Vec<SetSchedule>,
    ) -> Result<(Vec<ScheduleUpserted>, Vec<String>), EngineError> {
        check_owner(&owner)?;
        if schedules.len() > MAX_SCHEDULES_PER_SET {
            return Err(EngineError::TooMany {
                what: "schedules",
                size: schedules.len(),
                limit: MAX_SCHEDULES_PER_SET,
            });
        }
        let now = self.now();
        for member in &schedules {
            let def = &member.definition;
            check_name(&def.name)?;
            def.job.new_job(&def.name, now).validate()?;
        }
        let params = ScheduleDeclareSetParams {
            now,
            owner,
            schedules,
        };
        match self
            .write(self.inner.store.schedule_declare_set(params))
            .await?
        {
            ScheduleSetDeclared::Declared { upserted, deleted } => {
                if !deleted.is_empty() || upserted.iter().any(|u| u.changed) {
                    self.inner.schedules_changed.notify_one();
                }
                Ok((upserted, deleted))
            }
            ScheduleSetDeclared::Conflict { name, owner } => {
                Err(EngineError::ScheduleOwned { name, owner })
            }
        }
    }

    /// One schedule; `None` if unknown.
    pub async fn schedule_get(&self, name: &str) -> Result<Option<Schedule>, EngineError> {
        Ok(self.inner.store.schedule_get(name).await?)
    }

    /// Every schedule, by name.
    pub async fn schedule_list(&self) -> Result<Vec<Schedule>, EngineError> {
        Ok(self.inner.store.schedule_list().await?)
    }

    /// Deletes a schedule; `false` if unknown.
    pub async fn schedule_delete(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self.write(self.inner.store.schedule_delete(name)).await?)
    }

    /// Pauses or resumes a schedule; `None` if unknown.
    pub async fn schedule_set_paused(
        &self,
        name: &str,
        paused: bool,
    ) -> Result<Option<Schedule>, EngineError> {
        let params = ScheduleSetPausedParams {
            now: self.now(),
            name: name.to_owned(),
            paused,
        };
        let schedule = self
            .write(self.inner.store.schedule_set_paused(params))
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(schedule)
    }

    /// Fires a schedule by hand, now; `None` if unknown.
    pub async fn schedule_trigger(&self, name: &str) -> Result<Option<Fire>, EngineError> {
        let params = ScheduleTriggerParams {
            now: self.now(),
            name: name.to_owned(),
        };
        let fire = self
            .write(self.inner.store.schedule_trigger(params))
            .await?;
        if fire.is_some() {
            self.inner.ready.notify_all();
        }
        Ok(fire)
    }

    /// A schedule's recent fires, newest first.
    pub async fn schedule_history(&self, name: &str, limit: u32) -> Result<Vec<Fire>, EngineError> {
        let params = ScheduleHistoryParams {
            name: name.to_owned(),
            limit,
        };
        Ok(self.inner.store.schedule_history(params).await?)
    }
}

/// The next `count` fire times of `schedule` after `now` (from its stored next fire).
pub fn next_fires(schedule: &Schedule, now: Timestamp, count: usize) -> Vec<Timestamp> {
    let Some(first) = schedule.next_fire_at else {
        return Vec::new();
    };
    let mut fires = vec![first];
    let spec = &schedule.definition.spec;
    let mut cursor = first.max(now);
    while fires.len() < count {
        match spec.next_fire(cursor) {
            Some(fire) => {
                fires.push(fire);
                cursor = fire;
            }
            None => break,
        }
    }
    fires
}

/// An owner is named like a schedule (it appears in the path of its set).
fn check_owner(owner: &str) -> Result<(), EngineError> {
    check_name(owner).map_err(|err| match err {
        EngineError::Invalid(refused) => invalid(
            "owner",
            refused.message.replace("a schedule name", "an owner"),
        ),
        other => other,
    })
}

fn check_name(name: &str) -> Result<(), EngineError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(invalid(
            "name",
            format!("a schedule name is 1 to {MAX_NAME_LEN} bytes"),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c.is_whitespace())
    {
        return Err(invalid(
            "name",
            "a schedule name has no whitespace, control characters or '/'",
        ));
    }
    Ok(())
}
