//! [`Store`] for [`PgStore`]: each method is one operation of `ops`, its errors mapped to
//! [`StoreError`] at this boundary.

use crate::PgStore;
use crate::ops::{
    admin, fetch, insert, job_by_id, lease, list, queues, schedule, schedule_fire, time,
};
use crate::ops::{cancel_many, workflow};
use async_trait::async_trait;
use workhorse_core::{Job, JobId, Timestamp, WorkflowId};
use workhorse_store::{
    AckManyOutcome, CancelOutcome, HeartbeatOutcome, Inserted, JobAckManyParams, JobCancelParams,
    JobDeleteFinishedParams, JobFetchParams, JobHeartbeatManyParams, JobInsertManyParams,
    JobListParams, JobPage, JobPromoteDueParams, JobRedriveParams, JobReleaseManyParams,
    JobRescueParams, PromoteOutcome, QueueInfo, QueueListParams, QueueUpdateParams, RescueOutcome,
    Store, StoreError,
};
use workhorse_store::{CancelManyOutcome, JobCancelManyParams};
use workhorse_store::{
    Fire, Schedule, ScheduleDeclareSetParams, ScheduleFireDueParams, ScheduleHistoryParams,
    ScheduleSetDeclared, ScheduleSetPausedParams, ScheduleTriggerParams, ScheduleUpsertParams,
    ScheduleUpserted,
};
use workhorse_store::{Workflow, WorkflowCancelParams, WorkflowInsertParams};

#[async_trait]
impl Store for PgStore {
    async fn job_insert_many(
        &self,
        params: JobInsertManyParams,
    ) -> Result<Vec<Inserted>, StoreError> {
        Ok(insert::insert_many(&self.inner.db, params).await?)
    }

    async fn job_get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut conn = self
            .inner
            .db
            .pool
            .acquire()
            .await
            .map_err(|e| crate::error::from_sqlx(&e))?;
        Ok(job_by_id(&mut conn, id).await?)
    }

    async fn job_list(&self, params: JobListParams) -> Result<JobPage, StoreError> {
        Ok(list::list(&self.inner.db, params).await?)
    }

    async fn job_fetch_available(&self, params: JobFetchParams) -> Result<Vec<Job>, StoreError> {
        Ok(fetch::fetch(&self.inner.db, &params).await?)
    }

    async fn job_heartbeat_many(
        &self,
        params: JobHeartbeatManyParams,
    ) -> Result<Vec<Option<HeartbeatOutcome>>, StoreError> {
        Ok(lease::heartbeat_many(&self.inner.db, &params).await?)
    }

    async fn job_ack_many(&self, params: JobAckManyParams) -> Result<AckManyOutcome, StoreError> {
        Ok(lease::ack_many(&self.inner.db, params).await?)
    }

    async fn job_release_many(&self, params: JobReleaseManyParams) -> Result<Vec<Job>, StoreError> {
        Ok(lease::release_many(&self.inner.db, &params).await?)
    }

    async fn job_cancel(
        &self,
        params: JobCancelParams,
    ) -> Result<Option<CancelOutcome>, StoreError> {
        Ok(admin::cancel(&self.inner.db, &params).await?)
    }

    async fn job_redrive(&self, params: JobRedriveParams) -> Result<Vec<Job>, StoreError> {
        Ok(admin::redrive(&self.inner.db, params).await?)
    }

    async fn job_cancel_many(
        &self,
        params: JobCancelManyParams,
    ) -> Result<CancelManyOutcome, StoreError> {
        Ok(cancel_many::cancel_many(&self.inner.db, &params).await?)
    }

    async fn job_promote_due(
        &self,
        params: JobPromoteDueParams,
    ) -> Result<PromoteOutcome, StoreError> {
        Ok(time::promote_due(&self.inner.db, &params).await?)
    }

    async fn job_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(time::next_due(&self.inner.db).await?)
    }

    async fn job_rescue_expired(
        &self,
        params: JobRescueParams,
    ) -> Result<RescueOutcome, StoreError> {
        Ok(time::rescue_expired(&self.inner.db, &params).await?)
    }

    async fn job_delete_finished(
        &self,
        params: JobDeleteFinishedParams,
    ) -> Result<u64, StoreError> {
        Ok(time::delete_finished(&self.inner.db, &params).await?)
    }

    async fn queue_list(&self, _params: QueueListParams) -> Result<Vec<QueueInfo>, StoreError> {
        Ok(queues::list(&self.inner.db).await?)
    }

    async fn queue_update(&self, params: QueueUpdateParams) -> Result<QueueInfo, StoreError> {
        Ok(queues::update(&self.inner.db, params).await?)
    }

    async fn schedule_upsert(
        &self,
        params: ScheduleUpsertParams,
    ) -> Result<ScheduleUpserted, StoreError> {
        Ok(schedule::upsert(&self.inner.db, params).await?)
    }

    async fn schedule_declare_set(
        &self,
        params: ScheduleDeclareSetParams,
    ) -> Result<ScheduleSetDeclared, StoreError> {
        Ok(schedule::declare_set(&self.inner.db, params).await?)
    }

    async fn schedule_get(&self, name: &str) -> Result<Option<Schedule>, StoreError> {
        Ok(schedule::get(&self.inner.db, name).await?)
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, StoreError> {
        Ok(schedule::list(&self.inner.db).await?)
    }

    async fn schedule_delete(&self, name: &str) -> Result<bool, StoreError> {
        Ok(schedule::delete(&self.inner.db, name).await?)
    }

    async fn schedule_set_paused(
        &self,
        params: ScheduleSetPausedParams,
    ) -> Result<Option<Schedule>, StoreError> {
        Ok(schedule::set_paused(&self.inner.db, &params).await?)
    }

    async fn schedule_fire_due(
        &self,
        params: ScheduleFireDueParams,
    ) -> Result<Vec<Fire>, StoreError> {
        Ok(schedule_fire::fire_due(&self.inner.db, &params).await?)
    }

    async fn schedule_trigger(
        &self,
        params: ScheduleTriggerParams,
    ) -> Result<Option<Fire>, StoreError> {
        Ok(schedule_fire::trigger(&self.inner.db, &params).await?)
    }

    async fn schedule_history(
        &self,
        params: ScheduleHistoryParams,
    ) -> Result<Vec<Fire>, StoreError> {
        Ok(schedule_fire::history(&self.inner.db, &params).await?)
    }

    async fn schedule_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(schedule::next_due(&self.inner.db).await?)
    }

    async fn workflow_insert(&self, params: WorkflowInsertParams) -> Result<Workflow, StoreError> {
        Ok(workflow::insert(&self.inner.db, params).await?)
    }

    async fn workflow_get(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        Ok(workflow::get(&self.inner.db, id).await?)
    }

    async fn workflow_cancel(
        &self,
        params: WorkflowCancelParams,
    ) -> Result<Option<Workflow>, StoreError> {
        Ok(workflow::cancel(&self.inner.db, &params).await?)
    }
}
