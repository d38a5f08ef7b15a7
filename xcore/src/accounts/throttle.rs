//! Attempt limits of the accounts: logins per account and per client
//! address, and the passwords and codes a signed-in user gives.
//!
//! An attempt is counted *before* it is checked, with one atomic increment
//! in the cache (a mutex in-process; `INCR` in Redis, shared by every
//! instance): a hundred attempts sent at once take a hundred numbers, and
//! only those within the limit go on to the password check. A success
//! clears the account's count and gives back the address's slot, so both
//! count failures. When the cache cannot be reached the attempt is refused
//! (503): security state fails closed.

use std::time::Duration;

use crate::cache::Cache;
use crate::error::Error;
use crate::security::sha256_hex;

/// A limit of `max` attempts per key within `window_secs` (from the first).
#[derive(Clone)]
pub(crate) struct Limit {
    cache: Cache,
    max: u32,
    window_secs: u64,
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
        Limit {
            cache,
            max,
            window_secs: window_secs.max(1),
        }
    }

    /// Counts one attempt for `subject` (hashed into the key, so e-mails are
    /// not kept in the cache in clear).
    pub(crate) async fn count(&self, subject: &str) -> Result<Counted, Error> {
        let key = sha256_hex(subject);
        if self.max == 0 {
            return Ok(Counted::Allowed(Attempt { key }));
        }
        let counter = self.cache.count(&key, self.window_secs).await?;
        if counter.value > i64::from(self.max) {
            return Ok(Counted::Refused {
                retry_after: counter.expires_in,
                first: counter.value == i64::from(self.max) + 1,
            });
        }
        Ok(Counted::Allowed(Attempt { key }))
    }

    /// The attempt succeeded: start counting afresh.
    pub(crate) async fn clear(&self, attempt: &Attempt) -> Result<(), Error> {
        if self.max > 0 {
            self.cache.delete(&attempt.key).await?;
        }
        Ok(())
    }

    /// Forgets every attempt counted for `subject` (a password reset
    /// unlocks the account).
    pub(crate) async fn forget(&self, subject: &str) -> Result<(), Error> {
        if self.max > 0 {
            self.cache.delete(&sha256_hex(subject)).await?;
        }
        Ok(())
    }

    /// The attempt succeeded: give its slot back, keep the others' count.
    pub(crate) async fn release(&self, attempt: &Attempt) -> Result<(), Error> {
        if self.max > 0 {
            self.cache.decrement(&attempt.key).await?;
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
