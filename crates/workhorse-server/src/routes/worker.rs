//! Worker routes over plain HTTP: fetch (long-poll), heartbeat, complete, fail, ack.
//! Leases of HTTP workers end by expiry (the rescuer) when they stop heartbeating.

use crate::AppState;
use crate::acks;
use crate::error::ApiError;
use crate::extract::{ApiJson, JobIdPath};
use axum::Json;
use axum::extract::State;
use std::time::Duration;
use workhorse_engine::FetchSpec;
use workhorse_protocol::{
    AckRequest, AckResponse, CompleteRequest, FailRequest, FetchRequest, FetchResponse, FetchedJob,
    HeartbeatRequest, HeartbeatResponse, JobView, Problem,
};

/// Lease up to `max` ready jobs of `queues`, waiting up to `wait_ms` (long-poll) when none
/// is ready. The wait ends the moment a job becomes ready.
#[utoipa::path(post, path = "/v1/fetch", tag = "workers", request_body = FetchRequest,
    responses(
        (status = 200, description = "The leased jobs (none if the wait ran out)", body = FetchResponse),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad queue name, max or wait_ms", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<FetchRequest>,
) -> Result<Json<FetchResponse>, ApiError> {
    let spec = FetchSpec {
        worker: request.worker,
        queues: request.queues,
        max: request.max,
        wait: Duration::from_millis(request.wait_ms),
    };
    let jobs = tokio::select! {
        jobs = state.engine.fetch(spec) => jobs?,
        () = state.shutdown.cancelled() => Vec::new(),
    };
    for job in &jobs {
        tracing::debug!(job_id = %job.id, attempt = job.attempt, "job leased over HTTP");
    }
    let jobs = jobs.into_iter().filter_map(FetchedJob::from_job).collect();
    Ok(Json(FetchResponse { jobs }))
}

/// Extend a lease and report progress. `cancel_requested: true` tells the worker to stop.
#[utoipa::path(post, path = "/v1/jobs/{id}/heartbeat", tag = "workers", request_body = HeartbeatRequest,
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, body = HeartbeatResponse),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease is lost: stop the job", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    ApiJson(request): ApiJson<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let outcome = state
        .engine
        .heartbeat(id, request.lease_id, request.progress)
        .await?;
    Ok(Json(HeartbeatResponse {
        lease_expires_at: outcome.lease_expires_at,
        cancel_requested: outcome.cancel_requested,
    }))
}

/// Complete a leased job with its result (durable when answered).
#[utoipa::path(post, path = "/v1/jobs/{id}/complete", tag = "workers", request_body = CompleteRequest,
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job, succeeded", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale lease_id: nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn complete(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    ApiJson(request): ApiJson<CompleteRequest>,
) -> Result<Json<JobView>, ApiError> {
    let ack = acks::complete(id, request.lease_id, request.result);
    Ok(Json(state.engine.ack(ack).await?.into()))
}

/// Fail a leased job's attempt: retried after the backoff (or `retry_in_ms`) while attempts
/// are left, dead-lettered otherwise or when `retryable` is false.
#[utoipa::path(post, path = "/v1/jobs/{id}/fail", tag = "workers", request_body = FailRequest,
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job after the failure", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale lease_id: nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn fail(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    ApiJson(request): ApiJson<FailRequest>,
) -> Result<Json<JobView>, ApiError> {
    let FailRequest {
        lease_id,
        error,
        retry_in_ms,
        retryable,
    } = request;
    let ack = acks::fail(id, lease_id, error, retry_in_ms, retryable);
    Ok(Json(state.engine.ack(ack).await?.into()))
}

/// Many completions and failures at once, each settled on its own (one durable commit).
#[utoipa::path(post, path = "/v1/ack", tag = "workers", request_body = AckRequest,
    responses(
        (status = 200, description = "One result per ack, in request order", body = AckResponse),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 10,000 acks", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ack(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AckRequest>,
) -> Result<Json<AckResponse>, ApiError> {
    let results = acks::settle(&state.engine, request.acks).await?;
    Ok(Json(AckResponse { results }))
}
