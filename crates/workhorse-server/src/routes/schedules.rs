//! Schedule routes: declare (upsert), declare an owner's set, list, show with next fires and
//! history, delete, pause, resume, trigger.

use super::schedule_view::{definition, fire_view, upsert_response, view};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use workhorse_engine::{DEFAULT_HISTORY, SetSchedule, next_fires};
use workhorse_protocol::{
    FireView, Problem, ScheduleGetQuery, ScheduleListResponse, ScheduleRequest, ScheduleSetRequest,
    ScheduleSetResponse, ScheduleUpsertResponse, ScheduleView,
};

/// Next fire times a schedule detail lists by default, and at most.
const DEFAULT_NEXT: u32 = 5;
const MAX_NEXT: u32 = 100;

fn unknown(name: &str) -> ApiError {
    ApiError::not_found(format!("no schedule named {name:?}"))
}

/// Declare a schedule: created (201), updated, or unchanged when the same definition is
/// already stored (200, `changed: false`). A bad cron expression or time zone is refused
/// with a 422 naming the field, and nothing is stored.
#[utoipa::path(put, path = "/v1/schedules/{name}", tag = "schedules",
    request_body = ScheduleRequest,
    params(("name" = String, Path, description = "Schedule name")),
    responses(
        (status = 201, description = "Created", body = ScheduleUpsertResponse),
        (status = 200, description = "Updated, or unchanged", body = ScheduleUpsertResponse),
        (status = 422, description = "Bad cron, time zone or field", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn upsert(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> Result<(StatusCode, Json<ScheduleUpsertResponse>), ApiError> {
    let paused = request.paused;
    let def = definition(name, request)?;
    let upserted = state.engine.schedule_upsert(def, paused).await?;
    let status = if upserted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(upsert_response(upserted))))
}

/// Declare an app's whole set of schedules (workers do it at start, with their app's name as
/// the owner): in one transaction each is created, updated or left unchanged as by `PUT
/// /v1/schedules/{name}`, and the owner's schedules missing from the set are deleted.
/// Schedules made at run time and other owners' are never touched; a name one of them
/// holds refuses the whole set with a 409, changing nothing.
#[utoipa::path(put, path = "/v1/schedule-sets/{owner}", tag = "schedules",
    request_body = ScheduleSetRequest,
    params(("owner" = String, Path, description = "The declaring app's name")),
    responses(
        (status = 200, description = "The set is stored", body = ScheduleSetResponse),
        (status = 409, description = "A schedule of the set is held by another owner or made at run time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 1,000 schedules", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad cron, time zone or field", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn declare_set(
    State(state): State<AppState>,
    Path(owner): Path<String>,
    ApiJson(request): ApiJson<ScheduleSetRequest>,
) -> Result<Json<ScheduleSetResponse>, ApiError> {
    let mut schedules = Vec::with_capacity(request.schedules.len());
    for (name, one) in request.schedules {
        let paused = one.paused;
        let definition = definition(name, one)?;
        schedules.push(SetSchedule { definition, paused });
    }
    let (upserted, deleted) = state.engine.schedule_declare_set(owner, schedules).await?;
    Ok(Json(ScheduleSetResponse {
        schedules: upserted.into_iter().map(upsert_response).collect(),
        deleted,
    }))
}

/// Every schedule, by name.
#[utoipa::path(get, path = "/v1/schedules", tag = "schedules",
    responses((status = 200, body = ScheduleListResponse)))]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<ScheduleListResponse>, ApiError> {
    let schedules = state.engine.schedule_list().await?;
    Ok(Json(ScheduleListResponse {
        schedules: schedules.into_iter().map(view).collect(),
    }))
}

/// One schedule with its next fire times (`count`, default 5) and recent fires.
#[utoipa::path(get, path = "/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name"), ScheduleGetQuery),
    responses(
        (status = 200, body = ScheduleView),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ScheduleGetQuery>,
) -> Result<Json<ScheduleView>, ApiError> {
    let count = query.count.unwrap_or(DEFAULT_NEXT);
    if !(1..=MAX_NEXT).contains(&count) {
        return Err(ApiError::invalid(format!("count must be 1 to {MAX_NEXT}")).with_field("count"));
    }
    let schedule = state
        .engine
        .schedule_get(&name)
        .await?
        .ok_or_else(|| unknown(&name))?;
    let next = next_fires(&schedule, state.engine.now(), count as usize);
    let history = state
        .engine
        .schedule_history(&name, DEFAULT_HISTORY)
        .await?;
    let mut shown = view(schedule);
    shown.next_fires = next;
    shown.history = history.into_iter().map(fire_view).collect();
    Ok(Json(shown))
}

/// Delete a schedule and its history (the jobs it made stay); answers the schedule as it
/// was.
#[utoipa::path(delete, path = "/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses(
        (status = 200, description = "Deleted", body = ScheduleView),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let schedule = state.engine.schedule_get(&name).await?;
    let schedule = schedule.ok_or_else(|| unknown(&name))?;
    if !state.engine.schedule_delete(&name).await? {
        return Err(unknown(&name));
    }
    Ok(Json(view(schedule)))
}

async fn set_paused(state: &AppState, name: &str, paused: bool) -> Result<ScheduleView, ApiError> {
    let schedule = state.engine.schedule_set_paused(name, paused).await?;
    schedule.map(view).ok_or_else(|| unknown(name))
}

/// Pause a schedule: it stops firing until resumed.
#[utoipa::path(post, path = "/v1/schedules/{name}/pause", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses(
        (status = 200, body = ScheduleView),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json(set_paused(&state, &name, true).await?))
}

/// Resume a schedule; the fires it missed while paused follow its misfire policy.
#[utoipa::path(post, path = "/v1/schedules/{name}/resume", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses(
        (status = 200, body = ScheduleView),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json(set_paused(&state, &name, false).await?))
}

/// Fire a schedule now, by hand (paused or not): one job, keyed by the trigger time.
#[utoipa::path(post, path = "/v1/schedules/{name}/trigger", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses(
        (status = 201, description = "The fire and its job", body = FireView),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn trigger(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<FireView>), ApiError> {
    let fire = state.engine.schedule_trigger(&name).await?;
    let fire = fire.ok_or_else(|| unknown(&name))?;
    Ok((StatusCode::CREATED, Json(fire_view(fire))))
}
