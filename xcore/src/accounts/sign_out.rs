//! Signing out: one session, or every one of a user's.

use super::write::Change;
use super::{Accounts, ApiKeys, Event, Sessions};
use crate::error::Error;

impl Accounts {
    /// Ends one session: its tokens stop working on the next request.
    pub async fn revoke_session(&self, user: i64, session: &str) -> Result<(), Error> {
        let change = Change::new(Event::SessionEnded, self.as_user(user)).changes(user);
        self.writes
            .run(change, async |tx, _| {
                Sessions::end_in(tx, user, session).await
            })
            .await
    }

    /// Ends every session of a user, or every one but `keep`, and (with
    /// `auth.revoke_api_keys_with_sessions`, the default) every API key; a
    /// login that was already past its checks cannot open one after it.
    pub async fn revoke_sessions(&self, user: i64, keep: Option<&str>) -> Result<(), Error> {
        let actor = self
            .actor
            .user
            .map_or_else(|| self.as_user(user), |_| self.actor);
        let change = Change::new(Event::SessionsEnded, actor).changes(user);
        self.writes
            .run(change, async |tx, _| {
                if self.keys_end_with_sessions {
                    ApiKeys::revoke_all_in(tx, user).await?;
                }
                Sessions::end_all_in(tx, user, keep).await
            })
            .await
    }
}
