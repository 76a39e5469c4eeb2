//! The dashboard: a single page (`/`) and its static assets (`/ui/...`), every byte embedded
//! in the binary so it works offline and needs no CDN.
//!
//! The page is plain HTML, CSS and JavaScript modules (`crates/workhorse-server/assets`);
//! it talks only to the public JSON API (`/v1/...`) and the event stream (`/v1/events`),
//! so everything it shows is also available to scripts. Routing inside the page uses the
//! URL fragment (`/#/jobs`), which is why `/` is the only HTML route.

mod assets;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use assets::Asset;

/// `/` (the page) and `/ui/{*path}` (its assets). Neither needs a token: the page holds no
/// data; every API call it makes carries the token the user signs in with.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(asset))
}

async fn index() -> Response {
    match assets::find("index.html") {
        Some(page) => serve(page),
        None => ApiError::internal("the dashboard page is missing from the build").into_response(),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    match assets::find(&path) {
        Some(asset) => serve(asset),
        None => ApiError::not_found(format!("no dashboard asset {path}")).into_response(),
    }
}

/// Nothing the page loads may come from elsewhere: the dashboard works offline by design.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Answers with the asset. `no-cache` makes the browser revalidate, so a new binary's page
/// is never mixed with an old binary's scripts (the assets are small; no `ETag` needed).
fn serve(asset: &Asset) -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}
