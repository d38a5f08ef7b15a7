//! Whether what Redis holds is still what was written to it: not for a
//! while after the connection was lost and made again.
//!
//! A Redis that restarts without persistence comes back empty, which is
//! harmless: a missing value is read from the database. A failover to a
//! replica that missed the last writes is not: it brings older values
//! back, and an older authorisation version would let a token revoked a
//! moment before the failover through again. So every loss of a connection
//! (a command that fails, the tracking connection's end) is noted, and the
//! first answer after it starts a new *generation*: readers whose values
//! must be at least as new as the database's (the authorisation versions,
//! `accounts/versions.rs`) check the database for a while after it, as
//! long as a value written before the loss can live.
//!
//! What this cannot see: a failover hidden behind a proxy that keeps the
//! clients' connections open. Such a proxy must close them when it
//! switches servers (Redis Sentinel clients and Redis Cluster do).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::clock;

/// The connection's history, shared by the store and its in-process tier.
#[derive(Debug, Default)]
pub(crate) struct Continuity {
    /// A connection was lost and nothing has answered since.
    lost: AtomicBool,
    /// Bumped by the first answer after each loss (0: never lost).
    generation: AtomicU64,
    /// When that answer came, in Unix seconds.
    since: AtomicI64,
}

impl Continuity {
    /// A connection was lost, or a command failed: what answers next may
    /// be another server, or the same one after a gap.
    pub(crate) fn lost(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    /// Redis answered: a new generation starts if a loss came before.
    pub(crate) fn answered(&self) {
        // A load first: this runs after every command, the swap rarely.
        if self.lost.load(Ordering::Relaxed) && self.lost.swap(false, Ordering::SeqCst) {
            self.since.store(clock::now(), Ordering::SeqCst);
            self.generation.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(
                "Redis answers again after a lost connection: values it holds are checked \
                 against the database for a while"
            );
        }
    }

    /// The current generation while it is younger than `window_secs`
    /// (values from before it may still be held); `None` when Redis has
    /// answered without a loss for longer, or never lost a connection.
    pub(crate) fn unsettled(&self, window_secs: i64) -> Option<u64> {
        let generation = self.generation.load(Ordering::SeqCst);
        if generation == 0 {
            return None;
        }
        (clock::now() - self.since.load(Ordering::SeqCst) < window_secs).then_some(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::Continuity;

    #[test]
    fn the_first_answer_after_a_loss_starts_a_generation() {
        let continuity = Continuity::default();
        continuity.answered();
        assert_eq!(continuity.unsettled(60), None, "never lost");
        continuity.lost();
        continuity.lost();
        assert_eq!(continuity.unsettled(60), None, "nothing answered yet");
        continuity.answered();
        continuity.answered();
        assert_eq!(continuity.unsettled(60), Some(1), "one generation per loss");
        assert_eq!(continuity.unsettled(0), None, "past the window");
        continuity.lost();
        continuity.answered();
        assert_eq!(continuity.unsettled(60), Some(2));
    }
}
