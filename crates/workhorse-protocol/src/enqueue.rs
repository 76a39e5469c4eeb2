use crate::jobs::JobView;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use workhorse_core::job::InvalidJob;
use workhorse_core::{Backoff, JobId, Json, NewJob, Timestamp, clock};

/// `POST /v1/jobs`: a job to enqueue. Only `task` is required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// The job's id, chosen by the client (a UUID v7) so that a retried enqueue cannot make
    /// a second job: a job with this id already there is answered instead. Default: the
    /// server picks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub id: Option<JobId>,
    /// The task name workers register, e.g. `emails.send_welcome`.
    pub task: String,
    /// Default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Positional arguments: a JSON array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub args: Option<Json>,
    /// Keyword arguments: a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub kwargs: Option<Json>,
    /// 0–9, higher first. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Run no sooner than this many milliseconds from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<i64>,
    /// Run no sooner than this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub run_at: Option<Timestamp>,
    /// Not started by then: `expired`, never run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// Attempts in all, the first run included. Default 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Exponential backoff between attempts, with full jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub backoff: Option<Backoff>,
    /// Time limit of one attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Unique key: while a job holds it, enqueueing returns that job (`200`) instead of a
    /// new one. A job holds its key while live; then, without `key_window_ms`, until
    /// retention deletes it if it succeeded, and not at all if it ended dead, cancelled or
    /// expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Instead of the default, the key stays held this long after the job finished,
    /// however it finished; `0`: only while the job is live. At most 31,536,000,000
    /// (365 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_window_ms: Option<u64>,
    /// At most `concurrency_limit` (default 1) jobs with this key run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<u32>,
    /// Free-form JSON kept with the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Json>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidJob {
    InvalidJob {
        field,
        message: message.into(),
    }
}

/// How far in the future a client-chosen job id's timestamp may lie: clocks drift, but an
/// id from far ahead would sort before every job made until then.
pub const MAX_ID_SKEW: Duration = Duration::from_hours(1);

/// `id` if it is a UUID v7 whose timestamp is at most [`MAX_ID_SKEW`] after `now`.
fn check_client_id(id: JobId, now: Timestamp) -> Result<JobId, InvalidJob> {
    if id.0.get_version_num() != 7 {
        return Err(invalid(
            "id",
            format!("id {id} is not a UUID v7 (time-ordered job ids)"),
        ));
    }
    let millis =
        id.0.get_timestamp()
            .map(|ts| ts.to_unix())
            .map_or(0, |(secs, nanos)| {
                i64::try_from(secs).unwrap_or(i64::MAX) * 1_000 + i64::from(nanos / 1_000_000)
            });
    let skew_ms = i64::try_from(MAX_ID_SKEW.as_millis()).unwrap_or(i64::MAX);
    if millis > now.as_millisecond().saturating_add(skew_ms) {
        return Err(invalid(
            "id",
            format!("id {id} is dated more than an hour in the future; check the client's clock"),
        ));
    }
    Ok(id)
}

impl EnqueueRequest {
    /// A request for `task` with nothing else set.
    pub fn new(task: impl Into<String>) -> Self {
        EnqueueRequest {
            task: task.into(),
            ..Self::default()
        }
    }

    /// The validated new job this request asks for at `now`.
    pub fn into_new_job(self, now: Timestamp) -> Result<NewJob, InvalidJob> {
        let mut job = NewJob::new(self.task);
        if let Some(id) = self.id {
            job.id = check_client_id(id, now)?;
        }
        if let Some(queue) = self.queue {
            job.queue = queue;
        }
        if let Some(priority) = self.priority {
            job.priority = u8::try_from(priority)
                .ok()
                .filter(|p| *p <= workhorse_core::limits::MAX_PRIORITY)
                .ok_or_else(|| {
                    invalid(
                        "priority",
                        format!("priority {priority} is out of range 0-9"),
                    )
                })?;
        }
        job.args = self.args.unwrap_or_else(Json::empty_array);
        job.kwargs = self.kwargs.unwrap_or_else(Json::empty_object);
        job.metadata = self.metadata;
        job.run_at = match (self.delay_ms, self.run_at) {
            (Some(_), Some(_)) => {
                return Err(invalid("delay_ms", "give delay_ms or run_at, not both"));
            }
            (Some(delay), None) if delay < 0 => {
                return Err(invalid(
                    "delay_ms",
                    format!("delay_ms must not be negative (got {delay})"),
                ));
            }
            (Some(delay), None) => Some(clock::add(now, Duration::from_millis(delay as u64))),
            (None, run_at) => run_at,
        };
        job.expires_at = self.expires_at;
        if job.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid("expires_at", "expires_at is in the past"));
        }
        if let Some(max) = self.max_attempts {
            job.max_attempts = max;
        }
        if let Some(backoff) = self.backoff {
            job.backoff = backoff;
        }
        job.timeout = self.timeout_ms.map(crate::ms);
        job.key = self.key;
        job.key_window = self.key_window_ms.map(crate::ms);
        job.concurrency_key = self.concurrency_key;
        if let Some(limit) = self.concurrency_limit {
            job.concurrency_limit = limit;
        }
        job.validate()?;
        Ok(job)
    }
}

/// `POST /v1/jobs/batch`: up to 10,000 jobs, enqueued atomically.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEnqueueRequest {
    pub jobs: Vec<EnqueueRequest>,
}

/// The enqueued jobs, in request order (an existing job where a key matched).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchEnqueueResponse {
    pub jobs: Vec<JobView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<EnqueueRequest, serde_json::Error> {
        serde_json::from_str(body)
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = parse(r#"{"task":"t","priorty":3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `priorty`"), "{err}");
    }

    #[test]
    fn negative_delay_is_refused() {
        let req = parse(r#"{"task":"t","delay_ms":-5}"#).expect("parses");
        let err = req.into_new_job(Timestamp::UNIX_EPOCH).unwrap_err();
        assert_eq!(err.field, "delay_ms");
    }

    #[test]
    fn priority_out_of_range_is_refused() {
        for p in ["-1", "10", "300"] {
            let req = parse(&format!(r#"{{"task":"t","priority":{p}}}"#)).expect("parses");
            assert_eq!(
                req.into_new_job(Timestamp::UNIX_EPOCH).unwrap_err().field,
                "priority"
            );
        }
    }

    #[test]
    fn client_ids_must_be_recent_v7() {
        let now = Timestamp::from_second(1_800_000_000).expect("valid");
        let id = JobId(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_800_000_000,
            0,
        )));
        let req = EnqueueRequest {
            id: Some(id),
            ..EnqueueRequest::new("t")
        };
        assert_eq!(req.into_new_job(now).expect("valid").id, id);
        let v4 = EnqueueRequest {
            id: Some(JobId(uuid::Uuid::new_v4())),
            ..EnqueueRequest::new("t")
        };
        let err = v4.into_new_job(now).unwrap_err();
        assert_eq!(err.field, "id");
        assert!(err.message.contains("not a UUID v7"), "{err}");
        let ahead = JobId(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_800_000_000 + 2 * 3_600,
            0,
        )));
        let future = EnqueueRequest {
            id: Some(ahead),
            ..EnqueueRequest::new("t")
        };
        assert!(
            future
                .into_new_job(now)
                .unwrap_err()
                .message
                .contains("future")
        );
    }

    #[test]
    fn delay_sets_run_at() {
        let req = parse(r#"{"task":"t","delay_ms":1500,"args":[1,{"a":2}]}"#).expect("parses");
        let job = req.into_new_job(Timestamp::UNIX_EPOCH).expect("valid");
        assert_eq!(job.run_at.map(Timestamp::as_millisecond), Some(1_500));
        assert_eq!(job.args.get(), r#"[1,{"a":2}]"#);
    }
}
