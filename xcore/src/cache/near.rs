//! The in-process tier in front of Redis, kept correct by Redis itself
//! (server-assisted client-side caching, RESP3 `CLIENT TRACKING`).
//!
//! Values read through the tier's own connection are tracked by the
//! server, which pushes an `invalidate` message on that connection as soon
//! as any client — this instance or another — changes or removes one of
//! them; the message is handled inside the connection's driver, before
//! anything after it is read. So a hit needs no round trip, and a write,
//! a flush, a tag invalidation or a revocation made anywhere reaches every
//! instance's copy within a round trip.
//!
//! The tier is trusted only while that connection lives. When it is lost
//! (closed, killed, silent past a ping), the tier is emptied and bypassed
//! (reads go to Redis as without it) until a new connection has tracking
//! on again: never served stale.
//!
//! A read racing an invalidation of its key is not kept: each key hashes to
//! one of [`BUCKETS`] counters that every invalidation bumps; a read notes
//! its counter (and the tier's epoch, bumped on every loss, reconnection
//! and flush) before asking Redis and keeps the answer only if neither
//! moved, checked before and after it is stored.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use coarsetime::Instant;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::Notify;

use super::CacheError;
use super::continuity::Continuity;

/// Invalidation counters keys hash to.
const BUCKETS: usize = 4096;

/// How often the tracking connection is pinged: a connection that died
/// without closing (a cable, a frozen server) is given up after this and
/// the connection timeout.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Longest a value is kept without being read again from Redis, whatever
/// its TTL there (the server's expiry, seen as an invalidation, may lag).
const MAX_LOCAL_TTL: Duration = Duration::from_secs(300);

/// The name a tracking connection gives itself (`CLIENT LIST`): this, then
/// `@` and the app's key prefix.
const CONNECTION_NAME: &str = "xcore-tracking";

#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires: Instant,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.value.len() + 48) as u64
    }
}

/// The tier: values, the counters that guard them, and the connection.
pub(crate) struct Near {
    entries: Cache<String, Entry, ByBytes>,
    buckets: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
    /// Bumped on every loss, reconnection and full flush.
    epoch: AtomicU64,
    /// Whether the tracking connection is up: the tier may be used.
    live: AtomicBool,
    connection: RwLock<Option<MultiplexedConnection>>,
    /// Wakes the supervisor when the connection is lost.
    lost: Notify,
    /// Which connection is the tier's (a late message from an earlier one
    /// changes nothing).
    connection_id: AtomicU64,
    /// Whether the supervisor runs.
    started: AtomicBool,
    /// The tracking connection's name.
    name: String,
    /// Told of the connection's losses and returns.
    continuity: Arc<Continuity>,
}

/// What a tracked read notes before it asks Redis.
pub(crate) struct Ticket {
    epoch: u64,
    bucket: usize,
    count: u64,
}

impl Near {
    /// A tier of at most `max_bytes` (keys and values), for the app whose
    /// keys start with `prefix`, telling `continuity` when its connection
    /// is lost and back.
    pub(crate) fn new(max_bytes: u64, prefix: &str, continuity: Arc<Continuity>) -> Arc<Self> {
        let estimated = usize::try_from((max_bytes / 512).clamp(16, 1 << 20)).unwrap_or(16);
        Arc::new(Near {
            entries: Cache::with_weighter(estimated, max_bytes, ByBytes),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(false),
            connection: RwLock::new(None),
            lost: Notify::new(),
            connection_id: AtomicU64::new(0),
            started: AtomicBool::new(false),
            name: connection_name(prefix),
            continuity,
        })
    }

    /// Whether the tier is in use now.
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// The value of `key` if the tier holds it, live, and unexpired.
    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        if !self.is_live() {
            return None;
        }
        let entry = self.entries.get(key)?;
        if entry.expires > Instant::now() {
            Some(entry.value)
        } else {
            self.entries.remove(key);
            None
        }
    }

    /// The connection to read `key` through, tracked, and the ticket to
    /// keep its answer with; `None` when the tier is down.
    pub(crate) fn reader(&self, key: &str) -> Option<(MultiplexedConnection, Ticket)> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        if !self.is_live() {
            return None;
        }
        let connection = self
            .connection
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let bucket = self.bucket(key);
        let count = self.buckets[bucket].load(Ordering::SeqCst);
        Some((
            connection,
            Ticket {
                epoch,
                bucket,
                count,
            },
        ))
    }

    /// Keeps what a tracked read of `key` answered, unless the key was
    /// invalidated (or the tier lost) since its ticket was taken. `ttl` is
    /// what Redis said is left (`PTTL`, milliseconds).
    pub(crate) fn keep(&self, key: &str, value: Bytes, ttl_ms: i64, ticket: &Ticket) {
        let Ok(ttl_ms) = u64::try_from(ttl_ms) else {
            // No expiry (-1) or gone (-2): not a cache value; not kept.
            return;
        };
        if !self.unchanged(ticket) {
            return;
        }
        let ttl = Duration::from_millis(ttl_ms).min(MAX_LOCAL_TTL);
        let expires = Instant::now() + coarsetime::Duration::from(ttl);
        self.entries
            .insert(key.to_owned(), Entry { value, expires });
        if !self.unchanged(ticket) {
            self.entries.remove(key);
        }
    }

    fn unchanged(&self, ticket: &Ticket) -> bool {
        self.is_live()
            && self.epoch.load(Ordering::SeqCst) == ticket.epoch
            && self.buckets[ticket.bucket].load(Ordering::SeqCst) == ticket.count
    }

    /// Drops `key`: this instance changed it (the server's message follows,
    /// but a read here must not wait for it).
    pub(crate) fn forget(&self, key: &str) {
        self.buckets[self.bucket(key)].fetch_add(1, Ordering::SeqCst);
        self.entries.remove(key);
    }

    /// A tracked read failed: the connection is given up (the keeper makes
    /// another).
    pub(crate) fn lost(&self) {
        self.down();
        self.lost.notify_one();
    }

    /// Returns once every invalidation Redis sent before now has been
    /// handled: the tracking connection answers a `PING` only after them.
    /// On failure the tier goes down, which serves the same end.
    pub(crate) async fn settle(&self, timeout: Duration) {
        let connection = if self.is_live() {
            self.connection
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        } else {
            None
        };
        let Some(mut connection) = connection else {
            return;
        };
        if !ping(&mut connection, timeout).await {
            self.lost();
        }
    }

    /// Drops everything (a `FLUSHALL`, or the connection lost).
    fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    fn bucket(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % BUCKETS
    }

    /// What the driver of tracking connection `id` hands over:
    /// invalidations, and its end.
    fn on_push(&self, id: u64, push: PushInfo) {
        match push.kind {
            PushKind::Invalidate => match push.data.first() {
                Some(Value::Array(keys)) => {
                    for key in keys {
                        if let Value::BulkString(key) = key
                            && let Ok(key) = std::str::from_utf8(key)
                        {
                            self.forget(key);
                        }
                    }
                }
                // `nil`: the whole database was flushed.
                _ => self.forget_all(),
            },
            PushKind::Disconnection if self.connection_id.load(Ordering::SeqCst) == id => {
                self.down();
                self.lost.notify_one();
            }
            _ => {}
        }
    }

    /// The connection is lost: empty the tier and stop using it.
    fn down(&self) {
        self.continuity.lost();
        let was_live = self.live.swap(false, Ordering::SeqCst);
        self.forget_all();
        *self.connection.write().unwrap_or_else(|p| p.into_inner()) = None;
        if was_live {
            tracing::warn!("Redis tracking connection lost: in-process tier off until it is back");
        }
    }

    fn up(&self, id: u64, connection: MultiplexedConnection) {
        self.connection_id.store(id, Ordering::SeqCst);
        self.forget_all();
        *self.connection.write().unwrap_or_else(|p| p.into_inner()) = Some(connection);
        self.live.store(true, Ordering::SeqCst);
        self.continuity.answered();
    }

    /// Starts, once, the task that keeps a tracking connection open.
    pub(crate) fn start(self: &Arc<Self>, client: &redis::Client, timeout: Duration) {
        // A read first: this runs on every lookup, the write only once.
        if self.started.load(Ordering::Relaxed) || self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.started.store(false, Ordering::SeqCst);
            return;
        };
        let client = match resp3(client) {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(error = %err, "no in-process tier in front of Redis");
                return;
            }
        };
        runtime.spawn(supervise(Arc::downgrade(self), client, timeout));
    }
}

/// `xcore-tracking@<prefix>`, with what `CLIENT SETNAME` refuses (spaces,
/// line breaks) replaced.
pub(crate) fn connection_name(prefix: &str) -> String {
    let prefix: String = prefix
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    format!("{CONNECTION_NAME}@{prefix}")
}

/// The same server, spoken to in RESP3 (pushes need it).
fn resp3(client: &redis::Client) -> redis::RedisResult<redis::Client> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings))
}

/// Keeps a tracking connection open for as long as the tier exists:
/// connect, turn tracking on, serve, and on loss start over.
async fn supervise(near: Weak<Near>, client: redis::Client, timeout: Duration) {
    let mut id = 0;
    loop {
        id += 1;
        let Some(tier) = near.upgrade() else { return };
        match connect(&tier, id, &client, timeout).await {
            Ok(mut connection) => {
                tier.up(id, connection.clone());
                tracing::debug!("Redis tracking connection up: in-process tier on");
                drop(tier);
                // Until the driver reports the end, or a ping goes unanswered.
                loop {
                    let Some(tier) = near.upgrade() else { return };
                    tokio::select! {
                        () = tier.lost.notified() => {}
                        () = tokio::time::sleep(PING_EVERY) => {
                            if !ping(&mut connection, timeout).await {
                                tier.down();
                            }
                        }
                    }
                    if !tier.is_live() {
                        break;
                    }
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "Redis tracking connection not made");
            }
        }
        tokio::time::sleep(super::redis_store::RECONNECT_PAUSE).await;
    }
}

/// Whether the connection answers a `PING` within `timeout`.
async fn ping(connection: &mut MultiplexedConnection, timeout: Duration) -> bool {
    let command = redis::cmd("PING");
    matches!(
        tokio::time::timeout(timeout, command.query_async::<()>(connection)).await,
        Ok(Ok(()))
    )
}

async fn connect(
    near: &Arc<Near>,
    id: u64,
    client: &redis::Client,
    timeout: Duration,
) -> Result<MultiplexedConnection, CacheError> {
    let weak = Arc::downgrade(near);
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(move |push: PushInfo| {
            if let Some(near) = weak.upgrade() {
                near.on_push(id, push);
            }
            Ok::<(), std::convert::Infallible>(())
        });
    let unavailable = |err: redis::RedisError| CacheError::Unavailable(err.to_string());
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(unavailable)?;
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(&near.name)
        .query_async::<()>(&mut connection)
        .await
        .map_err(unavailable)?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .query_async::<()>(&mut connection)
        .await
        .map_err(unavailable)?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_racing_an_invalidation_is_not_kept() {
        let near = Near::new(1 << 20, "test:", Arc::default());
        near.live.store(true, Ordering::SeqCst);
        // No connection: build a ticket by hand, as `reader` would.
        let ticket = |key: &str| {
            let bucket = near.bucket(key);
            Ticket {
                epoch: near.epoch.load(Ordering::SeqCst),
                bucket,
                count: near.buckets[bucket].load(Ordering::SeqCst),
            }
        };
        let before = ticket("a");
        near.forget("a");
        near.keep("a", Bytes::from_static(b"old"), 60_000, &before);
        assert_eq!(near.get("a"), None, "invalidated while in flight");

        let fresh = ticket("a");
        near.keep("a", Bytes::from_static(b"new"), 60_000, &fresh);
        assert_eq!(near.get("a").as_deref(), Some(&b"new"[..]));

        let before_flush = ticket("b");
        near.forget_all();
        near.keep("b", Bytes::from_static(b"x"), 60_000, &before_flush);
        assert_eq!(near.get("b"), None, "flushed while in flight");
        assert_eq!(near.get("a"), None, "a flush empties the tier");
    }

    #[test]
    fn a_lost_connection_empties_and_bypasses_the_tier() {
        let near = Near::new(1 << 20, "test:", Arc::default());
        near.live.store(true, Ordering::SeqCst);
        let bucket = near.bucket("k");
        let ticket = Ticket {
            epoch: near.epoch.load(Ordering::SeqCst),
            bucket,
            count: 0,
        };
        near.keep("k", Bytes::from_static(b"v"), 60_000, &ticket);
        assert!(near.get("k").is_some());
        near.connection_id.store(1, Ordering::SeqCst);
        near.on_push(
            1,
            PushInfo {
                kind: PushKind::Disconnection,
                data: Vec::new(),
            },
        );
        assert!(!near.is_live());
        assert_eq!(near.get("k"), None);
        // Values without an expiry are not cache values: never kept.
        near.live.store(true, Ordering::SeqCst);
        let ticket = Ticket {
            epoch: near.epoch.load(Ordering::SeqCst),
            bucket,
            count: near.buckets[bucket].load(Ordering::SeqCst),
        };
        near.keep("k", Bytes::from_static(b"v"), -1, &ticket);
        assert_eq!(near.get("k"), None);
    }

    #[test]
    fn invalidation_messages_drop_their_keys_and_nil_drops_all() {
        let near = Near::new(1 << 20, "test:", Arc::default());
        near.live.store(true, Ordering::SeqCst);
        for key in ["a", "b"] {
            let bucket = near.bucket(key);
            let ticket = Ticket {
                epoch: near.epoch.load(Ordering::SeqCst),
                bucket,
                count: near.buckets[bucket].load(Ordering::SeqCst),
            };
            near.keep(key, Bytes::from_static(b"v"), 60_000, &ticket);
        }
        near.on_push(
            0,
            PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Array(vec![Value::BulkString(b"a".to_vec())])],
            },
        );
        assert_eq!(near.get("a"), None);
        assert!(near.get("b").is_some());
        near.on_push(
            0,
            PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Nil],
            },
        );
        assert_eq!(near.get("b"), None);
    }
}
