//! A signed-in user's password: how long a new one must be, the current
//! one checked (and counted), and the change, which ends the other
//! sessions.

use super::links::{Links, Purpose};
use super::throttle::{Attempt, Counted, too_many};
use super::users::Users;
use super::write::Change;
use super::{Accounts, Event, MAX_PASSWORD_CHARS, Sessions};
use crate::error::{AuthFailure, Error};

impl Accounts {
    /// A new password's length (`auth.password_min_length` to
    /// [`MAX_PASSWORD_CHARS`]), as a 422 naming `field`.
    pub(super) fn check_password(&self, field: &str, password: &str) -> Result<(), Error> {
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

    /// Counts a password or code a signed-in user gives, before it is
    /// checked: 429 past the limit.
    pub(super) async fn count_check(&self, user: i64) -> Result<Attempt, Error> {
        match self.checks.count(&user.to_string()).await? {
            Counted::Allowed(attempt) => Ok(attempt),
            Counted::Refused { retry_after, .. } => Err(too_many(retry_after)),
        }
    }

    /// Checks a signed-in user's password (403 when wrong), counted.
    pub(super) async fn confirm_password(
        &self,
        user: i64,
        password: &str,
    ) -> Result<Attempt, Error> {
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
    /// counted); other sessions end. The same password again is a 422.
    pub async fn change_password(
        &self,
        user: i64,
        session: Option<&str>,
        current: &str,
        new: &str,
    ) -> Result<(), Error> {
        let attempt = self.confirm_password(user, current).await?;
        if new == current {
            // The right password was given: it does not count as a failure.
            self.checks.clear(&attempt).await?;
            return Err(Error::invalid_field(
                "new_password",
                "different",
                "must differ from the current password",
            ));
        }
        self.check_password("new_password", new)?;
        let rehashed = self.hasher.hash(new, self.params).await?;
        let change = Change::new(Event::PasswordChanged, self.as_user(user)).changes(user);
        self.writes
            .run(change, async |tx, _| {
                Users::set_password_hash_in(tx, user, &rehashed).await?;
                Links::forget_in(tx, user, Purpose::PasswordReset).await?;
                Sessions::end_all_in(tx, user, session).await
            })
            .await?;
        self.checks.clear(&attempt).await
    }
}
