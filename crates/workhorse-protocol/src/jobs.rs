use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workhorse_core::{AttemptError, Job, JobId, JobState, Json, Progress, Timestamp, WorkflowId};

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    #[schema(value_type = String, format = Uuid)]
    pub id: JobId,
    pub task: String,
    pub queue: String,
    /// `scheduled`, `ready`, `running`, `succeeded`, `dead`, `cancelled`, `expired` or
    /// `waiting` (a workflow job whose parents have not all finished).
    #[schema(value_type = String)]
    pub state: JobState,
    pub priority: u8,
    #[schema(value_type = Vec<Object>)]
    pub args: Json,
    #[schema(value_type = Object)]
    pub kwargs: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Json>,
    /// Attempts started so far.
    pub attempt: u32,
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Progress>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Json>,
    /// Every failed attempt's error, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<AttemptError>,
    pub cancel_requested: bool,
    /// The worker holding the job while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub run_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lease_expires_at: Option<Timestamp>,
    /// The schedule that made this job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The fire time of that schedule this job runs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    /// The workflow this job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub workflow_id: Option<WorkflowId>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let (worker, lease_expires_at) = match job.lease {
            Some(lease) => (Some(lease.worker), Some(lease.expires_at)),
            None => (None, None),
        };
        JobView {
            id: job.id,
            task: job.task,
            queue: job.queue,
            state: job.state,
            priority: job.priority,
            args: job.args,
            kwargs: job.kwargs,
            metadata: job.metadata,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            timeout_ms: job.timeout.map(|t| t.as_millis() as u64),
            key: job.key,
            concurrency_key: job.concurrency_key,
            progress: job.progress,
            result: job.result,
            errors: job.errors,
            cancel_requested: job.cancel_requested,
            worker,
            created_at: job.created_at,
            run_at: job.run_at,
            expires_at: job.expires_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            lease_expires_at,
            schedule: job.schedule,
            scheduled_for: job.scheduled_for,
            workflow_id: job.workflow,
        }
    }
}

/// `GET /v1/jobs` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    pub queue: Option<String>,
    /// A job state name.
    pub state: Option<String>,
    pub task: Option<String>,
    pub key: Option<String>,
    /// Page size, 1–1000, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobListResponse {
    pub jobs: Vec<JobView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub next_cursor: Option<JobId>,
}

/// `GET /v1/jobs/{id}/result`: wait up to `timeout_ms` for the job to finish.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    pub timeout_ms: Option<u64>,
}

/// `POST /v1/jobs/redrive`: run dead (or cancelled, expired) jobs again, by ids or filter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub ids: Option<Vec<JobId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `dead` (default), `cancelled` or `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<JobState>,
    /// At most this many (default and maximum 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The redriven jobs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedriveResponse {
    pub count: usize,
    pub jobs: Vec<JobView>,
}

/// `POST /v1/jobs/cancel`: cancel the unfinished jobs a filter matches, at most `limit` in
/// one call. A filter naming neither `queue` nor `task` is refused unless `all` is true.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelManyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `scheduled`, `ready`, `waiting` or `running`; absent: all four.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<JobState>,
    /// Match every unfinished job when no `queue` or `task` is given: required then, so a
    /// bare request never cancels everything by accident.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// At most this many jobs (default and maximum 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// What a cancel by filter did, in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CancelManyResponse {
    /// Jobs cancelled at once (they were scheduled, ready or waiting).
    pub cancelled: usize,
    /// Running jobs marked `cancel_requested`: each stops on its worker's next heartbeat.
    pub cancel_requested: usize,
    /// More jobs matched than `limit`: call again to cancel the rest.
    pub more: bool,
}
