//! Workflows: jobs waiting on parent jobs, the fan-in rule, cancelling a workflow.

use super::{
    DEFAULT, ack, ack_releasing, applied, assert_transition, at, complete, fail, failure, fetch,
    get, job_in, json, t0,
};
use workhorse_core::workflow::compile;
use workhorse_core::{
    Job, JobId, JobState, OnParentFailure, Step, Timestamp, Transition, WorkflowId,
};
use workhorse_store::{
    JobCancelParams, JobRescueParams, Store, Workflow, WorkflowCancelParams, WorkflowInsertParams,
};

/// A job step of `task` on the default queue, with a single attempt (so one failure buries).
pub fn step(task: &str) -> Step {
    let mut job = job_in(DEFAULT, task);
    job.max_attempts = 1;
    Step::job(job)
}

/// Inserts the workflow built from `tree` at `now` under `policy`.
pub async fn insert_workflow(
    store: &dyn Store,
    now: Timestamp,
    tree: Step,
    policy: OnParentFailure,
) -> Workflow {
    let compiled = compile(tree, "workflow").expect("a valid workflow");
    let workflow = store
        .workflow_insert(WorkflowInsertParams {
            now,
            id: WorkflowId::new(),
            on_parent_failure: policy,
            shape: json(r#"{"chain":[]}"#),
            compiled,
        })
        .await
        .expect("workflow insert");
    for member in &workflow.jobs {
        let expected = if member.parents.is_empty() {
            JobState::Ready
        } else {
            JobState::Waiting
        };
        assert_eq!(member.job.state, expected, "job {}", member.job.task);
        assert_eq!(member.job.workflow, Some(workflow.id));
    }
    workflow
}

/// The job of `workflow` running `task`, as stored now.
pub async fn job_of(store: &dyn Store, workflow: &Workflow, task: &str) -> Job {
    let member = workflow
        .jobs
        .iter()
        .find(|m| m.job.task == task)
        .unwrap_or_else(|| panic!("no job {task} in the workflow"));
    get(store, member.job.id).await
}

/// Fetches the ready job running `task` and completes it with `result`.
pub async fn run_to_success(store: &dyn Store, now: Timestamp, task: &str, result: &str) -> Job {
    run_releasing(store, now, task, result).await.0
}

/// As [`run_to_success`]; also returns the dependants the completion released.
async fn run_releasing(
    store: &dyn Store,
    now: Timestamp,
    task: &str,
    result: &str,
) -> (Job, Vec<Job>) {
    let running = fetch_task(store, now, task).await;
    let mut acked = ack_releasing(store, now, vec![complete(&running, Some(result))]).await;
    (applied(acked.outcomes.remove(0)), acked.dependants)
}

/// Fetches ready jobs until the one running `task`; the others fetched are handed back.
async fn fetch_task(store: &dyn Store, now: Timestamp, task: &str) -> Job {
    let fetched = fetch(store, now, &[DEFAULT], 1_000).await;
    let mut found = None;
    let mut others = Vec::new();
    for job in fetched {
        if job.task == task && found.is_none() {
            found = Some(job);
        } else {
            others.push((job.id, super::lease_of(&job)));
        }
    }
    if !others.is_empty() {
        store
            .job_release_many(workhorse_store::JobReleaseManyParams {
                now,
                releases: others,
            })
            .await
            .expect("release");
    }
    found.unwrap_or_else(|| panic!("{task} was not ready"))
}

/// A chain: the first job is ready, the others wait; each unblocks when its parent
/// succeeds, receiving the parent's result before its own args.
pub async fn workflow_chain_passes_results_on(store: &dyn Store) {
    let mut c = job_in(DEFAULT, "c");
    c.args = json(r#"["own"]"#);
    let tree = Step::Chain(vec![step("a"), step("b"), Step::job(c)]);
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::Cancel).await;
    let b = job_of(store, &workflow, "b").await;
    assert_eq!(workflow.member(b.id).map(|m| m.parents.len()), Some(1));

    let (_, released) = run_releasing(store, at(1), "a", r#"{"n":1}"#).await;
    let b_now = get(store, b.id).await;
    assert_eq!(
        released,
        std::slice::from_ref(&b_now),
        "the ack reports what it unblocked"
    );
    assert_transition(Transition::Unblock, JobState::Waiting, &b_now);
    assert_eq!(b_now.args.get(), r#"[{"n":1}]"#);
    assert_eq!(b_now.run_at, at(1), "unblocked jobs are ready from now");
    assert_eq!(job_of(store, &workflow, "c").await.state, JobState::Waiting);

    run_to_success(store, at(2), "b", "2").await;
    let c_now = job_of(store, &workflow, "c").await;
    assert_transition(Transition::Unblock, JobState::Waiting, &c_now);
    assert_eq!(c_now.args.get(), r#"[2,"own"]"#);
    run_to_success(store, at(3), "c", "3").await;
    let done = store
        .workflow_get(workflow.id)
        .await
        .expect("get")
        .expect("exists");
    assert!(done.is_finished());
}

/// A chord: the callback waits for every member, however they finish, and receives their
/// results in group order; only the last member's ack reports it released.
pub async fn workflow_chord_callback_gets_results_in_order(store: &dyn Store) {
    let tree = Step::Chord {
        group: vec![step("m0"), step("m1"), step("m2")],
        callback: Box::new(step("cb")),
    };
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::Cancel).await;
    let mut released = Vec::new();
    for (i, task) in ["m2", "m0", "m1"].into_iter().enumerate() {
        assert_eq!(
            job_of(store, &workflow, "cb").await.state,
            JobState::Waiting
        );
        assert!(
            released.is_empty(),
            "nothing released before the last member"
        );
        let now = at(i as u64 + 1);
        released = run_releasing(store, now, task, &format!("\"{task}\""))
            .await
            .1;
    }
    let callback = job_of(store, &workflow, "cb").await;
    assert_transition(Transition::Unblock, JobState::Waiting, &callback);
    assert_eq!(callback.args.get(), r#"[["m0","m1","m2"]]"#);
    assert_eq!(
        released,
        [callback],
        "the last ack reports the callback as stored"
    );
}

/// A parent that ends dead cancels its dependants, and theirs, under `cancel`.
pub async fn workflow_failed_parent_cancels_dependants(store: &dyn Store) {
    let tree = Step::Chain(vec![step("a"), step("b"), step("c")]);
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::Cancel).await;
    let running = fetch_task(store, at(1), "a").await;
    let mut acked = ack_releasing(store, at(1), vec![fail(&running, failure("Boom"))]).await;
    let buried = applied(acked.outcomes.remove(0));
    assert_eq!(buried.state, JobState::Dead);
    let mut cancelled = Vec::new();
    for task in ["b", "c"] {
        let job = job_of(store, &workflow, task).await;
        assert_transition(Transition::Cancel, JobState::Waiting, &job);
        assert_eq!(job.finished_at, Some(at(1)));
        cancelled.push(job);
    }
    acked.dependants.sort_by_key(|job| job.id);
    cancelled.sort_by_key(|job| job.id);
    assert_eq!(
        acked.dependants, cancelled,
        "the ack reports both, transitively"
    );
}

/// Under `run_anyway`, a dead parent counts as finished: its dependant runs and receives
/// `null` for its result.
pub async fn workflow_run_anyway_passes_null(store: &dyn Store) {
    let tree = Step::Chord {
        group: vec![step("ok"), step("bad")],
        callback: Box::new(step("cb")),
    };
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::RunAnyway).await;
    let bad = fetch_task(store, at(1), "bad").await;
    ack(store, at(1), vec![fail(&bad, failure("Boom"))]).await;
    assert_eq!(
        job_of(store, &workflow, "cb").await.state,
        JobState::Waiting
    );
    run_to_success(store, at(2), "ok", "1").await;
    let callback = job_of(store, &workflow, "cb").await;
    assert_transition(Transition::Unblock, JobState::Waiting, &callback);
    assert_eq!(callback.args.get(), "[[1,null]]");
}

/// A dependant whose `run_at` is still ahead when its parents finish waits for it
/// `scheduled` (`UnblockLater`).
pub async fn workflow_unblock_later_keeps_run_at(store: &dyn Store) {
    let mut later = job_in(DEFAULT, "later");
    later.run_at = Some(at(3_600));
    let tree = Step::Chain(vec![step("a"), Step::immutable(later)]);
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::Cancel).await;
    run_to_success(store, at(1), "a", "1").await;
    let job = job_of(store, &workflow, "later").await;
    assert_transition(Transition::UnblockLater, JobState::Waiting, &job);
    assert_eq!(job.run_at, at(3_600));
    assert_eq!(job.args.get(), "[]", "an immutable job receives no result");
}

/// Cancelling a waiting job of a workflow applies the policy to the jobs waiting on it:
/// under `cancel` they are cancelled too; under `run_anyway` they run, receiving `null`.
pub async fn workflow_job_cancel_cascades(store: &dyn Store) {
    for policy in [OnParentFailure::Cancel, OnParentFailure::RunAnyway] {
        let tree = Step::Chain(vec![step("a"), step("b"), step("c")]);
        let workflow = insert_workflow(store, t0(), tree, policy).await;
        let b = job_of(store, &workflow, "b").await;
        let outcome = store
            .job_cancel(JobCancelParams {
                now: at(1),
                id: b.id,
            })
            .await
            .expect("cancel")
            .expect("exists");
        assert_transition(Transition::Cancel, JobState::Waiting, &outcome.job);
        let c = job_of(store, &workflow, "c").await;
        assert_eq!(
            outcome.dependants,
            std::slice::from_ref(&c),
            "the cancel reports what it moved"
        );
        if policy == OnParentFailure::Cancel {
            assert_transition(Transition::Cancel, JobState::Waiting, &c);
        } else {
            assert_transition(Transition::Unblock, JobState::Waiting, &c);
            assert_eq!(c.args.get(), "[null]");
        }
        // b's own parent finishing later changes nothing for b.
        run_to_success(store, at(2), "a", "1").await;
        assert_eq!(get(store, b.id).await.state, JobState::Cancelled);
        let c_id = c.id;
        let running = fetch(store, at(3), &[DEFAULT], 10).await;
        for job in &running {
            assert_eq!(job.id, c_id, "only c can be ready");
            ack(store, at(3), vec![complete(job, None)]).await;
        }
    }
}

/// Cancelling a workflow cancels every unfinished job; running ones are flagged.
pub async fn workflow_cancel_cancels_unfinished_jobs(store: &dyn Store) {
    let tree = Step::Chain(vec![
        Step::Group(vec![step("done"), step("running")]),
        step("waiting"),
    ]);
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::Cancel).await;
    run_to_success(store, at(1), "done", "1").await;
    let running = fetch_task(store, at(2), "running").await;
    let cancelled = store
        .workflow_cancel(WorkflowCancelParams {
            now: at(3),
            id: workflow.id,
        })
        .await
        .expect("cancel")
        .expect("exists");
    let state = |task: &str| {
        let member = cancelled
            .jobs
            .iter()
            .find(|m| m.job.task == task)
            .expect("job");
        (member.job.state, member.job.cancel_requested)
    };
    assert_eq!(state("done"), (JobState::Succeeded, false));
    assert_eq!(state("running"), (JobState::Running, true));
    assert_eq!(state("waiting"), (JobState::Cancelled, false));
    assert_eq!(get(store, running.id).await.state, JobState::Running);
    let unknown = WorkflowCancelParams {
        now: at(3),
        id: WorkflowId::new(),
    };
    assert!(
        store
            .workflow_cancel(unknown)
            .await
            .expect("cancel")
            .is_none()
    );
    assert!(
        store
            .workflow_get(WorkflowId::new())
            .await
            .expect("get")
            .is_none()
    );
}

/// The last two members of a chord acked at the same instant (two workers, or two nodes)
/// unblock the callback exactly once, with every result once.
pub async fn concurrent_chord_acks_unblock_callback_once(store: &dyn Store) {
    const MEMBERS: usize = 6;
    for round in 0..10_u64 {
        let now = at(round * 10);
        let members = (0..MEMBERS).map(|i| step(&format!("m{i}"))).collect();
        let tree = Step::Chord {
            group: members,
            callback: Box::new(step("cb")),
        };
        let workflow = insert_workflow(store, now, tree, OnParentFailure::Cancel).await;
        let running = fetch(store, now, &[DEFAULT], MEMBERS as u32).await;
        assert_eq!(running.len(), MEMBERS);
        let (last_two, first) = running.split_at(2);
        for job in first {
            ack(store, now, vec![complete(job, Some("1"))]).await;
        }
        let (a, b) = tokio::join!(
            store.job_ack_many(workhorse_store::JobAckManyParams {
                now,
                acks: vec![(complete(&last_two[0], Some("1")), super::JITTER)],
            }),
            store.job_ack_many(workhorse_store::JobAckManyParams {
                now,
                acks: vec![(complete(&last_two[1], Some("1")), super::JITTER)],
            }),
        );
        let mut released = a.expect("ack a").dependants;
        released.extend(b.expect("ack b").dependants);
        let callback = job_of(store, &workflow, "cb").await;
        assert_eq!(
            released,
            std::slice::from_ref(&callback),
            "one ack released it, round {round}"
        );
        assert_eq!(callback.state, JobState::Ready, "round {round}");
        assert_eq!(callback.args.get(), "[[1,1,1,1,1,1]]", "round {round}");
        let fetched = fetch(store, now, &[DEFAULT], 10).await;
        assert_eq!(ids(&fetched), [callback.id], "the callback runs once");
        ack(store, now, vec![complete(&fetched[0], None)]).await;
    }
}

/// A workflow job whose lease is lost on its last attempt is buried; the rescue reports the
/// dependants it cancelled in the same transaction.
pub async fn workflow_rescue_reports_dependants(store: &dyn Store) {
    let tree = Step::Chain(vec![step("a"), step("b")]);
    let workflow = insert_workflow(store, t0(), tree, OnParentFailure::Cancel).await;
    let running = fetch_task(store, at(1), "a").await;
    let lease_end = running.lease.as_ref().expect("leased").expires_at;
    let rescued = store
        .job_rescue_expired(JobRescueParams {
            now: lease_end,
            worker: None,
            limit: 10,
        })
        .await
        .expect("rescue");
    assert_eq!(ids(&rescued.jobs), [running.id]);
    assert_transition(Transition::Bury, JobState::Running, &rescued.jobs[0]);
    let b = job_of(store, &workflow, "b").await;
    assert_transition(Transition::Cancel, JobState::Waiting, &b);
    assert_eq!(rescued.dependants, [b]);
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}
