//! Attempt limits of the accounts: logins per account and per client
//! address, password-reset requests, and the passwords and codes a
//! signed-in user gives. Each is a [`Limiter`], the one counting primitive
//! of `rate_limit` (a GCRA: `max` attempts per window, never twice that at
//! a window's edge, coming back one by one).
//!
//! An attempt is counted *before* it is checked, in one atomic step (a
//! compare-and-swap in process; one script in Redis, shared by every
//! instance): a hundred attempts sent at once take a hundred places, and
//! only those within the limit go on to the password check. A success
//! clears the account's count and gives back the address's place, so both
//! count failures. When the cache cannot be reached the attempt is refused
//! (503): security state fails closed.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::error::Error;
use crate::rate_limit::Limiter;
use crate::security::sha256_hex;

/// A limit of `max` attempts per key within a window.
#[derive(Clone)]
pub(crate) struct Limit {
    /// `None` for a limit of zero, which refuses nothing.
    limiters: Option<Limiters>,
}

/// The limiters of a limit that counts.
#[derive(Clone)]
struct Limiters {
    attempts: Arc<Limiter>,
    /// One a window: tells the first refusal of a lockout, worth a record
    /// in the audit log, from the ones after it.
    lockouts: Arc<Limiter>,
}

/// An attempt that was let through.
pub(crate) struct Attempt {
    key: String,
}

/// What counting an attempt found.
pub(crate) enum Counted {
    /// Within the limit: go on and check.
    Allowed(Attempt),
    /// Past it; `first` is the first refusal of this window (worth a record).
    Refused { retry_after: Duration, first: bool },
}

impl Limit {
    /// A limit in `cache` (its own namespace); `max` of zero refuses nothing.
    pub(crate) fn new(cache: Cache, max: u32, window_secs: u64) -> Self {
        let window = Duration::from_secs(window_secs.max(1));
        Limit {
            limiters: (max > 0).then(|| Limiters {
                attempts: Limiter::new(max, window, &cache),
                lockouts: Limiter::new(1, window, &cache.scoped("locked")),
            }),
        }
    }

    /// Counts one attempt for `subject` (hashed into the key, so e-mails are
    /// not kept in the cache in clear).
    pub(crate) async fn count(&self, subject: &str) -> Result<Counted, Error> {
        let key = sha256_hex(subject);
        let Some(limits) = &self.limiters else {
            return Ok(Counted::Allowed(Attempt { key }));
        };
        let decision = limits.attempts.check(&key).await?;
        if decision.allowed {
            return Ok(Counted::Allowed(Attempt { key }));
        }
        Ok(Counted::Refused {
            retry_after: decision.retry_after,
            first: limits.lockouts.check(&key).await?.allowed,
        })
    }

    /// The attempt succeeded: start counting afresh.
    pub(crate) async fn clear(&self, attempt: &Attempt) -> Result<(), Error> {
        if let Some(limits) = &self.limiters {
            limits.attempts.clear(&attempt.key).await?;
            limits.lockouts.clear(&attempt.key).await?;
        }
        Ok(())
    }

    /// Forgets every attempt counted for `subject` (a password reset
    /// unlocks the account).
    pub(crate) async fn forget(&self, subject: &str) -> Result<(), Error> {
        self.clear(&Attempt {
            key: sha256_hex(subject),
        })
        .await
    }

    /// The attempt succeeded: give its place back, keep the others' count.
    pub(crate) async fn release(&self, attempt: &Attempt) -> Result<(), Error> {
        if let Some(limits) = &self.limiters {
            limits.attempts.release(&attempt.key).await?;
        }
        Ok(())
    }
}

/// The 429 of a refused attempt.
pub(crate) fn too_many(retry_after: Duration) -> Error {
    Error::TooManyRequests {
        retry_after_secs: retry_after.as_secs().max(1),
    }
}
