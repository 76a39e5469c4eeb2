//! Queue routes: list with counts, and change controls (pause, max running, rate limit).

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use workhorse_engine::{QueueInfo, QueueUpdateParams};
use workhorse_protocol::{Problem, QueueListResponse, QueuePatch, QueueView};

/// Every known queue, its controls and its job counts by state.
#[utoipa::path(get, path = "/v1/queues", tag = "queues",
    responses((status = 200, body = QueueListResponse)))]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<QueueListResponse>, ApiError> {
    let queues = state.engine.queues().await?;
    Ok(Json(QueueListResponse {
        queues: queues.into_iter().map(view).collect(),
    }))
}

/// Change a queue's controls (creating the queue if needed). Absent fields stay; `null`
/// removes a limit.
#[utoipa::path(patch, path = "/v1/queues/{name}", tag = "queues", request_body = QueuePatch,
    params(("name" = String, Path, description = "Queue name")),
    responses(
        (status = 200, description = "The queue after the change", body = QueueView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad queue name or control", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<QueuePatch>,
) -> Result<Json<QueueView>, ApiError> {
    let params = QueueUpdateParams {
        name,
        paused: patch.paused,
        max_running: patch.max_running,
        rate_limit: patch.rate_limit,
    };
    Ok(Json(view(state.engine.queue_update(params).await?)))
}

fn view(info: QueueInfo) -> QueueView {
    QueueView {
        name: info.config.name,
        paused: info.config.paused,
        max_running: info.config.max_running,
        rate_limit: info.config.rate_limit,
        counts: info
            .counts
            .into_iter()
            .map(|(state, count)| (state.as_str().to_owned(), count))
            .collect(),
        oldest_ready_at: info.oldest_ready_at,
    }
}
