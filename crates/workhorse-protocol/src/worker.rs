use crate::Problem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workhorse_core::retry::FailureReport;
use workhorse_core::{Job, JobId, JobState, Json, LeaseId, Progress, Timestamp};

/// `POST /v1/fetch`: lease up to `max` ready jobs, waiting up to `wait_ms` for one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    /// A name for the worker, shown on the dashboard and recorded on its leases.
    pub worker: String,
    /// Default `["default"]`.
    #[serde(default)]
    pub queues: Vec<String>,
    /// 1–1000, default 1.
    #[serde(default = "one")]
    pub max: u32,
    /// Long-poll: wait up to this long (at most 60,000) when no job is ready. Default 0.
    #[serde(default)]
    pub wait_ms: u64,
}

fn one() -> u32 {
    1
}

/// A leased job, as a worker receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FetchedJob {
    #[schema(value_type = String, format = Uuid)]
    pub id: JobId,
    pub task: String,
    pub queue: String,
    #[schema(value_type = Vec<Object>)]
    pub args: Json,
    #[schema(value_type = Object)]
    pub kwargs: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Json>,
    pub priority: u8,
    /// This attempt's number, 1 for the first run.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The attempt's time limit: stop the task by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Name it in every heartbeat and ack.
    #[schema(value_type = String, format = Uuid)]
    pub lease_id: LeaseId,
    #[schema(value_type = String, format = DateTime)]
    pub lease_expires_at: Timestamp,
}

impl FetchedJob {
    /// The worker's view of a job a store just started; `None` if it holds no lease.
    pub fn from_job(job: Job) -> Option<Self> {
        let lease = job.lease?;
        Some(FetchedJob {
            id: job.id,
            task: job.task,
            queue: job.queue,
            args: job.args,
            kwargs: job.kwargs,
            metadata: job.metadata,
            priority: job.priority,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            timeout_ms: job.timeout.map(|t| t.as_millis() as u64),
            lease_id: lease.id,
            lease_expires_at: lease.expires_at,
        })
    }
}

/// The leased jobs (possibly none).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FetchResponse {
    pub jobs: Vec<FetchedJob>,
}

/// `POST /v1/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    #[schema(value_type = String, format = Uuid)]
    pub lease_id: LeaseId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Progress>,
}

/// The lease, extended; `cancel_requested` tells the worker to stop the job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    #[schema(value_type = String, format = DateTime)]
    pub lease_expires_at: Timestamp,
    pub cancel_requested: bool,
}

/// `POST /v1/jobs/{id}/complete`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[schema(value_type = String, format = Uuid)]
    pub lease_id: LeaseId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Json>,
}

/// An attempt's error, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorReport {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceback: Option<String>,
}

/// `POST /v1/jobs/{id}/fail`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    #[schema(value_type = String, format = Uuid)]
    pub lease_id: LeaseId,
    pub error: ErrorReport,
    /// Retry after exactly this long instead of the backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// `false`: dead-letter now. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl ErrorReport {
    /// The failure as the retry policy reads it, from the fail fields of the wire (`retry_in_ms`
    /// and `retryable` beside `error`, in `POST /v1/jobs/{id}/fail` and in a `fail` ack).
    pub fn into_failure(self, retry_in_ms: Option<u64>, retryable: Option<bool>) -> FailureReport {
        FailureReport {
            kind: self.kind,
            message: self.message,
            traceback: self.traceback,
            retry_in: retry_in_ms.map(crate::ms),
            retryable: retryable.unwrap_or(true),
        }
    }
}

/// One ack in a batch: a completion or a failure of one leased job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum AckItem {
    Complete {
        #[schema(value_type = String, format = Uuid)]
        id: JobId,
        #[schema(value_type = String, format = Uuid)]
        lease_id: LeaseId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        result: Option<Json>,
    },
    Fail {
        #[schema(value_type = String, format = Uuid)]
        id: JobId,
        #[schema(value_type = String, format = Uuid)]
        lease_id: LeaseId,
        error: ErrorReport,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retryable: Option<bool>,
    },
}

impl AckItem {
    /// The job this ack is for.
    pub fn id(&self) -> JobId {
        match self {
            AckItem::Complete { id, .. } | AckItem::Fail { id, .. } => *id,
        }
    }
}

/// `POST /v1/ack`: many acks at once, each settled on its own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub acks: Vec<AckItem>,
}

/// How one ack was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcomeView {
    /// Applied; `state` is the job's new state.
    Applied,
    /// No such job.
    UnknownJob,
    /// The job is no longer running under that lease; nothing changed.
    LeaseLost,
}

/// The result of one ack.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AckResult {
    #[schema(value_type = String, format = Uuid)]
    pub id: JobId,
    pub outcome: AckOutcomeView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<JobState>,
}

/// One result per ack, in request order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AckResponse {
    pub results: Vec<AckResult>,
}

/// A job and the lease it is held under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobLeaseRef {
    #[schema(value_type = String, format = Uuid)]
    pub id: JobId,
    #[schema(value_type = String, format = Uuid)]
    pub lease_id: LeaseId,
}

/// One heartbeat on the WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WsBeat {
    #[schema(value_type = String, format = Uuid)]
    pub id: JobId,
    #[schema(value_type = String, format = Uuid)]
    pub lease_id: LeaseId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Progress>,
}

/// The answer to one heartbeat on the WebSocket. `lease_expires_at: null` means the lease
/// is lost: stop the job, its ack will be refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WsBeatResult {
    #[schema(value_type = String, format = Uuid)]
    pub id: JobId,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lease_expires_at: Option<Timestamp>,
    pub cancel_requested: bool,
}

/// Worker → server messages on `GET /v1/workers/connect` (JSON text frames, tagged by `type`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message: who the worker is, what it takes, and its initial credit (how many
    /// jobs it may hold at once).
    Hello {
        worker: String,
        queues: Vec<String>,
        credit: u32,
    },
    /// More credit: the server may push this many more jobs.
    Credit {
        n: u32,
    },
    Heartbeat {
        beats: Vec<WsBeat>,
    },
    Ack {
        acks: Vec<AckItem>,
    },
    /// Jobs handed back unstarted (shutdown): they run again elsewhere, the attempt uncounted.
    Release {
        jobs: Vec<JobLeaseRef>,
    },
}

/// Server → worker messages.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`: the session's id (its leases carry it) and the timing to keep.
    Welcome {
        worker_id: String,
        lease_ms: u64,
        heartbeat_ms: u64,
    },
    /// Jobs pushed within the credit granted.
    Jobs {
        jobs: Vec<FetchedJob>,
    },
    Heartbeat {
        results: Vec<WsBeatResult>,
    },
    Acked {
        results: Vec<AckResult>,
    },
    Released {
        count: usize,
    },
    /// Something failed, as problem details. `retryable: false`: the session broke a rule
    /// (or could not be opened) and the server closes it after this. `retryable: true`: the
    /// store failed for a moment; the message named in `failed` changed nothing and may be
    /// sent again, and the session (with every job it holds) stays open.
    Error {
        problem: Problem,
        #[serde(default)]
        retryable: bool,
        /// What failed, when it was one step of the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed: Option<WsStep>,
        /// The jobs that step named (an ack's, a heartbeat's or a release's).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<String>)]
        jobs: Vec<JobId>,
    },
}

/// A step of a worker session that a [`ServerMessage::Error`] reports failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WsStep {
    /// The worker's `heartbeat` message.
    Heartbeat,
    /// The worker's `ack` message: no result in it was recorded.
    Ack,
    /// The worker's `release` message: no job in it was handed back.
    Release,
    /// The server's own fetch of jobs to push; it tries again on the next signal.
    Push,
}
