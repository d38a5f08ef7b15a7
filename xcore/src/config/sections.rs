//! The sections of the configuration, each with its defaults beneath it:
//! what a key means and what it is when unset, read in one place.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ForwardedHeader, RedactedUrl, TrustedProxies};
use crate::security::{JwtAlgorithm, Secret};

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
    /// How hard to guess a new password must be, as a zxcvbn score (0 to
    /// 4; 0: not checked): 2 refuses what about a million guesses find
    /// (breached and common passwords, words with digits appended, keyboard
    /// walks, the account's e-mail), 3 what a hundred million find.
    #[serde(deserialize_with = "password_strength")]
    pub password_min_strength: u8,
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
    /// Whether logging out everywhere and changing the password also
    /// revoke every API key of the user (a password reset and an
    /// administrator's second-factor reset always do).
    pub revoke_api_keys_with_sessions: bool,
    /// Days a new API key works when its creator names no lifetime (capped
    /// by `api_key_max_days`; 0 with no maximum: until revoked).
    pub api_key_default_days: u32,
    /// The longest lifetime, in days, a new API key may be given (a longer
    /// one is a 422); 0: no maximum, and keys may be made to last until
    /// revoked.
    pub api_key_max_days: u32,
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
            password_min_strength: 2,
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
            revoke_api_keys_with_sessions: true,
            api_key_default_days: 90,
            api_key_max_days: 365,
        }
    }
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
    /// Proxies whose forwarding header is believed (addresses or networks:
    /// `["10.0.0.0/8", "::1"]`, or one comma-separated string). Empty: the
    /// socket's peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// The one header the trusted proxies write the client's address in:
    /// `x-forwarded-for` or `forwarded` (RFC 7239). It is read from the
    /// right, trusted hops skipped; the other header is never read, since a
    /// proxy that does not write it passes on whatever the client wrote.
    pub forwarded_header: ForwardedHeader,
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
    /// Longest time, in seconds, a connection may take to send a request's
    /// head, or stay idle waiting for the next one (the first byte too);
    /// past it the connection is closed. 0: no limit (a slow client then
    /// holds its connection as long as it likes).
    pub header_read_timeout_secs: u64,
    /// Most connections open at once; past it, new ones wait in the
    /// system's queue until one closes. 0: no limit.
    pub max_connections: usize,
}

impl HttpConfig {
    /// `header_read_timeout_secs` as a duration; `None` for no limit.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let http = xcore::config::Config::default().http;
    /// assert_eq!(http.header_read_timeout(), Some(Duration::from_secs(10)));
    /// ```
    pub fn header_read_timeout(&self) -> Option<std::time::Duration> {
        (self.header_read_timeout_secs > 0)
            .then(|| std::time::Duration::from_secs(self.header_read_timeout_secs))
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 2 * 1024 * 1024,
            trusted_proxies: TrustedProxies::default(),
            forwarded_header: ForwardedHeader::default(),
            cors_origins: StringList::default(),
            compression: false,
            security_headers: false,
            request_timeout_secs: 0,
            header_read_timeout_secs: 10,
            max_connections: 4096,
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
    /// Codes one user may give in an hour, whatever the number of codes
    /// sent (a new code does not bring the guesses back); past it, 429.
    pub max_attempts_per_hour: u32,
    /// Issuer shown by authenticator apps for TOTP.
    pub totp_issuer: String,
}

impl Default for OtpConfig {
    fn default() -> Self {
        OtpConfig {
            length: 6,
            ttl_secs: 300,
            max_attempts: 5,
            max_attempts_per_hour: 15,
            totp_issuer: "xcore".to_owned(),
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
    pub routes: BTreeMap<String, String>,
    /// The network an IPv6 client is counted by, as a prefix length (1 to
    /// 128): one household or server gets a whole /64, so counting single
    /// addresses would give it 2^64 budgets. IPv4 addresses count alone.
    #[serde(deserialize_with = "ipv6_prefix")]
    pub ipv6_prefix: u8,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            builtin: true,
            builtin_default: None,
            routes: BTreeMap::new(),
            ipv6_prefix: 64,
        }
    }
}

/// `auth.password_min_strength`: a zxcvbn score.
fn password_strength<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let score = u8::deserialize(deserializer)?;
    if score <= 4 {
        Ok(score)
    } else {
        Err(serde::de::Error::custom(format!(
            "{score} is not a password strength (0 to 4)"
        )))
    }
}

/// `rate_limit.ipv6_prefix`: a prefix length an IPv6 network can have.
fn ipv6_prefix<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let prefix = u8::deserialize(deserializer)?;
    if (1..=128).contains(&prefix) {
        Ok(prefix)
    } else {
        Err(serde::de::Error::custom(format!(
            "{prefix} is not an IPv6 prefix length (1 to 128)"
        )))
    }
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

/// The `[lifecycle]` section: how long starting and stopping may take.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LifecycleConfig {
    /// Longest a plugin's start hook may run, in seconds; past it the start
    /// fails as if the hook had.
    pub start_timeout_secs: u64,
    /// Longest a plugin's stop hook may run, in seconds; past it the next
    /// plugin is stopped.
    pub stop_timeout_secs: u64,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to
    /// finish, in seconds; then every connection still open (an event
    /// stream, a WebSocket, a slow answer) is closed, and the stop hooks run.
    pub shutdown_timeout_secs: u64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            start_timeout_secs: 60,
            stop_timeout_secs: 10,
            shutdown_timeout_secs: 30,
        }
    }
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
