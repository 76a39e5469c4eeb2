//! Health, readiness, the `OpenAPI` document, and the answers for unknown routes.

use crate::error::ApiError;
use crate::{ApiDoc, AppState};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::OnceLock;
use utoipa::OpenApi;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The store answers: the server can take work.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`"),
        (status = 503, description = "The store does not answer", body = workhorse_protocol::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .engine
        .ping()
        .await
        .map_err(|err| ApiError::unavailable(err.to_string()))?;
    Ok(Json(json!({ "status": "ready" })))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "The `OpenAPI` 3.1 document of this API")))]
pub(crate) async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    Json(DOC.get_or_init(ApiDoc::openapi))
}

pub(crate) async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {}", uri.path()))
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
