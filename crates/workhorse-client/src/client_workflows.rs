//! Workflows over HTTP: enqueue a chain, group or chord (nested as deep as needed) in one
//! call, read it back, wait for it, cancel it; and [`Workflow`], the builder of the tree.

use crate::client::{CallOptions, Client};
use crate::error::ClientError;
use reqwest::Method;
use std::time::Duration;
use workhorse_core::{OnParentFailure, WorkflowId};
use workhorse_protocol::{
    ChordStep, EnqueueRequest, WorkflowRequest, WorkflowState, WorkflowStep, WorkflowView,
};

/// The empty JSON object sent as the body of action endpoints.
#[derive(serde::Serialize)]
struct Empty {}

/// How often [`Client::wait_for_workflow`] reads the workflow again.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// A workflow tree, built from jobs with [`Workflow::chain`], [`Workflow::group`] and
/// [`Workflow::chord`]:
///
/// ```
/// use workhorse_client::Workflow;
/// use workhorse_protocol::EnqueueRequest;
///
/// let job = |task: &str| Workflow::job(EnqueueRequest::new(task));
/// // Resize two images side by side, then notify with both results.
/// let flow = Workflow::chord([job("images.resize"), job("images.resize")], job("notify"));
/// ```
///
/// A job after another receives that job's result before its own args; a job after a group
/// (a chord's callback) receives the list of the group's results, in group order. A job
/// built with [`Workflow::immutable`] receives nothing.
#[derive(Debug, Clone)]
pub struct Workflow {
    step: WorkflowStep,
    on_parent_failure: OnParentFailure,
}

impl Workflow {
    fn of(step: WorkflowStep) -> Self {
        Workflow {
            step,
            on_parent_failure: OnParentFailure::Cancel,
        }
    }

    /// One job that receives its parents' results.
    pub fn job(request: EnqueueRequest) -> Self {
        Self::of(WorkflowStep::Job(request))
    }

    /// One job that ignores its parents' results (Celery's `.si()`).
    pub fn immutable(request: EnqueueRequest) -> Self {
        Self::of(WorkflowStep::Immutable(request))
    }

    /// Steps one after another.
    pub fn chain(steps: impl IntoIterator<Item = Workflow>) -> Self {
        Self::of(WorkflowStep::Chain(
            steps.into_iter().map(|w| w.step).collect(),
        ))
    }

    /// Steps side by side; the result is the list of their results.
    pub fn group(members: impl IntoIterator<Item = Workflow>) -> Self {
        Self::of(WorkflowStep::Group(
            members.into_iter().map(|w| w.step).collect(),
        ))
    }

    /// A group, then `callback`, which receives the list of the group's results.
    pub fn chord(group: impl IntoIterator<Item = Workflow>, callback: Workflow) -> Self {
        Self::of(WorkflowStep::Chord(ChordStep {
            group: group.into_iter().map(|w| w.step).collect(),
            callback: Box::new(callback.step),
        }))
    }

    /// Jobs waiting on a job that ends dead, cancelled or expired run anyway, receiving
    /// `null` for its result (the default cancels them).
    #[must_use]
    pub fn run_anyway(mut self) -> Self {
        self.on_parent_failure = OnParentFailure::RunAnyway;
        self
    }

    /// The request body this workflow is sent as.
    pub fn into_request(self) -> WorkflowRequest {
        WorkflowRequest {
            workflow: self.step,
            on_parent_failure: self.on_parent_failure,
        }
    }
}

impl From<Workflow> for WorkflowRequest {
    fn from(workflow: Workflow) -> Self {
        workflow.into_request()
    }
}

impl Client {
    /// `POST /v1/workflows`: enqueues every job of the workflow atomically; the workflow
    /// with every job.
    pub async fn enqueue_workflow(
        &self,
        workflow: impl Into<WorkflowRequest>,
    ) -> Result<WorkflowView, ClientError> {
        let request = workflow.into();
        Ok(self
            .call(Method::POST, "/v1/workflows", Some(&request))
            .await?
            .body)
    }

    /// `GET /v1/workflows/{id}`: every job's state and edges; the result once it succeeded.
    pub async fn workflow(&self, id: WorkflowId) -> Result<WorkflowView, ClientError> {
        let path = format!("/v1/workflows/{id}");
        Ok(self.call::<Empty, _>(Method::GET, &path, None).await?.body)
    }

    /// `POST /v1/workflows/{id}/cancel`: cancels every unfinished job.
    pub async fn cancel_workflow(&self, id: WorkflowId) -> Result<WorkflowView, ClientError> {
        let path = format!("/v1/workflows/{id}/cancel");
        let repeatable = CallOptions::repeatable();
        Ok(self
            .call_with(Method::POST, &path, Some(&Empty {}), repeatable)
            .await?
            .body)
    }

    /// Reads the workflow until every job finished or `timeout` passed; the workflow as it
    /// is then (check its `state`).
    pub async fn wait_for_workflow(
        &self,
        id: WorkflowId,
        timeout: Duration,
    ) -> Result<WorkflowView, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let workflow = self.workflow(id).await?;
            if workflow.state != WorkflowState::Running || tokio::time::Instant::now() >= deadline {
                return Ok(workflow);
            }
            tokio::time::sleep(WAIT_POLL.min(deadline - tokio::time::Instant::now())).await;
        }
    }
}
