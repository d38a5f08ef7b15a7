//! Attribute macros of xcore. Use them through `xcore` (`use xcore::prelude::*`),
//! never directly: the generated code refers to `::xcore`.
//!
//! Each attribute has its own module, split into parse (tokens to typed
//! arguments), model (validation and cross-checks) and expand (tokens out).
//! Errors carry the span of the exact key or value at fault; on error the
//! user's item is emitted unchanged next to the `compile_error!`, so the IDE
//! keeps seeing it.
//!
//! Set `XCORE_MACROS_DEBUG=1` to print every expansion to stderr.

mod cached;
mod diagnostics;
mod invalidates;
mod method_attr;
mod plugin;
mod rate_limit;
mod route;
mod runtime;

use proc_macro::TokenStream;

use method_attr::MethodAttr;

/// Turns an `impl` block into an xcore plugin.
///
/// ```
/// use xcore::prelude::*;
///
/// pub struct Catalogue;
///
/// #[plugin(name = "catalogue", version = "1.0.0", prefix = "/catalogue",
///          tags = ["shop"], description = "Products on sale")]
/// impl Catalogue {
///     #[route(get, "/produits")]
///     async fn produits() -> Json<Vec<String>> {
///         Json(vec!["clavier".into()])
///     }
/// }
/// ```
///
/// | option | default | meaning |
/// |---|---|---|
/// | `name` | the type name in snake_case | unique among the app's plugins |
/// | `version` | the version of the crate defining the plugin | informational |
/// | `prefix` | `"/" + name` | prepended to every route path; `""` mounts at the root |
/// | `tags` | none | a string or a list of strings, for API documentation |
/// | `description` | none | what the plugin is for |
///
/// Every method marked `#[route]` becomes a route; other methods and items
/// stay as they are. A handler is an ordinary axum handler: an `async fn`
/// taking extractors and returning something `IntoResponse`. It may take
/// `&self` to read state kept in the plugin value.
///
/// # What it generates
///
/// The attribute only saves writing `xcore::Plugin` by hand. The plugin
/// above is equivalent to:
///
/// ```
/// use std::sync::Arc;
/// use xcore::prelude::*;
/// use xcore::{PluginMeta, RouteInfo, Routes};
///
/// pub struct Catalogue;
///
/// impl Catalogue {
///     async fn produits() -> Json<Vec<String>> {
///         Json(vec!["clavier".into()])
///     }
/// }
///
/// impl Plugin for Catalogue {
///     fn meta(&self) -> PluginMeta {
///         PluginMeta::new("catalogue")
///             .version("1.0.0")
///             .prefix("/catalogue")
///             .tags(["shop"])
///             .description("Products on sale")
///     }
///     fn routes(self: Arc<Self>) -> Routes {
///         Routes::new().route(RouteInfo::get("/produits").handler("produits"), Self::produits)
///     }
/// }
/// ```
///
/// A `&self` handler becomes a closure holding the plugin's `Arc`. Set
/// `XCORE_MACROS_DEBUG=1` while building to print the exact expansion.
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    let output = plugin::expand(args.into(), item.into());
    diagnostics::debug_print("plugin", &output);
    output.into()
}

/// Declares a route on a method of a `#[plugin]` impl block:
/// `#[route(METHOD, "/path", options...)]`.
///
/// ```
/// use xcore::prelude::*;
///
/// pub struct Items;
///
/// #[plugin(prefix = "/items")]
/// impl Items {
///     /// Public.
///     #[route(get, "/{id}")]
///     async fn show(Path(id): Path<u64>) -> String { format!("item {id}") }
///
///     /// Any signed-in user.
///     #[route(post, "/", auth)]
///     async fn create(user: CurrentUser) -> StatusCode { StatusCode::CREATED }
///
///     /// Users with the role `admin`.
///     #[route(delete, "/{id}", auth = "admin")]
///     async fn remove(Path(id): Path<u64>) -> StatusCode { StatusCode::NO_CONTENT }
///
///     /// Users with the role `editor` or `admin`.
///     #[route(put, "/{id}", auth = ["editor", "admin"])]
///     async fn replace(Path(id): Path<u64>) -> StatusCode { StatusCode::NO_CONTENT }
///
///     /// Users holding the permission `items:archive` (with `auth = ...`,
///     /// both must hold).
///     #[route(patch, "/{id}", permission = "items:archive")]
///     async fn archive(Path(id): Path<u64>) -> StatusCode { StatusCode::NO_CONTENT }
/// }
/// ```
///
/// * The method is one of `get`, `post`, `put`, `patch`, `delete` (a `get`
///   route also answers `HEAD`).
/// * The path uses axum 0.8 syntax: `/{param}`, `/{*rest}` (last segment).
///   It is checked at compile time: it must start with `/`, braces must
///   balance, a parameter must be a whole segment and appear once.
/// * Without a valid bearer token a guarded route answers 401 with
///   `WWW-Authenticate: Bearer`; with a valid token lacking the role or
///   permission, 403. The handler runs only when the guard passes.
///
/// Written by hand, the guard is a `xcore::Guard` on the route's
/// `xcore::RouteInfo`: `RouteInfo::delete("/{id}").guard(Guard::role("admin"))`.
///
/// Outside a `#[plugin]` impl block the attribute is a compile error.
#[proc_macro_attribute]
pub fn route(args: TokenStream, item: TokenStream) -> TokenStream {
    let _ = args;
    MethodAttr::Route.outside_plugin(item.into()).into()
}

/// Caches a route's successful responses: `#[cached(ttl = 300)]` (seconds),
/// on a `GET` route of a `#[plugin]` impl block, next to its `#[route]`.
///
/// ```
/// use xcore::prelude::*;
///
/// pub struct Catalogue;
///
/// #[plugin(prefix = "/catalogue")]
/// impl Catalogue {
///     /// One entry for everyone, flushed with `cache.flush_pattern("produits:*")`.
///     #[route(get, "/produits")]
///     #[cached(ttl = 300, key = "produits:all")]
///     async fn produits() -> Json<Vec<String>> {
///         Json(vec!["clavier".into()])
///     }
///
///     /// Guarded: one entry per user by default.
///     #[route(get, "/mes-commandes", auth)]
///     #[cached(ttl = 120)]
///     async fn commandes(user: CurrentUser) -> String {
///         format!("orders of {}", user.id())
///     }
///
///     /// Guarded but the same for everyone: `shared` says so.
///     #[route(get, "/tarifs", auth)]
///     #[cached(ttl = 600, shared)]
///     async fn tarifs() -> &'static str {
///         "[]"
///     }
/// }
/// ```
///
/// | option | meaning |
/// |---|---|
/// | `ttl` | lifetime of an entry, in seconds (required, at least 1) |
/// | `shared` | on a guarded route, one entry for all users instead of one per user |
/// | `key` | the entry's key: text with `{param}` (path), `{query.name}`, `{user}` |
/// | `tags` | tags every entry carries, templates as `key` is: `tags = ["livres", "prets:{user}"]` |
///
/// A tag names what an entry depends on. `Cache::invalidate_tags(["livres"])`
/// from any plugin, or a writing route marked `#[invalidates("livres")]`,
/// removes every entry carrying it, whichever plugin stored it, on every
/// instance sharing the cache.
///
/// Without `key`, the key is the request's path, its query string when the
/// handler takes a `Query` (up to 512 bytes; longer ones pass uncached),
/// and the user on a guarded route. Values placed in a key are escaped, so
/// one cannot forge another's key. Entries live in the plugin's cache
/// namespace, so the plugin's own
/// [`Cache`](../xcore/cache/struct.Cache.html) flushes them. Only
/// successful responses are stored (status, body and headers, but cookies);
/// a request with an `Authorization` header is never answered from, nor
/// stored into, a public route's entry;
/// answers say `x-cache: hit`, `miss`, or `bypass` when the cache is down
/// (the route is then served uncached). Concurrent misses on one key run
/// the handler once.
///
/// By hand: `RouteInfo::get("/produits").cache(CachePolicy::ttl_secs(300).key("produits:all"))`.
#[proc_macro_attribute]
pub fn cached(_args: TokenStream, item: TokenStream) -> TokenStream {
    MethodAttr::Cached.outside_plugin(item.into()).into()
}

/// After each successful (2xx) answer of the route, removes the cache
/// entries carrying one of the tags, whichever plugin stored them:
/// `#[invalidates("produits")]`, next to its `#[route]` in a `#[plugin]`
/// impl block. Tags are templates as in `#[cached]` (`"prets:{user}"`,
/// `"livre:{id}"`); a refused or failed write invalidates nothing.
///
/// ```
/// use xcore::prelude::*;
///
/// pub struct Livres;
///
/// #[plugin(prefix = "/livres")]
/// impl Livres {
///     #[route(get, "/")]
///     #[cached(ttl = 300, key = "livres:all", tags = ["livres"])]
///     async fn lister() -> Json<Vec<String>> {
///         Json(vec!["Germinal".into()])
///     }
///
///     #[route(delete, "/{id}", auth = "admin", status = 204)]
///     #[invalidates("livres", "livre:{id}")]
///     async fn supprimer(Path(id): Path<u64>) {}
/// }
/// ```
///
/// By hand: `RouteInfo::delete("/{id}").invalidates(["livres"])`.
#[proc_macro_attribute]
pub fn invalidates(_args: TokenStream, item: TokenStream) -> TokenStream {
    MethodAttr::Invalidates.outside_plugin(item.into()).into()
}

/// Limits how often a route may be called: `#[rate_limit(3, per = "minute",
/// key = user)]`, next to its `#[route]` in a `#[plugin]` impl block.
///
/// ```
/// use xcore::prelude::*;
///
/// pub struct Codes;
///
/// #[plugin(prefix = "/codes")]
/// impl Codes {
///     /// Three codes a minute per user, and twenty a day.
///     #[route(post, "/envoyer", auth, status = 202)]
///     #[rate_limit(3, per = "minute", key = user)]
///     #[rate_limit(20, per = "day", key = user)]
///     async fn envoyer() {}
///
///     /// Per client address, and per item.
///     #[route(post, "/{id}/vote")]
///     #[rate_limit(10, per = "hour", key = [ip, "{id}"])]
///     async fn voter(Path(id): Path<u64>) {}
/// }
/// ```
///
/// | option | meaning |
/// |---|---|
/// | the count | requests allowed per period (at least 1) |
/// | `per` | `"second"`, `"minute"`, `"hour"` or `"day"` |
/// | `key` | what the count is kept per: `user` (guarded routes), `ip` (the client address), a path parameter `"{id}"`, or a list; default `user` on a guarded route, `ip` otherwise |
/// | `fail` | `"open"` (default: serve when the shared store, Redis, is down) or `"closed"` (answer 503) |
///
/// The count is a GCRA (a smooth window, never twice the limit at a
/// boundary), in-process by default, in Redis when `cache.url` is set, so
/// several instances together allow the limit once. Past it: 429 with
/// `Retry-After` and the `RateLimit` / `RateLimit-Policy` headers.
/// Configuration can change or remove any route's limits by its id
/// (`plugin.handler`): `[rate_limit.routes] "codes.envoyer" = "5/minute"`.
///
/// By hand: `RouteInfo::post("/envoyer").limit(RateLimit::new(3, 60).key_user())`.
#[proc_macro_attribute]
pub fn rate_limit(_args: TokenStream, item: TokenStream) -> TokenStream {
    MethodAttr::RateLimit.outside_plugin(item.into()).into()
}

/// Marks the plugin's start hook: an `async fn` of a `#[plugin]` impl
/// block, with `&self` or no receiver, whose arguments are read from the
/// plugin's context (`Db`, `Cache`, `PluginConfig<T>`, `AppState`, ...),
/// returning nothing or `Result<(), E>`. Run once the app is assembled,
/// after the start hooks of the plugins it depends on; `/ready` answers 503
/// until every start hook has returned.
///
/// ```
/// use std::sync::OnceLock;
/// use xcore::prelude::*;
///
/// #[derive(Default)]
/// pub struct Catalogue {
///     warmed: OnceLock<usize>,
/// }
///
/// #[plugin]
/// impl Catalogue {
///     #[on_start]
///     async fn warm(&self, db: Db) -> xcore::Result<()> {
///         let _ = db;
///         let _ = self.warmed.set(42);
///         Ok(())
///     }
///
///     #[on_stop]
///     async fn close(&self) {}
///
///     #[route(get, "/warmed")]
///     async fn warmed(&self) -> String {
///         format!("{:?}", self.warmed.get())
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn on_start(_args: TokenStream, item: TokenStream) -> TokenStream {
    MethodAttr::OnStart.outside_plugin(item.into()).into()
}

/// Marks the plugin's stop hook (see [`macro@on_start`]): run at shutdown,
/// once the requests in flight are done, before the stop hooks of the
/// plugins it depends on, within `lifecycle.stop_timeout_secs`.
#[proc_macro_attribute]
pub fn on_stop(_args: TokenStream, item: TokenStream) -> TokenStream {
    MethodAttr::OnStop.outside_plugin(item.into()).into()
}
