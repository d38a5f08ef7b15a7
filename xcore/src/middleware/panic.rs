use std::any::Any;

use axum::http::StatusCode;
use axum::response::Response;

use crate::error::json_error;

/// A panicking handler: log it (inside the request's span, so with its
/// request id) and answer a generic 500; the server keeps serving.
pub(super) fn respond(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    tracing::error!(panic = %detail, "handler panicked");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal server error",
    )
}
