//! One route's description: [`Method`], path, guard, cache, limits,
//! success status and how the API document describes it ([`RouteInfo`]);
//! and the route as the app mounted it ([`MountedRoute`]).

use std::borrow::Cow;
use std::fmt;

use axum::http::StatusCode;
use axum::routing::MethodFilter;

use super::PluginMeta;
use crate::cache::CachePolicy;
use crate::openapi::Operation;
use crate::rate_limit::RateLimit;
use crate::web::guard::Guard;

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
    pub(super) fn filter(self) -> MethodFilter {
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
