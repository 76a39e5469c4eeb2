//! The Workhorse HTTP server: the JSON API under `/v1`, the WebSocket worker session, the
//! `OpenAPI` document, auth (API tokens) and TLS.
//!
//! Handlers are thin: they parse ([`extract`]), call the [`Engine`], and map the answer;
//! every error becomes problem+json in one file ([`error`]).
//!
//! The entry is [`run`]: a bound listener, an engine, the HTTP settings and a shutdown
//! token ([`run_tls`] for HTTPS). The server knows only the engine; which store a node runs
//! on, and starting the engine's services, is `workhorse-node`'s business.

mod acks;
pub mod auth;
mod dashboard;
pub mod error;
mod events;
pub mod extract;
mod metrics;
mod openapi;
#[cfg(feature = "otel")]
mod otel;
mod routes;
mod serve;
pub mod tls;
mod trace_context;
mod ws;

pub use error::ApiError;
pub use openapi::ApiDoc;
pub use serve::{ServerError, run, run_tls};
pub use tls::TlsFiles;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;
use workhorse_core::limits;
use workhorse_engine::Engine;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body (and WebSocket message) accepted, in bytes; default 1 MiB.
    pub max_body_bytes: usize,
    /// `Some`: every request but `/healthz` (and the dashboard page) needs one of these
    /// tokens, with a role that allows it. `None`: no auth.
    pub auth: Option<auth::Tokens>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            auth: None,
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) config: ServerConfig,
    /// Cancelled when the server shuts down: long-polls answer early, sessions close.
    pub(crate) shutdown: CancellationToken,
    /// The open WebSocket worker sessions (`GET /v1/workers`).
    pub(crate) workers: ws::WorkerRegistry,
}

/// The whole API as a router. Long-polls and worker sessions it serves end only by
/// themselves; [`run`] also ends them at shutdown.
pub fn router(engine: Engine, config: ServerConfig) -> Router {
    router_with_shutdown(engine, config, CancellationToken::new())
}

pub(crate) fn router_with_shutdown(
    engine: Engine,
    config: ServerConfig,
    shutdown: CancellationToken,
) -> Router {
    let body_limit = DefaultBodyLimit::max(config.max_body_bytes);
    let tokens = config.auth.clone();
    let state = AppState {
        engine,
        config,
        shutdown,
        workers: ws::WorkerRegistry::default(),
    };
    let router = routes::api()
        .route("/v1/workers/connect", axum::routing::get(ws::connect))
        .route("/v1/workers", axum::routing::get(ws::list))
        .merge(dashboard::routes())
        .fallback(routes::health::unknown_route)
        .method_not_allowed_fallback(routes::health::method_not_allowed);
    // Inside the trace layer, so refused requests are logged too (never their token).
    let router = match tokens {
        Some(tokens) => router.layer(axum::middleware::from_fn_with_state(tokens, auth::require)),
        None => router,
    };
    router
        .layer(body_limit)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request, as tower-http's default but with any `access_token` in the
/// query redacted: this layer sees the request before auth takes the token out.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let span = tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %auth::redacted(request.uri()),
        version = ?request.version(),
    );
    #[cfg(feature = "otel")]
    otel::continue_request_trace(&span, request.headers());
    span
}
