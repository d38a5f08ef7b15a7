//! The web wing: everything that knows a request. The services below it
//! (`db`, `cache`, `rate_limit`, `otp`, `mail`, `accounts`) know no request,
//! no [`AppState`] and no [`CurrentUser`](guard::CurrentUser); this is where
//! they meet HTTP.
//!
//! - `state`: [`AppState`], and the extractors that hand a handler one
//!   service out of it;
//! - `client_addr`: the client's address, from the socket or a trusted
//!   proxy's headers;
//! - [`guard`]: who calls and whether they may;
//! - `response_cache`: `#[cached]` and `#[invalidates]` applied to requests;
//! - `route_limit`: `#[rate_limit]` applied to requests.

use std::convert::Infallible;

use axum::response::Response;
use futures_util::future::BoxFuture;

pub(crate) mod client_addr;
pub mod guard;
mod response_cache;
mod route_limit;
mod state;

pub use client_addr::ClientAddr;
pub(crate) use client_addr::{PeerScope, client_addr_of};
pub(crate) use response_cache::{CacheLayer, InvalidateLayer};
pub(crate) use route_limit::{LimitSlot, Limited, Limits, RateLimitLayer, RouteLimit};
pub use state::AppState;
pub(crate) use state::{Hooks, Settings, Step};

/// The future of a hand-written tower service on the request path, for
/// what waits (the cache, Redis, the database) or is rare (a refusal); the
/// common path returns the inner service's own future unboxed.
pub(crate) type ServiceFuture = BoxFuture<'static, Result<Response, Infallible>>;

/// The same for a handler wrapper: axum's `Handler` futures yield the
/// response itself.
pub(crate) type HandlerFuture = BoxFuture<'static, Response>;
