//! Registration: a new account, and an address an administrator vouches
//! for.

use super::users::{User, Users, normalize_email};
use super::write::Change;
use super::{Accounts, Event, check_email};
use crate::error::Error;

impl Accounts {
    /// Creates an account. 409 when the e-mail exists (case-insensitive),
    /// 422 for an invalid e-mail or a password too short or too easy to
    /// guess.
    pub async fn register(&self, email: &str, password: &str) -> Result<User, Error> {
        let email = normalize_email(email);
        check_email(&email)?;
        self.check_password("password", password, Some(&email))?;
        let hash = self.hasher.hash(password, self.params).await?;
        let id = self
            .writes
            .run(
                Change::new(Event::Registered, self.actor),
                async |tx, change| {
                    let id = Users::create_in(tx, &email, &hash).await?;
                    change.subject = Some(id);
                    Ok(id)
                },
            )
            .await?;
        Ok(User {
            id,
            email,
            roles: Vec::new(),
            permissions: Vec::new(),
            totp_enabled: false,
            email_verified: false,
            recovery_codes_left: 0,
        })
    }

    /// Marks a user's address verified (an administrator vouches for it).
    pub async fn mark_verified(&self, id: i64) -> Result<(), Error> {
        // Not audited: the administrator's creation of the account is.
        let mut tx = self.db.begin_write().await?;
        Users::set_verified_in(&mut tx, id).await?;
        tx.commit().await?;
        self.versions.publish(&[id]).await
    }
}
