//! Workflows as stores keep them, and the Params of the `workflow_*` methods of
//! [`crate::Store`].
//!
//! A workflow is stored as its jobs (each with `workflow` set), one dependency edge per
//! (job, parent) with the parent's position (the order results are passed in), and one
//! workflow row: its policy, the jobs whose results are its result, and the tree it was
//! built from (for display).
//!
//! The fan-in rule every store follows, in the SAME transaction that finishes a parent:
//!
//! - a parent **succeeds** (or fails under [`OnParentFailure::RunAnyway`]): each dependant
//!   still `waiting` counts one parent fewer; the one whose count reaches zero is unblocked
//!   (`waiting → ready`, or `scheduled` while its `run_at` is ahead) with its parents'
//!   results written into its args ([`workhorse_core::workflow::args_with_results`]);
//! - a parent ends **dead, cancelled or expired** under [`OnParentFailure::Cancel`]: each
//!   dependant still `waiting` is cancelled, and so, transitively, are the jobs waiting on it.
//!
//! The jobs a transaction moves out of `waiting` this way (unblocked or cancelled) are its
//! *dependants*: the store call that finished their parent returns them as they are after
//! the commit, so the caller announces them without reading the store again.
//!
//! Because the count is decremented by a guarded update of the dependant's own row, two
//! parents finishing at the same instant (two workers, two nodes) are serialized on that row:
//! exactly one of them sees the count reach zero, so a chord callback is unblocked once.

use workhorse_core::{
    CompiledWorkflow, Job, JobId, Json, OnParentFailure, ResultPassing, Timestamp, WorkflowId,
};

/// For [`crate::Store::workflow_insert`].
#[derive(Debug, Clone)]
pub struct WorkflowInsertParams {
    pub now: Timestamp,
    pub id: WorkflowId,
    pub on_parent_failure: OnParentFailure,
    /// The tree the workflow was built from, as the producer sent it (for display).
    pub shape: Json,
    /// Its jobs and edges, from [`workhorse_core::workflow::compile`].
    pub compiled: CompiledWorkflow,
}

/// For [`crate::Store::workflow_cancel`].
#[derive(Debug, Clone)]
pub struct WorkflowCancelParams {
    pub now: Timestamp,
    pub id: WorkflowId,
}

/// A workflow and every job in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub id: WorkflowId,
    pub created_at: Timestamp,
    pub on_parent_failure: OnParentFailure,
    pub shape: Json,
    /// The jobs whose results are the workflow's result.
    pub outputs: Vec<JobId>,
    /// Whether that result is one job's result or the list of them.
    pub output: ResultPassing,
    /// Every job, in the order they were compiled (parents before dependants).
    pub jobs: Vec<WorkflowMember>,
}

/// One job of a workflow and the jobs it waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowMember {
    pub job: Job,
    /// In position order: the order its parents' results are passed.
    pub parents: Vec<JobId>,
}

impl Workflow {
    /// Whether every job of the workflow reached a terminal state.
    pub fn is_finished(&self) -> bool {
        self.jobs.iter().all(|m| m.job.state.is_terminal())
    }

    /// The member with this id.
    pub fn member(&self, id: JobId) -> Option<&WorkflowMember> {
        self.jobs.iter().find(|m| m.job.id == id)
    }
}
