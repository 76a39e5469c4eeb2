//! Workflows: enqueue a whole tree of jobs at once, read it back, cancel it. (The jobs a
//! finished workflow job unblocks or cancels come back from the store call that finished
//! it; the engine announces them from there, without reading the store again.)

use crate::{Engine, EngineError};
use workhorse_core::workflow::compile;
use workhorse_core::{Job, JobState, Json, OnParentFailure, Step, WorkflowId};
use workhorse_store::{Workflow, WorkflowCancelParams, WorkflowInsertParams};

/// How the HTTP API names the workflow tree in error paths.
pub const WORKFLOW_FIELD: &str = "workflow";

impl Engine {
    /// Enqueues a workflow atomically: every job and edge, or nothing. `shape` is the tree
    /// as the producer sent it, kept for display. Durable when answered.
    pub async fn enqueue_workflow(
        &self,
        tree: Step,
        shape: Json,
        on_parent_failure: OnParentFailure,
    ) -> Result<Workflow, EngineError> {
        let compiled = compile(tree, WORKFLOW_FIELD)?;
        let params = WorkflowInsertParams {
            now: self.now(),
            id: WorkflowId::new(),
            on_parent_failure,
            shape,
            compiled,
        };
        let workflow = self.write(self.inner.store.workflow_insert(params)).await?;
        for member in &workflow.jobs {
            self.inner.metrics.enqueued(&member.job);
        }
        tracing::info!(workflow_id = %workflow.id, jobs = workflow.jobs.len(), "workflow enqueued");
        self.observe(workflow.jobs.iter().map(|m| &m.job));
        Ok(workflow)
    }

    /// One workflow with every job's state and edges.
    pub async fn workflow(&self, id: WorkflowId) -> Result<Workflow, EngineError> {
        self.inner
            .store
            .workflow_get(id)
            .await?
            .ok_or(EngineError::UnknownWorkflow(id))
    }

    /// Cancels every unfinished job of a workflow: waiting ones at once, running ones on
    /// their workers' next heartbeat.
    pub async fn cancel_workflow(&self, id: WorkflowId) -> Result<Workflow, EngineError> {
        let now = self.now();
        let params = WorkflowCancelParams { now, id };
        let workflow = self
            .write(self.inner.store.workflow_cancel(params))
            .await?
            .ok_or(EngineError::UnknownWorkflow(id))?;
        let cancelled: Vec<&Job> = workflow
            .jobs
            .iter()
            .map(|m| &m.job)
            .filter(|job| job.state == JobState::Cancelled && job.finished_at == Some(now))
            .collect();
        for job in &cancelled {
            self.inner.metrics.cancelled(job);
        }
        tracing::info!(workflow_id = %id, cancelled = cancelled.len(), "workflow cancel");
        self.observe(cancelled);
        Ok(workflow)
    }
}
