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
mod links;
mod recovery;
mod resolve;
mod sessions;
mod throttle;
mod two_factor;
mod users;
mod versions;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio::sync::OnceCell;

pub use access::{ADMIN_ROLE, Access, Permission, Role};
pub(crate) use api_keys::KEY_PREFIX;
pub use api_keys::{ApiKey, ApiKeys, NewApiKey};
pub use audit::{Actor, Audit, AuditEntry, AuditQuery, Event};
pub use sessions::Sessions;
pub use two_factor::{MfaChallenge, RecoveryCodes, TotpSetup, TwoFactor};
pub use users::{User, Users};

use crate::cache::Cache;
use crate::config::Config;
use crate::db::{Db, Migration};
use crate::error::{AuthFailure, Error};
use crate::mail::Mailer;
use crate::rate_limit::{Limiter, RateLimit};
use crate::security::{
    Claims, HashPool, JwtKeys, PasswordParams, VerifiedTokens, create_token, default_concurrency,
    needs_rehash,
};
use audit::client_text;
use sessions::RefreshRefused;
use throttle::{Attempt, Counted, Limit, too_many};
use users::{Credentials, normalize_email, valid_email};
use versions::Versions;

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

/// The accounts tables, in the migration history under the name `auth`
/// (the name they were first applied under).
pub(crate) const MIGRATIONS_NAME: &str = "auth";

/// The accounts tables: applied at start-up even when the `/auth`
/// endpoints are off, since guards read them.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration::new(1, "users", "0001_users.sql")
        .sqlite(include_str!("../../migrations/auth/0001_users.sqlite.sql"))
        .postgres(include_str!(
            "../../migrations/auth/0001_users.postgres.sql"
        )),
    Migration::new(2, "access", "0002_access.sql")
        .sql(include_str!("../../migrations/auth/0002_access.sql")),
    Migration::new(3, "totp", "0003_totp.sql")
        .sql(include_str!("../../migrations/auth/0003_totp.sql")),
    Migration::new(4, "sessions_not_before", "0004_sessions_not_before.sql").sql(include_str!(
        "../../migrations/auth/0004_sessions_not_before.sql"
    )),
    Migration::new(5, "audit", "0005_audit.sql")
        .sqlite(include_str!("../../migrations/auth/0005_audit.sqlite.sql"))
        .postgres(include_str!(
            "../../migrations/auth/0005_audit.postgres.sql"
        )),
    Migration::new(6, "account_links", "0006_account_links.sql")
        .sql(include_str!("../../migrations/auth/0006_account_links.sql")),
    Migration::new(7, "recovery_codes", "0007_recovery_codes.sql").sql(include_str!(
        "../../migrations/auth/0007_recovery_codes.sql"
    )),
    Migration::new(8, "api_keys", "0008_api_keys.sql")
        .sql(include_str!("../../migrations/auth/0008_api_keys.sql")),
];

/// What the e-mailed links need: where they point, how long they live,
/// who delivers them.
#[derive(Clone)]
struct LinkSettings {
    mailer: Mailer,
    public_url: Arc<str>,
    reset_ttl: Duration,
    verify_ttl: Duration,
}

/// What a login answers: tokens, or a TOTP challenge for accounts with the
/// second factor on.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    /// Signed in.
    Tokens(TokenPair),
    /// Send a TOTP code with the token to `POST /auth/login/totp`.
    MfaRequired(MfaChallenge),
}

/// What a successful login or refresh returns.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use token for `/auth/refresh`.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Lifetime of the access token, in seconds.
    pub expires_in: u64,
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
    audit: Audit,
    login_by_account: Limit,
    login_by_address: Option<Limit>,
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
}

/// Longest password accepted (argon2 hashes any length; a bound keeps a
/// megabyte "password" from costing more than a real one).
pub(crate) const MAX_PASSWORD_CHARS: usize = 1024;

/// The limits of one login attempt, let through.
struct LoginAttempt {
    account: Attempt,
    address: Option<Attempt>,
}

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
            api_keys: ApiKeys::new(db.clone(), access.clone()),
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
            db,
            users,
            versions,
            tokens: Arc::new(VerifiedTokens::new(keys.clone())),
            keys,
            access_ttl: config.access_token_ttl(),
            params: config.password_params(),
            min_password: auth.password_min_length,
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

    /// Creates an API key for `user` (audited); see [`ApiKeys`].
    pub async fn create_api_key(
        &self,
        user: i64,
        name: &str,
        permissions: Option<Vec<String>>,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiKey, Error> {
        let mut tx = self.db.begin_write().await?;
        let created = self
            .api_keys
            .create_in(&mut tx, user, name, permissions, expires_in_days)
            .await?;
        Audit::record(
            &mut tx,
            Event::ApiKeyCreated,
            self.as_user(user),
            Some(user),
            json!({"key": created.info.id, "name": created.info.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Revokes `user`'s key `id` (audited): it fails on the next request,
    /// on every instance. 404 when the user has no such key.
    pub async fn revoke_api_key(&self, user: i64, id: &str) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        if !ApiKeys::revoke_in(&mut tx, user, id).await? {
            return Err(Error::NotFound("no such API key".into()));
        }
        Audit::record(
            &mut tx,
            Event::ApiKeyRevoked,
            self.as_user(user),
            Some(user),
            json!({"key": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
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

    /// A new password's length (`auth.password_min_length` to
    /// [`MAX_PASSWORD_CHARS`]), as a 422 naming `field`.
    fn check_password(&self, field: &str, password: &str) -> Result<(), Error> {
        let length = password.chars().count();
        if length < self.min_password {
            return Err(Error::invalid_field(
                field,
                "length",
                format!("must have at least {} characters", self.min_password),
            ));
        }
        if length > MAX_PASSWORD_CHARS {
            return Err(Error::invalid_field(
                field,
                "length",
                format!("must have at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        Ok(())
    }

    /// Creates an account. 409 when the e-mail exists (case-insensitive),
    /// 422 for an invalid e-mail or a short password.
    pub async fn register(&self, email: &str, password: &str) -> Result<User, Error> {
        let email = normalize_email(email);
        check_email(&email)?;
        self.check_password("password", password)?;
        let hash = self.hasher.hash(password, self.params).await?;
        let mut tx = self.db.begin_write().await?;
        let id = Users::create_in(&mut tx, &email, &hash).await?;
        Audit::record(&mut tx, Event::Registered, self.actor, Some(id), json!({})).await?;
        tx.commit().await?;
        Ok(User {
            id,
            email,
            roles: Vec::new(),
            permissions: Vec::new(),
            totp_enabled: false,
            email_verified: false,
            recovery_codes_left: 0,
        })
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

    /// Marks a user's address verified (an administrator vouches for it).
    pub async fn mark_verified(&self, id: i64) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        Users::set_verified_in(&mut tx, id).await?;
        tx.commit().await?;
        self.versions.publish(&[id]).await
    }

    /// Counts a login attempt for `email` and the actor's address before
    /// any password is checked: 429 past either limit.
    async fn count_login(&self, email: &str) -> Result<LoginAttempt, Error> {
        let account = match self.login_by_account.count(email).await? {
            Counted::Allowed(attempt) => attempt,
            Counted::Refused { retry_after, first } => {
                if first {
                    self.record_alone(
                        Event::LoginLocked,
                        None,
                        json!({"email": client_text(email)}),
                    )
                    .await?;
                }
                return Err(too_many(retry_after));
            }
        };
        let address = match (&self.login_by_address, self.actor.address) {
            (Some(limit), Some(address)) => match limit.count(&address.to_string()).await? {
                Counted::Allowed(attempt) => Some(attempt),
                Counted::Refused { retry_after, first } => {
                    if first {
                        self.record_alone(Event::LoginLocked, None, json!({"address": true}))
                            .await?;
                    }
                    return Err(too_many(retry_after));
                }
            },
            _ => None,
        };
        Ok(LoginAttempt { account, address })
    }

    /// The password was right: the address's slot is given back.
    async fn password_was_right(&self, attempt: &LoginAttempt) -> Result<(), Error> {
        if let (Some(limit), Some(address)) = (&self.login_by_address, &attempt.address) {
            limit.release(address).await?;
        }
        Ok(())
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

    /// Checks e-mail and password and opens a session. Unknown e-mail and
    /// wrong password give the same 401 after the same work; too many
    /// failures for one e-mail, or from one address, give a 429 before any
    /// password is checked.
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome, Error> {
        let email = normalize_email(email);
        let attempt = self.count_login(&email).await?;
        let credentials = self.users.credentials(&email).await?;
        let verified = match &credentials {
            Some(credentials) => self.hasher.verify(password, &credentials.hash).await?,
            None => {
                let dummy = self
                    .dummy_hash
                    .get_or_try_init(|| self.hasher.hash("xcore dummy password", self.params))
                    .await?;
                self.hasher.verify(password, dummy).await?;
                false
            }
        };
        let Some(credentials) = credentials.filter(|_| verified) else {
            self.record_alone(
                Event::LoginFailed,
                None,
                json!({"email": client_text(&email)}),
            )
            .await?;
            return Err(Error::Unauthorized(AuthFailure::BadCredentials));
        };
        self.password_was_right(&attempt).await?;
        // Said only to whoever knows the password; a fresh link goes to
        // the address, since the account cannot sign in to ask for one.
        if self.require_verified && !credentials.verified {
            self.send_verification_in_background(credentials.id);
            return Err(Error::Forbidden(
                "this account's e-mail address is not verified: open the link just sent to it"
                    .into(),
            ));
        }
        if needs_rehash(&credentials.hash, self.params) {
            let rehashed = self.hasher.hash(password, self.params).await?;
            let mut conn = self.db.pool().acquire().await?;
            Users::set_password_hash_in(&mut conn, credentials.id, &rehashed).await?;
        }
        // The account's failures are cleared when a session starts, after
        // any second factor; until then the right password only gives its
        // slot back.
        if self.two_factor.enabled(credentials.id).await? {
            self.login_by_account.release(&attempt.account).await?;
            return Ok(LoginOutcome::MfaRequired(
                self.two_factor
                    .challenge(credentials.id, credentials.epoch)
                    .await?,
            ));
        }
        Ok(LoginOutcome::Tokens(
            self.start_session(&credentials, &email, &attempt).await?,
        ))
    }

    /// Completes a login started with a password on a TOTP account. Codes
    /// count towards the account's login limit, before they are checked.
    pub async fn login_totp(&self, mfa_token: &str, code: &str) -> Result<TokenPair, Error> {
        self.second_step(mfa_token, SecondFactor::Code(code)).await
    }

    /// Completes such a login with one of the account's recovery codes in
    /// place of an authenticator code: the code is spent (audited), and
    /// counts towards the login limit like a TOTP code.
    pub async fn login_recovery_code(
        &self,
        mfa_token: &str,
        recovery_code: &str,
    ) -> Result<TokenPair, Error> {
        self.second_step(mfa_token, SecondFactor::RecoveryCode(recovery_code))
            .await
    }

    async fn second_step(
        &self,
        mfa_token: &str,
        factor: SecondFactor<'_>,
    ) -> Result<TokenPair, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::Invalid);
        let (user, epoch) = self
            .two_factor
            .take_challenge(mfa_token)
            .await?
            .ok_or_else(invalid)?;
        let credentials = self.users.credentials_of(user).await?.ok_or_else(invalid)?;
        // Every session ended since the password step (a password change):
        // the challenge died with them.
        if credentials.epoch != epoch {
            return Err(invalid());
        }
        let email = self.users.email(user).await?;
        let attempt = self.count_login(&email).await?;
        // A wrong code spends the mfa token: the next try starts over with
        // the password, so codes cannot be guessed against one challenge.
        let accepted = match factor {
            SecondFactor::Code(code) => self.two_factor.accept(user, code, true).await?,
            SecondFactor::RecoveryCode(code) => {
                self.two_factor.enabled(user).await? && self.spend_recovery_code(user, code).await?
            }
        };
        if !accepted {
            self.record_alone(
                Event::LoginFailed,
                Some(user),
                json!({"second_factor": true}),
            )
            .await?;
            return Err(Error::Unauthorized(AuthFailure::WrongCode));
        }
        self.password_was_right(&attempt).await?;
        // A spent recovery code bumped the version: read it again, so the
        // tokens carry the one the guards will see.
        let credentials = match factor {
            SecondFactor::Code(_) => credentials,
            SecondFactor::RecoveryCode(_) => {
                let again = self.users.credentials_of(user).await?.ok_or_else(invalid)?;
                if again.epoch != epoch {
                    return Err(invalid());
                }
                again
            }
        };
        self.start_session(&credentials, &email, &attempt).await
    }

    /// Spends a recovery code of `user`, and records it (with how many are
    /// left) in the same transaction: `false` for an unknown or spent code.
    async fn spend_recovery_code(&self, user: i64, code: &str) -> Result<bool, Error> {
        let mut tx = self.db.begin_write().await?;
        if !TwoFactor::use_recovery_code_in(&mut tx, user, code).await? {
            return Ok(false);
        }
        let left = TwoFactor::recovery_codes_left_in(&mut tx, user).await?;
        Audit::record(
            &mut tx,
            Event::RecoveryCodeUsed,
            self.actor,
            Some(user),
            json!({ "left": left }),
        )
        .await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await?;
        Ok(true)
    }

    /// Opens a session for a verified user and issues its first tokens;
    /// 401 when every session of the user ended after `credentials` were
    /// read (the check passed, but a revocation came first).
    async fn start_session(
        &self,
        credentials: &Credentials,
        email: &str,
        attempt: &LoginAttempt,
    ) -> Result<TokenPair, Error> {
        let id = credentials.id;
        let mut tx = self.db.begin_write().await?;
        let session = self
            .sessions
            .open_in(&mut tx, id, credentials.epoch)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        Audit::record(
            &mut tx,
            Event::LoginSucceeded,
            self.as_user(id),
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.login_by_account.clear(&attempt.account).await?;
        self.issue(id, email, &session, credentials.version).await
    }

    /// A new access token and refresh token for a session, at `version`
    /// (read before the session was known to be live, so a revocation
    /// landing since leaves a stale token, re-checked, never a fresh one).
    async fn issue(
        &self,
        id: i64,
        email: &str,
        session: &str,
        version: i64,
    ) -> Result<TokenPair, Error> {
        let (roles, permissions) = self.access.of(id).await?;
        let mut claims = Claims::new(id.to_string(), self.access_ttl)
            .with_email(email)
            .with_roles(roles)
            .with_permissions(permissions);
        claims.sid = Some(session.to_owned());
        claims.ver = Some(version);
        let access_token = create_token(&self.keys, &claims)?;
        let refresh_token = self.sessions.new_refresh_token(session).await?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "bearer",
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// Exchanges a refresh token for a new pair. A token used twice revokes
    /// its whole session (someone else holds a copy).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        let limit = self.refresh_limit.as_deref();
        match self
            .sessions
            .use_refresh_token(refresh_token, limit)
            .await?
        {
            Ok(refreshed) => {
                self.issue(
                    refreshed.user,
                    &refreshed.email,
                    &refreshed.session,
                    refreshed.version,
                )
                .await
            }
            Err(RefreshRefused::Reused { user, session }) => {
                tracing::warn!(user, "refresh token reused: session revoked");
                let mut tx = self.db.begin_write().await?;
                Sessions::end_in(&mut tx, user, &session).await?;
                Audit::record(
                    &mut tx,
                    Event::RefreshReused,
                    self.actor,
                    Some(user),
                    json!({}),
                )
                .await?;
                tx.commit().await?;
                self.versions.publish(&[user]).await?;
                Err(Error::Unauthorized(AuthFailure::Invalid))
            }
            Err(RefreshRefused::Invalid) => Err(Error::Unauthorized(AuthFailure::Invalid)),
            Err(RefreshRefused::Limited(retry_after)) => Err(too_many(retry_after)),
        }
    }

    /// Ends one session: its tokens stop working on the next request.
    pub async fn revoke_session(&self, user: i64, session: &str) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        Sessions::end_in(&mut tx, user, session).await?;
        Audit::record(
            &mut tx,
            Event::SessionEnded,
            self.as_user(user),
            Some(user),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await
    }

    /// Ends every session of a user, or every one but `keep`; a login that
    /// was already past its checks cannot open one after it.
    pub async fn revoke_sessions(&self, user: i64, keep: Option<&str>) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        Sessions::end_all_in(&mut tx, user, keep).await?;
        let actor = self
            .actor
            .user
            .map_or_else(|| self.as_user(user), |_| self.actor);
        Audit::record(&mut tx, Event::SessionsEnded, actor, Some(user), json!({})).await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await
    }

    /// Counts a password or code a signed-in user gives, before it is
    /// checked: 429 past the limit.
    async fn count_check(&self, user: i64) -> Result<Attempt, Error> {
        match self.checks.count(&user.to_string()).await? {
            Counted::Allowed(attempt) => Ok(attempt),
            Counted::Refused { retry_after, .. } => Err(too_many(retry_after)),
        }
    }

    /// Checks a signed-in user's password (403 when wrong), counted.
    async fn confirm_password(&self, user: i64, password: &str) -> Result<Attempt, Error> {
        let attempt = self.count_check(user).await?;
        let credentials = self
            .users
            .credentials_of(user)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if !self.hasher.verify(password, &credentials.hash).await? {
            return Err(Error::Forbidden("the current password is wrong".into()));
        }
        Ok(attempt)
    }

    /// Changes a password after checking the current one (wrong ones are
    /// counted); other sessions end.
    pub async fn change_password(
        &self,
        user: i64,
        session: Option<&str>,
        current: &str,
        new: &str,
    ) -> Result<(), Error> {
        let attempt = self.confirm_password(user, current).await?;
        self.check_password("new_password", new)?;
        let rehashed = self.hasher.hash(new, self.params).await?;
        let mut tx = self.db.begin_write().await?;
        Users::set_password_hash_in(&mut tx, user, &rehashed).await?;
        links::Links::forget_in(&mut tx, user, links::Purpose::PasswordReset).await?;
        Sessions::end_all_in(&mut tx, user, session).await?;
        Audit::record(
            &mut tx,
            Event::PasswordChanged,
            self.as_user(user),
            Some(user),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.checks.clear(&attempt).await?;
        self.versions.publish(&[user]).await
    }

    /// Starts TOTP setup, given the password: a new secret, returned once;
    /// on only once a first code confirms it. 409 when TOTP is already on.
    pub async fn totp_setup(&self, user: i64, password: &str) -> Result<TotpSetup, Error> {
        let attempt = self.confirm_password(user, password).await?;
        self.checks.clear(&attempt).await?;
        let email = self.users.email(user).await?;
        self.two_factor.setup(user, &email).await
    }

    /// Turns TOTP on after a first valid code (400 for a wrong one;
    /// codes are counted): the account's ten recovery codes, shown this
    /// once.
    pub async fn totp_confirm(&self, user: i64, code: &str) -> Result<RecoveryCodes, Error> {
        let attempt = self.count_check(user).await?;
        if !self.two_factor.accept(user, code, false).await? {
            return Err(bad_code());
        }
        let mut tx = self.db.begin_write().await?;
        TwoFactor::enable_in(&mut tx, user).await?;
        let codes = TwoFactor::new_recovery_codes_in(&mut tx, user).await?;
        Audit::record(
            &mut tx,
            Event::TotpEnabled,
            self.as_user(user),
            Some(user),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await?;
        self.checks.clear(&attempt).await?;
        Ok(codes)
    }

    /// Replaces the recovery codes, given the password and a current
    /// authenticator code (403 for a wrong password, 400 for a wrong code
    /// or TOTP off; both are counted): the ten new codes, shown once.
    pub async fn new_recovery_codes(
        &self,
        user: i64,
        password: &str,
        code: &str,
    ) -> Result<RecoveryCodes, Error> {
        let attempt = self.confirm_password(user, password).await?;
        if !self.two_factor.accept(user, code, true).await? {
            return Err(bad_code());
        }
        let mut tx = self.db.begin_write().await?;
        let codes = TwoFactor::new_recovery_codes_in(&mut tx, user).await?;
        Audit::record(
            &mut tx,
            Event::RecoveryCodesReplaced,
            self.as_user(user),
            Some(user),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await?;
        self.checks.clear(&attempt).await?;
        Ok(codes)
    }

    /// Turns TOTP off, given the password and a valid code (403 for a wrong
    /// password, 400 for a wrong code; both are counted).
    pub async fn totp_disable(&self, user: i64, password: &str, code: &str) -> Result<(), Error> {
        let attempt = self.confirm_password(user, password).await?;
        if !self.two_factor.accept(user, code, true).await? {
            return Err(bad_code());
        }
        let mut tx = self.db.begin_write().await?;
        TwoFactor::remove_in(&mut tx, user).await?;
        Audit::record(
            &mut tx,
            Event::TotpDisabled,
            self.as_user(user),
            Some(user),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await?;
        self.checks.clear(&attempt).await
    }

    /// Turns a user's TOTP off without a code, for an administrator helping
    /// a user who lost their authenticator (or whose secret can no longer be
    /// read because the app secret changed). Every session of the user
    /// ends, in case the device was stolen; they sign in again with their
    /// password and may set TOTP up anew. 404 for an unknown user.
    pub async fn totp_reset(&self, user: i64) -> Result<(), Error> {
        self.users.require(user).await?;
        let mut tx = self.db.begin_write().await?;
        TwoFactor::remove_in(&mut tx, user).await?;
        Sessions::end_all_in(&mut tx, user, None).await?;
        Audit::record(&mut tx, Event::TotpReset, self.actor, Some(user), json!({})).await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await?;
        tracing::warn!(user, "two-factor authentication reset by an administrator");
        Ok(())
    }

    /// Creates or promotes the first administrator when none exists. An
    /// existing account with the configured e-mail is promoted only when
    /// the configured password is its password: anyone may have registered
    /// that e-mail before the operator configured it.
    pub(crate) async fn bootstrap_admin(&self, config: &Config) -> Result<(), Error> {
        let Some(email) = config.admin.email.as_deref().map(normalize_email) else {
            return Ok(());
        };
        if self.access.admin_count().await? > 0 {
            return Ok(());
        }
        let Some(password) = config.admin.password.as_ref() else {
            if self.users.credentials(&email).await?.is_some() {
                return Err(existing_account_refused());
            }
            return Err(Error::Config(
                "XCORE_ADMIN_EMAIL names no account yet: set XCORE_ADMIN_PASSWORD to create it"
                    .into(),
            ));
        };
        let password = std::str::from_utf8(password.expose())
            .map_err(|_| Error::Config("XCORE_ADMIN_PASSWORD must be UTF-8".into()))?;
        let admin = self.make_admin(&email, password).await?;
        tracing::info!(user = admin.id, "first administrator set up");
        Ok(())
    }

    /// Makes `email` an administrator: creates the account with `password`,
    /// or promotes the existing one only if `password` is its password (an
    /// account someone registered under the administrator's e-mail is not
    /// handed the role). What `create-admin` on the command line and
    /// `XCORE_ADMIN_EMAIL` do; audited.
    pub async fn make_admin(&self, email: &str, password: &str) -> Result<AdminMade, Error> {
        let email = normalize_email(email);
        let (id, created) = match self.users.credentials(&email).await? {
            Some(credentials) if self.hasher.verify(password, &credentials.hash).await? => {
                (credentials.id, false)
            }
            Some(_) => {
                tracing::error!(
                    "refusing to make an existing account an administrator: the password given \
                     is not its password"
                );
                return Err(existing_account_refused());
            }
            None => {
                let user = self
                    .register(&email, password)
                    .await
                    .map_err(|err| match err {
                        Error::InvalidFields(fields) => Error::Config(format!(
                            "administrator: {}",
                            fields
                                .iter()
                                .map(|f| format!("{} {}", f.path, f.message))
                                .collect::<Vec<_>>()
                                .join("; ")
                        )),
                        other => other,
                    })?;
                (user.id, true)
            }
        };
        let mut tx = self.db.begin_write().await?;
        Access::make_admin_in(&mut tx, id).await?;
        // The operator vouches for the address of the account they name.
        Users::set_verified_in(&mut tx, id).await?;
        Versions::bump_in(&mut tx, &[id]).await?;
        Audit::record(
            &mut tx,
            Event::AdminBootstrapped,
            self.actor,
            Some(id),
            json!({ "created": created }),
        )
        .await?;
        tx.commit().await?;
        // A cache outage must not stop the app: the version in the database
        // is the reference, and cached ones expire.
        if let Err(err) = self.versions.publish(&[id]).await {
            tracing::warn!(error = %err, "administrator set up; cache not updated");
        }
        Ok(AdminMade { id, created })
    }
}

/// What completes a login with TOTP on.
#[derive(Clone, Copy)]
enum SecondFactor<'a> {
    /// The authenticator's current code.
    Code(&'a str),
    /// One of the account's recovery codes.
    RecoveryCode(&'a str),
}

/// What [`Accounts::make_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminMade {
    /// The administrator's id.
    pub id: i64,
    /// `true` when the account was created, `false` when an existing one was
    /// promoted.
    pub created: bool,
}

fn existing_account_refused() -> Error {
    Error::Config(
        "the administrator's e-mail names an account that already exists, and the password \
         given is not its password: it is not made an administrator (someone else may have \
         registered that e-mail). Give the account's password (XCORE_ADMIN_PASSWORD, or \
         create-admin's), or name another e-mail"
            .into(),
    )
}

/// Refreshes allowed per session: 10 a minute, or `rate_limit.builtin_default`.
fn refresh_limit(config: &Config, cache: &Cache) -> Option<Arc<Limiter>> {
    let settings = &config.rate_limit;
    if !settings.builtin {
        return None;
    }
    let limit = settings
        .builtin_default
        .as_deref()
        .and_then(|spec| RateLimit::parse(spec).ok())
        .unwrap_or_else(|| RateLimit::new(10, 60));
    Some(Limiter::new(
        limit.count(),
        limit.period(),
        &cache.scoped("refresh-per-session"),
    ))
}

fn bad_code() -> Error {
    Error::BadRequest("wrong or expired code".into())
}
