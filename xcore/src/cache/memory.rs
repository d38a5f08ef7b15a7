//! The in-process backend: bounded by bytes, with a TTL per entry.

use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::sync::Cache;

use super::pattern;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        entry: &Entry,
        _created: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _updated: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub(crate) struct MemoryStore {
    entries: Cache<String, Entry>,
}

impl MemoryStore {
    pub(crate) fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        MemoryStore { entries }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        self.entries.get(key).map(|entry| entry.value)
    }

    pub(crate) fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        self.entries.insert(key.to_owned(), Entry { value, ttl });
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    pub(crate) fn exists(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub(crate) fn flush(&self, glob: &str) -> u64 {
        let mut removed = 0;
        for (key, _) in self.entries.iter() {
            if pattern::matches(glob, &key) && self.entries.remove(key.as_str()).is_some() {
                removed += 1;
            }
        }
        removed
    }
}
