//! The response cache as requests meet it: the layer behind `#[cached]`
//! ([`CacheLayer`]), the key and tag templates filled from a request
//! (`template`), one computation per key at a time (`flight`), and the
//! layer behind `#[invalidates]` ([`InvalidateLayer`]). The storage is the
//! `cache` service's; the policy a route declares is
//! [`CachePolicy`](crate::cache::CachePolicy).

mod flight;
mod invalidation;
mod layer;
mod template;

pub(crate) use invalidation::InvalidateLayer;
pub(crate) use layer::CacheLayer;
