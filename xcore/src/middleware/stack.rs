//! The app's HTTP stack as one service around the router: request id,
//! tracing, panic recovery, axum's plain-text rejections rewritten as
//! JSON, `nosniff`, the body limit and NUL refused in the URI and in text
//! bodies.
//!
//! One service instead of a tower layer per concern, because
//! `Router::layer` wraps every route separately (a boxed clone of the whole
//! stack on each request) and each tower-http layer brings its own future,
//! body wrapper and extension. Here a request without a body, the common
//! case, costs one future with no allocation of its own besides what the
//! router does; each concern stays a function of its own module
//! (`request_id`, `json_errors`, `panic`, `text`).

use std::any::Any;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use http_body_util::Limited;
use tower::{Layer, Service, ServiceExt};

use super::request_id::{self, REQUEST_ID};
use super::{json_errors, panic, reject_nul, unread_body};
use crate::error::{code_of, json_error};
use crate::web::HandlerFuture;
use crate::web::PeerScope;

/// The router of a request with a body: NUL refused in JSON and form
/// bodies, and the body limit told to axum's extractors (the stream itself
/// is limited in [`Stack::route`]).
type WithBody = reject_nul::RejectNul<<DefaultBodyLimit as Layer<Router>>::Service>;

/// The stack around `router`; `limit` is the body limit in bytes.
#[derive(Clone)]
pub(crate) struct Stack {
    router: Router,
    with_body: WithBody,
    limit: usize,
    /// How long what a handler left of a body may take to arrive before
    /// the connection is closed instead (see `unread_body`).
    drain_for: Duration,
    /// The connection's peer, when served by `App::serve`.
    peer: Option<SocketAddr>,
}

impl Stack {
    pub(crate) fn new(router: Router, limit: usize, drain_for: Duration) -> Self {
        let with_body = reject_nul::RejectNulLayer::new(limit)
            .layer(DefaultBodyLimit::max(limit).layer(router.clone()));
        Stack {
            router,
            with_body,
            limit,
            drain_for,
            peer: None,
        }
    }

    /// The stack of a connection from `peer` (what `ClientAddr` reads,
    /// through [`PeerScope`]).
    pub(crate) fn for_peer(&self, peer: SocketAddr) -> Self {
        Stack {
            peer: Some(peer),
            ..self.clone()
        }
    }

    /// Where the request goes: straight to the router when it has no body.
    fn route(&self, request: Request) -> State {
        let has_body = !request.body().is_end_stream();
        if let Some(field) = reject_nul::nul_in_uri(request.uri()) {
            return State::Ready(Some(unread(reject_nul::refusal(&field), has_body)));
        }
        if !has_body {
            return State::Route(self.router.clone().call(request));
        }
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.limit as u64) {
            return State::Ready(Some(unread(too_large(), true)));
        }
        // A handler reading the stream itself meets the limit too; what it
        // leaves is read before the answer goes.
        let (limit, drain_for) = (self.limit, self.drain_for);
        let (parts, body) = request.into_parts();
        let (body, unread) = unread_body::track(body);
        let request = Request::from_parts(parts, Body::new(Limited::new(body, limit)));
        let service = self.with_body.clone();
        State::Boxed(Box::pin(async move {
            let response = match service.oneshot(request).await {
                Ok(response) => response.map(Body::new),
                Err(never) => match never {},
            };
            unread.settle(response, limit, drain_for).await
        }))
    }
}

impl Service<Request> for Stack {
    type Response = Response;
    type Error = Infallible;
    type Future = StackFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.serve(request)
    }
}

/// What hyper calls, by reference: no clone of the stack per request.
impl hyper::service::Service<axum::http::Request<hyper::body::Incoming>> for Stack {
    type Response = Response;
    type Error = Infallible;
    type Future = StackFuture;

    fn call(&self, request: axum::http::Request<hyper::body::Incoming>) -> Self::Future {
        self.serve(request.map(Body::new))
    }
}

impl Stack {
    fn serve(&self, request: Request) -> StackFuture {
        let span = request_span(&request);
        // The id names the request in the log (the client's own, or a new
        // one), and the answer tells it; with nothing logged, there is none.
        let (mut request_id, mut started) = (None, None);
        if !span.is_disabled() {
            let id = match request.headers().get(&REQUEST_ID) {
                Some(id) => id.clone(),
                None => request_id::next(),
            };
            span.record("request_id", id.to_str().unwrap_or("-"));
            request_id = Some(id);
            // The clock is read only when the request's end is logged.
            started =
                tracing::enabled!(target: LOG_TARGET, tracing::Level::INFO).then(Instant::now);
        }
        let state = {
            let _entered = span.enter();
            let _peer = PeerScope::enter(self.peer);
            match catch_unwind(AssertUnwindSafe(|| self.route(request))) {
                Ok(state) => state,
                Err(payload) => State::Ready(Some(panic::respond(payload))),
            }
        };
        StackFuture {
            state,
            request_id,
            span,
            peer: self.peer,
            started,
            rewritten: false,
        }
    }
}

/// Where the request's end is logged, with its status and latency.
const LOG_TARGET: &str = "xcore::request";

/// The request's span, at the ERROR level so that it exists whenever
/// anything at all is logged (an error then names its request). It
/// carries the path but not the query string, which may hold secrets
/// (tokens in links); headers are never recorded.
fn request_span(request: &Request) -> tracing::Span {
    tracing::error_span!(
        target: LOG_TARGET,
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = tracing::field::Empty,
    )
}

/// An answer given before a body was read: the connection closes after it
/// (the body is not read past the limit, nor before the router).
fn unread(mut response: Response, has_body: bool) -> Response {
    if has_body {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn too_large() -> Response {
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    json_error(status, code_of(status), "request body too large")
}

/// What the request waits on.
enum State {
    /// The router, for a request without a body.
    Route(RouteFuture<Infallible>),
    /// A request with a body, or an error response being rewritten.
    Boxed(HandlerFuture),
    /// Answered before the router (`None` once taken).
    Ready(Option<Response>),
}

/// The future of [`Stack`].
pub(crate) struct StackFuture {
    state: State,
    request_id: Option<HeaderValue>,
    span: tracing::Span,
    peer: Option<SocketAddr>,
    started: Option<Instant>,
    /// Whether the response went through `json_errors` already.
    rewritten: bool,
}

impl Future for StackFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is `Unpin` (the router's future is boxed inside).
        let this = self.get_mut();
        let _entered = this.span.enter();
        let _peer = PeerScope::enter(this.peer);
        loop {
            let polled: Result<Poll<Response>, Box<dyn Any + Send>> = match &mut this.state {
                State::Route(future) => catch_unwind(AssertUnwindSafe(|| {
                    Pin::new(&mut *future)
                        .poll(cx)
                        .map(|result| result.unwrap_or_else(|never| match never {}))
                })),
                State::Boxed(future) => catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))),
                // `None`: polled after it answered, which a server never does.
                State::Ready(response) => {
                    Ok(Poll::Ready(response.take().unwrap_or_else(|| {
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    })))
                }
            };
            let response = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(response)) => response,
                Err(payload) => panic::respond(payload),
            };
            if !this.rewritten && json_errors::needs_rewrite(&response) {
                this.rewritten = true;
                this.state = State::Boxed(Box::pin(json_errors::rewrite(response)));
                continue;
            }
            this.state = State::Ready(None);
            return Poll::Ready(Ok(finish(response, this.request_id.take(), this.started)));
        }
    }
}

/// Made at compile time: an answer pays no check of its bytes.
static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// The headers every answer carries, and the request's end in the log.
fn finish(
    mut response: Response,
    request_id: Option<HeaderValue>,
    started: Option<Instant>,
) -> Response {
    let headers = response.headers_mut();
    // Browsers must not guess a JSON answer is HTML or script.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    if let Some(id) = request_id {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(started) = started {
        let status = response.status().as_u16();
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // At WARN, not ERROR: the error itself is logged where it is made
        // (`Error`'s response), and a load-shedding 503 is no fault.
        if response.status().is_server_error() {
            tracing::warn!(target: LOG_TARGET, status, latency_us, "request failed");
        } else {
            tracing::info!(target: LOG_TARGET, status, latency_us, "request finished");
        }
    }
    response
}
