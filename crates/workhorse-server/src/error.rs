//! The one place where errors become HTTP responses: every error a request can meet is
//! answered as `application/problem+json` ([`Problem`], RFC 9457) with a message a person
//! understands and, where known, the request field at fault.
//!
//! | cause | status |
//! |---|---|
//! | body is not JSON | 400 |
//! | unknown field, wrong type, invalid value, bad name, out-of-range number | 422 |
//! | body over the configured limit; a batch over its item limit | 413 |
//! | no or an unknown API token (auth on) | 401 |
//! | a token whose role may not do this | 403 |
//! | unknown job, unknown route | 404 |
//! | stale `lease_id`; retry of a job that is not dead; a schedule set naming a schedule it does not own | 409 |
//! | method not allowed | 405 |
//! | store unavailable | 503 |
//! | anything else (a bug) | 500 |
//!
//! A worker's WebSocket session is answered the same way, in an `error` frame
//! ([`ApiError::frame`]): a broken protocol (no `hello`, a frame that is not a message) is a
//! 400 and ends the session; a 503 is marked retryable and the session stays.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use workhorse_core::JobId;
use workhorse_core::job::InvalidJob;
use workhorse_engine::{EngineError, StoreError};
use workhorse_protocol::{Problem, ServerMessage, WsStep};

const PROBLEM_BASE: &str = "https://workhorse.dev/problems/";

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: String) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail,
            field: None,
        }
    }

    /// Names the request field at fault.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// 400: the body is not JSON at all.
    pub fn malformed(detail: impl Into<String>) -> Self {
        let status = StatusCode::BAD_REQUEST;
        Self::new(status, "malformed-json", "Malformed JSON", detail.into())
    }

    /// 400: the request cannot be understood (e.g. a plain GET on the WebSocket route).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        let status = StatusCode::BAD_REQUEST;
        Self::new(status, "bad-request", "Bad request", detail.into())
    }

    /// 422: well-formed JSON whose content breaks a rule.
    pub fn invalid(detail: impl Into<String>) -> Self {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        Self::new(status, "invalid-request", "Invalid request", detail.into())
    }

    /// 413: too large a body or batch.
    pub fn too_large(detail: impl Into<String>) -> Self {
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        Self::new(status, "too-large", "Request too large", detail.into())
    }

    /// 401: no or an unknown API token. The caller adds `WWW-Authenticate`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let status = StatusCode::UNAUTHORIZED;
        Self::new(status, "unauthorized", "Unauthorized", detail.into())
    }

    /// 403: the token's role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        let status = StatusCode::FORBIDDEN;
        Self::new(status, "forbidden", "Forbidden", detail.into())
    }

    /// 404: no such job or route.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }

    /// 405: the route exists, the method does not.
    pub fn method_not_allowed() -> Self {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        let detail = "this route does not accept that method".to_owned();
        Self::new(status, "method-not-allowed", "Method not allowed", detail)
    }

    /// 400: a worker session broke the protocol (no `hello`, a frame that is not a message).
    pub fn protocol(detail: impl Into<String>) -> Self {
        let status = StatusCode::BAD_REQUEST;
        Self::new(
            status,
            "protocol-violation",
            "Protocol violation",
            detail.into(),
        )
    }

    /// 503: the store cannot serve now; retry later.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let status = StatusCode::SERVICE_UNAVAILABLE;
        Self::new(status, "unavailable", "Service unavailable", detail.into())
    }

    /// 500: a bug.
    pub fn internal(detail: impl Into<String>) -> Self {
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        Self::new(status, "internal", "Internal error", detail.into())
    }

    /// Whether the same request may succeed later unchanged: the store could not serve now,
    /// and nothing was changed.
    pub fn is_retryable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }

    /// This error as a worker session's `error` frame about `step` and the jobs it named.
    pub fn frame(&self, step: Option<WsStep>, jobs: Vec<JobId>) -> ServerMessage {
        ServerMessage::Error {
            problem: self.problem(),
            retryable: self.is_retryable(),
            failed: step,
            jobs,
        }
    }

    /// The problem document this error is answered with.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), detail = %self.detail, "request failed");
        } else {
            tracing::debug!(status = self.status.as_u16(), detail = %self.detail, "request refused");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
        (self.status, content_type, body).into_response()
    }
}

impl From<InvalidJob> for ApiError {
    fn from(err: InvalidJob) -> Self {
        ApiError::invalid(err.message).with_field(err.field)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Invalid(detail) => ApiError::invalid(detail),
            StoreError::Conflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail).with_field("id")
            }
            StoreError::Unavailable(detail) => ApiError::unavailable(detail),
            StoreError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Invalid(invalid) => invalid.into(),
            EngineError::TooMany { what, .. } => {
                let field = match what {
                    "the batch" => "jobs",
                    "the ack" => "acks",
                    "the heartbeat" => "beats",
                    other => other,
                };
                ApiError::too_large(err.to_string()).with_field(field)
            }
            EngineError::UnknownJob(_) | EngineError::UnknownWorkflow(_) => {
                ApiError::not_found(err.to_string())
            }
            EngineError::InvalidWorkflow(invalid) => {
                ApiError::invalid(invalid.message).with_field(invalid.field)
            }
            EngineError::LeaseLost(_) => {
                let status = StatusCode::CONFLICT;
                ApiError::new(status, "lease-lost", "Lease lost", err.to_string())
                    .with_field("lease_id")
            }
            EngineError::NotRedrivable { .. } => {
                let status = StatusCode::CONFLICT;
                ApiError::new(
                    status,
                    "not-redrivable",
                    "Job not redrivable",
                    err.to_string(),
                )
            }
            EngineError::ScheduleOwned { .. } => {
                let status = StatusCode::CONFLICT;
                ApiError::new(status, "schedule-owned", "Schedule owned", err.to_string())
                    .with_field("schedules")
            }
            EngineError::Store(store) => store.into(),
        }
    }
}

/// A body that deserialized as JSON but not as the expected type, or did not parse.
pub(crate) fn from_json_error(err: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = err.inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::malformed(format!("the request body is not valid JSON: {inner}"))
        }
        Category::Data => {
            let path = err.path().to_string();
            let message = inner.to_string();
            // serde_path_to_error's path already ends at an unknown field, but stops at the
            // parent of a missing one.
            let field = missing_field(&message)
                .map(|name| join_path(&path, name))
                .or_else(|| (path != ".").then_some(path));
            let detail = match &field {
                Some(field) => format!("{field}: {message}"),
                None => message,
            };
            let error = ApiError::invalid(detail);
            match field {
                Some(field) => error.with_field(field),
                None => error,
            }
        }
    }
}

/// A query string that does not fit the expected parameters.
pub(crate) fn from_query_error(message: &str) -> ApiError {
    let error = ApiError::invalid(message.to_owned());
    match named_field(message) {
        Some(field) => error.with_field(field),
        None => error,
    }
}

/// The field serde names in "unknown field `x`" or "missing field `x`".
fn named_field(message: &str) -> Option<&str> {
    ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| quoted_after(message, prefix))
}

/// The field serde names in "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    quoted_after(message, "missing field `")
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let at = message.find(prefix)?;
    message[at + prefix.len()..].split('`').next()
}

fn join_path(path: &str, name: &str) -> String {
    if path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_outage_is_a_retryable_session_frame() {
        let outage = EngineError::Store(StoreError::Unavailable("down".into()));
        let frame = ApiError::from(outage).frame(Some(WsStep::Ack), vec![JobId::new()]);
        let wire = serde_json::to_value(&frame).expect("json");
        assert_eq!(wire["type"], "error");
        assert_eq!(wire["problem"]["status"], 503);
        assert_eq!(wire["retryable"], true);
        assert_eq!(wire["failed"], "ack");
        assert_eq!(wire["jobs"].as_array().map(Vec::len), Some(1));

        let refused = ApiError::protocol("no hello").frame(None, Vec::new());
        let wire = serde_json::to_value(&refused).expect("json");
        assert_eq!(wire["problem"]["status"], 400);
        assert_eq!(wire["retryable"], false);
        assert!(wire.get("failed").is_none());
    }

    #[test]
    fn serde_field_names_are_found() {
        assert_eq!(
            named_field("unknown field `priorty`, expected one of `task`"),
            Some("priorty")
        );
        assert_eq!(named_field("missing field `task` at line 1"), Some("task"));
        assert_eq!(named_field("invalid type: string"), None);
        assert_eq!(join_path(".", "a"), "a");
        assert_eq!(join_path("jobs[0]", "a"), "jobs[0].a");
    }
}
