//! The response cache behind `#[cached]`: the [`CacheLayer`] the app wraps
//! a route carrying a [`CachePolicy`] in. The policy is checked
//! against its route by the same rules (`xcore_rules::cache`) that
//! `#[cached]` applies at compile time.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::future::Either;
use tower::{Layer, Service};

use super::flight::Flights;
use super::template::{Values, push_escaped};
use xcore_rules::cache::{self as rules, KeyTemplate, Part};

use crate::cache::{Cache, CachePolicy};
use crate::error::Error;
use crate::web::ServiceFuture;
use crate::web::guard::{CurrentUser, carries_credentials};

/// Largest response body the route cache stores; bigger ones pass uncached.
const MAX_CACHED_BODY: u64 = 8 * 1024 * 1024;

const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Content types stored as a one-number code instead of text, so a hit
/// rebuilds its header without parsing.
static KNOWN_TYPES: [HeaderValue; 4] = [
    HeaderValue::from_static("application/json"),
    HeaderValue::from_static("text/plain; charset=utf-8"),
    HeaderValue::from_static("text/html; charset=utf-8"),
    HeaderValue::from_static("application/octet-stream"),
];

/// The `x-cache` values, made at compile time (a hit pays no check of
/// their bytes).
static HIT: HeaderValue = HeaderValue::from_static("hit");
static MISS: HeaderValue = HeaderValue::from_static("miss");
static BYPASS: HeaderValue = HeaderValue::from_static("bypass");

/// What the layer needs, built once per route at start-up.
struct Shared {
    ttl: Duration,
    template: Option<KeyTemplate>,
    /// The entries' tags.
    tags: Vec<KeyTemplate>,
    /// The full key when it does not depend on the request.
    fixed_key: Option<String>,
    per_user: bool,
    /// A public route: a request with credentials is not served from,
    /// nor stored into, the shared entry (RFC 9111 §3.5).
    public: bool,
    vary_query: bool,
    cache: Cache,
    flights: Arc<Flights>,
}

/// Longest query string a default key holds; longer ones pass uncached.
const MAX_QUERY_IN_KEY: usize = 512;

/// Tower layer caching a route's successful `GET` responses (what
/// `#[cached]` expands to). Answers carry `x-cache: hit`, `miss` or
/// `bypass` (cache unreachable: served uncached).
#[derive(Clone)]
pub struct CacheLayer {
    shared: Arc<Shared>,
}

impl CacheLayer {
    /// A layer for a route at `path` (relative, with its `{params}`),
    /// storing into `cache`. `guarded` says whether the route has a guard:
    /// then entries are per user unless the policy is shared. Fails when the
    /// key template does not fit the route.
    pub fn new(
        policy: &CachePolicy,
        cache: Cache,
        path: &str,
        guarded: bool,
    ) -> Result<Self, Error> {
        let setup =
            |invalid: xcore_rules::Invalid| Error::Setup(format!("route {path}: {invalid}"));
        rules::ttl(policy.ttl().as_secs()).map_err(setup)?;
        if policy.is_shared() {
            rules::shared(guarded).map_err(setup)?;
        }
        let template = match policy.key_template() {
            Some(raw) => {
                let template = KeyTemplate::parse(raw).map_err(setup)?;
                let segments = xcore_rules::path::route(path).map_err(setup)?;
                let params: Vec<&str> = xcore_rules::path::params(&segments).collect();
                rules::fit(&template, path, &params, guarded, policy.is_shared()).map_err(setup)?;
                Some(template)
            }
            None => None,
        };
        let tags = policy
            .tag_templates()
            .map(|raw| {
                let tag = rules::tag(raw)?;
                let segments = xcore_rules::path::route(path)?;
                let params: Vec<&str> = xcore_rules::path::params(&segments).collect();
                rules::tag_fits(&tag, path, &params, guarded)?;
                Ok(tag)
            })
            .collect::<Result<Vec<_>, xcore_rules::Invalid>>()
            .map_err(setup)?;
        let fixed_key = template.as_ref().and_then(|t| match t.parts() {
            [] => Some(cache.full_key("")),
            [Part::Literal(text)] => Some(cache.full_key(text)),
            _ => None,
        });
        Ok(CacheLayer {
            shared: Arc::new(Shared {
                ttl: policy.ttl(),
                per_user: guarded && !policy.is_shared() && template.is_none(),
                public: !guarded,
                vary_query: policy.varies_by_query(),
                template,
                tags,
                fixed_key,
                cache,
                flights: Arc::default(),
            }),
        })
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = CacheService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CacheService {
            inner: Arc::new(inner),
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service made by [`CacheLayer`].
///
/// axum clones a route's service for every request; the handler behind it
/// sits in an `Arc` and is cloned only on a miss, so a hit costs no
/// allocation.
pub struct CacheService<S> {
    inner: Arc<S>,
    shared: Arc<Shared>,
}

impl<S> Clone for CacheService<S> {
    fn clone(&self) -> Self {
        CacheService {
            inner: Arc::clone(&self.inner),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> Service<Request> for CacheService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, ServiceFuture>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the handler is awaited on the clone that serves a miss.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The hot path: a hit in the in-process cache is answered without
        // allocating a future or waiting.
        if let Some(response) = self.shared.immediate_hit(&request) {
            return Either::Left(ready(Ok(tagged(response, HIT.clone()))));
        }
        let inner = S::clone(&self.inner);
        let shared = Arc::clone(&self.shared);
        Either::Right(Box::pin(
            async move { Ok(shared.respond(inner, request).await) },
        ))
    }
}

impl Shared {
    fn immediate_hit(&self, request: &Request) -> Option<Response> {
        if request.method() != Method::GET || self.bypassed(request) {
            return None;
        }
        let bytes = match &self.fixed_key {
            Some(key) => self.cache.get_full_now(key)??,
            None if self.template.is_none() => {
                let key = self.cache.full_key(&self.default_key(request)?);
                self.cache.get_full_now(&key)??
            }
            None => return None,
        };
        decode(bytes)
    }

    /// Requests the shared entry must not answer: credentials on a public
    /// route (its handler may read them, whatever its types say).
    fn bypassed(&self, request: &Request) -> bool {
        self.public && carries_credentials(request.headers())
    }

    /// The key when no template is given: the path (and the query, when the
    /// policy varies by it), plus the user on a guarded route. `None`: this
    /// request is not cached (no user where one is needed, or a query too
    /// long to make a key of).
    fn default_key(&self, request: &Request) -> Option<String> {
        let uri = request.uri();
        let mut key = String::with_capacity(64);
        key.push_str("route:");
        key.push_str(uri.path());
        if self.vary_query
            && let Some(query) = uri.query()
        {
            if query.len() > MAX_QUERY_IN_KEY {
                return None;
            }
            key.push('?');
            key.push_str(query);
        }
        if self.per_user {
            let user = request.extensions().get::<CurrentUser>()?;
            key.push_str("#user:");
            push_escaped(&mut key, user.id());
        }
        Some(key)
    }

    async fn respond<S>(&self, mut inner: S, request: Request) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        if request.method() != Method::GET {
            return call(&mut inner, request).await;
        }
        if self.bypassed(&request) {
            return tagged(call(&mut inner, request).await, BYPASS.clone());
        }
        let (request, key) = self.key_for(request).await;
        let Some((key, tags)) = key else {
            return call(&mut inner, request).await;
        };
        match self.cache.get_full(&key).await {
            Ok(Some(bytes)) => {
                if let Some(response) = decode(bytes) {
                    return tagged(response, HIT.clone());
                }
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "route cache unavailable, serving uncached");
                return tagged(call(&mut inner, request).await, BYPASS.clone());
            }
        }

        let _flight = self.flights.enter(&key).await;
        // Another request may have filled the entry while this one waited.
        if let Ok(Some(bytes)) = self.cache.get_full(&key).await
            && let Some(response) = decode(bytes)
        {
            return tagged(response, HIT.clone());
        }
        let response = call(&mut inner, request).await;
        if !cacheable(&response) {
            return tagged(response, MISS.clone());
        }
        let (parts, body) = response.into_parts();
        let body = match to_bytes(body, usize::MAX).await {
            Ok(body) => body,
            Err(err) => {
                return Error::internal(format!("response body failed while caching: {err}"))
                    .into_response();
            }
        };
        if let Err(err) = self
            .cache
            .set_full(
                &key,
                encode(parts.status, &parts.headers, &body),
                self.ttl,
                &tags,
            )
            .await
        {
            tracing::warn!(error = %err, "route cache unavailable, response not stored");
        }
        tagged(Response::from_parts(parts, Body::from(body)), MISS.clone())
    }

    /// The entry key and its tags (stored names), or `None` when this
    /// request cannot be cached (no user where one is needed).
    async fn key_for(&self, request: Request) -> (Request, Option<(String, Vec<String>)>) {
        let (request, values) = Values::of(request, self.template.iter().chain(&self.tags)).await;
        let key = match &self.template {
            Some(template) => values.render(template),
            None => self.default_key(&request),
        };
        let Some(key) = key else {
            return (request, None);
        };
        let mut tags = Vec::with_capacity(self.tags.len());
        for tag in &self.tags {
            match values.render(tag) {
                Some(tag) => tags.push(self.cache.tag_key(&tag)),
                None => return (request, None),
            }
        }
        (request, Some((self.cache.full_key(&key), tags)))
    }
}

async fn call<S>(inner: &mut S, request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    match tower::ServiceExt::ready(inner).await {
        Ok(service) => match service.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(never) => match never {},
    }
}

/// Successful, small enough, and not carrying a cookie meant for one client.
fn cacheable(response: &Response) -> bool {
    response.status().is_success()
        && !response.headers().contains_key(header::SET_COOKIE)
        && response
            .body()
            .size_hint()
            .upper()
            .is_some_and(|size| size <= MAX_CACHED_BODY)
}

fn tagged(mut response: Response, state: HeaderValue) -> Response {
    response.headers_mut().insert(X_CACHE, state);
    response
}

/// First byte of an entry: its layout (entries of another layout, from an
/// older version, read as misses and are overwritten).
const LAYOUT: u8 = 0xA1;

/// Response headers a stored entry does not keep: about the connection or
/// the message's framing, or set afresh on each answer.
fn kept(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "content-type"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "date"
            | "set-cookie"
            | "x-cache"
            | "x-request-id"
    )
}

// Entry layout: LAYOUT | status (u16) | content-type (u16 length, then the
// text; or u16::MAX - i for KNOWN_TYPES[i]) | header count (u16), each
// header as name and value (u16 length, then the bytes) | body.
fn encode(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Bytes {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map_or(&b""[..], HeaderValue::as_bytes);
    let known = KNOWN_TYPES
        .iter()
        .position(|known| known.as_bytes() == content_type);
    let text = match known {
        Some(_) => &[][..],
        None => &content_type[..content_type.len().min(usize::from(u16::MAX - 16))],
    };
    let extra: Vec<(&HeaderName, &HeaderValue)> = headers
        .iter()
        .filter(|(name, value)| {
            kept(name)
                && name.as_str().len() <= usize::from(u16::MAX)
                && value.len() <= usize::from(u16::MAX)
        })
        .take(usize::from(u16::MAX))
        .collect();
    let extra_len: usize = extra
        .iter()
        .map(|(name, value)| 4 + name.as_str().len() + value.len())
        .sum();
    let mut out = BytesMut::with_capacity(7 + text.len() + extra_len + body.len());
    out.put_u8(LAYOUT);
    out.put_u16(status.as_u16());
    match known {
        Some(index) => out.put_u16(u16::MAX - index as u16),
        None => out.put_u16(text.len() as u16),
    }
    out.put_slice(text);
    out.put_u16(extra.len() as u16);
    for (name, value) in extra {
        out.put_u16(name.as_str().len() as u16);
        out.put_slice(name.as_str().as_bytes());
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(body);
    out.freeze()
}

fn decode(mut bytes: Bytes) -> Option<Response> {
    if bytes.len() < 7 || bytes[0] != LAYOUT {
        return None;
    }
    let status = StatusCode::from_u16(u16::from_be_bytes([bytes[1], bytes[2]])).ok()?;
    let code = u16::from_be_bytes([bytes[3], bytes[4]]);
    let mut at = 5;
    let content_type = match usize::from(u16::MAX - code) {
        index if index < KNOWN_TYPES.len() => Some(KNOWN_TYPES[index].clone()),
        _ => {
            let text = bytes.get(at..at + usize::from(code))?;
            at += usize::from(code);
            (!text.is_empty())
                .then(|| HeaderValue::from_bytes(text))
                .transpose()
                .ok()?
        }
    };
    let read_u16 = |at: &mut usize| -> Option<usize> {
        let pair = bytes.get(*at..*at + 2)?;
        *at += 2;
        Some(usize::from(u16::from_be_bytes([pair[0], pair[1]])))
    };
    let count = read_u16(&mut at)?;
    // Room for what the answer gets on its way out too (content type,
    // `x-cache`, `nosniff`, the request id): no growing on a hit.
    let mut headers = HeaderMap::with_capacity(count + 4);
    for _ in 0..count {
        let length = read_u16(&mut at)?;
        let name = HeaderName::from_bytes(bytes.get(at..at + length)?).ok()?;
        at += length;
        let length = read_u16(&mut at)?;
        let value = HeaderValue::from_bytes(bytes.get(at..at + length)?).ok()?;
        at += length;
        headers.append(name, value);
    }
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    // Advancing keeps the same buffer (no reference-count traffic).
    bytes.advance(at);
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = status;
    parts.headers = headers;
    Some(Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for content_type in ["application/json", "image/svg+xml"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=60"),
            );
            headers.append("x-frame", HeaderValue::from_static("a"));
            headers.append("x-frame", HeaderValue::from_static("b"));
            headers.insert(header::SET_COOKIE, HeaderValue::from_static("s=1"));
            let entry = encode(StatusCode::CREATED, &headers, &Bytes::from_static(b"[1]"));
            let response = decode(entry).expect("decodes");
            assert_eq!(response.status(), StatusCode::CREATED);
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type);
            assert_eq!(response.headers()[header::CACHE_CONTROL], "max-age=60");
            assert_eq!(response.headers().get_all("x-frame").iter().count(), 2);
            assert!(response.headers().get(header::SET_COOKIE).is_none());
        }
        let bare =
            decode(encode(StatusCode::OK, &HeaderMap::new(), &Bytes::new())).expect("decodes");
        assert!(bare.headers().get(header::CONTENT_TYPE).is_none());
        assert!(decode(Bytes::from_static(b"\x00")).is_none());
        // An entry of the former layout is a miss.
        assert!(decode(Bytes::from_static(b"\x00\xc8\xff\xff[1]")).is_none());
    }

    fn policy_error(policy: CachePolicy, path: &str, guarded: bool) -> String {
        match CacheLayer::new(&policy, Cache::memory(1024), path, guarded) {
            Err(err) => err.to_string(),
            Ok(_) => String::new(),
        }
    }

    #[test]
    fn key_templates_must_fit_the_route() {
        assert!(policy_error(CachePolicy::ttl_secs(0), "/", false).contains("at least 1 second"));
        assert!(
            policy_error(CachePolicy::ttl_secs(5).key("x:{id}"), "/{name}", false)
                .contains("not a parameter")
        );
        assert!(
            policy_error(CachePolicy::ttl_secs(5).key("x:{user}"), "/", false).contains("no guard")
        );
        assert!(
            policy_error(CachePolicy::ttl_secs(5).key("x"), "/", true).contains("add `{user}`")
        );
        assert!(policy_error(CachePolicy::ttl_secs(5).key("x").shared(), "/", true).is_empty());
        assert!(
            policy_error(CachePolicy::ttl_secs(5).key("x:{id}:{user}"), "/{id}", true).is_empty()
        );
        assert!(policy_error(CachePolicy::ttl_secs(5).tags([""]), "/", false).contains("empty"));
        assert!(
            policy_error(CachePolicy::ttl_secs(5).tags(["p:{id}"]), "/", false)
                .contains("not a parameter")
        );
        assert!(
            policy_error(CachePolicy::ttl_secs(5).tags(["p:{user}"]), "/", false)
                .contains("no guard")
        );
        assert!(
            policy_error(
                CachePolicy::ttl_secs(5)
                    .key("k:{user}")
                    .tags(["p:{user}", "q:{id}"]),
                "/{id}",
                true
            )
            .is_empty()
        );
    }
}
