//! `#[cached(ttl = N, shared, key = "...")]` on a route: caches its
//! successful responses. Read by `#[plugin]` together with the `#[route]`
//! of the same method; on its own it only reports that it is misplaced.

pub(crate) mod model;
pub(crate) mod parse;

pub(crate) use model::CacheSpec;
