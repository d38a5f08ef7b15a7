//! One limit's decisions: in-process (governor's keyed GCRA) or in Redis
//! (the same GCRA as one script, on the server's clock). The one counting
//! primitive of xcore: route limits, the accounts' attempt limits and the
//! attempts at a one-time code are all limiters.
//!
//! Besides deciding, a limiter gives a request's place back
//! ([`Limiter::release`]: a login whose password was right) and forgets a
//! key ([`Limiter::clear`]: a session opened, a new code sent).

use std::hash::{BuildHasher, Hasher, RandomState};
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
    Memory {
        keyed: Keyed,
        /// The state `keyed` decides on, for giving back and forgetting.
        store: SlotStore,
        clock: DefaultClock,
    },
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
    /// Hashes text keys for the in-process state: a client choosing the
    /// text (an e-mail) cannot aim two at one place.
    seed: RandomState,
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
            let store = SlotStore::default();
            Backend::Memory {
                keyed: RateLimiter::new(quota, store.clone(), DefaultClock::default()),
                store,
                clock: DefaultClock::default(),
            }
        };
        Arc::new(Limiter {
            count,
            emission,
            backend,
            checks: AtomicU64::new(0),
            seed: RandomState::new(),
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
        let Backend::Memory { keyed, clock, .. } = &self.backend else {
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
            Backend::Memory { .. } => Ok(match self.check_memory(self.seed.hash_one(key)) {
                Err(refused) => refused,
                Ok(()) => Decision {
                    allowed: true,
                    remaining: 1,
                    reset: Duration::ZERO,
                    retry_after: Duration::ZERO,
                },
            }),
            Backend::Redis(cache) => {
                let (allowed, remaining, retry_ms, reset_ms): (i64, i64, i64, i64) = cache
                    .run_script(
                        &redis_gcra::DECIDE,
                        key,
                        &[millis(self.emission), millis(self.emission * self.count)],
                    )
                    .await?;
                let duration = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                Ok(Decision {
                    allowed: allowed == 1,
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    reset: duration(reset_ms),
                    retry_after: duration(retry_ms),
                })
            }
        }
    }

    /// Gives back the place of one request allowed at `key` (an attempt
    /// that turned out fine): the key's other requests still count.
    pub(crate) async fn release(&self, key: &str) -> Result<(), CacheError> {
        match &self.backend {
            Backend::Memory { store, .. } => {
                let nanos = u64::try_from(self.emission.as_nanos()).unwrap_or(u64::MAX);
                store.give_back(self.seed.hash_one(key), nanos);
                Ok(())
            }
            Backend::Redis(cache) => {
                cache
                    .run_script::<i64>(&redis_gcra::RELEASE, key, &[millis(self.emission)])
                    .await?;
                Ok(())
            }
        }
    }

    /// Forgets `key`: its next request starts a full window.
    pub(crate) async fn clear(&self, key: &str) -> Result<(), CacheError> {
        match &self.backend {
            Backend::Memory { store, .. } => {
                store.forget(self.seed.hash_one(key));
                Ok(())
            }
            Backend::Redis(cache) => cache.delete(key).await.map(drop),
        }
    }
}

/// Milliseconds, as the scripts take them (at least 1).
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// The GCRA in Redis: one script per change, on the server's clock, so
/// every instance decides on the same time. A key holds its theoretical
/// arrival time in milliseconds, and lives until then.
mod redis_gcra {
    use std::sync::LazyLock;

    /// One decision: a request costs `ARGV[1]` ms, `ARGV[2]` ms is the
    /// whole window (the cost × the count). `{allowed, remaining, retry
    /// ms, reset ms}`.
    pub(super) static DECIDE: LazyLock<redis::Script> = LazyLock::new(|| {
        redis::Script::new(
            "local t = redis.call('TIME') \
             local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
             local emission = tonumber(ARGV[1]) \
             local tau = tonumber(ARGV[2]) \
             local tat = tonumber(redis.call('GET', KEYS[1])) or now \
             if tat < now then tat = now end \
             local new_tat = tat + emission \
             local allow_at = new_tat - tau \
             if now < allow_at then \
               return {0, 0, allow_at - now, tat - now} \
             end \
             redis.call('SET', KEYS[1], new_tat, 'PX', math.max(new_tat - now, 1)) \
             return {1, math.floor((tau - (new_tat - now)) / emission), 0, new_tat - now}",
        )
    });

    /// One request's cost (`ARGV[1]` ms) given back; a key whose time is
    /// past is removed.
    pub(super) static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
        redis::Script::new(
            "local tat = tonumber(redis.call('GET', KEYS[1])) \
             if not tat then return 0 end \
             local t = redis.call('TIME') \
             local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
             tat = tat - tonumber(ARGV[1]) \
             if tat <= now then redis.call('DEL', KEYS[1]) \
             else redis.call('SET', KEYS[1], tat, 'PX', tat - now) end \
             return 1",
        )
    });
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

    /// What the accounts' attempt limits and the one-time codes need of a
    /// limiter, the same on both backends.
    async fn gives_back_and_forgets(cache: &Cache) {
        let limiter = Limiter::new(3, Duration::from_secs(60), cache);
        let allowed = async |key: &str| limiter.check(key).await.expect("decision").allowed;
        for _ in 0..3 {
            assert!(allowed("k").await);
        }
        assert!(!allowed("k").await, "the fourth waits");
        limiter.release("k").await.expect("release");
        assert!(allowed("k").await, "a place given back is taken again");
        assert!(!allowed("k").await, "and only one");
        limiter.clear("k").await.expect("clear");
        for _ in 0..3 {
            assert!(allowed("k").await, "forgotten: a whole window again");
        }
        assert!(!allowed("k").await);
        limiter.release("never-seen").await.expect("release");
        limiter.clear("never-seen").await.expect("clear");
        assert!(allowed("never-seen").await);
    }

    #[tokio::test]
    async fn gives_back_and_forgets_in_process() {
        gives_back_and_forgets(&Cache::memory(1 << 20)).await;
    }

    #[tokio::test]
    async fn gives_back_and_forgets_in_redis() {
        let Ok(url) = std::env::var("XCORE_TEST_REDIS_URL") else {
            assert!(
                std::env::var_os("XCORE_TEST_REQUIRE_SERVICES").is_none(),
                "XCORE_TEST_REDIS_URL is required"
            );
            eprintln!("skipped: XCORE_TEST_REDIS_URL is not set");
            return;
        };
        let config = crate::config::CacheConfig {
            url: Some(url.as_str().into()),
            prefix: format!("xcore-unit-{}:", uuid::Uuid::new_v4().simple()),
            ..crate::config::CacheConfig::default()
        };
        gives_back_and_forgets(&Cache::connect(&config).expect("cache")).await;
    }

    /// A hundred checks at once take the limit, exactly.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_hundred_at_once_take_the_limit_once() {
        let limiter = Limiter::new(10, Duration::from_secs(600), &Cache::memory(1 << 20));
        let checks = (0..100).map(|_| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.check("k").await.expect("decision").allowed })
        });
        let mut allowed = 0;
        for check in checks {
            allowed += usize::from(check.await.expect("task"));
        }
        assert_eq!(allowed, 10);
    }
}
