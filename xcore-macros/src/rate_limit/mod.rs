//! `#[rate_limit(N, per = "minute", key = user)]` on a route: at most N
//! requests per period, counted per key. Read by `#[plugin]` together with
//! the `#[route]` of the same method; on its own it only reports that it is
//! misplaced.

pub(crate) mod model;
pub(crate) mod parse;

pub(crate) use model::LimitSpec;
