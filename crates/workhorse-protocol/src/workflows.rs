//! Workflows on the wire: `POST /v1/workflows`, `GET /v1/workflows/{id}`,
//! `POST /v1/workflows/{id}/cancel`.
//!
//! A workflow is a tree of steps, each an object with one key naming its kind:
//!
//! ```json
//! {"workflow": {"chord": {
//!     "group": [{"job": {"task": "resize", "args": [1]}}, {"job": {"task": "resize", "args": [2]}}],
//!     "callback": {"job": {"task": "notify"}}}},
//!  "on_parent_failure": "cancel"}
//! ```

use crate::enqueue::EnqueueRequest;
use crate::jobs::JobView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workhorse_core::{
    InvalidWorkflow, JobId, Json, OnParentFailure, ResultPassing, Step, Timestamp, WorkflowId,
};

/// `POST /v1/workflows`: a tree of jobs, enqueued atomically.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRequest {
    pub workflow: WorkflowStep,
    /// What happens to the jobs waiting on a job that ends dead, cancelled or expired:
    /// `cancel` (default; transitively) or `run_anyway` (they run, receiving `null` for
    /// its result).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub on_parent_failure: OnParentFailure,
}

/// One step of a workflow: an object with exactly one key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStep {
    /// One job. It receives its parents' results before its own args: the result of a
    /// single parent job, or the list of a parent group's results, in group order.
    Job(EnqueueRequest),
    /// One job that receives nothing from its parents (Celery's immutable signature).
    Immutable(EnqueueRequest),
    /// Steps one after another.
    #[schema(no_recursion)]
    Chain(Vec<WorkflowStep>),
    /// Steps side by side; the result is the list of their results.
    #[schema(no_recursion)]
    Group(Vec<WorkflowStep>),
    /// A group, then a callback that receives the list of the group's results.
    Chord(ChordStep),
}

/// A chord: a group, then a callback.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(no_recursion)]
pub struct ChordStep {
    pub group: Vec<WorkflowStep>,
    pub callback: Box<WorkflowStep>,
}

impl WorkflowStep {
    /// The validated workflow tree this step asks for at `now`; errors name the path of
    /// the offending step below `path`.
    pub fn into_step(self, now: Timestamp, path: &str) -> Result<Step, InvalidWorkflow> {
        let job = |request: EnqueueRequest, path: String| {
            // A workflow is made once, atomically, so its jobs need no client-chosen ids.
            if request.id.is_some() {
                return Err(InvalidWorkflow {
                    field: format!("{path}.id"),
                    message: "workflow jobs get their ids from the server; leave id out".into(),
                });
            }
            request.into_new_job(now).map_err(|e| InvalidWorkflow {
                field: format!("{path}.{}", e.field),
                message: e.message,
            })
        };
        let steps = |steps: Vec<WorkflowStep>, path: String| {
            steps
                .into_iter()
                .enumerate()
                .map(|(i, step)| step.into_step(now, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match self {
            WorkflowStep::Job(request) => Step::job(job(request, format!("{path}.job"))?),
            WorkflowStep::Immutable(request) => {
                Step::immutable(job(request, format!("{path}.immutable"))?)
            }
            WorkflowStep::Chain(inner) => Step::Chain(steps(inner, format!("{path}.chain"))?),
            WorkflowStep::Group(inner) => Step::Group(steps(inner, format!("{path}.group"))?),
            WorkflowStep::Chord(chord) => Step::Chord {
                group: steps(chord.group, format!("{path}.chord.group"))?,
                callback: Box::new(
                    chord
                        .callback
                        .into_step(now, &format!("{path}.chord.callback"))?,
                ),
            },
        })
    }
}

/// Where a workflow is, taken together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    /// Some job has not finished.
    Running,
    /// Every job succeeded.
    Succeeded,
    /// Every job finished and at least one did not succeed.
    Failed,
}

/// A workflow as the API shows it: every job with its state and the jobs it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowView {
    #[schema(value_type = String, format = Uuid)]
    pub id: WorkflowId,
    pub state: WorkflowState,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub on_parent_failure: OnParentFailure,
    /// The workflow's result once it succeeded: the result of its last job (a chain, a
    /// chord), or the list of its members' results (a group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Json>,
    /// The jobs whose results make the workflow's result.
    #[schema(value_type = Vec<String>)]
    pub outputs: Vec<JobId>,
    /// `one` (the result is one job's) or `list`.
    #[schema(value_type = String)]
    pub output: ResultPassing,
    /// Every job, parents before the jobs waiting on them.
    pub jobs: Vec<WorkflowJobView>,
    /// The tree the workflow was built from, as sent.
    #[schema(value_type = Object)]
    pub shape: Json,
}

/// One job of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowJobView {
    #[serde(flatten)]
    pub job: JobView,
    /// The jobs it waits for, in the order their results are passed.
    #[schema(value_type = Vec<String>)]
    pub parents: Vec<JobId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_name_their_path_in_errors() {
        let body = r#"{"workflow": {"chain": [
            {"job": {"task": "a", "args": [1]}},
            {"chord": {"group": [{"job": {"task": "b"}}, {"immutable": {"task": "c"}}],
                       "callback": {"job": {"task": "d", "priority": 12}}}}
        ]}}"#;
        let request: WorkflowRequest = serde_json::from_str(body).expect("parses");
        assert_eq!(request.on_parent_failure, OnParentFailure::Cancel);
        let err = request
            .workflow
            .into_step(Timestamp::UNIX_EPOCH, "workflow")
            .expect_err("priority");
        assert_eq!(err.field, "workflow.chain[1].chord.callback.job.priority");
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        let err = serde_json::from_str::<WorkflowRequest>(r#"{"workflow": {"chian": []}}"#)
            .expect_err("unknown kind");
        assert!(err.to_string().contains("unknown variant `chian`"), "{err}");
        let err = serde_json::from_str::<WorkflowRequest>(
            r#"{"workflow": {"job": {"task": "a"}}, "policy": "cancel"}"#,
        )
        .expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `policy`"), "{err}");
    }
}
