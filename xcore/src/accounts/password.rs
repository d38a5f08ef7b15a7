//! A signed-in user's password: what a new one must be (long enough, hard
//! enough to guess, not the account's e-mail), the current one checked
//! (and counted), and the change, which ends the other sessions.

use serde_json::json;

use super::links::{Links, Purpose};
use super::throttle::{Attempt, Counted, too_many};
use super::users::Users;
use super::write::Change;
use super::{Accounts, Event, MAX_PASSWORD_CHARS, Sessions};
use crate::error::{AuthFailure, Error};

/// How many leading characters of a password its strength is estimated on.
const ESTIMATED_CHARS: usize = 128;

impl Accounts {
    /// A new password's rules, as a 422 naming `field`: its length
    /// (`auth.password_min_length` to [`MAX_PASSWORD_CHARS`]), the
    /// account's `email` when known (see [`contains_email`]), and how hard
    /// it is to guess: zxcvbn's estimate, which knows the passwords of
    /// public breaches, dictionary words, names, keyboard walks, dates,
    /// repeats and sequences, and the e-mail, must reach
    /// `auth.password_min_strength` (NIST SP 800-63B 5.1.1.2).
    pub(super) fn check_password(
        &self,
        field: &str,
        password: &str,
        email: Option<&str>,
    ) -> Result<(), Error> {
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
        if let Some(email) = email {
            contains_email(field, password, email)?;
        }
        if self.min_strength == 0 {
            return Ok(());
        }
        let inputs: Vec<&str> = email
            .map(|email| vec![email, email.split('@').next().unwrap_or(email)])
            .unwrap_or_default();
        // The estimate's cost grows faster than the length (20 ms for 1,024
        // characters): the first 128 decide, which any strong passphrase
        // passes, so a long password costs a request no more than a
        // millisecond or two on the async threads.
        let prefix = match password.char_indices().nth(ESTIMATED_CHARS) {
            Some((end, _)) => &password[..end],
            None => password,
        };
        let estimate = zxcvbn::zxcvbn(prefix, &inputs);
        if u8::from(estimate.score()) < self.min_strength {
            // zxcvbn's warning says why in general terms ("This is a top-10
            // common password"), never quoting the password.
            let why = estimate
                .feedback()
                .and_then(|feedback| feedback.warning())
                .map_or_else(String::new, |warning| {
                    let warning = warning.to_string();
                    format!(" ({})", warning.trim_end_matches('.').to_lowercase())
                });
            return Err(Error::invalid_field(
                field,
                "guessable",
                format!("is too easy to guess{why}: a few unrelated words make a strong password"),
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

    /// Checks a signed-in user's password (403 when wrong, audited with
    /// what it was `for`), counted.
    pub(super) async fn confirm_password(
        &self,
        user: i64,
        password: &str,
        for_: &'static str,
    ) -> Result<Attempt, Error> {
        let attempt = self.count_check(user).await?;
        let credentials = self
            .users
            .credentials_of(user)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if !self.hasher.verify(password, &credentials.hash).await? {
            self.record_alone(Event::PasswordCheckFailed, Some(user), json!({"for": for_}))
                .await?;
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
        let attempt = self
            .confirm_password(user, current, "password_change")
            .await?;
        if new == current {
            // The right password was given: it does not count as a failure.
            self.checks.clear(&attempt).await?;
            return Err(Error::invalid_field(
                "new_password",
                "different",
                "must differ from the current password",
            ));
        }
        let email = self.users.email(user).await?;
        self.check_password("new_password", new, Some(&email))?;
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

/// A password that holds the account's e-mail, or is its local part
/// (case, punctuation and spaces aside: `Grace.Hopper` for
/// `grace-hopper@…`), is a 422: it is the first thing anyone who knows the
/// account tries. Passwords that merely share a word with it are left to
/// the strength estimate, which is given the e-mail.
pub(super) fn contains_email(field: &str, password: &str, email: &str) -> Result<(), Error> {
    let letters = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let email = email.to_lowercase();
    let local = letters(email.split('@').next().unwrap_or_default());
    if password.to_lowercase().contains(&email) || (!local.is_empty() && letters(password) == local)
    {
        return Err(Error::invalid_field(
            field,
            "guessable",
            "must not be the account's e-mail address",
        ));
    }
    Ok(())
}
