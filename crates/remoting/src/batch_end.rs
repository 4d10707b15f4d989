//! Work a request handler defers to the end of the batch of requests its connection read
//! together.
//!
//! A connection's reader decodes every complete frame of one read and runs those requests back to
//! back before it writes their responses in one write (see [`crate::driver`]). A handler whose
//! requests each leave a little shared work behind can defer that work to the end of the batch
//! and do it once: the broker appends each message to a user-space buffer and writes the
//! batch's bytes into the CommitLog with one `pwrite` (and builds their ConsumeQueue entries in
//! one pass) instead of once per message.
//!
//! Invariants:
//! - a hook deferred while the reader is inside a batch runs once at the batch's end, on the
//!   reader's task, before the batch's inline responses are written (so a sender that got its
//!   response finds the deferred work done); deferred several times (the same `Arc`) in one
//!   batch, it runs once;
//! - a hook deferred outside a batch (by a request that finished in a task of its own after
//!   the batch ended) runs at once, on the caller;
//! - no hook is lost: the batch's open flag and its hooks live under one lock, and a batch left
//!   early (a malformed frame, shutdown) still runs its hooks;
//! - a panicking hook is logged; the other hooks and the connection go on.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

/// Work deferred to the end of a batch (see the module docs).
pub type BatchHook = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    open: bool,
    hooks: Vec<BatchHook>,
}

/// One connection's batch state.
#[derive(Default)]
pub(crate) struct BatchHooks {
    state: Mutex<State>,
}

impl std::fmt::Debug for BatchHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("BatchHooks")
            .field("open", &st.open)
            .field("hooks", &st.hooks.len())
            .finish()
    }
}

impl BatchHooks {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a batch; the returned guard ends it (running the hooks) when dropped.
    pub(crate) fn open(&self) -> BatchGuard<'_> {
        self.lock().open = true;
        BatchGuard { hooks: self }
    }

    /// Runs `hook` at the end of the current batch, or now when no batch is open.
    pub(crate) fn defer(&self, hook: &BatchHook) {
        {
            let mut st = self.lock();
            if st.open {
                if !st.hooks.iter().any(|h| Arc::ptr_eq(h, hook)) {
                    st.hooks.push(Arc::clone(hook));
                }
                return;
            }
        }
        run(hook);
    }

    /// Runs the hooks deferred so far; the batch stays as it is (open or not).
    pub(crate) fn run_pending(&self) {
        let hooks = std::mem::take(&mut self.lock().hooks);
        if hooks.is_empty() {
            return;
        }
        for hook in &hooks {
            run(hook);
        }
        // Keep the vector's memory for the next batch unless a hook deferred meanwhile.
        let mut st = self.lock();
        if st.hooks.is_empty() {
            let mut hooks = hooks;
            hooks.clear();
            st.hooks = hooks;
        }
    }

    fn close(&self) {
        self.lock().open = false;
        self.run_pending();
    }
}

fn run(hook: &BatchHook) {
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| hook())) {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        tracing::error!(panic = %message, "batch-end hook panicked");
    }
}

/// Ends its batch when dropped: the batch is closed, then its hooks run.
pub(crate) struct BatchGuard<'a> {
    hooks: &'a BatchHooks,
}

impl Drop for BatchGuard<'_> {
    fn drop(&mut self) {
        self.hooks.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting() -> (Arc<AtomicUsize>, BatchHook) {
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        (
            count,
            Arc::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    // Goal: inside a batch a hook waits for the batch's end and runs once however often it was
    // deferred; outside a batch it runs at once. Method: defer three times in a batch, drop
    // the guard, then defer with no batch open.
    #[test]
    fn hooks_deferred_in_a_batch_run_once_at_its_end_and_at_once_outside() {
        let hooks = BatchHooks::default();
        let (count, hook) = counting();
        let guard = hooks.open();
        hooks.defer(&hook);
        hooks.defer(&hook);
        hooks.defer(&hook);
        assert_eq!(count.load(Ordering::SeqCst), 0, "deferred to the batch end");
        drop(guard);
        assert_eq!(count.load(Ordering::SeqCst), 1, "ran once at the batch end");
        hooks.defer(&hook);
        assert_eq!(count.load(Ordering::SeqCst), 2, "no batch open: ran at once");
    }

    // Goal: distinct hooks all run, and run_pending runs them mid-batch while the batch stays
    // open (a later defer waits for the end again). Method: two hooks, run_pending, defer again.
    #[test]
    fn run_pending_runs_every_hook_and_keeps_the_batch_open() {
        let hooks = BatchHooks::default();
        let (a_count, a) = counting();
        let (b_count, b) = counting();
        let guard = hooks.open();
        hooks.defer(&a);
        hooks.defer(&b);
        hooks.run_pending();
        assert_eq!((a_count.load(Ordering::SeqCst), b_count.load(Ordering::SeqCst)), (1, 1));
        hooks.defer(&a);
        assert_eq!(a_count.load(Ordering::SeqCst), 1, "the batch is still open");
        drop(guard);
        assert_eq!(a_count.load(Ordering::SeqCst), 2);
    }

    // Goal: a panicking hook neither loses the others nor escapes. Method: defer a panicking
    // hook before a counting one, end the batch.
    #[test]
    fn a_panicking_hook_does_not_stop_the_others() {
        let hooks = BatchHooks::default();
        let (count, hook) = counting();
        let panicking: BatchHook = Arc::new(|| panic!("hook failed"));
        let guard = hooks.open();
        hooks.defer(&panicking);
        hooks.defer(&hook);
        drop(guard);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    // Goal: a hook deferred from another thread while a batch is open runs at that batch's end,
    // never lost and never run twice, whatever the interleaving. Method: a thread defers in a
    // loop while this one opens and closes batches; count equals the number of defers that
    // found no batch plus at most one per batch, and every defer is accounted for.
    #[test]
    fn defers_racing_with_batch_ends_are_never_lost() {
        let hooks = Arc::new(BatchHooks::default());
        let ran = Arc::new(AtomicUsize::new(0));
        let pending = Arc::new(AtomicUsize::new(0));
        let hook: BatchHook = {
            let ran = Arc::clone(&ran);
            let pending = Arc::clone(&pending);
            Arc::new(move || {
                // Every run consumes all defers made before it.
                pending.store(0, Ordering::SeqCst);
                ran.fetch_add(1, Ordering::SeqCst);
            })
        };
        let deferrer = {
            let hooks = Arc::clone(&hooks);
            let hook = Arc::clone(&hook);
            let pending = Arc::clone(&pending);
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    pending.store(1, Ordering::SeqCst);
                    hooks.defer(&hook);
                }
            })
        };
        while !deferrer.is_finished() {
            let _guard = hooks.open();
            std::hint::spin_loop();
        }
        deferrer.join().unwrap();
        // A batch still open when the last defer ran has been closed by its guard.
        assert_eq!(pending.load(Ordering::SeqCst), 0, "the last defer's hook ran");
        assert!(ran.load(Ordering::SeqCst) >= 1);
    }
}
