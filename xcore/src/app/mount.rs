//! Assembling plugins into one router, refusing collisions up front.
//!
//! axum panics when two routes conflict; an application must instead refuse
//! to start with a message naming both plugins. The check uses the same
//! matcher as axum (`matchit`), so what passes here cannot panic there.
//! Every name, prefix, path, guard and cache policy is checked by the rules
//! `#[plugin]` applies at compile time (`xcore_rules`), so a plugin written
//! by hand is refused for exactly what the attributes would refuse.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route};
use tower::{Layer, Service};

use crate::config::Config;
use crate::error::Error;
use crate::plugin::{Method, MountedRoute, Plugin, PluginSettings, RouteEntry, RouteInfo};
use crate::rate_limit::{self, LimitKey, Limiter, RateLimit};
use crate::web::guard::GuardLayer;
use crate::web::{
    AppState, CacheLayer, InvalidateLayer, LimitSlot, Limits, RateLimitLayer, RouteLimit,
};

/// Every route of every plugin, from one call of each plugin's `routes()`.
fn entries(plugins: &[Arc<dyn Plugin>]) -> Vec<(MountedRoute, RouteEntry)> {
    plugins
        .iter()
        .flat_map(|plugin| {
            let meta = plugin.meta();
            Arc::clone(plugin)
                .routes()
                .into_entries()
                .into_iter()
                .map(move |entry| (MountedRoute::new(&meta, entry.info.clone()), entry))
        })
        .collect()
}

/// The route table without mounting anything, with the limits
/// configuration gives each route (`builtin`: the built-in plugins' names).
pub(crate) fn table(
    plugins: &[Arc<dyn Plugin>],
    config: &Config,
    builtin: &[&str],
) -> Result<Vec<MountedRoute>, Error> {
    entries(plugins)
        .into_iter()
        .map(|(mut route, _)| {
            let is_builtin = builtin.contains(&route.plugin.as_str());
            route.info.limits = effective_limits(&route, config, is_builtin)?;
            Ok(route)
        })
        .collect()
}

/// The app's router and the table of what it mounted (for the API
/// document). `reserved` are the paths the app serves itself.
pub(crate) fn mount(
    plugins: &[Arc<dyn Plugin>],
    settings: &PluginSettings,
    state: &AppState,
    reserved: &[String],
    builtin: &[&str],
) -> Result<(Router, Vec<MountedRoute>), Error> {
    let mut matcher = matchit::Router::new();
    // path -> who owns it
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for path in reserved {
        insert_path(&mut matcher, path, "the app")?;
        owners.insert(path.clone(), "the app".to_owned());
    }
    let mut plugin_states: BTreeMap<String, AppState> = BTreeMap::new();
    for plugin in plugins {
        let meta = plugin.meta();
        let name = meta.name.to_string();
        xcore_rules::name::plugin(&name).map_err(|invalid| setup(&name, invalid))?;
        xcore_rules::path::prefix(&meta.prefix)
            .map_err(|invalid| setup(&name, format!("prefix `{}`: {invalid}", meta.prefix)))?;
        if plugin_states.contains_key(&name) {
            return Err(Error::Setup(format!(
                "two plugins are named `{name}`; plugin names must be unique"
            )));
        }
        plugin_states.insert(name.clone(), state.for_plugin(&name, settings.of(&name)));
    }

    // full path -> its plugin, the methods seen, and the merged router
    let mut by_path: BTreeMap<String, (String, Vec<Method>, MethodRouter<AppState>)> =
        BTreeMap::new();
    let mut table = Vec::new();
    // plugin -> the limits of its limited routes, by slot
    let mut slots: BTreeMap<String, Vec<Option<Arc<Limits>>>> = BTreeMap::new();
    for (mut route, entry) in entries(plugins) {
        let plugin_state = &plugin_states[&route.plugin];
        let is_builtin = builtin.contains(&route.plugin.as_str());
        route.info.limits = effective_limits(&route, state.config(), is_builtin)?;
        let (method_router, slotted) = layered(&route, entry, plugin_state, state)?;
        if let Some((slot, limits)) = slotted {
            let plugin_slots = slots.entry(route.plugin.clone()).or_default();
            if plugin_slots.len() <= slot.0 {
                plugin_slots.resize(slot.0 + 1, None);
            }
            plugin_slots[slot.0] = limits;
        }
        let full = route.path.clone();
        match by_path.entry(full.clone()) {
            Entry::Vacant(slot) => {
                if let Some(owner) = owners.get(&full) {
                    return Err(Error::Setup(format!(
                        "plugin `{}` wants {full}, which {owner} already serves",
                        route.plugin
                    )));
                }
                insert_path(&mut matcher, &full, &route.plugin)?;
                owners.insert(full, format!("plugin `{}`", route.plugin));
                slot.insert((route.plugin.clone(), vec![route.info.method], method_router));
            }
            Entry::Occupied(mut slot) => {
                let (owner, methods, existing) = slot.get_mut();
                if *owner != route.plugin {
                    return Err(Error::Setup(format!(
                        "plugin `{}` wants {full}, which plugin `{owner}` already serves",
                        route.plugin
                    )));
                }
                if methods.contains(&route.info.method) {
                    return Err(Error::Setup(format!(
                        "plugin `{}` declares {} {full} twice",
                        route.plugin, route.info.method
                    )));
                }
                methods.push(route.info.method);
                let merged = std::mem::take(existing).merge(method_router);
                *existing = merged;
            }
        }
        table.push(route);
    }

    for (plugin, limits) in slots {
        plugin_states[&plugin].set_route_limits(limits);
    }

    // State applied per route and routes added to one router: merging
    // per-plugin routers costs about 100 ns per request in axum 0.8.
    let mut router = Router::new();
    for (path, (plugin, _, method_router)) in by_path {
        router = router.route(
            &path,
            method_router.with_state(plugin_states[&plugin].clone()),
        );
    }
    Ok((router, table))
}

/// Checks one route by the attributes' rules and wraps it in its layers.
/// With the router, the route's limit slot and what goes in it (`None`:
/// configuration removed its limits), for a route that has one.
fn layered(
    route: &MountedRoute,
    entry: RouteEntry,
    state: &AppState,
    app: &AppState,
) -> Result<Routed, Error> {
    check(route)?;
    let RouteEntry {
        method_router,
        limits: slot,
        ..
    } = entry;
    let RouteInfo {
        path,
        guard,
        cache,
        limits,
        invalidates,
        ..
    } = &route.info;
    let plugin = &route.plugin;
    let guarded = !guard.is_public();

    // Built in the order their errors are reported; applied below in the
    // order requests meet them.
    let cache = match cache {
        Some(policy) => Some(wrap(
            CacheLayer::new(policy, state.cache().clone(), path, guarded)
                .map_err(|err| setup(plugin, err))?,
        )),
        None => None,
    };
    // Declared limits sit in the handler's own slot (as configuration
    // left them), costing no layer; a route that declared none but was
    // given some by configuration gets them as a layer.
    let (limit, slotted) = match (limits.as_slice(), slot) {
        ([], slot) => (None, slot.map(|slot| (slot, None))),
        (limits, Some(slot)) => (None, Some((slot, Some(route_limits(route, limits, app)?)))),
        (limits, None) => (
            Some(wrap(RateLimitLayer::from_limits(route_limits(
                route, limits, app,
            )?))),
            None,
        ),
    };

    let guard = guarded.then(|| wrap(GuardLayer::new(guard.clone(), state.clone())));
    let invalidate = match invalidates.is_empty() {
        true => None,
        false => Some(wrap(
            InvalidateLayer::new(invalidates, state.cache().clone(), path, guarded)
                .map_err(|err| setup(plugin, err))?,
        )),
    };

    // The request path of a route, outermost first, after the app's stack
    // (`middleware/stack.rs`):
    let request_path = [
        // who calls and whether they may: nothing is read, cached or
        // counted for a caller who may not;
        guard,
        // after a successful answer its tags' entries go; one refused by
        // the limits, or failed, invalidates nothing;
        invalidate, // a hit answers here, costing no limit;
        cache,      // the route's limits (when not in the handler's slot);
        limit,
    ];
    // then the handler. `route_layer` wraps what is there already, so the
    // innermost is applied first.
    let method_router = request_path
        .into_iter()
        .rev()
        .flatten()
        .fold(method_router, |router, wrap| wrap(router));
    Ok((method_router, slotted))
}

/// One layer of a route's path, ready to wrap what is inside it.
type Wrap = Box<dyn FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>>;

fn wrap<L>(layer: L) -> Wrap
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    Box::new(move |router: MethodRouter<AppState>| router.route_layer(layer))
}

/// A route checked by the rules the attributes apply at compile time, for
/// routes written by hand.
fn check(route: &MountedRoute) -> Result<(), Error> {
    let RouteInfo {
        method,
        path,
        guard,
        cache,
        status,
        ..
    } = &route.info;
    let plugin = &route.plugin;
    xcore_rules::path::route(path)
        .map_err(|invalid| setup(plugin, format!("route path `{path}`: {invalid}")))?;
    for role in guard.roles() {
        xcore_rules::name::role(role).map_err(|invalid| setup(plugin, invalid))?;
    }
    for permission in guard.permissions() {
        xcore_rules::name::permission(permission).map_err(|invalid| setup(plugin, invalid))?;
    }
    if let Some(status) = status {
        xcore_rules::status::success(status.as_u16())
            .map_err(|invalid| setup(plugin, format!("{method} {}: {invalid}", route.path)))?;
    }
    if cache.is_some() {
        xcore_rules::cache::method(method.as_http().as_str()).map_err(|invalid| {
            setup(
                plugin,
                format!("{method} {} is cached: {invalid}", route.path),
            )
        })?;
    }
    Ok(())
}

/// A mounted route's router, and its limit slot with what goes in it.
type Routed = (
    MethodRouter<AppState>,
    Option<(LimitSlot, Option<Arc<Limits>>)>,
);

/// The limits a route runs with: as declared, unless configuration says
/// otherwise (`rate_limit.routes`, and for the built-in endpoints
/// `rate_limit.builtin` and `rate_limit.builtin_default`); keys resolved.
fn effective_limits(
    route: &MountedRoute,
    config: &Config,
    builtin: bool,
) -> Result<Vec<RateLimit>, Error> {
    let settings = &config.rate_limit;
    let id = route.info.id(&route.plugin);
    let guarded = !route.info.guard.is_public();
    let parse = |spec: &str| {
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|spec| {
                RateLimit::parse(spec).map_err(|invalid| {
                    Error::Config(format!("rate_limit.routes.\"{id}\": {invalid}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let declared = &route.info.limits;
    let limits = match settings.routes.get(&id).map(String::as_str) {
        Some("off") => Vec::new(),
        Some(specs) => {
            let base = declared
                .first()
                .cloned()
                .unwrap_or_else(|| RateLimit::new(1, 1));
            parse(specs)?
                .iter()
                .map(|quota| base.with_quota(quota))
                .collect()
        }
        None if builtin && !settings.builtin => Vec::new(),
        None if builtin => match &settings.builtin_default {
            Some(spec) => {
                let quota = RateLimit::parse(spec).map_err(|invalid| {
                    Error::Config(format!("rate_limit.builtin_default: {invalid}"))
                })?;
                // One quota for all: a route's limits that differed only in
                // their period become one.
                let mut limits: Vec<RateLimit> = Vec::new();
                for limit in declared {
                    let limit = limit.with_quota(&quota);
                    if !limits.iter().any(|l| l.keys() == limit.keys()) {
                        limits.push(limit);
                    }
                }
                limits
            }
            None => declared.clone(),
        },
        None => declared.clone(),
    };
    Ok(limits
        .into_iter()
        .map(|limit| {
            let key = limit.resolved_key(guarded);
            let mut resolved = RateLimit::new(limit.count(), limit.period().as_secs());
            for part in key {
                resolved = match part {
                    LimitKey::User => resolved.key_user(),
                    LimitKey::Ip => resolved.key_ip(),
                    LimitKey::Param(name) => resolved.key_param(name),
                };
            }
            if limit.is_fail_closed() {
                resolved = resolved.fail_closed();
            }
            resolved
        })
        .collect())
}

/// A route's limits, each checked by the attributes' rules.
fn route_limits(
    route: &MountedRoute,
    limits: &[RateLimit],
    app: &AppState,
) -> Result<Arc<Limits>, Error> {
    let plugin = &route.plugin;
    let invalid = |problem: xcore_rules::Invalid| {
        setup(
            plugin,
            format!("{} {}: {problem}", route.info.method, route.path),
        )
    };
    let segments = xcore_rules::path::route(&route.info.path).map_err(invalid)?;
    let params: Vec<&str> = xcore_rules::path::params(&segments).collect();
    let guarded = !route.info.guard.is_public();
    let mut keys = Vec::new();
    for limit in limits {
        xcore_rules::rate_limit::count(u64::from(limit.count())).map_err(invalid)?;
        let key = rate_limit::rule_key(limit.keys());
        xcore_rules::rate_limit::key_fits(&key, &params, guarded).map_err(invalid)?;
        keys.push((limit.period().as_secs(), key));
    }
    xcore_rules::rate_limit::distinct(&keys).map_err(|(_, problem)| invalid(problem))?;
    let id = route.info.id(plugin);
    let route_limits = limits
        .iter()
        .enumerate()
        .map(|(index, limit)| {
            let cache = app.cache().scoped(&format!("xcore-rate:{id}:{index}"));
            RouteLimit::new(
                limit.clone(),
                Limiter::new(limit.count(), limit.period(), &cache),
            )
        })
        .collect();
    Ok(Limits::new(route_limits, app.config()))
}

fn setup(plugin: &str, problem: impl std::fmt::Display) -> Error {
    Error::Setup(format!("plugin `{plugin}`: {problem}"))
}

fn insert_path(matcher: &mut matchit::Router<()>, path: &str, owner: &str) -> Result<(), Error> {
    matcher.insert(path, ()).map_err(|err| match err {
        matchit::InsertError::Conflict { with } => Error::Setup(format!(
            "{owner}: route {path} overlaps with the route {with} of another plugin"
        )),
        other => Error::Setup(format!("{owner}: invalid route path {path}: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::config::Config;
    use crate::db::Db;
    use crate::plugin::{PluginMeta, Routes};
    use crate::security::JwtKeys;

    /// A lazily connected in-memory database: mounting never touches it.
    fn test_db() -> Db {
        Db::lazy_for_tests()
    }

    struct Fixed(&'static str, &'static str, Vec<RouteInfo>);

    impl Plugin for Fixed {
        fn meta(&self) -> PluginMeta {
            PluginMeta::new(self.0).prefix(self.1)
        }
        fn routes(self: Arc<Self>) -> Routes {
            self.2.iter().cloned().fold(Routes::new(), |routes, info| {
                routes.route(info, || async { "ok" })
            })
        }
    }

    fn mount_all(plugins: Vec<Fixed>) -> Result<(Router, Vec<MountedRoute>), Error> {
        let keys = JwtKeys::random(Default::default());
        let secret = crate::security::Secret::from("mount tests secret, thirty-two bytes");
        let sender = Arc::new(crate::otp::LogSender);
        let state = AppState::new(
            Config::default(),
            keys,
            &crate::security::DerivedKeys::from_app_secret(&secret),
            test_db(),
            Cache::memory(1024),
            sender,
            crate::mail::Mailer::new(crate::mail::LogMailer),
        );
        let plugins: Vec<Arc<dyn Plugin>> = plugins
            .into_iter()
            .map(|p| Arc::new(p) as Arc<dyn Plugin>)
            .collect();
        mount(
            &plugins,
            &PluginSettings::default(),
            &state,
            &[crate::middleware::HEALTH.to_owned()],
            &[],
        )
    }

    fn setup_message(result: Result<(Router, Vec<MountedRoute>), Error>) -> String {
        match result {
            Err(Error::Setup(message)) => message,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("expected a setup error"),
        }
    }

    #[tokio::test]
    async fn same_path_different_methods_is_one_route() {
        let plugins = vec![Fixed(
            "a",
            "/a",
            vec![RouteInfo::get("/x"), RouteInfo::post("/x")],
        )];
        let table = table(
            &[Arc::new(Fixed("a", "/a", plugins[0].2.clone())) as Arc<dyn Plugin>],
            &Config::default(),
            &[],
        )
        .expect("table");
        assert_eq!(table.len(), 2);
        let (_router, mounted) = mount_all(plugins).expect("mounts");
        let mounted: Vec<_> = mounted
            .iter()
            .map(|r| (r.path.as_str(), r.info.method))
            .collect();
        assert_eq!(mounted, [("/a/x", Method::Get), ("/a/x", Method::Post)]);
    }

    #[tokio::test]
    async fn duplicate_names_are_refused() {
        let message = setup_message(mount_all(vec![
            Fixed("a", "/a", vec![]),
            Fixed("a", "/b", vec![]),
        ]));
        assert!(message.contains("two plugins are named `a`"), "{message}");
    }

    #[tokio::test]
    async fn same_path_in_two_plugins_is_refused() {
        let message = setup_message(mount_all(vec![
            Fixed("a", "/x", vec![RouteInfo::get("/y")]),
            Fixed("b", "", vec![RouteInfo::post("/x/y")]),
        ]));
        assert!(message.contains("plugin `a` already serves"), "{message}");
    }

    #[tokio::test]
    async fn conflicting_parameters_are_refused_instead_of_panicking() {
        let message = setup_message(mount_all(vec![
            Fixed("a", "/x", vec![RouteInfo::get("/{id}")]),
            Fixed("b", "/x", vec![RouteInfo::get("/{name}")]),
        ]));
        assert!(message.contains("overlaps"), "{message}");
    }

    #[tokio::test]
    async fn reserved_and_malformed_paths_are_refused() {
        let message = setup_message(mount_all(vec![Fixed(
            "h",
            "",
            vec![RouteInfo::get("/health")],
        )]));
        assert!(message.contains("the app already serves"), "{message}");
        let message = setup_message(mount_all(vec![Fixed(
            "a",
            "/a",
            vec![RouteInfo::get("/:id")],
        )]));
        assert!(message.contains("old `:param`"), "{message}");
        let message = setup_message(mount_all(vec![Fixed("a", "/a/", vec![])]));
        assert!(message.contains("prefix"), "{message}");
    }
}
