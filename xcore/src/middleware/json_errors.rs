//! Turns axum's plain-text rejections (bad JSON, bad path parameter, 405,
//! 413...) into the JSON error body, so a client sees one error format
//! whatever produced the error and handlers can use plain axum extractors.

use axum::body::{Body, HttpBody, to_bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use crate::error::{RETRY_UNAVAILABLE, code_of, json_error};

/// Rejection bodies are one line; anything longer is not a rejection message.
const MAX_MESSAGE: usize = 4096;

/// Whether `response` is an error whose body is not the JSON error body:
/// bodiless, or axum's plain text.
pub(super) fn needs_rewrite<B>(response: &Response<B>) -> bool {
    let status = response.status();
    (status.is_client_error() || status.is_server_error()) && is_plain(response.headers())
}

/// The JSON error body for a response [`needs_rewrite`] picked, keeping its
/// headers; any other response as it is.
pub(super) async fn rewrite<B>(response: Response<B>) -> Response
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    if !needs_rewrite(&response) {
        return response.map(Body::new);
    }
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body = Body::new(body);
    let message = if status.is_server_error() {
        None
    } else {
        to_bytes(body, MAX_MESSAGE)
            .await
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let message = message.unwrap_or_else(|| default_message(status));
    let mut rewritten = json_error(status, code_of(status), &message);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().append(name.clone(), value.clone());
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        rewritten
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static(RETRY_UNAVAILABLE));
    }
    rewritten
}

/// Rejections are bodiless or `text/plain`; a JSON or HTML error body chosen
/// by a handler is left alone.
fn is_plain(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|v| v.starts_with("text/plain")),
    }
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => "service temporarily unavailable".to_owned(),
        s if s.is_server_error() => "internal server error".to_owned(),
        s => s
            .canonical_reason()
            .unwrap_or("request rejected")
            .to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn rewritten(status: StatusCode, body: &'static str) -> (Response, serde_json::Value) {
        let response = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(header::ALLOW, "GET")
            .body(Body::from(body))
            .expect("response");
        let response = rewrite(response).await;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).expect("json");
        (Response::from_parts(parts, Body::empty()), json)
    }

    #[tokio::test]
    async fn plain_rejection_becomes_json_keeping_headers() {
        let (response, json) = rewritten(StatusCode::METHOD_NOT_ALLOWED, "").await;
        assert_eq!(response.headers()[header::ALLOW], "GET");
        assert_eq!(json["error"]["code"], "method_not_allowed");
        assert_eq!(json["error"]["message"], "method not allowed");
    }

    #[tokio::test]
    async fn rejection_text_becomes_the_message() {
        let (_, json) = rewritten(
            StatusCode::BAD_REQUEST,
            "Failed to parse the request body as JSON",
        )
        .await;
        assert_eq!(
            json["error"]["message"],
            "Failed to parse the request body as JSON"
        );
    }

    #[tokio::test]
    async fn chosen_error_formats_are_kept() {
        let response = Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from("<h1>gone</h1>"))
            .expect("response");
        let response = rewrite(response).await;
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html");
    }

    #[tokio::test]
    async fn server_error_text_is_not_echoed() {
        let (_, json) = rewritten(StatusCode::INTERNAL_SERVER_ERROR, "db password=hunter2").await;
        assert_eq!(json["error"]["message"], "internal server error");
    }
}
