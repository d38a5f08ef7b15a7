//! The tower layer enforcing a route's limits (what `#[rate_limit]`
//! expands to, placed by the app inside the route's guard).

use std::convert::Infallible;
use std::future::ready;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::config::{Config, ForwardedHeader, TrustedProxies};
use crate::error::Error;
use crate::rate_limit::{Decision, LimitKey, Limiter, RateLimit, counted_address};
use crate::security::sha256_hex;
use crate::web::ServiceFuture;
use crate::web::client_addr_of;
use crate::web::guard::CurrentUser;

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// One limit of a route, with its state.
pub(crate) struct RouteLimit {
    pub(crate) limit: RateLimit,
    pub(crate) limiter: Arc<Limiter>,
    /// `"3-per-minute"`, quoted, as the headers name it.
    name: String,
}

impl RouteLimit {
    /// `limit` (its key resolved) counted by `limiter`.
    pub(crate) fn new(limit: RateLimit, limiter: Arc<Limiter>) -> Self {
        let name = format!("\"{}\"", limit.policy_name());
        RouteLimit {
            limit,
            limiter,
            name,
        }
    }
}

/// A route's limits, ready to decide: shared by the layer and the handler
/// wrapper ([`super::handler`]).
pub(crate) struct Limits {
    limits: Vec<RouteLimit>,
    /// Seeds the in-process keys' hashes (a client cannot aim collisions).
    seed: std::collections::hash_map::RandomState,
    /// Secret odd multiplier and mask for addresses (see `hashed_key`).
    ip_seed: (u128, u128),
    policy: HeaderValue,
    trusted: TrustedProxies,
    forwarded_header: ForwardedHeader,
    ipv6_prefix: u8,
    immediate: bool,
    needs_params: bool,
}

/// Enforces a route's limits; see [the module](super).
#[derive(Clone)]
pub(crate) struct RateLimitLayer {
    shared: Arc<Limits>,
}

impl RateLimitLayer {
    /// The layer over `limits`.
    pub(crate) fn from_limits(limits: Arc<Limits>) -> Self {
        RateLimitLayer { shared: limits }
    }
}

impl Limits {
    /// The limits, counting clients as `config` says (which proxies speak
    /// for them, in which header, by which IPv6 network).
    pub(crate) fn new(limits: Vec<RouteLimit>, config: &Config) -> Arc<Self> {
        let policy = limits
            .iter()
            .map(|l| {
                format!(
                    "{};q={};w={}",
                    l.name,
                    l.limit.count(),
                    l.limit.period().as_secs()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        Arc::new(Limits {
            seed: std::collections::hash_map::RandomState::new(),
            ip_seed: (rand::random::<u128>() | 1, rand::random()),
            immediate: limits.iter().all(|l| l.limiter.is_immediate()),
            needs_params: limits.iter().any(|l| {
                l.limit
                    .keys()
                    .iter()
                    .any(|k| matches!(k, LimitKey::Param(_)))
            }),
            policy: HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("")),
            limits,
            trusted: config.http.trusted_proxies.clone(),
            forwarded_header: config.http.forwarded_header,
            ipv6_prefix: config.rate_limit.ipv6_prefix,
        })
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Clone)]
pub(crate) struct RateLimitService<S> {
    inner: S,
    shared: Arc<Limits>,
}

impl<S> Service<Request> for RateLimitService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    /// As the handler wrapper's: the inner future, or a box for what is
    /// rare or waits.
    type Future = Either<S::Future, ServiceFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match self.shared.decide_now(&mut request) {
            Some(Ok(())) => Either::Left(self.inner.call(request)),
            Some(Err(refusal)) => Either::Right(Box::pin(ready(Ok(refusal)))),
            None => {
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let limits = Arc::clone(&self.shared);
                Either::Right(Box::pin(async move {
                    let (request, decided) = limits.decide(request).await;
                    match decided {
                        Ok(()) => inner.call(request).await,
                        Err(refusal) => Ok(refusal),
                    }
                }))
            }
        }
    }
}

impl Limits {
    /// The decision without waiting, for limits kept in-process: `None`
    /// when one is in Redis (then [`Limits::decide`]). `Err` holds the
    /// answer to send instead (429).
    ///
    /// On every request of a limited route: the allowed path is the key
    /// and one GCRA step per limit, nothing folded, nothing allocated; the
    /// refusal is built out of line.
    #[inline]
    pub(crate) fn decide_now(&self, request: &mut Request) -> Option<Result<(), Response>> {
        if !self.immediate {
            return None;
        }
        if self.needs_params {
            return Some(match self.decide_now_with_params(request) {
                Some(refusal) => Err(refusal),
                None => Ok(()),
            });
        }
        for (index, limit) in self.limits.iter().enumerate() {
            let key = self.hashed_key(limit, request, &[]);
            if let Err(decision) = limit.limiter.check_memory(key) {
                return Some(Err(self.refused_from(index, decision, request, &[])));
            }
        }
        Some(Ok(()))
    }

    /// [`Limits::decide_now`] for keys holding a path parameter: the
    /// refusal, if any.
    #[inline(never)]
    fn decide_now_with_params(&self, request: &mut Request) -> Option<Response> {
        let (taken, params) = self.params(std::mem::take(request));
        *request = taken;
        for (index, limit) in self.limits.iter().enumerate() {
            let key = self.hashed_key(limit, request, &params);
            if let Err(decision) = limit.limiter.check_memory(key) {
                return Some(self.refused_from(index, decision, request, &params));
            }
        }
        None
    }

    /// The 429 once limit `index` refused: the limits after it are still
    /// counted (as a request refused by one limit is by the others'
    /// reckoning), and the headers name the tightest.
    #[cold]
    #[inline(never)]
    fn refused_from(
        &self,
        index: usize,
        decision: Decision,
        request: &Request,
        params: &[(String, String)],
    ) -> Response {
        let mut outcome = Outcome::default();
        outcome.add(index, decision);
        for (later, limit) in self.limits.iter().enumerate().skip(index + 1) {
            let key = self.hashed_key(limit, request, params);
            if let Err(decision) = limit.limiter.check_memory(key) {
                outcome.add(later, decision);
            }
        }
        too_many(
            outcome.refused.unwrap_or(Duration::ZERO),
            self.headers(&outcome),
        )
    }

    /// The decision, asking Redis: on an unreachable Redis a limit lets the
    /// request through, or — `fail_closed` — answers 503.
    pub(crate) async fn decide(&self, request: Request) -> (Request, Result<(), Response>) {
        let (request, params) = self.params(request);
        let keys: Vec<String> = self
            .limits
            .iter()
            .map(|limit| self.text_key(limit, &request, &params))
            .collect();
        let mut outcome = Outcome::default();
        for (index, (limit, key)) in self.limits.iter().zip(&keys).enumerate() {
            match limit.limiter.check(key).await {
                Ok(decision) => outcome.add(index, decision),
                Err(err) if limit.limit.is_fail_closed() => {
                    tracing::warn!(error = %err, "rate limit unavailable: refused");
                    let refusal =
                        Error::Unavailable("rate limits unavailable".into()).into_response();
                    return (request, Err(refusal));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "rate limit unavailable: not applied");
                }
            }
        }
        match outcome.refused {
            Some(retry_after) => (request, Err(too_many(retry_after, self.headers(&outcome)))),
            None => (request, Ok(())),
        }
    }
}

/// What a request's limits decided, folded as they are checked.
#[derive(Default)]
struct Outcome {
    /// The longest wait among the limits that refused.
    refused: Option<Duration>,
    /// The limit with the fewest requests left, and its decision.
    tightest: Option<(usize, Decision)>,
}

impl Outcome {
    fn add(&mut self, index: usize, decision: Decision) {
        if !decision.allowed {
            self.refused = self.refused.max(Some(decision.retry_after));
        }
        let tighter = self.tightest.is_none_or(|(_, best)| {
            (decision.remaining, std::cmp::Reverse(decision.reset))
                < (best.remaining, std::cmp::Reverse(best.reset))
        });
        if tighter {
            self.tightest = Some((index, decision));
        }
    }
}

/// One part of a key, as the request gives it.
enum Part<'a> {
    Text(&'a str),
    Ip(std::net::IpAddr),
}

impl Limits {
    /// The path parameters, when a key needs them.
    fn params(&self, request: Request) -> (Request, Vec<(String, String)>) {
        if !self.needs_params {
            return (request, Vec::new());
        }
        let (mut parts, body) = request.into_parts();
        // Resolved synchronously: the router has put them in the request.
        let params = RawPathParams::from_request_parts(&mut parts, &())
            .now_or_never()
            .and_then(Result::ok)
            .map(|params| {
                params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        (Request::from_parts(parts, body), params)
    }

    fn each_part<'a>(
        &self,
        limit: &RouteLimit,
        request: &'a Request,
        params: &'a [(String, String)],
        mut visit: impl FnMut(Part<'a>),
    ) {
        for key in limit.limit.keys() {
            match key {
                LimitKey::User => visit(Part::Text(
                    request
                        .extensions()
                        .get::<CurrentUser>()
                        .map_or("", CurrentUser::id),
                )),
                LimitKey::Ip => visit(Part::Ip(self.counted_address(request))),
                LimitKey::Param(name) => visit(Part::Text(
                    params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map_or("", |(_, v)| v.as_str()),
                )),
            }
        }
    }

    /// The address `request`'s client is counted by.
    fn counted_address(&self, request: &Request) -> std::net::IpAddr {
        let client = client_addr_of(
            request.extensions(),
            request.headers(),
            &self.trusted,
            self.forwarded_header,
        );
        counted_address(client.0, self.ipv6_prefix)
    }

    /// The in-process key: a hash of the parts, each with its kind and
    /// length, so no two keys differ only in where one part ends. A key of
    /// one address (the common case) is mixed without SipHash: xor with a
    /// secret mask, times a secret odd number (a bijection on 128 bits),
    /// high half — a collision needs both secrets.
    #[inline]
    fn hashed_key(
        &self,
        limit: &RouteLimit,
        request: &Request,
        params: &[(String, String)],
    ) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        if let [LimitKey::Ip] = limit.limit.keys() {
            let ip = self.counted_address(request);
            let bits = match ip {
                std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
                std::net::IpAddr::V6(v6) => u128::from(v6),
            };
            let (multiplier, mask) = self.ip_seed;
            return ((bits ^ mask).wrapping_mul(multiplier) >> 64) as u64;
        }
        let mut hasher = self.seed.build_hasher();
        self.each_part(limit, request, params, |part| match part {
            Part::Text(text) => {
                0u8.hash(&mut hasher);
                text.hash(&mut hasher);
            }
            Part::Ip(ip) => {
                1u8.hash(&mut hasher);
                ip.hash(&mut hasher);
            }
        });
        hasher.finish()
    }

    /// The Redis key: the parts, length-prefixed, hashed (keys stay short
    /// and hold no address in clear).
    fn text_key(
        &self,
        limit: &RouteLimit,
        request: &Request,
        params: &[(String, String)],
    ) -> String {
        let mut joined = String::new();
        self.each_part(limit, request, params, |part| {
            let text = match part {
                Part::Text(text) => text.to_owned(),
                Part::Ip(ip) => ip.to_string(),
            };
            joined.push_str(&format!("{}:{text}|", text.len()));
        });
        sha256_hex(&joined)
    }

    /// `RateLimit-Policy`, and `RateLimit` for the tightest limit.
    fn headers(&self, outcome: &Outcome) -> [(HeaderName, HeaderValue); 2] {
        let state = match outcome.tightest {
            Some((index, decision)) => {
                let mut text = String::with_capacity(48);
                text.push_str(&self.limits[index].name);
                text.push_str(";r=");
                text.push_str(itoa(u64::from(decision.remaining)).as_str());
                text.push_str(";t=");
                text.push_str(itoa(whole_secs(decision.reset)).as_str());
                HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
            }
            None => HeaderValue::from_static(""),
        };
        [(RATELIMIT_POLICY, self.policy.clone()), (RATELIMIT, state)]
    }
}

/// A number in decimal, without `format!`'s machinery (on every limited
/// request).
fn itoa(mut n: u64) -> Digits {
    let mut digits = Digits {
        bytes: [0; 20],
        start: 20,
    };
    loop {
        digits.start -= 1;
        digits.bytes[digits.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return digits;
        }
    }
}

struct Digits {
    bytes: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[self.start..]).unwrap_or("0")
    }
}

fn whole_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn too_many(retry_after: Duration, headers: [(HeaderName, HeaderValue); 2]) -> Response {
    let mut response = Error::TooManyRequests {
        retry_after_secs: whole_secs(retry_after).max(1),
    }
    .into_response();
    response
        .extensions_mut()
        .insert(crate::error::Refusal::RateLimited);
    with_headers(response, headers)
}

fn with_headers(mut response: Response, headers: [(HeaderName, HeaderValue); 2]) -> Response {
    for (name, value) in headers {
        if !value.is_empty() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
