//! The retention thread's wait and the store-wide shutdown flag.
//!
//! Dispatch does not wait here: puts wake it through `crate::wakeup` (no syscall while it is
//! awake), so no wake-up meant for dispatch can ever be consumed by the retention thread.
//!
//! Invariant: `shutdown` wakes every waiter and is sticky.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Default)]
struct State {
    shutdown: bool,
    /// Threads inside a wait (observable by tests).
    waiting: u32,
}

/// The store's wake-up flags and one condition variable per background thread.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    state: Mutex<State>,
    retention: Condvar,
}

impl Signals {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every waiter now and later.
    pub(crate) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.retention.notify_all();
    }

    /// Retention: waits up to `timeout` or until shutdown. Returns whether the store is
    /// shutting down.
    pub(crate) fn wait_retention(&self, timeout: Duration) -> bool {
        let mut s = self.lock();
        if !s.shutdown {
            s.waiting += 1;
            s = self
                .retention
                .wait_timeout(s, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            s.waiting -= 1;
        }
        s.shutdown
    }

    #[cfg(test)]
    fn waiting(&self) -> u32 {
        self.lock().waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    // Goal: shutdown frees a waiting retention thread at once and stays set.
    // Method: retention waits with a 20 s timeout; shutdown; it must return true promptly, and
    // a later wait returns at once.
    #[test]
    fn shutdown_wakes_retention_and_is_sticky() {
        let signals = Arc::new(Signals::default());
        let long = Duration::from_secs(20);
        let s = Arc::clone(&signals);
        let retention = std::thread::spawn(move || {
            let started = Instant::now();
            (s.wait_retention(long), started.elapsed())
        });
        wait_until("retention waiting", || signals.waiting() == 1);
        signals.shutdown();
        let (shutdown, waited) = retention.join().unwrap();
        assert!(shutdown);
        assert!(waited < Duration::from_secs(10), "retention slept {waited:?}");
        let started = Instant::now();
        assert!(signals.wait_retention(long));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
