//! `RebalanceLockManager`: queue locks of orderly consumers (reference 3.5,
//! `broker/.../client/rebalance/RebalanceLockManager.java`).
//!
//! Per group, queue -> (client id, last refresh). A client holds a lock while it refreshes it
//! within [`LOCK_MAX_LIVE_TIME`]; a lock held by another client is granted only after it expired.
//!
//! Invariant: the table only grows with queues that clients asked to lock, and a lock request
//! carries at most what one frame holds; expired entries are overwritten, unlocked ones removed.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ferromq_protocol::body::MessageQueue;

/// Lock lifetime without refresh (`rocketmq.broker.rebalance.lockMaxLiveTime`, 60 s).
pub const LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct LockEntry {
    client_id: String,
    last_update_ms: i64,
}

impl LockEntry {
    fn expired(&self, now_ms: i64, ttl_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_update_ms) > ttl_ms
    }
}

/// Queue locks per consumer group.
#[derive(Debug)]
pub struct RebalanceLockManager {
    table: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
    ttl_ms: i64,
}

impl Default for RebalanceLockManager {
    fn default() -> Self {
        Self::new(LOCK_MAX_LIVE_TIME)
    }
}

impl RebalanceLockManager {
    /// A lock table whose locks live `ttl` without refresh.
    pub fn new(ttl: Duration) -> Self {
        RebalanceLockManager {
            table: Mutex::new(HashMap::new()),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<MessageQueue, LockEntry>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks (or refreshes) each queue for `client_id` where possible; returns the queues the
    /// client holds afterwards.
    pub fn try_lock_batch(
        &self,
        group: &str,
        queues: &BTreeSet<MessageQueue>,
        client_id: &str,
        now_ms: i64,
    ) -> BTreeSet<MessageQueue> {
        let mut table = self.lock();
        let locks = table.entry(group.to_owned()).or_default();
        let mut locked = BTreeSet::new();
        for queue in queues {
            let granted = match locks.get_mut(queue) {
                None => true,
                Some(entry) if entry.client_id == client_id => true,
                Some(entry) => {
                    if entry.expired(now_ms, self.ttl_ms) {
                        tracing::info!(group, queue = ?queue, old = %entry.client_id, new = client_id, "expired queue lock taken over");
                        true
                    } else {
                        false
                    }
                }
            };
            if granted {
                locks.insert(
                    queue.clone(),
                    LockEntry {
                        client_id: client_id.to_owned(),
                        last_update_ms: now_ms,
                    },
                );
                locked.insert(queue.clone());
            }
        }
        locked
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock_batch(&self, group: &str, queues: &BTreeSet<MessageQueue>, client_id: &str) {
        let mut table = self.lock();
        let Some(locks) = table.get_mut(group) else { return };
        for queue in queues {
            if locks.get(queue).is_some_and(|e| e.client_id == client_id) {
                locks.remove(queue);
            }
        }
        if locks.is_empty() {
            table.remove(group);
        }
    }

    /// Whether any unexpired lock of the group is held (5.x routes retries of such groups to
    /// the DLQ check).
    pub fn is_group_locked(&self, group: &str, now_ms: i64) -> bool {
        self.lock()
            .get(group)
            .is_some_and(|locks| locks.values().any(|e| !e.expired(now_ms, self.ttl_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(ids: &[i32]) -> BTreeSet<MessageQueue> {
        ids.iter().map(|i| MessageQueue::new("T", "b", *i)).collect()
    }

    // Goal: a lock excludes other clients until it expires. Method: two clients, a fake clock.
    #[test]
    fn lock_is_exclusive_until_it_expires() {
        let locks = RebalanceLockManager::new(Duration::from_secs(60));
        assert_eq!(locks.try_lock_batch("g", &queues(&[0, 1]), "c1", 0).len(), 2);
        assert_eq!(locks.try_lock_batch("g", &queues(&[1, 2]), "c2", 30_000), queues(&[2]));
        assert_eq!(locks.try_lock_batch("g", &queues(&[0]), "c1", 50_000), queues(&[0]));
        // c1's lock on queue 1 was last refreshed at 0: expired at 60_001.
        assert_eq!(locks.try_lock_batch("g", &queues(&[0, 1]), "c2", 60_001), queues(&[1]));
        assert!(locks.is_group_locked("g", 60_001));
    }

    // Goal: unlock releases only the caller's locks. Method: unlock by the wrong then right client.
    #[test]
    fn unlock_releases_only_the_callers_locks() {
        let locks = RebalanceLockManager::default();
        locks.try_lock_batch("g", &queues(&[0]), "c1", 0);
        locks.unlock_batch("g", &queues(&[0]), "c2");
        assert!(locks.try_lock_batch("g", &queues(&[0]), "c2", 1).is_empty());
        locks.unlock_batch("g", &queues(&[0]), "c1");
        assert_eq!(locks.try_lock_batch("g", &queues(&[0]), "c2", 2).len(), 1);
        assert!(!locks.is_group_locked("other", 2));
    }
}
