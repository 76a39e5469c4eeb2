//! The job: identifiers, payloads, and what a producer asks for when it enqueues one.

use crate::Timestamp;
use crate::limits;
use crate::retry::Backoff;
use crate::state::JobState;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// A job's id: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        JobId(Uuid::now_v7())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(JobId)
    }
}

/// The id of one lease: one attempt of one job by one worker. An ack or heartbeat that
/// names another lease than the job's current one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseId(pub Uuid);

impl LeaseId {
    /// A new random lease id.
    pub fn new() -> Self {
        LeaseId(Uuid::new_v4())
    }
}

impl Default for LeaseId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A JSON document kept as the producer sent it: stored and returned without re-parsing.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Json(pub Box<RawValue>);

/// `serde_json`'s marker for raw values; its deserializers answer it with the raw text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Raw text where the deserializer offers it (`serde_json` reading a body: no re-parse);
/// otherwise, as inside internally tagged enums whose content serde buffers, the value is
/// read and written back as text. A derived `Box<RawValue>` fails on buffered content.
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    /// `serde_json`'s raw path: a one-entry map holding the raw text.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Json, A::Error> {
        let deserializer = serde::de::value::MapAccessDeserializer::new(map);
        Box::<RawValue>::deserialize(deserializer).map(Json)
    }

    /// Buffered content: read the value, write it back as text.
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Json, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Json::from_value(&value).map_err(serde::de::Error::custom)
    }
}

impl Json {
    /// Wraps already-valid JSON text.
    pub fn from_raw(text: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text.to_owned()).map(Json)
    }

    /// Serializes a value.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Json)
    }

    /// `[]`
    pub fn empty_array() -> Self {
        Self::from_raw("[]").unwrap_or_else(|_| unreachable!("literal JSON"))
    }

    /// `{}`
    pub fn empty_object() -> Self {
        Self::from_raw("{}").unwrap_or_else(|_| unreachable!("literal JSON"))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Deserializes into `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.get())
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// How far a running job has come, as its worker last reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// From 0.0 to 1.0.
    pub fraction: f64,
    /// What the job is doing, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The error of one failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptError {
    /// Which attempt failed (1 for the first run).
    pub attempt: u32,
    /// When the failure was recorded.
    pub at: Timestamp,
    /// The error's type, e.g. `ValueError` or `LeaseExpired`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The error's message.
    pub message: String,
    /// The traceback or backtrace text, if the worker sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceback: Option<String>,
}

/// The lease a running job is held under.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// The id every heartbeat and ack must name.
    pub id: LeaseId,
    /// The worker that holds it.
    pub worker: String,
    /// When it ends unless a heartbeat extends it.
    pub expires_at: Timestamp,
}

/// A job as stores keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub task: String,
    pub queue: String,
    pub state: JobState,
    /// 0–9, higher runs first.
    pub priority: u8,
    /// A JSON array.
    pub args: Json,
    /// A JSON object.
    pub kwargs: Json,
    pub metadata: Option<Json>,
    /// Attempts started so far (1 while the first attempt runs).
    pub attempt: u32,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Time limit of one attempt.
    pub timeout: Option<Duration>,
    /// Unique (idempotency) key; [`Job::holds_key`] says how long the job holds it.
    pub key: Option<String>,
    /// How long after it finished the job still holds its key; `None`: until retention
    /// deletes it, if it succeeded (see [`Job::holds_key`]).
    pub key_window: Option<Duration>,
    pub concurrency_key: Option<String>,
    /// At most this many jobs with the same `concurrency_key` run at once.
    pub concurrency_limit: u32,
    pub progress: Option<Progress>,
    pub result: Option<Json>,
    /// Every failed attempt's error, oldest first.
    pub errors: Vec<AttemptError>,
    pub cancel_requested: bool,
    pub lease: Option<Lease>,
    pub created_at: Timestamp,
    /// When the job becomes (or became) ready to run.
    pub run_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// When the current or last attempt started.
    pub started_at: Option<Timestamp>,
    /// When the job reached a terminal state.
    pub finished_at: Option<Timestamp>,
    /// The schedule that made this job, if one did.
    pub schedule: Option<String>,
    /// The fire time of that schedule this job runs for.
    pub scheduled_for: Option<Timestamp>,
    /// The workflow this job belongs to, if any (see [`crate::workflow`]).
    pub workflow: Option<crate::workflow::WorkflowId>,
}

/// What a producer asks for. Defaults are filled in by [`NewJob::new`]; validate with
/// [`NewJob::validate`] before handing it to a store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: JobId,
    pub task: String,
    pub queue: String,
    pub priority: u8,
    pub args: Json,
    pub kwargs: Json,
    pub metadata: Option<Json>,
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub timeout: Option<Duration>,
    pub key: Option<String>,
    pub key_window: Option<Duration>,
    pub concurrency_key: Option<String>,
    pub concurrency_limit: u32,
    /// `None`: ready at once.
    pub run_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// The schedule making this job (set by stores firing schedules, not by producers).
    pub schedule: Option<String>,
    /// The fire time of `schedule` this job runs for.
    pub scheduled_for: Option<Timestamp>,
}

/// A new job breaks a rule; `field` names the offending field as the HTTP API spells it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidJob {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidJob {
    InvalidJob {
        field,
        message: message.into(),
    }
}

impl NewJob {
    /// A job for `task` on the default queue with default options.
    pub fn new(task: impl Into<String>) -> Self {
        NewJob {
            id: JobId::new(),
            task: task.into(),
            queue: crate::queue::DEFAULT_QUEUE.to_owned(),
            priority: limits::DEFAULT_PRIORITY,
            args: Json::empty_array(),
            kwargs: Json::empty_object(),
            metadata: None,
            max_attempts: limits::DEFAULT_MAX_ATTEMPTS,
            backoff: Backoff::default(),
            timeout: None,
            key: None,
            key_window: None,
            concurrency_key: None,
            concurrency_limit: 1,
            run_at: None,
            expires_at: None,
            schedule: None,
            scheduled_for: None,
        }
    }

    /// Checks every rule a stored job must satisfy; `now` is needed for `expires_at`.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        limits::check_name("task", &self.task)?;
        crate::queue::validate_queue_name(&self.queue)?;
        if self.priority > limits::MAX_PRIORITY {
            return Err(invalid(
                "priority",
                format!(
                    "priority {} is out of range 0-{}",
                    self.priority,
                    limits::MAX_PRIORITY
                ),
            ));
        }
        if !self.args.get().trim_start().starts_with('[') {
            return Err(invalid("args", "args must be a JSON array"));
        }
        if !self.kwargs.get().trim_start().starts_with('{') {
            return Err(invalid("kwargs", "kwargs must be a JSON object"));
        }
        if !(1..=limits::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(invalid(
                "max_attempts",
                format!(
                    "max_attempts must be between 1 and {}",
                    limits::MAX_ATTEMPTS
                ),
            ));
        }
        self.backoff.validate()?;
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(invalid("timeout_ms", "timeout_ms must be positive"));
        }
        if let Some(key) = &self.key {
            limits::check_key("key", key)?;
        }
        if self
            .key_window
            .is_some_and(|w| w > Duration::from_millis(limits::MAX_KEY_WINDOW_MS))
        {
            return Err(invalid(
                "key_window_ms",
                format!(
                    "key_window_ms must be at most {} (365 days)",
                    limits::MAX_KEY_WINDOW_MS
                ),
            ));
        }
        if let Some(key) = &self.concurrency_key {
            limits::check_key("concurrency_key", key)?;
        }
        if self.concurrency_limit == 0 {
            return Err(invalid(
                "concurrency_limit",
                "concurrency_limit must be at least 1",
            ));
        }
        if let (Some(run_at), Some(expires_at)) = (self.run_at, self.expires_at)
            && expires_at <= run_at
        {
            return Err(invalid(
                "expires_at",
                "expires_at must be later than run_at",
            ));
        }
        Ok(())
    }

    /// The stored job this request becomes at `now`.
    pub fn into_job(self, now: Timestamp) -> Job {
        let run_at = self.run_at.filter(|at| *at > now).unwrap_or(now);
        let state = if run_at > now {
            JobState::Scheduled
        } else {
            JobState::Ready
        };
        Job {
            id: self.id,
            task: self.task,
            queue: self.queue,
            state,
            priority: self.priority,
            args: self.args,
            kwargs: self.kwargs,
            metadata: self.metadata,
            attempt: 0,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            timeout: self.timeout,
            key: self.key,
            key_window: self.key_window,
            concurrency_key: self.concurrency_key,
            concurrency_limit: self.concurrency_limit,
            progress: None,
            result: None,
            errors: Vec::new(),
            cancel_requested: false,
            lease: None,
            created_at: now,
            run_at,
            expires_at: self.expires_at,
            started_at: None,
            finished_at: None,
            schedule: self.schedule,
            scheduled_for: self.scheduled_for,
            workflow: None,
        }
    }
}

impl Job {
    /// Whether this job still holds its unique key at `now`. A live job always does. A
    /// finished one holds it for its `key_window` after `finished_at`, whatever way it
    /// finished (a window of zero: not at all); without a window, a job that succeeded holds
    /// it until retention deletes it, while one that ended `dead`, `cancelled` or `expired`
    /// releases it at once, since its work did not happen and enqueueing it again must
    /// make a new job.
    pub fn holds_key(&self, now: Timestamp) -> bool {
        if self.state.is_live() {
            return true;
        }
        match (self.finished_at, self.key_window) {
            (_, None) => self.state == JobState::Succeeded,
            (Some(finished), Some(window)) => {
                let window =
                    jiff::SignedDuration::try_from(window).unwrap_or(jiff::SignedDuration::MAX);
                // Past the timestamp range the window outlives any retention: still held.
                match finished.checked_add(window) {
                    Ok(until) => until > now,
                    Err(_) => true,
                }
            }
            (None, Some(_)) => false,
        }
    }

    /// The lease deadline for a (re)newed lease of `lease` length at `now`, bounded by the
    /// job's time limit: a job past its time limit cannot keep its lease by heartbeating.
    pub fn lease_deadline(&self, now: Timestamp, lease: Duration) -> Timestamp {
        let wanted = crate::clock::add(now, lease);
        match (self.timeout, self.started_at) {
            (Some(limit), Some(started)) => wanted.min(crate::clock::add(started, limit)),
            _ => wanted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid")
    }

    #[test]
    fn json_keeps_raw_text_and_survives_internally_tagged_enums() {
        #[derive(Deserialize)]
        #[serde(tag = "type")]
        enum Tagged {
            Carry { payload: Json },
        }
        let raw: Json = serde_json::from_str(r#"{"a":  [1, 2]}"#).expect("raw");
        assert_eq!(raw.get(), r#"{"a":  [1, 2]}"#, "the text is kept as sent");
        let tagged: Tagged =
            serde_json::from_str(r#"{"type":"Carry","payload":{"a":[1,2]}}"#).expect("tagged");
        let Tagged::Carry { payload } = tagged;
        assert_eq!(payload.get(), r#"{"a":[1,2]}"#);
        let from_value: Json = serde_json::from_value(serde_json::json!([true])).expect("value");
        assert_eq!(from_value.get(), "[true]");
    }

    #[test]
    fn new_job_defaults_validate() {
        NewJob::new("emails.send")
            .validate()
            .expect("defaults are valid");
    }

    #[test]
    fn validation_names_the_field() {
        let mut job = NewJob::new("t");
        job.priority = 10;
        assert_eq!(job.validate().unwrap_err().field, "priority");

        let mut job = NewJob::new("");
        job.priority = 0;
        assert_eq!(job.validate().unwrap_err().field, "task");

        let mut job = NewJob::new("t");
        job.args = Json::from_raw("{}").expect("json");
        assert_eq!(job.validate().unwrap_err().field, "args");

        let mut job = NewJob::new("t");
        job.max_attempts = 0;
        assert_eq!(job.validate().unwrap_err().field, "max_attempts");

        let mut job = NewJob::new("t");
        job.run_at = Some(ts(100));
        job.expires_at = Some(ts(50));
        assert_eq!(job.validate().unwrap_err().field, "expires_at");
    }

    #[test]
    fn future_run_at_is_scheduled_past_is_ready() {
        let mut job = NewJob::new("t");
        job.run_at = Some(ts(200));
        assert_eq!(job.clone().into_job(ts(100)).state, JobState::Scheduled);
        let ready = job.into_job(ts(300));
        assert_eq!(ready.state, JobState::Ready);
        assert_eq!(ready.run_at, ts(300));
    }

    fn finished(state: JobState, window: Option<Duration>) -> Job {
        let mut job = NewJob::new("t").into_job(ts(0));
        assert!(job.holds_key(ts(10)));
        job.state = state;
        job.finished_at = Some(ts(10));
        job.key_window = window;
        job
    }

    #[test]
    fn succeeded_job_holds_key_without_window() {
        assert!(finished(JobState::Succeeded, None).holds_key(ts(1_000_000)));
        for state in [JobState::Dead, JobState::Cancelled, JobState::Expired] {
            assert!(!finished(state, None).holds_key(ts(11)), "{state:?}");
        }
    }

    #[test]
    fn key_is_held_within_window_whatever_the_end() {
        for state in [JobState::Succeeded, JobState::Dead, JobState::Cancelled] {
            let job = finished(state, Some(Duration::from_secs(5)));
            assert!(job.holds_key(ts(14)), "{state:?}");
            assert!(!job.holds_key(ts(15)), "{state:?}");
            assert!(!finished(state, Some(Duration::ZERO)).holds_key(ts(10)));
        }
    }

    #[test]
    fn key_window_is_bounded() {
        let mut job = NewJob::new("t");
        job.key_window = Some(Duration::from_millis(limits::MAX_KEY_WINDOW_MS));
        assert!(job.validate().is_ok());
        job.key_window = Some(Duration::from_millis(1_000_000_000_000_000));
        assert_eq!(job.validate().unwrap_err().field, "key_window_ms");
    }

    #[test]
    fn lease_is_bounded_by_time_limit() {
        let mut job = NewJob::new("t").into_job(ts(0));
        job.started_at = Some(ts(0));
        job.timeout = Some(Duration::from_secs(20));
        assert_eq!(job.lease_deadline(ts(5), Duration::from_secs(10)), ts(15));
        assert_eq!(job.lease_deadline(ts(15), Duration::from_secs(10)), ts(20));
        job.timeout = None;
        assert_eq!(job.lease_deadline(ts(15), Duration::from_secs(10)), ts(25));
    }
}
