//! The [`Plugin`] trait: what `#[plugin]` implements, and what a plugin written
//! by hand implements.
//!
//! A plugin has metadata ([`PluginMeta`]) and a table of [`Routes`], each a
//! [`RouteInfo`] (method, path, guard) paired with an ordinary axum handler.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::cache::CachePolicy;
use crate::db::Migration;
use crate::guard::Guard;
use crate::openapi::Operation;
use crate::rate_limit::{LimitSlot, Limited, RateLimit};
use crate::state::AppState;

/// A set of routes mounted under a prefix, with metadata.
///
/// Implemented by `#[plugin]`, or by hand:
///
/// ```
/// use std::sync::Arc;
/// use xcore::prelude::*;
/// use xcore::{Guard, PluginMeta, RouteInfo, Routes};
///
/// pub struct Items;
///
/// async fn list() -> &'static str { "[]" }
/// async fn remove(Path(id): Path<u64>) -> StatusCode { StatusCode::NO_CONTENT }
///
/// impl Plugin for Items {
///     fn meta(&self) -> PluginMeta {
///         PluginMeta::new("items").version("1.0.0").prefix("/items")
///     }
///     fn routes(self: Arc<Self>) -> Routes {
///         Routes::new()
///             .route(RouteInfo::get("/"), list)
///             .route(RouteInfo::delete("/{id}").guard(Guard::role("admin")), remove)
///     }
/// }
/// ```
///
/// Handlers are ordinary axum handlers over [`AppState`]; a plugin that needs
/// its own state keeps it in `self` and captures the `Arc<Self>` it receives
/// in [`Plugin::routes`].
pub trait Plugin: Send + Sync + 'static {
    /// Name, version, prefix and description.
    fn meta(&self) -> PluginMeta;

    /// The plugin's routes, relative to its prefix.
    fn routes(self: Arc<Self>) -> Routes;

    /// SQL migrations, applied at start-up in version order (the plugin's
    /// history is kept apart from other plugins'). None by default.
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }
}

/// Descriptive data of a plugin.
///
/// ```
/// let meta = xcore::PluginMeta::new("catalogue")
///     .version("1.0.0")
///     .prefix("/catalogue")
///     .tags(["shop"])
///     .description("Products on sale");
/// assert_eq!(meta.prefix, "/catalogue");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginMeta {
    /// Unique name among the app's plugins.
    pub name: Cow<'static, str>,
    /// Version of the plugin.
    pub version: Cow<'static, str>,
    /// Path prefix of every route: empty or `/segment(s)` without trailing `/`.
    pub prefix: Cow<'static, str>,
    /// Tags (grouping in API documentation).
    pub tags: Vec<Cow<'static, str>>,
    /// What the plugin is for.
    pub description: Option<Cow<'static, str>>,
}

impl PluginMeta {
    /// Metadata with `name`, version `0.0.0` and prefix `/{name}`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        PluginMeta {
            prefix: Cow::Owned(format!("/{name}")),
            name,
            version: Cow::Borrowed("0.0.0"),
            tags: Vec::new(),
            description: None,
        }
    }

    /// Sets the version.
    pub fn version(mut self, version: impl Into<Cow<'static, str>>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the prefix (`""` mounts the routes at the root).
    pub fn prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the tags.
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Cow<'static, str>>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// HTTP methods a route can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `GET` (axum also answers `HEAD` with it).
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        }
    }

    /// The method as an `http::Method`.
    pub fn as_http(self) -> axum::http::Method {
        match self {
            Method::Get => axum::http::Method::GET,
            Method::Post => axum::http::Method::POST,
            Method::Put => axum::http::Method::PUT,
            Method::Patch => axum::http::Method::PATCH,
            Method::Delete => axum::http::Method::DELETE,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_http().fmt(f)
    }
}

/// One row of a plugin's route table: method, path, guard.
///
/// ```
/// use xcore::{Guard, Method, RouteInfo};
///
/// let info = RouteInfo::delete("/{id}").guard(Guard::role("admin"));
/// assert_eq!(info.method, Method::Delete);
/// assert_eq!(info.path, "/{id}");
/// assert!(!info.guard.is_public());
/// ```
// Not `PartialEq`: `describe` is a function, and function addresses are
// not a meaningful identity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RouteInfo {
    /// HTTP method.
    pub method: Method,
    /// Path relative to the plugin prefix, in axum syntax (`/{id}`).
    pub path: Cow<'static, str>,
    /// Who may call it.
    pub guard: Guard,
    /// Name of the handler function (empty when unknown).
    pub handler: Cow<'static, str>,
    /// Response caching, for `GET` routes.
    pub cache: Option<CachePolicy>,
    /// What the route does (the first line of the handler's doc comment).
    pub summary: Option<Cow<'static, str>>,
    /// More about it (the rest of the doc comment).
    pub description: Option<Cow<'static, str>>,
    /// The status of a successful response (`#[route(..., status = 201)]`):
    /// documented, and a handler's `200 OK` is answered with it.
    pub status: Option<StatusCode>,
    /// Adds the route's parameters, body and response to the API document
    /// (`#[route]` derives it from the handler's types).
    pub describe: Option<fn(&mut Operation<'_>)>,
    /// Rate limits (`#[rate_limit]`), applied after the guard.
    pub limits: Vec<RateLimit>,
    /// Cache tags invalidated after each successful answer
    /// (`#[invalidates(...)]`), templates as keys are.
    pub invalidates: Vec<Cow<'static, str>>,
}

impl RouteInfo {
    /// A public route.
    pub fn new(method: Method, path: impl Into<Cow<'static, str>>) -> Self {
        RouteInfo {
            method,
            path: path.into(),
            guard: Guard::public(),
            handler: Cow::Borrowed(""),
            cache: None,
            summary: None,
            description: None,
            status: None,
            describe: None,
            limits: Vec::new(),
            invalidates: Vec::new(),
        }
    }

    /// A public `GET` route.
    pub fn get(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::Get, path)
    }

    /// A public `POST` route.
    pub fn post(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::Post, path)
    }

    /// A public `PUT` route.
    pub fn put(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::Put, path)
    }

    /// A public `PATCH` route.
    pub fn patch(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::Patch, path)
    }

    /// A public `DELETE` route.
    pub fn delete(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::Delete, path)
    }

    /// Sets who may call the route.
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = guard;
        self
    }

    /// Caches the route's successful responses (`GET` routes only; the app
    /// refuses others at start-up).
    pub fn cache(mut self, policy: CachePolicy) -> Self {
        self.cache = Some(policy);
        self
    }

    /// After each successful answer, invalidates the cache entries carrying
    /// one of `tags` (templates: `"prets:{user}"`), whichever plugin stored
    /// them — what `#[invalidates(...)]` declares.
    ///
    /// ```
    /// let route = xcore::RouteInfo::post("/livres").invalidates(["livres"]);
    /// assert_eq!(route.invalidates, ["livres"]);
    /// ```
    pub fn invalidates<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Cow<'static, str>>,
    {
        self.invalidates.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Adds a rate limit (several may apply: 5 a minute and 100 a day).
    pub fn limit(mut self, limit: RateLimit) -> Self {
        self.limits.push(limit);
        self
    }

    /// The route's id in configuration, `plugin.handler` (or
    /// `plugin.METHOD /path` for a hand-written route without a handler
    /// name).
    pub fn id(&self, plugin: &str) -> String {
        if self.handler.is_empty() {
            format!("{plugin}.{} {}", self.method, self.path)
        } else {
            format!("{plugin}.{}", self.handler)
        }
    }

    /// Sets the summary and description shown in the API documentation
    /// (`#[route]` takes them from the handler's doc comment).
    pub fn docs(
        mut self,
        summary: impl Into<Cow<'static, str>>,
        description: Option<&'static str>,
    ) -> Self {
        self.summary = Some(summary.into()).filter(|s: &Cow<'static, str>| !s.is_empty());
        self.description = description.map(Cow::Borrowed).filter(|d| !d.is_empty());
        self
    }

    /// Sets the status of a successful response: the API document states
    /// it, and a `200 OK` from the handler is answered with it instead
    /// (other statuses, errors included, pass through).
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Describes the route's parameters, request body and response for the
    /// API document; see [`Operation`] for an example.
    pub fn describe(mut self, describe: fn(&mut Operation<'_>)) -> Self {
        self.describe = Some(describe);
        self
    }

    /// Records the handler's name.
    pub fn handler(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.handler = name.into();
        self
    }
}

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
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

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

/// A route as the app mounted it: owning plugin, full path and its own
/// description. [`App::routes`](crate::App::routes) lists them.
#[derive(Debug, Clone)]
pub struct MountedRoute {
    /// Name of the plugin serving it.
    pub plugin: String,
    /// Full path (prefix joined to the route path).
    pub path: String,
    /// The route's own description.
    pub info: RouteInfo,
}

impl MountedRoute {
    pub(crate) fn new(meta: &PluginMeta, info: RouteInfo) -> Self {
        MountedRoute {
            plugin: meta.name.to_string(),
            path: xcore_rules::path::join(&meta.prefix, &info.path),
            info,
        }
    }
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.infos()).finish()
    }
}
