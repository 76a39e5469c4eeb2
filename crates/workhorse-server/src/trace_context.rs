//! W3C trace context on enqueue: a valid `traceparent` header (and its `tracestate`) is
//! stored with the job as `metadata.traceparent` (`metadata.tracestate`), so the worker
//! that runs the job receives it and can continue the trace. A value the body already
//! sets wins; a malformed header is ignored, as the W3C recommendation says.
//!
//! With the `otel` feature and an OpenTelemetry layer installed, the stored context names
//! the request's own span instead (see `otel`), so the job's span is that span's child.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde_json::{Map, Value};
use std::convert::Infallible;
use workhorse_core::Json;

/// The trace context headers of a request, if valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TraceContext {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for TraceContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        #[cfg_attr(not(feature = "otel"), expect(unused_mut, reason = "set under `otel`"))]
        let mut context = Self::from_headers(&parts.headers);
        // An exported request span continues the caller's trace (or starts one): the job
        // stores it, so the job's span becomes the request's child.
        #[cfg(feature = "otel")]
        if let Some(own) = workhorse_protocol::TraceParent::current() {
            context.traceparent = Some(own);
        }
        Ok(context)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

impl TraceContext {
    /// The request's valid `traceparent`, and its `tracestate` only alongside one.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let traceparent = header(headers, "traceparent")
            .filter(|value| valid_traceparent(value))
            .map(str::to_owned);
        // `tracestate` means nothing without a `traceparent`.
        let tracestate = traceparent
            .as_ref()
            .and(header(headers, "tracestate"))
            .filter(|value| !value.is_empty() && value.len() <= 512)
            .map(str::to_owned);
        TraceContext {
            traceparent,
            tracestate,
        }
    }

    /// The valid `traceparent` header.
    #[cfg_attr(not(feature = "otel"), expect(dead_code, reason = "read under `otel`"))]
    pub(crate) fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// The `tracestate` header that came with a valid `traceparent`.
    #[cfg_attr(not(feature = "otel"), expect(dead_code, reason = "read under `otel`"))]
    pub(crate) fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// `metadata` with the trace context added (an object is created if there is none; a
    /// non-object `metadata` is left as it is).
    pub(crate) fn attach(&self, metadata: Option<Json>) -> Result<Option<Json>, ApiError> {
        let Some(traceparent) = &self.traceparent else {
            return Ok(metadata);
        };
        let mut object = match &metadata {
            None => Map::new(),
            Some(json) => match json.parse::<Value>() {
                Ok(Value::Object(object)) => object,
                _ => return Ok(metadata),
            },
        };
        let fields = [
            ("traceparent", Some(traceparent)),
            ("tracestate", self.tracestate.as_ref()),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                object
                    .entry(key)
                    .or_insert_with(|| Value::String(value.clone()));
            }
        }
        Json::from_value(&object)
            .map(Some)
            .map_err(|err| ApiError::internal(format!("writing metadata: {err}")))
    }
}

/// `version-traceid-parentid-flags`: 2, 32, 16 and 2 lowercase hex digits; ids not all
/// zero; version `ff` is invalid.
fn valid_traceparent(value: &str) -> bool {
    workhorse_protocol::TraceParent::parse(value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn context(value: &str) -> TraceContext {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", value.parse().expect("header"));
        TraceContext::from_headers(&headers)
    }

    #[test]
    fn only_valid_traceparents_are_kept() {
        assert!(valid_traceparent(PARENT));
        assert!(!valid_traceparent(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        ));
        assert!(!valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"
        ));
        assert!(!valid_traceparent(
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!valid_traceparent(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        ));
        assert!(!valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
        ));
        assert_eq!(context("garbage"), TraceContext::default());
    }

    #[test]
    fn the_context_joins_the_metadata_without_overriding_it() {
        let ctx = context(PARENT);
        let added = ctx.attach(None).expect("attach").expect("metadata");
        assert_eq!(added.get(), format!(r#"{{"traceparent":"{PARENT}"}}"#));
        let own = Json::from_raw(r#"{"traceparent":"mine","user":7}"#).expect("json");
        let kept = ctx.attach(Some(own)).expect("attach").expect("metadata");
        assert_eq!(kept.parse::<Value>().expect("json")["traceparent"], "mine");
        let array = Json::from_raw("[1]").expect("json");
        assert_eq!(
            ctx.attach(Some(array))
                .expect("attach")
                .expect("kept")
                .get(),
            "[1]"
        );
        assert_eq!(TraceContext::default().attach(None).expect("attach"), None);
    }
}
