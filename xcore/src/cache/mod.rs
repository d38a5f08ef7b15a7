//! The cache: one handle ([`Cache`]) over an in-process or a Redis backend,
//! with keys namespaced per plugin, and what `#[cached]` declares on a
//! route ([`CachePolicy`]; the web wing applies it to requests).
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::cache::Cache;
//!
//! async fn produits(cache: Cache) -> xcore::Result<String> {
//!     if let Some(cached) = cache.get("produits:all").await? {
//!         return Ok(cached);
//!     }
//!     let produits = r#"["clavier","souris"]"#.to_owned(); // from the database
//!     cache.set("produits:all", &produits, 300).await?; // TTL in seconds
//!     Ok(produits)
//! }
//! ```

mod continuity;
mod memory;
mod near;
mod pattern;
mod policy;
mod redis_store;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use policy::CachePolicy;
pub use xcore_rules::cache::KeyTemplate;

use crate::config::CacheConfig;
use crate::error::Error;
use memory::MemoryStore;
use redis_store::RedisStore;

/// Why a cache call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend (Redis) cannot be reached or did not answer in time.
    #[error("cache unavailable: {0}")]
    Unavailable(String),
    /// A TTL of zero seconds was given.
    #[error("a cache TTL must be at least 1 second")]
    ZeroTtl,
    /// A value read with `get_json` is not JSON of the expected type.
    #[error("cached value has an unexpected shape: {0}")]
    Decode(#[from] serde_json::Error),
    /// A value read with `get` is not UTF-8 text.
    #[error("cached value is not text")]
    NotText,
    /// An empty tag was given (a tag names what entries depend on).
    #[error("a cache tag cannot be empty")]
    EmptyTag,
}

impl From<CacheError> for Error {
    fn from(err: CacheError) -> Self {
        match err {
            CacheError::Unavailable(message) => {
                tracing::warn!(error = %message, "cache unavailable");
                Error::Unavailable("cache unavailable".into())
            }
            other => Error::internal(other),
        }
    }
}

#[derive(Clone)]
enum Store {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

/// A handle on the cache, scoped to a namespace (each plugin gets its own).
///
/// In a handler, take it as an extractor: it is already scoped to the
/// handler's plugin, so `flush_pattern("produits:*")` can only ever remove
/// that plugin's keys. TTLs are in seconds.
#[derive(Clone)]
pub struct Cache {
    store: Store,
    namespace: Arc<str>,
    /// The configured prefix: tags live under it, shared by every plugin.
    root: Arc<str>,
    /// Where this namespace's keys are recorded (see `redis_store`).
    index: Arc<str>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        };
        f.debug_struct("Cache")
            .field("backend", &backend)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Cache {
    /// The backend the configuration selects: Redis when `cache.url` is set
    /// (connected on first use, reconnecting by itself), otherwise in-process.
    /// Keys start with `cache.prefix`.
    pub fn connect(config: &CacheConfig) -> Result<Self, Error> {
        let store = match &config.url {
            Some(url) => Store::Redis(Arc::new(
                RedisStore::new(
                    url,
                    Duration::from_millis(config.timeout_ms.max(1)),
                    config.local_max_bytes,
                    &config.prefix,
                )
                .map_err(|err| Error::Config(err.to_string()))?,
            )),
            None => Store::Memory(Arc::new(MemoryStore::new(config.memory_max_bytes))),
        };
        Ok(Cache::rooted(store, &config.prefix))
    }

    fn rooted(store: Store, prefix: &str) -> Self {
        Cache {
            store,
            namespace: Arc::from(prefix),
            root: Arc::from(prefix),
            index: Arc::from(format!("{prefix}#index:")),
        }
    }

    /// An in-process cache bounded to `max_bytes`, without prefix.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), xcore::cache::CacheError> {
    /// let cache = xcore::cache::Cache::memory(1 << 20);
    /// cache.set("a", "1", 60).await?;
    /// assert_eq!(cache.get("a").await?.as_deref(), Some("1"));
    /// assert!(cache.exists("a").await?);
    /// assert!(cache.delete("a").await?);
    /// assert!(!cache.exists("a").await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory(max_bytes: u64) -> Self {
        Cache::rooted(Store::Memory(Arc::new(MemoryStore::new(max_bytes))), "")
    }

    /// The same cache with keys under `name:` inside this namespace. Tags
    /// stay shared: they are the app's, not a namespace's.
    pub fn scoped(&self, name: &str) -> Self {
        let namespace = format!("{}{name}:", self.namespace);
        let index = format!("{}#index:{}", self.root, &namespace[self.root.len()..]);
        Cache {
            store: self.store.clone(),
            namespace: Arc::from(namespace),
            root: Arc::clone(&self.root),
            index: Arc::from(index),
        }
    }

    /// The stored name of a tag: under the app's prefix, outside every
    /// plugin's namespace (a plugin name cannot start with `#`).
    pub(crate) fn tag_key(&self, tag: &str) -> String {
        format!("{}#tag:{tag}", self.root)
    }

    /// Whether this handle talks to Redis.
    pub fn is_redis(&self) -> bool {
        matches!(self.store, Store::Redis(_))
    }

    /// With Redis, whether its in-process tier serves reads now: `true`
    /// while the tracking connection (named `xcore-tracking@<prefix>` in
    /// `CLIENT LIST`) is up, `false` while it is lost and every read goes
    /// to Redis; `None` with the in-process backend or the tier configured
    /// off (`cache.local_max_bytes = 0`). The first call on a runtime
    /// starts the tier's connection.
    ///
    /// ```
    /// let cache = xcore::cache::Cache::memory(1 << 20);
    /// assert_eq!(cache.local_tier_live(), None);
    /// ```
    pub fn local_tier_live(&self) -> Option<bool> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Redis(store) => store.local_tier_live(),
        }
    }

    /// While Redis came back from a lost connection less than
    /// `window_secs` ago, the generation of that return: values read now
    /// may be older than those written before the loss (a failover to a
    /// replica that missed them). `None` for the in-process cache and for
    /// a Redis that has not lost its connection in that time.
    pub(crate) fn unsettled(&self, window_secs: i64) -> Option<u64> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Redis(store) => store.unsettled(window_secs),
        }
    }

    pub(crate) fn full_key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.namespace.len() + key.len());
        full.push_str(&self.namespace);
        full.push_str(key);
        full
    }

    /// Raw bytes stored under `key`.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.get_full(&self.full_key(key)).await
    }

    pub(crate) async fn get_full(&self, full_key: &str) -> Result<Option<Bytes>, CacheError> {
        match &self.store {
            Store::Memory(store) => Ok(store.get(full_key)),
            Store::Redis(store) => store.get(full_key).await,
        }
    }

    /// [`Cache::get_bytes`] when it needs no waiting (see
    /// [`Cache::get_full_now`]). The full key is put together on the stack.
    pub(crate) fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>, CacheError>> {
        let mut buffer = [0u8; 128];
        let (namespace, len) = (self.namespace.as_bytes(), self.namespace.len() + key.len());
        if len > buffer.len() {
            return self.get_full_now(&self.full_key(key)).map(Ok);
        }
        buffer[..namespace.len()].copy_from_slice(namespace);
        buffer[namespace.len()..len].copy_from_slice(key.as_bytes());
        let full = std::str::from_utf8(&buffer[..len]).ok()?;
        self.get_full_now(full).map(Ok)
    }

    /// A lookup that needs no waiting: `Some` for the in-process backend,
    /// and with Redis for a value its in-process tier holds; `None` when
    /// the answer must come from Redis.
    pub(crate) fn get_full_now(&self, full_key: &str) -> Option<Option<Bytes>> {
        match &self.store {
            Store::Memory(store) => Some(store.get(full_key)),
            Store::Redis(store) => store.get_now(full_key).map(Some),
        }
    }

    /// Stores raw bytes for `ttl_secs` seconds.
    pub async fn set_bytes(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        ttl_secs: u64,
    ) -> Result<(), CacheError> {
        if ttl_secs == 0 {
            return Err(CacheError::ZeroTtl);
        }
        self.set_for(key, value.into(), Duration::from_secs(ttl_secs))
            .await
    }

    pub(crate) async fn set_for(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.set_full(&self.full_key(key), value, ttl, &[]).await
    }

    /// Stores under a full key, carrying `tags` (stored names, see
    /// [`Cache::tag_key`]).
    pub(crate) async fn set_full(
        &self,
        full_key: &str,
        value: Bytes,
        ttl: Duration,
        tags: &[String],
    ) -> Result<(), CacheError> {
        match &self.store {
            Store::Memory(store) => {
                store.set(full_key, value, ttl, tags);
                Ok(())
            }
            Store::Redis(store) => store.set(full_key, value, ttl, &self.index, tags).await,
        }
    }

    /// Stores `value` for `ttl_secs` seconds, tagged: [`Cache::invalidate_tags`]
    /// with one of `tags`, from any plugin, removes it. Tags are the app's,
    /// not a plugin's: `"livres"` names the same tag in every plugin.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), xcore::cache::CacheError> {
    /// let cache = xcore::cache::Cache::memory(1 << 20);
    /// let (prets, livres) = (cache.scoped("prets"), cache.scoped("livres"));
    /// prets.set_tagged("mes-prets:7", "[12]", 60, ["livres", "prets:7"]).await?;
    /// livres.invalidate_tags(["livres"]).await?; // another plugin
    /// assert_eq!(prets.get("mes-prets:7").await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_tagged<I, T>(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
        tags: I,
    ) -> Result<(), CacheError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        if ttl_secs == 0 {
            return Err(CacheError::ZeroTtl);
        }
        let tags = self.tag_keys(tags)?;
        let value = Bytes::copy_from_slice(value.as_bytes());
        self.set_full(
            &self.full_key(key),
            value,
            Duration::from_secs(ttl_secs),
            &tags,
        )
        .await
    }

    /// Removes every entry carrying one of `tags`, whichever plugin stored
    /// it, for every instance sharing the cache: a bounded number of steps
    /// (one script on Redis, one record in-process) however many entries
    /// carry them.
    pub async fn invalidate_tags<I, T>(&self, tags: I) -> Result<(), CacheError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let tags = self.tag_keys(tags)?;
        self.invalidate_tag_keys(&tags).await
    }

    pub(crate) async fn invalidate_tag_keys(&self, tags: &[String]) -> Result<(), CacheError> {
        match &self.store {
            Store::Memory(store) => {
                store.invalidate(tags);
                Ok(())
            }
            Store::Redis(store) => store.invalidate(tags).await.map(drop),
        }
    }

    /// The stored names of `tags`, refusing an empty one.
    fn tag_keys<I, T>(&self, tags: I) -> Result<Vec<String>, CacheError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut keys: Vec<String> = Vec::new();
        for tag in tags {
            let tag = tag.as_ref();
            if tag.is_empty() {
                return Err(CacheError::EmptyTag);
            }
            let key = self.tag_key(tag);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// The text stored under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        match self.get_bytes(key).await? {
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| CacheError::NotText),
            None => Ok(None),
        }
    }

    /// Stores `value` for `ttl_secs` seconds (at least 1).
    pub async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), CacheError> {
        self.set_bytes(key, Bytes::copy_from_slice(value.as_bytes()), ttl_secs)
            .await
    }

    /// Removes `key`; whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.full_key(key);
        match &self.store {
            Store::Memory(store) => Ok(store.delete(&key)),
            Store::Redis(store) => store.delete(&key, &self.index).await,
        }
    }

    /// Whether `key` holds a live value.
    pub async fn exists(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.full_key(key);
        match &self.store {
            Store::Memory(store) => Ok(store.exists(&key)),
            Store::Redis(store) => store.exists(&key).await,
        }
    }

    /// Removes every key of this namespace matching the Redis glob
    /// `pattern` (`*`, `?`, `[...]`); returns how many went. On Redis the
    /// namespace's own index is read, never the whole database: the cost is
    /// what the namespace holds. Keys of a [`Cache::scoped`] handle below
    /// this one are flushed through that handle.
    pub async fn flush_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        let glob = format!("{}{pattern}", pattern::escape(&self.namespace));
        match &self.store {
            Store::Memory(store) => Ok(store.flush(&glob)),
            Store::Redis(store) => store.flush(&self.index, &glob).await,
        }
    }

    /// Adds one to the counter at `key` and returns the new value; a new
    /// counter starts at 1 and expires after `ttl_secs` seconds (later
    /// increments keep that expiry). Atomic, also across instances on Redis.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), xcore::cache::CacheError> {
    /// let cache = xcore::cache::Cache::memory(1 << 20);
    /// assert_eq!(cache.increment("attempts", 60).await?, 1);
    /// assert_eq!(cache.increment("attempts", 60).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn increment(&self, key: &str, ttl_secs: u64) -> Result<i64, CacheError> {
        if ttl_secs == 0 {
            return Err(CacheError::ZeroTtl);
        }
        let key = self.full_key(key);
        let ttl = Duration::from_secs(ttl_secs);
        // Recorded in the namespace's index, so `flush_pattern` finds it
        // (the framework's own counters, on hot paths, are not).
        match &self.store {
            Store::Memory(store) => Ok(store.increment(&key, ttl)),
            Store::Redis(store) => store.increment(&key, ttl, &self.index).await,
        }
    }

    /// Runs `script` on `key` of this namespace, in Redis, with `args`:
    /// how a service that keeps its state in the cache (the rate limits'
    /// GCRA) changes it atomically, on the server's clock. In process
    /// there is nothing to run it on: `Unavailable`.
    pub(crate) async fn run_script<T>(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[i64],
    ) -> Result<T, CacheError>
    where
        T: redis::FromRedisValue + Send,
    {
        match &self.store {
            Store::Redis(store) => store.run_script(script, &self.full_key(key), args).await,
            Store::Memory(_) => Err(CacheError::Unavailable("scripts run in Redis only".into())),
        }
    }

    /// Stores the number `value` unless the key already holds a larger one,
    /// atomically: a slow writer never puts an older version over a newer.
    pub(crate) async fn set_max(
        &self,
        key: &str,
        value: i64,
        ttl_secs: u64,
    ) -> Result<(), CacheError> {
        if ttl_secs == 0 {
            return Err(CacheError::ZeroTtl);
        }
        let key = self.full_key(key);
        let ttl = Duration::from_secs(ttl_secs);
        match &self.store {
            Store::Memory(store) => {
                store.set_max(&key, value, ttl);
                Ok(())
            }
            Store::Redis(store) => store.set_max(&key, value, ttl).await,
        }
    }

    /// The JSON value stored under `key`, decoded.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        match self.get_bytes(key).await? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Stores `value` as JSON for `ttl_secs` seconds.
    pub async fn set_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl_secs: u64,
    ) -> Result<(), CacheError> {
        self.set_bytes(key, serde_json::to_vec(value)?, ttl_secs)
            .await
    }

    /// The cached value of `key`, or `compute()`'s result, stored for
    /// `ttl_secs` seconds. When the cache is unavailable the value is
    /// computed and returned uncached (and the outage logged): a cache is
    /// an optimisation, not a dependency.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> xcore::Result<()> {
    /// let cache = xcore::cache::Cache::memory(1 << 20);
    /// let stats: u64 = cache.get_or_set("stats", 120, || async { Ok(42) }).await?;
    /// let again: u64 = cache.get_or_set("stats", 120, || async { Ok(0) }).await?;
    /// assert_eq!((stats, again), (42, 42));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_or_set<T, F, Fut>(
        &self,
        key: &str,
        ttl_secs: u64,
        compute: F,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        match self.get_json::<T>(key).await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(CacheError::Unavailable(reason)) => {
                tracing::warn!(key, error = %reason, "cache unavailable, computing uncached");
                return compute().await;
            }
            Err(CacheError::Decode(_)) => {} // stale shape: recompute and overwrite
            Err(other) => return Err(other.into()),
        }
        let value = compute().await?;
        if let Err(err) = self.set_json(key, &value, ttl_secs).await {
            tracing::warn!(key, error = %err, "could not store in the cache");
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn counters_and_versions(cache: Cache) {
        assert_eq!(cache.increment("c", 60).await.expect("increment"), 1);
        assert_eq!(cache.increment("c", 60).await.expect("increment"), 2);

        cache.set_max("v", 5, 60).await.expect("set");
        cache.set_max("v", 3, 60).await.expect("set");
        assert_eq!(
            cache.get("v").await.expect("get").as_deref(),
            Some("5"),
            "never back"
        );
        cache.set_max("v", 8, 60).await.expect("set");
        assert_eq!(cache.get("v").await.expect("get").as_deref(), Some("8"));
    }

    #[tokio::test]
    async fn counters_and_monotonic_numbers_in_memory() {
        counters_and_versions(Cache::memory(1 << 20)).await;
    }

    #[tokio::test]
    async fn counters_and_monotonic_numbers_in_redis() {
        let Ok(url) = std::env::var("XCORE_TEST_REDIS_URL") else {
            eprintln!("skipped: XCORE_TEST_REDIS_URL is not set");
            return;
        };
        let config = CacheConfig {
            url: Some(url.as_str().into()),
            prefix: format!("xcore-unit-{}:", uuid::Uuid::new_v4().simple()),
            ..CacheConfig::default()
        };
        counters_and_versions(Cache::connect(&config).expect("cache")).await;
    }
}
