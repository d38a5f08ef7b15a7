//! The state every xcore handler can reach: configuration, token keys, the
//! services and the name of the plugin serving the request; and the
//! extractors that hand a handler one service out of it ([`Db`], [`Cache`],
//! [`Otp`], [`ClientAddr`]), written here once so the services know nothing
//! of the state.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::accounts::Accounts;
use crate::cache::Cache;
use crate::config::Config;
use crate::db::Db;
use crate::error::Error;
use crate::mail::Mailer;
use crate::otp::{Otp, OtpSender};
use crate::security::{Claims, DerivedKeys, JwtKeys, create_token};
use crate::web::client_addr::{ClientAddr, client_addr};
use crate::web::route_limit::{LimitSlot, Limits};

/// A future of a lifecycle step.
pub(crate) type Step<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The plugins' start and stop hooks, as the app runs them
/// (`app/lifecycle.rs`), reachable from the state. They are handed the
/// state rather than keeping it: the state keeps them, and a cycle would
/// keep both (and the database pool) alive forever.
pub(crate) trait Hooks: Send + Sync {
    /// Runs every start hook, in dependency order.
    fn start<'a>(&'a self, state: &'a AppState) -> Step<'a, Result<(), Error>>;
    /// Runs the stop hooks of the plugins started, in reverse, once.
    fn stop<'a>(&'a self, state: &'a AppState) -> Step<'a, ()>;
}

/// A plugin's configuration value, typed by its plugin
/// (`plugin/config.rs`), kept for its handlers.
pub(crate) type Settings = Arc<dyn std::any::Any + Send + Sync>;

/// Shared application state, handed to every plugin router.
///
/// Extract it with `State<AppState>` in any handler. Each plugin receives its
/// own copy carrying the plugin's name, so services can scope themselves to
/// the plugin without a lookup per request.
///
/// ```
/// use xcore::prelude::*;
/// use xcore::AppState;
///
/// async fn who_serves(State(state): State<AppState>) -> String {
///     format!("served by the {} plugin", state.plugin())
/// }
/// ```
// One `Arc` per plugin: axum clones the state for every request, so a
// clone must stay a single reference-count increment.
#[derive(Clone)]
pub struct AppState {
    scoped: Arc<Scoped>,
}

struct Scoped {
    shared: Arc<Shared>,
    plugin: Box<str>,
    /// The plugin's typed configuration, when it declares one.
    settings: Option<Settings>,
    cache: Cache,
    otp: Otp,
    /// The limits of the plugin's limited routes, by slot (set once the
    /// routes are mounted).
    route_limits: OnceLock<Box<[Option<Arc<Limits>>]>>,
}

struct Shared {
    config: Config,
    keys: JwtKeys,
    db: Db,
    accounts: Accounts,
    otp_sender: Arc<dyn OtpSender>,
    mailer: Mailer,
    /// The plugins' hooks, set once the app is assembled.
    hooks: OnceLock<Arc<dyn Hooks>>,
    /// Every start hook has returned: `/ready` may answer 200.
    started: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub(crate) fn new(
        config: Config,
        keys: JwtKeys,
        derived: &DerivedKeys,
        db: Db,
        cache: Cache,
        otp_sender: Arc<dyn OtpSender>,
        mailer: Mailer,
    ) -> Self {
        let accounts = Accounts::new(
            &config,
            db.clone(),
            cache.clone(),
            keys.clone(),
            derived.totp_secrets,
            mailer.clone(),
        );
        let otp = Otp::new(&config.otp, &cache, derived.one_time_codes)
            .with_sender(Arc::clone(&otp_sender));
        AppState {
            scoped: Arc::new(Scoped {
                shared: Arc::new(Shared {
                    config,
                    keys,
                    db,
                    accounts,
                    otp_sender,
                    mailer,
                    hooks: OnceLock::new(),
                    started: std::sync::atomic::AtomicBool::new(false),
                }),
                plugin: Box::from(""),
                settings: None,
                cache,
                otp,
                route_limits: OnceLock::new(),
            }),
        }
    }

    /// The same state, labelled for one plugin, with the cache and the
    /// one-time codes scoped to it (a code sent by one plugin is not
    /// consumed by another).
    pub(crate) fn for_plugin(&self, name: &str, settings: Option<Settings>) -> Self {
        AppState {
            scoped: Arc::new(Scoped {
                shared: Arc::clone(&self.scoped.shared),
                plugin: Box::from(name),
                settings,
                cache: self.scoped.cache.scoped(name),
                otp: self.scoped.otp.scoped(name),
                route_limits: OnceLock::new(),
            }),
        }
    }

    /// The configuration of the plugin this state is scoped to, as `T`
    /// (see [`PluginConfig`](crate::PluginConfig)): a 500 naming both types
    /// when the plugin declares another, or none.
    pub(crate) fn plugin_config<T: Send + Sync + 'static>(&self) -> Result<Arc<T>, Error> {
        let wanted = std::any::type_name::<T>();
        let plugin = &self.scoped.plugin;
        let settings = self.scoped.settings.clone().ok_or_else(|| {
            Error::internal(format!(
                "plugin `{plugin}` declares no configuration, and a handler asks for `{wanted}`: \
                 add `config = {wanted}` to its #[plugin]"
            ))
        })?;
        settings.downcast::<T>().map_err(|_| {
            Error::internal(format!(
                "a handler of plugin `{plugin}` asks for configuration `{wanted}`, which is not \
                 the type its #[plugin(config = ...)] declares"
            ))
        })
    }

    /// The limits of the route at `slot`, if any apply.
    #[inline]
    pub(crate) fn route_limits(&self, slot: LimitSlot) -> Option<&Arc<Limits>> {
        self.scoped.route_limits.get()?.get(slot.0)?.as_ref()
    }

    /// Sets the plugin's route limits, by slot (once: later calls are
    /// ignored, as a plugin is mounted once per state).
    pub(crate) fn set_route_limits(&self, limits: Vec<Option<Arc<Limits>>>) {
        let _ = self.scoped.route_limits.set(limits.into_boxed_slice());
    }

    /// Users, sessions, roles and permissions.
    pub fn accounts(&self) -> &Accounts {
        &self.scoped.shared.accounts
    }

    /// The one-time code service, scoped to the plugin serving the request.
    pub fn otp(&self) -> &Otp {
        &self.scoped.otp
    }

    /// The sender of one-time codes.
    pub fn otp_sender(&self) -> &dyn OtpSender {
        self.scoped.shared.otp_sender.as_ref()
    }

    /// The mailer.
    pub fn mailer(&self) -> &Mailer {
        &self.scoped.shared.mailer
    }

    /// The database pool.
    pub fn db(&self) -> &Db {
        &self.scoped.shared.db
    }

    /// The cache, scoped to the plugin serving the request (the app-wide
    /// namespace outside plugins).
    pub fn cache(&self) -> &Cache {
        &self.scoped.cache
    }

    /// The application's configuration.
    pub fn config(&self) -> &Config {
        &self.scoped.shared.config
    }

    /// The keys tokens are signed and verified with.
    pub fn jwt_keys(&self) -> &JwtKeys {
        &self.scoped.shared.keys
    }

    /// Hands the plugins' hooks over (once; later calls are ignored).
    pub(crate) fn set_hooks(&self, hooks: Arc<dyn Hooks>) {
        let _ = self.scoped.shared.hooks.set(hooks);
    }

    /// Runs every plugin's start hook, in dependency order; on a failure
    /// the plugins already started are stopped, in reverse, and the error
    /// names the plugin.
    pub(crate) async fn start_plugins(&self) -> Result<(), Error> {
        if let Some(hooks) = self.scoped.shared.hooks.get() {
            hooks.start(self).await?;
        }
        self.scoped
            .shared
            .started
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Whether every plugin's start hook has returned (until then `/ready`
    /// answers 503).
    pub fn plugins_started(&self) -> bool {
        self.scoped
            .shared
            .started
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs the stop hooks of the plugins started, in reverse dependency
    /// order, each within `lifecycle.stop_timeout_secs` (once: later calls
    /// do nothing). `App::serve` calls it on shutdown, after the requests
    /// in flight; a test calls it to see its plugins stop.
    pub async fn stop_plugins(&self) {
        self.scoped
            .shared
            .started
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(hooks) = self.scoped.shared.hooks.get() {
            hooks.stop(self).await;
        }
    }

    /// Name of the plugin whose route is being served (empty for the app's own routes).
    pub fn plugin(&self) -> &str {
        &self.scoped.plugin
    }

    /// Signs claims with the application's keys.
    pub fn create_token(&self, claims: &Claims) -> Result<String, Error> {
        create_token(self.jwt_keys(), claims)
    }
}

/// One service out of the state: the handler's plugin's view of it.
macro_rules! service_extractor {
    ($service:ty, $get:ident) => {
        impl<S> FromRequestParts<S> for $service
        where
            AppState: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = Infallible;

            async fn from_request_parts(
                _parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                Ok(AppState::from_ref(state).$get().clone())
            }
        }
    };
}

service_extractor!(Db, db);
service_extractor!(Cache, cache);
service_extractor!(Otp, otp);
service_extractor!(Mailer, mailer);

impl<S> FromRequestParts<S> for ClientAddr
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let http = &state.config().http;
        Ok(client_addr(
            parts,
            &http.trusted_proxies,
            http.forwarded_header,
        ))
    }
}
