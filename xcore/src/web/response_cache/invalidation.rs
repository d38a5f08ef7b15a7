//! `#[invalidates("produits")]` on a writing route: once the handler has
//! answered with a success, the entries carrying those tags are removed,
//! whichever plugin cached them, before the answer leaves, so the client's
//! next read is fresh. A failed write invalidates nothing.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service, ServiceExt};
use xcore_rules::cache::{self as rules, KeyTemplate};

use super::template::Values;
use crate::cache::Cache;
use crate::error::Error;
use crate::web::ServiceFuture;

/// The tags a route invalidates, checked against the route.
struct Invalidation {
    tags: Vec<KeyTemplate>,
    cache: Cache,
}

/// Invalidates a route's declared tags after each successful answer.
#[derive(Clone)]
pub(crate) struct InvalidateLayer {
    shared: Arc<Invalidation>,
}

impl InvalidateLayer {
    /// The layer for a route at `path` (relative, with its `{params}`);
    /// fails when a tag does not fit the route, by the rules `#[invalidates]`
    /// applies at compile time.
    pub(crate) fn new(
        tags: &[Cow<'static, str>],
        cache: Cache,
        path: &str,
        guarded: bool,
    ) -> Result<Self, Error> {
        let setup =
            |invalid: xcore_rules::Invalid| Error::Setup(format!("route {path}: {invalid}"));
        let segments = xcore_rules::path::route(path).map_err(setup)?;
        let params: Vec<&str> = xcore_rules::path::params(&segments).collect();
        let tags = tags
            .iter()
            .map(|raw| {
                let tag = rules::tag(raw)?;
                rules::tag_fits(&tag, path, &params, guarded)?;
                Ok(tag)
            })
            .collect::<Result<Vec<_>, xcore_rules::Invalid>>()
            .map_err(setup)?;
        Ok(InvalidateLayer {
            shared: Arc::new(Invalidation { tags, cache }),
        })
    }
}

impl<S> Layer<S> for InvalidateLayer {
    type Service = InvalidateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvalidateService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service made by [`InvalidateLayer`].
#[derive(Clone)]
pub(crate) struct InvalidateService<S> {
    inner: S,
    shared: Arc<Invalidation>,
}

impl<S> Service<Request> for InvalidateService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            // Read before the handler takes the request.
            let (request, values) = Values::of(request, shared.tags.iter()).await;
            let tags: Vec<String> = shared
                .tags
                .iter()
                .filter_map(|tag| values.render(tag))
                .map(|tag| shared.cache.tag_key(&tag))
                .collect();
            let response = inner.oneshot(request).await?;
            if response.status().is_success()
                && let Err(err) = shared.cache.invalidate_tag_keys(&tags).await
            {
                // The write is done and cannot be taken back: the entries
                // live until their TTL, as after any cache outage.
                tracing::warn!(error = %err, "cache unavailable: tags not invalidated");
            }
            Ok(response)
        })
    }
}
