//! Logging in: the password (counted per account and per address before
//! it is checked, the same work for an unknown e-mail), the second factor
//! when it is on, and the session with its first tokens.

use serde::Serialize;
use serde_json::json;

use super::audit::client_text;
use super::throttle::{Attempt, Counted, too_many};
use super::users::{Credentials, Users, normalize_email};
use super::write::Change;
use super::{Accounts, Event, MfaChallenge, TwoFactor};
use crate::error::{AuthFailure, Error};
use crate::rate_limit::counted_address;
use crate::security::{Claims, create_token, needs_rehash};

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

/// The limits of one login attempt, let through.
struct LoginAttempt {
    account: Attempt,
    address: Option<Attempt>,
}

/// What completes a login with TOTP on.
#[derive(Clone, Copy)]
enum SecondFactor<'a> {
    /// The authenticator's current code.
    Code(&'a str),
    /// One of the account's recovery codes.
    RecoveryCode(&'a str),
}

impl Accounts {
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
            (Some(limit), Some(address)) => match limit
                .count(&counted_address(address, self.ipv6_prefix).to_string())
                .await?
            {
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
        let subject = credentials.as_ref().map(|credentials| credentials.id);
        let Some(credentials) = credentials.filter(|_| verified) else {
            // The account, when there is one, is the subject: its owner can
            // see the attempts on it. The answer is the same either way.
            self.record_alone(
                Event::LoginFailed,
                subject,
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
        let change = Change::new(Event::RecoveryCodeUsed, self.actor).changes(user);
        self.writes
            .run(change, async |tx, change| {
                if !TwoFactor::use_recovery_code_in(tx, user, code).await? {
                    // Nothing spent: nothing recorded, nothing published.
                    change.happened = false;
                    change.publish.clear();
                    return Ok(false);
                }
                let left = TwoFactor::recovery_codes_left_in(tx, user).await?;
                change.detail = json!({ "left": left });
                Ok(true)
            })
            .await
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
        let change = Change::new(Event::LoginSucceeded, self.as_user(id)).about(id);
        let session = self
            .writes
            .run(change, async |tx, _| {
                self.sessions
                    .open_in(tx, id, credentials.epoch)
                    .await?
                    .ok_or(Error::Unauthorized(AuthFailure::Invalid))
            })
            .await?;
        self.login_by_account.clear(&attempt.account).await?;
        self.issue(id, email, &session, credentials.version).await
    }

    /// A new access token and refresh token for a session, at `version`
    /// (read before the session was known to be live, so a revocation
    /// landing since leaves a stale token, re-checked, never a fresh one).
    pub(super) async fn issue(
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
}
