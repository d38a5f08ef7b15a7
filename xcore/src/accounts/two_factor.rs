//! The TOTP (RFC 6238) second factor (`xcore_totp`): setup, confirmation,
//! the login challenge, removal, and the recovery codes that stand in for a
//! lost authenticator (`xcore_recovery_codes`). Secrets are stored
//! encrypted and never returned after setup; a code's time step is
//! accepted once; one step of clock skew is tolerated. Recovery codes are
//! shown once, stored hashed, and each works once.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngExt;
use serde::Serialize;
use totp_rs::{Secret as TotpSecret, Totp};

use sqlx::AnyConnection;

use super::versions::Versions;
use crate::cache::Cache;
use crate::clock;
use crate::db::Db;
use crate::error::Error;
use crate::security::{hex, random_token, sha256_hex, unhex};

/// What `POST /auth/totp/setup` returns, once.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TotpSetup {
    /// The secret, base32, for manual entry.
    pub secret: String,
    /// `otpauth://totp/...` for authenticator apps.
    pub otpauth_uri: String,
    /// The same URI as a QR code: a PNG, base64.
    pub qr_png_base64: String,
}

/// What a login answers for an account with TOTP on.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Short-lived, single-use token for `POST /auth/login/totp`.
    pub mfa_token: String,
}

/// The recovery codes of an account, shown once: when TOTP is turned on,
/// and when they are replaced.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, `xxxxx-xxxxx`: each logs in once in place of
    /// an authenticator code. Keep them somewhere safe.
    pub recovery_codes: Vec<String>,
}

/// Recovery codes made at a time.
pub(crate) const RECOVERY_CODES: usize = 10;

/// The letters of recovery codes: no `0`/`o`, `1`/`l`/`i` to confuse.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A code as stored: hashed with its user (the same code of two users
/// differs), after the spelling is normalised (case, dashes, spaces).
fn recovery_hash(user: i64, code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(&format!("{user}:{normalized}"))
}

/// Seconds an `mfa_token` stays valid.
const MFA_TTL_SECS: u64 = 300;

/// The second factor of accounts.
#[derive(Clone)]
pub struct TwoFactor {
    db: Db,
    cache: Cache,
    key: Arc<[u8; 32]>,
    issuer: String,
}

impl TwoFactor {
    pub(crate) fn new(db: Db, cache: Cache, key: [u8; 32], issuer: String) -> Self {
        TwoFactor {
            db,
            cache,
            key: Arc::new(key),
            issuer,
        }
    }

    fn totp(&self, secret: Vec<u8>, email: &str) -> Result<Totp, Error> {
        crate::security::totp(secret, email, &self.issuer)
            .map_err(|err| Error::internal(err.to_string()))
    }

    fn cipher(&self) -> Result<Aes256Gcm, Error> {
        Aes256Gcm::new_from_slice(self.key.as_ref()).map_err(|_| Error::internal("TOTP key length"))
    }

    fn seal(&self, secret: &[u8]) -> Result<String, Error> {
        let nonce: [u8; 12] = rand::rng().random();
        let sealed = self
            .cipher()?
            .encrypt(&Nonce::from(nonce), secret)
            .map_err(|_| Error::internal("TOTP secret encryption failed"))?;
        Ok(format!("{}{}", hex(&nonce), hex(&sealed)))
    }

    fn open(&self, sealed: &str) -> Result<Vec<u8>, Error> {
        let bytes = unhex(sealed)
            .filter(|b| b.len() > 12)
            .ok_or_else(|| Error::internal("stored TOTP secret is malformed"))?;
        let nonce: [u8; 12] = bytes[..12]
            .try_into()
            .map_err(|_| Error::internal("nonce length"))?;
        self.cipher()?
            .decrypt(&Nonce::from(nonce), &bytes[12..])
            .map_err(|_| {
                Error::internal(
                    "stored TOTP secret cannot be decrypted (was the app secret changed?)",
                )
            })
    }

    async fn row(&self, user: i64) -> Result<Option<(String, i64, i64, String)>, Error> {
        Ok(sqlx::query_as(
            "SELECT t.secret, t.enabled, t.last_step, u.email FROM xcore_totp t \
             JOIN xcore_users u ON u.id = t.user_id WHERE t.user_id = $1",
        )
        .bind(user)
        .fetch_optional(self.db.pool())
        .await?)
    }

    /// Whether the user has TOTP on.
    pub async fn enabled(&self, user: i64) -> Result<bool, Error> {
        Ok(self
            .row(user)
            .await?
            .is_some_and(|(_, enabled, _, _)| enabled != 0))
    }

    /// Starts TOTP setup for `user` (whose e-mail the authenticator shows):
    /// a new secret, returned once; TOTP is on only once a first code
    /// confirms it. 409 when TOTP is already on.
    pub(crate) async fn setup(&self, user: i64, email: &str) -> Result<TotpSetup, Error> {
        if self.enabled(user).await? {
            return Err(Error::Conflict(
                "two-factor authentication is already on".into(),
            ));
        }
        let secret = TotpSecret::generate();
        let raw = secret.as_bytes().to_vec();
        let totp = self.totp(raw.clone(), email)?;
        sqlx::query("DELETE FROM xcore_totp WHERE user_id = $1")
            .bind(user)
            .execute(self.db.pool())
            .await?;
        sqlx::query(
            "INSERT INTO xcore_totp (user_id, secret, enabled, last_step) VALUES ($1, $2, 0, -1)",
        )
        .bind(user)
        .bind(self.seal(&raw)?)
        .execute(self.db.pool())
        .await?;
        Ok(TotpSetup {
            secret: secret.to_base32(),
            otpauth_uri: totp
                .to_url()
                .map_err(|err| Error::internal(format!("TOTP URI: {err}")))?,
            qr_png_base64: totp
                .to_qr_base64()
                .map_err(|err| Error::internal(format!("TOTP QR: {err}")))?,
        })
    }

    /// Accepts `code` for `user` once: checks it (one step of skew) and
    /// records its time step, so the same code never passes twice.
    /// `enabled` says whether TOTP must be on (login, removal) or still
    /// pending (confirmation).
    pub(crate) async fn accept(&self, user: i64, code: &str, enabled: bool) -> Result<bool, Error> {
        let Some((sealed, on, last_step, email)) = self.row(user).await? else {
            return Ok(false);
        };
        if (on != 0) != enabled {
            return Ok(false);
        }
        let totp = self.totp(self.open(&sealed)?, &email)?;
        let Some(step) = totp.check(code.trim(), clock::now_unsigned()) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if step <= last_step {
            return Ok(false);
        }
        let recorded = sqlx::query(
            "UPDATE xcore_totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1",
        )
        .bind(step)
        .bind(user)
        .execute(self.db.pool())
        .await?;
        // Zero rows: a concurrent request used this step first (replay).
        Ok(recorded.rows_affected() == 1)
    }

    // Each change below shows in `User` (`totp_enabled`,
    // `recovery_codes_left`): it bumps the user's version, which the
    // caller publishes once the transaction commits.

    /// Turns a confirmed TOTP on, on `conn`.
    pub(crate) async fn enable_in(conn: &mut AnyConnection, user: i64) -> Result<(), Error> {
        sqlx::query("UPDATE xcore_totp SET enabled = 1 WHERE user_id = $1")
            .bind(user)
            .execute(&mut *conn)
            .await?;
        Versions::bump_in(conn, &[user]).await
    }

    /// Removes the user's TOTP and recovery codes, on `conn`.
    pub(crate) async fn remove_in(conn: &mut AnyConnection, user: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM xcore_totp WHERE user_id = $1")
            .bind(user)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM xcore_recovery_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *conn)
            .await?;
        Versions::bump_in(conn, &[user]).await
    }

    /// Ten new recovery codes for `user`, replacing the old ones, on
    /// `conn`; returned in clear this once (50 random bits each).
    pub(crate) async fn new_recovery_codes_in(
        conn: &mut AnyConnection,
        user: i64,
    ) -> Result<RecoveryCodes, Error> {
        sqlx::query("DELETE FROM xcore_recovery_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *conn)
            .await?;
        // Drawn before any await: the thread's generator stays on its thread.
        let codes: Vec<String> = {
            let mut rng = rand::rng();
            (0..RECOVERY_CODES)
                .map(|_| {
                    let mut code: String = (0..10)
                        .map(|_| {
                            let index = rng.random_range(0..RECOVERY_ALPHABET.len());
                            char::from(RECOVERY_ALPHABET[index])
                        })
                        .collect();
                    code.insert(5, '-');
                    code
                })
                .collect()
        };
        for code in &codes {
            sqlx::query("INSERT INTO xcore_recovery_codes (user_id, hash) VALUES ($1, $2)")
                .bind(user)
                .bind(recovery_hash(user, code))
                .execute(&mut *conn)
                .await?;
        }
        Versions::bump_in(conn, &[user]).await?;
        Ok(RecoveryCodes {
            recovery_codes: codes,
        })
    }

    /// Spends one of `user`'s recovery codes: `true` once per code (of
    /// two requests racing with it, the one that deletes the row).
    /// On `conn` (the transaction of its audit record).
    pub(crate) async fn use_recovery_code_in(
        conn: &mut AnyConnection,
        user: i64,
        code: &str,
    ) -> Result<bool, Error> {
        let spent =
            sqlx::query("DELETE FROM xcore_recovery_codes WHERE user_id = $1 AND hash = $2")
                .bind(user)
                .bind(recovery_hash(user, code))
                .execute(&mut *conn)
                .await?;
        if spent.rows_affected() != 1 {
            return Ok(false);
        }
        Versions::bump_in(conn, &[user]).await?;
        Ok(true)
    }

    /// How many recovery codes `user` has left.
    pub async fn recovery_codes_left(&self, user: i64) -> Result<u32, Error> {
        let mut conn = self.db.pool().acquire().await?;
        Self::recovery_codes_left_in(&mut conn, user).await
    }

    /// [`TwoFactor::recovery_codes_left`] on `conn`.
    pub(crate) async fn recovery_codes_left_in(
        conn: &mut AnyConnection,
        user: i64,
    ) -> Result<u32, Error> {
        let (left,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM xcore_recovery_codes WHERE user_id = $1")
                .bind(user)
                .fetch_one(conn)
                .await?;
        Ok(u32::try_from(left).unwrap_or(0))
    }

    /// A single-use `mfa_token` standing for "`user` gave the right
    /// password while their sessions were at `epoch`", for the login's
    /// second step (a session ending meanwhile makes it worthless).
    pub(crate) async fn challenge(&self, user: i64, epoch: i64) -> Result<MfaChallenge, Error> {
        let token = random_token();
        self.cache
            .set(
                &challenge_key(&token),
                &format!("{user}:{epoch}"),
                MFA_TTL_SECS,
            )
            .await?;
        Ok(MfaChallenge {
            mfa_required: true,
            mfa_token: token,
        })
    }

    /// Spends an `mfa_token`: the user and session epoch it stands for,
    /// once (`None` when it is unknown, expired or already spent).
    pub(crate) async fn take_challenge(&self, token: &str) -> Result<Option<(i64, i64)>, Error> {
        let key = challenge_key(token);
        let Some(value) = self.cache.get(&key).await? else {
            return Ok(None);
        };
        let Some((user, epoch)) = value
            .split_once(':')
            .and_then(|(u, e)| Some((u.parse().ok()?, e.parse().ok()?)))
        else {
            return Ok(None);
        };
        // Single use: only the request that removes the token goes on.
        Ok(self.cache.delete(&key).await?.then_some((user, epoch)))
    }
}

fn challenge_key(token: &str) -> String {
    format!("mfa:{}", sha256_hex(token))
}
