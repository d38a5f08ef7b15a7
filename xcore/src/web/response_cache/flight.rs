//! Single-flight: concurrent misses on one key run the handler once; the
//! others wait and then read what it stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub(crate) struct Flights {
    running: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Held while computing a key; dropping it lets the next waiter in and
/// forgets the key once nobody waits.
pub(crate) struct Flight {
    flights: Arc<Flights>,
    key: String,
    lock: Option<OwnedMutexGuard<()>>,
}

impl Flights {
    pub(crate) async fn enter(self: &Arc<Self>, key: &str) -> Flight {
        let lock = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(running.entry(key.to_owned()).or_default())
        };
        let guard = lock.lock_owned().await;
        Flight {
            flights: Arc::clone(self),
            key: key.to_owned(),
            lock: Some(guard),
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mutex = self
            .lock
            .take()
            .map(|guard| OwnedMutexGuard::mutex(&guard).clone());
        let mut running = self
            .flights
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // The guard is gone; two references left (the map and `mutex`): nobody waits.
        if let Some(mutex) = mutex
            && Arc::strong_count(&mutex) <= 2
        {
            running.remove(&self.key);
        }
    }
}
