use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower::{Layer, Service};

use super::{CurrentUser, Guard};
use crate::error::Error;
use crate::state::AppState;

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
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let verdict = CurrentUser::authenticate(request.headers(), self.state.jwt_keys())
            .map_err(Error::Unauthorized)
            .and_then(|user| self.guard.check(&user).map(|()| user));
        match verdict {
            Ok(user) => {
                request.extensions_mut().insert(user);
                Either::Left(self.inner.call(request))
            }
            Err(rejection) => Either::Right(ready(Ok(rejection.into_response()))),
        }
    }
}
