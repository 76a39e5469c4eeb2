//! API tokens with roles: the token file, the accepted set, and the check every request
//! passes when auth is on.
//!
//! A request names its token as `Authorization: Bearer <token>` (the event stream, which
//! browsers open without headers, may also take it as `?access_token=`; see
//! [`query_token`]). No or an unknown token:
//! 401 with `WWW-Authenticate: Bearer`; a token whose role may not do what the request
//! asks: 403. Either way nothing else runs, so nothing changes. [`required_role`] is the
//! one table of who may do what. The header is removed once checked, so no handler or
//! log line downstream can see the token.

mod file;
mod query_token;
mod role;
mod tokens;

pub use file::{
    NewToken, TOKEN_PREFIX, TOKENS_FILE, TokenFileError, TokenRecord, create_token, read_records,
    revoke_token, tokens_path,
};
pub(crate) use query_token::redacted;
pub use query_token::{ACCESS_TOKEN_PARAM, EVENTS_PATH};
pub use role::{PUBLIC_PREFIXES, Role, UnknownRole, is_public, required_role};
pub use tokens::{RELOAD_INTERVAL, Secret, Tokens, hash_hex};

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The middleware: lets a request through only with a token whose role allows it.
pub(crate) async fn require(
    State(tokens): State<Tokens>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let Some(needed) = required_role(request.method(), route, request.uri().path()) else {
        return next.run(request).await;
    };
    let query_token = query_token::take(request.method(), request.uri());
    let role = match &query_token {
        Some((token, _)) if bearer(request.headers()).is_none() => tokens.role_of(token),
        _ => bearer(request.headers()).and_then(|token| tokens.role_of(token)),
    };
    request.headers_mut().remove(header::AUTHORIZATION);
    if let Some((_, uri)) = query_token {
        *request.uri_mut() = uri;
    }
    match role {
        None => unauthorized(),
        Some(role) if !role.allows(needed) => ApiError::forbidden(format!(
            "a {role} token may not do this; it needs a {needed} (or admin) token"
        ))
        .into_response(),
        Some(_) => next.run(request).await,
    }
}

/// The token of an `Authorization: Bearer` header, if there is one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Declares the bearer scheme in the `OpenAPI` document. It applies when the server runs
/// with auth on; `/healthz` and the dashboard page never need it.
pub(crate) struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token (`workhorse tokens create --role ROLE`); needed when the server runs with --auth",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

fn unauthorized() -> Response {
    let mut response = ApiError::unauthorized(
        "this server requires an API token: send `Authorization: Bearer <token>` \
         (create one with `workhorse tokens create --role ROLE`)",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wh_x"),
        );
        assert_eq!(bearer(&headers), Some("wh_x"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  wh_y "),
        );
        assert_eq!(bearer(&headers), Some("wh_y"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
    }
}
