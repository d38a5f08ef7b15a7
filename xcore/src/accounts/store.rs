use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::cache::Cache;
use crate::config::Config;
use crate::db::{Db, UniqueViolationExt};
use crate::error::{AuthFailure, Error};
use crate::security::{
    Claims, JwtKeys, PasswordParams, create_token, hash_password_with, needs_rehash,
    verify_password,
};

/// Lifetime of a user's authorisation version in the cache, in seconds.
pub(crate) const VERSION_TTL_SECS: u64 = 60;

/// Key of the PostgreSQL lock serialising administrator demotions.
const ADMIN_LOCK: i64 = 0x0078_6164_6d69;

/// The role every installation has.
pub const ADMIN_ROLE: &str = "admin";

/// A stored user, as the API shows it (never with its password hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct User {
    /// Identifier.
    pub id: i64,
    /// E-mail, lower-cased.
    pub email: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Permission names (through the roles).
    pub permissions: Vec<String>,
    /// Whether TOTP two-factor authentication is on.
    pub totp_enabled: bool,
}

/// What a login answers: tokens, or a TOTP challenge for accounts with the
/// second factor on.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    /// Signed in.
    Tokens(TokenPair),
    /// Send a TOTP code with the token to `POST /auth/login/totp`.
    MfaRequired(super::totp::MfaChallenge),
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

/// The accounts service: users, sessions, roles and permissions.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    cache: Cache,
    keys: JwtKeys,
    access_ttl: Duration,
    refresh_ttl: Duration,
    params: PasswordParams,
    min_password: usize,
    max_failures: u32,
    failure_window: u64,
    totp_key: std::sync::Arc<[u8; 32]>,
    totp_issuer: String,
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A hash to verify against when the e-mail is unknown, so an unknown
/// e-mail costs the same time as a wrong password.
static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

/// Plain sanity check; the real proof is a verification e-mail, which is
/// the application's business.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

impl Accounts {
    pub(crate) fn new(
        config: &Config,
        db: Db,
        cache: Cache,
        keys: JwtKeys,
        totp_key: [u8; 32],
    ) -> Self {
        Accounts {
            db,
            cache: cache.scoped("xcore-auth"),
            keys,
            access_ttl: config.access_token_ttl(),
            refresh_ttl: Duration::from_secs(config.auth.refresh_token_ttl_secs),
            params: config.password_params(),
            min_password: config.auth.password_min_length,
            max_failures: config.auth.login_max_failures,
            failure_window: config.auth.login_failure_window_secs,
            totp_key: std::sync::Arc::new(totp_key),
            totp_issuer: config.otp.totp_issuer.clone(),
        }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    pub(crate) fn totp_key(&self) -> &[u8] {
        self.totp_key.as_ref()
    }

    pub(crate) fn totp_issuer(&self) -> &str {
        &self.totp_issuer
    }

    fn check_password(&self, password: &str) -> Result<(), Error> {
        let length = password.chars().count();
        if length < self.min_password {
            return Err(Error::Validation(format!(
                "the password must have at least {} characters",
                self.min_password
            )));
        }
        if length > 1024 {
            return Err(Error::Validation(
                "the password must have at most 1024 characters".into(),
            ));
        }
        Ok(())
    }

    /// Creates an account. 409 when the e-mail exists (case-insensitive),
    /// 422 for an invalid e-mail or a short password.
    pub async fn register(&self, email: &str, password: &str) -> Result<User, Error> {
        let email = email.trim().to_lowercase();
        if !valid_email(&email) {
            return Err(Error::Validation(
                "`email` is not a valid e-mail address".into(),
            ));
        }
        self.check_password(password)?;
        let hash = hash_password_with(password, self.params).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO xcore_users (email, password_hash, auth_version, created_at) VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind(&email)
        .bind(hash)
        .bind(now())
        .fetch_one(self.db.pool())
        .await
        .conflict_on_unique("an account with this e-mail already exists")?;
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
        let (email,): (String,) = sqlx::query_as("SELECT email FROM xcore_users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id} does not exist")))?;
        let (roles, permissions) = self.access_of(id).await?;
        Ok(User {
            id,
            email,
            roles,
            permissions,
            totp_enabled: self.totp_enabled(id).await?,
        })
    }

    pub(crate) async fn access_of(&self, id: i64) -> Result<(Vec<String>, Vec<String>), Error> {
        let roles: Vec<(String,)> =
            sqlx::query_as("SELECT role FROM xcore_user_roles WHERE user_id = $1 ORDER BY role")
                .bind(id)
                .fetch_all(self.db.pool())
                .await?;
        let permissions: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT rp.permission FROM xcore_role_permissions rp \
             JOIN xcore_user_roles ur ON ur.role = rp.role WHERE ur.user_id = $1 ORDER BY rp.permission",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        Ok((
            roles.into_iter().map(|(r,)| r).collect(),
            permissions.into_iter().map(|(p,)| p).collect(),
        ))
    }

    /// Checks e-mail and password and opens a session. Unknown e-mail and
    /// wrong password give the same 401 after the same work; too many
    /// failures for one e-mail give a 429.
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome, Error> {
        let email = email.trim().to_lowercase();
        self.check_throttle(&email).await?;
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, password_hash FROM xcore_users WHERE email = $1")
                .bind(&email)
                .fetch_optional(self.db.pool())
                .await?;
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
            self.record_failure(&email).await?;
            return Err(Error::Unauthorized(AuthFailure::BadCredentials));
        };
        // Failures are cleared when a session starts (after any second factor).
        if needs_rehash(&hash, self.params) {
            let rehashed = hash_password_with(password, self.params).await?;
            sqlx::query("UPDATE xcore_users SET password_hash = $1 WHERE id = $2")
                .bind(rehashed)
                .bind(id)
                .execute(self.db.pool())
                .await?;
        }
        if self.totp_enabled(id).await? {
            return Ok(LoginOutcome::MfaRequired(self.mfa_challenge(id).await?));
        }
        Ok(LoginOutcome::Tokens(self.start_session(id, &email).await?))
    }

    pub(crate) async fn record_failure(&self, email: &str) -> Result<(), Error> {
        sqlx::query("INSERT INTO xcore_login_failures (email, at) VALUES ($1, $2)")
            .bind(email)
            .bind(now())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Opens a session for a verified user and issues its first tokens.
    pub(crate) async fn start_session(&self, id: i64, email: &str) -> Result<TokenPair, Error> {
        sqlx::query("DELETE FROM xcore_login_failures WHERE email = $1")
            .bind(email)
            .execute(self.db.pool())
            .await?;
        let session = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO xcore_sessions (id, user_id, revoked, created_at, expires_at) VALUES ($1, $2, 0, $3, $4)")
            .bind(&session)
            .bind(id)
            .bind(now())
            .bind(now() + self.refresh_ttl.as_secs() as i64)
            .execute(self.db.pool())
            .await?;
        self.issue(id, email, &session).await
    }

    pub(crate) async fn check_throttle(&self, email: &str) -> Result<(), Error> {
        let since = now() - self.failure_window as i64;
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM xcore_login_failures WHERE email = $1 AND at > $2",
        )
        .bind(email)
        .bind(since)
        .fetch_one(self.db.pool())
        .await?;
        if count >= i64::from(self.max_failures) {
            let retry = oldest.map_or(self.failure_window as i64, |t| {
                t + self.failure_window as i64 - now()
            });
            return Err(Error::TooManyRequests {
                retry_after_secs: u64::try_from(retry.max(1)).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// A new access token and refresh token for a session.
    async fn issue(&self, id: i64, email: &str, session: &str) -> Result<TokenPair, Error> {
        // Version first: a role change landing between the two reads then
        // leaves a token whose version is already stale (re-checked), never
        // old roles under a new version.
        let version = self.version(id).await?;
        let (roles, permissions) = self.access_of(id).await?;
        let mut claims = Claims::new(id.to_string(), self.access_ttl)
            .with_email(email)
            .with_roles(roles)
            .with_permissions(permissions);
        claims.sid = Some(session.to_owned());
        claims.ver = Some(version);
        let access_token = create_token(&self.keys, &claims)?;
        let bytes: [u8; 32] = rand::rng().random();
        let refresh_token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query("INSERT INTO xcore_refresh_tokens (hash, session_id, used, expires_at) VALUES ($1, $2, 0, $3)")
            .bind(sha256_hex(&refresh_token))
            .bind(session)
            .bind(now() + self.refresh_ttl.as_secs() as i64)
            .execute(self.db.pool())
            .await?;
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
        let invalid = || Error::Unauthorized(AuthFailure::Invalid);
        let row: Option<(String, i64, i64, i64, i64, String, i64)> = sqlx::query_as(
            "SELECT t.session_id, t.used, t.expires_at, s.revoked, s.user_id, u.email, s.expires_at \
             FROM xcore_refresh_tokens t JOIN xcore_sessions s ON s.id = t.session_id \
             JOIN xcore_users u ON u.id = s.user_id WHERE t.hash = $1",
        )
        .bind(sha256_hex(refresh_token))
        .fetch_optional(self.db.pool())
        .await?;
        let Some((session, used, expires_at, revoked, user, email, session_ends)) = row else {
            return Err(invalid());
        };
        if used != 0 {
            tracing::warn!(user, "refresh token reused: session revoked");
            self.revoke_session(user, &session).await?;
            return Err(invalid());
        }
        // Sessions last a fixed time from login; refreshing does not extend them.
        if revoked != 0 || expires_at.min(session_ends) <= now() {
            return Err(invalid());
        }
        let marked =
            sqlx::query("UPDATE xcore_refresh_tokens SET used = 1 WHERE hash = $1 AND used = 0")
                .bind(sha256_hex(refresh_token))
                .execute(self.db.pool())
                .await?;
        if marked.rows_affected() == 0 {
            // Lost a race with another use of the same token: that is reuse too.
            self.revoke_session(user, &session).await?;
            return Err(invalid());
        }
        self.issue(user, &email, &session).await
    }

    /// Ends one session: its tokens stop working on the next request.
    pub async fn revoke_session(&self, user: i64, session: &str) -> Result<(), Error> {
        sqlx::query("UPDATE xcore_sessions SET revoked = 1 WHERE id = $1")
            .bind(session)
            .execute(self.db.pool())
            .await?;
        self.bump(&[user]).await
    }

    /// Ends every session of a user, or every one but `keep`.
    pub async fn revoke_sessions(&self, user: i64, keep: Option<&str>) -> Result<(), Error> {
        sqlx::query("UPDATE xcore_sessions SET revoked = 1 WHERE user_id = $1 AND id <> $2")
            .bind(user)
            .bind(keep.unwrap_or(""))
            .execute(self.db.pool())
            .await?;
        self.bump(&[user]).await
    }

    /// Changes a password after checking the current one; other sessions end.
    pub async fn change_password(
        &self,
        user: i64,
        session: Option<&str>,
        current: &str,
        new: &str,
    ) -> Result<(), Error> {
        let (hash,): (String,) =
            sqlx::query_as("SELECT password_hash FROM xcore_users WHERE id = $1")
                .bind(user)
                .fetch_optional(self.db.pool())
                .await?
                .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if !verify_password(current, &hash).await? {
            return Err(Error::Forbidden("the current password is wrong".into()));
        }
        self.check_password(new)?;
        let rehashed = hash_password_with(new, self.params).await?;
        sqlx::query("UPDATE xcore_users SET password_hash = $1 WHERE id = $2")
            .bind(rehashed)
            .bind(user)
            .execute(self.db.pool())
            .await?;
        self.revoke_sessions(user, session).await
    }

    /// The authorisation version of a user, from the database.
    pub(crate) async fn version(&self, user: i64) -> Result<i64, Error> {
        let (version,): (i64,) =
            sqlx::query_as("SELECT auth_version FROM xcore_users WHERE id = $1")
                .bind(user)
                .fetch_optional(self.db.pool())
                .await?
                .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        Ok(version)
    }

    /// Makes every outstanding token of these users re-checked on its next
    /// request: bumps their version in the database, then in the cache.
    ///
    /// If the cache cannot be written the change is still saved (the
    /// database is the reference) and the call fails with a 503: guards fail
    /// closed while the cache is down, and a cached version lives at most
    /// `VERSION_TTL_SECS`, so the change holds everywhere within that time
    /// of the cache's return.
    pub(crate) async fn bump(&self, users: &[i64]) -> Result<(), Error> {
        for user in users {
            sqlx::query("UPDATE xcore_users SET auth_version = auth_version + 1 WHERE id = $1")
                .bind(user)
                .execute(self.db.pool())
                .await?;
            let version = self.version(*user).await?;
            self.cache
                .set(
                    &format!("ver:{user}"),
                    &version.to_string(),
                    VERSION_TTL_SECS,
                )
                .await?;
        }
        Ok(())
    }

    /// Gives `role` to a user (idempotent); effective on their next request.
    /// 404 for an unknown user or role.
    pub async fn grant_role(&self, user: i64, role: &str) -> Result<(), Error> {
        self.user(user).await?;
        self.require_role(role).await?;
        sqlx::query(
            "INSERT INTO xcore_user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(role)
        .execute(self.db.pool())
        .await?;
        self.bump(&[user]).await
    }

    /// Takes `role` from a user (idempotent); effective on their next
    /// request. 409 when it would leave no administrator.
    pub async fn revoke_role(&self, user: i64, role: &str) -> Result<(), Error> {
        self.user(user).await?;
        self.require_role(role).await?;
        let held: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM xcore_user_roles WHERE user_id = $1 AND role = $2")
                .bind(user)
                .bind(role)
                .fetch_optional(self.db.pool())
                .await?;
        // One statement keeps "not the last admin" and the removal together
        // (SQLite runs it alone); on PostgreSQL a transaction-scoped lock also
        // serialises concurrent demotions, which READ COMMITTED would let
        // both see two admins.
        const REMOVE: &str = "DELETE FROM xcore_user_roles WHERE user_id = $1 AND role = $2 AND \
             (role <> $3 OR (SELECT COUNT(*) FROM xcore_user_roles WHERE role = $3 AND user_id <> $1) > 0)";
        let removed = if self.db.backend() == crate::db::Backend::Postgres {
            let mut tx = self.db.pool().begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ADMIN_LOCK)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query(REMOVE)
                .bind(user)
                .bind(role)
                .bind(ADMIN_ROLE)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done
        } else {
            sqlx::query(REMOVE)
                .bind(user)
                .bind(role)
                .bind(ADMIN_ROLE)
                .execute(self.db.pool())
                .await?
        };
        if held.is_some() && removed.rows_affected() == 0 {
            return Err(Error::Conflict(
                "this is the last administrator: grant `admin` to someone else first".into(),
            ));
        }
        self.bump(&[user]).await
    }

    /// 404 unless `role` exists.
    pub(crate) async fn require_role(&self, role: &str) -> Result<(), Error> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM xcore_roles WHERE name = $1")
            .bind(role)
            .fetch_optional(self.db.pool())
            .await?;
        found
            .map(|_| ())
            .ok_or_else(|| Error::NotFound(format!("role `{role}` does not exist")))
    }

    /// Creates or promotes the first administrator when none exists.
    pub(crate) async fn bootstrap_admin(&self, config: &Config) -> Result<(), Error> {
        let Some(email) = config
            .admin
            .email
            .as_deref()
            .map(|e| e.trim().to_lowercase())
        else {
            return Ok(());
        };
        let (admins,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM xcore_user_roles WHERE role = $1")
                .bind(ADMIN_ROLE)
                .fetch_one(self.db.pool())
                .await?;
        if admins > 0 {
            return Ok(());
        }
        let existing: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM xcore_users WHERE email = $1")
                .bind(&email)
                .fetch_optional(self.db.pool())
                .await?;
        let id = match existing {
            Some((id,)) => id,
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
        sqlx::query("INSERT INTO xcore_user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(ADMIN_ROLE)
            .execute(self.db.pool())
            .await?;
        // A new administrator has no tokens yet: a cache outage at start-up
        // must not stop the app.
        if let Err(err) = self.bump(&[id]).await {
            tracing::warn!(error = %err, "first administrator set up; cache not updated");
        }
        tracing::info!(user = id, "first administrator set up");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn email_sanity() {
        for ok in ["ada@example.com", "a.b+c@sub.example.org"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a da@example.com",
            "a@b@c.d",
            "ada@.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
