//! Producer routes: enqueue, read, list, wait for a result, cancel (one or by filter),
//! retry, redrive.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, JobIdPath};
use crate::trace_context::TraceContext;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use std::time::Duration;
use workhorse_core::{JobId, JobState, limits};
use workhorse_engine::{CancelFilter, EngineError, JobListParams, RedriveSelector};
use workhorse_protocol::{
    BatchEnqueueRequest, BatchEnqueueResponse, CancelManyRequest, CancelManyResponse,
    EnqueueRequest, JobListQuery, JobListResponse, JobView, Problem, RedriveRequest,
    RedriveResponse, ResultQuery,
};

/// How long `GET /v1/jobs/{id}/result` waits when `timeout_ms` is not given.
const DEFAULT_RESULT_WAIT_MS: u64 = 30_000;
/// Page size when `limit` is not given.
const DEFAULT_PAGE: u32 = 50;

type Answer<T> = Result<(StatusCode, Json<T>), ApiError>;

/// Enqueue one job.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", request_body = EnqueueRequest,
    responses(
        (status = 201, description = "Enqueued (durable when answered)", body = JobView),
        (status = 200, description = "A job holding the same `key` exists: that job", body = JobView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown field or invalid value", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn enqueue(
    State(state): State<AppState>,
    trace: TraceContext,
    ApiJson(mut request): ApiJson<EnqueueRequest>,
) -> Answer<JobView> {
    request.metadata = trace.attach(request.metadata.take())?;
    let job = request.into_new_job(state.engine.now())?;
    let inserted = state.engine.enqueue(vec![job]).await?;
    let Some(first) = inserted.into_iter().next() else {
        return Err(ApiError::internal(
            "the store returned no job for an insert",
        ));
    };
    tracing::debug!(job_id = %first.job.id, task = %first.job.task, created = first.created, "job enqueued");
    let status = if first.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(first.job.into())))
}

/// Enqueue up to 10,000 jobs atomically: all or none.
#[utoipa::path(post, path = "/v1/jobs/batch", tag = "jobs", request_body = BatchEnqueueRequest,
    responses(
        (status = 201, description = "All enqueued, in request order (an existing job where a key matched)", body = BatchEnqueueResponse),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 10,000 jobs, or body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A job is invalid; `field` says which (`jobs[i].field`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn enqueue_batch(
    State(state): State<AppState>,
    trace: TraceContext,
    ApiJson(request): ApiJson<BatchEnqueueRequest>,
) -> Answer<BatchEnqueueResponse> {
    if request.jobs.len() > limits::MAX_BATCH {
        return Err(EngineError::TooMany {
            what: "the batch",
            size: request.jobs.len(),
            limit: limits::MAX_BATCH,
        }
        .into());
    }
    let now = state.engine.now();
    let mut jobs = Vec::with_capacity(request.jobs.len());
    for (i, mut job) in request.jobs.into_iter().enumerate() {
        job.metadata = trace.attach(job.metadata.take())?;
        let job = job.into_new_job(now).map_err(|err| {
            let field = format!("jobs[{i}].{}", err.field);
            ApiError::invalid(format!("{field}: {}", err.message)).with_field(field)
        })?;
        jobs.push(job);
    }
    let inserted = state.engine.enqueue(jobs).await?;
    tracing::debug!(count = inserted.len(), "batch enqueued");
    let jobs = inserted.into_iter().map(|i| i.job.into()).collect();
    Ok((StatusCode::CREATED, Json(BatchEnqueueResponse { jobs })))
}

/// One job.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.engine.get(id).await?.into()))
}

/// Long-poll for a job's outcome: waits up to `timeout_ms` (default 30,000, at most
/// 60,000) for the job to finish. `200` with the job once it is terminal (`succeeded`,
/// `dead`, `cancelled`, `expired`); `202` with the job as it is when the wait ran out first.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", tag = "jobs",
    params(("id" = String, Path, description = "Job id (UUID)"), ResultQuery),
    responses(
        (status = 200, description = "The job finished", body = JobView),
        (status = 202, description = "Not finished when the wait ran out: the job as it is", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "timeout_ms over 60,000", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn result(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    ApiQuery(query): ApiQuery<ResultQuery>,
) -> Answer<JobView> {
    let timeout = Duration::from_millis(query.timeout_ms.unwrap_or(DEFAULT_RESULT_WAIT_MS));
    let job = tokio::select! {
        job = state.engine.wait_finished(id, timeout) => job?,
        () = state.shutdown.cancelled() => state.engine.get(id).await?,
    };
    let status = if job.state.is_terminal() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(job.into())))
}

/// Jobs matching the filters, newest first; pass `next_cursor` as `cursor` for the next page.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(JobListQuery),
    responses(
        (status = 200, body = JobListResponse),
        (status = 422, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<JobListQuery>,
) -> Result<Json<JobListResponse>, ApiError> {
    let params = JobListParams {
        queue: query.queue,
        state: query.state.as_deref().map(parse_state).transpose()?,
        task: query.task,
        key: query.key,
        limit: query.limit.unwrap_or(DEFAULT_PAGE),
        cursor: query.cursor.as_deref().map(parse_cursor).transpose()?,
    };
    let page = state.engine.list(params).await?;
    Ok(Json(JobListResponse {
        jobs: page.jobs.into_iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

fn parse_state(raw: &str) -> Result<JobState, ApiError> {
    raw.parse()
        .map_err(|err: workhorse_core::state::UnknownState| {
            ApiError::invalid(err.to_string()).with_field("state")
        })
}

fn parse_cursor(raw: &str) -> Result<JobId, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::invalid(format!("cursor {raw:?} is not a job id")).with_field("cursor")
    })
}

/// Cancel a job: a waiting one at once; a running one is told on its next heartbeat. A
/// finished job comes back unchanged.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job after the cancel", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.engine.cancel(id).await?.into()))
}

/// Cancel the unfinished jobs a filter matches (`queue`, `task`, `state`: one of
/// `scheduled`, `ready`, `waiting`, `running`, default all four), at most `limit` (default
/// and maximum 10,000) in one transaction: all or nothing. Waiting jobs are cancelled at
/// once, running ones are told on their next heartbeat; `more` says to call again. A
/// filter naming neither queue nor task is refused unless `all` is true.
#[utoipa::path(post, path = "/v1/jobs/cancel", tag = "jobs", request_body = CancelManyRequest,
    responses(
        (status = 200, description = "What the cancel did", body = CancelManyResponse),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad filter (a finished state, a limit out of range, no queue or task without `all`, an unknown field)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_many(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CancelManyRequest>,
) -> Result<Json<CancelManyResponse>, ApiError> {
    let filter = CancelFilter {
        queue: request.queue,
        task: request.task,
        state: request.state,
        all: request.all,
        limit: request.limit.unwrap_or(limits::MAX_CANCEL_BATCH as u32),
    };
    let outcome = state.engine.cancel_many(filter).await?;
    Ok(Json(CancelManyResponse {
        cancelled: outcome.cancelled.len(),
        cancel_requested: outcome.cancel_requested.len(),
        more: outcome.more,
    }))
}

/// Run a dead, cancelled or expired job again with a fresh set of attempts (errors kept).
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "jobs",
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job, ready again", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is not dead, cancelled or expired", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobView>, ApiError> {
    let job = state.engine.retry(id).await?;
    tracing::info!(job_id = %id, "job retried");
    Ok(Json(job.into()))
}

/// Run dead (or cancelled, expired) jobs again: by `ids`, or by filter (`queue`, `task`,
/// `state`, default `dead`; at most `limit`, default and maximum 10,000).
#[utoipa::path(post, path = "/v1/jobs/redrive", tag = "jobs", request_body = RedriveRequest,
    responses(
        (status = 200, description = "The redriven jobs", body = RedriveResponse),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn redrive(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RedriveRequest>,
) -> Result<Json<RedriveResponse>, ApiError> {
    let jobs = state.engine.redrive(selector(request)?).await?;
    Ok(Json(RedriveResponse {
        count: jobs.len(),
        jobs: jobs.into_iter().map(JobView::from).collect(),
    }))
}

fn selector(request: RedriveRequest) -> Result<RedriveSelector, ApiError> {
    let has_filter = request.queue.is_some() || request.task.is_some() || request.state.is_some();
    match request.ids {
        Some(_) if has_filter || request.limit.is_some() => Err(ApiError::invalid(
            "give either ids or a filter (queue, task, state, limit), not both",
        )
        .with_field("ids")),
        Some(ids) => Ok(RedriveSelector::Ids(ids)),
        None => Ok(RedriveSelector::Filter {
            queue: request.queue,
            task: request.task,
            state: Some(request.state.unwrap_or(JobState::Dead)),
            limit: request.limit.unwrap_or(limits::MAX_BATCH as u32),
        }),
    }
}
