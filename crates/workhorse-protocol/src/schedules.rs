//! Schedules over HTTP: `PUT /v1/schedules/{name}` declares one, `PUT
//! /v1/schedule-sets/{owner}` declares an app's whole set, `GET` shows them with their next
//! fire times and recent fires.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use workhorse_core::{Backoff, JobId, Json, Misfire, Overlap, Timestamp};

/// `PUT /v1/schedules/{name}`: exactly one of `cron`, `every_ms` or `at`. Declaring the
/// same schedule again changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Cron expression, 5 fields or 6 with seconds (`0 8 * * *`), in `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Fixed interval in milliseconds, fires at `anchor + k·every_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<u64>,
    /// Where an interval counts from (default: the Unix epoch, so `every_ms: 60000` fires
    /// on every whole minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub anchor: Option<Timestamp>,
    /// One-off: fires once at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    /// IANA time zone of `cron` (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The task of the jobs it makes.
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub args: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub kwargs: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Exponential backoff between attempts of each job, with full jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub backoff: Option<Backoff>,
    /// A job not started this many milliseconds after its fire time expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// At most `concurrency_limit` (default 1) jobs with this key run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<u32>,
    /// Free-form JSON kept with each job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Json>,
    /// `"coalesce"` (default), `"skip"` or `{"all": {"max": N}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub misfire: Option<Misfire>,
    /// A fire late by at most this much runs whatever `misfire` says (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
    /// `"allow"` (default) or `"skip"` while the previous fire's job waits or runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub overlap: Option<Overlap>,
    /// Set paused or running; absent keeps the current setting (new schedules run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// One fire of a schedule: the job it made, or why it was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FireView {
    #[schema(value_type = String, format = DateTime)]
    pub fire_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub job_id: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Fired by hand (`trigger`) rather than due.
    pub triggered: bool,
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    pub name: String,
    /// The app that declares it with its set (`PUT /v1/schedule-sets/{owner}`); absent: made
    /// at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The definition, in the shape `PUT` takes (without `paused`).
    pub definition: ScheduleRequest,
    pub paused: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_fire_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_fire_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub last_job: Option<JobId>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// The next fire times (`GET /v1/schedules/{name}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub next_fires: Vec<Timestamp>,
    /// Recent fires, newest first (`GET /v1/schedules/{name}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<FireView>,
}

/// The answer to `PUT /v1/schedules/{name}` (201 created, 200 otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleUpsertResponse {
    pub created: bool,
    /// `false`: the same definition was already stored; nothing changed.
    pub changed: bool,
    pub schedule: ScheduleView,
}

/// `PUT /v1/schedule-sets/{owner}`: every schedule the owner declares, by name (at most
/// 1,000). The owner's schedules missing here are deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSetRequest {
    pub schedules: BTreeMap<String, ScheduleRequest>,
}

/// The answer to `PUT /v1/schedule-sets/{owner}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleSetResponse {
    /// Each schedule of the set, by name, as declared.
    pub schedules: Vec<ScheduleUpsertResponse>,
    /// The owner's schedules the set left out, deleted.
    pub deleted: Vec<String>,
}

/// `GET /v1/schedules`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleListResponse {
    pub schedules: Vec<ScheduleView>,
}

/// `GET /v1/schedules/{name}` query: how many next fire times to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScheduleGetQuery {
    /// Next fire times to list, 1–100, default 5.
    pub count: Option<u32>,
}
