//! The one error type of xcore, and the single place where errors become HTTP.
//!
//! Every client error is answered with a 4xx and the body
//! `{"error": {"code": "...", "message": "..."}}`; every server error with a
//! generic 500 (or 503) whose details go to the log, never to the client.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Shorthand for `Result<T, xcore::Error>`, the return type of handlers and start-up code.
///
/// ```
/// async fn handler() -> xcore::Result<&'static str> {
///     Ok("hello")
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request was not authenticated. Each reason maps to a 401.
///
/// The messages are deliberately coarse: they tell a client what to do
/// (send a token, get a new one) without echoing the token or the
/// verification internals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No `Authorization: Bearer ...` header.
    #[error("missing bearer token")]
    Missing,
    /// A token was sent but is malformed, forged, uses another algorithm or key.
    #[error("invalid token")]
    Invalid,
    /// The token was valid once but its `exp` has passed.
    #[error("token expired")]
    Expired,
    /// A login with an unknown e-mail or a wrong password (one message for
    /// both, so the answer does not tell which e-mails exist).
    #[error("invalid e-mail or password")]
    BadCredentials,
    /// A wrong or expired second-factor code at login.
    #[error("wrong or expired code")]
    WrongCode,
}

/// Everything that can go wrong in xcore, at start-up or while serving a request.
///
/// Handlers return `xcore::Result<T>`; the variant decides the status code:
///
/// ```
/// use xcore::Error;
///
/// async fn find(id: u64) -> xcore::Result<String> {
///     if id == 0 {
///         return Err(Error::NotFound(format!("item {id} does not exist")));
///     }
///     Ok(format!("item {id}"))
/// }
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid bearer token. Answered with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(AuthFailure),
    /// 403: signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state (duplicate, last admin...).
    #[error("{0}")]
    Conflict(String),
    /// 422: well-formed, but the values are not acceptable.
    #[error("{0}")]
    Validation(String),
    /// 422: fields that broke their type's constraints or did not parse,
    /// every one of them; the body lists them under `fields`
    /// ([`crate::validation`]).
    #[error("{}", fields_summary(.0))]
    InvalidFields(Vec<FieldError>),
    /// 429: too many attempts; retry after this many seconds (`Retry-After`).
    #[error("too many attempts, retry in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// 503: a service the request needs is unavailable; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Invalid configuration, found at start-up.
    #[error("configuration error: {0}")]
    Config(String),
    /// The application cannot be assembled (conflicting plugins or routes).
    #[error("cannot assemble the application: {0}")]
    Setup(String),
    /// A token could not be created (bad key material, serialisation).
    #[error("token error: {0}")]
    Token(#[source] jsonwebtoken::errors::Error),
    /// I/O error, e.g. binding the listening socket.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Any other server-side failure. Logged; the client sees a generic 500.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wraps any error as an internal (500) error.
    ///
    /// ```
    /// let err = xcore::Error::internal(std::fmt::Error);
    /// assert_eq!(err.status(), xcore::http::StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(err.into())
    }

    /// A 422 for one field, as [`crate::validation`] reports a broken
    /// constraint: for checks a type's attributes cannot declare.
    ///
    /// ```
    /// let err = xcore::Error::invalid_field("nom", "taken", "is already taken");
    /// assert_eq!(err.to_string(), "invalid field: nom");
    /// ```
    pub fn invalid_field(
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Error::InvalidFields(vec![FieldError {
            path: path.into(),
            code: std::borrow::Cow::Borrowed(code),
            message: message.into(),
        }])
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Validation(_) | Error::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_)
            | Error::Setup(_)
            | Error::Token(_)
            | Error::Io(_)
            | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable `code` of the JSON error body.
    pub fn code(&self) -> &'static str {
        code_of(self.status())
    }
}

/// One input that was refused: where (`items[2].nom`, `.`-separated, with
/// `[index]` for list items; empty for the whole value), which rule (`length`,
/// `range`, `email`, … for a constraint; `type`, `missing`, `unknown_field`,
/// `invalid` for input that did not parse) and why, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldError {
    /// Where the value is in the input.
    pub path: String,
    /// The rule that refused it; stable, machine-readable.
    pub code: std::borrow::Cow<'static, str>,
    /// For people; may change between versions.
    pub message: String,
}

/// `2 invalid fields: nom, prix_centimes` (the message of the 422).
fn fields_summary(fields: &[FieldError]) -> String {
    let mut names: Vec<&str> = Vec::with_capacity(fields.len());
    for field in fields {
        let name = match field.path.as_str() {
            "" => "(the input)",
            path => path,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.as_slice() {
        [one] => format!("invalid field: {one}"),
        names => format!("{} invalid fields: {}", names.len(), names.join(", ")),
    }
}

/// The `code` of the JSON error body for a status: the one table, shared by
/// xcore's own errors and the rejections of axum's extractors.
pub(crate) fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        s if s.is_server_error() => "internal_error",
        _ => "client_error",
    }
}

// `main() -> xcore::Result<()>` prints the Debug form when start-up fails: make
// it the readable message plus its causes, not a struct dump.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// An error: every refused or failed request answers with this body.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub(crate) struct Body<'a> {
    error: Detail<'a>,
}

/// What went wrong: a stable machine-readable code and a readable message.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ErrorDetail")]
struct Detail<'a> {
    /// Stable, machine-readable: `not_found`, `validation_failed`, …
    code: &'a str,
    /// For people; may change between versions.
    message: &'a str,
    /// With `validation_failed`: every refused input.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

/// Why a request was refused, left in the answer's extensions so the
/// metrics count refusals by kind without each service knowing of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// An authentication failure (401), with its reason.
    Auth(&'static str),
    /// A route's rate limit said no (429).
    RateLimited,
    /// Too many login or code attempts (429).
    Throttled,
}

/// Seconds a client is asked to wait after a 503.
pub(crate) const RETRY_UNAVAILABLE: &str = "1";

/// Builds the JSON error response every part of xcore answers with.
pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_error_with(status, code, message, None)
}

fn json_error_with(
    status: StatusCode,
    code: &str,
    message: &str,
    fields: Option<&[FieldError]>,
) -> Response {
    let body = serde_json::to_vec(&Body {
        error: Detail {
            code,
            message,
            fields,
        },
    })
    .unwrap_or_else(|_| {
        br#"{"error":{"code":"internal_error","message":"internal error"}}"#.to_vec()
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // Details stay in the log (inside the request's span, so with its
            // request id); the client learns nothing about the internals.
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = ?self, "service unavailable");
            } else {
                tracing::error!(error = ?self, "request failed");
            }
            let message = match status {
                StatusCode::SERVICE_UNAVAILABLE => "service temporarily unavailable",
                _ => "internal server error",
            };
            let mut response = json_error(status, self.code(), message);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                // Every 503 says when to come back (RFC 9110 §10.2.3).
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_UNAVAILABLE),
                );
            }
            return response;
        }
        let fields = match &self {
            Error::InvalidFields(fields) => Some(fields.as_slice()),
            _ => None,
        };
        let mut response = json_error_with(status, self.code(), &self.to_string(), fields);
        if let Error::TooManyRequests { retry_after_secs } = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
            response.extensions_mut().insert(Refusal::Throttled);
        }
        if let Error::Unauthorized(reason) = self {
            // RFC 6750 §3: a missing token gets the bare challenge, a bad one names the error.
            let challenge = match reason {
                AuthFailure::Missing | AuthFailure::BadCredentials | AuthFailure::WrongCode => {
                    HeaderValue::from_static("Bearer")
                }
                _ => HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
            response
                .extensions_mut()
                .insert(Refusal::Auth(match reason {
                    AuthFailure::Missing => "missing_token",
                    AuthFailure::Invalid => "invalid_token",
                    AuthFailure::Expired => "expired_token",
                    AuthFailure::BadCredentials => "bad_credentials",
                    AuthFailure::WrongCode => "wrong_code",
                }));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        serde_json::from_slice(&bytes).expect("json body")
    }

    #[tokio::test]
    async fn client_errors_carry_code_and_message() {
        let response = Error::Conflict("email already registered".into()).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            body_json(response).await,
            serde_json::json!({"error": {"code": "conflict", "message": "email already registered"}})
        );
    }

    #[tokio::test]
    async fn internal_errors_hide_their_details() {
        let response = Error::internal("password column missing for user 42").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "internal_error");
        assert!(!body.to_string().contains("password"));
    }

    #[tokio::test]
    async fn unauthorized_sets_bearer_challenge() {
        let missing = Error::Unauthorized(AuthFailure::Missing).into_response();
        assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let invalid = Error::Unauthorized(AuthFailure::Expired).into_response();
        assert_eq!(
            invalid.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
    }

    #[test]
    fn debug_form_is_the_message_with_causes() {
        let err = Error::Config("no JWT secret".into());
        assert_eq!(format!("{err:?}"), "configuration error: no JWT secret");
    }
}
