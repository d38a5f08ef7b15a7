//! The accounts themselves (`xcore_users`): e-mail and password hash.

use serde::Serialize;

use crate::clock;
use crate::db::{Db, UniqueViolationExt};
use crate::error::Error;

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

/// The users table.
#[derive(Clone)]
pub struct Users {
    db: Db,
}

/// How an e-mail is stored and compared: trimmed, lower-cased.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Plain sanity check; the real proof is a verification e-mail.
pub(crate) fn valid_email(email: &str) -> bool {
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

impl Users {
    pub(crate) fn new(db: Db) -> Self {
        Users { db }
    }

    /// Stores a new account; 409 when the e-mail is taken.
    pub(crate) async fn create(&self, email: &str, password_hash: &str) -> Result<i64, Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO xcore_users (email, password_hash, auth_version, created_at) VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(clock::now())
        .fetch_one(self.db.pool())
        .await
        .conflict_on_unique("an account with this e-mail already exists")?;
        Ok(id)
    }

    /// The id and password hash of the account with this (normalised) e-mail.
    pub(crate) async fn credentials(&self, email: &str) -> Result<Option<(i64, String)>, Error> {
        Ok(
            sqlx::query_as("SELECT id, password_hash FROM xcore_users WHERE email = $1")
                .bind(email)
                .fetch_optional(self.db.pool())
                .await?,
        )
    }

    /// The id of the account with this (normalised) e-mail.
    pub(crate) async fn id_of(&self, email: &str) -> Result<Option<i64>, Error> {
        Ok(self.credentials(email).await?.map(|(id, _)| id))
    }

    /// The password hash of a user.
    pub(crate) async fn password_hash(&self, id: i64) -> Result<Option<String>, Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT password_hash FROM xcore_users WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(row.map(|(hash,)| hash))
    }

    /// Replaces a user's password hash.
    pub(crate) async fn set_password_hash(&self, id: i64, hash: &str) -> Result<(), Error> {
        sqlx::query("UPDATE xcore_users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// A user's e-mail; 404 for an unknown user.
    pub async fn email(&self, id: i64) -> Result<String, Error> {
        let (email,): (String,) = sqlx::query_as("SELECT email FROM xcore_users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id} does not exist")))?;
        Ok(email)
    }

    /// 404 unless the user exists.
    pub async fn require(&self, id: i64) -> Result<(), Error> {
        self.email(id).await.map(drop)
    }

    /// How many accounts there are, and the ids of one page of them (by id;
    /// `page` from 1).
    pub async fn page(&self, page: u32, per_page: u32) -> Result<(i64, Vec<i64>), Error> {
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM xcore_users")
            .fetch_one(self.db.pool())
            .await?;
        let ids: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM xcore_users ORDER BY id LIMIT $1 OFFSET $2")
                .bind(i64::from(per_page))
                .bind(i64::from(page.saturating_sub(1)) * i64::from(per_page))
                .fetch_all(self.db.pool())
                .await?;
        Ok((total, ids.into_iter().map(|(id,)| id).collect()))
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
