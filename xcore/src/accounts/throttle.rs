//! The login throttle (`xcore_login_failures`): too many failed logins for
//! one e-mail within a window give a 429.

use crate::clock;
use crate::db::Db;
use crate::error::Error;

/// Failed logins per e-mail.
#[derive(Clone)]
pub(crate) struct LoginThrottle {
    db: Db,
    max_failures: u32,
    window_secs: i64,
}

impl LoginThrottle {
    pub(crate) fn new(db: Db, max_failures: u32, window_secs: u64) -> Self {
        LoginThrottle {
            db,
            max_failures,
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX / 2),
        }
    }

    /// 429 (with the seconds until the oldest failure leaves the window)
    /// when `email` has used up its failures.
    pub(crate) async fn check(&self, email: &str) -> Result<(), Error> {
        let since = clock::now() - self.window_secs;
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM xcore_login_failures WHERE email = $1 AND at > $2",
        )
        .bind(email)
        .bind(since)
        .fetch_one(self.db.pool())
        .await?;
        if count >= i64::from(self.max_failures) {
            let retry = oldest.map_or(self.window_secs, |t| t + self.window_secs - clock::now());
            return Err(Error::TooManyRequests {
                retry_after_secs: u64::try_from(retry.max(1)).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// Counts a failure for `email`.
    pub(crate) async fn record(&self, email: &str) -> Result<(), Error> {
        sqlx::query("INSERT INTO xcore_login_failures (email, at) VALUES ($1, $2)")
            .bind(email)
            .bind(clock::now())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Forgets the failures of `email` (a session started).
    pub(crate) async fn clear(&self, email: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM xcore_login_failures WHERE email = $1")
            .bind(email)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
