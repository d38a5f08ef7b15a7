//! TOTP (RFC 6238) second factor: setup, confirmation, login, removal.
//! Secrets are stored encrypted and never returned after setup; a code's
//! time step is accepted once; one step of clock skew is tolerated.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngExt;
use serde::Serialize;
use totp_rs::{Secret as TotpSecret, Totp};

use super::store::{Accounts, TokenPair, now, sha256_hex};
use crate::error::{AuthFailure, Error};

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

/// Seconds an `mfa_token` stays valid.
const MFA_TTL_SECS: u64 = 300;

fn bad_code() -> Error {
    Error::BadRequest("wrong or expired code".into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

impl Accounts {
    fn totp(&self, secret: Vec<u8>, email: &str) -> Result<Totp, Error> {
        crate::security::totp(secret, email, self.totp_issuer())
            .map_err(|err| Error::internal(err.to_string()))
    }

    fn seal(&self, secret: &[u8]) -> Result<String, Error> {
        let cipher = Aes256Gcm::new_from_slice(self.totp_key())
            .map_err(|_| Error::internal("TOTP key length"))?;
        let nonce: [u8; 12] = rand::rng().random();
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), secret)
            .map_err(|_| Error::internal("TOTP secret encryption failed"))?;
        Ok(format!("{}{}", hex(&nonce), hex(&sealed)))
    }

    fn open(&self, sealed: &str) -> Result<Vec<u8>, Error> {
        let bytes = unhex(sealed)
            .filter(|b| b.len() > 12)
            .ok_or_else(|| Error::internal("stored TOTP secret is malformed"))?;
        let cipher = Aes256Gcm::new_from_slice(self.totp_key())
            .map_err(|_| Error::internal("TOTP key length"))?;
        let nonce: [u8; 12] = bytes[..12]
            .try_into()
            .map_err(|_| Error::internal("nonce length"))?;
        cipher
            .decrypt(&Nonce::from(nonce), &bytes[12..])
            .map_err(|_| {
                Error::internal(
                    "stored TOTP secret cannot be decrypted (was the app secret changed?)",
                )
            })
    }

    async fn totp_row(&self, user: i64) -> Result<Option<(String, i64, i64, String)>, Error> {
        Ok(sqlx::query_as(
            "SELECT t.secret, t.enabled, t.last_step, u.email FROM xcore_totp t \
             JOIN xcore_users u ON u.id = t.user_id WHERE t.user_id = $1",
        )
        .bind(user)
        .fetch_optional(self.db().pool())
        .await?)
    }

    /// Whether the user has TOTP on.
    pub async fn totp_enabled(&self, user: i64) -> Result<bool, Error> {
        Ok(self
            .totp_row(user)
            .await?
            .is_some_and(|(_, enabled, _, _)| enabled != 0))
    }

    /// Starts TOTP setup: a new secret, returned once; TOTP is on only after
    /// [`Accounts::totp_confirm`]. 409 when TOTP is already on.
    pub async fn totp_setup(&self, user: i64) -> Result<TotpSetup, Error> {
        if self.totp_enabled(user).await? {
            return Err(Error::Conflict(
                "two-factor authentication is already on".into(),
            ));
        }
        let email = self.user(user).await?.email;
        let secret = TotpSecret::generate();
        let raw = secret.as_bytes().to_vec();
        let totp = self.totp(raw.clone(), &email)?;
        sqlx::query("DELETE FROM xcore_totp WHERE user_id = $1")
            .bind(user)
            .execute(self.db().pool())
            .await?;
        sqlx::query(
            "INSERT INTO xcore_totp (user_id, secret, enabled, last_step) VALUES ($1, $2, 0, -1)",
        )
        .bind(user)
        .bind(self.seal(&raw)?)
        .execute(self.db().pool())
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
    async fn totp_accept(&self, user: i64, code: &str, enabled: bool) -> Result<bool, Error> {
        let Some((sealed, on, last_step, email)) = self.totp_row(user).await? else {
            return Ok(false);
        };
        if (on != 0) != enabled {
            return Ok(false);
        }
        let totp = self.totp(self.open(&sealed)?, &email)?;
        let Some(step) = totp.check(code.trim(), u64::try_from(now()).unwrap_or(0)) else {
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
        .execute(self.db().pool())
        .await?;
        // Zero rows: a concurrent request used this step first (replay).
        Ok(recorded.rows_affected() == 1)
    }

    /// Turns TOTP on after a first valid code. 400 for a wrong code.
    pub async fn totp_confirm(&self, user: i64, code: &str) -> Result<(), Error> {
        if !self.totp_accept(user, code, false).await? {
            return Err(bad_code());
        }
        sqlx::query("UPDATE xcore_totp SET enabled = 1 WHERE user_id = $1")
            .bind(user)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Turns TOTP off, given a valid code. 400 for a wrong code.
    pub async fn totp_disable(&self, user: i64, code: &str) -> Result<(), Error> {
        if !self.totp_accept(user, code, true).await? {
            return Err(bad_code());
        }
        sqlx::query("DELETE FROM xcore_totp WHERE user_id = $1")
            .bind(user)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Turns TOTP off without a code, for an administrator helping a user
    /// who lost their authenticator (or whose secret can no longer be read
    /// because the app secret changed). Every session of the user ends, in
    /// case the device was stolen; they sign in again with their password
    /// and may set TOTP up anew. 404 for an unknown user.
    pub async fn totp_reset(&self, user: i64) -> Result<(), Error> {
        self.user(user).await?;
        sqlx::query("DELETE FROM xcore_totp WHERE user_id = $1")
            .bind(user)
            .execute(self.db().pool())
            .await?;
        self.revoke_sessions(user, None).await?;
        // An audit trail for a security-relevant change.
        tracing::warn!(user, "two-factor authentication reset by an administrator");
        Ok(())
    }

    /// The second step of a login: a single-use `mfa_token` and a TOTP code.
    /// Wrong codes count towards the login throttle.
    pub(crate) async fn mfa_challenge(&self, user: i64) -> Result<MfaChallenge, Error> {
        let bytes: [u8; 32] = rand::rng().random();
        let token = hex(&bytes);
        self.cache()
            .set(
                &format!("mfa:{}", sha256_hex(&token)),
                &user.to_string(),
                MFA_TTL_SECS,
            )
            .await?;
        Ok(MfaChallenge {
            mfa_required: true,
            mfa_token: token,
        })
    }

    /// Completes a login started with a password on a TOTP account.
    pub async fn login_totp(&self, mfa_token: &str, code: &str) -> Result<TokenPair, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::Invalid);
        let key = format!("mfa:{}", sha256_hex(mfa_token));
        let user: i64 = self
            .cache()
            .get(&key)
            .await?
            .and_then(|v| v.parse().ok())
            .ok_or_else(invalid)?;
        // Single use: only the request that removes the token goes on.
        if !self.cache().delete(&key).await? {
            return Err(invalid());
        }
        let email = self.user(user).await?.email;
        self.check_throttle(&email).await?;
        // A wrong code spends the mfa token: the next try starts over with
        // the password, so codes cannot be guessed against one challenge.
        if !self.totp_accept(user, code, true).await? {
            self.record_failure(&email).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongCode));
        }
        self.start_session(user, &email).await
    }
}

#[cfg(test)]
mod tests {
    use super::{hex, unhex};

    #[test]
    fn hex_round_trip() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("zz"), None);
    }
}
