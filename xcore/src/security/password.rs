//! Password hashing: argon2id in PHC strings, computed on a few threads of
//! its own behind a bounded queue ([`HashPool`]), so a burst of logins
//! neither stalls the async workers nor grows memory (each hash holds its
//! argon2 memory, 19 MiB by default) without bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use serde::Deserialize;

use crate::error::Error;

/// Argon2id cost parameters. The defaults are OWASP's recommendation
/// (19 MiB of memory, 2 iterations, 1 lane).
///
/// ```
/// let params = xcore::security::PasswordParams::default();
/// assert_eq!((params.memory_kib, params.iterations, params.parallelism), (19_456, 2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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

/// Runs password hashes a few at a time, on threads of its own: at most
/// `concurrency` at once, at most `queue` more waiting (each at most
/// `wait`); beyond that, or after waiting too long, the caller gets a 503
/// with `Retry-After`. Memory is then bounded by `concurrency` hashes
/// whatever the burst — the same few threads reuse the same argon2 memory,
/// where a pool of many blocking threads would each keep its own — and the
/// async workers keep at least one core.
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
    jobs: SyncSender<Job>,
    in_flight: Arc<AtomicUsize>,
    completed: Arc<AtomicU64>,
    capacity: usize,
    wait: Duration,
}

/// One hash to run: `run(false)` does it, `run(true)` reports it expired.
struct Job {
    deadline: Instant,
    run: Box<dyn FnOnce(bool) + Send>,
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

/// Counts a hash in flight until dropped.
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
    /// `queue` more waiting at most `wait` each. Its threads end when the
    /// last clone of the pool is dropped.
    pub fn new(concurrency: usize, queue: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue + concurrency);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..concurrency {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("xcore-hash-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        (job.run)(Instant::now() > job.deadline);
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password-hashing thread");
            }
        }
        HashPool {
            jobs,
            in_flight: Arc::new(AtomicUsize::new(0)),
            completed: Arc::new(AtomicU64::new(0)),
            capacity: concurrency + queue,
            wait,
        }
    }

    /// Hashes running or waiting now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Hashes computed (made or checked) since the pool was made.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Acquire)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        // The count goes with the job: a caller that gives up does not free
        // a slot a thread is still using.
        let counted = InFlight(Arc::clone(&self.in_flight));
        let completed = Arc::clone(&self.completed);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            deadline: Instant::now() + self.wait,
            run: Box::new(move |expired| {
                let result = if expired {
                    Err(busy())
                } else {
                    let result = work();
                    completed.fetch_add(1, Ordering::AcqRel);
                    result
                };
                // Counted out before the answer, so a caller that reads the
                // count after its answer sees its own hash gone.
                drop(counted);
                let _ = reply.send(result);
            }),
        };
        match self.jobs.try_send(job) {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err(Error::internal("password hashing thread stopped"))),
            Err(TrySendError::Full(_)) => Err(busy()),
            Err(TrySendError::Disconnected(_)) => {
                Err(Error::internal("password hashing threads stopped"))
            }
        }
    }

    /// Hashes `password` with `params` (a PHC string with a random salt).
    pub async fn hash(&self, password: &str, params: PasswordParams) -> Result<String, Error> {
        let argon2 = params.argon2()?;
        let password = password.to_owned();
        self.run(move || hash_on_this_thread(&argon2, password.as_bytes()))
            .await
    }

    /// Whether `password` matches the PHC string `hash` (compared in
    /// constant time).
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, Error> {
        let password = password.to_owned();
        let hash = hash.to_owned();
        self.run(move || verify_on_this_thread(password.as_bytes(), &hash))
            .await
    }
}

thread_local! {
    /// The argon2 memory of a hashing thread, kept from one hash to the
    /// next: the same few megabytes serve every hash, instead of a fresh
    /// allocation each time that the allocator may keep around.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `argon2` over this thread's memory.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let blocks = argon2.params().block_count();
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        // Every block is written before it is read: reuse needs no zeroing.
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|err| Error::internal(format!("password hashing failed: {err}")))
    })
}

fn hash_on_this_thread(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, Error> {
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(argon2, password, &salt, &mut out)?;
    let phc = |err: argon2::password_hash::phc::Error| {
        Error::internal(format!("password hash encoding failed: {err}"))
    };
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|err| Error::internal(format!("argon2 parameters: {err}")))?,
        salt: Some(Salt::new(&salt).map_err(phc)?),
        hash: Some(Output::new(&out).map_err(phc)?),
    };
    Ok(hash.to_string())
}

fn verify_on_this_thread(password: &[u8], hash: &str) -> Result<bool, Error> {
    let malformed = |err: &dyn std::fmt::Display| {
        Error::internal(format!("stored password hash is malformed: {err}"))
    };
    let parsed = PasswordHash::new(hash).map_err(|e| malformed(&e))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(malformed(&"no salt or no hash"));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| malformed(&e))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| malformed(&e))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|e| malformed(&e))?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    compute(&argon2, password, salt.as_ref(), &mut out)?;
    // `Output` compares in constant time.
    Ok(Output::new(&out).map_err(|e| malformed(&e))? == *expected)
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
