//! One limit's decisions: in-process (governor's keyed GCRA) or in Redis
//! (the same GCRA as one script, on the server's clock).

use std::hash::Hasher;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{Quota, RateLimiter};

use super::store::SlotStore;

use crate::cache::{Cache, CacheError};

/// In-process keys are hashes of the key's parts, keyed with a random
/// seed ([`Limits`](super::Limits)): no allocation per request, no hashing
/// twice (the map uses them as they are), no collisions a client can aim
/// for, and two 64-bit hashes colliding by chance too unlikely to matter.
type Keyed =
    RateLimiter<u64, SlotStore, DefaultClock, NoOpMiddleware<<DefaultClock as Clock>::Instant>>;

/// A hasher that hands a `u64` key through unchanged.
#[derive(Default, Clone)]
pub(crate) struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed here; anything else is folded in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// What a limit decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    /// Requests left in the window after this one.
    pub(crate) remaining: u32,
    /// Until the window is whole again.
    pub(crate) reset: Duration,
    /// Until the next request may pass (zero when this one did).
    pub(crate) retry_after: Duration,
}

enum Backend {
    Memory { keyed: Keyed, clock: DefaultClock },
    Redis(Cache),
}

/// One limit's state.
pub(crate) struct Limiter {
    count: u32,
    /// The time one request "costs": the period over the count.
    emission: Duration,
    backend: Backend,
    /// Checks since the last sweep of idle in-process keys.
    checks: AtomicU64,
}

/// Sweep the in-process keys every this many checks (a power of two):
/// keys whose window is whole again hold nothing worth keeping, and a
/// client minting keys must not grow memory without bound.
const SWEEP_EVERY: u64 = 4096;

impl Limiter {
    /// A limiter of `count` per `period`: in Redis when `cache` is Redis
    /// (`cache` already scoped to this limit), in-process otherwise.
    pub(crate) fn new(count: u32, period: Duration, cache: &Cache) -> Arc<Self> {
        let count = count.max(1);
        let emission = (period / count).max(Duration::from_nanos(1));
        let backend = if cache.is_redis() {
            Backend::Redis(cache.clone())
        } else {
            let burst = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
            let quota = Quota::with_period(emission)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(burst);
            Backend::Memory {
                keyed: RateLimiter::new(quota, SlotStore::default(), DefaultClock::default()),
                clock: DefaultClock::default(),
            }
        };
        Arc::new(Limiter {
            count,
            emission,
            backend,
            checks: AtomicU64::new(0),
        })
    }

    /// Whether the decision needs no waiting (in-process).
    pub(crate) fn is_immediate(&self) -> bool {
        matches!(self.backend, Backend::Memory { .. })
    }

    /// The decision for the key hashed as `key`, in-process: `Ok(())` when
    /// allowed, the refusal otherwise. Only called on in-process limiters
    /// ([`Limiter::is_immediate`]); a Redis one allows.
    #[inline]
    pub(crate) fn check_memory(&self, key: u64) -> Result<(), Decision> {
        let Backend::Memory { keyed, clock } = &self.backend else {
            return Ok(());
        };
        // A plain load and store, not a read-modify-write: a count lost
        // to a race only moves the sweep by a few checks, and the locked
        // instruction would cost every request more than the check itself.
        let checks = self.checks.load(Ordering::Relaxed).wrapping_add(1);
        self.checks.store(checks, Ordering::Relaxed);
        if checks & (SWEEP_EVERY - 1) == 0 {
            keyed.retain_recent();
        }
        // What is left is reported on refusals only (successes carry no
        // headers), so the allowed path asks governor for nothing more.
        match keyed.check_key(&key) {
            Ok(()) => Ok(()),
            Err(refused) => Err(self.refusal(&refused, clock)),
        }
    }

    #[cold]
    fn refusal(
        &self,
        refused: &governor::NotUntil<<DefaultClock as Clock>::Instant>,
        clock: &DefaultClock,
    ) -> Decision {
        let wait = refused.wait_time_from(clock.now());
        Decision {
            allowed: false,
            remaining: 0,
            reset: wait + self.emission * (self.count - 1),
            retry_after: wait,
        }
    }

    /// The decision for `key` (the in-process state uses its hash).
    pub(crate) async fn check(&self, key: &str) -> Result<Decision, CacheError> {
        match &self.backend {
            Backend::Memory { .. } => Ok(match self.check_memory(hash_key(key)) {
                Err(refused) => refused,
                Ok(()) => Decision {
                    allowed: true,
                    remaining: 1,
                    reset: Duration::ZERO,
                    retry_after: Duration::ZERO,
                },
            }),
            Backend::Redis(cache) => {
                let (allowed, remaining, retry_ms, reset_ms) = cache
                    .gcra(key, self.emission, self.emission * self.count)
                    .await?;
                Ok(Decision {
                    allowed,
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    reset: Duration::from_millis(reset_ms),
                    retry_after: Duration::from_millis(retry_ms),
                })
            }
        }
    }
}

/// The in-process key of a text key (for the Redis limiter's in-process
/// stand-in; not seeded, so never for client-chosen keys in a map).
pub(crate) fn hash_key(key: &str) -> u64 {
    use std::hash::Hash;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_then_one_per_emission() {
        let limiter = Limiter::new(3, Duration::from_secs(60), &Cache::memory(1 << 20));
        for _ in 0..3 {
            assert!(limiter.check("k").await.expect("decision").allowed);
        }
        let refused = limiter.check("k").await.expect("decision");
        assert!(!refused.allowed);
        assert!(refused.retry_after > Duration::from_secs(19));
        assert!(refused.retry_after <= Duration::from_secs(20));
        assert!(limiter.check("other").await.expect("decision").allowed);
    }
}
