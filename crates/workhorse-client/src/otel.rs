//! OpenTelemetry export (feature `otel`): spans go to an OTLP/HTTP (protobuf) collector.
//!
//! [`layer_from_env`] builds a `tracing` layer when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (service name from `OTEL_SERVICE_NAME`, default `workhorse`; the other standard
//! `OTEL_EXPORTER_OTLP_*` variables apply too). Add it to your subscriber and keep the
//! returned [`Telemetry`] until the process ends: dropping it flushes the spans not yet sent.
//!
//! With the layer installed, each job run's `job` span is a child of the span that
//! enqueued the job (the stored `metadata.traceparent`), and jobs enqueued from a run are
//! children of its span.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! let (otel, _telemetry) = match workhorse_client::otel::layer_from_env("my-worker") {
//!     Ok(Some((layer, telemetry))) => (Some(layer), Some(telemetry)),
//!     Ok(None) => (None, None),
//!     Err(e) => panic!("{e}"),
//! };
//! tracing_subscriber::registry()
//!     .with(otel)
//!     .with(tracing_subscriber::fmt::layer())
//!     .init();
//! ```

use crate::worker::TraceParent;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
use tracing_subscriber::registry::LookupSpan;

/// The standard variable naming the collector; export is on when it is set.
pub const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The standard variable naming this service in traces.
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";

/// The exporter of a process. Dropping it flushes and shuts the exporter down.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Sends every finished span not yet sent, and waits for the collector's answer.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "cannot flush spans to the OpenTelemetry collector");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // Shutdown flushes first; an exporter already shut down has nothing left to send.
        let _ = self.provider.shutdown();
    }
}

/// An OpenTelemetry export error, with the exporter's own message.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up OpenTelemetry export: {0}")]
pub struct OtelError(String);

/// The `tracing` layer that exports spans, and the exporter's [`Telemetry`] guard.
pub type OtelLayer<S> = (OpenTelemetryLayer<S, Tracer>, Telemetry);

/// A layer exporting spans to the collector `OTEL_EXPORTER_OTLP_ENDPOINT` names (spans go
/// to its `/v1/traces`), or `None` when that is unset or empty. `default_service` names
/// the service unless `OTEL_SERVICE_NAME` does.
pub fn layer_from_env<S>(default_service: &str) -> Result<Option<OtelLayer<S>>, OtelError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let endpoint = std::env::var(ENDPOINT_ENV).unwrap_or_default();
    if endpoint.trim().is_empty() {
        return Ok(None);
    }
    build(None, default_service).map(Some)
}

/// A layer exporting spans to `traces_url`, the collector's full OTLP/HTTP traces URL
/// (`http://host:4318/v1/traces`). `default_service` names the service unless
/// `OTEL_SERVICE_NAME` does.
pub fn layer_to<S>(traces_url: &str, default_service: &str) -> Result<OtelLayer<S>, OtelError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    build(Some(traces_url), default_service)
}

fn build<S>(traces_url: Option<&str>, default_service: &str) -> Result<OtelLayer<S>, OtelError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(url) = traces_url {
        exporter = exporter.with_endpoint(url);
    }
    let exporter = exporter.build().map_err(|e| OtelError(e.to_string()))?;
    let service_set = std::env::var(SERVICE_NAME_ENV).is_ok_and(|name| !name.trim().is_empty());
    let resource = if service_set {
        Resource::builder().build()
    } else {
        Resource::builder()
            .with_service_name(default_service.to_owned())
            .build()
    };
    let provider = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(exporter)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("workhorse"));
    Ok((layer, Telemetry { provider }))
}

/// Makes `span` (not yet entered) a child of the remote span `parent` names.
pub(crate) fn continue_trace(span: &tracing::Span, parent: TraceParent<'_>) {
    let (Ok(trace_id), Ok(span_id)) = (
        TraceId::from_hex(parent.trace_id()),
        SpanId::from_hex(parent.parent_span_id()),
    ) else {
        return;
    };
    let flags = if parent.sampled() {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let remote = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    // Fails only without an OpenTelemetry layer, when there is nothing to continue.
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}
