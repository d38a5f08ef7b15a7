//! Password hashing: argon2id in PHC strings, computed on tokio's blocking
//! threads behind a bounded queue ([`HashPool`]), so a burst of logins
//! neither stalls the async workers nor grows memory (each hash holds its
//! argon2 memory, 19 MiB by default) without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::error::Error;

/// Argon2id cost parameters. The defaults are OWASP's recommendation
/// (19 MiB of memory, 2 iterations, 1 lane).
///
/// ```
/// let params = xcore::security::PasswordParams::default();
/// assert_eq!((params.memory_kib, params.iterations, params.parallelism), (19_456, 2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordParams {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    fn argon2(self) -> Result<Argon2<'static>, Error> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|err| Error::Config(format!("invalid argon2 parameters: {err}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Runs password hashes a few at a time: at most `concurrency` on blocking
/// threads, at most `queue` more waiting (each at most `wait`); beyond that,
/// or after waiting too long, the caller gets a 503 with `Retry-After`.
/// Memory is then bounded by `concurrency` hashes whatever the burst, and
/// the async workers keep at least one core.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> xcore::Result<()> {
/// use std::time::Duration;
/// use xcore::security::{HashPool, PasswordParams};
///
/// let pool = HashPool::new(1, 8, Duration::from_secs(1));
/// let cheap = PasswordParams { memory_kib: 1024, iterations: 1, parallelism: 1 };
/// let hash = pool.hash("hunter2", cheap).await?;
/// assert!(pool.verify("hunter2", &hash).await?);
/// assert_eq!(pool.in_flight(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HashPool {
    running: Arc<Semaphore>,
    in_flight: Arc<AtomicUsize>,
    capacity: usize,
    wait: Duration,
}

/// One fewer hash than there are cores, at least one.
pub(crate) fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// The pool of the free functions ([`hash_password`], [`verify_password`]).
static DEFAULT_POOL: LazyLock<HashPool> =
    LazyLock::new(|| HashPool::new(default_concurrency(), 64, Duration::from_secs(5)));

/// Counts a hash in flight until dropped (also when the caller gives up).
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn busy() -> Error {
    Error::Unavailable("password hashing is busy; retry shortly".into())
}

impl HashPool {
    /// A pool running `concurrency` hashes at once (at least one), with
    /// `queue` more waiting at most `wait` each.
    pub fn new(concurrency: usize, queue: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        HashPool {
            running: Arc::new(Semaphore::new(concurrency)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            capacity: concurrency + queue,
            wait,
        }
    }

    /// Hashes running or waiting now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let counted = InFlight(Arc::clone(&self.in_flight));
        let permit = match tokio::time::timeout(
            self.wait,
            Arc::clone(&self.running).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => return Err(busy()),
        };
        // The permit and the count go with the work: a caller that gives
        // up does not free a slot the blocking thread is still using.
        tokio::task::spawn_blocking(move || {
            let _held = (permit, counted);
            work()
        })
        .await
        .map_err(Error::internal)?
    }

    /// Hashes `password` with `params` (a PHC string with a random salt).
    pub async fn hash(&self, password: &str, params: PasswordParams) -> Result<String, Error> {
        let argon2 = params.argon2()?;
        let password = password.to_owned();
        self.run(move || {
            argon2
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|err| Error::internal(format!("password hashing failed: {err}")))
        })
        .await
    }

    /// Whether `password` matches the PHC string `hash`.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, Error> {
        let password = password.to_owned();
        let hash = hash.to_owned();
        self.run(move || {
            let parsed = PasswordHash::new(&hash).map_err(|err| {
                Error::internal(format!("stored password hash is malformed: {err}"))
            })?;
            // The verifier reads the parameters from the hash itself.
            match Argon2::default().verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(err) => Err(Error::internal(format!(
                    "password verification failed: {err}"
                ))),
            }
        })
        .await
    }
}

/// Hashes `password` with the default parameters; returns a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with a random salt.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> xcore::Result<()> {
/// use xcore::security::{hash_password, verify_password};
///
/// let hashed = hash_password("mon_mot_de_passe").await?;
/// assert!(hashed.starts_with("$argon2id$"));
/// assert!(verify_password("mon_mot_de_passe", &hashed).await?);
/// assert!(!verify_password("autre chose", &hashed).await?);
/// # Ok(())
/// # }
/// ```
///
/// Runs in a process-wide [`HashPool`] (one fewer hash than cores at once);
/// the accounts use the pool of their configuration.
pub async fn hash_password(password: &str) -> Result<String, Error> {
    hash_password_with(password, PasswordParams::default()).await
}

/// Hashes `password` with `params`.
pub async fn hash_password_with(password: &str, params: PasswordParams) -> Result<String, Error> {
    DEFAULT_POOL.hash(password, params).await
}

/// Whether `password` matches the PHC string `hash` (compared in constant
/// time by argon2). A malformed hash is a server-side error, not a mismatch.
pub async fn verify_password(password: &str, hash: &str) -> Result<bool, Error> {
    DEFAULT_POOL.verify(password, hash).await
}

/// Whether `hash` was made with other parameters (or another algorithm)
/// than `params`: re-hash the password at the next successful login.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> xcore::Result<()> {
/// use xcore::security::{PasswordParams, hash_password_with, needs_rehash};
///
/// let old = PasswordParams { memory_kib: 4096, iterations: 1, parallelism: 1 };
/// let hash = hash_password_with("pw", old).await?;
/// assert!(!needs_rehash(&hash, old));
/// assert!(needs_rehash(&hash, PasswordParams::default()));
/// # Ok(())
/// # }
/// ```
pub fn needs_rehash(hash: &str, params: PasswordParams) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(current) => {
            current.m_cost() != params.memory_kib
                || current.t_cost() != params.iterations
                || current.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const CHEAP: PasswordParams = PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let first = hash_password_with("hunter2", CHEAP).await.expect("hash");
        let second = hash_password_with("hunter2", CHEAP).await.expect("hash");
        assert_ne!(first, second, "a fresh salt each time");
        assert!(verify_password("hunter2", &first).await.expect("verify"));
        assert!(!verify_password("hunter3", &first).await.expect("verify"));
        assert!(verify_password("hunter2", "not a hash").await.is_err());
    }

    #[tokio::test]
    async fn outdated_parameters_ask_for_a_rehash() {
        let hash = hash_password_with("pw", CHEAP).await.expect("hash");
        assert!(!needs_rehash(&hash, CHEAP));
        assert!(needs_rehash(&hash, PasswordParams::default()));
        assert!(needs_rehash("$2b$12$bcrypt.hash.here", CHEAP));
    }

    #[tokio::test]
    async fn a_full_pool_answers_busy_at_once_and_frees_its_slots() {
        let pool = HashPool::new(1, 2, Duration::from_millis(50));
        let slow = PasswordParams {
            memory_kib: 8192,
            iterations: 3,
            parallelism: 1,
        };
        let attempts: Vec<_> = (0..20)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.hash(&format!("pw {i}"), slow).await })
            })
            .collect();
        let mut done = 0;
        let mut busy = 0;
        for attempt in attempts {
            match attempt.await.expect("task") {
                Ok(_) => done += 1,
                Err(Error::Unavailable(_)) => busy += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert!((1..=4).contains(&done), "{done} hashed");
        assert_eq!(done + busy, 20);
        assert_eq!(pool.in_flight(), 0);
        assert!(pool.hash("again", CHEAP).await.is_ok());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hashing_does_not_stall_the_async_thread() {
        // 16 full-cost hashes at once, on a runtime with a single async thread:
        // a timer on that thread must keep firing on time.
        let pool = HashPool::new(default_concurrency(), 16, Duration::from_secs(120));
        let hashes: Vec<_> = (0..16)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    pool.hash(&format!("password {i}"), PasswordParams::default())
                        .await
                })
            })
            .collect();
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let start = Instant::now();
            tokio::time::sleep(Duration::from_millis(5)).await;
            worst = worst.max(start.elapsed());
        }
        for hash in hashes {
            hash.await.expect("task").expect("hash");
        }
        assert!(
            worst < Duration::from_millis(100),
            "timer delayed by {worst:?}"
        );
    }
}
