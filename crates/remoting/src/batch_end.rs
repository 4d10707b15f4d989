//! Work a request handler defers to the end of the batch of requests its connection read
//! together.
//!
//! A connection's reader decodes every complete frame of one read and runs those requests back to
//! back before it writes their responses in one write (see the `driver` module). A handler whose
//! requests each leave a little shared work behind can defer that work to the end of the batch
//! and do it once: the broker appends each message to a user-space buffer and writes the
//! batch's bytes into the CommitLog with one `pwrite` (and builds their ConsumeQueue entries in
//! one pass) instead of once per message.
//!
//! Invariants:
//! - a hook deferred by a request running inline on the reader's task inside a batch runs once
//!   at the batch's end, on that task, before the batch's inline responses are written (so a
//!   sender that got its response finds the deferred work done); deferred several times (the
//!   same `Arc`) in one batch, it runs once;
//! - a hook deferred anywhere else — by a request that finished in a task of its own, whose
//!   response the writer task may send at any moment, or when no batch is open — runs at once,
//!   on the caller, so it too is done before that response can leave;
//! - no hook is lost: the batch's state and its hooks live under one lock, and a batch left
//!   early (a malformed frame, shutdown) still runs its hooks;
//! - a panicking hook is logged; the other hooks and the connection go on.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

/// Work deferred to the end of a batch (see the module docs).
pub type BatchHook = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    /// The reader task running the open batch (`None`: no batch open).
    reader: Option<tokio::task::Id>,
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
            .field("reader", &st.reader)
            .field("hooks", &st.hooks.len())
            .finish()
    }
}

impl BatchHooks {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a batch run by the calling task; the returned guard ends it (running the hooks)
    /// when dropped. Outside a task no batch opens (every hook then runs at once).
    pub(crate) fn open(&self) -> BatchGuard<'_> {
        self.lock().reader = tokio::task::try_id();
        BatchGuard { hooks: self }
    }

    /// Runs `hook` at the end of the current batch when called from the task running it,
    /// otherwise now.
    pub(crate) fn defer(&self, hook: &BatchHook) {
        {
            let mut st = self.lock();
            if st.reader.is_some() && st.reader == tokio::task::try_id() {
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
        self.lock().reader = None;
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

    // Goal: inside a batch a hook deferred by the batch's own task waits for the batch's end and
    // runs once however often it was deferred; with no batch open it runs at once. Method:
    // defer three times in a batch, drop the guard, then defer with no batch open.
    #[tokio::test]
    async fn hooks_deferred_in_a_batch_run_once_at_its_end_and_at_once_outside() {
        tokio::spawn(async {
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
        })
        .await
        .unwrap();
    }

    // Goal: a hook deferred by another task (a request that runs in a task of its own, whose
    // response may leave before the batch ends) or by a plain thread runs at once, even while
    // a batch is open. Method: open a batch in one task, defer from another task and from a
    // std thread, check both ran before the batch ended.
    #[tokio::test]
    async fn hooks_deferred_by_other_tasks_run_at_once() {
        let hooks = Arc::new(BatchHooks::default());
        let (count, hook) = counting();
        let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let reader = {
            let hooks = Arc::clone(&hooks);
            tokio::spawn(async move {
                let _guard = hooks.open();
                opened_tx.send(()).unwrap();
                done_rx.await.unwrap();
            })
        };
        opened_rx.await.unwrap();
        {
            let (hooks, hook) = (Arc::clone(&hooks), Arc::clone(&hook));
            tokio::spawn(async move { hooks.defer(&hook) }).await.unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "another task's hook ran at once");
        {
            let (hooks, hook) = (Arc::clone(&hooks), Arc::clone(&hook));
            std::thread::spawn(move || hooks.defer(&hook)).join().unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 2, "a thread's hook ran at once");
        done_tx.send(()).unwrap();
        reader.await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2, "nothing was left for the batch end");
    }

    // Goal: distinct hooks all run, and run_pending runs them mid-batch while the batch stays
    // open (a later defer waits for the end again). Method: two hooks, run_pending, defer again.
    #[tokio::test]
    async fn run_pending_runs_every_hook_and_keeps_the_batch_open() {
        tokio::spawn(async {
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
        })
        .await
        .unwrap();
    }

    // Goal: a panicking hook neither loses the others nor escapes. Method: defer a panicking
    // hook before a counting one, end the batch.
    #[tokio::test]
    async fn a_panicking_hook_does_not_stop_the_others() {
        tokio::spawn(async {
            let hooks = BatchHooks::default();
            let (count, hook) = counting();
            let panicking: BatchHook = Arc::new(|| panic!("hook failed"));
            let guard = hooks.open();
            hooks.defer(&panicking);
            hooks.defer(&hook);
            drop(guard);
            assert_eq!(count.load(Ordering::SeqCst), 1);
        })
        .await
        .unwrap();
    }
}
