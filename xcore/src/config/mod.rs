//! Configuration: an optional `xcore.toml`, overridden by `XCORE_*` variables.
//!
//! Every key, with its variable, its default and what it does, is listed in
//! the guide's chapter "Configuration" (`book/src/configuration.md`); a test
//! checks that chapter against these types, so neither drifts from the
//! other. [`Config::keys`] lists the keys.
//!
//! `app_secret` is the master secret every key is derived from (access
//! tokens, one-time codes, stored TOTP secrets). Its former name,
//! `auth.jwt_secret` (`XCORE_AUTH_JWT_SECRET`), is still read, with a
//! deprecation warning at start-up.
//!
//! The file is `xcore.toml` in the working directory, or the path in
//! `XCORE_CONFIG`. A variable is the key with dots replaced by `_`, upper-cased
//! and prefixed with `XCORE_`. The conventional `DATABASE_URL` and `REDIS_URL`
//! are read too, below the `XCORE_` names.
//!
//! ```
//! use xcore::config::{Config, Environment};
//!
//! let config = Config::default();
//! assert_eq!(config.env, Environment::Development);
//! assert_eq!(config.bind.port(), 8000);
//! assert_eq!(config.auth.access_token_ttl_secs, 900);
//! ```

mod load;
mod proxies;
mod redact;
mod secrets;
mod sections;
mod weaknesses;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use load::closest;
pub use proxies::{ForwardedHeader, IpRange, TrustedProxies};
pub use redact::RedactedUrl;
pub(crate) use redact::redact_section;
pub(crate) use secrets::{SecretSource, sqlite_file};
pub use sections::{
    AdminConfig, AuthConfig, CacheConfig, DatabaseConfig, HttpConfig, LifecycleConfig, LogConfig,
    LogFormat, MailConfig, MetricsConfig, OpenApiConfig, OtpConfig, RateLimitConfig, StringList,
};

use crate::security::Secret;

/// Shortest application secret accepted, in bytes.
pub const MIN_APP_SECRET_LEN: usize = 32;

/// Which rules apply: development is forgiving and loud, production is strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local work: missing secrets are generated, with a warning.
    #[default]
    #[serde(alias = "dev")]
    Development,
    /// Serving real users: missing secrets stop the start-up.
    #[serde(alias = "prod")]
    Production,
}

/// The whole configuration of an xcore application.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// `development` or `production`.
    pub env: Environment,
    /// Address `App::run` listens on.
    pub bind: SocketAddr,
    /// The master secret (32 bytes or more) every key is derived from:
    /// access tokens, one-time codes, stored TOTP secrets. Required in
    /// production; changing it signs everyone out and makes stored TOTP
    /// secrets unreadable.
    pub app_secret: Option<Secret>,
    /// Tokens, guards, accounts.
    pub auth: AuthConfig,
    /// The admin API and the first administrator.
    pub admin: AdminConfig,
    /// HTTP limits.
    pub http: HttpConfig,
    /// One-time codes.
    pub otp: OtpConfig,
    /// The OpenAPI document.
    pub openapi: OpenApiConfig,
    /// The SQL database.
    pub database: DatabaseConfig,
    /// The cache.
    pub cache: CacheConfig,
    /// Rate limits.
    pub rate_limit: RateLimitConfig,
    /// Outgoing e-mail.
    pub mail: MailConfig,
    /// Logs.
    pub log: LogConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Starting and stopping: hook and shutdown deadlines.
    pub lifecycle: LifecycleConfig,
    /// Each plugin's own section, `[plugins.<name>]`: `enabled`, and the
    /// settings its `#[plugin(config = T)]` reads, checked when the app is
    /// built (see [`ConfigSpec`](crate::ConfigSpec)).
    pub plugins: std::collections::BTreeMap<String, serde_json::Value>,
    /// Warnings from loading, logged at start-up.
    #[serde(skip)]
    warnings: Vec<String>,
}

impl Config {
    /// Whether `/openapi.json` is served (`openapi.enabled`, by default in
    /// development only).
    pub fn serves_openapi(&self) -> bool {
        self.openapi
            .enabled
            .unwrap_or(self.env == Environment::Development)
    }

    /// Whether `/docs` is served (`openapi.docs`, by default in development
    /// only; never without the document).
    pub fn serves_docs(&self) -> bool {
        self.serves_openapi()
            && self
                .openapi
                .docs
                .unwrap_or(self.env == Environment::Development)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            env: Environment::Development,
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            app_secret: None,
            auth: AuthConfig::default(),
            admin: AdminConfig::default(),
            otp: OtpConfig::default(),
            openapi: OpenApiConfig::default(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            cache: CacheConfig::default(),
            rate_limit: RateLimitConfig::default(),
            mail: MailConfig::default(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            lifecycle: LifecycleConfig::default(),
            plugins: std::collections::BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// Where users reach the application: `auth.public_url` without a
    /// trailing `/`, else `http://` and `bind`.
    ///
    /// ```
    /// let config = xcore::config::Config::default();
    /// assert_eq!(config.public_url(), "http://127.0.0.1:8000");
    /// ```
    pub fn public_url(&self) -> String {
        match &self.auth.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// What is wrong with the links' base in production: unset while the
    /// `/auth` endpoints send links, they would point at `bind`.
    pub(crate) fn public_url_problem(&self) -> Option<String> {
        (self.auth.endpoints && self.auth.public_url.is_none()).then(|| {
            format!(
                "XCORE_AUTH_PUBLIC_URL is not set: password-reset and verification links would \
                 point at {}",
                self.public_url()
            )
        })
    }

    /// The settings that leave a production deployment open to attack
    /// (a trusted proxy range as wide as the internet, CORS for every
    /// origin, an `http://` public URL, plain SMTP to another machine),
    /// each in words naming its key; empty outside production.
    /// `check-config` lists them, and a production app logs them at
    /// start-up.
    ///
    /// ```
    /// use xcore::config::{Config, Environment};
    ///
    /// let mut config = Config::default().with_env(Environment::Production);
    /// config.auth.public_url = Some("http://shop.example".into());
    /// let weaknesses = config.weaknesses();
    /// assert_eq!(weaknesses.len(), 1);
    /// assert!(weaknesses[0].starts_with("auth.public_url"));
    /// assert!(Config::default().weaknesses().is_empty(), "development");
    /// ```
    pub fn weaknesses(&self) -> Vec<String> {
        weaknesses::weaknesses(self)
    }

    /// Sets the application secret (builder style, for tests and embedding).
    ///
    /// ```
    /// let config = xcore::config::Config::default()
    ///     .with_app_secret("a secret of at least thirty-two bytes");
    /// assert!(config.app_secret.is_some());
    /// ```
    pub fn with_app_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.app_secret = Some(secret.into());
        self
    }

    /// The former name of [`Config::with_app_secret`].
    #[deprecated(
        since = "0.1.0",
        note = "the secret is the app secret: use `with_app_secret`"
    )]
    pub fn with_jwt_secret(self, secret: impl Into<Secret>) -> Self {
        self.with_app_secret(secret)
    }

    /// Sets the database URL (builder style).
    pub fn with_database_url(mut self, url: impl Into<RedactedUrl>) -> Self {
        self.database.url = url.into();
        self
    }

    /// Sets the cache URL (builder style); `None` selects the in-process cache.
    pub fn with_cache_url(mut self, url: Option<&str>) -> Self {
        self.cache.url = url.map(RedactedUrl::from);
        self
    }

    /// Sets the environment (builder style).
    pub fn with_env(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// The argon2id parameters of `[auth]`.
    pub fn password_params(&self) -> crate::security::PasswordParams {
        crate::security::PasswordParams {
            memory_kib: self.auth.argon2_memory_kib,
            iterations: self.auth.argon2_iterations,
            parallelism: self.auth.argon2_parallelism,
        }
    }

    /// Lifetime of access tokens.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.auth.access_token_ttl_secs)
    }
}

/// Runs `test` in a figment jail (a temporary working folder, variables
/// restored afterwards) with an empty environment: only what the test
/// sets, since a shell that ran the README's tour has `XCORE_*` variables
/// of its own.
#[cfg(test)]
#[allow(clippy::result_large_err)]
pub(crate) fn jail(test: impl FnOnce(&mut figment::Jail) -> figment::error::Result<()>) {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        test(jail)
    });
}

#[cfg(test)]
// figment's Jail API returns its own (large) error type; it is test-only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::security::JwtAlgorithm;

    #[test]
    fn file_then_environment_with_environment_winning() {
        jail(|jail| {
            jail.create_file(
                "xcore.toml",
                "env = \"production\"\nbind = \"0.0.0.0:9000\"\n[auth]\naccess_token_ttl_secs = 60\n",
            )?;
            jail.set_env("XCORE_BIND", "127.0.0.1:7000");
            jail.set_env("XCORE_AUTH_JWT_ALGORITHM", "HS512");
            jail.set_env("XCORE_TEST_DATABASE_URL", "ignored by the app");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.env, Environment::Production);
            assert_eq!(config.bind, "127.0.0.1:7000".parse().expect("addr"));
            assert_eq!(config.auth.access_token_ttl_secs, 60);
            assert_eq!(config.auth.jwt_algorithm, JwtAlgorithm::HS512);
            Ok(())
        });
    }

    #[test]
    fn conventional_urls_are_read_below_xcore_names() {
        jail(|jail| {
            jail.set_env("DATABASE_URL", "postgres://app:pw@db/shop");
            jail.set_env("REDIS_URL", "redis://cache:6379");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.database.url.expose(), "postgres://app:pw@db/shop");
            assert_eq!(
                config.cache.url.as_ref().map(RedactedUrl::expose),
                Some("redis://cache:6379")
            );
            jail.set_env("XCORE_DATABASE_URL", "sqlite://other.db");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.database.url.expose(), "sqlite://other.db");
            assert!(!format!("{config:?}").contains("pw@"));
            Ok(())
        });
    }

    #[test]
    fn unknown_variables_are_warnings_naming_the_closest_key() {
        jail(|jail| {
            jail.set_env("XCORE_SOMETHING_ELSE", "1");
            jail.set_env("XCORE_AUTH_LOGIN_MAX_FAILURE", "3");
            jail.set_env("XCORE_BIND", "127.0.0.1:7001");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.bind.port(), 7001);
            assert_eq!(config.warnings().len(), 2, "{:?}", config.warnings());
            assert!(
                config
                    .warnings()
                    .iter()
                    .any(|w| w.contains("XCORE_AUTH_LOGIN_MAX_FAILURE ")
                        && w.contains("XCORE_AUTH_LOGIN_MAX_FAILURES")),
                "{:?}",
                config.warnings()
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_reported() {
        jail(|jail| {
            jail.create_file("xcore.toml", "[auth]\njwt_secert = \"typo\"\n")?;
            let err = Config::load().expect_err("typo must be reported");
            assert!(err.to_string().contains("jwt_secert"), "{err}");
            Ok(())
        });
    }
}
