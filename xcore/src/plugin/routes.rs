//! A plugin's route table ([`Routes`]): each route's description with its
//! handler, the handler wrapped in what its description asks for (its
//! limits' slot, its success status).

use std::fmt;

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, on};

use super::RouteInfo;
use crate::web::{AppState, HandlerFuture, LimitSlot, Limited};

/// A plugin's route table: each [`RouteInfo`] with its handler.
///
/// The [`App`](crate::App) joins the plugin prefix to each path, checks that
/// no two routes collide, wraps guarded routes in a
/// [`GuardLayer`](crate::guard::GuardLayer) and builds one axum router.
#[derive(Default)]
pub struct Routes {
    entries: Vec<RouteEntry>,
    /// Routes with declared limits so far: the next one's slot.
    limited: usize,
}

/// One route: its description, its handler, and where its limits go.
pub(crate) struct RouteEntry {
    pub(crate) info: RouteInfo,
    pub(crate) method_router: MethodRouter<AppState>,
    pub(crate) limits: Option<LimitSlot>,
}

impl Routes {
    /// An empty table.
    pub fn new() -> Self {
        Routes::default()
    }

    /// Adds a route answered by `handler`, any axum handler over [`AppState`].
    pub fn route<H, T>(mut self, info: RouteInfo, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        // Declared limits wrap the handler (no extra layer); the app puts
        // the limits configuration leaves the route in the plugin's state,
        // at this slot.
        let slot = (!info.limits.is_empty()).then(|| {
            self.limited += 1;
            LimitSlot(self.limited - 1)
        });
        let method_router = match (info.status, slot) {
            (Some(status), Some(slot)) => on(
                info.method.filter(),
                Limited {
                    handler: WithStatus { handler, status },
                    slot,
                },
            ),
            (None, Some(slot)) => on(info.method.filter(), Limited { handler, slot }),
            (Some(status), None) => on(info.method.filter(), WithStatus { handler, status }),
            (None, None) => on(info.method.filter(), handler),
        };
        self.entries.push(RouteEntry {
            info,
            method_router,
            limits: slot,
        });
        self
    }

    /// The route table.
    pub fn infos(&self) -> impl ExactSizeIterator<Item = &RouteInfo> {
        self.entries.iter().map(|entry| &entry.info)
    }

    pub(crate) fn into_entries(self) -> Vec<RouteEntry> {
        self.entries
    }
}

/// A handler whose plain `200 OK` is answered with the route's declared
/// success status. Wrapping the handler, rather than adding a response
/// layer, keeps it one boxed service: `benches/routing.rs` measured
/// +108 ns per request with a layer, +32 ns this way.
#[derive(Clone)]
struct WithStatus<H> {
    handler: H,
    status: StatusCode,
}

impl<H, T> Handler<T, AppState> for WithStatus<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = HandlerFuture;

    fn call(self, request: Request, state: AppState) -> Self::Future {
        let status = self.status;
        let response = self.handler.call(request, state);
        Box::pin(async move {
            let mut response = response.await;
            if response.status() == StatusCode::OK {
                *response.status_mut() = status;
            }
            response
        })
    }
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.infos()).finish()
    }
}
