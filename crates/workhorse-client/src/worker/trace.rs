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

tokio::task_local! {
    /// The job whose handler the current task runs.
    static CURRENT_JOB: JobContext;
}

/// A valid W3C `traceparent` (`version-traceid-parentid-flags`), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent<'a> {
    value: &'a str,
}

impl<'a> TraceParent<'a> {
    /// `value` if it is a valid `traceparent`: 2, 32, 16 and 2 lowercase hex digits, ids
    /// not all zero, version not `ff` (a future version may append fields).
    pub fn parse(value: &'a str) -> Option<Self> {
        let mut parts = value.split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let extended = parts.next().is_some();
        let valid = hex(version, 2)
            && version != "ff"
            && !(extended && version == "00")
            && hex(trace_id, 32)
            && nonzero(trace_id)
            && hex(parent_id, 16)
            && nonzero(parent_id)
            && hex(flags, 2);
        valid.then_some(TraceParent { value })
    }

    /// The whole header value.
    pub fn as_str(&self) -> &'a str {
        self.value
    }

    /// The trace id: 32 hex digits.
    pub fn trace_id(&self) -> &'a str {
        &self.value[3..35]
    }

    /// The id of the span the job continues (the enqueuing span): 16 hex digits.
    pub fn parent_span_id(&self) -> &'a str {
        &self.value[36..52]
    }

    /// Whether the caller sampled the trace (flag `01`).
    pub fn sampled(&self) -> bool {
        u8::from_str_radix(&self.value[53..55], 16).is_ok_and(|flags| flags & 1 == 1)
    }
}

fn hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn nonzero(s: &str) -> bool {
    s.bytes().any(|b| b != b'0')
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
    if let Some(traceparent) = crate::otel::current_traceparent() {
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

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparents_are_split_into_their_ids() {
        let parent = TraceParent::parse(PARENT).expect("valid");
        assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.parent_span_id(), "00f067aa0ba902b7");
        assert!(parent.sampled());
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        assert!(
            !TraceParent::parse(future)
                .expect("future version")
                .sampled()
        );
    }

    #[test]
    fn invalid_traceparents_are_refused() {
        for value in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceParent::parse(value), None, "{value}");
        }
    }

    #[test]
    fn outside_a_job_nothing_is_sent() {
        assert_eq!(outgoing_traceparent(), None);
    }
}
