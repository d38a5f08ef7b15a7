//! The state every xcore handler can reach: configuration, token keys and the
//! name of the plugin serving the request.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::cache::Cache;
use crate::config::Config;
use crate::db::Db;
use crate::error::Error;
use crate::otp::{Otp, OtpSender};
use crate::security::{Claims, JwtKeys, Secret, create_token, derive_key};

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
    cache: Cache,
    otp: Otp,
}

struct Shared {
    config: Config,
    keys: JwtKeys,
    db: Db,
    accounts: Accounts,
    otp_sender: Arc<dyn OtpSender>,
}

impl AppState {
    pub(crate) fn new(
        config: Config,
        keys: JwtKeys,
        secret: &Secret,
        db: Db,
        cache: Cache,
        otp_sender: Arc<dyn OtpSender>,
    ) -> Self {
        let accounts = Accounts::new(
            &config,
            db.clone(),
            cache.clone(),
            keys.clone(),
            derive_key(secret, "totp secrets"),
        );
        let otp = Otp::new(&config.otp, &cache, derive_key(secret, "one-time codes"));
        AppState {
            scoped: Arc::new(Scoped {
                shared: Arc::new(Shared {
                    config,
                    keys,
                    db,
                    accounts,
                    otp_sender,
                }),
                plugin: Box::from(""),
                cache,
                otp,
            }),
        }
    }

    /// The same state, labelled for one plugin, with the cache and the
    /// one-time codes scoped to it (a code sent by one plugin is not
    /// consumed by another).
    pub(crate) fn for_plugin(&self, name: &str) -> Self {
        AppState {
            scoped: Arc::new(Scoped {
                shared: Arc::clone(&self.scoped.shared),
                plugin: Box::from(name),
                cache: self.scoped.cache.scoped(name),
                otp: self.scoped.otp.scoped(name),
            }),
        }
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

    /// Name of the plugin whose route is being served (empty for the app's own routes).
    pub fn plugin(&self) -> &str {
        &self.scoped.plugin
    }

    /// Signs claims with the application's keys.
    pub fn create_token(&self, claims: &Claims) -> Result<String, Error> {
        create_token(self.jwt_keys(), claims)
    }
}
