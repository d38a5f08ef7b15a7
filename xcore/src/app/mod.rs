//! [`App`]: configuration, plugins and services, assembled into one axum
//! router and served.

mod cli;
mod lifecycle;
mod mount;
mod serve;

use std::sync::Arc;

use axum::Router;

use crate::accounts;
use crate::builtin;
use crate::cache::Cache;
use crate::config::{Config, Environment, SecretSource};
use crate::db::{self, Db};
use crate::error::Error;
use crate::mail::{LogMailer, MailSender, Mailer, SmtpMailer};
use crate::middleware;
use crate::otp::{EmailSender, LogSender, OtpSender};
use crate::plugin::{self, MountedRoute, Plugin, PluginSettings};
use crate::security::{DerivedKeys, JwtKeys};
use crate::web::AppState;

/// An xcore application: configuration plus plugins.
///
/// Run it as a server with [`App::run`], or turn it into an `axum::Router`
/// with [`App::into_router`] to test it in-process or nest it in another app.
/// Both connect the database and the cache and apply the plugins'
/// migrations first.
///
/// ```no_run
/// use xcore::prelude::*;
///
/// pub struct Hello;
///
/// #[plugin(prefix = "/hello")]
/// impl Hello {
///     #[route(get, "/")]
///     async fn hello() -> &'static str {
///         "hello"
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> xcore::Result<()> {
///     xcore::App::from_env()?.plugin(Hello).run().await
/// }
/// ```
pub struct App {
    config: Config,
    keys: JwtKeys,
    derived: DerivedKeys,
    otp_sender: Option<Arc<dyn OtpSender>>,
    mailer: Option<Mailer>,
    account_mails: Option<Arc<dyn crate::mail::AccountMails>>,
    layers: Vec<Box<dyn FnOnce(Router) -> Router + Send>>,
    secret_source: SecretSource,
    plugins: Vec<Arc<dyn Plugin>>,
    db: Option<Db>,
    cache: Option<Cache>,
}

impl App {
    /// An app configured from `xcore.toml` and `XCORE_*` variables
    /// (see [`config`](crate::config)).
    ///
    /// Fails in production when no app secret is configured.
    pub fn from_env() -> Result<Self, Error> {
        Self::new(Config::load()?)
    }

    /// An app with an explicit configuration.
    ///
    /// ```
    /// use xcore::config::Config;
    ///
    /// let app = xcore::App::new(Config::default().with_app_secret("a secret of at least thirty-two bytes"))?;
    /// assert_eq!(app.config().bind.port(), 8000);
    /// # Ok::<(), xcore::Error>(())
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        let (secret, secret_source) = config.resolved_secret()?;
        let derived = DerivedKeys::from_app_secret(&secret);
        let keys = JwtKeys::new(config.auth.jwt_algorithm, &derived.access_tokens)?
            .for_audience(&config.auth.token_audience, &config.auth.token_issuer);
        Ok(App {
            config,
            keys,
            derived,
            otp_sender: None,
            mailer: None,
            account_mails: None,
            layers: Vec::new(),
            secret_source,
            plugins: Vec::new(),
            db: None,
            cache: None,
        })
    }

    /// Registers a plugin. Plugins are migrated and mounted in registration
    /// order; name or route collisions are reported when the app is built.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Uses an already connected database instead of connecting to
    /// `database.url` (to share one pool, or to reopen it in tests).
    pub fn with_database(mut self, db: Db) -> Self {
        self.db = Some(db);
        self
    }

    /// Delivers one-time codes with `sender` (e-mail, SMS...). Without one
    /// the development [`LogSender`] writes codes to the log, which
    /// production refuses.
    pub fn otp_sender(mut self, sender: impl OtpSender) -> Self {
        self.otp_sender = Some(Arc::new(sender));
        self
    }

    /// Delivers e-mail with `sender` instead of the SMTP server `mail.url`
    /// names (a test mailbox, another provider's API).
    pub fn mailer(mut self, sender: impl MailSender) -> Self {
        self.mailer = Some(Mailer::new(sender));
        self
    }

    /// Words the password-reset and verification e-mails with `texts`
    /// instead of [`DefaultAccountMails`](crate::mail::DefaultAccountMails)
    /// (see [`mail::AccountMails`](crate::mail::AccountMails)).
    pub fn account_mails(mut self, texts: impl crate::mail::AccountMails) -> Self {
        self.account_mails = Some(Arc::new(texts));
        self
    }

    /// Wraps every route (the built-in ones too) in a tower layer: CORS,
    /// compression, your own. Layers added later run first; the app's own
    /// stack (request id, tracing, JSON errors) is outside them all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use xcore::prelude::*;
    ///
    /// let app = App::new(xcore::testing::config())?
    ///     .layer(xcore::axum::middleware::from_fn(|request, next: xcore::axum::middleware::Next| async move {
    ///         next.run(request).await
    ///     }));
    /// # let _ = (app, Duration::ZERO);
    /// # Ok::<(), xcore::Error>(())
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers
            .push(Box::new(move |router| router.layer(layer)));
        self
    }

    /// Uses this cache instead of the one `cache.url` selects.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The keys tokens are signed and verified with.
    pub fn jwt_keys(&self) -> &JwtKeys {
        &self.keys
    }

    /// Connects the services, applies migrations and mounts the plugins;
    /// returns the complete router and the state its handlers see.
    ///
    /// The router has the plugins, `GET /health`, a JSON 404, request ids,
    /// tracing, panic recovery and the body limit.
    pub async fn into_parts(self) -> Result<(Router, AppState), Error> {
        let (stack, state) = self.into_stack().await?;
        state.start_plugins().await?;
        Ok((Router::new().fallback_service(stack), state))
    }

    /// The app as the service `serve` runs, with its state:
    /// [`App::into_parts`] without the router it is wrapped in there, and
    /// without starting the plugins (`serve` starts them once listening).
    pub(crate) async fn into_stack(self) -> Result<(middleware::Stack, AppState), Error> {
        let (router, state, table) = self.build().await?;
        let metrics = state.config().metrics.enabled.then(|| {
            crate::metrics::Metrics::new(
                table
                    .iter()
                    .map(|route| (route.path.clone(), route.plugin.clone())),
            )
        });
        let router = middleware::wrap(router, &state, metrics);
        Ok((middleware::stack(router, state.config()), state))
    }

    /// [`App::into_parts`] without the state.
    pub async fn into_router(self) -> Result<Router, Error> {
        Ok(self.into_parts().await?.0)
    }

    /// Only the plugins' routes (guards and caches included), without the
    /// app-level layers and routes: for nesting into an axum app that brings
    /// its own.
    pub async fn into_plain_router(self) -> Result<Router, Error> {
        let (router, state, _) = self.build().await?;
        state.start_plugins().await?;
        // The one part of the stack the routes cannot do without: text the
        // database would refuse is answered with a 422, not a 500.
        Ok(router.layer(middleware::RejectNulLayer::new(
            state.config().http.body_limit_bytes,
        )))
    }

    /// Every route of every mounted plugin (the built-in `/auth` and
    /// `/admin` included unless disabled), with its full path, guard, cache
    /// policy and the rate limits configuration gives it. Collisions are
    /// checked when the app is built; an invalid `rate_limit` setting is
    /// reported there too, and leaves the declared limits here.
    pub fn routes(&self) -> Vec<MountedRoute> {
        let plugins = self
            .mounted_plugins()
            .map(|(plugins, _)| plugins)
            .unwrap_or_else(|_| self.registered_plugins());
        mount::table(&plugins, &self.config, &self.builtin_names())
            .unwrap_or_else(|_| mount::table(&plugins, &Config::default(), &[]).unwrap_or_default())
    }

    /// The registered plugins (built-in ones included) that
    /// `plugins.<name>.enabled = false` turns off: none of their routes is
    /// mounted, nothing of them runs.
    ///
    /// ```
    /// use xcore::prelude::*;
    ///
    /// let mut config = xcore::testing::config();
    /// config.plugins.insert("admin".into(), serde_json::json!({"enabled": false}));
    /// let app = App::new(config)?;
    /// assert_eq!(app.disabled_plugins(), ["admin"]);
    /// assert!(app.routes().iter().all(|route| route.plugin != "admin"));
    /// # Ok::<(), xcore::Error>(())
    /// ```
    pub fn disabled_plugins(&self) -> Vec<String> {
        let registered = self.registered_plugins();
        let Ok(settings) = plugin::resolve_settings(&registered, &self.config.plugins) else {
            return Vec::new();
        };
        registered
            .iter()
            .map(|plugin| plugin.meta().name.into_owned())
            .filter(|name| !settings.enabled(name))
            .collect()
    }

    /// The enabled plugins, each after those it depends on, and what the
    /// configuration says of them: the one list everything the app does
    /// with its plugins follows.
    fn mounted_plugins(&self) -> Result<(Vec<Arc<dyn Plugin>>, PluginSettings), Error> {
        let registered = self.registered_plugins();
        let settings = plugin::resolve_settings(&registered, &self.config.plugins)?;
        let ordered = plugin::in_dependency_order(&registered, &settings)?;
        Ok((ordered, settings))
    }

    /// The built-in plugins the configuration enables, then the user's.
    fn registered_plugins(&self) -> Vec<Arc<dyn Plugin>> {
        let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
        if self.config.auth.endpoints {
            plugins.push(Arc::new(builtin::Auth));
        }
        if self.config.admin.endpoints {
            plugins.push(Arc::new(builtin::Admin));
        }
        plugins.extend(self.plugins.iter().cloned());
        plugins
    }

    /// Names of the built-in plugins this app mounts (their limits follow
    /// `rate_limit.builtin`).
    fn builtin_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.config.auth.endpoints {
            names.push("auth");
        }
        if self.config.admin.endpoints {
            names.push("admin");
        }
        names
    }

    async fn build(self) -> Result<(Router, AppState, Vec<MountedRoute>), Error> {
        self.build_for(Purpose::Run).await
    }

    async fn build_for(
        mut self,
        purpose: Purpose,
    ) -> Result<(Router, AppState, Vec<MountedRoute>), Error> {
        self.warn_about_the_secret();
        let builtin = self.builtin_names();
        let layers = std::mem::take(&mut self.layers);
        let mailer = match self.mailer.take() {
            Some(mailer) => mailer,
            None => match SmtpMailer::from_config(&self.config.mail)? {
                Some(smtp) => Mailer::new(smtp),
                None => Mailer::new(LogMailer),
            },
        };
        let mailer = match self.account_mails.take() {
            Some(texts) => mailer.with_account_mails(texts),
            None => mailer,
        };
        // Codes go by e-mail when e-mail is configured.
        let otp_sender: Arc<dyn OtpSender> = match self.otp_sender.take() {
            Some(sender) => sender,
            None if mailer.production_ready() => Arc::new(EmailSender::new(mailer.clone())),
            None => Arc::new(LogSender),
        };
        if self.config.env == Environment::Production && !otp_sender.production_ready() {
            return Err(Error::Config(
                "one-time codes would be written to the log: set XCORE_MAIL_URL (and \
                 XCORE_MAIL_FROM), or register a sender with App::otp_sender, before running in \
                 production"
                    .into(),
            ));
        }
        if self.config.env == Environment::Production {
            if self.config.auth.endpoints && !mailer.production_ready() {
                return Err(Error::Config(
                    "password-reset and verification e-mails would be written to the log: set \
                     XCORE_MAIL_URL (and XCORE_MAIL_FROM), or register a mailer with App::mailer, \
                     before running in production"
                        .into(),
                ));
            }
            if let Some(problem) = self.config.public_url_problem() {
                tracing::warn!("{problem}");
            }
            if purpose == Purpose::Run {
                for weakness in self.config.weaknesses() {
                    tracing::warn!("{weakness}");
                }
            }
        }
        let (plugins, settings) = self.mounted_plugins()?;
        let db = match (self.db, purpose) {
            (Some(db), _) => db,
            (None, Purpose::Run) => Db::connect(&self.config.database).await?,
            // Not connected yet, and nothing created.
            (None, Purpose::Check) => Db::lazy_read_only(&self.config.database)?,
        };
        let cache = match self.cache {
            Some(cache) => cache,
            None => Cache::connect(&self.config.cache)?,
        };
        // The accounts tables exist even when the `/auth` endpoints are off:
        // guards read them.
        if purpose == Purpose::Run {
            db::apply_migrations(&db, accounts::MIGRATIONS_NAME, accounts::MIGRATIONS).await?;
            for plugin in &plugins {
                let name = plugin.meta().name;
                db::apply_migrations(&db, &name, plugin.migrations()).await?;
            }
        }
        let state = AppState::new(
            self.config,
            self.keys,
            &self.derived,
            db,
            cache,
            otp_sender,
            mailer,
        );
        if purpose == Purpose::Run {
            state.accounts().bootstrap_admin(state.config()).await?;
        }
        crate::openapi::check_config(state.config())?;
        let reserved: Vec<String> = middleware::reserved(state.config())
            .into_iter()
            .chain(crate::openapi::reserved_paths(state.config()))
            .collect();
        let (router, table) = mount::mount(&plugins, &settings, &state, &reserved, &builtin)?;
        state.set_hooks(Arc::new(lifecycle::Lifecycle::new(
            plugins.clone(),
            settings.clone(),
            state.config(),
        )));
        let mut router = router;
        for layer in layers {
            router = layer(router);
        }
        if state.config().serves_openapi() {
            let metas: Vec<_> = plugins.iter().map(|p| p.meta()).collect();
            let document = crate::openapi::document(state.config(), &metas, &table);
            router = router.merge(crate::openapi::router(state.config(), &document)?);
        }
        Ok((router, state, table))
    }

    fn warn_about_the_secret(&self) {
        for warning in self.config.warnings() {
            tracing::warn!("{warning}");
        }
        match &self.secret_source {
            SecretSource::Configured => {}
            SecretSource::DeprecatedName => tracing::warn!(
                "auth.jwt_secret (XCORE_AUTH_JWT_SECRET) is deprecated: it is the app secret \
                 every key is derived from; rename it app_secret (XCORE_APP_SECRET)"
            ),
            SecretSource::Kept(path) => tracing::warn!(
                "\n************************************************************\n\
                 * No app secret configured: using the development secret   *\n\
                 * kept in {path} (created on the first start, mode 0600).\n\
                 * Anyone who reads that file can sign tokens. Production   *\n\
                 * refuses to start without XCORE_APP_SECRET.               *\n\
                 ************************************************************",
                path = path.display()
            ),
            SecretSource::Generated => tracing::warn!(
                "\n************************************************************\n\
                 * No app secret configured: using a random one.            *\n\
                 * Tokens will stop working when this process exits.        *\n\
                 * Set XCORE_APP_SECRET (32+ random bytes) to keep          *\n\
                 * them; production refuses to start without it.            *\n\
                 ************************************************************"
            ),
        }
    }
}

/// What the app is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Serving, or a command that sets the database up: connect (creating
    /// a SQLite file), migrate, create the first administrator.
    Run,
    /// `check-config`: every check a start makes, with nothing written.
    /// The database is not connected (a lazy, read-only pool stands in),
    /// no migration runs, no administrator is created.
    Check,
}

#[cfg(test)]
// figment's Jail API returns its own (large) error type; it is test-only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::testing::LogBuffer;

    #[test]
    fn the_former_secret_variable_still_works_and_logs_its_deprecation_once() {
        crate::config::jail(|jail| {
            jail.set_env(
                "XCORE_AUTH_JWT_SECRET",
                "a deployment secret of 32+ bytes!!",
            );
            let config = Config::load().map_err(|e| e.to_string())?;
            let log = LogBuffer::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(log.clone())
                .with_ansi(false)
                .finish();
            let _guard = tracing::subscriber::set_default(subscriber);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let state = runtime
                .block_on(async {
                    let app = App::new(config)?;
                    app.into_parts().await.map(|(_, state)| state)
                })
                .map_err(|e| e.to_string())?;
            // The secret is in use: the same configuration gives the same keys.
            let again =
                App::new(Config::load().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            let claims = crate::security::Claims::new("1", std::time::Duration::from_secs(60));
            let token = crate::security::create_token(again.jwt_keys(), &claims)
                .map_err(|e| e.to_string())?;
            assert!(crate::security::decode_token(state.jwt_keys(), &token).is_ok());
            let logged = log.text();
            assert_eq!(logged.matches("is deprecated").count(), 1, "{logged}");
            assert!(logged.contains("XCORE_APP_SECRET"), "{logged}");
            assert!(!logged.contains("a deployment secret"), "{logged}");
            Ok(())
        });
    }
}
