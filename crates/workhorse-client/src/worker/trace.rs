//! W3C trace context for job runs: each run happens inside a `job` span carrying the job's
//! id, task, queue, attempt and the trace it belongs to (parsed from the
//! `metadata.traceparent` the server stored at enqueue), and a job enqueued from inside a
//! run carries that trace on.
//!
//! Without a subscriber that wants the span, a run costs one task-local scope and nothing
//! is parsed or formatted; the trace context is read only when a run enqueues a job.

use super::context::JobContext;
use std::future::Future;
use tracing::Instrument as _;
use tracing::field::Empty;
pub use workhorse_protocol::TraceParent;

tokio::task_local! {
    /// The job whose handler the current task runs.
    static CURRENT_JOB: JobContext;
}

/// `handler` run inside the job's span, with the job known to enqueues made from it.
pub(crate) fn in_job_scope<F: Future>(
    ctx: &JobContext,
    handler: F,
) -> impl Future<Output = F::Output> + use<F> {
    CURRENT_JOB.scope(ctx.clone(), handler.instrument(job_span(ctx)))
}

/// The `job` span of one run. Its fields are formatted only when a subscriber wants it.
fn job_span(ctx: &JobContext) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        job_id = %ctx.id(),
        task = ctx.task(),
        queue = ctx.queue(),
        attempt = ctx.attempt(),
        trace_id = Empty,
        parent_span_id = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(parent) = ctx.traceparent() {
        span.record("trace_id", parent.trace_id());
        span.record("parent_span_id", parent.parent_span_id());
        #[cfg(feature = "otel")]
        crate::otel::continue_trace(&span, parent);
    }
    span
}

/// The `traceparent` an enqueue made right now should send: the current span's when it is
/// exported (OpenTelemetry), else the running job's, if the caller runs inside a job.
pub(crate) fn outgoing_traceparent() -> Option<String> {
    #[cfg(feature = "otel")]
    if let Some(traceparent) = workhorse_protocol::TraceParent::current() {
        return Some(traceparent);
    }
    CURRENT_JOB
        .try_with(|ctx| ctx.traceparent().map(|parent| parent.as_str().to_owned()))
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_job_nothing_is_sent() {
        assert_eq!(outgoing_traceparent(), None);
    }
}
