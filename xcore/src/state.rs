//! The state every xcore handler can reach: configuration, token keys and the
//! name of the plugin serving the request.

use std::sync::Arc;

use crate::config::Config;
use crate::error::Error;
use crate::security::{Claims, JwtKeys, create_token};

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
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
    plugin: Arc<str>,
}

struct Shared {
    config: Config,
    keys: JwtKeys,
}

impl AppState {
    pub(crate) fn new(config: Config, keys: JwtKeys) -> Self {
        AppState {
            shared: Arc::new(Shared { config, keys }),
            plugin: Arc::from(""),
        }
    }

    /// The same state, labelled for one plugin.
    pub(crate) fn for_plugin(&self, name: &str) -> Self {
        AppState {
            shared: Arc::clone(&self.shared),
            plugin: Arc::from(name),
        }
    }

    /// The application's configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The keys tokens are signed and verified with.
    pub fn jwt_keys(&self) -> &JwtKeys {
        &self.shared.keys
    }

    /// Name of the plugin whose route is being served (empty for the app's own routes).
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Signs claims with the application's keys.
    pub fn create_token(&self, claims: &Claims) -> Result<String, Error> {
        create_token(&self.shared.keys, claims)
    }
}
