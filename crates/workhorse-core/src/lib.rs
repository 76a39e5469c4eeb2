//! The Workhorse domain, with no I/O.
//!
//! - [`state`]: the job states and the one table of legal transitions every store obeys.
//! - [`job`]: the job, its identifiers, its payloads and what a new job asks for.
//! - [`retry`]: the retry policy (exponential backoff with cap and full jitter) and the
//!   decisions taken when an attempt fails or a lease is lost.
//! - [`queue`]: queue names and per-queue controls (pause, max running, rate limit).
//! - [`schedule`]: when a schedule fires (cron in a time zone with DST rules, interval,
//!   one-off) and which missed fires a scheduler runs.
//! - [`clock`]: the injected clock; nothing else reads the wall clock.
//! - [`limits`]: every named limit on input.
//! - [`workflow`]: chains, groups and chords compiled into jobs and dependency edges, and how
//!   a job receives its parents' results.

pub mod clock;
pub mod job;
pub mod limits;
pub mod queue;
pub mod retry;
pub mod schedule;
pub mod state;
pub mod workflow;

pub use clock::{Clock, ManualClock, SystemClock};
pub use job::{AttemptError, Job, JobId, Json, Lease, LeaseId, NewJob, Progress};
pub use queue::{QueueConfig, RateLimit};
pub use retry::{Backoff, FailureReport, Jitter, LeaseLoss, Outcome};
pub use schedule::{
    CronExpr, DueFires, Misfire, Overlap, ScheduleError, ScheduleSpec, Zone, due_fires,
};
pub use state::{JobState, Transition};
pub use workflow::{
    CompiledWorkflow, InvalidWorkflow, OnParentFailure, ResultPassing, Step, WorkflowId,
    WorkflowJob,
};

/// A point in time, microsecond precision (the precision stores keep).
pub type Timestamp = jiff::Timestamp;
