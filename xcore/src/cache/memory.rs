//! The in-process backend: bounded by bytes (keys plus values), each entry
//! with its own expiry. Expired entries read as absent and are dropped on
//! access or pushed out by newer ones.
//!
//! Tags are versions, not lists: an entry remembers the tag epoch it was
//! stored at, invalidating a tag records the epoch it happened at, and an
//! entry with a tag invalidated since it was stored reads as absent. So an
//! invalidation costs one map insert however many entries carry the tag,
//! and entries nobody reads again are pushed out as any other.
//!
//! Expiry uses the coarse monotonic clock (a few milliseconds of
//! resolution, a fraction of the cost of `Instant::now()` on every hit):
//! TTLs are whole seconds, so the difference never shows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use coarsetime::Instant;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::pattern;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires: Instant,
    /// The entry's tags and the epoch it was stored at.
    tagged: Option<Arc<Tagged>>,
}

struct Tagged {
    tags: Box<[Box<str>]>,
    epoch: u64,
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
        let tags = entry.tagged.as_ref().map_or(0, |t| {
            t.tags.iter().map(|tag| tag.len() + 16).sum::<usize>()
        });
        (key.len() + entry.value.len() + tags) as u64
    }
}

/// Rough size of an entry, to size the table for `max_bytes`.
const TYPICAL_ENTRY: u64 = 1024;

pub(crate) struct MemoryStore {
    entries: Cache<String, Entry, ByBytes>,
    /// Serialises read-modify-write counters.
    counters: std::sync::Mutex<()>,
    tags: TagClock,
}

/// When tags were invalidated, in epochs.
#[derive(Default)]
struct TagClock {
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// The epoch of each tag's last invalidation. Read-locked by tagged
    /// writes, so that a purge (which empties it) never misses one.
    invalidated: RwLock<HashMap<Box<str>, u64>>,
    /// Whether `invalidated` holds anything: untagged-only workloads and
    /// tagged reads before any invalidation take no lock.
    any: AtomicBool,
}

/// Past this many invalidated tags remembered, stale entries are purged
/// and the record starts over, so the record stays bounded.
const MAX_INVALIDATED: usize = 4096;

impl MemoryStore {
    pub(crate) fn new(max_bytes: u64) -> Self {
        let estimated =
            usize::try_from((max_bytes / TYPICAL_ENTRY).clamp(16, 1 << 20)).unwrap_or(16);
        MemoryStore {
            entries: Cache::with_weighter(estimated, max_bytes, ByBytes),
            counters: std::sync::Mutex::new(()),
            tags: TagClock::default(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        let entry = self.entries.get(key)?;
        if entry.live(Instant::now()) && !self.stale(&entry) {
            Some(entry.value)
        } else {
            self.entries.remove(key);
            None
        }
    }

    /// Whether one of the entry's tags was invalidated since it was stored.
    fn stale(&self, entry: &Entry) -> bool {
        let Some(tagged) = &entry.tagged else {
            return false;
        };
        // No invalidation since it was stored, or none remembered: fresh,
        // without a look at the record.
        if self.tags.epoch.load(Ordering::Acquire) == tagged.epoch
            || !self.tags.any.load(Ordering::Acquire)
        {
            return false;
        }
        let invalidated = self
            .tags
            .invalidated
            .read()
            .unwrap_or_else(|p| p.into_inner());
        tagged
            .tags
            .iter()
            .any(|tag| invalidated.get(tag).is_some_and(|at| *at > tagged.epoch))
    }

    /// Stores `value` for `ttl`, carrying `tags` (full tag names).
    pub(crate) fn set(&self, key: &str, value: Bytes, ttl: Duration, tags: &[String]) {
        let expires = Instant::now() + coarsetime::Duration::from(ttl);
        if tags.is_empty() {
            let entry = Entry {
                value,
                expires,
                tagged: None,
            };
            self.entries.insert(key.to_owned(), entry);
            return;
        }
        // Held across reading the epoch and inserting: a purge cannot run
        // in between and forget an invalidation this entry predates.
        let _record = self
            .tags
            .invalidated
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let tagged = Tagged {
            tags: tags.iter().map(|tag| Box::from(tag.as_str())).collect(),
            epoch: self.tags.epoch.load(Ordering::Acquire),
        };
        let entry = Entry {
            value,
            expires,
            tagged: Some(Arc::new(tagged)),
        };
        self.entries.insert(key.to_owned(), entry);
    }

    /// Makes every entry carrying one of `tags` read as absent (dropped as
    /// it is next read, or pushed out as any other).
    pub(crate) fn invalidate(&self, tags: &[String]) {
        if tags.is_empty() {
            return;
        }
        let mut invalidated = self
            .tags
            .invalidated
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let epoch = self.tags.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        for tag in tags {
            invalidated.insert(Box::from(tag.as_str()), epoch);
        }
        self.tags.any.store(true, Ordering::Release);
        if invalidated.len() > MAX_INVALIDATED {
            // Drop what the record makes stale, then forget the record:
            // no entry left predates it. Tagged writes wait meanwhile.
            let now = Instant::now();
            self.entries.retain(|_, entry| {
                entry.live(now)
                    && entry.tagged.as_ref().is_none_or(|tagged| {
                        !tagged
                            .tags
                            .iter()
                            .any(|tag| invalidated.get(tag).is_some_and(|at| *at > tagged.epoch))
                    })
            });
            invalidated.clear();
            self.tags.any.store(false, Ordering::Release);
        }
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        self.entries
            .remove(key)
            .is_some_and(|(_, entry)| entry.live(Instant::now()))
    }

    pub(crate) fn exists(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Adds one to the counter at `key` (made with `ttl` when missing):
    /// the new value.
    pub(crate) fn increment(&self, key: &str, ttl: Duration) -> i64 {
        self.update(key, |current, now| match current {
            Some((value, expires)) => Some((value + 1, expires)),
            None => Some((1, now + coarsetime::Duration::from(ttl))),
        })
        .map_or(1, |(value, _)| value)
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
    ) -> Option<(i64, Instant)> {
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
                tagged: None,
            },
        );
        Some((value, expires))
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
                &[],
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
        store.set("a", Bytes::from_static(b"1"), Duration::ZERO, &[]);
        assert_eq!(store.get("a"), None);
        assert!(!store.delete("a"));
    }

    #[test]
    fn an_invalidated_tag_hides_what_was_stored_before_it_only() {
        let store = MemoryStore::new(1 << 20);
        let minute = Duration::from_secs(60);
        let tags = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        store.set("a", Bytes::from_static(b"1"), minute, &tags(&["t", "u"]));
        store.set("b", Bytes::from_static(b"2"), minute, &tags(&["u"]));
        store.set("c", Bytes::from_static(b"3"), minute, &[]);
        store.invalidate(&tags(&["t"]));
        assert_eq!(store.get("a"), None);
        assert!(store.get("b").is_some() && store.get("c").is_some());
        store.set("a", Bytes::from_static(b"4"), minute, &tags(&["t"]));
        assert_eq!(store.get("a").as_deref(), Some(&b"4"[..]), "stored after");
    }

    #[test]
    fn the_record_of_invalidations_stays_bounded_and_forgets_nothing_live() {
        let store = MemoryStore::new(1 << 20);
        let minute = Duration::from_secs(60);
        store.set("old", Bytes::from_static(b"1"), minute, &["t0".to_owned()]);
        store.set(
            "kept",
            Bytes::from_static(b"2"),
            minute,
            &["other".to_owned()],
        );
        for i in 0..=MAX_INVALIDATED {
            store.invalidate(&[format!("t{i}")]);
        }
        let record = store.tags.invalidated.read().expect("record").len();
        assert!(record <= MAX_INVALIDATED, "{record} tags remembered");
        assert_eq!(store.get("old"), None, "purged, not resurrected");
        assert!(store.get("kept").is_some());
    }
}
