//! Schedules: the calls HTTP handlers make. Each validates, makes one store call, and wakes
//! the [`crate::ScheduleFirer`] when its plan may have changed.

use crate::error::invalid;
use crate::{Engine, EngineError, ScheduleFirer};
use workhorse_core::limits::MAX_NAME_LEN;
use workhorse_core::{ScheduleError, Timestamp};
use workhorse_store::{
    Fire, Schedule, ScheduleDefinition, ScheduleHistoryParams, ScheduleSetPausedParams,
    ScheduleTriggerParams, ScheduleUpsertParams, ScheduleUpserted,
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
