//! Single-use links sent by e-mail (`xcore_account_links`): password reset
//! and address verification.
//!
//! A link's token is 256 random bits, sent once and stored as its SHA-256
//! hash, so the table leaks nothing usable. A user has at most one live
//! link per purpose (a new one replaces the old), and a link is spent by
//! deleting it: of two requests racing with the same token, the database
//! gives the row to one.

use std::time::Duration;

use sqlx::AnyConnection;

use crate::clock;
use crate::error::Error;
use crate::security::{random_token, sha256_hex};

/// What a link is for; a token of one purpose is refused for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `POST /auth/password/reset`.
    PasswordReset,
    /// `POST /auth/email/verify`.
    VerifyEmail,
}

impl Purpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::VerifyEmail => "verify_email",
        }
    }
}

/// The links table.
pub(crate) struct Links;

impl Links {
    /// A new link for `user`, valid for `ttl`, replacing any earlier link
    /// of the same purpose; returns the token (the only copy in clear).
    pub(crate) async fn issue_in(
        conn: &mut AnyConnection,
        user: i64,
        purpose: Purpose,
        ttl: Duration,
    ) -> Result<String, Error> {
        let now = clock::now();
        // Expired links of anyone go with each new one: the table holds
        // live links only, at most one per user and purpose.
        sqlx::query("DELETE FROM xcore_account_links WHERE expires_at <= $1 OR (user_id = $2 AND purpose = $3)")
            .bind(now)
            .bind(user)
            .bind(purpose.as_str())
            .execute(&mut *conn)
            .await?;
        let token = random_token();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        sqlx::query(
            "INSERT INTO xcore_account_links (hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sha256_hex(&token))
        .bind(user)
        .bind(purpose.as_str())
        .bind(now.saturating_add(ttl))
        .execute(conn)
        .await?;
        Ok(token)
    }

    /// Spends the link of `token` for `purpose`: its user, or `None` when
    /// the token is unknown, spent, expired or for another purpose.
    pub(crate) async fn take_in(
        conn: &mut AnyConnection,
        token: &str,
        purpose: Purpose,
    ) -> Result<Option<i64>, Error> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "DELETE FROM xcore_account_links WHERE hash = $1 AND purpose = $2 RETURNING user_id, expires_at",
        )
        .bind(sha256_hex(token))
        .bind(purpose.as_str())
        .fetch_optional(conn)
        .await?;
        Ok(row.and_then(|(user, expires_at)| (expires_at > clock::now()).then_some(user)))
    }

    /// Deletes every link of `user` for `purpose` (a password change kills
    /// the reset links sent before it).
    pub(crate) async fn forget_in(
        conn: &mut AnyConnection,
        user: i64,
        purpose: Purpose,
    ) -> Result<(), Error> {
        sqlx::query("DELETE FROM xcore_account_links WHERE user_id = $1 AND purpose = $2")
            .bind(user)
            .bind(purpose.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }
}
