//! The storage contract of Workhorse.
//!
//! A [`Store`] keeps jobs and queues. Each method is one named transition of the job state
//! machine (see [`workhorse_core::state`]), runs as one atomic operation, takes one Params
//! struct that carries `now`, and is *guarded*: it changes a job only if the job is in a legal
//! source state (and, for a leased job, only under the caller's lease), and reports what it
//! changed. Races are settled by the database, never by luck.
//!
//! A [`LeaderBackend`] decides which one of the nodes sharing a store leads (runs the
//! leader-only services); a node alone on its store uses [`SingleNode`].
//!
//! Durability: a method that changes state returns only after its transaction committed
//! (stores may group many calls into one commit; none is answered before that commit).
//!
//! [`plan`] holds the decisions every store makes the same way (what a failure, a lost lease
//! or an upsert leads to; limits; rate-limit windows), as pure functions the stores call
//! around their SQL.
//!
//! The suite every store passes is the `workhorse-store-conformance` crate; a store crate
//! runs it from its tests.

mod leader;
mod params;
pub mod plan;
mod schedule;
mod workflow;

pub use leader::{LeaderBackend, SingleNode};
pub use params::*;
pub use schedule::*;
pub use workflow::*;

use async_trait::async_trait;
use workhorse_core::{Job, JobId, Timestamp, WorkflowId};

/// Why a store call failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller asked for something the store refuses (e.g. a batch over its limit).
    #[error("{0}")]
    Invalid(String),
    /// The request clashes with what is stored (e.g. a job id already used by a job of
    /// another task); repeating it will not help.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached or is shutting down; the call may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupt database.
    #[error("store error: {0}")]
    Internal(String),
}

/// The storage contract. See the crate docs for the rules every method follows.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts new jobs, all or none. A job whose `key` is held by an existing job (see
    /// [`Job::holds_key`]) is not inserted: the holder is returned with `created: false`.
    /// Two jobs in one batch with the same key: the first wins, the second gets it back.
    /// A job whose `id` is already used (a producer's retried enqueue) is not inserted
    /// either: that job is returned with `created: false`, the same within one batch; if
    /// the job using the id has another task, the whole batch fails with
    /// [`StoreError::Conflict`] and nothing is inserted. The id check comes before the key
    /// check.
    /// New jobs start `ready`, or `scheduled` when their `run_at` is after `now`.
    async fn job_insert_many(
        &self,
        params: JobInsertManyParams,
    ) -> Result<Vec<Inserted>, StoreError>;

    /// One job, in any state.
    async fn job_get(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// Jobs matching a filter, newest first (by id: ids are UUID v7, so time-ordered),
    /// paginated by cursor (the last id of the previous page; valid even once that job is
    /// deleted).
    async fn job_list(&self, params: JobListParams) -> Result<JobPage, StoreError>;

    /// `ready → running` (Start) for up to `max` jobs of the named queues, highest priority
    /// first, FIFO among equals. Guards: the queue is not paused, its `max_running` and
    /// rate limit leave room, the job's concurrency key has room, and the job has not
    /// expired (an expired one found here is moved to `expired` instead). Each started job
    /// gets a new lease for `worker`, its `attempt` counted, and `started_at = now`.
    async fn job_fetch_available(&self, params: JobFetchParams) -> Result<Vec<Job>, StoreError>;

    /// Extends the leases of running jobs and records progress. A beat whose job is not
    /// `running` under the named lease gets `None` (the lease is lost: stop the job).
    async fn job_heartbeat_many(
        &self,
        params: JobHeartbeatManyParams,
    ) -> Result<Vec<Option<HeartbeatOutcome>>, StoreError>;

    /// Completions and failures of running jobs, each guarded by its lease (the job is
    /// `running` under the lease named; otherwise the ack is refused, `LeaseLost` or
    /// `UnknownJob`, and changes nothing): `running → succeeded` (Complete) for a result; for
    /// a failure, the transition [`workhorse_core::retry::on_failure`] decides (Retry, Bury
    /// or Cancel), a retry after the backoff waiting the [`Jitter`](workhorse_core::Jitter)
    /// the ack carries. Each item is settled on its own; a refused one does not stop the
    /// others. A finished job of a workflow releases or cancels its dependants in the same
    /// transaction (see [`workflow`](crate::Workflow)'s fan-in rule); they are returned as
    /// `dependants`, so the caller announces them without reading them again.
    async fn job_ack_many(&self, params: JobAckManyParams) -> Result<AckManyOutcome, StoreError>;

    /// Running jobs handed back unstarted by their worker (graceful shutdown): `running →
    /// ready` (Release), the attempt not counted. Guarded by lease; returns the released jobs.
    async fn job_release_many(&self, params: JobReleaseManyParams) -> Result<Vec<Job>, StoreError>;

    /// Cancel: `scheduled | ready | waiting → cancelled` at once (guarded by that state); a
    /// `running` job gets `cancel_requested` (guarded by `running`; its worker learns it on
    /// the next heartbeat and stops; the job then becomes `cancelled`). `None` if the job
    /// does not exist; a finished job is returned unchanged. Dependants of a job cancelled
    /// at once follow their workflow's policy in the same transaction and are returned as
    /// `dependants`.
    async fn job_cancel(
        &self,
        params: JobCancelParams,
    ) -> Result<Option<CancelOutcome>, StoreError>;

    /// Redrive: `dead | cancelled | expired → ready` (Redrive) with a fresh set of
    /// attempts, errors kept. By id or by filter; returns the redriven jobs.
    async fn job_redrive(&self, params: JobRedriveParams) -> Result<Vec<Job>, StoreError>;

    /// Cancel by filter, all or nothing in one transaction: the unfinished jobs matching
    /// `filter` (checked by [`plan::checks::cancel_states`]: a state Cancel leaves, a limit
    /// of 1 to [`workhorse_core::limits::MAX_CANCEL_BATCH`], a queue or a task unless `all`),
    /// oldest first, up to `limit`. Each goes as [`Store::job_cancel`] takes one:
    /// `scheduled | ready | waiting → cancelled` (Cancel, guarded by that state), `running`
    /// flagged `cancel_requested` (guarded by `running`; a running job already flagged does
    /// not match, so repeated calls end). Dependants of the jobs cancelled follow their
    /// workflow's policy in the same transaction and are returned as `dependants`; `more`
    /// says the filter matched more than `limit`. Finished jobs never match.
    async fn job_cancel_many(
        &self,
        params: JobCancelManyParams,
    ) -> Result<CancelManyOutcome, StoreError>;

    /// Time-driven moves, oldest first, up to `limit` of each: `scheduled → ready`
    /// (Promote) for jobs whose `run_at ≤ now`, and `scheduled | ready → expired` (Expire)
    /// for jobs whose `expires_at ≤ now`.
    async fn job_promote_due(
        &self,
        params: JobPromoteDueParams,
    ) -> Result<PromoteOutcome, StoreError>;

    /// The earliest `run_at` of a `scheduled` job, or earliest `expires_at` of a waiting
    /// one, whichever is sooner: when the scheduler must next wake.
    async fn job_next_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Lost leases: `running` jobs whose lease ended at or before `now` (or, with `worker`
    /// set, every running job of that worker), each guarded by `running` under the lease it
    /// was found with. Each follows [`workhorse_core::retry::on_lease_lost`]: Rescue to
    /// `ready` with the attempt counted and a `LeaseExpired`/`TimeLimitExceeded`/`WorkerLost`
    /// error recorded, Bury, or Cancel. Dependants of a buried or cancelled workflow job
    /// follow their workflow's policy in the same transaction and are returned as
    /// `dependants`.
    async fn job_rescue_expired(
        &self,
        params: JobRescueParams,
    ) -> Result<RescueOutcome, StoreError>;

    /// Retention: deletes up to `limit` jobs that finished before `finished_before`.
    async fn job_delete_finished(&self, params: JobDeleteFinishedParams)
    -> Result<u64, StoreError>;

    /// Every known queue (those with jobs or settings) with its controls and counts.
    async fn queue_list(&self, params: QueueListParams) -> Result<Vec<QueueInfo>, StoreError>;

    /// Changes a queue's controls, creating the queue if needed; returns its new state.
    async fn queue_update(&self, params: QueueUpdateParams) -> Result<QueueInfo, StoreError>;

    /// Inserts the schedule, or updates the one of that name. The same definition changes
    /// nothing (`changed: false`, `next_fire_at` kept); a new one is stored and its
    /// `next_fire_at` recomputed as the first fire after `now`. `paused`, when given, is set.
    /// A new schedule has no owner; an existing one keeps its owner.
    async fn schedule_upsert(
        &self,
        params: ScheduleUpsertParams,
    ) -> Result<ScheduleUpserted, StoreError>;

    /// Declares `owner`'s whole set of schedules in ONE transaction: every schedule of the
    /// set is upserted by the rules of [`Store::schedule_upsert`] (owned by `owner`), and
    /// every schedule owned by `owner` but missing from the set is deleted with its history.
    /// Guard: a name of the set held by a schedule without that owner (another owner's, or
    /// one made at run time) refuses the whole set with
    /// [`ScheduleSetDeclared::Conflict`], changing nothing. Schedules of other owners and
    /// ownerless ones are never touched. An empty set deletes all of `owner`'s schedules.
    /// More than [`MAX_SCHEDULES_PER_SET`] schedules is [`StoreError::Invalid`].
    async fn schedule_declare_set(
        &self,
        params: ScheduleDeclareSetParams,
    ) -> Result<ScheduleSetDeclared, StoreError>;

    /// One schedule by name.
    async fn schedule_get(&self, name: &str) -> Result<Option<Schedule>, StoreError>;

    /// Every schedule, by name.
    async fn schedule_list(&self) -> Result<Vec<Schedule>, StoreError>;

    /// Deletes a schedule and its history (the jobs it made stay); `false` if none existed.
    async fn schedule_delete(&self, name: &str) -> Result<bool, StoreError>;

    /// Pauses or resumes a schedule; `None` if it does not exist. A paused schedule does not
    /// fire; its `next_fire_at` stays, so on resume the fires it missed follow its misfire
    /// policy.
    async fn schedule_set_paused(
        &self,
        params: ScheduleSetPausedParams,
    ) -> Result<Option<Schedule>, StoreError>;

    /// Fires due schedules, in ONE transaction per call: for each unpaused schedule with
    /// `next_fire_at ≤ now` (earliest first, up to `limit`), [`workhorse_core::due_fires`]
    /// decides the fires; each makes a job keyed by [`fire_key`] (a replayed fire finds
    /// its job instead of making a second), or is skipped under `overlap: skip` while the
    /// previous fire's job is `scheduled | ready | running`; `next_fire_at` advances with a
    /// guard on its old value (two concurrent firers never both fire); every fire is
    /// recorded in the history. Returns the fires, in order.
    async fn schedule_fire_due(
        &self,
        params: ScheduleFireDueParams,
    ) -> Result<Vec<Fire>, StoreError>;

    /// A fire by hand, now: a job keyed by [`fire_key`] with `now`, whatever the schedule's
    /// paused state or overlap policy; `next_fire_at` is unchanged. `None` if no such
    /// schedule.
    async fn schedule_trigger(
        &self,
        params: ScheduleTriggerParams,
    ) -> Result<Option<Fire>, StoreError>;

    /// A schedule's recent fires, newest first (at most [`HISTORY_KEPT`] are kept).
    async fn schedule_history(
        &self,
        params: ScheduleHistoryParams,
    ) -> Result<Vec<Fire>, StoreError>;

    /// The earliest `next_fire_at` of an unpaused schedule: when the firer must next wake.
    async fn schedule_next_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Inserts a whole workflow, all or none: its row, its jobs and their dependency edges.
    /// Jobs with parents start `waiting` with their count of unfinished parents; the others
    /// start `ready`, or `scheduled` when their `run_at` is after `now`. Returns the workflow.
    async fn workflow_insert(&self, params: WorkflowInsertParams) -> Result<Workflow, StoreError>;

    /// One workflow with every job's state and edges.
    async fn workflow_get(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError>;

    /// Cancels every unfinished job of a workflow in one transaction: `scheduled | ready |
    /// waiting → cancelled` at once, `running` ones flagged (they become `cancelled` when
    /// their workers stop). Returns the workflow as it is then; `None` if unknown.
    async fn workflow_cancel(
        &self,
        params: WorkflowCancelParams,
    ) -> Result<Option<Workflow>, StoreError>;
}
