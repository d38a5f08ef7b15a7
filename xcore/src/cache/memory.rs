//! The in-process backend: bounded by bytes (keys plus values), each entry
//! with its own expiry. Expired entries read as absent and are dropped on
//! access or pushed out by newer ones.
//!
//! Expiry uses the coarse monotonic clock (a few milliseconds of
//! resolution, a fraction of the cost of `Instant::now()` on every hit):
//! TTLs are whole seconds, so the difference never shows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use coarsetime::Instant;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::{Counter, pattern};

#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires: Instant,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires > now
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.value.len()) as u64
    }
}

/// Rough size of an entry, to size the table for `max_bytes`.
const TYPICAL_ENTRY: u64 = 1024;

pub(crate) struct MemoryStore {
    entries: Cache<String, Entry, ByBytes>,
    /// Serialises read-modify-write counters.
    counters: std::sync::Mutex<()>,
}

impl MemoryStore {
    pub(crate) fn new(max_bytes: u64) -> Self {
        let estimated =
            usize::try_from((max_bytes / TYPICAL_ENTRY).clamp(16, 1 << 20)).unwrap_or(16);
        MemoryStore {
            entries: Cache::with_weighter(estimated, max_bytes, ByBytes),
            counters: std::sync::Mutex::new(()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        let entry = self.entries.get(key)?;
        if entry.live(Instant::now()) {
            Some(entry.value)
        } else {
            self.entries.remove(key);
            None
        }
    }

    pub(crate) fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        let expires = Instant::now() + coarsetime::Duration::from(ttl);
        self.entries
            .insert(key.to_owned(), Entry { value, expires });
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        self.entries
            .remove(key)
            .is_some_and(|(_, entry)| entry.live(Instant::now()))
    }

    pub(crate) fn exists(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Adds one to the counter at `key` (created at 1 with `ttl`, which later
    /// increments keep).
    pub(crate) fn count(&self, key: &str, ttl: Duration) -> Counter {
        self.update(key, |current, now| match current {
            Some((value, expires)) => Some((value + 1, expires)),
            None => Some((1, now + coarsetime::Duration::from(ttl))),
        })
        .unwrap_or(Counter {
            value: 1,
            expires_in: ttl,
        })
    }

    /// Takes one from a live counter.
    pub(crate) fn decrement(&self, key: &str) {
        self.update(key, |current, _| {
            current.map(|(value, expires)| (value.saturating_sub(1).max(0), expires))
        });
    }

    /// Stores `value` unless a larger number is there.
    pub(crate) fn set_max(&self, key: &str, value: i64, ttl: Duration) {
        self.update(key, |current, now| match current {
            Some((held, _)) if held >= value => None,
            _ => Some((value, now + coarsetime::Duration::from(ttl))),
        });
    }

    /// Read-modify-write of a number, serialised: `change` sees the live
    /// value and its expiry and returns what to store (`None`: nothing).
    fn update(
        &self,
        key: &str,
        change: impl FnOnce(Option<(i64, Instant)>, Instant) -> Option<(i64, Instant)>,
    ) -> Option<Counter> {
        let _serial = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let current = self
            .entries
            .get(key)
            .filter(|entry| entry.live(now))
            .map(|entry| {
                let value = std::str::from_utf8(&entry.value)
                    .ok()
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                (value, entry.expires)
            });
        let (value, expires) = change(current, now)?;
        self.entries.insert(
            key.to_owned(),
            Entry {
                value: Bytes::from(value.to_string()),
                expires,
            },
        );
        Some(Counter {
            value,
            expires_in: expires.duration_since(now).into(),
        })
    }

    pub(crate) fn flush(&self, glob: &str) -> u64 {
        let now = Instant::now();
        let removed = AtomicU64::new(0);
        self.entries.retain(|key, entry| {
            let matched = pattern::matches(glob, key);
            if matched && entry.live(now) {
                removed.fetch_add(1, Ordering::Relaxed);
            }
            !matched
        });
        removed.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_bounded() {
        let store = MemoryStore::new(10 * 1024);
        for i in 0..1000 {
            store.set(
                &format!("k{i}"),
                Bytes::from(vec![0; 100]),
                Duration::from_secs(60),
            );
        }
        let kept = (0..1000).filter(|i| store.exists(&format!("k{i}"))).count();
        assert!(
            kept > 0 && kept <= 100,
            "kept {kept} entries of ~104 bytes in 10 KiB"
        );
    }

    #[test]
    fn expired_entries_read_as_absent() {
        let store = MemoryStore::new(1 << 20);
        store.set("a", Bytes::from_static(b"1"), Duration::ZERO);
        assert_eq!(store.get("a"), None);
        assert!(!store.delete("a"));
    }
}
