//! `GET /v1/workers/connect`: the WebSocket worker session; `GET /v1/workers`: who is
//! connected.

mod registry;
mod session;

pub(crate) use registry::WorkerRegistry;

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::{IntoResponse, Response};
use workhorse_protocol::WorkerListResponse;

/// The worker sessions connected to this server now: name, queues, credit, the jobs each
/// holds, and how long ago each sent a heartbeat. HTTP fetch clients hold no session and are
/// not listed; in a cluster each node lists its own sessions.
#[utoipa::path(get, path = "/v1/workers", tag = "workers",
    responses((status = 200, body = WorkerListResponse)))]
pub(crate) async fn list(State(state): State<AppState>) -> Json<WorkerListResponse> {
    Json(WorkerListResponse {
        workers: state.workers.list(state.engine.now()),
    })
}

/// Open a worker session. JSON text frames, tagged by `type`: the worker sends `hello`
/// (name, queues, credit) first and gets `welcome` (`worker_id`, `lease_ms`,
/// `heartbeat_ms`). Credit is how many jobs the worker may hold at once (`credit {n}` adds
/// n); the server pushes `jobs` the moment they are ready, as many as free slots allow; each
/// ack or release of a pushed job frees its slot. `heartbeat` → `heartbeat` results, `ack`
/// → `acked`, `release` → `released`. When the socket closes, the worker's running jobs
/// run again elsewhere at once (a `WorkerLost` error recorded). A message that breaks the
/// protocol gets `error` (problem details) and the session is closed. A step the store could
/// not serve for a moment gets `error` with `retryable: true` and the step `failed`: nothing
/// changed, the session and its jobs stay, and the worker sends the step again.
#[utoipa::path(get, path = "/v1/workers/connect", tag = "workers",
    responses(
        (status = 101, description = "Switching to the WebSocket session (ClientMessage / ServerMessage frames)"),
        (status = 400, description = "Not a WebSocket upgrade", body = workhorse_protocol::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => upgrade
            .max_message_size(state.config.max_body_bytes)
            .on_upgrade(move |socket| session::run(socket, state)),
        Err(rejection) => ApiError::bad_request(format!(
            "GET /v1/workers/connect opens a WebSocket session: {}",
            rejection.body_text()
        ))
        .into_response(),
    }
}
