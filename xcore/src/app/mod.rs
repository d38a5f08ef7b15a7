//! [`App`]: configuration, plugins and the HTTP stack, assembled into one
//! axum router and served.

mod mount;
mod serve;

use std::sync::Arc;

use axum::Router;

pub use mount::MountedRoute;

use crate::config::Config;
use crate::error::Error;
use crate::middleware;
use crate::plugin::Plugin;
use crate::security::JwtKeys;
use crate::state::AppState;

/// An xcore application: configuration plus plugins.
///
/// Run it as a server with [`App::run`], or turn it into an `axum::Router`
/// with [`App::into_router`] to test it in-process or nest it in another app.
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
    state: AppState,
    generated_secret: bool,
    plugins: Vec<Arc<dyn Plugin>>,
}

impl App {
    /// An app configured from `xcore.toml` and `XCORE_*` variables
    /// (see [`config`](crate::config)).
    ///
    /// Fails in production when no JWT secret is configured.
    pub fn from_env() -> Result<Self, Error> {
        Self::new(Config::load()?)
    }

    /// An app with an explicit configuration.
    ///
    /// ```
    /// use xcore::config::Config;
    ///
    /// let app = xcore::App::new(Config::default().with_jwt_secret("a secret of at least thirty-two bytes"))?;
    /// assert_eq!(app.config().bind.port(), 8000);
    /// # Ok::<(), xcore::Error>(())
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        let (keys, generated_secret) = config.jwt_keys()?;
        Ok(App {
            state: AppState::new(config, keys),
            generated_secret,
            plugins: Vec::new(),
        })
    }

    /// Registers a plugin. Plugins are mounted in registration order; name or
    /// route collisions are reported when the app is built.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.state.config()
    }

    /// The keys tokens are signed and verified with.
    pub fn jwt_keys(&self) -> &JwtKeys {
        self.state.jwt_keys()
    }

    /// The state handed to plugins.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every route of every registered plugin, with its full path and guard.
    pub fn routes(&self) -> Result<Vec<MountedRoute>, Error> {
        Ok(mount::mount(&self.plugins, &self.state)?.routes)
    }

    /// The complete router: plugins, `GET /health`, JSON 404, request ids,
    /// tracing, panic recovery and the body limit.
    pub fn into_router(self) -> Result<Router, Error> {
        self.warn_if_generated_secret();
        let mounted = mount::mount(&self.plugins, &self.state)?;
        Ok(middleware::wrap(mounted.router, self.state.config()))
    }

    /// Only the plugins' routes (guards included), without the app-level
    /// layers and routes: for nesting into an axum app that brings its own.
    pub fn into_plain_router(self) -> Result<Router, Error> {
        self.warn_if_generated_secret();
        Ok(mount::mount(&self.plugins, &self.state)?.router)
    }

    fn warn_if_generated_secret(&self) {
        if self.generated_secret {
            tracing::warn!(
                "\n************************************************************\n\
                 * No JWT secret configured: using a random one.            *\n\
                 * Tokens will stop working when this process exits.        *\n\
                 * Set XCORE_AUTH_JWT_SECRET (32+ random bytes) to keep     *\n\
                 * them; production refuses to start without it.            *\n\
                 ************************************************************"
            );
        }
    }
}
