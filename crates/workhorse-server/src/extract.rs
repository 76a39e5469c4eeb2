//! Request extractors whose rejections are problem+json ([`ApiError`]), so axum's default
//! plain-text rejections never reach a client.

use crate::AppState;
use crate::error::{ApiError, from_json_error, from_query_error};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use workhorse_core::{JobId, WorkflowId};

/// A JSON body of type `T`: 400 when it is not JSON, 422 when it does not fit `T` (unknown
/// field, wrong type), 413 when it is over the configured body limit.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(format!(
                    "the request body is larger than the limit of {} bytes",
                    state.config.max_body_bytes
                ))
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserializes a JSON body, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| from_json_error(&err))?;
    deserializer
        .end()
        .map_err(|err| ApiError::malformed(format!("the request body is not valid JSON: {err}")))?;
    Ok(value)
}

/// Query parameters of type `T`: 422 when they do not fit.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| from_query_error(&rejection.body_text()))
    }
}

/// The `{id}` of a job route. An id that is not a UUID names no job: 404.
#[derive(Debug, Clone, Copy)]
pub struct JobIdPath(pub JobId);

impl FromRequestParts<AppState> for JobIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        id_path(parts, state, "job").await.map(JobIdPath)
    }
}

/// The `{id}` of a workflow route. An id that is not a UUID names no workflow: 404.
#[derive(Debug, Clone, Copy)]
pub struct WorkflowIdPath(pub WorkflowId);

impl FromRequestParts<AppState> for WorkflowIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        id_path(parts, state, "workflow").await.map(WorkflowIdPath)
    }
}

/// The path's one segment parsed as the id of a `what`; one that does not parse names no
/// `what`, so it is a 404, not a 400.
async fn id_path<T: std::str::FromStr>(
    parts: &mut Parts,
    state: &AppState,
    what: &str,
) -> Result<T, ApiError> {
    let Path(raw) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    raw.parse::<T>()
        .map_err(|_| ApiError::not_found(format!("no {what} with id {raw:?} (not a UUID)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use workhorse_protocol::EnqueueRequest;

    fn refusal(body: &str) -> ApiError {
        parse_json::<EnqueueRequest>(body.as_bytes()).expect_err("refused")
    }

    #[test]
    fn json_errors_are_classified_and_name_their_field() {
        assert_eq!(refusal("{").status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            refusal(r#"{"task":"t"} x"#).status(),
            StatusCode::BAD_REQUEST
        );
        let unknown = refusal(r#"{"task":"t","priorty":3}"#);
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.problem().field.as_deref(), Some("priorty"));
        let wrong_type = refusal(r#"{"task":"t","max_attempts":"x"}"#);
        assert_eq!(wrong_type.problem().field.as_deref(), Some("max_attempts"));
        let missing = refusal(r#"{"queue":"q"}"#);
        assert_eq!(missing.problem().field.as_deref(), Some("task"));
    }

    #[test]
    fn nested_fields_are_named_with_their_path() {
        let err = parse_json::<workhorse_protocol::BatchEnqueueRequest>(
            br#"{"jobs":[{"task":"t"},{"task":"t","bogus":1}]}"#,
        )
        .expect_err("refused");
        assert_eq!(err.problem().field.as_deref(), Some("jobs[1].bogus"));
    }
}
