//! One Params struct per [`crate::Store`] method, and what the methods return.

use std::collections::BTreeMap;
use std::time::Duration;
use workhorse_core::retry::{FailureReport, Jitter};
use workhorse_core::{
    Job, JobId, JobState, Json, LeaseId, NewJob, Progress, QueueConfig, RateLimit, Timestamp,
};

/// For [`crate::Store::job_insert_many`].
#[derive(Debug, Clone)]
pub struct JobInsertManyParams {
    pub now: Timestamp,
    /// Validated new jobs, at most [`workhorse_core::limits::MAX_BATCH`].
    pub jobs: Vec<NewJob>,
}

/// One inserted job, or the existing job that held its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Inserted {
    pub job: Job,
    /// `false` when an existing job held the key and was returned instead.
    pub created: bool,
}

/// For [`crate::Store::job_list`]. Every filter is optional; results are newest first.
#[derive(Debug, Clone, Default)]
pub struct JobListParams {
    pub queue: Option<String>,
    pub state: Option<JobState>,
    pub task: Option<String>,
    pub key: Option<String>,
    /// At most this many jobs (1 to [`workhorse_core::limits::MAX_PAGE`]).
    pub limit: u32,
    /// Only jobs older than this one (the previous page's `next_cursor`).
    pub cursor: Option<JobId>,
}

/// A page of jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<JobId>,
}

/// For [`crate::Store::job_fetch_available`].
#[derive(Debug, Clone)]
pub struct JobFetchParams {
    pub now: Timestamp,
    /// The worker that will hold the leases.
    pub worker: String,
    pub queues: Vec<String>,
    /// At most this many jobs.
    pub max: u32,
    /// Lease length (bounded by each job's time limit, see [`Job::lease_deadline`]).
    pub lease: Duration,
}

/// One heartbeat of one running job.
#[derive(Debug, Clone)]
pub struct Beat {
    pub id: JobId,
    pub lease_id: LeaseId,
    pub progress: Option<Progress>,
}

/// For [`crate::Store::job_heartbeat_many`].
#[derive(Debug, Clone)]
pub struct JobHeartbeatManyParams {
    pub now: Timestamp,
    pub lease: Duration,
    pub beats: Vec<Beat>,
}

/// The answer to a heartbeat whose lease is still held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatOutcome {
    pub lease_expires_at: Timestamp,
    /// The job was cancelled: stop it and report a failure (it then becomes `cancelled`).
    pub cancel_requested: bool,
}

/// How an attempt ended, as its worker reports it.
#[derive(Debug, Clone)]
pub enum AckKind {
    Complete { result: Option<Json> },
    Fail(FailureReport),
}

/// One acknowledgement of one running job.
#[derive(Debug, Clone)]
pub struct Ack {
    pub id: JobId,
    pub lease_id: LeaseId,
    pub kind: AckKind,
}

/// For [`crate::Store::job_ack_many`].
#[derive(Debug, Clone)]
pub struct JobAckManyParams {
    pub now: Timestamp,
    /// Each ack with the jitter of its retry: where in the backoff's range a failure that
    /// retries after the backoff falls (drawn by the engine, as `now` is read by it; a
    /// completion, or a failure with `retry_in`, does not use it).
    pub acks: Vec<(Ack, Jitter)>,
}

/// What became of one ack.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "most acks are applied; boxing every job to shrink the rare refusal costs more"
)]
pub enum AckOutcome {
    /// Applied; the job as it is now.
    Applied(Job),
    /// Refused; nothing changed.
    Refused(AckRefusal),
}

/// What [`crate::Store::job_ack_many`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AckManyOutcome {
    /// One outcome per ack, in the order asked.
    pub outcomes: Vec<AckOutcome>,
    /// The workflow jobs the same transaction moved out of `waiting` (see
    /// [`crate::Workflow`]'s fan-in rule), as they are after the commit.
    pub dependants: Vec<Job>,
}

/// What [`crate::Store::job_cancel`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelOutcome {
    /// The job as it is now: cancelled, flagged (`cancel_requested`) or unchanged.
    pub job: Job,
    /// The workflow jobs the same transaction moved out of `waiting` (see
    /// [`crate::Workflow`]'s fan-in rule), as they are after the commit.
    pub dependants: Vec<Job>,
}

/// What [`crate::Store::job_rescue_expired`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RescueOutcome {
    /// The jobs whose lease was taken back, as they are now.
    pub jobs: Vec<Job>,
    /// The workflow jobs the same transaction moved out of `waiting` (see
    /// [`crate::Workflow`]'s fan-in rule), as they are after the commit.
    pub dependants: Vec<Job>,
}

/// Why an ack (or release) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckRefusal {
    /// No such job.
    UnknownJob,
    /// The job is not running under that lease (it was rescued, finished or re-leased).
    LeaseLost,
}

/// For [`crate::Store::job_release_many`].
#[derive(Debug, Clone)]
pub struct JobReleaseManyParams {
    pub now: Timestamp,
    pub releases: Vec<(JobId, LeaseId)>,
}

/// For [`crate::Store::job_cancel`].
#[derive(Debug, Clone)]
pub struct JobCancelParams {
    pub now: Timestamp,
    pub id: JobId,
}

/// Which jobs a redrive takes.
#[derive(Debug, Clone)]
pub enum RedriveSelector {
    /// These jobs (those not in a redrivable state are skipped).
    Ids(Vec<JobId>),
    /// Jobs in `state` (default `dead`) matching the filters, oldest first, up to `limit`.
    Filter {
        queue: Option<String>,
        task: Option<String>,
        state: Option<JobState>,
        limit: u32,
    },
}

/// For [`crate::Store::job_redrive`].
#[derive(Debug, Clone)]
pub struct JobRedriveParams {
    pub now: Timestamp,
    pub selector: RedriveSelector,
}

/// Which jobs a cancel by filter takes: unfinished jobs of `queue` and/or `task` in `state`
/// (`None`: every state Cancel leaves, `running` included), oldest first, up to `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelFilter {
    pub queue: Option<String>,
    pub task: Option<String>,
    pub state: Option<JobState>,
    /// Required to match every job of every queue and task (no `queue`, no `task`), so that
    /// an empty filter never cancels everything by accident.
    pub all: bool,
    /// 1 to [`workhorse_core::limits::MAX_CANCEL_BATCH`].
    pub limit: u32,
}

/// For [`crate::Store::job_cancel_many`].
#[derive(Debug, Clone)]
pub struct JobCancelManyParams {
    pub now: Timestamp,
    pub filter: CancelFilter,
}

/// What [`crate::Store::job_cancel_many`] did, in one transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CancelManyOutcome {
    /// The jobs cancelled at once (they were scheduled, ready or waiting), oldest first.
    pub cancelled: Vec<Job>,
    /// The running jobs flagged `cancel_requested`, oldest first: each becomes `cancelled`
    /// when its worker stops it.
    pub cancel_requested: Vec<Job>,
    /// More jobs matched the filter than its limit: another call takes the next ones.
    pub more: bool,
    /// The workflow jobs the same transaction moved out of `waiting` (see
    /// [`crate::Workflow`]'s fan-in rule), as they are after the commit.
    pub dependants: Vec<Job>,
}

/// For [`crate::Store::job_promote_due`].
#[derive(Debug, Clone)]
pub struct JobPromoteDueParams {
    pub now: Timestamp,
    pub limit: u32,
}

/// What [`crate::Store::job_promote_due`] moved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromoteOutcome {
    pub promoted: u64,
    pub expired: u64,
    /// Queues that gained ready jobs (to wake their workers).
    pub queues: Vec<String>,
}

/// For [`crate::Store::job_rescue_expired`].
#[derive(Debug, Clone)]
pub struct JobRescueParams {
    pub now: Timestamp,
    /// `Some`: every running job of this worker, whatever its lease says (its session
    /// closed). `None`: every running job whose lease ended at or before `now`.
    pub worker: Option<String>,
    pub limit: u32,
}

/// For [`crate::Store::job_delete_finished`].
#[derive(Debug, Clone)]
pub struct JobDeleteFinishedParams {
    pub finished_before: Timestamp,
    pub limit: u32,
}

/// For [`crate::Store::queue_list`].
#[derive(Debug, Clone)]
pub struct QueueListParams {
    pub now: Timestamp,
}

/// A queue's controls and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueInfo {
    pub config: QueueConfig,
    /// Jobs per state (states with none may be absent).
    pub counts: BTreeMap<JobState, u64>,
    /// `run_at` of the oldest ready job: how long the queue's head has waited.
    pub oldest_ready_at: Option<Timestamp>,
}

impl QueueInfo {
    /// A queue with the controls `config` that holds no jobs (yet).
    pub fn empty(config: QueueConfig) -> QueueInfo {
        QueueInfo {
            config,
            counts: BTreeMap::new(),
            oldest_ready_at: None,
        }
    }
}

/// For [`crate::Store::queue_update`]. `None` leaves a control as it is.
#[derive(Debug, Clone, Default)]
pub struct QueueUpdateParams {
    pub name: String,
    pub paused: Option<bool>,
    /// `Some(None)` removes the limit.
    pub max_running: Option<Option<u32>>,
    /// `Some(None)` removes the limit.
    pub rate_limit: Option<Option<RateLimit>>,
}
