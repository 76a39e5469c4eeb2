//! W3C trace context (`traceparent`), shared by the server (which stores a valid one with
//! each job) and the SDKs (which continue it in job runs).

/// A valid W3C `traceparent` (`version-traceid-parentid-flags`), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent<'a> {
    value: &'a str,
}

impl TraceParent<'_> {
    /// The current tracing span as a version-00 `traceparent`, when an OpenTelemetry layer
    /// records it (OpenTelemetry's ids display as lowercase hex).
    #[cfg(feature = "otel")]
    #[must_use]
    pub fn current() -> Option<String> {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let context = tracing::Span::current().context();
        let span = context.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| {
            format!(
                "00-{}-{}-{:02x}",
                span_context.trace_id(),
                span_context.span_id(),
                span_context.trace_flags().to_u8()
            )
        })
    }
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

#[cfg(test)]
mod tests {
    use super::TraceParent;

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
}
