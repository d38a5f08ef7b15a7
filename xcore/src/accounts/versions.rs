//! Authorisation versions: one number per user (`xcore_users.auth_version`)
//! that every change to their sessions or access increments, mirrored in
//! the shared cache so guards compare it without the database.

use sqlx::AnyConnection;

use crate::cache::{Cache, CacheError};
use crate::db::Db;
use crate::error::{AuthFailure, Error};

/// Lifetime of a user's version in the cache, in seconds: how long a
/// version written before a cache outage can outlive it.
pub(crate) const VERSION_TTL_SECS: u64 = 60;

/// Lifetime of the roles and permissions remembered for a session at one
/// version, in seconds.
const ACCESS_TTL_SECS: u64 = 60;

/// The versions of users' authorisation state.
#[derive(Clone)]
pub(crate) struct Versions {
    db: Db,
    cache: Cache,
}

/// The one spelling of a user's version key.
fn key(user: i64) -> String {
    format!("ver:{user}")
}

/// Roles and permissions of a session at one version.
fn access_key(session: &str, version: i64) -> String {
    format!("session:{session}:{version}")
}

impl Versions {
    pub(crate) fn new(db: Db, cache: Cache) -> Self {
        Versions { db, cache }
    }

    /// The user's version, from the database.
    pub(crate) async fn current(&self, user: i64) -> Result<i64, Error> {
        let (version,): (i64,) =
            sqlx::query_as("SELECT auth_version FROM xcore_users WHERE id = $1")
                .bind(user)
                .fetch_optional(self.db.pool())
                .await?
                .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        Ok(version)
    }

    /// The user's version as the cache knows it (`None`: not cached).
    pub(crate) async fn cached(&self, user: i64) -> Result<Option<i64>, CacheError> {
        Ok(self
            .cache
            .get(&key(user))
            .await?
            .and_then(|v| v.parse::<i64>().ok()))
    }

    /// Writes the user's version to the cache, unless it holds a newer
    /// one: a slow reader never puts back a version a revocation replaced.
    pub(crate) async fn remember(&self, user: i64, version: i64) -> Result<(), CacheError> {
        self.cache
            .set_max(&key(user), version, VERSION_TTL_SECS)
            .await
    }

    /// The roles and permissions remembered for `session` at `version`.
    pub(crate) async fn cached_access<T: serde::de::DeserializeOwned>(
        &self,
        session: &str,
        version: i64,
    ) -> Result<Option<T>, CacheError> {
        self.cache.get_json(&access_key(session, version)).await
    }

    /// Remembers the roles and permissions of `session` at `version`.
    pub(crate) async fn remember_access<T: serde::Serialize>(
        &self,
        session: &str,
        version: i64,
        access: &T,
    ) -> Result<(), CacheError> {
        self.cache
            .set_json(&access_key(session, version), access, ACCESS_TTL_SECS)
            .await
    }

    /// Increments the users' versions on `conn` (inside the caller's
    /// transaction); [`Versions::publish`] them once it commits.
    pub(crate) async fn bump_in(conn: &mut AnyConnection, users: &[i64]) -> Result<(), Error> {
        for &user in users {
            sqlx::query("UPDATE xcore_users SET auth_version = auth_version + 1 WHERE id = $1")
                .bind(user)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Writes the users' current versions to the cache, so every
    /// outstanding token of theirs is re-checked on its next request.
    ///
    /// If the cache cannot be written the change is still saved (the
    /// database is the reference) and the call fails with a 503: guards fail
    /// closed while the cache is down, and a cached version lives at most
    /// `VERSION_TTL_SECS`, so the change holds everywhere within that time
    /// of the cache's return.
    pub(crate) async fn publish(&self, users: &[i64]) -> Result<(), Error> {
        for &user in users {
            let version = self.current(user).await?;
            self.remember(user, version).await?;
        }
        Ok(())
    }
}
