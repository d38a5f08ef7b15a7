//! Limits wrapped around the handler itself rather than added as a layer:
//! a layer costs the route one more boxed service (two allocations a
//! request), a wrapper nothing but the decision. The wrapper holds only the
//! route's slot number: the limits (as configuration leaves them) are in
//! the plugin's state, which axum hands every request anyway. A shared
//! pointer in the wrapper would cost two atomic operations a request, as
//! axum clones the handler for each call; measured on the limited bench
//! route, that was a third of what the limit cost.

use std::future::ready;
use std::sync::Arc;

use axum::extract::Request;
use axum::handler::Handler;
use futures_util::future::Either;

use crate::web::AppState;
use crate::web::HandlerFuture;

/// Where the app puts a route's limits: their place among the plugin's
/// limited routes, in declaration order (`AppState::route_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitSlot(pub(crate) usize);

/// A handler behind its route's limits.
#[derive(Clone)]
pub(crate) struct Limited<H> {
    pub(crate) handler: H,
    pub(crate) slot: LimitSlot,
}

impl<H, T> Handler<T, AppState> for Limited<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    /// The handler's own future, or a boxed one for what is rare (a
    /// refusal) or waits (Redis): the allowed path's future is no larger
    /// than the handler's plus a tag, so axum's box around it, and every
    /// move of it, stays as small as on an unlimited route.
    type Future = Either<H::Future, HandlerFuture>;

    #[inline]
    fn call(self, mut request: Request, state: AppState) -> Self::Future {
        // Decided while the state is borrowed, then the state moves on.
        let waits = match state.route_limits(self.slot) {
            None => None,
            Some(limits) => match limits.decide_now(&mut request) {
                Some(Ok(())) => None,
                Some(Err(refusal)) => return Either::Right(Box::pin(ready(refusal))),
                None => Some(Arc::clone(limits)),
            },
        };
        match waits {
            None => Either::Left(self.handler.call(request, state)),
            Some(limits) => {
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
