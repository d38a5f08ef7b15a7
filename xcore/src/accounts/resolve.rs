//! From verified claims to the claims a guard judges: tokens of a session are
//! checked against revocations and role changes, cheaply when nothing changed.

use serde::{Deserialize, Serialize};

use super::Accounts;
use crate::error::{AuthFailure, Error};
use crate::security::Claims;

/// Roles and permissions of a session at one authorisation version,
/// remembered so stale-but-valid tokens do not query the database each time.
#[derive(Serialize, Deserialize)]
struct Remembered {
    roles: Vec<String>,
    permissions: Vec<String>,
}

impl Accounts {
    /// The claims of a verified token as they stand now: a session's token
    /// is refused once the session ended, and carries the user's current
    /// roles and permissions when they changed since it was issued.
    /// Tokens minted by the application itself (no session) are trusted as
    /// issued. Fails closed (503) when the cache cannot be read.
    pub(crate) async fn resolve(&self, mut claims: Claims) -> Result<Claims, Error> {
        let (Some(session), Some(version)) = (claims.sid.clone(), claims.ver) else {
            return Ok(claims);
        };
        let user: i64 = claims
            .sub
            .parse()
            .map_err(|_| Error::Unauthorized(AuthFailure::Invalid))?;
        let versions = &self.versions;
        let current = match versions.cached(user).await {
            Ok(current) => current,
            Err(err) => {
                // Revocations live there: never guess, fail closed.
                tracing::warn!(error = %err, "authorisation state unavailable");
                return Err(Error::Unavailable("authorisation state unavailable".into()));
            }
        };
        if current == Some(version) {
            return Ok(claims);
        }
        if let Some(current) = current
            && let Ok(Some(access)) = versions
                .cached_access::<Remembered>(&session, current)
                .await
        {
            claims.roles = access.roles;
            claims.permissions = access.permissions;
            return Ok(claims);
        }

        // Something changed, or the cache forgot: the database decides.
        let latest = self.sessions.live(user, &session).await?;
        let _ = versions.remember(user, latest).await;
        if latest != version {
            let (roles, permissions) = self.access.of(user).await?;
            let access = Remembered { roles, permissions };
            let _ = versions.remember_access(&session, latest, &access).await;
            claims.roles = access.roles;
            claims.permissions = access.permissions;
        }
        Ok(claims)
    }
}
