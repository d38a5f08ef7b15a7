//! The accounts themselves (`xcore_users`): e-mail and password hash.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::versions::Versions;

use crate::clock;
use crate::db::{Db, UniqueViolationExt};
use crate::error::Error;

/// A stored user, as the API shows it (never with its password hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
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
    /// Whether the account proved it receives mail at its address (a
    /// verification or password-reset link was opened).
    pub email_verified: bool,
    /// Recovery codes left (none without TOTP).
    pub recovery_codes_left: u32,
}

/// What a login reads of an account, in one query: its hash to check the
/// password against, and its authorisation version and session epoch as
/// they were *before* the check.
pub(crate) struct Credentials {
    pub(crate) id: i64,
    pub(crate) hash: String,
    pub(crate) version: i64,
    pub(crate) epoch: i64,
    pub(crate) verified: bool,
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

/// A bare `local@domain`: nothing a mailbox parser could read as a display
/// name, a comment, a group or a second address, since the stored address
/// is where mail goes. The local part takes RFC 5322's dot-atom characters,
/// the domain letters, digits, hyphens and dots (letters beyond ASCII
/// kept, for internationalised addresses). The real proof is a
/// verification e-mail.
pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let dot_atom = |part: &str| {
        !part.is_empty() && !part.starts_with('.') && !part.ends_with('.') && !part.contains("..")
    };
    email.len() <= 254
        && local.len() <= 64
        && dot_atom(local)
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && dot_atom(domain)
        && domain.contains('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

impl Users {
    pub(crate) fn new(db: Db) -> Self {
        Users { db }
    }

    /// Stores a new account on `conn`; 409 when the e-mail is taken.
    pub(crate) async fn create_in(
        conn: &mut AnyConnection,
        email: &str,
        password_hash: &str,
    ) -> Result<i64, Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO xcore_users (email, password_hash, auth_version, created_at) VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(clock::now())
        .fetch_one(conn)
        .await
        .conflict_on_unique("an account with this e-mail already exists")?;
        Ok(id)
    }

    /// What a login checks, for the account with this (normalised) e-mail.
    pub(crate) async fn credentials(&self, email: &str) -> Result<Option<Credentials>, Error> {
        let row: Option<(i64, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, password_hash, auth_version, session_epoch, email_verified FROM xcore_users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|(id, hash, version, epoch, verified)| Credentials {
            id,
            hash,
            version,
            epoch,
            verified: verified != 0,
        }))
    }

    /// [`Users::credentials`] by id.
    pub(crate) async fn credentials_of(&self, id: i64) -> Result<Option<Credentials>, Error> {
        let row: Option<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT password_hash, auth_version, session_epoch, email_verified FROM xcore_users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|(hash, version, epoch, verified)| Credentials {
            id,
            hash,
            version,
            epoch,
            verified: verified != 0,
        }))
    }

    /// Replaces a user's password hash on `conn`.
    pub(crate) async fn set_password_hash_in(
        conn: &mut AnyConnection,
        id: i64,
        hash: &str,
    ) -> Result<(), Error> {
        sqlx::query("UPDATE xcore_users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Marks a user's address verified, on `conn`, and bumps the user's
    /// version (what [`User`] shows changed); the caller publishes it once
    /// the transaction commits.
    pub(crate) async fn set_verified_in(conn: &mut AnyConnection, id: i64) -> Result<(), Error> {
        sqlx::query("UPDATE xcore_users SET email_verified = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Versions::bump_in(conn, &[id]).await
    }

    /// A user's e-mail and whether it is verified; 404 for an unknown user.
    pub async fn email_and_verified(&self, id: i64) -> Result<(String, bool), Error> {
        let (email, verified): (String, i64) =
            sqlx::query_as("SELECT email, email_verified FROM xcore_users WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?
                .ok_or_else(|| Error::NotFound(format!("user {id} does not exist")))?;
        Ok((email, verified != 0))
    }

    /// A user's e-mail on `conn`; 404 for an unknown user.
    pub(crate) async fn email_in(conn: &mut AnyConnection, id: i64) -> Result<String, Error> {
        let (email,): (String,) = sqlx::query_as("SELECT email FROM xcore_users WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id} does not exist")))?;
        Ok(email)
    }

    /// A user's e-mail; 404 for an unknown user.
    pub async fn email(&self, id: i64) -> Result<String, Error> {
        Ok(self.email_and_verified(id).await?.0)
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
