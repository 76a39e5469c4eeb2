//! Worker routes over plain HTTP: fetch (long-poll), heartbeat, complete, fail, ack.
//! Leases of HTTP workers end by expiry (the rescuer) when they stop heartbeating.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, JobIdPath};
use axum::Json;
use axum::extract::State;
use std::time::Duration;
use workhorse_core::JobId;
use workhorse_engine::{Ack, AckKind, AckOutcome, AckRefusal};
use workhorse_engine::{Engine, EngineError, FetchSpec};
use workhorse_protocol::{
    AckItem, AckOutcomeView, AckRequest, AckResponse, AckResult, CompleteRequest, FailRequest,
    FetchRequest, FetchResponse, FetchedJob, HeartbeatRequest, HeartbeatResponse, JobView, Problem,
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
    let ack = Ack {
        id,
        lease_id: request.lease_id,
        kind: AckKind::Complete {
            result: request.result,
        },
    };
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
    let ack = Ack {
        id,
        lease_id: request.lease_id,
        kind: AckKind::Fail(request.report()),
    };
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
    let results = ack_items(&state.engine, request.acks).await?;
    Ok(Json(AckResponse { results }))
}

/// Settles acks in one engine call; shared with the WebSocket session.
pub(crate) async fn ack_items(
    engine: &Engine,
    items: Vec<AckItem>,
) -> Result<Vec<AckResult>, EngineError> {
    let ids: Vec<JobId> = items.iter().map(AckItem::id).collect();
    let acks = items.into_iter().map(to_ack).collect();
    let outcomes = engine.ack_many(acks).await?;
    Ok(ids.into_iter().zip(outcomes).map(ack_result).collect())
}

fn to_ack(item: AckItem) -> Ack {
    match item {
        AckItem::Complete {
            id,
            lease_id,
            result,
        } => Ack {
            id,
            lease_id,
            kind: AckKind::Complete { result },
        },
        AckItem::Fail {
            id,
            lease_id,
            error,
            retry_in_ms,
            retryable,
        } => {
            let request = FailRequest {
                lease_id,
                error,
                retry_in_ms,
                retryable,
            };
            Ack {
                id,
                lease_id,
                kind: AckKind::Fail(request.report()),
            }
        }
    }
}

fn ack_result((id, outcome): (JobId, AckOutcome)) -> AckResult {
    let (outcome, state) = match outcome {
        AckOutcome::Applied(job) => (AckOutcomeView::Applied, Some(job.state)),
        AckOutcome::Refused(AckRefusal::UnknownJob) => (AckOutcomeView::UnknownJob, None),
        AckOutcome::Refused(AckRefusal::LeaseLost) => (AckOutcomeView::LeaseLost, None),
    };
    AckResult { id, outcome, state }
}
