//! Password hashing: argon2id in PHC strings, computed on tokio's blocking
//! threads so a burst of logins never stalls the async workers.

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use serde::Deserialize;

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
pub async fn hash_password(password: &str) -> Result<String, Error> {
    hash_password_with(password, PasswordParams::default()).await
}

/// Hashes `password` with `params`.
pub async fn hash_password_with(password: &str, params: PasswordParams) -> Result<String, Error> {
    let argon2 = params.argon2()?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        argon2
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| Error::internal(format!("password hashing failed: {err}")))
    })
    .await
    .map_err(Error::internal)?
}

/// Whether `password` matches the PHC string `hash` (compared in constant
/// time by argon2). A malformed hash is a server-side error, not a mismatch.
pub async fn verify_password(password: &str, hash: &str) -> Result<bool, Error> {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|err| Error::internal(format!("stored password hash is malformed: {err}")))?;
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
    .map_err(Error::internal)?
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

    #[tokio::test(flavor = "current_thread")]
    async fn hashing_does_not_stall_the_async_thread() {
        // 16 full-cost hashes at once, on a runtime with a single async thread:
        // a timer on that thread must keep firing on time.
        let hashes: Vec<_> = (0..16)
            .map(|i| tokio::spawn(async move { hash_password(&format!("password {i}")).await }))
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
