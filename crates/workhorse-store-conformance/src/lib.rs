//! The store conformance suite: the behaviour every [`workhorse_store::Store`] must show.
//!
//! Each case is a `pub async fn(&dyn Store)` given a fresh, empty store. Time never comes
//! from the wall clock: every case starts at [`t0`] (2026-01-01T00:00:00Z) and moves `now`
//! forward explicitly. Every transition a case performs is checked against the one table in
//! [`workhorse_core::state`] with [`assert_transition`]. Where a backend differs, the case
//! says so.
//!
//! A store crate runs the whole suite, one `#[tokio::test]` per case, from an integration
//! test (e.g. `tests/conformance.rs`) with [`conformance_tests!`] and an `async fn` that
//! builds a fresh store plus a guard kept alive for the test (e.g. its temporary directory):
//!
//! ```text
//! async fn fresh() -> (SqliteStore, tempfile::TempDir) { /* … */ }
//! workhorse_store_conformance::conformance_tests!(fresh);
//! ```
//!
//! The store crate takes this crate and `tokio` (with `macros` and `rt-multi-thread`) as
//! dev-dependencies. The helpers below (`t0`, `insert`, `fetch`, `complete`…) are public
//! too, for a store's own tests. The suite is a test tool, never a dependency of the
//! product: it lives beside the stores, as River keeps `riverdrivertest` beside its drivers.

mod admin;
mod cancel_many;
mod counts;
mod fetch;
mod insert;
mod job_id;
mod keys;
mod lease;
mod list;
mod queues;
mod schedule;
mod schedule_set;
mod time;
mod workflow;

pub use admin::*;
pub use cancel_many::*;
pub use counts::*;
pub use fetch::*;
pub use insert::*;
pub use job_id::*;
pub use keys::*;
pub use lease::*;
pub use list::*;
pub use queues::*;
pub use schedule::*;
pub use schedule_set::*;
pub use time::*;
pub use workflow::*;

use std::time::Duration;
use workhorse_core::retry::{FailureReport, Jitter};
use workhorse_core::state::is_legal;
use workhorse_core::{Job, JobId, JobState, Json, LeaseId, NewJob, Timestamp, Transition};
use workhorse_store::{
    Ack, AckKind, AckManyOutcome, AckOutcome, JobAckManyParams, JobFetchParams,
    JobInsertManyParams, JobPromoteDueParams, PromoteOutcome, Store,
};

/// Runs every case of the suite as its own `#[tokio::test]`, named after the case.
///
/// `$make` names an `async fn() -> (S, G)` where `S: Store` is a fresh, empty store and `G`
/// is kept alive until the case ends (a temporary directory, a throwaway database…).
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            insert_round_trips_every_field,
            insert_batch_keeps_order,
            insert_with_delay_is_scheduled,
            limits_are_refused,
            unique_key_returns_live_holder,
            unique_key_twice_in_one_batch,
            unique_key_held_after_success,
            unique_key_held_within_window,
            unique_key_released_by_dead_cancelled_expired,
            unique_key_window_zero_is_live_only,
            unique_key_window_covers_every_end,
            unique_key_released_by_retention,
            job_id_used_twice_answers_the_first,
            job_id_twice_in_one_batch,
            job_id_of_another_task_is_refused,
            fetch_orders_by_priority_then_fifo,
            fetch_respects_max_and_queues,
            fetch_skips_paused_queue,
            fetch_respects_max_running,
            fetch_respects_rate_limit,
            fetch_respects_concurrency_key,
            fetch_expires_stale_ready_job,
            fetch_sets_lease_and_counts_attempt,
            fetch_reaches_past_blocked_jobs,
            concurrent_fetches_never_share_a_job,
            heartbeat_extends_lease_within_time_limit,
            heartbeat_with_wrong_lease_is_refused,
            heartbeat_reports_cancel_request,
            ack_complete_stores_result,
            ack_with_stale_lease_changes_nothing,
            ack_unknown_job_is_refused,
            ack_failure_retries_with_backoff,
            ack_failure_on_last_attempt_buries,
            ack_non_retryable_failure_buries,
            ack_retry_in_is_exact,
            ack_failure_waits_its_jitter_of_the_backoff,
            ack_failure_after_cancel_request_cancels,
            ack_batch_settles_each_independently,
            release_returns_job_uncounted,
            cancel_waiting_job_at_once,
            cancel_running_job_requests_only,
            cancel_finished_or_unknown_job,
            redrive_by_ids,
            redrive_by_filter,
            cancel_many_by_queue,
            cancel_many_by_task_and_state,
            cancel_many_honours_its_limit,
            cancel_many_refuses_and_matches_nothing,
            cancel_many_workflow_dependants_follow_the_policy,
            promote_due_moves_scheduled_and_expires_stale,
            next_due_is_earliest_wake_time,
            rescue_expired_lease_counts_attempt,
            rescue_past_time_limit_records_time_limit,
            rescue_on_last_attempt_buries,
            rescue_worker_takes_all_its_jobs,
            rescue_cancel_requested_cancels,
            delete_finished_respects_cutoff_and_limit,
            queue_list_counts_states,
            queue_update_sets_and_clears_controls,
            list_filters,
            list_paginates_newest_first,
            queue_counts_follow_every_transition,
            lists_find_old_rare_jobs,
            queue_counts_exact_under_concurrent_writes,
            schedule_upsert_is_idempotent,
            schedule_fire_makes_one_job_per_fire,
            schedule_misfire_policies,
            schedule_overlap_skip,
            schedule_pause_trigger_resume,
            concurrent_fire_due_never_duplicates,
            schedule_set_deletes_what_it_leaves_out,
            schedule_set_keeps_runtime_and_other_owners,
            schedule_set_conflict_changes_nothing,
            schedule_set_empty_deletes_all_of_the_owner,
            schedule_set_is_bounded,
            schedule_job_carries_the_task_options,
            workflow_chain_passes_results_on,
            workflow_chord_callback_gets_results_in_order,
            workflow_failed_parent_cancels_dependants,
            workflow_run_anyway_passes_null,
            workflow_unblock_later_keeps_run_at,
            workflow_job_cancel_cascades,
            workflow_rescue_reports_dependants,
            workflow_cancel_cancels_unfinished_jobs,
            concurrent_chord_acks_unblock_callback_once,
        );
    };
    (@cases $make:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make().await;
                $crate::$case(&store).await;
            }
        )+
    };
}

/// The worker every fetch leases to, unless a case names another.
pub const WORKER: &str = "worker-1";
/// The lease length every fetch asks for.
pub const LEASE: Duration = Duration::from_secs(30);
/// The queue of [`NewJob::new`].
pub const DEFAULT: &str = workhorse_core::queue::DEFAULT_QUEUE;

/// 2026-01-01T00:00:00Z: where every case's clock starts.
pub fn t0() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().expect("a valid timestamp")
}

/// [`t0`] plus `secs` seconds.
pub fn at(secs: u64) -> Timestamp {
    later(t0(), Duration::from_secs(secs))
}

/// `base` plus `by`.
pub fn later(base: Timestamp, by: Duration) -> Timestamp {
    workhorse_core::clock::add(base, by)
}

/// JSON text, kept verbatim.
pub fn json(text: &str) -> Json {
    Json::from_raw(text).expect("valid JSON")
}

/// A new job of `task` in `queue`, with defaults otherwise.
pub fn job_in(queue: &str, task: &str) -> NewJob {
    let mut job = NewJob::new(task);
    queue.clone_into(&mut job.queue);
    job
}

/// Asserts that `after` is where `t` leads from `before`, by the table in core.
pub fn assert_transition(t: Transition, before: JobState, after: &Job) {
    assert!(t.allowed_from(before), "{t:?} is not legal from {before}");
    assert_eq!(after.state, t.target(), "{t:?} from {before}");
    assert_legal(before, after);
}

/// Asserts that some transition of the table leads from `before` to `after`'s state.
pub fn assert_legal(before: JobState, after: &Job) {
    assert!(
        is_legal(before, after.state),
        "job {}: {before} -> {} is not in the table",
        after.id,
        after.state
    );
}

/// Inserts `jobs` at `now`; each must be created.
pub async fn insert(store: &dyn Store, now: Timestamp, jobs: Vec<NewJob>) -> Vec<Job> {
    let inserted = store
        .job_insert_many(JobInsertManyParams { now, jobs })
        .await
        .expect("insert");
    inserted
        .into_iter()
        .map(|i| {
            assert!(i.created, "job {} was not created", i.job.id);
            i.job
        })
        .collect()
}

/// Inserts one job at `now`.
pub async fn insert_one(store: &dyn Store, now: Timestamp, job: NewJob) -> Job {
    insert(store, now, vec![job]).await.remove(0)
}

/// Fetches up to `max` jobs of `queues` for `worker`, with a [`LEASE`]-long lease.
pub async fn fetch_as(
    store: &dyn Store,
    now: Timestamp,
    worker: &str,
    queues: &[&str],
    max: u32,
) -> Vec<Job> {
    let fetched = store
        .job_fetch_available(JobFetchParams {
            now,
            worker: worker.to_owned(),
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
            max,
            lease: LEASE,
        })
        .await
        .expect("fetch");
    for job in &fetched {
        assert_transition(Transition::Start, JobState::Ready, job);
    }
    fetched
}

/// Fetches up to `max` jobs of `queues` for [`WORKER`].
pub async fn fetch(store: &dyn Store, now: Timestamp, queues: &[&str], max: u32) -> Vec<Job> {
    fetch_as(store, now, WORKER, queues, max).await
}

/// Inserts `job` at `now` and fetches it: a running job.
pub async fn run_one(store: &dyn Store, now: Timestamp, job: NewJob) -> Job {
    let queue = job.queue.clone();
    let id = job.id;
    insert_one(store, now, job).await;
    let fetched = fetch(store, now, &[&queue], 1).await;
    assert_eq!(fetched.len(), 1, "the job was not fetched");
    assert_eq!(fetched[0].id, id, "another job was fetched");
    fetched.into_iter().next().expect("one job")
}

/// The job as stored now; it must exist.
pub async fn get(store: &dyn Store, id: JobId) -> Job {
    store
        .job_get(id)
        .await
        .expect("get")
        .expect("the job exists")
}

/// The lease a running job is held under.
pub fn lease_of(job: &Job) -> LeaseId {
    job.lease.as_ref().expect("a running job has a lease").id
}

/// An ack completing `job` with `result`.
pub fn complete(job: &Job, result: Option<&str>) -> Ack {
    Ack {
        id: job.id,
        lease_id: lease_of(job),
        kind: AckKind::Complete {
            result: result.map(json),
        },
    }
}

/// An ack failing `job` with `report`.
pub fn fail(job: &Job, report: FailureReport) -> Ack {
    Ack {
        id: job.id,
        lease_id: lease_of(job),
        kind: AckKind::Fail(report),
    }
}

/// A retryable failure of type `kind`.
pub fn failure(kind: &str) -> FailureReport {
    FailureReport {
        kind: kind.to_owned(),
        message: format!("{kind} raised"),
        traceback: None,
        retry_in: None,
        retryable: true,
    }
}

/// The jitter [`ack`] passes with every ack: the whole backoff ceiling, so a case knows the
/// exact `run_at` of a retry.
pub const JITTER: Jitter = Jitter::FULL;

/// Sends `acks` at `now`, each with [`JITTER`]; every applied one must be a legal move out
/// of `running`.
pub async fn ack(store: &dyn Store, now: Timestamp, acks: Vec<Ack>) -> Vec<AckOutcome> {
    ack_releasing(store, now, acks).await.outcomes
}

/// Sends `acks` at `now`, as [`ack`], and returns the dependants they released too: each
/// a legal move out of `waiting`.
pub async fn ack_releasing(store: &dyn Store, now: Timestamp, acks: Vec<Ack>) -> AckManyOutcome {
    let acks = acks.into_iter().map(|ack| (ack, JITTER)).collect();
    ack_jittered_releasing(store, now, acks).await
}

/// Sends `acks` at `now`, each with its own jitter; every applied one must be a legal move
/// out of `running`.
pub async fn ack_jittered(
    store: &dyn Store,
    now: Timestamp,
    acks: Vec<(Ack, Jitter)>,
) -> Vec<AckOutcome> {
    ack_jittered_releasing(store, now, acks).await.outcomes
}

/// Sends `acks` at `now`, each with its own jitter, and returns the dependants they
/// released too: every applied ack a legal move out of `running`, every dependant out of
/// `waiting`.
async fn ack_jittered_releasing(
    store: &dyn Store,
    now: Timestamp,
    acks: Vec<(Ack, Jitter)>,
) -> AckManyOutcome {
    let acked = store
        .job_ack_many(JobAckManyParams { now, acks })
        .await
        .expect("ack");
    for outcome in &acked.outcomes {
        if let AckOutcome::Applied(job) = outcome {
            assert_legal(JobState::Running, job);
        }
    }
    for job in &acked.dependants {
        assert_legal(JobState::Waiting, job);
    }
    acked
}

/// The job of an applied ack.
pub fn applied(outcome: AckOutcome) -> Job {
    match outcome {
        AckOutcome::Applied(job) => job,
        AckOutcome::Refused(why) => panic!("the ack was refused: {why:?}"),
    }
}

/// Promotes and expires what is due at `now`, up to 1,000 of each.
pub async fn promote(store: &dyn Store, now: Timestamp) -> PromoteOutcome {
    store
        .job_promote_due(JobPromoteDueParams { now, limit: 1_000 })
        .await
        .expect("promote")
}

/// Inserts `jobs` with a single attempt each, fetches and fails them: dead jobs.
pub async fn make_dead(store: &dyn Store, now: Timestamp, jobs: Vec<NewJob>) -> Vec<Job> {
    let mut dead = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        job.max_attempts = 1;
        let running = run_one(store, now, job).await;
        let buried = applied(
            ack(store, now, vec![fail(&running, failure("Boom"))])
                .await
                .remove(0),
        );
        assert_transition(Transition::Bury, JobState::Running, &buried);
        dead.push(buried);
    }
    dead
}
