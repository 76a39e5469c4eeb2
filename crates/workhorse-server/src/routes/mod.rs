//! The HTTP routes under `/v1`, plus health, metrics and the `OpenAPI` document. Who may
//! call each route is decided in one table: `crate::auth::required_role`.

pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod queues;
mod schedule_view;
pub(crate) mod schedules;
pub(crate) mod worker;
pub(crate) mod workflows;

use crate::AppState;
use axum::Router;
use axum::routing::{get, patch, post, put};

/// Every route but the WebSocket.
pub(crate) fn api() -> Router<AppState> {
    Router::new()
        .route("/v1/jobs", post(jobs::enqueue).get(jobs::list))
        .route("/v1/jobs/batch", post(jobs::enqueue_batch))
        .route("/v1/jobs/redrive", post(jobs::redrive))
        .route("/v1/jobs/cancel", post(jobs::cancel_many))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route("/v1/jobs/{id}/result", get(jobs::result))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/v1/jobs/{id}/retry", post(jobs::retry))
        .route("/v1/jobs/{id}/heartbeat", post(worker::heartbeat))
        .route("/v1/jobs/{id}/complete", post(worker::complete))
        .route("/v1/jobs/{id}/fail", post(worker::fail))
        .route("/v1/fetch", post(worker::fetch))
        .route("/v1/ack", post(worker::ack))
        .route("/v1/queues", get(queues::list))
        .route("/v1/queues/{name}", patch(queues::update))
        .route("/v1/schedules", get(schedules::list))
        .route(
            "/v1/schedules/{name}",
            put(schedules::upsert)
                .get(schedules::get)
                .delete(schedules::delete),
        )
        .route("/v1/schedules/{name}/pause", post(schedules::pause))
        .route("/v1/schedules/{name}/resume", post(schedules::resume))
        .route("/v1/schedules/{name}/trigger", post(schedules::trigger))
        .route("/v1/schedule-sets/{owner}", put(schedules::declare_set))
        .route("/v1/workflows", post(workflows::enqueue))
        .route("/v1/workflows/{id}", get(workflows::get))
        .route("/v1/workflows/{id}/cancel", post(workflows::cancel))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(health::openapi))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/v1/events", get(crate::events::events))
}
