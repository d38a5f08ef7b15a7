//! Answers that carry a secret: tokens, a new API key, a TOTP secret,
//! recovery codes. RFC 6749 §5.1 asks for `Cache-Control: no-store` and
//! `Pragma: no-cache` on them, so no shared cache, proxy or browser
//! history keeps a copy.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::openapi::{Operation, OperationOutput};

/// `T`, answered with `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) struct NoStore<T>(pub(crate) T);

impl<T: IntoResponse> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Described as what it wraps.
impl<T: OperationOutput> OperationOutput for NoStore<T> {
    fn describe(op: &mut Operation<'_>) {
        T::describe(op);
    }
}
