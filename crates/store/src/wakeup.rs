//! [`Wakeup`]: a one-waiter "something new happened" event whose notify costs no syscall while the
//! waiter is awake.
//!
//! The CommitLog appender notifies the dispatch thread after a put it could not dispatch
//! inline (another thread was dispatching). A `Condvar::notify_one`
//! is a `futex` syscall every time, even with nobody waiting (about as costly as the whole put on
//! a virtualised machine); here the appender only sets a flag, and takes the lock and signals the
//! condition variable only when the waiter announced it is about to sleep.
//!
//! Invariant (no lost wake-up): the waiter stores `sleeping = true` and then reads `pending`
//! (both `SeqCst`) while holding the lock; a notifier stores `pending = true` and then reads
//! `sleeping`. In the single total order of these four operations, either the waiter sees
//! `pending` and does not sleep, or the notifier sees `sleeping` and signals under the lock, which
//! it can only take once the waiter is inside `wait_timeout`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A pending flag plus a sleeping waiter's condition variable.
#[derive(Debug, Default)]
pub struct Wakeup {
    pending: AtomicBool,
    sleeping: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Wakeup {
    /// Records that something happened; wakes the waiter only if it sleeps (no syscall otherwise).
    pub fn notify(&self) {
        if self.pending.swap(true, Ordering::SeqCst) {
            // An earlier notify set the flag and handles the wake-up: the waiter consumes it.
            return;
        }
        if self.sleeping.load(Ordering::SeqCst) {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cond.notify_all();
        }
    }

    /// Wakes the waiter unconditionally (shutdown); it then sees `stop()`.
    pub fn notify_stop(&self) {
        self.pending.store(true, Ordering::SeqCst);
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.cond.notify_all();
    }

    /// Waits until notified, `stop()` holds, or `timeout` passed; returns (and clears) whether a
    /// notification was pending.
    pub fn wait(&self, timeout: Duration, stop: impl Fn() -> bool) -> bool {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleeping.store(true, Ordering::SeqCst);
        let guard = if !self.pending.load(Ordering::SeqCst) && !stop() {
            self.cond
                .wait_timeout(guard, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0
        } else {
            guard
        };
        self.sleeping.store(false, Ordering::SeqCst);
        drop(guard);
        self.pending.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    use std::time::Instant;

    // Goal: a notify before the wait is not lost, and a wait without notify times out false.
    // Method: single thread, notify then wait (immediate true), then wait again (timeout false).
    #[test]
    fn notify_before_wait_is_kept_and_consumed_once() {
        let w = Wakeup::default();
        w.notify();
        w.notify();
        assert!(w.wait(Duration::from_secs(5), || false));
        let start = Instant::now();
        assert!(!w.wait(Duration::from_millis(20), || false));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    // Goal: no lost wake-up under races. Method: a notifier publishes a counter then notifies, a
    // waiter with a 10 s timeout waits until it has seen every value; a lost wake-up would make a
    // wait last 10 s, so the whole run is bounded well below that.
    #[test]
    fn racing_notifies_never_leave_the_waiter_asleep() {
        let w = Arc::new(Wakeup::default());
        let published = Arc::new(AtomicU64::new(0));
        const N: u64 = 20_000;
        let (w2, p2) = (Arc::clone(&w), Arc::clone(&published));
        let notifier = std::thread::spawn(move || {
            for i in 1..=N {
                p2.store(i, Ordering::SeqCst);
                w2.notify();
                if i % 64 == 0 {
                    std::thread::yield_now();
                }
            }
        });
        let start = Instant::now();
        let mut seen = 0;
        while seen < N {
            if published.load(Ordering::SeqCst) == seen {
                w.wait(Duration::from_secs(10), || false);
            }
            seen = published.load(Ordering::SeqCst);
        }
        notifier.join().unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "a wake-up was lost");
    }

    // Goal: notify_stop wakes a sleeping waiter whose stop condition became true.
    #[test]
    fn notify_stop_wakes_the_sleeping_waiter() {
        let w = Arc::new(Wakeup::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (w2, s2) = (Arc::clone(&w), Arc::clone(&stop));
        let waiter = std::thread::spawn(move || {
            let start = Instant::now();
            while !s2.load(Ordering::SeqCst) {
                w2.wait(Duration::from_secs(10), || s2.load(Ordering::SeqCst));
            }
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::SeqCst);
        w.notify_stop();
        assert!(waiter.join().unwrap() < Duration::from_secs(5));
    }
}
