//! API keys (`xcore_api_keys`): long-lived credentials for programs, sent
//! as `Authorization: Bearer xk_…` or `X-API-Key: xk_…`.
//!
//! A key is `xk_<id>_<secret>`: the id finds the row, the SHA-256 hash of
//! the whole key is compared with the stored one, and the key in clear exists
//! only in the answer that created it. A key acts for its owner with at
//! most the owner's rights, read at every request: the owner's roles and
//! permissions as they are now, or — for a key created with a list of
//! permissions — those of the list the owner still holds, and no role.
//! Revoking a key deletes its row, so the next request with it fails on
//! every instance.
//!
//! Creating a key takes the owner's password, and a current authenticator
//! code when TOTP is on: a stolen access token alone cannot mint a
//! credential that outlives it. Every key has a lifetime unless the
//! configuration allows none (`auth.api_key_default_days`,
//! `auth.api_key_max_days`). A key's last use (to the minute, and the
//! client address) is shown to its owner; a use from another address than
//! the last one recorded leaves an `api_key_used` audit record.

use std::net::IpAddr;

use serde::Serialize;
use sqlx::AnyConnection;

use serde_json::json;

use super::access::Access;
use super::audit::Audit;
use super::write::Change;
use super::{Accounts, Actor, Event};
use crate::clock;
use crate::db::Db;
use crate::error::{AuthFailure, Error};
use crate::security::{random_token, sha256_hex};

/// What starts every key, so that a key is told from a JWT at a glance
/// (and by secret scanners).
pub(crate) const KEY_PREFIX: &str = "xk_";

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct ApiKey {
    /// The key's id (the part after `xk_`), for `DELETE /auth/api-keys/{id}`.
    pub id: String,
    /// What the owner named it.
    pub name: String,
    /// The permissions it is limited to; `null`: its owner's roles and
    /// permissions.
    pub permissions: Option<Vec<String>>,
    /// Created at (seconds since the Unix epoch).
    pub created_at: i64,
    /// Expires at, if it does.
    pub expires_at: Option<i64>,
    /// Last used at (to the minute), if ever.
    pub last_used_at: Option<i64>,
    /// The client address of that use.
    pub last_used_from: Option<String>,
}

/// A key just created: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NewApiKey {
    /// The whole key, `xk_…`: store it now, it is not shown again.
    pub key: String,
    /// The key as listed.
    #[serde(flatten)]
    pub info: ApiKey,
}

/// What a key stands for on one request.
pub(crate) struct KeyHolder {
    pub(crate) id: String,
    pub(crate) user: i64,
    pub(crate) email: String,
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
    /// Created with a list of permissions: it reaches only routes whose
    /// guard names one of them.
    pub(crate) scoped: bool,
}

/// The API keys table.
#[derive(Clone)]
pub struct ApiKeys {
    db: Db,
    access: Access,
    lifetimes: Lifetimes,
}

/// How long new keys work: `auth.api_key_default_days` and
/// `auth.api_key_max_days` (0: none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub(crate) default_days: u32,
    pub(crate) max_days: u32,
}

impl Lifetimes {
    /// The days a new key works, given those its creator `asked` for:
    /// `None` for a key that works until revoked (only with neither a
    /// default nor a maximum), a 422 for 0 or more than the maximum.
    fn days(self, asked: Option<u32>) -> Result<Option<u32>, Error> {
        let out_of_range =
            |message: String| Err(Error::invalid_field("expires_in_days", "range", message));
        match (asked, self.default_days, self.max_days) {
            (Some(0), _, _) => out_of_range("must be at least 1".into()),
            (Some(days), _, max) if max > 0 && days > max => {
                out_of_range(format!("must be at most {max}"))
            }
            (Some(days), _, _) => Ok(Some(days)),
            (None, 0, 0) => Ok(None),
            (None, 0, max) => Ok(Some(max)),
            (None, default, 0) => Ok(Some(default)),
            (None, default, max) => Ok(Some(default.min(max))),
        }
    }
}

/// Seconds between two records of a key's last use: one write a minute at
/// most, however busy the key.
const LAST_USE_RESOLUTION: i64 = 60;

type Row = (
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn listed(
    (id, name, permissions, created_at, expires_at, last_used_at, last_used_from): Row,
) -> ApiKey {
    ApiKey {
        id,
        name,
        permissions: permissions.and_then(|p| serde_json::from_str(&p).ok()),
        created_at,
        expires_at,
        last_used_at,
        last_used_from,
    }
}

impl ApiKeys {
    pub(crate) fn new(db: Db, access: Access, lifetimes: Lifetimes) -> Self {
        ApiKeys {
            db,
            access,
            lifetimes,
        }
    }

    /// Creates a key for `user` on `conn` (the audit record's
    /// transaction). `permissions`, when given, must be held by the user
    /// (422 otherwise); the lifetime follows [`Lifetimes`].
    pub(crate) async fn create_in(
        &self,
        conn: &mut AnyConnection,
        user: i64,
        name: &str,
        permissions: Option<Vec<String>>,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiKey, Error> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::Validation(
                "`name` must have 1 to 100 characters".into(),
            ));
        }
        if let Some(wanted) = &permissions {
            let (_, held) = self.access.of(user).await?;
            if let Some(missing) = wanted.iter().find(|p| !held.contains(p)) {
                return Err(Error::Validation(format!(
                    "a key carries at most its owner's permissions, and you do not hold `{missing}`"
                )));
            }
        }
        let expires_at = self
            .lifetimes
            .days(expires_in_days)?
            .map(|days| clock::now() + i64::from(days) * 86_400);
        let id = random_token()[..16].to_owned();
        let key = format!("{KEY_PREFIX}{id}_{}", random_token());
        let now = clock::now();
        let stored = permissions
            .as_ref()
            .map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()));
        sqlx::query(
            "INSERT INTO xcore_api_keys (id, user_id, name, hash, permissions, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(user)
        .bind(name)
        .bind(sha256_hex(&key))
        .bind(stored)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
        Ok(NewApiKey {
            key,
            info: ApiKey {
                id,
                name: name.to_owned(),
                permissions,
                created_at: now,
                expires_at,
                last_used_at: None,
                last_used_from: None,
            },
        })
    }

    /// The keys of `user`, newest first.
    pub async fn list(&self, user: i64) -> Result<Vec<ApiKey>, Error> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, permissions, created_at, expires_at, last_used_at, last_used_from \
             FROM xcore_api_keys WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(user)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(listed).collect())
    }

    /// Deletes `user`'s key `id` on `conn`: `false` when there is none.
    pub(crate) async fn revoke_in(
        conn: &mut AnyConnection,
        user: i64,
        id: &str,
    ) -> Result<bool, Error> {
        let deleted = sqlx::query("DELETE FROM xcore_api_keys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(conn)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// Deletes every key of `user` on `conn` (a reset, a second-factor
    /// reset, and — with `auth.revoke_api_keys_with_sessions` — logging out
    /// everywhere and a password change): the next request with any of
    /// them is a 401 on every instance.
    pub(crate) async fn revoke_all_in(conn: &mut AnyConnection, user: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM xcore_api_keys WHERE user_id = $1")
            .bind(user)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Who `key`, sent from `from`, acts for now, with what rights: 401
    /// for an unknown, revoked, expired or mistyped key (all alike).
    pub(crate) async fn holder(&self, key: &str, from: IpAddr) -> Result<KeyHolder, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::Invalid);
        let id = key
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
            .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(invalid)?;
        type Found = (
            i64,
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            String,
        );
        let found: Option<Found> = sqlx::query_as(
            "SELECT k.user_id, k.hash, k.permissions, k.expires_at, k.last_used_at, \
             k.last_used_from, u.email \
             FROM xcore_api_keys k JOIN xcore_users u ON u.id = k.user_id WHERE k.id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        let (user, hash, limited_to, expires_at, last_used_at, last_used_from, email) =
            found.ok_or_else(invalid)?;
        // Hashes compared, not secrets: how long the comparison takes tells
        // nothing about a key (as for refresh tokens, found by hash).
        if sha256_hex(key) != hash {
            return Err(invalid());
        }
        let now = clock::now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(invalid());
        }
        let (roles, permissions) = self.access.of(user).await?;
        let limited_to = limited_to.map(|p| serde_json::from_str::<Vec<String>>(&p).ok());
        // A list that no longer reads as one limits the key to nothing.
        let scoped = limited_to.is_some();
        let (roles, permissions) = match limited_to.map(Option::unwrap_or_default) {
            None => (roles, permissions),
            Some(limited) => (
                Vec::new(),
                limited
                    .into_iter()
                    .filter(|p| permissions.contains(p))
                    .collect(),
            ),
        };
        if last_used_at.is_none_or(|at| at + LAST_USE_RESOLUTION <= now) {
            let moved = last_used_from.as_deref() != Some(from.to_string().as_str());
            if let Err(err) = self.record_use(id, user, now, from, moved).await {
                tracing::warn!(error = %err, "API key use not recorded");
            }
        }
        Ok(KeyHolder {
            id: id.to_owned(),
            user,
            email,
            roles,
            permissions,
            scoped,
        })
    }
}

impl ApiKeys {
    /// Records that key `id` of `user` was used at `now` from `from`, and,
    /// when the address `moved` since the last record, an `api_key_used`
    /// audit record in the same transaction. The update is conditional, so
    /// that of many requests at once one writes (and one audits).
    async fn record_use(
        &self,
        id: &str,
        user: i64,
        now: i64,
        from: IpAddr,
        moved: bool,
    ) -> Result<(), Error> {
        let mut tx = self.db.pool().begin().await?;
        let recorded = sqlx::query(
            "UPDATE xcore_api_keys SET last_used_at = $1, last_used_from = $2 WHERE id = $3 \
             AND (last_used_at IS NULL OR last_used_at <= $4)",
        )
        .bind(now)
        .bind(from.to_string())
        .bind(id)
        .bind(now - LAST_USE_RESOLUTION)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 1 && moved {
            Audit::record(
                &mut tx,
                Event::ApiKeyUsed,
                Actor::user(user).from_address(from),
                Some(user),
                json!({"key": id}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The flows of a user's keys, audited.
impl Accounts {
    /// Creates an API key for `user` (audited), given their `password`
    /// and, when TOTP is on, the authenticator's current `code`: 403 for a
    /// wrong password, 400 for a wrong code, 422 for a missing one (wrong
    /// ones are counted, as for every change of the account); see
    /// [`ApiKeys`] for the name, the permissions and the lifetime.
    pub async fn create_api_key(
        &self,
        user: i64,
        password: &str,
        code: Option<&str>,
        name: &str,
        permissions: Option<Vec<String>>,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiKey, Error> {
        let attempt = self.confirm_password(user, password, "api_key").await?;
        if self.two_factor.enabled(user).await? {
            let Some(code) = code else {
                // The right password was given: not a failure.
                self.checks.clear(&attempt).await?;
                return Err(Error::invalid_field(
                    "code",
                    "required",
                    "two-factor authentication is on: give the authenticator's current code",
                ));
            };
            if !self.two_factor.accept(user, code, true).await? {
                return Err(self.wrong_code(user, "api_key").await);
            }
        }
        let change = Change::new(Event::ApiKeyCreated, self.as_user(user)).about(user);
        let created = self
            .writes
            .run(change, async |tx, change| {
                let created = self
                    .api_keys
                    .create_in(tx, user, name, permissions, expires_in_days)
                    .await?;
                change.detail = json!({"key": created.info.id, "name": created.info.name});
                Ok(created)
            })
            .await?;
        self.checks.clear(&attempt).await?;
        Ok(created)
    }

    /// Revokes `user`'s key `id` (audited, with whoever acts: the user, or
    /// an administrator): it fails on the next request, on every instance.
    /// 404 when the user has no such key.
    pub async fn revoke_api_key(&self, user: i64, id: &str) -> Result<(), Error> {
        let change = Change::new(Event::ApiKeyRevoked, self.acting_on(user))
            .about(user)
            .detail(json!({"key": id}));
        self.writes
            .run(change, async |tx, _| {
                if !ApiKeys::revoke_in(tx, user, id).await? {
                    return Err(Error::NotFound("no such API key".into()));
                }
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::Lifetimes;

    #[test]
    fn a_key_lives_the_default_at_most_the_maximum_and_forever_only_without_both() {
        let days = |default_days, max_days, asked| {
            Lifetimes {
                default_days,
                max_days,
            }
            .days(asked)
            .ok()
        };
        assert_eq!(days(90, 365, None), Some(Some(90)));
        assert_eq!(days(90, 365, Some(365)), Some(Some(365)));
        assert_eq!(days(90, 365, Some(366)), None);
        assert_eq!(days(90, 365, Some(0)), None);
        assert_eq!(days(400, 365, None), Some(Some(365)), "the default capped");
        assert_eq!(days(0, 30, None), Some(Some(30)));
        assert_eq!(days(7, 0, None), Some(Some(7)));
        assert_eq!(days(7, 0, Some(100_000)), Some(Some(100_000)));
        assert_eq!(days(0, 0, None), Some(None), "until revoked");
    }
}
