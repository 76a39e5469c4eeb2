//! Schedules between the wire ([`ScheduleRequest`], [`ScheduleView`]) and the store
//! ([`ScheduleDefinition`], [`Schedule`]).

use crate::error::ApiError;
use std::time::Duration;
use workhorse_core::queue::DEFAULT_QUEUE;
use workhorse_core::{Json, ScheduleSpec, Timestamp, limits};
use workhorse_engine::{
    Fire, FireOutcome, Schedule, ScheduleDefinition, ScheduleJob, ScheduleUpserted,
    schedule_invalid,
};
use workhorse_protocol::{FireView, ScheduleRequest, ScheduleUpsertResponse, ScheduleView};

/// Late by at most this much, a fire runs whatever the misfire policy (default `grace_ms`).
const DEFAULT_GRACE: Duration = Duration::from_secs(1);

/// The definition a `PUT` asks for; 422 naming the field at fault.
pub(crate) fn definition(
    name: String,
    request: ScheduleRequest,
) -> Result<ScheduleDefinition, ApiError> {
    let spec = spec(&request)?;
    Ok(ScheduleDefinition {
        name,
        spec,
        job: ScheduleJob {
            task: request.task,
            queue: request.queue.unwrap_or_else(|| DEFAULT_QUEUE.to_owned()),
            priority: request.priority.unwrap_or(limits::DEFAULT_PRIORITY),
            args: request.args.unwrap_or_else(Json::empty_array),
            kwargs: request.kwargs.unwrap_or_else(Json::empty_object),
            max_attempts: request.max_attempts.unwrap_or(limits::DEFAULT_MAX_ATTEMPTS),
            backoff: request.backoff.unwrap_or_default(),
            timeout: request.timeout_ms.map(Duration::from_millis),
            expires: expires(request.expires_ms)?,
            concurrency_key: request.concurrency_key,
            concurrency_limit: request.concurrency_limit.unwrap_or(1),
            metadata: request.metadata,
        },
        misfire: request.misfire.unwrap_or_default(),
        grace: request
            .grace_ms
            .map_or(DEFAULT_GRACE, Duration::from_millis),
        overlap: request.overlap.unwrap_or_default(),
    })
}

fn expires(expires_ms: Option<u64>) -> Result<Option<Duration>, ApiError> {
    match expires_ms {
        Some(0) => Err(
            ApiError::invalid("expires_ms must be at least 1".to_owned()).with_field("expires_ms"),
        ),
        other => Ok(other.map(Duration::from_millis)),
    }
}

fn spec(request: &ScheduleRequest) -> Result<ScheduleSpec, ApiError> {
    let kinds = [
        request.cron.is_some(),
        request.every_ms.is_some(),
        request.at.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(ApiError::invalid(
            "give exactly one of `cron`, `every_ms` or `at`".to_owned(),
        ));
    }
    if request.timezone.is_some() && request.cron.is_none() {
        return Err(
            ApiError::invalid("`timezone` applies only to `cron`".to_owned())
                .with_field("timezone"),
        );
    }
    if request.anchor.is_some() && request.every_ms.is_none() {
        return Err(
            ApiError::invalid("`anchor` applies only to `every_ms`".to_owned())
                .with_field("anchor"),
        );
    }
    let spec = match (&request.cron, request.every_ms, request.at) {
        (Some(cron), _, _) => {
            ScheduleSpec::parse_cron(cron, request.timezone.as_deref().unwrap_or("UTC"))
        }
        (_, Some(every_ms), _) => ScheduleSpec::every(
            Duration::from_millis(every_ms),
            request.anchor.unwrap_or(Timestamp::UNIX_EPOCH),
        ),
        (_, _, Some(at)) => Ok(ScheduleSpec::At { at }),
        (None, None, None) => unreachable_kind(),
    };
    spec.map_err(|err| schedule_invalid(&err).into())
}

/// Checked above: exactly one kind is given.
fn unreachable_kind() -> Result<ScheduleSpec, workhorse_core::ScheduleError> {
    Err(workhorse_core::ScheduleError::FieldCount(0))
}

/// A stored schedule as the API shows it (without next fires and history).
pub(crate) fn view(schedule: Schedule) -> ScheduleView {
    let def = schedule.definition;
    let mut request = ScheduleRequest {
        task: def.job.task,
        queue: Some(def.job.queue),
        args: Some(def.job.args),
        kwargs: Some(def.job.kwargs),
        priority: Some(def.job.priority),
        max_attempts: Some(def.job.max_attempts),
        timeout_ms: def.job.timeout.map(|t| t.as_millis() as u64),
        backoff: Some(def.job.backoff),
        expires_ms: def.job.expires.map(|t| t.as_millis() as u64),
        concurrency_key: def.job.concurrency_key,
        concurrency_limit: Some(def.job.concurrency_limit),
        metadata: def.job.metadata,
        misfire: Some(def.misfire),
        grace_ms: Some(def.grace.as_millis() as u64),
        overlap: Some(def.overlap),
        ..ScheduleRequest::default()
    };
    match def.spec {
        ScheduleSpec::Cron { expr, timezone } => {
            request.cron = Some(expr.as_str().to_owned());
            request.timezone = Some(timezone.name().to_owned());
        }
        ScheduleSpec::Every { interval, anchor } => {
            request.every_ms = Some(interval.as_millis() as u64);
            request.anchor = Some(anchor);
        }
        ScheduleSpec::At { at } => request.at = Some(at),
    }
    ScheduleView {
        name: def.name,
        owner: schedule.owner,
        definition: request,
        paused: schedule.paused,
        next_fire_at: schedule.next_fire_at,
        last_fire_at: schedule.last_fire_at,
        last_job: schedule.last_job,
        created_at: schedule.created_at,
        updated_at: schedule.updated_at,
        next_fires: Vec::new(),
        history: Vec::new(),
    }
}

/// What a declaration of one schedule answers.
pub(crate) fn upsert_response(upserted: ScheduleUpserted) -> ScheduleUpsertResponse {
    ScheduleUpsertResponse {
        created: upserted.created,
        changed: upserted.changed,
        schedule: view(upserted.schedule),
    }
}

/// A fire as the API shows it.
pub(crate) fn fire_view(fire: Fire) -> FireView {
    let (job_id, skipped) = match fire.outcome {
        FireOutcome::Job(id) => (Some(id), None),
        FireOutcome::Skipped(why) => (None, Some(why)),
    };
    FireView {
        fire_at: fire.fire_at,
        job_id,
        skipped,
        triggered: fire.triggered,
    }
}
