//! One-time codes: `generate(user_id)` gives a code like `"847291"`,
//! `verify(user_id, code)` checks it once. Codes are kept in the cache
//! (so with Redis a code made on one instance verifies on another) as
//! HMACs, never in clear; they expire, die after a few wrong attempts, and
//! are delivered by an [`OtpSender`] the application provides.
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::otp::Otp;
//!
//! async fn send_code(otp: Otp, user: CurrentUser) -> xcore::Result<StatusCode> {
//!     let code = otp.generate(user.id()).await?; // e.g. "847291"
//!     // ... deliver it (e-mail, SMS) ...
//!     # let _ = code;
//!     Ok(StatusCode::ACCEPTED)
//! }
//!
//! async fn check_code(otp: Otp, user: CurrentUser, Json(code): Json<String>) -> xcore::Result<StatusCode> {
//!     if otp.verify(user.id(), &code).await? {
//!         Ok(StatusCode::OK)
//!     } else {
//!         Err(Error::BadRequest("wrong or expired code".into()))
//!     }
//! }
//! ```

mod sender;

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::Sha256;

pub use sender::{EmailSender, LogSender, OtpRecipient, OtpSender};

use crate::cache::{Cache, CacheError};
use crate::config::OtpConfig;
use crate::error::Error;
use crate::rate_limit::Limiter;

/// The outcome of [`Otp::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    /// Right code: it is now used up.
    Valid,
    /// Wrong code, or none pending (expired, used, never sent).
    Invalid,
    /// Too many wrong attempts: the code is dead; ask for a new one.
    Exhausted,
}

/// The one-time code service, also a handler extractor.
#[derive(Clone)]
pub struct Otp {
    cache: Cache,
    key: Arc<[u8; 32]>,
    length: u32,
    ttl_secs: u64,
    max_attempts: u32,
    /// Wrong attempts per user, `max_attempts` per code: a limiter of that
    /// many per `max_attempts` lifetimes, so no attempt comes back while a
    /// code lives (a new code clears it).
    attempts: Arc<Limiter>,
    /// Codes given per user per hour, across codes: never cleared by a
    /// new one (a right code gives its place back).
    guesses: Arc<Limiter>,
    /// `otp.max_attempts_per_hour`.
    per_hour: u32,
    sender: Arc<dyn OtpSender>,
}

impl std::fmt::Debug for Otp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Otp")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// The attempts at `cache`'s codes: `max_attempts` per code lifetime
/// (`ttl_secs`), none given back before the code is dead.
fn attempts_limiter(cache: &Cache, ttl_secs: u64, max_attempts: u32) -> Arc<Limiter> {
    let lifetime = Duration::from_secs(ttl_secs);
    Limiter::new(
        max_attempts,
        lifetime * max_attempts,
        &cache.scoped("attempts"),
    )
}

/// The codes one user may give in an hour, whatever was sent.
fn guesses_limiter(cache: &Cache, per_hour: u32) -> Arc<Limiter> {
    Limiter::new(
        per_hour,
        Duration::from_secs(3600),
        &cache.scoped("guesses"),
    )
}

fn unavailable(err: CacheError) -> Error {
    // Codes live in the cache: without it nothing can be checked; fail closed.
    tracing::warn!(error = %err, "one-time codes unavailable");
    Error::Unavailable("one-time codes unavailable".into())
}

impl Otp {
    /// The service over `cache` (its `xcore-otp:` namespace), with codes
    /// authenticated by `key` (derive it from the application secret).
    pub fn new(config: &OtpConfig, cache: &Cache, key: [u8; 32]) -> Self {
        let cache = cache.scoped("xcore-otp");
        let (ttl_secs, max_attempts) = (config.ttl_secs.max(1), config.max_attempts.max(1));
        let per_hour = config.max_attempts_per_hour.max(1);
        Otp {
            attempts: attempts_limiter(&cache, ttl_secs, max_attempts),
            guesses: guesses_limiter(&cache, per_hour),
            per_hour,
            cache,
            key: Arc::new(key),
            length: config.length.clamp(6, 10),
            ttl_secs,
            max_attempts,
            sender: Arc::new(LogSender),
        }
    }

    /// The same service delivering codes with `sender` (what
    /// [`Otp::send_to`] uses).
    pub fn with_sender(mut self, sender: Arc<dyn OtpSender>) -> Self {
        self.sender = sender;
        self
    }

    /// Generates a code for the signed-in `user` and delivers it with the
    /// app's sender (e-mail when `mail.url` is set): the one call a handler
    /// needs. Returns the code's lifetime in seconds.
    ///
    /// ```
    /// use xcore::prelude::*;
    ///
    /// async fn envoyer(otp: Otp, user: CurrentUser) -> xcore::Result<StatusCode> {
    ///     otp.send_to(&user).await?;
    ///     Ok(StatusCode::ACCEPTED)
    /// }
    /// ```
    ///
    /// `user` is anything that names a recipient: a [`CurrentUser`]
    /// (`&user`), or an [`OtpRecipient`] built by hand.
    ///
    /// [`CurrentUser`]: crate::guard::CurrentUser
    pub async fn send_to(&self, user: impl Into<OtpRecipient>) -> Result<u64, Error> {
        let to = user.into();
        let code = self.generate(&to.user_id).await?;
        self.sender.send(&to, &code).await?;
        Ok(self.ttl_secs)
    }

    /// The same service with codes kept apart under `name` (each plugin
    /// gets its own: `/auth/otp/send` never replaces a plugin's code).
    pub fn scoped(&self, name: &str) -> Self {
        let cache = self.cache.scoped(name);
        Otp {
            attempts: attempts_limiter(&cache, self.ttl_secs, self.max_attempts),
            guesses: guesses_limiter(&cache, self.per_hour),
            cache,
            ..self.clone()
        }
    }

    fn mac(&self, user: &str, code: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(user.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        mac
    }

    /// A fresh code for `user`, replacing any pending one, valid for the
    /// configured time (default 300 s).
    pub async fn generate(&self, user: impl std::fmt::Display) -> Result<String, Error> {
        let user = user.to_string();
        let upper = 10u64.pow(self.length);
        let code = format!(
            "{:0width$}",
            rand::rng().random_range(0..upper),
            width = self.length as usize
        );
        let tag = self.mac(&user, &code).finalize().into_bytes();
        self.attempts.clear(&user).await.map_err(unavailable)?;
        self.cache
            .set_bytes(&format!("code:{user}"), tag.to_vec(), self.ttl_secs)
            .await
            .map_err(unavailable)?;
        Ok(code)
    }

    /// Whether `code` is `user`'s pending code; a right code is used up.
    pub async fn verify(&self, user: impl std::fmt::Display, code: &str) -> Result<bool, Error> {
        Ok(self.check(user, code).await? == OtpCheck::Valid)
    }

    /// Like [`Otp::verify`], telling a wrong code from a dead one. Past
    /// `otp.max_attempts_per_hour` codes given by `user` in an hour, the
    /// 429 error ([`Error::TooManyRequests`]), whatever code is pending.
    pub async fn check(&self, user: impl std::fmt::Display, code: &str) -> Result<OtpCheck, Error> {
        let user = user.to_string();
        let code_key = format!("code:{user}");
        // Counted before anything is checked: per hour across codes, then
        // per code.
        let guess = self.guesses.check(&user).await.map_err(unavailable)?;
        if !guess.allowed {
            return Err(Error::TooManyRequests {
                retry_after_secs: guess.retry_after.as_secs().max(1),
            });
        }
        let attempt = self.attempts.check(&user).await.map_err(unavailable)?;
        if !attempt.allowed {
            self.cache.delete(&code_key).await.map_err(unavailable)?;
            return Ok(OtpCheck::Exhausted);
        }
        let Some(stored) = self.cache.get_bytes(&code_key).await.map_err(unavailable)? else {
            return Ok(OtpCheck::Invalid);
        };
        // Constant-time comparison of the MACs.
        if self.mac(&user, code.trim()).verify_slice(&stored).is_err() {
            return Ok(OtpCheck::Invalid);
        }
        // Single use: only the request that removes the code wins.
        if !self.cache.delete(&code_key).await.map_err(unavailable)? {
            return Ok(OtpCheck::Invalid);
        }
        let _ = self.attempts.clear(&user).await;
        let _ = self.guesses.release(&user).await;
        Ok(OtpCheck::Valid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otp(max_attempts: u32) -> Otp {
        let config = OtpConfig {
            max_attempts,
            ..OtpConfig::default()
        };
        Otp::new(&config, &Cache::memory(1 << 20), [7; 32])
    }

    #[tokio::test]
    async fn a_code_verifies_once() {
        let otp = otp(5);
        let code = otp.generate(42).await.expect("code");
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert!(
            !otp.verify(41, &code).await.expect("check"),
            "another user's code"
        );
        assert!(otp.verify(42, &code).await.expect("check"));
        assert!(!otp.verify(42, &code).await.expect("check"), "single use");
    }

    #[tokio::test]
    async fn wrong_attempts_kill_the_code() {
        let otp = otp(2);
        let code = otp.generate(1).await.expect("code");
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(otp.check(1, wrong).await.expect("check"), OtpCheck::Invalid);
        assert_eq!(otp.check(1, wrong).await.expect("check"), OtpCheck::Invalid);
        assert_eq!(
            otp.check(1, &code).await.expect("check"),
            OtpCheck::Exhausted
        );
        let fresh = otp.generate(1).await.expect("code");
        assert_eq!(
            otp.check(1, &fresh).await.expect("check"),
            OtpCheck::Valid,
            "a new code resets"
        );
    }

    #[tokio::test]
    async fn a_new_code_replaces_the_previous_one() {
        let otp = otp(5);
        let first = otp.generate(9).await.expect("code");
        let second = otp.generate(9).await.expect("code");
        if first != second {
            assert!(!otp.verify(9, &first).await.expect("check"));
        }
        assert!(otp.verify(9, &second).await.expect("check"));
    }
}
