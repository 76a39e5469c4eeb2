//! What a running task knows about its job, and how it is told to stop.

use super::trace::TraceParent;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use workhorse_core::{JobId, Json, LeaseId, Progress};
use workhorse_protocol::FetchedJob;

/// Why a running job was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Someone cancelled the job; the server said so in a heartbeat answer.
    Cancelled,
    /// The worker no longer holds the job's lease (its session dropped, or the server
    /// refused a heartbeat): the job may already run elsewhere.
    LeaseLost,
    /// The attempt ran past its `timeout_ms`.
    TimeLimit,
    /// The worker is shutting down and its grace period is over.
    Shutdown,
}

impl StopReason {
    /// The error type recorded for the attempt.
    pub const fn kind(self) -> &'static str {
        match self {
            StopReason::Cancelled => "Cancelled",
            StopReason::LeaseLost => "LeaseLost",
            StopReason::TimeLimit => "TimeLimitExceeded",
            StopReason::Shutdown => "WorkerShutdown",
        }
    }
}

/// The job a task runs, handed to every handler call. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JobContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    job: FetchedJob,
    token: CancellationToken,
    reason: OnceLock<StopReason>,
    /// The latest progress not yet sent; taken by the next heartbeat.
    progress: Mutex<Option<Progress>>,
}

impl JobContext {
    pub(crate) fn new(job: FetchedJob) -> Self {
        JobContext {
            inner: Arc::new(Inner {
                job,
                token: CancellationToken::new(),
                reason: OnceLock::new(),
                progress: Mutex::new(None),
            }),
        }
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.inner.job.id
    }

    /// The task name.
    pub fn task(&self) -> &str {
        &self.inner.job.task
    }

    /// The queue the job came from.
    pub fn queue(&self) -> &str {
        &self.inner.job.queue
    }

    /// This attempt's number: 1 for the first run.
    pub fn attempt(&self) -> u32 {
        self.inner.job.attempt
    }

    /// Attempts the job may have in all.
    pub fn max_attempts(&self) -> u32 {
        self.inner.job.max_attempts
    }

    /// The job's positional arguments (a JSON array), as sent.
    pub fn args(&self) -> &Json {
        &self.inner.job.args
    }

    /// The job's keyword arguments (a JSON object), as sent.
    pub fn kwargs(&self) -> &Json {
        &self.inner.job.kwargs
    }

    /// The free-form metadata the producer attached.
    pub fn metadata(&self) -> Option<&Json> {
        self.inner.job.metadata.as_ref()
    }

    /// The W3C trace context the job continues: `metadata.traceparent`, stored at enqueue
    /// from the producer's `traceparent` header (or set in the metadata), when valid.
    pub fn traceparent(&self) -> Option<TraceParent<'_>> {
        #[derive(serde::Deserialize)]
        struct TraceFields<'a> {
            #[serde(borrow, default)]
            traceparent: Option<&'a str>,
        }
        let metadata = self.metadata()?.get();
        // Cheap test first: most jobs carry no trace context.
        if !metadata.contains("traceparent") {
            return None;
        }
        let fields: TraceFields<'_> = serde_json::from_str(metadata).ok()?;
        TraceParent::parse(fields.traceparent?)
    }

    /// The attempt's time limit, if the job has one.
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.job.timeout_ms.map(Duration::from_millis)
    }

    /// Reports how far the job has come (`fraction` is clamped to 0–1). Sent with the
    /// next heartbeat; a later report replaces one not yet sent.
    pub fn progress(&self, fraction: f64, message: impl Into<String>) {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        let message = message.into();
        let progress = Progress {
            fraction,
            message: (!message.is_empty()).then_some(message),
        };
        *lock(&self.inner.progress) = Some(progress);
    }

    /// A token cancelled when the job must stop (see [`StopReason`]). Pass it to whatever
    /// the task awaits so it stops promptly.
    pub fn token(&self) -> CancellationToken {
        self.inner.token.clone()
    }

    /// Resolves when the job must stop.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.inner.token.cancelled()
    }

    /// Whether the job was told to stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.token.is_cancelled()
    }

    /// Why the job was told to stop, once it was.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.inner.reason.get().copied()
    }

    /// Tells the task to stop; the first reason given sticks.
    pub(crate) fn stop(&self, reason: StopReason) {
        let _ = self.inner.reason.set(reason);
        self.inner.token.cancel();
    }

    pub(crate) fn lease_id(&self) -> LeaseId {
        self.inner.job.lease_id
    }

    /// The progress reported since the last heartbeat, if any.
    pub(crate) fn take_progress(&self) -> Option<Progress> {
        lock(&self.inner.progress).take()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is a plain Option: still meaningful after a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use workhorse_core::Timestamp;

    fn context() -> JobContext {
        JobContext::new(FetchedJob {
            id: JobId::new(),
            task: "t".into(),
            queue: "default".into(),
            args: Json::empty_array(),
            kwargs: Json::empty_object(),
            metadata: None,
            priority: 0,
            attempt: 1,
            max_attempts: 3,
            timeout_ms: Some(1_500),
            lease_id: LeaseId::new(),
            lease_expires_at: Timestamp::UNIX_EPOCH,
        })
    }

    #[test]
    fn progress_is_clamped_and_taken_once() {
        let ctx = context();
        ctx.progress(1.7, "");
        ctx.progress(f64::NAN, "starting");
        let progress = ctx.take_progress().expect("reported");
        assert!(progress.fraction.abs() < f64::EPSILON);
        assert_eq!(progress.message.as_deref(), Some("starting"));
        assert!(ctx.take_progress().is_none());
    }

    #[test]
    fn the_first_stop_reason_sticks() {
        let ctx = context();
        assert!(!ctx.is_cancelled());
        ctx.stop(StopReason::Cancelled);
        ctx.stop(StopReason::TimeLimit);
        assert!(ctx.is_cancelled());
        assert_eq!(ctx.stop_reason(), Some(StopReason::Cancelled));
        assert_eq!(ctx.timeout(), Some(Duration::from_millis(1_500)));
    }
}
