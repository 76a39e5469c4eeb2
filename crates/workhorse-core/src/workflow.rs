//! Workflows: jobs that wait for other jobs, built from chains, groups and chords.
//!
//! A workflow is a tree of [`Step`]s. [`compile`] turns it, with no I/O, into plain jobs and
//! the dependency edges between them, which a store inserts in one transaction:
//!
//! - a **job** is one task to run;
//! - a **chain** runs its steps one after another: every first job of a step waits for every
//!   last job of the step before it;
//! - a **group** runs its members side by side; its result is the list of their results;
//! - a **chord** is a group followed by a callback that waits for every member.
//!
//! Steps nest freely (a chain of groups, a group of chains, a chord whose callback is a chain).
//! A job with parents is inserted `waiting` and counts its unfinished parents; the store
//! unblocks it (`waiting → ready`, or `scheduled` while its `run_at` is ahead) in the same
//! transaction that finishes its last parent, so a chord callback is released exactly once.
//!
//! **Results passed on** (Celery's canvas rule): a job that follows a single job receives that
//! job's result as an extra first positional argument (`args = [result, *args]`); a job that
//! follows a group receives the list of the group's results, in group order
//! (`args = [[r1, …, rn], *args]`). An *immutable* job (Celery's `.si()`) receives nothing.
//! A parent without a result, or one that failed under [`OnParentFailure::RunAnyway`],
//! contributes `null`. The results are written into the job's `args` when it is unblocked
//! (see [`args_with_results`]), so a worker sees a plain job.
//!
//! A tree cannot name a job that is not in it, nor make a cycle: every edge points from an
//! earlier step to a later one. What can still be wrong is refused by [`compile`] with the
//! path of the offending step: an empty chain or group, a job with a unique key or an
//! expiry, or a workflow over [`limits::MAX_WORKFLOW_JOBS`] jobs or
//! [`limits::MAX_WORKFLOW_EDGES`] edges.

use crate::job::{JobId, Json, NewJob};
use crate::limits;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A workflow's id: a UUID v7, like job ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkflowId(pub Uuid);

impl WorkflowId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        WorkflowId(Uuid::now_v7())
    }
}

impl Default for WorkflowId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for WorkflowId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(WorkflowId)
    }
}

/// What happens to the jobs waiting on a parent that ends `dead`, `cancelled` or `expired`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnParentFailure {
    /// They are cancelled, and so, in turn, are the jobs waiting on them.
    #[default]
    Cancel,
    /// They run as if the parent had succeeded, receiving `null` for its result.
    RunAnyway,
}

impl OnParentFailure {
    /// The name used on the wire and in SQL.
    pub const fn as_str(self) -> &'static str {
        match self {
            OnParentFailure::Cancel => "cancel",
            OnParentFailure::RunAnyway => "run_anyway",
        }
    }
}

impl FromStr for OnParentFailure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cancel" => Ok(OnParentFailure::Cancel),
            "run_anyway" => Ok(OnParentFailure::RunAnyway),
            other => Err(format!(
                "unknown policy {other:?}; expected cancel or run_anyway"
            )),
        }
    }
}

/// How a job receives its parents' results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultPassing {
    /// It follows one job: that job's result is prepended to its args.
    One,
    /// It follows a group: the list of the group's results, in order, is prepended.
    List,
}

impl ResultPassing {
    /// The name used in SQL.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResultPassing::One => "one",
            ResultPassing::List => "list",
        }
    }
}

impl FromStr for ResultPassing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "one" => Ok(ResultPassing::One),
            "list" => Ok(ResultPassing::List),
            other => Err(format!("unknown result passing {other:?}")),
        }
    }
}

/// One node of a workflow tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One task. `immutable`: it does not receive its parents' results.
    Job { job: Box<NewJob>, immutable: bool },
    /// Steps one after another.
    Chain(Vec<Step>),
    /// Steps side by side; the result is the list of their results.
    Group(Vec<Step>),
    /// A group, then a callback that receives the list of the group's results.
    Chord {
        group: Vec<Step>,
        callback: Box<Step>,
    },
}

impl Step {
    /// A job that receives its parents' results.
    pub fn job(job: NewJob) -> Step {
        Step::Job {
            job: Box::new(job),
            immutable: false,
        }
    }

    /// A job that ignores its parents' results (Celery's `.si()`).
    pub fn immutable(job: NewJob) -> Step {
        Step::Job {
            job: Box::new(job),
            immutable: true,
        }
    }
}

/// One job of a compiled workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowJob {
    pub job: NewJob,
    /// The jobs it waits for, in the order their results are passed (group order).
    pub parents: Vec<JobId>,
    /// How it receives its parents' results; `None` for a job without parents or an
    /// immutable one.
    pub passing: Option<ResultPassing>,
}

/// A workflow as jobs and edges, ready for a store.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledWorkflow {
    /// Every job, parents before their dependants.
    pub jobs: Vec<WorkflowJob>,
    /// The jobs whose results are the workflow's result: the last job of a chain, every
    /// member of a group, a chord's callback.
    pub outputs: Vec<JobId>,
    /// Whether the workflow's result is one job's result or a list of them.
    pub output: ResultPassing,
}

impl CompiledWorkflow {
    /// How many dependency edges the workflow holds.
    pub fn edges(&self) -> usize {
        self.jobs.iter().map(|j| j.parents.len()).sum()
    }
}

/// A workflow breaks a rule; `field` is the path of the offending step, as the HTTP API
/// spells it (e.g. `workflow.chain[2].group[0].job.priority`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidWorkflow {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidWorkflow {
    InvalidWorkflow {
        field: field.into(),
        message: message.into(),
    }
}

/// Compiles a workflow tree into jobs and edges. `path` is the tree's own name in errors
/// (`workflow` on the HTTP API).
pub fn compile(root: Step, path: &str) -> Result<CompiledWorkflow, InvalidWorkflow> {
    let mut compiler = Compiler::default();
    let whole = compiler.step(root, path)?;
    Ok(CompiledWorkflow {
        outputs: whole
            .tails
            .iter()
            .map(|&i| compiler.jobs[i].job.id)
            .collect(),
        output: whole.output,
        jobs: compiler.jobs,
    })
}

/// A compiled step: where it starts and ends, as indexes into the compiled jobs.
struct Fragment {
    /// Jobs with no parent inside the step: they wait for the step before it.
    heads: Vec<usize>,
    /// Jobs no job inside the step waits for: the step after it waits for them.
    tails: Vec<usize>,
    output: ResultPassing,
}

#[derive(Default)]
struct Compiler {
    jobs: Vec<WorkflowJob>,
    /// Per job: whether it receives its parents' results.
    receives: Vec<bool>,
    edges: usize,
}

impl Compiler {
    fn step(&mut self, step: Step, path: &str) -> Result<Fragment, InvalidWorkflow> {
        match step {
            Step::Job { job, immutable } => self.job(*job, immutable, path),
            Step::Chain(steps) => self.chain(steps, &format!("{path}.chain")),
            Step::Group(members) => self.group(members, &format!("{path}.group")),
            Step::Chord { group, callback } => {
                let header = self.group(group, &format!("{path}.chord.group"))?;
                let body = self.step(*callback, &format!("{path}.chord.callback"))?;
                self.link(&header, &body, path)?;
                Ok(Fragment {
                    heads: header.heads,
                    tails: body.tails,
                    output: body.output,
                })
            }
        }
    }

    fn job(
        &mut self,
        job: NewJob,
        immutable: bool,
        path: &str,
    ) -> Result<Fragment, InvalidWorkflow> {
        if self.jobs.len() >= limits::MAX_WORKFLOW_JOBS {
            return Err(invalid(
                "workflow",
                format!(
                    "a workflow holds at most {} jobs",
                    limits::MAX_WORKFLOW_JOBS
                ),
            ));
        }
        let path = format!("{path}.job");
        job.validate()
            .map_err(|e| invalid(format!("{path}.{}", e.field), e.message))?;
        if job.key.is_some() {
            return Err(invalid(
                format!("{path}.key"),
                "jobs of a workflow cannot have a unique key",
            ));
        }
        if job.expires_at.is_some() {
            return Err(invalid(
                format!("{path}.expires_at"),
                "jobs of a workflow cannot expire: when they start depends on their parents",
            ));
        }
        let index = self.jobs.len();
        self.jobs.push(WorkflowJob {
            job,
            parents: Vec::new(),
            passing: None,
        });
        self.receives.push(!immutable);
        Ok(Fragment {
            heads: vec![index],
            tails: vec![index],
            output: ResultPassing::One,
        })
    }

    fn chain(&mut self, steps: Vec<Step>, path: &str) -> Result<Fragment, InvalidWorkflow> {
        let mut chained: Option<Fragment> = None;
        for (i, step) in steps.into_iter().enumerate() {
            let next = self.step(step, &format!("{path}[{i}]"))?;
            chained = Some(match chained {
                None => next,
                Some(before) => {
                    self.link(&before, &next, path)?;
                    Fragment {
                        heads: before.heads,
                        tails: next.tails,
                        output: next.output,
                    }
                }
            });
        }
        chained.ok_or_else(|| invalid(path, "a chain needs at least one step"))
    }

    fn group(&mut self, members: Vec<Step>, path: &str) -> Result<Fragment, InvalidWorkflow> {
        if members.is_empty() {
            return Err(invalid(path, "a group needs at least one member"));
        }
        let mut group = Fragment {
            heads: Vec::new(),
            tails: Vec::new(),
            output: ResultPassing::List,
        };
        for (i, member) in members.into_iter().enumerate() {
            let member = self.step(member, &format!("{path}[{i}]"))?;
            group.heads.extend(member.heads);
            group.tails.extend(member.tails);
        }
        Ok(group)
    }

    /// Makes every head of `after` wait for every tail of `before`.
    fn link(
        &mut self,
        before: &Fragment,
        after: &Fragment,
        path: &str,
    ) -> Result<(), InvalidWorkflow> {
        self.edges += before.tails.len() * after.heads.len();
        if self.edges > limits::MAX_WORKFLOW_EDGES {
            return Err(invalid(
                path,
                format!(
                    "a workflow holds at most {} dependencies; linking a group of {} to a \
                     group of {} goes over",
                    limits::MAX_WORKFLOW_EDGES,
                    before.tails.len(),
                    after.heads.len()
                ),
            ));
        }
        let parents: Vec<JobId> = before.tails.iter().map(|&t| self.jobs[t].job.id).collect();
        for &head in &after.heads {
            let job = &mut self.jobs[head];
            job.parents.clone_from(&parents);
            job.passing = self.receives[head].then_some(before.output);
        }
        Ok(())
    }
}

/// The args a job runs with once its parents finished: `args` with the parents' results
/// (in parent order; `None` for a parent without one) prepended as [`ResultPassing`] says.
pub fn args_with_results(
    args: &Json,
    passing: ResultPassing,
    results: &[Option<Json>],
) -> Result<Json, serde_json::Error> {
    let text = |result: Option<&Json>| result.map_or("null", Json::get).to_owned();
    let passed = match passing {
        ResultPassing::One => text(results.first().and_then(Option::as_ref)),
        ResultPassing::List => {
            let items: Vec<String> = results.iter().map(|r| text(r.as_ref())).collect();
            format!("[{}]", items.join(","))
        }
    };
    // `args` is a JSON array (validated at enqueue): insert after its opening bracket.
    let rest = args.get().trim_start().strip_prefix('[').unwrap_or("]");
    if rest.trim_start().starts_with(']') {
        Json::from_raw(&format!("[{passed}]"))
    } else {
        Json::from_raw(&format!("[{passed},{rest}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(task: &str) -> Step {
        Step::job(NewJob::new(task))
    }

    fn tasks(compiled: &CompiledWorkflow, ids: &[JobId]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                compiled
                    .jobs
                    .iter()
                    .find(|j| j.job.id == *id)
                    .map(|j| j.job.task.clone())
                    .expect("a job of the workflow")
            })
            .collect()
    }

    fn parents_of(compiled: &CompiledWorkflow, task: &str) -> (Vec<String>, Option<ResultPassing>) {
        let job = compiled
            .jobs
            .iter()
            .find(|j| j.job.task == task)
            .expect("the task");
        (tasks(compiled, &job.parents), job.passing)
    }

    #[test]
    fn chain_links_each_step_to_the_one_before() {
        let compiled = compile(Step::Chain(vec![job("a"), job("b"), job("c")]), "w").expect("ok");
        assert_eq!(parents_of(&compiled, "a"), (vec![], None));
        assert_eq!(
            parents_of(&compiled, "b"),
            (vec!["a".to_owned()], Some(ResultPassing::One))
        );
        assert_eq!(
            parents_of(&compiled, "c"),
            (vec!["b".to_owned()], Some(ResultPassing::One))
        );
        assert_eq!(tasks(&compiled, &compiled.outputs), ["c"]);
        assert_eq!(compiled.output, ResultPassing::One);
    }

    #[test]
    fn chord_callback_waits_for_every_member_in_order() {
        let chord = Step::Chord {
            group: vec![job("m1"), job("m2"), job("m3")],
            callback: Box::new(job("cb")),
        };
        let compiled = compile(chord, "w").expect("ok");
        assert_eq!(
            parents_of(&compiled, "cb"),
            (
                vec!["m1".to_owned(), "m2".to_owned(), "m3".to_owned()],
                Some(ResultPassing::List)
            )
        );
        assert_eq!(compiled.edges(), 3);
    }

    #[test]
    fn nesting_links_tails_to_heads() {
        // a → (b → c | d) → e: e waits for c and d and gets [c, d]; b and d wait for a.
        let tree = Step::Chain(vec![
            job("a"),
            Step::Group(vec![Step::Chain(vec![job("b"), job("c")]), job("d")]),
            Step::immutable(NewJob::new("e")),
        ]);
        let compiled = compile(tree, "w").expect("ok");
        assert_eq!(parents_of(&compiled, "b").0, ["a"]);
        assert_eq!(parents_of(&compiled, "d").0, ["a"]);
        assert_eq!(
            parents_of(&compiled, "c"),
            (vec!["b".to_owned()], Some(ResultPassing::One))
        );
        assert_eq!(
            parents_of(&compiled, "e"),
            (vec!["c".to_owned(), "d".to_owned()], None)
        );
        let group_last = compile(
            Step::Group(vec![Step::Chain(vec![job("x"), job("y")]), job("z")]),
            "w",
        )
        .expect("ok");
        assert_eq!(tasks(&group_last, &group_last.outputs), ["y", "z"]);
        assert_eq!(group_last.output, ResultPassing::List);
    }

    #[test]
    fn bad_trees_are_refused_with_the_path() {
        let err = compile(Step::Chain(vec![job("a"), Step::Group(vec![])]), "workflow")
            .expect_err("empty group");
        assert_eq!(err.field, "workflow.chain[1].group");
        let mut keyed = NewJob::new("k");
        keyed.key = Some("once".to_owned());
        let err =
            compile(Step::Chain(vec![job("a"), Step::job(keyed)]), "workflow").expect_err("key");
        assert_eq!(err.field, "workflow.chain[1].job.key");
        let mut bad = NewJob::new("p");
        bad.priority = 12;
        let err = compile(Step::Group(vec![Step::job(bad)]), "workflow").expect_err("priority");
        assert_eq!(err.field, "workflow.group[0].job.priority");
    }

    #[test]
    fn limits_are_named() {
        let members = |n: usize| (0..n).map(|_| job("t")).collect::<Vec<_>>();
        compile(Step::Group(members(limits::MAX_WORKFLOW_JOBS)), "w").expect("at the limit");
        let err = compile(Step::Group(members(limits::MAX_WORKFLOW_JOBS + 1)), "w")
            .expect_err("over the limit");
        assert!(err.message.contains("at most 10000 jobs"), "{err}");
        let wide = Step::Chain(vec![Step::Group(members(400)), Step::Group(members(400))]);
        let err = compile(wide, "w").expect_err("too many edges");
        assert!(err.message.contains("dependencies"), "{err}");
    }

    #[test]
    fn results_are_prepended_to_args() {
        let json = |t: &str| Json::from_raw(t).expect("json");
        let args = json("[1, 2]");
        let one = args_with_results(&args, ResultPassing::One, &[Some(json("{\"a\":1}"))]);
        assert_eq!(one.expect("json").get(), "[{\"a\":1},1, 2]");
        let list = args_with_results(&json("[]"), ResultPassing::List, &[Some(json("3")), None]);
        assert_eq!(list.expect("json").get(), "[[3,null]]");
        let none = args_with_results(&json(" [ ] "), ResultPassing::One, &[None]);
        assert_eq!(none.expect("json").get(), "[null]");
    }
}
