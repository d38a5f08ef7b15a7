//! From verified claims to the user a guard judges: tokens of a session are
//! checked against revocations and role changes, cheaply when nothing changed.

use serde::{Deserialize, Serialize};

use super::store::{VERSION_TTL_SECS, now};
use crate::auth::CurrentUser;
use crate::error::{AuthFailure, Error};
use crate::security::Claims;
use crate::state::AppState;

/// Roles and permissions of a session at one authorisation version,
/// remembered so stale-but-valid tokens do not query the database each time.
#[derive(Serialize, Deserialize)]
struct Access {
    roles: Vec<String>,
    permissions: Vec<String>,
}

/// Seconds a resolved session stays remembered.
const MEMO_SECS: u64 = 60;

pub(crate) async fn resolve(state: &AppState, mut claims: Claims) -> Result<CurrentUser, Error> {
    // Tokens minted by the application itself (no session) are trusted as issued.
    let (Some(session), Some(version)) = (claims.sid.clone(), claims.ver) else {
        return Ok(CurrentUser::from_claims(claims));
    };
    let invalid = || Error::Unauthorized(AuthFailure::Invalid);
    let user: i64 = claims.sub.parse().map_err(|_| invalid())?;
    let accounts = state.accounts();
    let cache = accounts.cache();
    let current = match cache.get(&format!("ver:{user}")).await {
        Ok(value) => value.and_then(|v| v.parse::<i64>().ok()),
        Err(err) => {
            // Revocations live there: never guess, fail closed.
            tracing::warn!(error = %err, "authorisation state unavailable");
            return Err(Error::Unavailable("authorisation state unavailable".into()));
        }
    };
    if current == Some(version) {
        return Ok(CurrentUser::from_claims(claims));
    }
    if let Some(current) = current
        && let Ok(Some(access)) = cache
            .get_json::<Access>(&format!("session:{session}:{current}"))
            .await
    {
        claims.roles = access.roles;
        claims.permissions = access.permissions;
        return Ok(CurrentUser::from_claims(claims));
    }

    // Something changed, or the cache forgot: the database decides.
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT u.auth_version, s.revoked, s.expires_at FROM xcore_users u \
         JOIN xcore_sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.id = $2",
    )
    .bind(user)
    .bind(&session)
    .fetch_optional(accounts.db().pool())
    .await?;
    let Some((latest, revoked, expires_at)) = row else {
        return Err(invalid());
    };
    if revoked != 0 || expires_at <= now() {
        return Err(invalid());
    }
    let _ = cache
        .set(
            &format!("ver:{user}"),
            &latest.to_string(),
            VERSION_TTL_SECS,
        )
        .await;
    if latest != version {
        let (roles, permissions) = accounts.access_of(user).await?;
        let access = Access { roles, permissions };
        let _ = cache
            .set_json(&format!("session:{session}:{latest}"), &access, MEMO_SECS)
            .await;
        claims.roles = access.roles;
        claims.permissions = access.permissions;
    }
    Ok(CurrentUser::from_claims(claims))
}
