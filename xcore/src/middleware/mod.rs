//! The HTTP stack every xcore app gets: request id, tracing, JSON errors,
//! panic recovery, body limit, text the database would refuse (NUL),
//! `X-Content-Type-Options: nosniff`, `GET /health` and a JSON 404.

mod json_errors;
mod panic;
mod text;

pub(crate) use text::RejectNulLayer;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::map_response;
use axum::routing::get;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};

use crate::config::Config;
use crate::error::Error;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The liveness probe, which the app serves itself (no plugin may take it).
pub(crate) const HEALTH: &str = "/health";

/// Adds the app-level routes and layers around the mounted plugins.
pub(crate) fn wrap(router: Router, config: &Config) -> Router {
    let limit = config.http.body_limit_bytes;
    router
        .route(HEALTH, get(health))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                        // The error itself is logged where it is made
                        // (`Error`'s response); a load-shedding 503 is no
                        // failure of the server's.
                        .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // Browsers must not guess a JSON answer is HTML or script.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(map_response(json_errors::rewrite))
                .layer(CatchPanicLayer::custom(panic::respond))
                .layer(RequestBodyLimitLayer::new(limit)),
        )
}

// The span carries the path but not the query string, which may hold
// secrets (tokens in links); headers are never recorded.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

async fn not_found(method: Method, uri: Uri) -> Error {
    Error::NotFound(format!("no route for {method} {}", uri.path()))
}
