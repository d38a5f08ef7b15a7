//! Where the in-process limits keep their state: governor's GCRA over a
//! map of per-key slots, each thread remembering the slots it used last.
//!
//! governor's own dashmap store takes the shard's lock twice and the
//! slot's once on every check; measured on the limited bench route, the
//! two lock operations were most of what a limit cost (each drains the
//! store buffer a request's moves have just filled). A thread that checks
//! the same key again (a client on a kept-alive connection, most traffic)
//! finds its slot in a small per-thread list and pays the slot's one
//! compare-and-swap. The list holds the slot alive, so the sweep keeps a
//! slot any thread still holds: there is only ever one slot per key, and
//! the count can never be split between two.

use std::cell::RefCell;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;

use super::limiter::AsIs;

/// One key's theoretical arrival time, in nanoseconds since the limiter
/// started (0: never used), as governor's `InMemoryState` keeps it.
#[derive(Default)]
struct Slot(AtomicU64);

/// The state of one limiter, keyed by the hashed key: a handle, shared by
/// governor (which decides) and the limiter (which gives back and forgets).
#[derive(Clone)]
pub(crate) struct SlotStore(Arc<Slots>);

struct Slots {
    slots: DashMap<u64, Arc<Slot>, std::hash::BuildHasherDefault<AsIs>>,
    /// Tells this store's slots from another's in the per-thread lists.
    id: u64,
}

/// Slots a thread remembers, across every store.
const RECENT: usize = 4;

type Recent = [Option<(u64, u64, Arc<Slot>)>; RECENT];

thread_local! {
    static RECENTLY_USED: RefCell<Recent> = const { RefCell::new([const { None }; RECENT]) };
}

impl Default for SlotStore {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SlotStore(Arc::new(Slots {
            slots: DashMap::default(),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        }))
    }
}

impl SlotStore {
    /// The slot of `key`: from this thread's list, or from the map (then
    /// put at the head of the list).
    #[inline]
    fn with_slot<R>(&self, key: u64, use_slot: impl FnOnce(&Slot) -> R) -> R {
        RECENTLY_USED.with(|recent| {
            let mut recent = recent.borrow_mut();
            if let Some(found) = recent
                .iter()
                .position(|held| matches!(held, Some((id, k, _)) if *id == self.0.id && *k == key))
            {
                recent[..=found].rotate_right(1);
                if let Some((_, _, slot)) = &recent[0] {
                    return use_slot(slot);
                }
            }
            let slot = self.slot(key);
            let result = use_slot(&slot);
            // The last of the list goes (its slot may be swept once no
            // thread holds it).
            recent.rotate_right(1);
            recent[0] = Some((self.0.id, key, slot));
            result
        })
    }

    #[cold]
    fn slot(&self, key: u64) -> Arc<Slot> {
        if let Some(slot) = self.0.slots.get(&key) {
            return Arc::clone(&slot);
        }
        Arc::clone(&self.0.slots.entry(key).or_default())
    }

    /// Moves `key`'s theoretical arrival time back by `nanos`, one
    /// request's cost: an attempt that turned out fine gives its place
    /// back, the others' still count.
    pub(crate) fn give_back(&self, key: u64, nanos: u64) {
        if let Some(slot) = self.0.slots.get(&key) {
            // 1, not 0: a time long past, while 0 means never used; both
            // start the key afresh.
            let _ = slot
                .0
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                    (tat != 0).then(|| tat.saturating_sub(nanos).max(1))
                });
        }
    }

    /// Forgets `key`: its next request starts a full window.
    pub(crate) fn forget(&self, key: u64) {
        if let Some(slot) = self.0.slots.get(&key) {
            slot.0.store(0, Ordering::Release);
        }
    }
}

impl StateStore for SlotStore {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.with_slot(*key, |slot| {
            // As governor's `InMemoryState`: decide on what was read,
            // store only if nobody stored in between, else decide again.
            let mut previous = slot.0.load(Ordering::Acquire);
            let mut decision = f(NonZeroU64::new(previous).map(|n| Nanos::new(n.get())));
            while let Ok((result, next)) = decision {
                match slot.0.compare_exchange_weak(
                    previous,
                    next.as_u64(),
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(result),
                    Err(current) => previous = current,
                }
                decision = f(NonZeroU64::new(previous).map(|n| Nanos::new(n.get())));
            }
            decision.map(|(result, _)| result)
        })
    }
}

impl ShrinkableKeyedStateStore<u64> for SlotStore {
    fn retain_recent(&self, drop_below: Nanos) {
        // A slot stays while a thread holds it (it is the key's only slot)
        // or while its window is not whole again. The shard's write lock
        // keeps anyone from taking a new hold on a slot while it is looked at.
        self.0.slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || slot.0.load(Ordering::Relaxed) > drop_below.as_u64()
        });
    }

    fn shrink_to_fit(&self) {
        self.0.slots.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.0.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(store: &SlotStore, key: u64, value: u64) {
        store
            .measure_and_replace(&key, |_| Ok::<_, ()>(((), Nanos::new(value))))
            .expect("stored");
    }

    fn read(store: &SlotStore, key: u64) -> Option<u64> {
        store
            .measure_and_replace(&key, |seen| Err::<((), Nanos), _>(seen.map(Nanos::as_u64)))
            .expect_err("read only")
    }

    #[test]
    fn one_slot_per_key_whichever_thread_asks_and_whatever_is_swept() {
        let store = Arc::new(SlotStore::default());
        take(&store, 7, 100);
        // Another thread sees the same slot, and its hold keeps it.
        let other = Arc::clone(&store);
        std::thread::spawn(move || {
            assert_eq!(read(&other, 7), Some(100));
            take(&other, 7, 200);
        })
        .join()
        .expect("thread");
        store.retain_recent(Nanos::new(1_000));
        assert_eq!(read(&store, 7), Some(200), "held, so kept");
        // Pushed out of this thread's list, an idle slot is swept.
        for key in 100..100 + RECENT as u64 {
            take(&store, key, 5_000);
        }
        store.retain_recent(Nanos::new(1_000));
        assert_eq!(read(&store, 7), None, "swept: a fresh window");
        assert!(store.len() <= RECENT + 1);
    }

    #[test]
    fn two_stores_never_share_a_slot() {
        let (a, b) = (SlotStore::default(), SlotStore::default());
        take(&a, 1, 10);
        assert_eq!(read(&b, 1), None);
        take(&b, 1, 20);
        assert_eq!(read(&a, 1), Some(10));
    }
}
