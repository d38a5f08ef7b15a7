//! Limits wrapped around the handler itself rather than added as a layer:
//! a layer costs the route one more boxed service (two allocations a
//! request), a wrapper nothing but the decision. The app fills the slot at
//! start-up with the limits configuration leaves the route.

use std::future::{Ready, ready};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;
use futures_util::future::Either;

use super::layer::Limits;
use crate::state::AppState;

/// Where the app puts a route's limits (empty: none apply).
pub(crate) type LimitSlot = Arc<OnceLock<Arc<Limits>>>;

/// A handler behind its route's limits.
#[derive(Clone)]
pub(crate) struct Limited<H> {
    pub(crate) handler: H,
    pub(crate) slot: LimitSlot,
}

type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<H, T> Handler<T, AppState> for Limited<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Either<Either<H::Future, Ready<Response>>, Boxed>;

    fn call(self, mut request: Request, state: AppState) -> Self::Future {
        let Some(limits) = self.slot.get() else {
            return Either::Left(Either::Left(self.handler.call(request, state)));
        };
        match limits.decide_now(&mut request) {
            Some(Ok(())) => Either::Left(Either::Left(self.handler.call(request, state))),
            Some(Err(refusal)) => Either::Left(Either::Right(ready(refusal))),
            None => {
                let limits = Arc::clone(limits);
                let handler = self.handler;
                Either::Right(Box::pin(async move {
                    match limits.decide(request).await {
                        (request, Ok(())) => handler.call(request, state).await,
                        (_, Err(refusal)) => refusal,
                    }
                }))
            }
        }
    }
}
