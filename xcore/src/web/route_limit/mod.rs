//! Route limits as requests meet them: the key a request is counted under
//! (user, address, path parameters), the 429 with its `RateLimit` headers,
//! and where a route's limits sit — around its handler ([`Limited`], found
//! by [`LimitSlot`] in the plugin's state) or, for limits configuration
//! adds, as a layer ([`RateLimitLayer`]). What is counted and how is the
//! `rate_limit` service's.

mod handler;
mod layer;

pub(crate) use handler::{LimitSlot, Limited};
pub(crate) use layer::{Limits, RateLimitLayer, RouteLimit};
