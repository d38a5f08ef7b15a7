use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower::{Layer, Service};

use super::{CurrentUser, Guard};
use crate::web::AppState;
use crate::web::ServiceFuture;

/// Tower layer enforcing a [`Guard`] in front of a route.
///
/// This is what `#[route(..., auth = ...)]` expands to; the [`App`](crate::App)
/// applies it to every route whose [`RouteInfo`](crate::RouteInfo) has a
/// non-public guard. The verified [`CurrentUser`] is stored in the request's
/// extensions so the handler's extractor does not decode the token twice.
#[derive(Clone)]
pub struct GuardLayer {
    guard: Arc<Guard>,
    state: AppState,
}

impl GuardLayer {
    /// A layer checking `guard` with the token keys of `state`.
    pub fn new(guard: Guard, state: AppState) -> Self {
        GuardLayer {
            guard: Arc::new(guard),
            state,
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: Arc::clone(&self.guard),
            state: self.state.clone(),
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Arc<Guard>,
    state: AppState,
}

impl<S> Service<Request> for GuardService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Either<S::Future, Ready<Result<Response, Infallible>>>, ServiceFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // Most requests: the token known and its user's version in process.
        if let Some(verdict) = CurrentUser::authenticate_now(request.headers(), &self.state) {
            return match verdict.and_then(|user| self.guard.check(&user).map(|()| user)) {
                Ok(user) => {
                    request.extensions_mut().insert(user);
                    Either::Left(Either::Left(self.inner.call(request)))
                }
                Err(rejection) => Either::Left(Either::Right(ready(Ok(rejection.into_response())))),
            };
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = Arc::clone(&self.guard);
        let state = self.state.clone();
        Either::Right(Box::pin(async move {
            let verdict =
                match CurrentUser::authenticate(request.headers(), request.extensions(), &state)
                    .await
                {
                    Ok(user) => guard.check(&user).map(|()| user),
                    Err(err) => Err(err),
                };
            match verdict {
                Ok(user) => {
                    request.extensions_mut().insert(user);
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        }))
    }
}
