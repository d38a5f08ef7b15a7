//! Text the database would refuse: a NUL character (`U+0000`) in a path,
//! a query parameter, a JSON body or a form. PostgreSQL cannot store it in
//! `TEXT`, so accepting it would end in a 500 deep in a handler; it is
//! answered here, for every route and every extractor, with a 422 naming
//! the field. The rule is this module.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use serde_json::Value;
use tower::{Layer, Service};

use crate::error::{Error, code_of, json_error};
use crate::web::ServiceFuture;

/// The layer, on every plugin route (so also on the plain router); it
/// reads JSON and form bodies up to `limit` bytes (the body limit).
#[derive(Clone, Copy)]
pub(crate) struct RejectNulLayer {
    limit: usize,
}

impl RejectNulLayer {
    pub(crate) fn new(limit: usize) -> Self {
        RejectNulLayer { limit }
    }
}

impl<S> Layer<S> for RejectNulLayer {
    type Service = RejectNul<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RejectNul {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`RejectNulLayer`].
#[derive(Clone)]
pub(crate) struct RejectNul<S> {
    inner: S,
    limit: usize,
}

impl<S> Service<Request> for RejectNul<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Either<S::Future, Ready<Result<Response, Infallible>>>, ServiceFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if let Some(field) = nul_in_uri(request.uri()) {
            return Either::Left(Either::Right(ready(Ok(refusal(&field)))));
        }
        let Some(kind) = text_body(request.headers()) else {
            // The common case, without a body to read: no allocation.
            return Either::Left(Either::Left(self.inner.call(request)));
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit;
        Either::Right(Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match to_bytes(body, limit).await {
                Ok(bytes) => bytes,
                // Past the body limit, or a client that went away.
                Err(_) => {
                    let status = StatusCode::PAYLOAD_TOO_LARGE;
                    return Ok(json_error(
                        status,
                        code_of(status),
                        "request body too large",
                    ));
                }
            };
            if let Some(field) = nul_in_body(kind, &bytes) {
                return Ok(refusal(&field));
            }
            inner
                .call(Request::from_parts(parts, Body::from(bytes)))
                .await
        }))
    }
}

pub(super) fn refusal(field: &str) -> Response {
    Error::Validation(format!(
        "`{field}` must not contain a NUL character (U+0000)"
    ))
    .into_response()
}

#[derive(Clone, Copy)]
enum Kind {
    Json,
    Form,
}

fn text_body(headers: &HeaderMap) -> Option<Kind> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Some(Kind::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(Kind::Form)
    } else {
        None
    }
}

/// `%00` in the path, or a query parameter holding NUL.
pub(super) fn nul_in_uri(uri: &Uri) -> Option<String> {
    // Most URIs escape nothing: one scan for `%` settles them.
    let text = uri.path_and_query().map_or("", |pq| pq.as_str());
    if !text.bytes().any(|byte| byte == b'%') {
        return None;
    }
    if has_nul_escape(uri.path().as_bytes()) {
        return Some("path".to_owned());
    }
    let query = uri.query()?;
    if !has_nul_escape(query.as_bytes()) {
        return None;
    }
    nul_in_pairs(query.as_bytes()).or_else(|| Some("query".to_owned()))
}

fn nul_in_body(kind: Kind, bytes: &[u8]) -> Option<String> {
    match kind {
        Kind::Json => {
            // A cheap look first: NUL is either raw or the escape `\u0000`.
            if !bytes.contains(&0) && !contains(bytes, b"\\u0000") {
                return None;
            }
            // Not JSON: the extractor says so; NUL may sit in a key too.
            let value: Value = serde_json::from_slice(bytes).ok()?;
            nul_in_json(&value, &mut String::new())
        }
        Kind::Form => {
            if !bytes.contains(&0) && !contains(bytes, b"%00") {
                return None;
            }
            nul_in_pairs(bytes).or_else(|| Some("body".to_owned()))
        }
    }
}

/// `%00` anywhere: a plain scan, on every request (`str::contains` sets up
/// a two-way searcher first, which costs a short path more than the scan:
/// 420 instructions a request where this takes a few per byte).
fn has_nul_escape(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && bytes.get(i + 1..i + 3) == Some(b"00"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first urlencoded pair whose name or value holds NUL: its name.
fn nul_in_pairs(bytes: &[u8]) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
    pairs
        .into_iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| printable(&name))
}

/// The path (`items[2].nom`) of the first string, key or value, holding NUL.
fn nul_in_json(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(if path.is_empty() {
            "body".to_owned()
        } else {
            path.clone()
        }),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let len = path.len();
            path.push_str(&format!("[{index}]"));
            let found = nul_in_json(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&printable(name));
            let found = if name.contains('\0') {
                Some(path.clone())
            } else {
                nul_in_json(item, path)
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// A field name as a message can show it.
fn printable(name: &str) -> String {
    name.replace('\0', "\\u0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_name_the_field() {
        let body = br#"{"items": [{"nom": "ok"}, {"nom": "a\u0000b"}]}"#;
        assert_eq!(
            nul_in_body(Kind::Json, body).as_deref(),
            Some("items[1].nom")
        );
        assert_eq!(
            nul_in_body(Kind::Json, br#"{"email": "\u0000"}"#).as_deref(),
            Some("email")
        );
        assert_eq!(
            nul_in_body(Kind::Json, br#""\u0000""#).as_deref(),
            Some("body")
        );
        // An escaped backslash before `u0000` is text, not NUL.
        assert_eq!(nul_in_body(Kind::Json, br#"{"a": "\\u0000"}"#), None);
        assert_eq!(nul_in_body(Kind::Json, br#"{"a": "fine"}"#), None);
    }

    #[test]
    fn forms_queries_and_paths() {
        assert_eq!(
            nul_in_body(Kind::Form, b"username=a%00&password=x").as_deref(),
            Some("username")
        );
        let uri: Uri = "/items?page=1&name=x%00y".parse().expect("uri");
        assert_eq!(nul_in_uri(&uri).as_deref(), Some("name"));
        let uri: Uri = "/items/a%00".parse().expect("uri");
        assert_eq!(nul_in_uri(&uri).as_deref(), Some("path"));
        let uri: Uri = "/items?page=100".parse().expect("uri");
        assert_eq!(nul_in_uri(&uri), None);
    }
}
