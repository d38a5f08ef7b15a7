//! User accounts, sessions and authorisation state, stored in the database
//! by the framework's own migrations (`xcore_*` tables) and served to
//! clients by the built-in `/auth` and `/admin` plugins.
//!
//! [`Accounts`] is made of services that each own their tables —
//! [`Users`], [`Sessions`], [`Access`] (roles and permissions),
//! [`TwoFactor`] (TOTP) — and runs the flows that cross them: register,
//! log in, refresh, change a password, reset a forgotten one, verify the
//! e-mail address.
//!
//! One file per flow, each an `impl Accounts`: `registration`, `login`
//! (password, second factor, session), `refresh`, `sign_out`, `password`,
//! `recovery` (links sent by e-mail), `totp`, `bootstrap` (the first
//! administrator), and the key flows beside `api_keys`. Every change goes
//! through `write` — one transaction, its audit record inside it, then the
//! changed users' versions published — so none can be committed unrecorded.
//!
//! Tokens issued at login carry a session id and the user's authorisation
//! version. Every change that must take effect at once (logout, role or
//! permission change, password change) bumps that version in the database
//! and in the shared cache; a guard compares the token's version with the
//! cached one and consults the database only when they differ. With Redis
//! the cache is shared, so every instance sees the change on the next
//! request; when the cache cannot be read, guarded requests fail closed (503).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! use xcore::accounts::LoginOutcome;
//! use xcore::testing::TestClient;
//!
//! let client = TestClient::new(xcore::App::new(xcore::testing::config())?).await?;
//! let accounts = client.state().accounts();
//! let ada = accounts.register("ada@example.com", "correct horse").await?;
//! accounts.access().create_role("editor", None).await?;
//! accounts.access().grant_role(ada.id, "editor").await?;
//! let LoginOutcome::Tokens(tokens) = accounts.login("ada@example.com", "correct horse").await? else {
//!     unreachable!("no second factor");
//! };
//! assert_eq!(accounts.user(ada.id).await?.roles, ["editor"]);
//! # let _ = tokens;
//! # Ok(())
//! # }
//! ```

mod access;
mod api_keys;
mod audit;
mod bootstrap;
mod links;
mod login;
mod migrations;
mod password;
mod recovery;
mod refresh;
mod registration;
mod resolve;
mod sessions;
mod sign_out;
mod throttle;
mod totp;
mod two_factor;
mod users;
mod versions;
mod write;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

pub use access::{ADMIN_ROLE, Access, Permission, Role};
pub use api_keys::{ApiKey, ApiKeys, NewApiKey};
pub(crate) use api_keys::{KEY_PREFIX, Lifetimes};
pub use audit::{Actor, Audit, AuditEntry, AuditQuery, Event};
pub use bootstrap::AdminMade;
pub use login::{LoginOutcome, TokenPair};
pub(crate) use migrations::{MIGRATIONS, MIGRATIONS_NAME};
pub use sessions::{LiveSession, Sessions};
pub use two_factor::{MfaChallenge, RecoveryCodes, TotpSetup, TwoFactor};
pub use users::{User, Users};

use crate::cache::Cache;
use crate::config::Config;
use crate::db::Db;
use crate::error::Error;
use crate::mail::Mailer;
use crate::rate_limit::Limiter;
use crate::security::{HashPool, JwtKeys, PasswordParams, VerifiedTokens, default_concurrency};
use refresh::refresh_limit;
use throttle::Limit;
use users::valid_email;
use versions::Versions;
use write::Writes;

/// An e-mail as accounts accept it, or the 422 naming `email`.
pub(crate) fn check_email(email: &str) -> Result<(), Error> {
    if valid_email(email) {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "email",
            "email",
            "must be an e-mail address",
        ))
    }
}

/// What the e-mailed links need: where they point, how long they live,
/// who delivers them.
#[derive(Clone)]
struct LinkSettings {
    mailer: Mailer,
    public_url: Arc<str>,
    reset_ttl: Duration,
    verify_ttl: Duration,
}

/// The accounts service: its parts, and the flows that cross them.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    users: Users,
    sessions: Sessions,
    access: Access,
    api_keys: ApiKeys,
    two_factor: TwoFactor,
    versions: Versions,
    writes: Writes,
    audit: Audit,
    login_by_account: Limit,
    login_by_address: Option<Limit>,
    /// The network an IPv6 address is counted by (`rate_limit.ipv6_prefix`).
    ipv6_prefix: u8,
    checks: Limit,
    /// Password-reset requests per e-mail.
    reset_requests: Limit,
    links: LinkSettings,
    require_verified: bool,
    /// Refreshes per session (`None` with `rate_limit.builtin = false`).
    refresh_limit: Option<Arc<Limiter>>,
    hasher: HashPool,
    dummy_hash: Arc<OnceCell<String>>,
    actor: Actor,
    keys: JwtKeys,
    /// Access tokens already verified (signature, `exp`, audience).
    tokens: Arc<VerifiedTokens>,
    access_ttl: Duration,
    params: PasswordParams,
    min_password: usize,
    /// The zxcvbn score a new password must reach (0: not estimated).
    min_strength: u8,
    /// `auth.revoke_api_keys_with_sessions`.
    keys_end_with_sessions: bool,
}

/// Longest password accepted (argon2 hashes any length; a bound keeps a
/// megabyte "password" from costing more than a real one).
pub(crate) const MAX_PASSWORD_CHARS: usize = 1024;

impl Accounts {
    pub(crate) fn new(
        config: &Config,
        db: Db,
        cache: Cache,
        keys: JwtKeys,
        totp_key: [u8; 32],
        mailer: Mailer,
    ) -> Self {
        let cache = cache.scoped("xcore-auth");
        let auth = &config.auth;
        let window = auth.login_failure_window_secs;
        let users = Users::new(db.clone());
        let versions = Versions::new(db.clone(), cache.clone());
        let concurrency = match auth.hash_concurrency {
            0 => default_concurrency(),
            n => n,
        };
        let access = Access::new(db.clone(), users.clone(), versions.clone());
        Accounts {
            sessions: Sessions::new(db.clone(), Duration::from_secs(auth.refresh_token_ttl_secs)),
            api_keys: ApiKeys::new(
                db.clone(),
                access.clone(),
                Lifetimes {
                    default_days: auth.api_key_default_days,
                    max_days: auth.api_key_max_days,
                },
            ),
            access,
            two_factor: TwoFactor::new(
                db.clone(),
                cache.clone(),
                totp_key,
                config.otp.totp_issuer.clone(),
            ),
            audit: Audit::new(db.clone()),
            login_by_account: Limit::new(cache.scoped("login"), auth.login_max_failures, window),
            login_by_address: config.rate_limit.builtin.then(|| {
                Limit::new(
                    cache.scoped("login-from"),
                    auth.login_max_failures_per_address,
                    window,
                )
            }),
            ipv6_prefix: config.rate_limit.ipv6_prefix,
            checks: Limit::new(cache.scoped("checks"), auth.login_max_failures, window),
            reset_requests: Limit::new(
                cache.scoped("reset-requests"),
                if config.rate_limit.builtin {
                    auth.login_max_failures
                } else {
                    0
                },
                window,
            ),
            links: LinkSettings {
                mailer,
                public_url: config.public_url().into(),
                reset_ttl: Duration::from_secs(auth.password_reset_ttl_secs),
                verify_ttl: Duration::from_secs(auth.email_verification_ttl_secs),
            },
            require_verified: auth.require_verified_email,
            refresh_limit: refresh_limit(config, &cache),
            hasher: HashPool::new(
                concurrency,
                auth.hash_queue,
                Duration::from_millis(auth.hash_wait_ms),
            ),
            dummy_hash: Arc::default(),
            actor: Actor::default(),
            writes: Writes::new(db.clone(), versions.clone()),
            db,
            users,
            versions,
            tokens: Arc::new(VerifiedTokens::new(keys.clone())),
            keys,
            access_ttl: config.access_token_ttl(),
            params: config.password_params(),
            min_password: auth.password_min_length,
            min_strength: auth.password_min_strength,
            keys_end_with_sessions: auth.revoke_api_keys_with_sessions,
        }
    }

    /// The same service, recording `actor` (who acts, from which address)
    /// in the audit log and counting logins against its address. The
    /// built-in endpoints pass the client and, when signed in, the user.
    pub fn acting(&self, actor: Actor) -> Self {
        Accounts {
            actor,
            access: self.access.by(actor),
            ..self.clone()
        }
    }

    /// The accounts themselves.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// Sessions and refresh tokens.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Roles, permissions and who holds them.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// API keys.
    pub fn api_keys(&self) -> &ApiKeys {
        &self.api_keys
    }

    /// The TOTP second factor.
    pub fn two_factor(&self) -> &TwoFactor {
        &self.two_factor
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The bounded pool password hashes run in.
    pub fn hash_pool(&self) -> &HashPool {
        &self.hasher
    }

    /// The actor, as the user `user` acting on their own account.
    fn as_user(&self, user: i64) -> Actor {
        Actor {
            user: Some(user),
            ..self.actor
        }
    }

    /// The actor of a change to `user`'s account: whoever acts (an
    /// administrator), or else the user themselves.
    fn acting_on(&self, user: i64) -> Actor {
        self.actor
            .user
            .map_or_else(|| self.as_user(user), |_| self.actor)
    }

    /// The user with this id, roles and permissions included.
    pub async fn user(&self, id: i64) -> Result<User, Error> {
        // Kept under the user's version, which every change to what `User`
        // shows bumps: a changed account is read anew, nothing is deleted.
        let version = self.versions.latest(id).await?;
        if let Ok(Some(user)) = self.versions.cached_profile::<User>(id, version).await {
            return Ok(user);
        }
        let (email, email_verified) = self.users.email_and_verified(id).await?;
        let (roles, permissions) = self.access.of(id).await?;
        let user = User {
            id,
            email,
            roles,
            permissions,
            totp_enabled: self.two_factor.enabled(id).await?,
            email_verified,
            recovery_codes_left: self.two_factor.recovery_codes_left(id).await?,
        };
        let _ = self.versions.remember_profile(id, version, &user).await;
        Ok(user)
    }

    async fn record_alone(
        &self,
        event: Event,
        subject: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<(), Error> {
        self.audit
            .record_alone(event, self.actor, subject, detail)
            .await
    }
}
