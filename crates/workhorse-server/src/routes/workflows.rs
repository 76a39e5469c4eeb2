//! Workflow routes: enqueue a tree of jobs at once, read it back, cancel it.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, WorkflowIdPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use workhorse_core::{JobId, JobState, Json as RawJson, ResultPassing};
use workhorse_engine::{WORKFLOW_FIELD, Workflow};
use workhorse_protocol::{Problem, WorkflowJobView, WorkflowRequest, WorkflowState, WorkflowView};

/// Enqueue a workflow (chains, groups, chords, nested) atomically: every job, or none.
#[utoipa::path(post, path = "/v1/workflows", tag = "workflows", request_body = WorkflowRequest,
    responses(
        (status = 201, description = "Enqueued (durable when answered): the workflow and every job", body = WorkflowView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid step, empty chain or group, or over 10,000 jobs; `field` is the step's path (`workflow.chain[1].job.priority`); nothing was enqueued", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn enqueue(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<WorkflowRequest>,
) -> Result<(StatusCode, Json<WorkflowView>), ApiError> {
    let shape = RawJson::from_value(&request.workflow)
        .map_err(|e| ApiError::internal(format!("re-encoding the workflow: {e}")))?;
    let tree = request
        .workflow
        .into_step(state.engine.now(), WORKFLOW_FIELD)
        .map_err(|e| ApiError::invalid(e.message).with_field(e.field))?;
    let workflow = state
        .engine
        .enqueue_workflow(tree, shape, request.on_parent_failure)
        .await?;
    Ok((StatusCode::CREATED, Json(view(workflow))))
}

/// A workflow: every job's state, the jobs each waits for, and the result once it succeeded.
#[utoipa::path(get, path = "/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id (UUID)")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowView),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    State(state): State<AppState>,
    WorkflowIdPath(id): WorkflowIdPath,
) -> Result<Json<WorkflowView>, ApiError> {
    Ok(Json(view(state.engine.workflow(id).await?)))
}

/// Cancel every unfinished job of a workflow: waiting ones at once, running ones on their
/// next heartbeat.
#[utoipa::path(post, path = "/v1/workflows/{id}/cancel", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id (UUID)")),
    responses(
        (status = 200, description = "The workflow after the cancel", body = WorkflowView),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    WorkflowIdPath(id): WorkflowIdPath,
) -> Result<Json<WorkflowView>, ApiError> {
    Ok(Json(view(state.engine.cancel_workflow(id).await?)))
}

/// The API's view of a workflow: its state taken together, and its result once it
/// succeeded.
fn view(workflow: Workflow) -> WorkflowView {
    let state = if !workflow.is_finished() {
        WorkflowState::Running
    } else if workflow
        .jobs
        .iter()
        .all(|m| m.job.state == JobState::Succeeded)
    {
        WorkflowState::Succeeded
    } else {
        WorkflowState::Failed
    };
    let result = if state == WorkflowState::Succeeded {
        result_of(&workflow)
    } else {
        None
    };
    WorkflowView {
        id: workflow.id,
        state,
        created_at: workflow.created_at,
        on_parent_failure: workflow.on_parent_failure,
        result,
        outputs: workflow.outputs,
        output: workflow.output,
        jobs: workflow
            .jobs
            .into_iter()
            .map(|m| WorkflowJobView {
                job: m.job.into(),
                parents: m.parents,
            })
            .collect(),
        shape: workflow.shape,
    }
}

/// The outputs' results: one job's result, or the list of them.
fn result_of(workflow: &Workflow) -> Option<RawJson> {
    let result = |id: &JobId| {
        workflow
            .member(*id)
            .and_then(|m| m.job.result.as_ref())
            .map_or("null", RawJson::get)
    };
    let text = match workflow.output {
        ResultPassing::One => result(workflow.outputs.first()?).to_owned(),
        ResultPassing::List => {
            let items: Vec<&str> = workflow.outputs.iter().map(result).collect();
            format!("[{}]", items.join(","))
        }
    };
    RawJson::from_raw(&text).ok()
}
