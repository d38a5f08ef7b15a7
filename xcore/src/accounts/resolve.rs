//! From verified claims to the claims a guard judges: tokens of a session are
//! checked against revocations and role changes, cheaply when nothing changed.

use std::sync::Arc;

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
    /// The claims of a bearer token as they stand now: the token verified
    /// (once: [`VerifiedTokens`](crate::security::VerifiedTokens)), then
    /// [`Accounts::resolve`]d.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Arc<Claims>, Error> {
        let claims = self.tokens.verify(token).map_err(Error::Unauthorized)?;
        self.resolve(claims).await
    }

    /// [`Accounts::authenticate`] when it needs no waiting, as on most
    /// requests: the token verified, and the user's version, read from the
    /// in-process cache (or Redis' in-process tier), the token's. `None`:
    /// ask [`Accounts::authenticate`].
    pub(crate) fn authenticate_now(&self, token: &str) -> Option<Result<Arc<Claims>, Error>> {
        let claims = match self.tokens.verify(token) {
            Ok(claims) => claims,
            Err(failure) => return Some(Err(Error::Unauthorized(failure))),
        };
        let (Some(_), Some(version)) = (&claims.sid, claims.ver) else {
            return Some(Ok(claims));
        };
        let Ok(user) = claims.sub.parse::<i64>() else {
            return Some(Err(Error::Unauthorized(AuthFailure::Invalid)));
        };
        match self.versions.cached_now(user)? {
            Ok(Some(current)) if current == version => Some(Ok(claims)),
            // Changed, unknown or unreadable: the full path decides.
            _ => None,
        }
    }

    /// The claims of a verified token as they stand now: a session's token
    /// is refused once the session ended, and carries the user's current
    /// roles and permissions when they changed since it was issued.
    /// Tokens minted by the application itself (no session) are trusted as
    /// issued. Fails closed (503) when the cache cannot be read.
    pub(crate) async fn resolve(&self, claims: Arc<Claims>) -> Result<Arc<Claims>, Error> {
        let (Some(session), Some(version)) = (&claims.sid, claims.ver) else {
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
        let with_access = |access: Remembered| {
            let mut changed = Claims::clone(&claims);
            changed.roles = access.roles;
            changed.permissions = access.permissions;
            Arc::new(changed)
        };
        if let Some(current) = current
            && let Ok(Some(access)) = versions.cached_access::<Remembered>(session, current).await
        {
            return Ok(with_access(access));
        }

        // Something changed, or the cache forgot: the database decides.
        let latest = self.sessions.live(user, session).await?;
        let _ = versions.remember(user, latest).await;
        if latest == version {
            return Ok(claims);
        }
        let (roles, permissions) = self.access.of(user).await?;
        let access = Remembered { roles, permissions };
        let _ = versions.remember_access(session, latest, &access).await;
        Ok(with_access(access))
    }
}
