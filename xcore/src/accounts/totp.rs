//! The second factor's flows: set up and confirmed with a first code,
//! recovery codes replaced, turned off by the user (password and code) or
//! reset by an administrator.

use super::write::Change;
use super::{Accounts, ApiKeys, Event, RecoveryCodes, Sessions, TotpSetup, TwoFactor};
use serde_json::json;

use crate::error::Error;

impl Accounts {
    /// Starts TOTP setup, given the password: a new secret, returned once;
    /// on only once a first code confirms it. 409 when TOTP is already on.
    pub async fn totp_setup(&self, user: i64, password: &str) -> Result<TotpSetup, Error> {
        let attempt = self.confirm_password(user, password, "totp_setup").await?;
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
            return Err(self.wrong_code(user, "totp_confirm").await);
        }
        let change = Change::new(Event::TotpEnabled, self.as_user(user)).changes(user);
        let codes = self
            .writes
            .run(change, async |tx, _| {
                TwoFactor::enable_in(tx, user).await?;
                TwoFactor::new_recovery_codes_in(tx, user).await
            })
            .await?;
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
        let attempt = self
            .confirm_password(user, password, "recovery_codes")
            .await?;
        if !self.two_factor.accept(user, code, true).await? {
            return Err(self.wrong_code(user, "recovery_codes").await);
        }
        let change = Change::new(Event::RecoveryCodesReplaced, self.as_user(user)).changes(user);
        let codes = self
            .writes
            .run(change, async |tx, _| {
                TwoFactor::new_recovery_codes_in(tx, user).await
            })
            .await?;
        self.checks.clear(&attempt).await?;
        Ok(codes)
    }

    /// Turns TOTP off, given the password and a valid code (403 for a wrong
    /// password, 400 for a wrong code; both are counted).
    pub async fn totp_disable(&self, user: i64, password: &str, code: &str) -> Result<(), Error> {
        let attempt = self
            .confirm_password(user, password, "totp_disable")
            .await?;
        if !self.two_factor.accept(user, code, true).await? {
            return Err(self.wrong_code(user, "totp_disable").await);
        }
        let change = Change::new(Event::TotpDisabled, self.as_user(user)).changes(user);
        self.writes
            .run(change, async |tx, _| TwoFactor::remove_in(tx, user).await)
            .await?;
        self.checks.clear(&attempt).await
    }

    /// Turns a user's TOTP off without a code, for an administrator helping
    /// a user who lost their authenticator (or whose secret can no longer be
    /// read because the app secret changed). Every session and API key of
    /// the user ends, in case the device was stolen; they sign in again with their
    /// password and may set TOTP up anew. 404 for an unknown user.
    pub async fn totp_reset(&self, user: i64) -> Result<(), Error> {
        self.users.require(user).await?;
        let change = Change::new(Event::TotpReset, self.actor).changes(user);
        self.writes
            .run(change, async |tx, _| {
                TwoFactor::remove_in(tx, user).await?;
                ApiKeys::revoke_all_in(tx, user).await?;
                Sessions::end_all_in(tx, user, None).await
            })
            .await?;
        tracing::warn!(user, "two-factor authentication reset by an administrator");
        Ok(())
    }
}

impl Accounts {
    /// A signed-in user's wrong code, audited with what it was `for`: the
    /// 400 to answer (or the error that kept the record from being written).
    pub(crate) async fn wrong_code(&self, user: i64, for_: &'static str) -> Error {
        match self
            .record_alone(Event::CodeCheckFailed, Some(user), json!({"for": for_}))
            .await
        {
            Ok(()) => Error::BadRequest("wrong or expired code".into()),
            Err(err) => err,
        }
    }
}
