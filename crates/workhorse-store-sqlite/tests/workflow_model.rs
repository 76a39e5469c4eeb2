//! Property test: random workflows (chains, groups, chords, nested) with random outcomes,
//! run against a real SQLite store, always end with every job terminal; each job runs at
//! most once (its parents' fan-in releases it once), and exactly the jobs a model of the
//! policy says should run do run.

use proptest::prelude::*;
use std::collections::HashMap;
use workhorse_core::workflow::compile;
use workhorse_core::{JobId, JobState, NewJob, OnParentFailure, Step, WorkflowId};
use workhorse_store::{
    AckOutcome, JobAckManyParams, JobFetchParams, Store, Workflow, WorkflowInsertParams,
};
use workhorse_store_conformance::{DEFAULT, JITTER, at, complete, fail, failure, json};
use workhorse_store_sqlite::SqliteStore;

/// A workflow tree whose leaves say whether their job succeeds.
#[derive(Debug, Clone)]
enum Tree {
    Job(bool),
    Chain(Vec<Tree>),
    Group(Vec<Tree>),
    Chord(Vec<Tree>, Box<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop::bool::weighted(0.8).prop_map(Tree::Job);
    leaf.prop_recursive(3, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Tree::Chain),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Tree::Group),
            (prop::collection::vec(inner.clone(), 1..4), inner)
                .prop_map(|(group, callback)| Tree::Chord(group, Box::new(callback))),
        ]
    })
}

/// The step for `tree`; each job's task name is unique and maps to its outcome.
fn step(tree: Tree, outcomes: &mut HashMap<String, bool>) -> Step {
    let steps = |trees: Vec<Tree>, outcomes: &mut HashMap<String, bool>| {
        trees.into_iter().map(|t| step(t, outcomes)).collect()
    };
    match tree {
        Tree::Job(succeeds) => {
            let task = format!("t{}", outcomes.len());
            outcomes.insert(task.clone(), succeeds);
            let mut job = NewJob::new(task);
            job.max_attempts = 1;
            Step::job(job)
        }
        Tree::Chain(trees) => Step::Chain(steps(trees, outcomes)),
        Tree::Group(trees) => Step::Group(steps(trees, outcomes)),
        Tree::Chord(group, callback) => Step::Chord {
            group: steps(group, outcomes),
            callback: Box::new(step(*callback, outcomes)),
        },
    }
}

/// What each job should end as: a job runs when every parent succeeded (or, under
/// `run_anyway`, finished at all); otherwise it is cancelled.
fn expected_states(
    workflow: &Workflow,
    outcomes: &HashMap<String, bool>,
) -> HashMap<JobId, JobState> {
    let mut states = HashMap::new();
    // Jobs come parents first.
    for member in &workflow.jobs {
        let parents_ok = member.parents.iter().all(|p| {
            workflow.on_parent_failure == OnParentFailure::RunAnyway
                || states.get(p) == Some(&JobState::Succeeded)
        });
        let state = match (parents_ok, outcomes[&member.job.task]) {
            (false, _) => JobState::Cancelled,
            (true, true) => JobState::Succeeded,
            (true, false) => JobState::Dead,
        };
        states.insert(member.job.id, state);
    }
    states
}

async fn run(tree: Tree, policy: OnParentFailure) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("w.db")).expect("open");
    let mut outcomes = HashMap::new();
    let compiled = compile(step(tree, &mut outcomes), "workflow").expect("valid");
    let id = WorkflowId::new();
    store
        .workflow_insert(WorkflowInsertParams {
            now: at(0),
            id,
            on_parent_failure: policy,
            shape: json("{}"),
            compiled,
        })
        .await
        .expect("insert");
    let mut runs: HashMap<JobId, u32> = HashMap::new();
    for round in 1.. {
        let fetched = store
            .job_fetch_available(JobFetchParams {
                now: at(round),
                worker: "w".to_owned(),
                queues: vec![DEFAULT.to_owned()],
                max: 1_000,
                lease: std::time::Duration::from_secs(30),
            })
            .await
            .expect("fetch");
        if fetched.is_empty() {
            break;
        }
        let acks = fetched
            .iter()
            .map(|job| {
                *runs.entry(job.id).or_default() += 1;
                let ack = if outcomes[&job.task] {
                    complete(job, Some("1"))
                } else {
                    fail(job, failure("Boom"))
                };
                (ack, JITTER)
            })
            .collect();
        let acked = store
            .job_ack_many(JobAckManyParams {
                now: at(round),
                acks,
            })
            .await
            .expect("ack");
        assert!(
            acked
                .outcomes
                .iter()
                .all(|a| matches!(a, AckOutcome::Applied(_)))
        );
    }
    let workflow = store.workflow_get(id).await.expect("get").expect("exists");
    let expected = expected_states(&workflow, &outcomes);
    for member in &workflow.jobs {
        let job = &member.job;
        assert!(job.state.is_terminal(), "{} is {}", job.task, job.state);
        assert_eq!(job.state, expected[&job.id], "{}", job.task);
        let ran = u32::from(matches!(job.state, JobState::Succeeded | JobState::Dead));
        assert_eq!(
            runs.get(&job.id).copied().unwrap_or(0),
            ran,
            "{} runs",
            job.task
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_workflows_end_terminal_with_each_job_run_once(
        tree in tree(),
        run_anyway in any::<bool>(),
    ) {
        let policy = if run_anyway { OnParentFailure::RunAnyway } else { OnParentFailure::Cancel };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(run(tree, policy));
    }
}
