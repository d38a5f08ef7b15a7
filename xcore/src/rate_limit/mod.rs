//! Rate limits: a count per period, counted per key (the signed-in user,
//! the client address, a path parameter, or several), declared with
//! `#[rate_limit(3, per = "minute", key = user)]` or [`RateLimit`] on a
//! [`RouteInfo`](crate::RouteInfo).
//!
//! The count is a GCRA — a smooth window, never twice the limit at a
//! boundary as a fixed window allows — kept in-process by default (the
//! `governor` crate) and in Redis when the cache is Redis (one atomic
//! script per decision, on the server's clock), so N instances together
//! allow the limit once. Past the limit a request gets a 429 with
//! `Retry-After` and the `RateLimit` and `RateLimit-Policy` headers of the
//! IETF httpapi draft (the API document states each route's policy). The
//! limit is checked next to the handler, after the guard and the response
//! cache: a cached answer costs nothing worth limiting.
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::rate_limit::RateLimit;
//! use xcore::testing::TestClient;
//!
//! pub struct Votes;
//!
//! #[plugin(prefix = "/votes")]
//! impl Votes {
//!     #[route(post, "/")]
//!     #[rate_limit(2, per = "minute", key = ip)]
//!     async fn vote() -> StatusCode { StatusCode::NO_CONTENT }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! let client = TestClient::new(App::new(xcore::testing::config())?.plugin(Votes)).await?;
//! assert_eq!(client.post("/votes/").send().await.status(), 204);
//! assert_eq!(client.post("/votes/").send().await.status(), 204);
//! let third = client.post("/votes/").send().await;
//! assert_eq!(third.status(), 429);
//! assert!(third.header("retry-after").is_some());
//! assert_eq!(third.header("ratelimit-policy"), Some(r#""2-per-minute";q=2;w=60"#));
//! // The same by hand:
//! let limit = RateLimit::new(2, 60).key_ip();
//! assert_eq!((limit.count(), limit.period().as_secs()), (2, 60));
//! # Ok(())
//! # }
//! ```

mod limiter;
mod store;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

pub(crate) use limiter::{Decision, Limiter};
use xcore_rules::rate_limit::KeyPart;

/// The address a limit counts a client by: an IPv4 address itself (an
/// IPv4-mapped IPv6 address too, as a dual-stack socket gives them), an
/// IPv6 address's network of `ipv6_prefix` bits (`rate_limit.ipv6_prefix`,
/// /64 by default: what one subscriber or server is given). Every limit by
/// address goes through here, so a client cannot rotate through the
/// addresses of its own network to multiply its budget.
///
/// ```
/// # use std::net::IpAddr;
/// # fn ip(text: &str) -> IpAddr { text.parse().unwrap() }
/// use xcore::rate_limit::counted_address;
///
/// assert_eq!(counted_address(ip("2001:db8::1:2"), 64), ip("2001:db8::"));
/// assert_eq!(counted_address(ip("203.0.113.9"), 64), ip("203.0.113.9"));
/// assert_eq!(counted_address(ip("::ffff:203.0.113.9"), 64), ip("203.0.113.9"));
/// ```
pub fn counted_address(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = match ipv6_prefix.min(128) {
                    0 => 0,
                    n => u128::MAX << (128 - u32::from(n)),
                };
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// What a limit counts per.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKey {
    /// The signed-in user (guarded routes only).
    User,
    /// The client address (see [`ClientAddr`](crate::client::ClientAddr)).
    Ip,
    /// A path parameter.
    Param(Cow<'static, str>),
}

/// A limit on a route: at most `count` requests per `period`, per key.
///
/// `#[rate_limit(3, per = "minute", key = user)]` builds
/// `RateLimit::new(3, 60).key_user()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    count: u32,
    period: Duration,
    key: Vec<LimitKey>,
    fail_closed: bool,
}

impl RateLimit {
    /// At most `count` requests every `period_secs` seconds.
    pub fn new(count: u32, period_secs: u64) -> Self {
        RateLimit {
            count,
            period: Duration::from_secs(period_secs),
            key: Vec::new(),
            fail_closed: false,
        }
    }

    /// A limit as configuration writes it: `"5/minute"`.
    ///
    /// ```
    /// let limit = xcore::rate_limit::RateLimit::parse("5/minute").unwrap();
    /// assert_eq!((limit.count(), limit.period().as_secs()), (5, 60));
    /// ```
    pub fn parse(spec: &str) -> Result<Self, xcore_rules::Invalid> {
        let (count, secs) = xcore_rules::rate_limit::spec(spec)?;
        Ok(RateLimit::new(
            u32::try_from(count).unwrap_or(u32::MAX),
            secs,
        ))
    }

    /// Counted per signed-in user.
    pub fn key_user(mut self) -> Self {
        self.key.push(LimitKey::User);
        self
    }

    /// Counted per client address.
    pub fn key_ip(mut self) -> Self {
        self.key.push(LimitKey::Ip);
        self
    }

    /// Counted per value of the path parameter `name`.
    pub fn key_param(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.key.push(LimitKey::Param(name.into()));
        self
    }

    /// When the shared store (Redis) cannot be reached, refuse with a 503
    /// instead of serving unlimited (the built-in security endpoints do).
    pub fn fail_closed(mut self) -> Self {
        self.fail_closed = true;
        self
    }

    /// Requests allowed per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What it counts per (empty: the default, the user on a guarded route
    /// and the address otherwise).
    pub fn keys(&self) -> &[LimitKey] {
        &self.key
    }

    /// Whether it refuses when the shared store is down.
    pub fn is_fail_closed(&self) -> bool {
        self.fail_closed
    }

    /// The same limit with another count and period (its key and failure
    /// mode kept): what configuration does.
    pub(crate) fn with_quota(&self, other: &RateLimit) -> Self {
        RateLimit {
            count: other.count,
            period: other.period,
            ..self.clone()
        }
    }

    /// The key, with the default filled in.
    pub(crate) fn resolved_key(&self, guarded: bool) -> Vec<LimitKey> {
        match (self.key.is_empty(), guarded) {
            (false, _) => self.key.clone(),
            (true, true) => vec![LimitKey::User],
            (true, false) => vec![LimitKey::Ip],
        }
    }

    /// The policy's name in the `RateLimit` headers: `3-per-minute`.
    pub(crate) fn policy_name(&self) -> String {
        let secs = self.period.as_secs();
        let period = xcore_rules::rate_limit::PERIODS
            .iter()
            .find(|(_, s)| *s == secs)
            .map_or_else(|| format!("{secs}s"), |(name, _)| (*name).to_owned());
        format!("{}-per-{period}", self.count)
    }
}

/// The rules' view of a key.
pub(crate) fn rule_key(key: &[LimitKey]) -> Vec<KeyPart> {
    key.iter()
        .map(|part| match part {
            LimitKey::User => KeyPart::User,
            LimitKey::Ip => KeyPart::Ip,
            LimitKey::Param(name) => KeyPart::Param(name.to_string()),
        })
        .collect()
}
