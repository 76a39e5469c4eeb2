//! OpenTelemetry (feature `otel`): the request span continues the caller's trace, and an
//! enqueued job stores the request span's own context, so the worker's job span is its
//! child: caller → `request` (enqueue) → `job`.
//!
//! The spans are exported by whatever OpenTelemetry layer the process installed (the
//! `workhorse` binary does when `OTEL_EXPORTER_OTLP_ENDPOINT` is set); without one these
//! calls do nothing.

use crate::trace_context::TraceContext;
use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Makes the request's `span` (not yet entered) a child of the caller's valid `traceparent`.
pub(crate) fn continue_request_trace(span: &tracing::Span, headers: &HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let caller = TraceContext::from_headers(headers);
    let Some(traceparent) = caller.traceparent() else {
        return;
    };
    let mut carrier = std::collections::HashMap::with_capacity(2);
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    if let Some(tracestate) = caller.tracestate() {
        carrier.insert("tracestate".to_owned(), tracestate.to_owned());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    // Fails only without an OpenTelemetry layer, when there is nothing to continue.
    let _ = span.set_parent(parent);
}
