//! Schedules as stores keep them, and the Params of the `schedule_*` methods of
//! [`crate::Store`].
//!
//! Each fire of a schedule becomes one job whose unique key is [`fire_key`]: the schedule's
//! name and the fire time. Stores make the job in the same transaction that advances the
//! schedule's `next_fire_at` (a guarded update), so a fire can never make two jobs, even
//! when two nodes fire at once or one fails over mid-way.

use std::time::Duration;
use workhorse_core::{
    Backoff, JobId, Json, Misfire, NewJob, Overlap, ScheduleSpec, Timestamp, clock,
};

/// How long a finished job made by a schedule still holds its fire key: long past any
/// failover, so that even a replayed fire finds the job it already made.
pub const FIRE_KEY_WINDOW: Duration = Duration::from_hours(7 * 24);

/// Fires kept in a schedule's history; older ones are dropped as new ones are recorded.
pub const HISTORY_KEPT: u32 = 100;

/// The unique key of the job a fire makes: `schedule:<name>:<fire time, RFC 3339>`.
pub fn fire_key(name: &str, fire_at: Timestamp) -> String {
    format!("schedule:{name}:{fire_at}")
}

/// Schedules one owner may declare in one set ([`crate::Store::schedule_declare_set`]).
pub const MAX_SCHEDULES_PER_SET: usize = 1_000;

/// The job each fire of a schedule makes: the task's options, all but its unique key (the
/// fire key takes that place, so each fire makes one job).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleJob {
    pub task: String,
    pub queue: String,
    pub priority: u8,
    /// A JSON array.
    pub args: Json,
    /// A JSON object.
    pub kwargs: Json,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Time limit of one attempt.
    pub timeout: Option<Duration>,
    /// A job not started this long after its fire time expires.
    pub expires: Option<Duration>,
    pub concurrency_key: Option<String>,
    pub concurrency_limit: u32,
    /// Free-form JSON kept with each job.
    pub metadata: Option<Json>,
}

impl ScheduleJob {
    /// The new job for the fire at `fire_at` of schedule `name`: ready at once, keyed by
    /// [`fire_key`], carrying `schedule` and `scheduled_for`, expiring `expires` after
    /// `fire_at` (the same for a replayed fire).
    pub fn new_job(&self, name: &str, fire_at: Timestamp) -> NewJob {
        let mut job = NewJob::new(self.task.clone());
        job.queue.clone_from(&self.queue);
        job.priority = self.priority;
        job.args = self.args.clone();
        job.kwargs = self.kwargs.clone();
        job.metadata.clone_from(&self.metadata);
        job.max_attempts = self.max_attempts;
        job.backoff = self.backoff;
        job.timeout = self.timeout;
        job.expires_at = self.expires.map(|after| clock::add(fire_at, after));
        job.concurrency_key.clone_from(&self.concurrency_key);
        job.concurrency_limit = self.concurrency_limit;
        job.key = Some(fire_key(name, fire_at));
        job.key_window = Some(FIRE_KEY_WINDOW);
        job.schedule = Some(name.to_owned());
        job.scheduled_for = Some(fire_at);
        job
    }
}

/// What a producer declares: everything of a schedule except its state.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDefinition {
    pub name: String,
    pub spec: ScheduleSpec,
    pub job: ScheduleJob,
    pub misfire: Misfire,
    /// A fire late by at most this much runs whatever the misfire policy.
    pub grace: Duration,
    pub overlap: Overlap,
}

/// A stored schedule: its definition and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub definition: ScheduleDefinition,
    /// The app that declared it with its set ([`crate::Store::schedule_declare_set`]);
    /// `None`: made at run time (one `schedule_upsert`), never deleted by a set.
    pub owner: Option<String>,
    pub paused: bool,
    /// The next fire not yet dealt with; `None`: it never fires again.
    pub next_fire_at: Option<Timestamp>,
    /// The latest fire that made a job.
    pub last_fire_at: Option<Timestamp>,
    /// The job of that fire (what `overlap: skip` looks at).
    pub last_job: Option<JobId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// For [`crate::Store::schedule_upsert`].
#[derive(Debug, Clone)]
pub struct ScheduleUpsertParams {
    pub now: Timestamp,
    pub definition: ScheduleDefinition,
    /// `Some`: set it; `None`: a new schedule runs, an existing one keeps its setting.
    pub paused: Option<bool>,
}

/// What [`crate::Store::schedule_upsert`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleUpserted {
    pub schedule: Schedule,
    /// A new schedule.
    pub created: bool,
    /// Anything changed (always `true` when created).
    pub changed: bool,
}

/// One schedule of a declared set, with the paused state to set (`None`: keep).
#[derive(Debug, Clone)]
pub struct SetSchedule {
    pub definition: ScheduleDefinition,
    pub paused: Option<bool>,
}

/// For [`crate::Store::schedule_declare_set`]: every schedule `owner` declares, by name
/// (at most [`MAX_SCHEDULES_PER_SET`]).
#[derive(Debug, Clone)]
pub struct ScheduleDeclareSetParams {
    pub now: Timestamp,
    pub owner: String,
    pub schedules: Vec<SetSchedule>,
}

/// What [`crate::Store::schedule_declare_set`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleSetDeclared {
    /// The set is stored: each schedule upserted (in the order given), and the owner's
    /// schedules missing from the set deleted (by name).
    Declared {
        upserted: Vec<ScheduleUpserted>,
        deleted: Vec<String>,
    },
    /// Nothing changed: `name` already belongs to `owner` (`None`: made at run time).
    Conflict { name: String, owner: Option<String> },
}

/// For [`crate::Store::schedule_set_paused`].
#[derive(Debug, Clone)]
pub struct ScheduleSetPausedParams {
    pub now: Timestamp,
    pub name: String,
    pub paused: bool,
}

/// For [`crate::Store::schedule_fire_due`].
#[derive(Debug, Clone)]
pub struct ScheduleFireDueParams {
    pub now: Timestamp,
    /// At most this many schedules in one call (the rest wait for the next).
    pub limit: u32,
}

/// For [`crate::Store::schedule_trigger`].
#[derive(Debug, Clone)]
pub struct ScheduleTriggerParams {
    pub now: Timestamp,
    pub name: String,
}

/// For [`crate::Store::schedule_history`].
#[derive(Debug, Clone)]
pub struct ScheduleHistoryParams {
    pub name: String,
    /// At most this many fires, newest first.
    pub limit: u32,
}

/// What became of one fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// The fire made (or, replayed, found) this job.
    Job(JobId),
    /// No job: why (e.g. the previous fire's job still runs).
    Skipped(String),
}

/// One fire of a schedule, as its history records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub schedule: String,
    /// The fire time (for a trigger: when it was triggered).
    pub fire_at: Timestamp,
    pub outcome: FireOutcome,
    /// Whether it was triggered by hand rather than due.
    pub triggered: bool,
}

/// The reason recorded for a fire skipped by `overlap: skip`.
pub const SKIPPED_OVERLAP: &str = "skipped: the previous fire's job is still waiting or running";
