//! The Redis backend: a self-healing connection and a deadline on every
//! command.
//!
//! Every value is written by one script that also records its key in its
//! namespace's index and in the set of each of its tags (sorted sets scored
//! by expiry, trimmed as they are written): a pattern flush reads the
//! namespace's index instead of walking the whole database with `SCAN`, and
//! a tag invalidation removes what its set names, in one round trip
//! whatever the number of entries. Lua calls name keys they were not given
//! (the members), so this backend wants a single Redis, not a cluster.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::CacheError;
use super::continuity::Continuity;
use super::near::Near;
use crate::config::RedactedUrl;

/// The Lua that records `member` in the sorted set `set` (an index or a
/// tag's set) until `ttl` ms from now, on the server's clock as every
/// instance sees it: members scored by expiry, the expired ones trimmed as
/// the set is written, the set living as long as its longest-lived member.
/// One definition for every script that writes a value.
macro_rules! record_lua {
    () => {
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
         local function record(set, member, ttl) \
           redis.call('ZADD', set, now + ttl, member) \
           redis.call('ZREMRANGEBYSCORE', set, '-inf', now) \
           if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end \
         end "
    };
}

/// After a failed connection attempt, calls fail fast for this long instead
/// of each waiting for a connect timeout.
pub(super) const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

pub(crate) struct RedisStore {
    client: redis::Client,
    url: RedactedUrl,
    conn: OnceCell<ConnectionManager>,
    last_failure: Mutex<Option<Instant>>,
    timeout: Duration,
    /// The in-process tier, unless configured off.
    near: Option<Arc<Near>>,
    /// The connections' losses and returns (see `continuity`).
    continuity: Arc<Continuity>,
}

impl RedisStore {
    /// A store on `url`; `local_max_bytes` bounds the in-process tier (`0`:
    /// none) of the app whose keys start with `prefix`.
    pub(crate) fn new(
        url: &RedactedUrl,
        timeout: Duration,
        local_max_bytes: u64,
        prefix: &str,
    ) -> Result<Self, CacheError> {
        let client = redis::Client::open(url.expose())
            .map_err(|err| CacheError::Unavailable(format!("invalid Redis URL {url}: {err}")))?;
        let continuity = Arc::<Continuity>::default();
        Ok(RedisStore {
            client,
            url: url.clone(),
            conn: OnceCell::new(),
            last_failure: Mutex::new(None),
            timeout,
            near: (local_max_bytes > 0)
                .then(|| Near::new(local_max_bytes, prefix, Arc::clone(&continuity))),
            continuity,
        })
    }

    /// The tier, its keeper started (on first use: it needs a runtime).
    fn near(&self) -> Option<&Arc<Near>> {
        let near = self.near.as_ref()?;
        near.start(&self.client, self.timeout);
        Some(near)
    }

    /// The generation of the connection while it came back less than
    /// `window_secs` ago (see `continuity`).
    pub(crate) fn unsettled(&self, window_secs: i64) -> Option<u64> {
        self.continuity.unsettled(window_secs)
    }

    /// Whether the in-process tier is in use (`None`: configured off).
    pub(crate) fn local_tier_live(&self) -> Option<bool> {
        Some(self.near()?.is_live())
    }

    /// A value the in-process tier holds, read without waiting.
    pub(crate) fn get_now(&self, key: &str) -> Option<Bytes> {
        self.near()?.get(key)
    }

    /// Drops `key` from this instance's tier after this instance changed it
    /// (the server's message to every instance follows).
    fn forget(&self, key: &str) {
        if let Some(near) = &self.near {
            near.forget(key);
        }
    }

    /// Waits until the tier has heard of every change this instance made
    /// so far: the tracking connection answers in order, after the
    /// invalidations those changes sent it. For changes whose keys only
    /// the server knows (flushes, tag invalidations).
    async fn settle(&self) {
        if let Some(near) = &self.near {
            near.settle(self.timeout).await;
        }
    }

    /// The connection, made on first use; once made it reconnects by itself.
    async fn connection(&self) -> Result<ConnectionManager, CacheError> {
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        if let Some(failed) = *self.last_failure.lock().unwrap_or_else(|p| p.into_inner())
            && failed.elapsed() < RECONNECT_PAUSE
        {
            return Err(CacheError::Unavailable("Redis unreachable".into()));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let result = self
            .conn
            .get_or_try_init(|| self.client.get_connection_manager_with_config(config))
            .await;
        match result {
            Ok(conn) => Ok(conn.clone()),
            Err(err) => {
                *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                tracing::warn!(cache = %self.url, error = %err, "Redis unreachable");
                Err(CacheError::Unavailable(format!("Redis unreachable: {err}")))
            }
        }
    }

    async fn run<T, F, Fut>(&self, command: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = match self.connection().await {
            Ok(conn) => conn,
            Err(err) => {
                self.continuity.lost();
                return Err(err);
            }
        };
        // Any failure may be a lost connection, which the manager makes
        // again, perhaps to another server: noted either way.
        match tokio::time::timeout(self.timeout, command(conn)).await {
            Ok(Ok(value)) => {
                self.continuity.answered();
                Ok(value)
            }
            Ok(Err(err)) => {
                self.continuity.lost();
                Err(CacheError::Unavailable(format!("Redis error: {err}")))
            }
            Err(_) => {
                self.continuity.lost();
                Err(CacheError::Unavailable(format!(
                    "Redis did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        if let Some(near) = self.near() {
            if let Some(value) = near.get(key) {
                return Ok(Some(value));
            }
            // Read on the tracking connection, so Redis tells when it changes.
            if let Some((mut tracked, ticket)) = near.reader(key) {
                let mut pipe = redis::pipe();
                pipe.get(key).cmd("PTTL").arg(key);
                let read = pipe.query_async::<(Option<Vec<u8>>, i64)>(&mut tracked);
                match tokio::time::timeout(self.timeout, read).await {
                    Ok(Ok((value, ttl))) => {
                        let value = value.map(Bytes::from);
                        if let Some(value) = &value {
                            near.keep(key, value.clone(), ttl, &ticket);
                        }
                        return Ok(value);
                    }
                    // The tier goes down with its connection; Redis itself
                    // may still answer on the other.
                    _ => near.lost(),
                }
            }
        }
        self.run(|mut c| async move { c.get::<_, Option<Vec<u8>>>(key).await })
            .await
            .map(|v| v.map(Bytes::from))
    }

    /// Stores `value` at `key` for `ttl`, recorded in `index` and in each
    /// of `tags` (all full key names), atomically.
    pub(crate) async fn set(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        index: &str,
        tags: &[String],
    ) -> Result<(), CacheError> {
        // A tag's set names each entry with its index (length-prefixed),
        // so an invalidation also takes the entry out of its index.
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(concat!(
                record_lua!(),
                "local ttl = tonumber(ARGV[2]) \
                 redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl) \
                 record(KEYS[2], KEYS[1], ttl) \
                 local tagged = string.len(KEYS[2]) .. ':' .. KEYS[2] .. KEYS[1] \
                 for i = 3, #KEYS do record(KEYS[i], tagged, ttl) end \
                 return 0",
            ))
        });
        let millis = millis(ttl);
        self.run(|mut c| async move {
            let mut invocation = SCRIPT.key(key);
            invocation.key(index);
            for tag in tags {
                invocation.key(tag);
            }
            invocation
                .arg(value.as_ref())
                .arg(millis)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await?;
        self.forget(key);
        Ok(())
    }

    /// Removes every entry recorded in one of `tags`' sets, and the sets:
    /// one script, whatever the number of entries. How many entries went.
    pub(crate) async fn invalidate(&self, tags: &[String]) -> Result<u64, CacheError> {
        if tags.is_empty() {
            return Ok(0);
        }
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(
                "local removed = 0 \
                 for i = 1, #KEYS do \
                   local members = redis.call('ZRANGE', KEYS[i], 0, -1) \
                   for j = 1, #members do \
                     local m = members[j] \
                     local colon = string.find(m, ':', 1, true) \
                     local length = tonumber(string.sub(m, 1, colon - 1)) \
                     local index = string.sub(m, colon + 1, colon + length) \
                     local key = string.sub(m, colon + length + 1) \
                     removed = removed + redis.call('DEL', key) \
                     redis.call('ZREM', index, key) \
                   end \
                   redis.call('DEL', KEYS[i]) \
                 end return removed",
            )
        });
        let removed = self
            .run(|mut c| async move {
                let mut invocation = SCRIPT.prepare_invoke();
                for tag in tags {
                    invocation.key(tag);
                }
                invocation.invoke_async::<u64>(&mut c).await
            })
            .await;
        self.settle().await;
        removed
    }

    /// Removes `key`, and its line in `index`.
    pub(crate) async fn delete(&self, key: &str, index: &str) -> Result<bool, CacheError> {
        let deleted = self
            .run(|mut c| async move {
                let (removed, _): (u64, u64) = redis::pipe()
                    .atomic()
                    .del(key)
                    .zrem(index, key)
                    .query_async(&mut c)
                    .await?;
                Ok(removed)
            })
            .await;
        self.forget(key);
        deleted.map(|n| n > 0)
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool, CacheError> {
        self.run(|mut c| async move { c.exists::<_, bool>(key).await })
            .await
    }
    /// Adds one to the counter at `key` (made with `ttl` when missing),
    /// recorded in `index`.
    pub(crate) async fn increment(
        &self,
        key: &str,
        ttl: Duration,
        index: &str,
    ) -> Result<i64, CacheError> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(concat!(
                record_lua!(),
                "local value = redis.call('INCR', KEYS[1]) \
                 if redis.call('PTTL', KEYS[1]) < 0 then \
                   redis.call('PEXPIRE', KEYS[1], ARGV[1]) \
                 end \
                 record(KEYS[2], KEYS[1], redis.call('PTTL', KEYS[1])) \
                 return value",
            ))
        });
        let millis = millis(ttl);
        let counted = self
            .run(|mut c| async move {
                SCRIPT
                    .key(key)
                    .key(index)
                    .arg(millis)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        self.forget(key);
        counted
    }
    pub(crate) async fn set_max(
        &self,
        key: &str,
        value: i64,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(
                "local held = tonumber(redis.call('GET', KEYS[1])) \
                 if held == nil or held < tonumber(ARGV[1]) then \
                   redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
                 end return 0",
            )
        });
        let millis = millis(ttl);
        let done = self
            .run(|mut c| async move {
                SCRIPT
                    .key(key)
                    .arg(value)
                    .arg(millis)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        self.forget(key);
        done.map(drop)
    }

    /// Runs `script` on `key` with `args` (see `Cache::run_script`).
    pub(crate) async fn run_script<T>(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[i64],
    ) -> Result<T, CacheError>
    where
        T: redis::FromRedisValue + Send,
    {
        self.run(|mut c| async move {
            let mut invocation = script.key(key);
            for arg in args {
                invocation.arg(*arg);
            }
            invocation.invoke_async(&mut c).await
        })
        .await
    }

    /// Removes the keys of `index` matching `glob`: the cost is the
    /// namespace's own keys, never the rest of the database.
    pub(crate) async fn flush(&self, index: &str, glob: &str) -> Result<u64, CacheError> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(
                "local cursor = '0' local matched = {} \
                 repeat \
                   local page = redis.call('ZSCAN', KEYS[1], cursor, 'MATCH', ARGV[1], 'COUNT', 1000) \
                   cursor = page[1] \
                   for i = 1, #page[2], 2 do matched[#matched + 1] = page[2][i] end \
                 until cursor == '0' \
                 local removed = 0 \
                 for j = 1, #matched, 1000 do \
                   local last = math.min(j + 999, #matched) \
                   removed = removed + redis.call('DEL', unpack(matched, j, last)) \
                   redis.call('ZREM', KEYS[1], unpack(matched, j, last)) \
                 end return removed",
            )
        });
        let removed = self
            .run(|mut c| async move {
                SCRIPT
                    .key(index)
                    .arg(glob)
                    .invoke_async::<u64>(&mut c)
                    .await
            })
            .await;
        self.settle().await;
        removed
    }
}

/// A TTL in whole milliseconds, at least one.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}
