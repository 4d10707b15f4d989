//! `PullHoldService`: long polling of PULL_MESSAGE (reference 7.3,
//! `broker/.../longpolling/PullRequestHoldService.java`).
//!
//! A pull that finds nothing new (PULL_NOT_FOUND) with the SUSPEND flag registers a waiter for
//! its topic / queue / offset and waits, without answering, until one of:
//! - the store's arrival listener reports the queue's max offset moved past the offset (the
//!   listener runs on the store's dispatch thread and only completes oneshots);
//! - the periodic re-check (5 s with long polling, `shortPollingTimeMills` without) sees it;
//! - the hold time (`suspendTimeoutMillis`, capped at [`MAX_HOLD_TIME`]) runs out;
//! - the broker shuts down.
//!
//! The pull is then run again without suspension and answered. Filter matching happens in that
//! second run (a non-matching arrival is answered PULL_RETRY_IMMEDIATELY with the offset moved
//! past it, instead of Java's silent re-hold; clients re-pull at once either way).
//!
//! Invariants: at most `maxHeldPullRequests` pulls are held (beyond that they are answered at
//! once); a waiter is removed when woken or when its [`HoldTicket`] is dropped, so the table
//! never keeps entries of finished pulls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// Longest a pull is ever held, whatever its `suspendTimeoutMillis` says (clients use 15 s and
/// time out their RPC at 30 s).
pub const MAX_HOLD_TIME: Duration = Duration::from_secs(120);

#[derive(Debug)]
struct Waiter {
    id: u64,
    offset: i64,
    wake: oneshot::Sender<()>,
}

type Waiters = HashMap<String, HashMap<i32, Vec<Waiter>>>;

/// Held pulls by topic and queue.
#[derive(Debug)]
pub struct PullHoldService {
    waiters: Mutex<Waiters>,
    held: AtomicUsize,
    limit: usize,
    next_id: AtomicU64,
}

/// A registered waiter; dropping it unregisters.
#[derive(Debug)]
pub struct HoldTicket {
    service: Arc<PullHoldService>,
    topic: String,
    queue_id: i32,
    id: u64,
    /// Completes when an arrival for the queue passes the offset.
    pub woken: oneshot::Receiver<()>,
}

impl Drop for HoldTicket {
    fn drop(&mut self) {
        self.service.held.fetch_sub(1, Ordering::AcqRel);
        let mut waiters = self.service.lock();
        if let Some(queues) = waiters.get_mut(&self.topic) {
            if let Some(list) = queues.get_mut(&self.queue_id) {
                list.retain(|w| w.id != self.id);
                if list.is_empty() {
                    queues.remove(&self.queue_id);
                }
            }
            if queues.is_empty() {
                waiters.remove(&self.topic);
            }
        }
    }
}

impl PullHoldService {
    /// A service holding at most `limit` pulls.
    pub fn new(limit: usize) -> Self {
        PullHoldService {
            waiters: Mutex::new(HashMap::new()),
            held: AtomicUsize::new(0),
            limit,
            next_id: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pulls held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Registers a waiter for messages past `offset`; `None` when the limit is reached.
    pub fn hold(self: &Arc<Self>, topic: &str, queue_id: i32, offset: i64) -> Option<HoldTicket> {
        let reserved = self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < self.limit).then_some(n + 1)
        });
        if reserved.is_err() {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (wake, woken) = oneshot::channel();
        self.lock()
            .entry(topic.to_owned())
            .or_default()
            .entry(queue_id)
            .or_default()
            .push(Waiter { id, offset, wake });
        Some(HoldTicket {
            service: Arc::clone(self),
            topic: topic.to_owned(),
            queue_id,
            id,
            woken,
        })
    }

    /// The store's arrival listener: wakes the waiters of the queue whose offset is below the
    /// new max offset. Runs on the store's dispatch thread; only completes oneshots.
    pub fn notify_arrival(&self, topic: &str, queue_id: i32, max_offset: i64) {
        let mut waiters = self.lock();
        let Some(list) = waiters.get_mut(topic).and_then(|q| q.get_mut(&queue_id)) else {
            return;
        };
        let mut i = 0;
        while i < list.len() {
            if list.get(i).is_some_and(|w| w.offset < max_offset) {
                let waiter = list.swap_remove(i);
                // The pull may have timed out meanwhile; nothing to wake then. A woken pull is
                // queued on this thread's worker when a put dispatched inline: a connection
                // about to busy-poll lets it run first.
                if waiter.wake.send(()).is_ok() {
                    ferromq_remoting::note_local_wake();
                }
            } else {
                i += 1;
            }
        }
    }

    /// Wakes every held pull (shutdown: they are answered at once).
    pub fn wake_all(&self) {
        let mut waiters = self.lock();
        for (_, queues) in waiters.drain() {
            for (_, list) in queues {
                for waiter in list {
                    let _ = waiter.wake.send(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: an arrival past the offset wakes exactly the waiters below it. Method: two waiters
    // at different offsets, arrivals at increasing max offsets.
    #[test]
    fn arrival_wakes_only_waiters_below_the_new_max() {
        let service = Arc::new(PullHoldService::new(10));
        let mut low = service.hold("T", 0, 5).unwrap();
        let mut high = service.hold("T", 0, 9).unwrap();
        let mut other = service.hold("T", 1, 0).unwrap();
        service.notify_arrival("T", 0, 5);
        assert!(low.woken.try_recv().is_err());
        service.notify_arrival("T", 0, 6);
        assert!(low.woken.try_recv().is_ok());
        assert!(high.woken.try_recv().is_err());
        assert!(other.woken.try_recv().is_err());
        assert_eq!(service.held(), 3);
        drop(low);
        drop(high);
        drop(other);
        assert_eq!(service.held(), 0);
        assert!(service.lock().is_empty());
    }

    // Goal: the hold limit is enforced and released by dropped tickets. Method: limit 1.
    #[test]
    fn holds_beyond_the_limit_are_refused() {
        let service = Arc::new(PullHoldService::new(1));
        let first = service.hold("T", 0, 0);
        assert!(first.is_some());
        assert!(service.hold("T", 0, 0).is_none());
        drop(first);
        assert!(service.hold("T", 0, 0).is_some());
    }

    // Goal: shutdown wakes everyone. Method: wake_all.
    #[test]
    fn wake_all_wakes_every_waiter() {
        let service = Arc::new(PullHoldService::new(10));
        let mut a = service.hold("A", 0, 0).unwrap();
        let mut b = service.hold("B", 3, 100).unwrap();
        service.wake_all();
        assert!(a.woken.try_recv().is_ok());
        assert!(b.woken.try_recv().is_ok());
    }
}
