//! [`FaultyStore`]: a real store whose state-changing calls fail with
//! [`StoreError::Unavailable`] while a test has the fault switched on, as a database that
//! is briefly unreachable would. Reads always pass through. It also counts the writes that
//! failed as `Unavailable` by themselves (a real database stopped by the test).

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use workhorse_core::{Job, JobId, Timestamp, WorkflowId};
use workhorse_store::{
    AckManyOutcome, CancelManyOutcome, CancelOutcome, Fire, HeartbeatOutcome, Inserted,
    JobAckManyParams, JobCancelManyParams, JobCancelParams, JobDeleteFinishedParams,
    JobFetchParams, JobHeartbeatManyParams, JobInsertManyParams, JobListParams, JobPage,
    JobPromoteDueParams, JobRedriveParams, JobReleaseManyParams, JobRescueParams, PromoteOutcome,
    QueueInfo, QueueListParams, QueueUpdateParams, RescueOutcome, Schedule,
    ScheduleDeclareSetParams, ScheduleFireDueParams, ScheduleHistoryParams, ScheduleSetDeclared,
    ScheduleSetPausedParams, ScheduleTriggerParams, ScheduleUpsertParams, ScheduleUpserted, Store,
    StoreError, Workflow, WorkflowCancelParams, WorkflowInsertParams,
};

/// The switch of a [`FaultyStore`], and what it refused while on. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    on: Arc<AtomicBool>,
    refused: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl FaultSwitch {
    /// Switches the fault on (every write fails) or off.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    /// How many calls of the store method `method` (e.g. `"job_ack_many"`) failed as
    /// `Unavailable`: refused by the fault, or by the store itself.
    pub fn refused(&self, method: &str) -> u64 {
        self.counts().get(method).copied().unwrap_or(0)
    }

    fn check(&self, method: &'static str) -> Result<(), StoreError> {
        if !self.on.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.count(method);
        Err(StoreError::Unavailable(format!(
            "{method}: injected fault (the database is unreachable)"
        )))
    }

    fn observe<T>(
        &self,
        method: &'static str,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.count(method);
        }
        result
    }

    fn count(&self, method: &'static str) {
        *self.counts().entry(method).or_default() += 1;
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`Store`] over `S` whose writes fail while its [`FaultSwitch`] is on.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    switch: FaultSwitch,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`, the fault off; the switch turns it on and off.
    pub fn new(inner: S) -> (Self, FaultSwitch) {
        let switch = FaultSwitch::default();
        let store = FaultyStore {
            inner,
            switch: switch.clone(),
        };
        (store, switch)
    }
}

/// A write: refused while the fault is on, else passed to the inner store.
macro_rules! write {
    ($self:ident, $method:ident($($arg:expr),*)) => {{
        $self.switch.check(stringify!($method))?;
        let result = $self.inner.$method($($arg),*).await;
        $self.switch.observe(stringify!($method), result)
    }};
}

#[async_trait]
impl<S: Store> Store for FaultyStore<S> {
    async fn job_insert_many(
        &self,
        params: JobInsertManyParams,
    ) -> Result<Vec<Inserted>, StoreError> {
        write!(self, job_insert_many(params))
    }

    async fn job_get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.inner.job_get(id).await
    }

    async fn job_list(&self, params: JobListParams) -> Result<JobPage, StoreError> {
        self.inner.job_list(params).await
    }

    async fn job_fetch_available(&self, params: JobFetchParams) -> Result<Vec<Job>, StoreError> {
        write!(self, job_fetch_available(params))
    }

    async fn job_heartbeat_many(
        &self,
        params: JobHeartbeatManyParams,
    ) -> Result<Vec<Option<HeartbeatOutcome>>, StoreError> {
        write!(self, job_heartbeat_many(params))
    }

    async fn job_ack_many(&self, params: JobAckManyParams) -> Result<AckManyOutcome, StoreError> {
        write!(self, job_ack_many(params))
    }

    async fn job_release_many(&self, params: JobReleaseManyParams) -> Result<Vec<Job>, StoreError> {
        write!(self, job_release_many(params))
    }

    async fn job_cancel(
        &self,
        params: JobCancelParams,
    ) -> Result<Option<CancelOutcome>, StoreError> {
        write!(self, job_cancel(params))
    }

    async fn job_redrive(&self, params: JobRedriveParams) -> Result<Vec<Job>, StoreError> {
        write!(self, job_redrive(params))
    }

    async fn job_cancel_many(
        &self,
        params: JobCancelManyParams,
    ) -> Result<CancelManyOutcome, StoreError> {
        write!(self, job_cancel_many(params))
    }

    async fn job_promote_due(
        &self,
        params: JobPromoteDueParams,
    ) -> Result<PromoteOutcome, StoreError> {
        write!(self, job_promote_due(params))
    }

    async fn job_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.inner.job_next_due().await
    }

    async fn job_rescue_expired(
        &self,
        params: JobRescueParams,
    ) -> Result<RescueOutcome, StoreError> {
        write!(self, job_rescue_expired(params))
    }

    async fn job_delete_finished(
        &self,
        params: JobDeleteFinishedParams,
    ) -> Result<u64, StoreError> {
        write!(self, job_delete_finished(params))
    }

    async fn queue_list(&self, params: QueueListParams) -> Result<Vec<QueueInfo>, StoreError> {
        self.inner.queue_list(params).await
    }

    async fn queue_update(&self, params: QueueUpdateParams) -> Result<QueueInfo, StoreError> {
        write!(self, queue_update(params))
    }

    async fn schedule_upsert(
        &self,
        params: ScheduleUpsertParams,
    ) -> Result<ScheduleUpserted, StoreError> {
        write!(self, schedule_upsert(params))
    }

    async fn schedule_declare_set(
        &self,
        params: ScheduleDeclareSetParams,
    ) -> Result<ScheduleSetDeclared, StoreError> {
        write!(self, schedule_declare_set(params))
    }

    async fn schedule_get(&self, name: &str) -> Result<Option<Schedule>, StoreError> {
        self.inner.schedule_get(name).await
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, StoreError> {
        self.inner.schedule_list().await
    }

    async fn schedule_delete(&self, name: &str) -> Result<bool, StoreError> {
        write!(self, schedule_delete(name))
    }

    async fn schedule_set_paused(
        &self,
        params: ScheduleSetPausedParams,
    ) -> Result<Option<Schedule>, StoreError> {
        write!(self, schedule_set_paused(params))
    }

    async fn schedule_fire_due(
        &self,
        params: ScheduleFireDueParams,
    ) -> Result<Vec<Fire>, StoreError> {
        write!(self, schedule_fire_due(params))
    }

    async fn schedule_trigger(
        &self,
        params: ScheduleTriggerParams,
    ) -> Result<Option<Fire>, StoreError> {
        write!(self, schedule_trigger(params))
    }

    async fn schedule_history(
        &self,
        params: ScheduleHistoryParams,
    ) -> Result<Vec<Fire>, StoreError> {
        self.inner.schedule_history(params).await
    }

    async fn schedule_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.inner.schedule_next_due().await
    }

    async fn workflow_insert(&self, params: WorkflowInsertParams) -> Result<Workflow, StoreError> {
        write!(self, workflow_insert(params))
    }

    async fn workflow_get(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        self.inner.workflow_get(id).await
    }

    async fn workflow_cancel(
        &self,
        params: WorkflowCancelParams,
    ) -> Result<Option<Workflow>, StoreError> {
        write!(self, workflow_cancel(params))
    }
}
