//! The HTTP stack every xcore app gets: request id, tracing, JSON errors,
//! panic recovery, body limit, text the database would refuse (NUL),
//! `X-Content-Type-Options: nosniff`, `GET /health` (alive), `GET /ready`
//! (the database and the cache answer), `/metrics` when enabled, a JSON
//! 404; and, when configured, CORS, compression, security headers and a
//! request timeout.

mod json_errors;
mod panic;
mod reject_nul;
mod request_id;
mod stack;
mod unread_body;

pub(crate) use reject_nul::RejectNulLayer;
pub(crate) use stack::Stack;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::web::AppState;

/// The liveness probe, which the app serves itself (no plugin may take it).
pub(crate) const HEALTH: &str = "/health";

/// The readiness probe: 200 only once every plugin's start hook has
/// returned (and until shutdown begins), and when the database and the
/// cache answer.
pub(crate) const READY: &str = "/ready";

/// The paths the app serves itself, which no plugin may take.
pub(crate) fn reserved(config: &Config) -> Vec<String> {
    let mut paths = vec![HEALTH.to_owned(), READY.to_owned()];
    if config.metrics.enabled {
        paths.push(config.metrics.path.clone());
    }
    paths
}

/// Adds the app-level routes, and the layers configuration asks for, to
/// the mounted plugins.
pub(crate) fn wrap(router: Router, state: &AppState, metrics: Option<Arc<Metrics>>) -> Router {
    let config = state.config();
    let ready_state = state.clone();
    let mut router = router
        .route(HEALTH, get(health))
        .route(READY, get(move || ready(ready_state.clone())))
        // Before the metrics layer, so unmatched requests are counted too.
        .fallback(not_found);
    if let Some(metrics) = metrics {
        let (scraped, scrape_state) = (Arc::clone(&metrics), state.clone());
        router = router
            .route(
                &config.metrics.path,
                get(move |headers: axum::http::HeaderMap| {
                    let openmetrics = headers
                        .get(header::ACCEPT)
                        .and_then(|accept| accept.to_str().ok())
                        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
                    let text = scraped.render(&scrape_state, openmetrics);
                    let content_type = if openmetrics {
                        crate::metrics::OPENMETRICS
                    } else {
                        crate::metrics::PROMETHEUS_TEXT
                    };
                    async move { ([(header::CONTENT_TYPE, content_type)], text) }
                }),
            )
            .layer(axum::middleware::from_fn(move |request, next| {
                crate::metrics::track(Arc::clone(&metrics), request, next)
            }));
    }
    optional_layers(router, config)
}

/// The stack every request goes through, around the router [`wrap`] made.
pub(crate) fn stack(router: Router, config: &Config) -> Stack {
    Stack::new(
        router,
        config.http.body_limit_bytes,
        // Without a header timeout, unread bodies still get a bound.
        config
            .http
            .header_read_timeout()
            .unwrap_or(Duration::from_secs(10)),
    )
}

/// CORS, compression, security headers and the request timeout, each when
/// configured (`[http]`).
fn optional_layers(mut router: Router, config: &Config) -> Router {
    let http = &config.http;
    if http.request_timeout_secs > 0 {
        router = router.layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(http.request_timeout_secs),
        ));
    }
    if http.compression {
        router = router.layer(CompressionLayer::new());
    }
    if http.security_headers {
        for (name, value) in [
            (
                header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000; includeSubDomains",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ] {
            router = router.layer(SetResponseHeaderLayer::if_not_present(
                name,
                HeaderValue::from_static(value),
            ));
        }
    }
    let origins = &http.cors_origins.0;
    if !origins.is_empty() {
        let cors = CorsLayer::new()
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(Duration::from_secs(600));
        let cors = if origins.iter().any(|o| o == "*") {
            cors.allow_origin(AllowOrigin::any())
        } else {
            let list: Vec<HeaderValue> = origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect();
            cors.allow_origin(list).allow_credentials(true)
        };
        router = router.layer(cors);
    }
    router
}

/// `GET /ready`: whether the services a request needs answer now.
async fn ready(state: AppState) -> Response {
    if !state.plugins_started() {
        let mut response = crate::error::json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "not ready: the plugins are starting (or stopping)",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(crate::error::RETRY_UNAVAILABLE),
        );
        return response;
    }
    let database = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(state.db().pool()),
    )
    .await
    .is_ok_and(|result| result.is_ok());
    let cache = state.cache().exists("xcore-ready-probe").await.is_ok();
    if database && cache {
        return axum::Json(json!({"status": "ready", "database": "ok", "cache": "ok"}))
            .into_response();
    }
    let down: Vec<&str> = [
        (!database).then_some("database"),
        (!cache).then_some("cache"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut response = crate::error::json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        &format!("not ready: {} unavailable", down.join(" and ")),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(crate::error::RETRY_UNAVAILABLE),
    );
    response
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

async fn not_found(method: Method, uri: Uri) -> Error {
    Error::NotFound(format!("no route for {method} {}", uri.path()))
}
