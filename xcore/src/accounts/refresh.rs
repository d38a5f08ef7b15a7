//! Refreshing: a refresh token exchanged for a new pair, once; a token
//! used twice ends its session.

use std::sync::Arc;

use super::sessions::RefreshRefused;
use super::throttle::too_many;
use super::write::Change;
use super::{Accounts, Event, Sessions, TokenPair};
use crate::cache::Cache;
use crate::config::Config;
use crate::error::{AuthFailure, Error};
use crate::rate_limit::{Limiter, RateLimit};

impl Accounts {
    /// Exchanges a refresh token for a new pair. A token used twice revokes
    /// its whole session (someone else holds a copy).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        let limit = self.refresh_limit.as_deref();
        match self
            .sessions
            .use_refresh_token(refresh_token, limit)
            .await?
        {
            Ok(refreshed) => {
                self.issue(
                    refreshed.user,
                    &refreshed.email,
                    &refreshed.session,
                    refreshed.version,
                )
                .await
            }
            Err(RefreshRefused::Reused { user, session }) => {
                tracing::warn!(user, "refresh token reused: session revoked");
                let change = Change::new(Event::RefreshReused, self.actor).changes(user);
                self.writes
                    .run(change, async |tx, _| {
                        Sessions::end_in(tx, user, &session).await.map(drop)
                    })
                    .await?;
                Err(Error::Unauthorized(AuthFailure::Invalid))
            }
            Err(RefreshRefused::Invalid) => Err(Error::Unauthorized(AuthFailure::Invalid)),
            Err(RefreshRefused::Limited(retry_after)) => Err(too_many(retry_after)),
        }
    }
}

/// Refreshes allowed per session: 10 a minute, or `rate_limit.builtin_default`.
pub(super) fn refresh_limit(config: &Config, cache: &Cache) -> Option<Arc<Limiter>> {
    let settings = &config.rate_limit;
    if !settings.builtin {
        return None;
    }
    let limit = settings
        .builtin_default
        .as_deref()
        .and_then(|spec| RateLimit::parse(spec).ok())
        .unwrap_or_else(|| RateLimit::new(10, 60));
    Some(Limiter::new(
        limit.count(),
        limit.period(),
        &cache.scoped("refresh-per-session"),
    ))
}
