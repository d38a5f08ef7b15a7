//! Authorisation versions: one number per user (`xcore_users.auth_version`)
//! that every change to their sessions or access increments, mirrored in
//! the shared cache so guards compare it without the database.
//!
//! A cached version is trusted only while it cannot be older than the
//! database's. After Redis lost a connection and answers again (a restart,
//! or a failover to a replica that may have missed the last writes and
//! brings an older version back), a user's cached version is not trusted
//! until it has been read from the database and written back (which
//! raises any older value) in that generation; this lasts as long as a
//! value written before the loss can live, [`VERSION_TTL_SECS`]. See
//! `cache/continuity.rs`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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

/// Lifetime of a user's profile (`User`) remembered at one version, in
/// seconds.
const PROFILE_TTL_SECS: u64 = 60;

/// Users checked against the database since Redis came back, at most
/// this many (others are checked on each request until the window ends):
/// a bound on memory whatever the number of users.
const MAX_CONFIRMED: usize = 100_000;

/// The versions of users' authorisation state.
#[derive(Clone)]
pub(crate) struct Versions {
    db: Db,
    cache: Cache,
    confirmed: Arc<Mutex<Confirmed>>,
}

/// The users whose cached version is known good in one generation of the
/// Redis connection.
#[derive(Default)]
struct Confirmed {
    generation: u64,
    users: HashSet<i64>,
}

/// The one spelling of a user's version key.
fn key(user: i64) -> String {
    let mut digits = itoa_buffer();
    key_on_stack(user, &mut digits).to_owned()
}

/// Room for `ver:` and any `i64`.
fn itoa_buffer() -> [u8; 24] {
    [0; 24]
}

/// [`key`] written into `buffer`, for the lookups of every guarded request.
fn key_on_stack(user: i64, buffer: &mut [u8; 24]) -> &str {
    buffer[..4].copy_from_slice(b"ver:");
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = user.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut len = 4;
    if user < 0 {
        buffer[len] = b'-';
        len += 1;
    }
    let count = digits.len() - at;
    buffer[len..len + count].copy_from_slice(&digits[at..]);
    len += count;
    std::str::from_utf8(&buffer[..len]).unwrap_or("ver:?")
}

/// Roles and permissions of a session at one version.
fn access_key(session: &str, version: i64) -> String {
    format!("session:{session}:{version}")
}

/// A user's profile at one version.
fn profile_key(user: i64, version: i64) -> String {
    format!("user:{user}:{version}")
}

impl Versions {
    pub(crate) fn new(db: Db, cache: Cache) -> Self {
        Versions {
            db,
            cache,
            confirmed: Arc::default(),
        }
    }

    /// The generation of Redis' return while its values may be older than
    /// the database's (see the module's documentation).
    fn unsettled(&self) -> Option<u64> {
        self.cache.unsettled(VERSION_TTL_SECS as i64)
    }

    /// Whether the cached version of `user` may be believed: always, but
    /// for a while after Redis came back, when only those read from the
    /// database since are.
    fn trusts_cache(&self, user: i64) -> bool {
        let Some(generation) = self.unsettled() else {
            return true;
        };
        let confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        confirmed.generation == generation && confirmed.users.contains(&user)
    }

    /// The version of `user` written to the cache in `generation` came
    /// from the database: the cached one is at least as new.
    fn confirm(&self, user: i64, generation: Option<u64>) {
        let Some(generation) = generation else {
            return;
        };
        let mut confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        if confirmed.generation < generation {
            *confirmed = Confirmed {
                generation,
                users: HashSet::new(),
            };
        }
        if confirmed.generation == generation && confirmed.users.len() < MAX_CONFIRMED {
            confirmed.users.insert(user);
        }
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

    /// [`Versions::cached`] without waiting, when the cache holds it in
    /// process: `None` when only Redis can tell.
    pub(crate) fn cached_now(&self, user: i64) -> Option<Result<Option<i64>, CacheError>> {
        let mut digits = itoa_buffer();
        let key = key_on_stack(user, &mut digits);
        let value = self.cache.get_now(key)?;
        // Judged after the read, which is what tells of a return.
        if !self.trusts_cache(user) {
            return None;
        }
        Some(value.map(|bytes| {
            bytes.and_then(|bytes| std::str::from_utf8(&bytes).ok()?.parse::<i64>().ok())
        }))
    }

    /// The user's version as the cache knows it (`None`: not cached, or
    /// not to be believed yet after Redis came back).
    pub(crate) async fn cached(&self, user: i64) -> Result<Option<i64>, CacheError> {
        let value = self.cache.get(&key(user)).await?;
        // Judged after the read: the first answer after a lost connection
        // is what starts a generation.
        if !self.trusts_cache(user) {
            return Ok(None);
        }
        Ok(value.and_then(|v| v.parse::<i64>().ok()))
    }

    /// Writes the user's version, just read from the database, to the
    /// cache, unless it holds a newer one: a slow reader never puts back a
    /// version a revocation replaced, and an older one (Redis came back
    /// with it) is raised.
    pub(crate) async fn remember(&self, user: i64, version: i64) -> Result<(), CacheError> {
        // Noted before the write: a return during it starts a generation
        // this write does not vouch for.
        let generation = self.unsettled();
        self.cache
            .set_max(&key(user), version, VERSION_TTL_SECS)
            .await?;
        self.confirm(user, generation);
        Ok(())
    }

    /// The user's version: as cached, else from the database (then cached);
    /// 404 for an unknown user. With the cache down, the database's.
    pub(crate) async fn latest(&self, user: i64) -> Result<i64, Error> {
        if let Ok(Some(version)) = self.cached(user).await {
            return Ok(version);
        }
        let version = self.current(user).await.map_err(|err| match err {
            Error::Unauthorized(_) => Error::NotFound(format!("user {user} does not exist")),
            other => other,
        })?;
        let _ = self.remember(user, version).await;
        Ok(version)
    }

    /// The profile remembered for `user` at `version`.
    pub(crate) async fn cached_profile<T: serde::de::DeserializeOwned>(
        &self,
        user: i64,
        version: i64,
    ) -> Result<Option<T>, CacheError> {
        self.cache.get_json(&profile_key(user, version)).await
    }

    /// Remembers the profile of `user` at `version`.
    pub(crate) async fn remember_profile<T: serde::Serialize>(
        &self,
        user: i64,
        version: i64,
        profile: &T,
    ) -> Result<(), CacheError> {
        self.cache
            .set_json(&profile_key(user, version), profile, PROFILE_TTL_SECS)
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

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_spelled_once_whatever_the_id() {
        for user in [0, 7, 42, -3, i64::MAX, i64::MIN] {
            assert_eq!(super::key(user), format!("ver:{user}"));
        }
    }
}
