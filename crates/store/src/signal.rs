//! Wake-ups of the store's background threads (dispatch and retention).
//!
//! One mutex guards the flags; each waiting thread has its own condition variable, so a
//! wake-up meant for dispatch (a put just landed) can never be consumed by the retention thread,
//! which would leave dispatch asleep until its poll timeout.
//!
//! Invariants:
//! - `wake_dispatch` sets a pending flag under the lock before notifying, so a wake-up that
//!   arrives while dispatch is busy is not lost: the next wait returns at once;
//! - `shutdown` wakes every waiter and is sticky.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Default)]
struct State {
    dispatch_pending: bool,
    shutdown: bool,
    /// Threads inside a wait (observable by tests).
    waiting: u32,
}

/// The store's wake-up flags and one condition variable per background thread.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    state: Mutex<State>,
    dispatch: Condvar,
    retention: Condvar,
}

impl Signals {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the dispatch thread that the CommitLog grew.
    pub(crate) fn wake_dispatch(&self) {
        self.lock().dispatch_pending = true;
        self.dispatch.notify_one();
    }

    /// Stops every waiter now and later.
    pub(crate) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.dispatch.notify_all();
        self.retention.notify_all();
    }

    /// Dispatch: waits up to `timeout` for a wake-up (returns at once if one is pending) and
    /// consumes it. Returns whether the store is shutting down.
    pub(crate) fn wait_dispatch(&self, timeout: Duration) -> bool {
        let mut s = self.lock();
        if !s.dispatch_pending && !s.shutdown {
            s.waiting += 1;
            s = self
                .dispatch
                .wait_timeout(s, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            s.waiting -= 1;
        }
        s.dispatch_pending = false;
        s.shutdown
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

    // Goal: a dispatch wake-up reaches the dispatch thread even when the retention thread is
    // waiting too (with one shared condvar and notify_one, the retention thread, waiting first,
    // took it and dispatch slept until its timeout).
    // Method: retention waits first, then dispatch, both with a 20 s timeout; wake dispatch; the
    // dispatch waiter must return promptly while retention keeps waiting; shutdown frees both.
    #[test]
    fn dispatch_wakeup_is_never_taken_by_the_retention_thread() {
        let signals = Arc::new(Signals::default());
        let long = Duration::from_secs(20);
        let s = Arc::clone(&signals);
        let retention = std::thread::spawn(move || s.wait_retention(long));
        wait_until("retention waiting", || signals.waiting() == 1);
        let s = Arc::clone(&signals);
        let dispatch = std::thread::spawn(move || {
            let started = Instant::now();
            let shutdown = s.wait_dispatch(long);
            (shutdown, started.elapsed())
        });
        wait_until("dispatch waiting", || signals.waiting() == 2);
        signals.wake_dispatch();
        let (shutdown, waited) = dispatch.join().unwrap();
        assert!(!shutdown);
        assert!(waited < Duration::from_secs(10), "dispatch slept {waited:?}");
        assert_eq!(signals.waiting(), 1, "retention still waiting");
        signals.shutdown();
        assert!(retention.join().unwrap());
        // A wake-up sent while dispatch is busy is kept for its next wait.
        let fresh = Signals::default();
        fresh.wake_dispatch();
        let started = Instant::now();
        assert!(!fresh.wait_dispatch(long));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
