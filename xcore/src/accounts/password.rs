//! A signed-in user's password: what a new one must be (long enough, hard
//! enough to guess, not the account's e-mail), the current one checked
//! (and counted), and the change, which ends the other sessions.

use serde_json::json;

use super::links::{Links, Purpose};
use super::throttle::{Attempt, Counted, too_many};
use super::users::Users;
use super::write::Change;
use super::{Accounts, ApiKeys, Event, MAX_PASSWORD_CHARS, Sessions};
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
        match too_guessable(password, email, self.min_strength) {
            Some(why) => Err(Error::invalid_field(field, "guessable", why)),
            None => Ok(()),
        }
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
    /// counted); other sessions end, and the API keys with
    /// `auth.revoke_api_keys_with_sessions`. The same password again is a
    /// 422.
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
                if self.keys_end_with_sessions {
                    ApiKeys::revoke_all_in(tx, user).await?;
                }
                Sessions::end_all_in(tx, user, session).await
            })
            .await?;
        self.checks.clear(&attempt).await
    }
}

/// Why `password` is too easy to guess (zxcvbn's score below
/// `min_strength`, 0 to 4; 0 checks nothing), or `None`.
///
/// The estimate's cost grows faster than the length (20 ms for 1,024
/// characters): the first [`ESTIMATED_CHARS`] decide, which any strong
/// passphrase passes, so a long password costs a request no more than a
/// millisecond or two on the async threads. Should the estimator ever
/// panic on some text, the password is refused (a 422 asking for another),
/// never answered with a 500.
fn too_guessable(password: &str, email: Option<&str>, min_strength: u8) -> Option<String> {
    if min_strength == 0 {
        return None;
    }
    let inputs: Vec<&str> = email
        .map(|email| vec![email, email.split('@').next().unwrap_or(email)])
        .unwrap_or_default();
    let prefix = match password.char_indices().nth(ESTIMATED_CHARS) {
        Some((end, _)) => &password[..end],
        None => password,
    };
    let Ok(estimate) = std::panic::catch_unwind(|| zxcvbn::zxcvbn(prefix, &inputs)) else {
        return Some("cannot be checked: choose another".to_owned());
    };
    if u8::from(estimate.score()) >= min_strength {
        return None;
    }
    // zxcvbn's warning says why in general terms ("This is a top-10 common
    // password"), never quoting the password.
    let why = estimate
        .feedback()
        .and_then(|feedback| feedback.warning())
        .map_or_else(String::new, |warning| {
            let warning = warning.to_string();
            format!(" ({})", warning.trim_end_matches('.').to_lowercase())
        });
    Some(format!(
        "is too easy to guess{why}: a few unrelated words make a strong password"
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_too_guessable_and_passphrases_are_not() {
        for weak in [
            "password",
            "12345678",
            "        ",
            "Password123!",
            "qwertyuiop",
        ] {
            assert!(too_guessable(weak, None, 2).is_some(), "{weak}");
        }
        for strong in ["correct horse", "a long passphrase", "analytical engine"] {
            assert!(too_guessable(strong, None, 2).is_none(), "{strong}");
        }
        assert!(
            too_guessable("password", None, 0).is_none(),
            "0 checks nothing"
        );
        let why = too_guessable("password", None, 2).unwrap_or_default();
        assert!(
            why.starts_with("is too easy to guess (this is a top-10"),
            "{why}"
        );
    }

    /// Text from everywhere (combining marks, emoji and their joiners,
    /// right-to-left, CJK, full-width digits, control characters) through
    /// the estimator, as any client may send it: an answer every time.
    #[test]
    fn any_text_gets_an_answer() {
        let pool: Vec<char> = "aZ9 !@\u{0}\u{7f}\u{301}\u{200d}\u{200f}\u{202e}\u{fe0f}\u{ffff}\
                               éßİıǅ日本語한국어עברית٣٤５６👩‍💻🏳️‍🌈\u{1d11e}\u{e0041}"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..600 {
            let length = (next() % 160) as usize;
            let text: String = (0..length)
                .map(|_| pool[(next() % pool.len() as u64) as usize])
                .collect();
            let why = too_guessable(&text, Some("ada@example.com"), 2).unwrap_or_default();
            assert!(
                !why.starts_with("cannot be checked"),
                "the estimator panicked on {text:?}"
            );
            let _ = contains_email("password", &text, "ada@example.com");
        }
    }
}
