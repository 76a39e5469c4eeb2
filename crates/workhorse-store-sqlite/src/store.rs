//! [`Store`] for [`SqliteStore`]: writes to the writer thread, reads to the read pool.

use crate::SqliteStore;
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
impl Store for SqliteStore {
    async fn job_insert_many(
        &self,
        params: JobInsertManyParams,
    ) -> Result<Vec<Inserted>, StoreError> {
        self.writer
            .write(move |tx| insert::insert_many(tx, params))
            .await
    }

    async fn job_get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.readers.read(move |conn| job_by_id(conn, id)).await
    }

    async fn job_list(&self, params: JobListParams) -> Result<JobPage, StoreError> {
        self.readers
            .read(move |conn| list::list(conn, &params))
            .await
    }

    async fn job_fetch_available(&self, params: JobFetchParams) -> Result<Vec<Job>, StoreError> {
        self.writer.write(move |tx| fetch::fetch(tx, &params)).await
    }

    async fn job_heartbeat_many(
        &self,
        params: JobHeartbeatManyParams,
    ) -> Result<Vec<Option<HeartbeatOutcome>>, StoreError> {
        self.writer
            .write(move |tx| lease::heartbeat_many(tx.conn(), &params))
            .await
    }

    async fn job_ack_many(&self, params: JobAckManyParams) -> Result<AckManyOutcome, StoreError> {
        self.writer
            .write(move |tx| lease::ack_many(tx, params))
            .await
    }

    async fn job_release_many(&self, params: JobReleaseManyParams) -> Result<Vec<Job>, StoreError> {
        self.writer
            .write(move |tx| lease::release_many(tx, &params))
            .await
    }

    async fn job_cancel(
        &self,
        params: JobCancelParams,
    ) -> Result<Option<CancelOutcome>, StoreError> {
        self.writer
            .write(move |tx| admin::cancel(tx, &params))
            .await
    }

    async fn job_redrive(&self, params: JobRedriveParams) -> Result<Vec<Job>, StoreError> {
        self.writer
            .write(move |tx| admin::redrive(tx, params))
            .await
    }

    async fn job_cancel_many(
        &self,
        params: JobCancelManyParams,
    ) -> Result<CancelManyOutcome, StoreError> {
        self.writer
            .write(move |tx| cancel_many::cancel_many(tx, &params))
            .await
    }

    async fn job_promote_due(
        &self,
        params: JobPromoteDueParams,
    ) -> Result<PromoteOutcome, StoreError> {
        self.writer
            .write(move |tx| time::promote_due(tx, &params))
            .await
    }

    async fn job_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.readers.read(time::next_due).await
    }

    async fn job_rescue_expired(
        &self,
        params: JobRescueParams,
    ) -> Result<RescueOutcome, StoreError> {
        self.writer
            .write(move |tx| time::rescue_expired(tx, &params))
            .await
    }

    async fn job_delete_finished(
        &self,
        params: JobDeleteFinishedParams,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| time::delete_finished(tx, &params))
            .await
    }

    async fn queue_list(&self, _params: QueueListParams) -> Result<Vec<QueueInfo>, StoreError> {
        self.readers.read(queues::list).await
    }

    /// The controls change on the writer; the counts are then read on a reader, so that
    /// counting never holds up writes.
    async fn queue_update(&self, params: QueueUpdateParams) -> Result<QueueInfo, StoreError> {
        let config = self
            .writer
            .write(move |tx| queues::update(tx.conn(), &params))
            .await?;
        self.readers
            .read(move |conn| queues::info(conn, config))
            .await
    }

    async fn schedule_upsert(
        &self,
        params: ScheduleUpsertParams,
    ) -> Result<ScheduleUpserted, StoreError> {
        self.writer
            .write(move |tx| schedule::upsert(tx.conn(), &params))
            .await
    }

    async fn schedule_declare_set(
        &self,
        params: ScheduleDeclareSetParams,
    ) -> Result<ScheduleSetDeclared, StoreError> {
        self.writer
            .write(move |tx| schedule::declare_set(tx.conn(), &params))
            .await
    }

    async fn schedule_get(&self, name: &str) -> Result<Option<Schedule>, StoreError> {
        let name = name.to_owned();
        self.readers
            .read(move |conn| schedule::get(conn, &name))
            .await
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, StoreError> {
        self.readers.read(schedule::list).await
    }

    async fn schedule_delete(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |tx| schedule::delete(tx.conn(), &name))
            .await
    }

    async fn schedule_set_paused(
        &self,
        params: ScheduleSetPausedParams,
    ) -> Result<Option<Schedule>, StoreError> {
        self.writer
            .write(move |tx| schedule::set_paused(tx.conn(), &params))
            .await
    }

    async fn schedule_fire_due(
        &self,
        params: ScheduleFireDueParams,
    ) -> Result<Vec<Fire>, StoreError> {
        self.writer
            .write(move |tx| schedule_fire::fire_due(tx, &params))
            .await
    }

    async fn schedule_trigger(
        &self,
        params: ScheduleTriggerParams,
    ) -> Result<Option<Fire>, StoreError> {
        self.writer
            .write(move |tx| schedule_fire::trigger(tx, &params))
            .await
    }

    async fn schedule_history(
        &self,
        params: ScheduleHistoryParams,
    ) -> Result<Vec<Fire>, StoreError> {
        self.readers
            .read(move |conn| schedule_fire::history(conn, &params))
            .await
    }

    async fn schedule_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.readers.read(schedule::next_due).await
    }

    async fn workflow_insert(&self, params: WorkflowInsertParams) -> Result<Workflow, StoreError> {
        self.writer
            .write(move |tx| workflow::insert(tx, params))
            .await
    }

    async fn workflow_get(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        self.readers.read(move |conn| workflow::get(conn, id)).await
    }

    async fn workflow_cancel(
        &self,
        params: WorkflowCancelParams,
    ) -> Result<Option<Workflow>, StoreError> {
        self.writer
            .write(move |tx| workflow::cancel(tx, &params))
            .await
    }
}
