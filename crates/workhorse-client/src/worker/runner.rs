//! Runs one job: calls its handler in its own task, enforces the time limit, watches the
//! job's cancellation token, and reports the outcome to the session.

use super::context::{JobContext, StopReason};
use super::error::TaskError;
use super::handler::Handler;
use super::trace::in_job_scope;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinError;
use tokio::time::Instant;
use workhorse_core::{JobId, Json};
use workhorse_protocol::AckItem;

/// What a runner tells its session.
#[derive(Debug)]
pub(crate) enum RunnerEvent {
    /// The job's outcome is known: send `ack`, unless the job's session is gone.
    Settled { id: JobId, ack: AckItem },
    /// The task is over and its slot free. Always follows `Settled`.
    Exited { id: JobId },
}

/// How a runner is set up.
pub(crate) struct Runner {
    pub handler: Option<Arc<dyn Handler>>,
    pub events: UnboundedSender<RunnerEvent>,
    /// How long a stopped task may take to wind down before it is aborted.
    pub cancel_grace: Duration,
}

impl Runner {
    /// Runs the job to its end and reports `Settled` then `Exited`.
    pub(crate) async fn run(self, ctx: JobContext) {
        let id = ctx.id();
        let Some(handler) = self.handler.clone() else {
            let error = TaskError::new(
                "UnknownTask",
                format!("this worker has no task named {:?}", ctx.task()),
            );
            self.report(&ctx, fail(&ctx, error));
            self.exited(id);
            return;
        };
        let mut task = tokio::spawn(in_job_scope(&ctx, handler.call(ctx.clone())));
        let time_limit = time_limit(ctx.timeout());
        let finished = tokio::select! {
            biased;
            () = ctx.cancelled() => None,
            () = time_limit => {
                ctx.stop(StopReason::TimeLimit);
                None
            }
            joined = &mut task => Some(joined),
        };
        // Once told to stop, the job is reported stopped even if its task got to return
        // in the meantime (it may have returned *because* it was told to stop).
        if let Some(joined) = finished.filter(|_| ctx.stop_reason().is_none()) {
            self.report(&ctx, outcome_ack(&ctx, joined));
        } else {
            let reason = ctx.stop_reason().unwrap_or(StopReason::Shutdown);
            self.report(&ctx, stopped_ack(&ctx, reason));
            // A stopped task may clean up within the grace period, but never holds its
            // slot longer; at shutdown nothing waits.
            let grace = if reason == StopReason::Shutdown {
                Duration::ZERO
            } else {
                self.cancel_grace
            };
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
            }
        }
        self.exited(id);
    }

    fn report(&self, ctx: &JobContext, ack: AckItem) {
        // The session is gone only when the worker stopped; then nobody needs the outcome.
        let _ = self.events.send(RunnerEvent::Settled { id: ctx.id(), ack });
    }

    fn exited(&self, id: JobId) {
        let _ = self.events.send(RunnerEvent::Exited { id });
    }
}

/// Resolves when the time limit passes; never without one.
async fn time_limit(timeout: Option<Duration>) {
    match timeout {
        Some(timeout) => tokio::time::sleep_until(Instant::now() + timeout).await,
        None => std::future::pending().await,
    }
}

/// The ack for a handler that ran to its end (or panicked).
fn outcome_ack(ctx: &JobContext, joined: Result<Result<Json, TaskError>, JoinError>) -> AckItem {
    match joined {
        Ok(Ok(result)) => AckItem::Complete {
            id: ctx.id(),
            lease_id: ctx.lease_id(),
            result: Some(result),
        },
        Ok(Err(error)) => fail(ctx, error),
        Err(join) => fail(ctx, TaskError::new("Panic", panic_message(join))),
    }
}

/// The ack for a job stopped before its handler finished. A lost lease is still acked
/// when its session lives: the server refuses the ack but frees the session's slot.
fn stopped_ack(ctx: &JobContext, reason: StopReason) -> AckItem {
    let error = match reason {
        StopReason::LeaseLost => TaskError::new(
            reason.kind(),
            "the worker lost the job's lease while it ran",
        ),
        StopReason::Cancelled => {
            TaskError::fatal("the job was cancelled while it ran").with_kind(reason.kind())
        }
        StopReason::TimeLimit => TaskError::new(
            reason.kind(),
            format!(
                "the attempt ran past its time limit of {} ms",
                ctx.timeout().map_or(0, |t| t.as_millis())
            ),
        ),
        // Retry at once: the interruption says nothing about the job.
        StopReason::Shutdown => TaskError::retry_after(Duration::ZERO)
            .with_kind(reason.kind())
            .with_message("the worker shut down before the task finished"),
    };
    fail(ctx, error)
}

fn fail(ctx: &JobContext, error: TaskError) -> AckItem {
    let (error, retry_in_ms, retryable) = error.into_report();
    AckItem::Fail {
        id: ctx.id(),
        lease_id: ctx.lease_id(),
        error,
        retry_in_ms,
        retryable,
    }
}

fn panic_message(join: JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .map_or_else(
                || "the task panicked".to_owned(),
                |m| format!("the task panicked: {m}"),
            ),
        Err(join) => format!("the task was aborted: {join}"),
    }
}

/// The ack for a job cancelled before it started.
pub(crate) fn cancelled_ack(ctx: &JobContext) -> AckItem {
    stopped_ack(ctx, StopReason::Cancelled)
}
