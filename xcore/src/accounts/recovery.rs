//! The flows of the links sent by e-mail: forgotten password and address
//! verification ([`links`](super::links) keeps the tokens).
//!
//! The e-mails go through the app's [`Mailer`](crate::mail::Mailer); their
//! link is `{auth.public_url}/reset-password?token=…` or
//! `{auth.public_url}/verify-email?token=…`, a page of the application that
//! posts the token back to `/auth/password/reset` or `/auth/email/verify`.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::links::{Links, Purpose};
use super::password::contains_email;
use super::throttle::{Counted, too_many};
use super::users::{Users, normalize_email};
use super::write::Change;
use super::{Accounts, ApiKeys, Event, Sessions};
use crate::error::Error;
use crate::mail::AccountLink;

/// The answer to a link that cannot be used; the same for unknown, spent,
/// expired and mistyped tokens. `dead` remembers it was given, for the
/// audit record written once the transaction has rolled back.
fn dead_link(dead: &AtomicBool) -> Error {
    dead.store(true, Ordering::Relaxed);
    Error::BadRequest("this link is invalid, used or expired: ask for a new one".into())
}

impl Accounts {
    /// The first step of a forgotten password: counts the request for this
    /// e-mail (429 past `auth.login_max_failures` per window, whether or not
    /// an account has it, so the answer tells nothing), then, when an
    /// account has it, sends it a new reset link (replacing any earlier
    /// one). The lookup, the link and the e-mail happen after this returns,
    /// so an unknown e-mail answers as fast as a known one.
    pub async fn forgot_password(&self, email: &str) -> Result<(), Error> {
        let email = normalize_email(email);
        super::check_email(&email)?;
        if let Counted::Refused { retry_after, .. } = self.reset_requests.count(&email).await? {
            return Err(too_many(retry_after));
        }
        let accounts = self.clone();
        tokio::spawn(async move {
            if let Err(err) = accounts.send_reset_link(&email).await {
                tracing::warn!(error = %err, "password-reset e-mail not sent");
            }
        });
        Ok(())
    }

    async fn send_reset_link(&self, email: &str) -> Result<(), Error> {
        let Some(credentials) = self.users.credentials(email).await? else {
            return Ok(());
        };
        let change = Change::new(Event::PasswordResetRequested, self.actor).about(credentials.id);
        let token = self
            .writes
            .run(change, async |tx, _| {
                Links::issue_in(
                    tx,
                    credentials.id,
                    Purpose::PasswordReset,
                    self.links.reset_ttl,
                )
                .await
            })
            .await?;
        let url = format!("{}/reset-password?token={token}", self.links.public_url);
        let mail = self
            .links
            .mailer
            .account_mails()
            .password_reset(&AccountLink {
                to: email,
                url: &url,
                valid_for: self.links.reset_ttl,
            });
        self.links.mailer.send(mail).await
    }

    /// Sets a new password with a reset link's token: 400 when the token is
    /// unknown, spent or expired, 422 for a password too short, too easy to
    /// guess or holding the account's e-mail. The token
    /// is spent, every reset link of the account dies, every session and
    /// API key ends,
    /// the address counts as verified (the link reached it), and the
    /// login failures of the account are forgotten.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<(), Error> {
        // The account's e-mail is known once the token is taken, below.
        self.check_password("new_password", new_password, None)?;
        // Hashed before the token is spent, so a refused hash (503) leaves
        // the link usable.
        let hash = self.hasher.hash(new_password, self.params).await?;
        // Whose link it is, and so who acts, is known once it is taken.
        let change = Change::new(Event::PasswordReset, self.actor);
        let dead = AtomicBool::new(false);
        let user = self
            .writes
            .run(change, async |tx, change| {
                let user = Links::take_in(tx, token, Purpose::PasswordReset)
                    .await?
                    .ok_or_else(|| dead_link(&dead))?;
                // Refused here, the transaction rolls back: the link lives.
                contains_email(
                    "new_password",
                    new_password,
                    &Users::email_in(tx, user).await?,
                )?;
                Users::set_password_hash_in(tx, user, &hash).await?;
                Users::set_verified_in(tx, user).await?;
                Links::forget_in(tx, user, Purpose::PasswordReset).await?;
                Sessions::end_all_in(tx, user, None).await?;
                // Whoever took the account may have made keys: none survive.
                ApiKeys::revoke_all_in(tx, user).await?;
                change.actor = self.as_user(user);
                change.subject = Some(user);
                change.publish.push(user);
                Ok(user)
            })
            .await;
        let user = self
            .refused_link(user, &dead, Purpose::PasswordReset)
            .await?;
        let email = self.users.email(user).await?;
        self.login_by_account.forget(&email).await
    }

    /// Sends `user` a new verification link (replacing any earlier one);
    /// 409 when the address is verified already.
    pub async fn send_verification(&self, user: i64) -> Result<(), Error> {
        let (email, verified) = self.users.email_and_verified(user).await?;
        if verified {
            return Err(Error::Conflict(
                "this e-mail address is verified already".into(),
            ));
        }
        let mut conn = self.db.pool().acquire().await?;
        let token =
            Links::issue_in(&mut conn, user, Purpose::VerifyEmail, self.links.verify_ttl).await?;
        drop(conn);
        let url = format!("{}/verify-email?token={token}", self.links.public_url);
        let mail = self
            .links
            .mailer
            .account_mails()
            .verification(&AccountLink {
                to: &email,
                url: &url,
                valid_for: self.links.verify_ttl,
            });
        self.links.mailer.send(mail).await
    }

    /// [`Accounts::send_verification`] without waiting for it; a failure is
    /// logged.
    pub(crate) fn send_verification_in_background(&self, user: i64) {
        let accounts = self.clone();
        tokio::spawn(async move {
            if let Err(err) = accounts.send_verification(user).await {
                tracing::warn!(error = %err, user, "verification e-mail not sent");
            }
        });
    }

    /// Marks the address of a verification link's account verified: 400
    /// when the token is unknown, spent or expired.
    pub async fn verify_email(&self, token: &str) -> Result<(), Error> {
        let change = Change::new(Event::EmailVerified, self.actor);
        let dead = AtomicBool::new(false);
        let verified = self
            .writes
            .run(change, async |tx, change| {
                let user = Links::take_in(tx, token, Purpose::VerifyEmail)
                    .await?
                    .ok_or_else(|| dead_link(&dead))?;
                Users::set_verified_in(tx, user).await?;
                change.actor = self.as_user(user);
                change.subject = Some(user);
                change.publish.push(user);
                Ok(())
            })
            .await;
        self.refused_link(verified, &dead, Purpose::VerifyEmail)
            .await
    }

    /// The outcome of a link's transaction; a dead link is audited (after
    /// the rollback, with no subject: the token named no one).
    async fn refused_link<T>(
        &self,
        outcome: Result<T, Error>,
        dead: &AtomicBool,
        purpose: Purpose,
    ) -> Result<T, Error> {
        if outcome.is_err() && dead.load(Ordering::Relaxed) {
            self.record_alone(
                Event::LinkRefused,
                None,
                json!({"purpose": purpose.as_str()}),
            )
            .await?;
        }
        outcome
    }
}
