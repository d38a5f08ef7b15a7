//! Signing out: one session, or every one of a user's.

use super::write::Change;
use super::{Accounts, ApiKeys, Event, Sessions};
use crate::error::Error;

impl Accounts {
    /// Ends one session of `user` (audited, with whoever acts: the user,
    /// or an administrator): its tokens stop working on the next request.
    /// 404 when the user has no such session.
    pub async fn revoke_session(&self, user: i64, session: &str) -> Result<(), Error> {
        let change = Change::new(Event::SessionEnded, self.acting_on(user))
            .changes(user)
            .detail(serde_json::json!({"session": session}));
        self.writes
            .run(change, async |tx, _| {
                if !Sessions::end_in(tx, user, session).await? {
                    return Err(Error::NotFound("no such session".into()));
                }
                Ok(())
            })
            .await
    }

    /// Ends every session of a user, or every one but `keep`, and (with
    /// `auth.revoke_api_keys_with_sessions`, the default) every API key; a
    /// login that was already past its checks cannot open one after it.
    pub async fn revoke_sessions(&self, user: i64, keep: Option<&str>) -> Result<(), Error> {
        let change = Change::new(Event::SessionsEnded, self.acting_on(user)).changes(user);
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
