//! Sessions (`xcore_sessions`) and their single-use refresh tokens
//! (`xcore_refresh_tokens`, stored as SHA-256 hashes).
//!
//! A session belongs to an *epoch* of its user (`session_epoch`, a
//! per-user "not before"): ending every session of a user raises it, and a
//! session of an older epoch is dead even if it was created a moment later
//! by a login that was already past its checks.

use std::time::Duration;

use serde::Serialize;
use sqlx::AnyConnection;

use super::versions::Versions;
use crate::clock;
use crate::db::Db;
use crate::error::{AuthFailure, Error};
use crate::rate_limit::Limiter;
use crate::security::{random_token, sha256_hex};

/// The sessions table.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    ttl: Duration,
}

/// A session that is live: signed in, not ended, not expired.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct LiveSession {
    /// The session's id (the `sid` of its access tokens).
    pub id: String,
    /// Opened at (seconds since the Unix epoch).
    pub created_at: i64,
    /// Its refresh tokens stop working at.
    pub expires_at: i64,
}

/// A refresh token that was just used up: the session it continues, and
/// the user's version read before the token was spent.
pub(crate) struct Refreshed {
    pub(crate) session: String,
    pub(crate) user: i64,
    pub(crate) email: String,
    pub(crate) version: i64,
}

/// Why a refresh token cannot be used.
pub(crate) enum RefreshRefused {
    /// Unknown, expired, or its session ended.
    Invalid,
    /// Used before: someone else holds a copy; the session must end.
    Reused { user: i64, session: String },
    /// The session refreshed too often; the token is still good later.
    Limited(std::time::Duration),
}

impl Sessions {
    pub(crate) fn new(db: Db, ttl: Duration) -> Self {
        Sessions { db, ttl }
    }

    fn expires_at(&self) -> i64 {
        clock::now() + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }

    /// Opens a session for `user` on `conn`, if the user's sessions are
    /// still at `epoch` (read before the password was checked); `None`
    /// when they were all ended since.
    pub(crate) async fn open_in(
        &self,
        conn: &mut AnyConnection,
        user: i64,
        epoch: i64,
    ) -> Result<Option<String>, Error> {
        let session = uuid::Uuid::new_v4().to_string();
        let opened = sqlx::query(
            "INSERT INTO xcore_sessions (id, user_id, revoked, created_at, expires_at, epoch) \
             SELECT $1, id, 0, $3, $4, session_epoch FROM xcore_users \
             WHERE id = $2 AND session_epoch = $5",
        )
        .bind(&session)
        .bind(user)
        .bind(clock::now())
        .bind(self.expires_at())
        .bind(epoch)
        .execute(conn)
        .await?;
        Ok((opened.rows_affected() == 1).then_some(session))
    }

    /// A new refresh token for `session` (stored hashed).
    pub(crate) async fn new_refresh_token(&self, session: &str) -> Result<String, Error> {
        let token = random_token();
        sqlx::query("INSERT INTO xcore_refresh_tokens (hash, session_id, used, expires_at) VALUES ($1, $2, 0, $3)")
            .bind(sha256_hex(&token))
            .bind(session)
            .bind(self.expires_at())
            .execute(self.db.pool())
            .await?;
        Ok(token)
    }

    /// Uses up a refresh token, once: only one of two concurrent uses wins.
    pub(crate) async fn use_refresh_token(
        &self,
        token: &str,
        per_session: Option<&Limiter>,
    ) -> Result<Result<Refreshed, RefreshRefused>, Error> {
        let hash = sha256_hex(token);
        type Row = (String, i64, i64, i64, i64, String, i64, i64, i64, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT t.session_id, t.used, t.expires_at, s.revoked, s.user_id, u.email, s.expires_at, \
             s.epoch, u.session_epoch, u.auth_version \
             FROM xcore_refresh_tokens t JOIN xcore_sessions s ON s.id = t.session_id \
             JOIN xcore_users u ON u.id = s.user_id WHERE t.hash = $1",
        )
        .bind(&hash)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((
            session,
            used,
            expires_at,
            revoked,
            user,
            email,
            session_ends,
            epoch,
            current_epoch,
            version,
        )) = row
        else {
            return Ok(Err(RefreshRefused::Invalid));
        };
        if used != 0 {
            return Ok(Err(RefreshRefused::Reused { user, session }));
        }
        // Sessions last a fixed time from login; refreshing does not extend them.
        if revoked != 0 || epoch < current_epoch || expires_at.min(session_ends) <= clock::now() {
            return Ok(Err(RefreshRefused::Invalid));
        }
        // Counted before the token is spent, so a refused refresh keeps it.
        if let Some(limiter) = per_session {
            let decision = limiter.check(&session).await.map_err(|err| {
                tracing::warn!(error = %err, "refresh limit unavailable: refused");
                Error::Unavailable("rate limits unavailable".into())
            })?;
            if !decision.allowed {
                return Ok(Err(RefreshRefused::Limited(decision.retry_after)));
            }
        }
        let marked =
            sqlx::query("UPDATE xcore_refresh_tokens SET used = 1 WHERE hash = $1 AND used = 0")
                .bind(&hash)
                .execute(self.db.pool())
                .await?;
        if marked.rows_affected() == 0 {
            // Lost a race with another use of the same token: that is reuse too.
            return Ok(Err(RefreshRefused::Reused { user, session }));
        }
        Ok(Ok(Refreshed {
            session,
            user,
            email,
            version,
        }))
    }

    /// The live sessions of `user`, newest first.
    pub async fn live_of(&self, user: i64) -> Result<Vec<LiveSession>, Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT s.id, s.created_at, s.expires_at \
             FROM xcore_sessions s JOIN xcore_users u ON u.id = s.user_id \
             WHERE s.user_id = $1 AND s.revoked = 0 AND s.expires_at > $2 \
             AND s.epoch >= u.session_epoch \
             ORDER BY s.created_at DESC, s.id",
        )
        .bind(user)
        .bind(clock::now())
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, created_at, expires_at)| LiveSession {
                id,
                created_at,
                expires_at,
            })
            .collect())
    }

    /// Ends one session on `conn`, and bumps the user's version so its
    /// tokens are re-checked: `false` when the user has no such session.
    pub(crate) async fn end_in(
        conn: &mut AnyConnection,
        user: i64,
        session: &str,
    ) -> Result<bool, Error> {
        let ended =
            sqlx::query("UPDATE xcore_sessions SET revoked = 1 WHERE id = $1 AND user_id = $2")
                .bind(session)
                .bind(user)
                .execute(&mut *conn)
                .await?;
        Versions::bump_in(conn, &[user]).await?;
        Ok(ended.rows_affected() == 1)
    }

    /// Ends every session of `user` but `keep` on `conn`: raises the user's
    /// epoch (so a session opened by a login already past its checks is
    /// dead too) and version; `keep` moves to the new epoch.
    pub(crate) async fn end_all_in(
        conn: &mut AnyConnection,
        user: i64,
        keep: Option<&str>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE xcore_users SET session_epoch = session_epoch + 1, \
             auth_version = auth_version + 1 WHERE id = $1",
        )
        .bind(user)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE xcore_sessions SET revoked = 1 WHERE user_id = $1 AND id <> $2")
            .bind(user)
            .bind(keep.unwrap_or(""))
            .execute(&mut *conn)
            .await?;
        if let Some(keep) = keep {
            sqlx::query(
                "UPDATE xcore_sessions SET epoch = \
                 (SELECT session_epoch FROM xcore_users WHERE id = $1) \
                 WHERE id = $2 AND user_id = $1",
            )
            .bind(user)
            .bind(keep)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Whether `session` of `user` is live, and the user's current
    /// authorisation version; `Err(Invalid)` when it is not.
    pub(crate) async fn live(&self, user: i64, session: &str) -> Result<i64, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::Invalid);
        let row: Option<(i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT u.auth_version, s.revoked, s.expires_at, s.epoch, u.session_epoch \
             FROM xcore_users u JOIN xcore_sessions s ON s.user_id = u.id \
             WHERE u.id = $1 AND s.id = $2",
        )
        .bind(user)
        .bind(session)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((version, revoked, expires_at, epoch, current_epoch)) = row else {
            return Err(invalid());
        };
        if revoked != 0 || epoch < current_epoch || expires_at <= clock::now() {
            return Err(invalid());
        }
        Ok(version)
    }
}
