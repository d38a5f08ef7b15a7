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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::Error;
use crate::security::{JwtAlgorithm, Secret};

/// Shortest application secret accepted, in bytes.
pub const MIN_APP_SECRET_LEN: usize = 32;

/// Sections of the configuration; `XCORE_<SECTION>_<KEY>` maps to `section.key`.
const SECTIONS: &[&str] = &[
    "auth",
    "admin",
    "otp",
    "openapi",
    "http",
    "database",
    "cache",
    "rate_limit",
    "mail",
    "log",
    "metrics",
];

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
    /// Warnings from loading, logged at start-up.
    #[serde(skip)]
    warnings: Vec<String>,
}

/// The `[mail]` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MailConfig {
    /// The SMTP server: `smtp://user:pass@host:587` (STARTTLS when the
    /// server offers it; `?tls=required` to insist), `smtps://…:465`
    /// (TLS from the start). Unset: e-mails and one-time codes are written
    /// to the log, which production refuses.
    pub url: Option<RedactedUrl>,
    /// The sender, `Shop <no-reply@shop.example>`; required with `url`.
    pub from: Option<String>,
}

/// The `[log]` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LogConfig {
    /// `text` (colours only on a terminal) or `json` (one object a line).
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: colours when written to a terminal, none in a file.
    #[default]
    Text,
    /// For log services: one JSON object a line.
    Json,
}

/// The `[metrics]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Whether `/metrics` serves the Prometheus text format.
    pub enabled: bool,
    /// Where.
    pub path: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            path: "/metrics".to_owned(),
        }
    }
}

/// The `[openapi]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct OpenApiConfig {
    /// Whether the document is served; unset: in development only (in
    /// production it would show every route, admin ones included, to
    /// anyone).
    pub enabled: Option<bool>,
    /// Where it is served.
    pub path: String,
    /// Whether the interactive page (Swagger UI) is served; unset: in
    /// development only. It needs the document, so it is off whenever the
    /// document is.
    pub docs: Option<bool>,
    /// Where the page is served (its files live below this path).
    pub docs_path: String,
    /// The API's title.
    pub title: String,
    /// The API's version.
    pub version: String,
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

impl Default for OpenApiConfig {
    fn default() -> Self {
        OpenApiConfig {
            enabled: None,
            path: "/openapi.json".to_owned(),
            docs: None,
            docs_path: "/docs".to_owned(),
            title: "xcore API".to_owned(),
            version: "1.0.0".to_owned(),
        }
    }
}

/// The `[otp]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct OtpConfig {
    /// Digits of a one-time code (6 to 10).
    pub length: u32,
    /// Lifetime of a code, in seconds.
    pub ttl_secs: u64,
    /// Wrong attempts after which a code is dead.
    pub max_attempts: u32,
    /// Issuer shown by authenticator apps for TOTP.
    pub totp_issuer: String,
}

impl Default for OtpConfig {
    fn default() -> Self {
        OtpConfig {
            length: 6,
            ttl_secs: 300,
            max_attempts: 5,
            totp_issuer: "xcore".to_owned(),
        }
    }
}

/// The `[database]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (created if missing) or `postgres://...`.
    pub url: RedactedUrl,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long start-up keeps retrying an unreachable database, in seconds.
    pub connect_retry_secs: u64,
    /// How long a request waits for a pooled connection before a 503, in seconds.
    pub acquire_timeout_secs: u64,
}

/// The `[cache]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// `redis://...` for Redis; unset for the in-process cache.
    pub url: Option<RedactedUrl>,
    /// Prefix of every key this app writes (so apps can share a Redis).
    pub prefix: String,
    /// Size bound of the in-process cache, in bytes (keys plus values).
    pub memory_max_bytes: u64,
    /// With Redis, size bound of the in-process tier in front of it, in
    /// bytes: values read once are served from memory while Redis tracks
    /// them (`CLIENT TRACKING`) and says when they change. `0` turns the
    /// tier off.
    pub local_max_bytes: u64,
    /// Longest wait for one Redis command, in milliseconds; past it the
    /// call fails (cached routes then serve uncached).
    pub timeout_ms: u64,
}

/// A connection URL whose password never shows in logs or `Debug` output.
///
/// ```
/// let url = xcore::config::RedactedUrl::from("postgres://app:s3cret@db:5432/shop");
/// assert_eq!(url.to_string(), "postgres://app:***@db:5432/shop");
/// assert_eq!(url.expose(), "postgres://app:s3cret@db:5432/shop");
/// let url = xcore::config::RedactedUrl::from("postgres://db/shop?user=app&password=s3cret");
/// assert_eq!(url.to_string(), "postgres://db/shop?user=app&password=***");
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct RedactedUrl(String);

impl RedactedUrl {
    /// The full URL, password included. Call only to connect.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for RedactedUrl {
    fn from(value: String) -> Self {
        RedactedUrl(value)
    }
}

impl From<&str> for RedactedUrl {
    fn from(value: &str) -> Self {
        RedactedUrl(value.to_owned())
    }
}

impl std::fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://user:password@host...?password=... -> the same with ***.
        let url = &self.0;
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url.as_str(), None),
        };
        match base.find("://").and_then(|end| {
            let rest = &base[end + 3..];
            let at = rest.find('@')?;
            let colon = rest[..at].find(':')?;
            Some((end + 3 + colon, end + 3 + at))
        }) {
            Some((colon, at)) => write!(f, "{}:***{}", &base[..colon], &base[at..])?,
            None => f.write_str(base)?,
        }
        if let Some(query) = query {
            f.write_str("?")?;
            for (index, pair) in query.split('&').enumerate() {
                if index > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) if is_secret_parameter(name) => write!(f, "{name}=***")?,
                    _ => f.write_str(pair)?,
                }
            }
        }
        Ok(())
    }
}

/// Query parameters of connection URLs that carry credentials
/// (`?password=`, `sslpassword`, `auth_token`…).
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// Written out (by `check-config`) with its password hidden.
impl Serialize for RedactedUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: RedactedUrl::from("sqlite://xcore.db"),
            max_connections: 10,
            connect_retry_secs: 30,
            acquire_timeout_secs: 3,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            url: None,
            prefix: "xcore:".to_owned(),
            memory_max_bytes: 64 * 1024 * 1024,
            local_max_bytes: 16 * 1024 * 1024,
            timeout_ms: 500,
        }
    }
}

/// The `[auth]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Deprecated: the former name of `app_secret`, read when
    /// `app_secret` is unset.
    pub jwt_secret: Option<Secret>,
    /// Signing algorithm; tokens signed otherwise are rejected.
    pub jwt_algorithm: JwtAlgorithm,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a session's refresh tokens, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Whether the built-in `/auth` plugin is mounted.
    pub endpoints: bool,
    /// Whether anyone may create an account with `POST /auth/register`
    /// (`false`: 403, and accounts come from an administrator).
    pub registration: bool,
    /// Shortest password accepted at registration and change.
    pub password_min_length: usize,
    /// Failed logins for one e-mail within the window before a 429; also
    /// the limit of wrong passwords and codes a signed-in user may give
    /// (password change, second-factor changes).
    pub login_max_failures: u32,
    /// Failed logins from one client address within the window before a
    /// 429, whatever the e-mails (password spraying). Off with
    /// `rate_limit.builtin = false`.
    pub login_max_failures_per_address: u32,
    /// The window of the login limits, in seconds.
    pub login_failure_window_secs: u64,
    /// Password hashes computed at once (0: one fewer than the cores, at
    /// least one), so hashing never takes every core.
    pub hash_concurrency: usize,
    /// Password hashes that may wait for their turn; past that, 503.
    pub hash_queue: usize,
    /// How long a hash waits for its turn before a 503, in milliseconds.
    pub hash_wait_ms: u64,
    /// The `aud` of access tokens, checked on every request: give each
    /// deployment its own, so two deployments sharing a secret still refuse
    /// each other's tokens.
    pub token_audience: String,
    /// The `iss` of access tokens, checked on every request.
    pub token_issuer: String,
    /// Argon2id memory per hash, in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Where users reach the application: the links of the password-reset
    /// and verification e-mails start with it
    /// (`{public_url}/reset-password?token=…`). Unset: `http://` and
    /// `bind`, fit for development only.
    pub public_url: Option<String>,
    /// Lifetime of a password-reset link, in seconds.
    pub password_reset_ttl_secs: u64,
    /// Lifetime of an address-verification link, in seconds.
    pub email_verification_ttl_secs: u64,
    /// Whether a login of an account whose address is not verified is
    /// refused (403).
    pub require_verified_email: bool,
}

/// The `[admin]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Whether the built-in `/admin` plugin is mounted.
    pub endpoints: bool,
    /// E-mail of the first administrator, created or promoted at start-up
    /// when no administrator exists.
    pub email: Option<String>,
    /// Password of that account when it has to be created.
    pub password: Option<Secret>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            endpoints: true,
            email: None,
            password: None,
        }
    }
}

/// The `[http]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes; larger ones get a 413.
    pub body_limit_bytes: usize,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed
    /// (addresses or networks: `["10.0.0.0/8", "::1"]`, or one
    /// comma-separated string). Empty: the socket's peer is the client.
    pub trusted_proxies: crate::client::TrustedProxies,
    /// Origins allowed to call the API from a browser (CORS), e.g.
    /// `["https://app.example.com"]`, or `["*"]` for any (then without
    /// credentials). Empty: no CORS headers.
    pub cors_origins: StringList,
    /// Compress answers (gzip, brotli) for clients that accept it.
    pub compression: bool,
    /// `Strict-Transport-Security`, `X-Frame-Options: DENY`,
    /// `Referrer-Policy: no-referrer` on every answer (`nosniff` always).
    pub security_headers: bool,
    /// Longest time a request may take, in seconds (0: no limit); past it,
    /// 408.
    pub request_timeout_secs: u64,
}

/// A list of strings, written as a list or as one comma-separated string
/// (as an environment variable gives it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        Ok(StringList(match Raw::deserialize(deserializer)? {
            Raw::One(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Raw::Many(items) => items,
        }))
    }
}

/// `http.trusted_proxies`: a list setting (`["10.0.0.0/8", "::1"]` or one
/// comma-separated string) whose items are address ranges.
impl<'de> Deserialize<'de> for crate::client::TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let StringList(items) = StringList::deserialize(deserializer)?;
        crate::client::TrustedProxies::parse(&items).map_err(serde::de::Error::custom)
    }
}

/// The `[rate_limit]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Whether the built-in endpoints' limits apply (login failures per
    /// client address, and the route limits of `/auth`). Off for load
    /// tests and suites that sign many accounts up from one address; the
    /// per-account login throttle stays on regardless.
    pub builtin: bool,
    /// One quota (`"20/minute"`) for every limit of the built-in
    /// endpoints, each keeping its key.
    pub builtin_default: Option<String>,
    /// Limits by route id (`plugin.handler`): `"off"`, or a comma-separated
    /// list that replaces the declared ones (`"5/minute, 100/day"`; keys
    /// as declared, else the user on a guarded route and the address
    /// otherwise).
    pub routes: std::collections::BTreeMap<String, String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            builtin: true,
            builtin_default: None,
            routes: std::collections::BTreeMap::new(),
        }
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
            warnings: Vec::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            jwt_algorithm: JwtAlgorithm::HS256,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            endpoints: true,
            registration: true,
            password_min_length: 8,
            login_max_failures: 10,
            login_max_failures_per_address: 100,
            login_failure_window_secs: 15 * 60,
            hash_concurrency: 0,
            hash_queue: 32,
            hash_wait_ms: 1000,
            token_audience: "xcore".to_owned(),
            token_issuer: "xcore".to_owned(),
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            public_url: None,
            password_reset_ttl_secs: 30 * 60,
            email_verification_ttl_secs: 3 * 24 * 3600,
            require_verified_email: false,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 2 * 1024 * 1024,
            trusted_proxies: crate::client::TrustedProxies::default(),
            cors_origins: StringList::default(),
            compression: false,
            security_headers: false,
            request_timeout_secs: 0,
        }
    }
}

impl Config {
    /// Loads `xcore.toml` (or the file named by `XCORE_CONFIG`) if it exists,
    /// then applies `XCORE_*` environment variables on top.
    pub fn load() -> Result<Self, Error> {
        let path = std::env::var_os("XCORE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("xcore.toml"));
        Self::load_from(&path)
    }

    /// Like [`Config::load`] with an explicit file path (a missing file is not an error).
    pub fn load_from(path: &Path) -> Result<Self, Error> {
        let unknown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut config: Config = Figment::new()
            .merge(Toml::file(path))
            .merge(conventional_env())
            .merge(env_provider(
                Config::keys(),
                std::sync::Arc::clone(&unknown),
            ))
            .extract()
            .map_err(|err| Error::Config(err.to_string()))?;
        let unknown = std::mem::take(&mut *unknown.lock().unwrap_or_else(|p| p.into_inner()));
        config.warnings.extend(unknown);
        Ok(config)
    }

    /// Every configuration key, dotted (`auth.login_max_failures`), from
    /// the configuration types themselves.
    ///
    /// ```
    /// let keys = xcore::config::Config::keys();
    /// assert!(keys.contains(&"app_secret".to_owned()));
    /// assert!(keys.contains(&"database.url".to_owned()));
    /// ```
    pub fn keys() -> Vec<String> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(fields) if !fields.is_empty() => {
                    for (name, field) in fields {
                        let key = if prefix.is_empty() {
                            name.clone()
                        } else {
                            format!("{prefix}.{name}")
                        };
                        walk(&key, field, out);
                    }
                }
                _ => out.push(prefix.to_owned()),
            }
        }
        let mut keys = Vec::new();
        if let Ok(value) = serde_json::to_value(Config::default()) {
            walk("", &value, &mut keys);
        }
        keys
    }

    /// What loading found worth a warning (unknown `XCORE_*` variables),
    /// logged when the app starts.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

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

    /// The application secret and where it came from: `app_secret`, its
    /// deprecated former name `auth.jwt_secret`, or — in development only —
    /// a random one kept in a file beside the database. Refused when shorter than [`MIN_APP_SECRET_LEN`].
    pub(crate) fn resolved_secret(&self) -> Result<(Secret, SecretSource), Error> {
        let (secret, source) = match (&self.app_secret, &self.auth.jwt_secret, self.env) {
            (Some(secret), _, _) => (secret.clone(), SecretSource::Configured),
            (None, Some(secret), _) => (secret.clone(), SecretSource::DeprecatedName),
            (None, None, Environment::Production) => {
                return Err(Error::Config(
                    "no app secret configured: in production set XCORE_APP_SECRET \
                     (or app_secret in xcore.toml; its former name XCORE_AUTH_JWT_SECRET is \
                     still read) to a random value of at least 32 bytes"
                        .into(),
                ));
            }
            (None, None, Environment::Development) => {
                match dev_secret_path(self.database.url.expose()) {
                    Some(path) => (
                        crate::security::load_or_create_dev_secret(&path)?,
                        SecretSource::Kept(path),
                    ),
                    None => {
                        let bytes: [u8; 32] = rand::random();
                        (Secret::new(bytes.to_vec()), SecretSource::Generated)
                    }
                }
            }
        };
        if secret.len() < MIN_APP_SECRET_LEN {
            return Err(Error::Config(format!(
                "the app secret must be at least {MIN_APP_SECRET_LEN} bytes long (it has {})",
                secret.len()
            )));
        }
        Ok((secret, source))
    }
}

/// Where the application secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// `app_secret` / `XCORE_APP_SECRET`.
    Configured,
    /// `auth.jwt_secret` / `XCORE_AUTH_JWT_SECRET`, the former name.
    DeprecatedName,
    /// None configured, in development: random, written once to this file
    /// and read back at every start.
    Kept(PathBuf),
    /// None configured, in development with an in-memory database: random,
    /// lost at exit like the data.
    Generated,
}

/// The file of a `sqlite:` URL, or `None` for PostgreSQL and in-memory
/// databases.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let file = path.split('?').next().unwrap_or(path);
    (!file.is_empty() && !file.starts_with(":memory:") && !url.contains("mode=memory"))
        .then_some(file)
}

/// Where the development secret of a database lives: beside a SQLite file
/// (`app.db` → `app.db-secret`, matched by the `*.db-*` pattern most
/// `.gitignore` files have for SQLite's journals), else `.xcore/app-secret`
/// in the working directory. `None` for an in-memory database, whose data
/// dies with the process anyway.
fn dev_secret_path(database_url: &str) -> Option<PathBuf> {
    if database_url.starts_with("sqlite:") {
        let file = sqlite_file(database_url)?;
        return Some(PathBuf::from(format!("{file}-secret")));
    }
    Some(Path::new(".xcore").join("app-secret"))
}

/// `DATABASE_URL` and `REDIS_URL`, the names every hosting platform sets.
fn conventional_env() -> Env {
    Env::raw().only(&["DATABASE_URL", "REDIS_URL"]).map(|key| {
        match key.as_str().to_ascii_lowercase().as_str() {
            "database_url" => "database.url".into(),
            _ => "cache.url".into(),
        }
    })
}

/// `XCORE_<SECTION>_<KEY>` as a dotted key, `auth.jwt_secret`.
fn dotted(variable: &str) -> String {
    let key = variable.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key
}

/// The `XCORE_*` variables that name a key. Others are not errors (a
/// harness's or a tool's variables share the prefix): each is reported in
/// `unknown` with the closest key, and left out.
fn env_provider(keys: Vec<String>, unknown: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> Env {
    Env::prefixed("XCORE_").filter_map(move |variable| {
        let raw = variable.as_str().to_ascii_lowercase();
        // XCORE_CONFIG names the file; XCORE_TEST_* belong to the test suite;
        // XCORE_MACROS_DEBUG to the macros.
        if raw == "config" || raw.starts_with("test_") || raw == "macros_debug" {
            return None;
        }
        let key = dotted(&raw);
        if keys.contains(&key) {
            return Some(key.into());
        }
        let closest = keys
            .iter()
            .min_by_key(|known| edit_distance(known, &key))
            .map(|known| format!("XCORE_{}", known.replace('.', "_").to_ascii_uppercase()))
            .unwrap_or_default();
        unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!(
                "XCORE_{} is not a configuration variable and is ignored (the closest is {closest})",
                raw.to_ascii_uppercase()
            ));
        None
    })
}

/// Levenshtein distance, to suggest the key a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
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

    #[test]
    fn the_file_is_beside_a_sqlite_database_and_nowhere_for_memory() {
        assert_eq!(
            dev_secret_path("sqlite://data/app.db?mode=rwc"),
            Some(PathBuf::from("data/app.db-secret"))
        );
        assert_eq!(dev_secret_path("sqlite::memory:"), None);
        assert_eq!(
            dev_secret_path("postgres://db/app"),
            Some(PathBuf::from(".xcore/app-secret"))
        );
    }

    #[test]
    fn production_without_secret_refuses_with_a_clear_message() {
        let config = Config::default().with_env(Environment::Production);
        let err = config.resolved_secret().expect_err("must refuse");
        assert!(err.to_string().contains("XCORE_AUTH_JWT_SECRET"), "{err}");
        assert!(err.to_string().contains("XCORE_APP_SECRET"), "{err}");
    }

    #[test]
    fn development_without_secret_generates_one_and_says_so() {
        let (_, source) = Config::default()
            .with_database_url("sqlite::memory:")
            .resolved_secret()
            .expect("secret");
        assert_eq!(source, SecretSource::Generated);
        let file =
            std::env::temp_dir().join(format!("xcore-kept-{}.db", uuid::Uuid::new_v4().simple()));
        let config = Config::default().with_database_url(format!("sqlite://{}", file.display()));
        let (first, source) = config.resolved_secret().expect("secret");
        let kept = PathBuf::from(format!("{}-secret", file.display()));
        assert_eq!(source, SecretSource::Kept(kept.clone()));
        let (again, _) = config.resolved_secret().expect("secret");
        assert_eq!(first.expose(), again.expose());
        let _ = std::fs::remove_file(kept);
        let (_, source) = Config::default()
            .with_app_secret("0123456789abcdef0123456789abcdef")
            .resolved_secret()
            .expect("secret");
        assert_eq!(source, SecretSource::Configured);
    }

    #[test]
    fn the_former_secret_name_is_still_read() {
        jail(|jail| {
            jail.set_env("XCORE_AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef");
            let config = Config::load().map_err(|e| e.to_string())?;
            let (secret, source) = config.resolved_secret().map_err(|e| e.to_string())?;
            assert_eq!(source, SecretSource::DeprecatedName);
            assert_eq!(secret.expose(), b"0123456789abcdef0123456789abcdef");
            jail.set_env("XCORE_APP_SECRET", "the new name wins, 32 bytes or more");
            let config = Config::load().map_err(|e| e.to_string())?;
            let (secret, source) = config.resolved_secret().map_err(|e| e.to_string())?;
            assert_eq!(source, SecretSource::Configured);
            assert_eq!(secret.expose(), b"the new name wins, 32 bytes or more");
            Ok(())
        });
    }

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
