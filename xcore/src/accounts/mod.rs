//! User accounts, sessions and authorisation state, stored in the database
//! by the framework's own migrations (`xcore_*` tables) and served to
//! clients by the built-in `/auth` and `/admin` plugins.
//!
//! [`Accounts`] is made of services that each own their tables —
//! [`Users`], [`Sessions`], [`Access`] (roles and permissions),
//! [`TwoFactor`] (TOTP) — and runs the flows that cross them: register,
//! log in, refresh, change a password.
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
mod resolve;
mod sessions;
mod throttle;
mod two_factor;
mod users;
mod versions;

use std::time::Duration;

use serde::Serialize;
use tokio::sync::OnceCell;

pub use access::{ADMIN_ROLE, Access, Permission, Role};
pub use sessions::Sessions;
pub use two_factor::{MfaChallenge, TotpSetup, TwoFactor};
pub use users::{User, Users};

use crate::cache::Cache;
use crate::config::Config;
use crate::db::{Db, Migration};
use crate::error::{AuthFailure, Error};
use crate::security::{
    Claims, JwtKeys, PasswordParams, create_token, hash_password_with, needs_rehash,
    verify_password,
};
use sessions::RefreshRefused;
use throttle::LoginThrottle;
use users::{normalize_email, valid_email};
use versions::Versions;

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
];

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
    users: Users,
    sessions: Sessions,
    access: Access,
    two_factor: TwoFactor,
    versions: Versions,
    throttle: LoginThrottle,
    keys: JwtKeys,
    access_ttl: Duration,
    params: PasswordParams,
    min_password: usize,
}

/// A hash to verify against when the e-mail is unknown, so an unknown
/// e-mail costs the same time as a wrong password.
static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

/// Longest password accepted (argon2 hashes any length; a bound keeps a
/// megabyte "password" from costing more than a real one).
const MAX_PASSWORD_CHARS: usize = 1024;

impl Accounts {
    pub(crate) fn new(
        config: &Config,
        db: Db,
        cache: Cache,
        keys: JwtKeys,
        totp_key: [u8; 32],
    ) -> Self {
        let cache = cache.scoped("xcore-auth");
        let users = Users::new(db.clone());
        let versions = Versions::new(db.clone(), cache.clone());
        Accounts {
            sessions: Sessions::new(
                db.clone(),
                Duration::from_secs(config.auth.refresh_token_ttl_secs),
            ),
            access: Access::new(db.clone(), users.clone(), versions.clone()),
            two_factor: TwoFactor::new(db.clone(), cache, totp_key, config.otp.totp_issuer.clone()),
            throttle: LoginThrottle::new(
                db,
                config.auth.login_max_failures,
                config.auth.login_failure_window_secs,
            ),
            users,
            versions,
            keys,
            access_ttl: config.access_token_ttl(),
            params: config.password_params(),
            min_password: config.auth.password_min_length,
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

    /// The TOTP second factor.
    pub fn two_factor(&self) -> &TwoFactor {
        &self.two_factor
    }

    fn check_password(&self, password: &str) -> Result<(), Error> {
        let length = password.chars().count();
        if length < self.min_password {
            return Err(Error::Validation(format!(
                "the password must have at least {} characters",
                self.min_password
            )));
        }
        if length > MAX_PASSWORD_CHARS {
            return Err(Error::Validation(format!(
                "the password must have at most {MAX_PASSWORD_CHARS} characters"
            )));
        }
        Ok(())
    }

    /// Creates an account. 409 when the e-mail exists (case-insensitive),
    /// 422 for an invalid e-mail or a short password.
    pub async fn register(&self, email: &str, password: &str) -> Result<User, Error> {
        let email = normalize_email(email);
        if !valid_email(&email) {
            return Err(Error::Validation(
                "`email` is not a valid e-mail address".into(),
            ));
        }
        self.check_password(password)?;
        let hash = hash_password_with(password, self.params).await?;
        let id = self.users.create(&email, &hash).await?;
        Ok(User {
            id,
            email,
            roles: Vec::new(),
            permissions: Vec::new(),
            totp_enabled: false,
        })
    }

    /// The user with this id, roles and permissions included.
    pub async fn user(&self, id: i64) -> Result<User, Error> {
        let email = self.users.email(id).await?;
        let (roles, permissions) = self.access.of(id).await?;
        Ok(User {
            id,
            email,
            roles,
            permissions,
            totp_enabled: self.two_factor.enabled(id).await?,
        })
    }

    /// Checks e-mail and password and opens a session. Unknown e-mail and
    /// wrong password give the same 401 after the same work; too many
    /// failures for one e-mail give a 429.
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome, Error> {
        let email = normalize_email(email);
        self.throttle.check(&email).await?;
        let row = self.users.credentials(&email).await?;
        let verified = match &row {
            Some((_, hash)) => verify_password(password, hash).await?,
            None => {
                let params = self.params;
                let dummy = DUMMY_HASH
                    .get_or_try_init(|| async move {
                        hash_password_with("xcore dummy password", params).await
                    })
                    .await?;
                verify_password(password, dummy).await?;
                false
            }
        };
        let Some((id, hash)) = row.filter(|_| verified) else {
            self.throttle.record(&email).await?;
            return Err(Error::Unauthorized(AuthFailure::BadCredentials));
        };
        // Failures are cleared when a session starts (after any second factor).
        if needs_rehash(&hash, self.params) {
            let rehashed = hash_password_with(password, self.params).await?;
            self.users.set_password_hash(id, &rehashed).await?;
        }
        if self.two_factor.enabled(id).await? {
            return Ok(LoginOutcome::MfaRequired(
                self.two_factor.challenge(id).await?,
            ));
        }
        Ok(LoginOutcome::Tokens(self.start_session(id, &email).await?))
    }

    /// Completes a login started with a password on a TOTP account. Wrong
    /// codes count towards the login throttle.
    pub async fn login_totp(&self, mfa_token: &str, code: &str) -> Result<TokenPair, Error> {
        let user = self
            .two_factor
            .take_challenge(mfa_token)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let email = self.users.email(user).await?;
        self.throttle.check(&email).await?;
        // A wrong code spends the mfa token: the next try starts over with
        // the password, so codes cannot be guessed against one challenge.
        if !self.two_factor.accept(user, code, true).await? {
            self.throttle.record(&email).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongCode));
        }
        self.start_session(user, &email).await
    }

    /// Opens a session for a verified user and issues its first tokens.
    async fn start_session(&self, id: i64, email: &str) -> Result<TokenPair, Error> {
        self.throttle.clear(email).await?;
        let session = self.sessions.open(id).await?;
        self.issue(id, email, &session).await
    }

    /// A new access token and refresh token for a session.
    async fn issue(&self, id: i64, email: &str, session: &str) -> Result<TokenPair, Error> {
        // Version first: a role change landing between the two reads then
        // leaves a token whose version is already stale (re-checked), never
        // old roles under a new version.
        let version = self.versions.current(id).await?;
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
        match self.sessions.use_refresh_token(refresh_token).await? {
            Ok(refreshed) => {
                self.issue(refreshed.user, &refreshed.email, &refreshed.session)
                    .await
            }
            Err(RefreshRefused::Reused { user, session }) => {
                tracing::warn!(user, "refresh token reused: session revoked");
                self.revoke_session(user, &session).await?;
                Err(Error::Unauthorized(AuthFailure::Invalid))
            }
            Err(RefreshRefused::Invalid) => Err(Error::Unauthorized(AuthFailure::Invalid)),
        }
    }

    /// Ends one session: its tokens stop working on the next request.
    pub async fn revoke_session(&self, user: i64, session: &str) -> Result<(), Error> {
        self.sessions.end(session).await?;
        self.versions.bump(&[user]).await
    }

    /// Ends every session of a user, or every one but `keep`.
    pub async fn revoke_sessions(&self, user: i64, keep: Option<&str>) -> Result<(), Error> {
        self.sessions.end_all(user, keep).await?;
        self.versions.bump(&[user]).await
    }

    /// Changes a password after checking the current one; other sessions end.
    pub async fn change_password(
        &self,
        user: i64,
        session: Option<&str>,
        current: &str,
        new: &str,
    ) -> Result<(), Error> {
        let hash = self
            .users
            .password_hash(user)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if !verify_password(current, &hash).await? {
            return Err(Error::Forbidden("the current password is wrong".into()));
        }
        self.check_password(new)?;
        let rehashed = hash_password_with(new, self.params).await?;
        self.users.set_password_hash(user, &rehashed).await?;
        self.revoke_sessions(user, session).await
    }

    /// Turns a user's TOTP off without a code, for an administrator helping
    /// a user who lost their authenticator (or whose secret can no longer be
    /// read because the app secret changed). Every session of the user
    /// ends, in case the device was stolen; they sign in again with their
    /// password and may set TOTP up anew. 404 for an unknown user.
    pub async fn totp_reset(&self, user: i64) -> Result<(), Error> {
        self.users.require(user).await?;
        self.two_factor.remove(user).await?;
        self.revoke_sessions(user, None).await?;
        // An audit trail for a security-relevant change.
        tracing::warn!(user, "two-factor authentication reset by an administrator");
        Ok(())
    }

    /// Creates or promotes the first administrator when none exists.
    pub(crate) async fn bootstrap_admin(&self, config: &Config) -> Result<(), Error> {
        let Some(email) = config.admin.email.as_deref().map(normalize_email) else {
            return Ok(());
        };
        if self.access.admin_count().await? > 0 {
            return Ok(());
        }
        let id = match self.users.id_of(&email).await? {
            Some(id) => id,
            None => {
                let password = config.admin.password.as_ref().ok_or_else(|| {
                    Error::Config("XCORE_ADMIN_EMAIL names no account yet: set XCORE_ADMIN_PASSWORD to create it".into())
                })?;
                let password = std::str::from_utf8(password.expose())
                    .map_err(|_| Error::Config("XCORE_ADMIN_PASSWORD must be UTF-8".into()))?;
                self.register(&email, password)
                    .await
                    .map_err(|err| match err {
                        Error::Validation(message) => {
                            Error::Config(format!("first administrator: {message}"))
                        }
                        other => other,
                    })?
                    .id
            }
        };
        self.access.make_first_admin(id).await?;
        // A new administrator has no tokens yet: a cache outage at start-up
        // must not stop the app.
        if let Err(err) = self.versions.bump(&[id]).await {
            tracing::warn!(error = %err, "first administrator set up; cache not updated");
        }
        tracing::info!(user = id, "first administrator set up");
        Ok(())
    }
}
