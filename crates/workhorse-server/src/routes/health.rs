//! Health, readiness, the `OpenAPI` document, and the answers for unknown routes.

use crate::error::ApiError;
use crate::{ApiDoc, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;
use utoipa::OpenApi;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Longest `/readyz` waits for the store to answer: probes have short timeouts, and a
/// database that takes longer than this is as good as unreachable for taking work.
const READY_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether this node can take work: the store answers within a second. Also says whether
/// this node leads (runs the leader-only services) and on which store it runs.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`{\"ready\": true, \"status\": \"ready\", \"leader\": bool, \"store\": \"sqlite\" | \"postgres\"}`"),
        (status = 503, description = "The store does not answer: `{\"ready\": false, \"status\": \"unavailable\", \"leader\": bool, \"store\": …, \"detail\": \"why\"}`"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let engine = &state.engine;
    let problem = match tokio::time::timeout(READY_PING_TIMEOUT, engine.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(err.to_string()),
        Err(_) => Some(format!(
            "the store did not answer within {} ms",
            READY_PING_TIMEOUT.as_millis()
        )),
    };
    let mut body = json!({
        "ready": problem.is_none(),
        "status": if problem.is_none() { "ready" } else { "unavailable" },
        "leader": engine.is_leader(),
        "store": engine.store_name(),
    });
    let status = match problem {
        None => StatusCode::OK,
        Some(detail) => {
            body["detail"] = Value::String(detail);
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (status, Json(body))
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
